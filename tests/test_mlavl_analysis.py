"""MLAVL's visualisation measures (:mod:`aqa_lib.mlavl_analysis`) on hand-made cases with known answers, and
one smoke run checking that the recorded entries mean what the module says they mean."""

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch

from aqa_lib import mlavl_analysis as M


def _truth(types, starts, durations):
    return {"element_type": np.asarray(types), "element_start": np.asarray(starts, dtype=float),
            "element_duration": np.asarray(durations, dtype=float)}


def _records(true, prediction, v=None, av=None, weight=None):
    n = len(true)
    scores = {b: np.asarray(s, dtype=float) for b, s in (("av", av), ("v", v)) if s is not None}
    return M.MLAVLRecords(
        variant="mlavl", names=[f"video{i}" for i in range(n)], true=np.asarray(true, dtype=float),
        prediction=np.asarray(prediction, dtype=float), norm=1.0, lengths=np.full(n, 10),
        grade_features={b: np.zeros((n, 2, 3)) for b in scores},
        grade_weights={b: np.full((n, 2), 0.5) for b in scores},
        branch_scores=scores, branch_weight=weight, similarity=None, truth=None)


# ----- grades -----

def test_grade_labels_positions_and_expected_grade():
    assert M.grade_labels(6) == ["bad", "poor", "fair", "good", "excellent", "perfect"]
    assert M.grade_labels(12)[:3] == ["bad −♪", "bad +♪", "poor −♪"]
    assert M.grade_labels(4) == ["g1", "g2", "g3", "g4"]
    assert M.grade_positions(5).tolist() == [0.0, 0.25, 0.5, 0.75, 1.0]
    p = np.array([[1.0, 0, 0, 0, 0], [0, 0, 0, 0, 1.0], [0.5, 0, 0, 0, 0.5], [0, 0.5, 0.5, 0, 0]])
    assert M.expected_grade(p).tolist() == [0.0, 1.0, 0.5, 0.375]


def test_expected_grade_is_the_models_own_score():
    from aqa_lib.models.mlavl import grade_score

    torch.manual_seed(0)
    s = torch.randn(3, 12)
    out, p = grade_score(s)
    assert np.allclose(M.expected_grade(p.numpy()), out.numpy(), atol=1e-6)


def test_pattern_points_per_video_and_per_query():
    f = np.arange(2 * 3 * 4, dtype=float).reshape(2, 3, 4)  # 2 videos, 3 queries, d = 4
    x, idx = M.pattern_points(f, per="video")
    assert x.shape == (2, 12) and idx.tolist() == [0, 1] and x[1].tolist() == f[1].ravel().tolist()
    x, grades = M.pattern_points(f, per="query")
    assert x.shape == (6, 4) and grades.tolist() == [0, 1, 2, 0, 1, 2]
    assert x[4].tolist() == f[1, 1].tolist()
    with pytest.raises(ValueError, match="per must be"):
        M.pattern_points(f, per="clip")
    with pytest.raises(ValueError, match=r"\[videos, queries, d\]"):
        M.pattern_points(f[0], per="video")


def test_neighbour_score_agreement_known_cases():
    scores = np.arange(20, dtype=float)
    # on a line scored by position, neighbours share the score (only the two ends swap ranks: 1.5 vs 1.0)
    assert M.neighbour_score_agreement(scores[:, None], scores, k=2) > 0.99
    # points on a line whose scores alternate: each point's two nearest neighbours have the other score
    alternating = np.tile([0.0, 10.0], 10)
    assert M.neighbour_score_agreement(scores[:, None], alternating, k=2) < -0.8
    with pytest.raises(ValueError, match="3 points but 2 scores"):
        M.neighbour_score_agreement(np.zeros((3, 1)), np.zeros(2))


def test_grade_separation_tight_clusters_vs_overlap():
    rng = np.random.default_rng(0)
    labels = np.repeat([0, 1, 2], 10)
    centres = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    tight = centres[labels] + rng.normal(0, 0.1, (30, 2))
    assert M.grade_separation(tight, labels) > 0.95
    mixed = rng.normal(0, 1, (30, 2))
    assert abs(M.grade_separation(mixed, labels)) < 0.2


def test_embed_2d_is_seeded_and_handles_tiny_inputs():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(12, 5))
    a, b = M.embed_2d(x, seed=3), M.embed_2d(x, seed=3)
    assert a.shape == (12, 2) and np.allclose(a, b)
    tiny = M.embed_2d(np.array([[0.0, 0.0, 1.0], [2.0, 0.0, 1.0], [4.0, 0.0, 1.0]]))
    assert tiny.shape == (3, 2) and np.allclose(np.abs(tiny[:, 0]), [2.0, 0.0, 2.0])  # the one axis of spread


def test_grade_weight_summary_reads_low_and_high_grades():
    n = 6
    true = np.arange(n, dtype=float)
    p = np.zeros((n, 6))
    p[:3, 0] = 1.0  # the three lowest-scored videos weigh the lowest grade
    p[3:, 5] = 1.0
    rec = _records(true, true, v=true)
    rec.grade_weights = {"v": p}
    row = M.grade_weight_summary(rec).loc["visual"]
    assert row["grades"] == 6 and row["low third: weight on lower grades"] == 1.0
    assert row["high third: weight on upper grades"] == 1.0 and row["largest weight (mean)"] == 1.0
    assert row["ρ(true, expected grade)"] == pytest.approx(np.sqrt(27 / 35))  # two tied groups of three


# ----- errors -----

def test_error_by_range_hand_computed():
    true = np.array([0.0, 1.0, 2.0, 3.0])
    table = M.error_by_range(true, {"a": [0.0, 1.0, 2.0, 5.0], "b": [1.0, 1.0, 1.0, 1.0]}, bins=2,
                             train_scores=np.array([0.5, 2.9, 3.0, 1.4]))
    assert list(table.index) == ["[0.0, 1.5)", "[1.5, 3.0]"]  # the top score falls in the last, closed range
    assert table["test videos"].tolist() == [2, 2] and table["training videos"].tolist() == [2, 2]
    assert table["mean |error|: a"].tolist() == [0.0, 1.0] and table["mean error: a"].tolist() == [0.0, 1.0]
    assert table["mean |error|: b"].tolist() == [0.5, 1.5] and table["mean error: b"].tolist() == [0.5, -1.5]
    wide = M.error_by_range(true, {"a": true}, bins=2, train_scores=np.array([-3.0]))  # ranges span train too
    assert list(wide.index) == ["[-3.0, 0.0)", "[0.0, 3.0]"] and wide["test videos"].tolist() == [0, 4]
    assert np.isnan(wide["mean |error|: a"].iloc[0])


def test_pick_cases_failure_and_where_fusion_helps_most():
    true = [10.0, 20.0, 30.0, 40.0]
    pred = [11.0, 20.0, 37.0, 38.0]  # largest error: video 2
    v = [18.0, 20.5, 40.0, 30.0]  # visual alone: errors 8, 0.5, 10, 10 → fusion gains 7, 0.5, 3, 8
    rec = _records(true, pred, v=v, av=[0.0] * 4, weight=0.5)
    assert M.pick_cases(rec) == {"case study": 3, "failure case": 2}
    # the failure is never also the case study, even where fusion helped it most
    rec = _records(true, [11.0, 20.0, 30.0, 50.0], v=[18.0, 20.5, 30.0, 80.0], av=[0.0] * 4)
    assert M.pick_cases(rec) == {"case study": 0, "failure case": 3}
    # visual-only models: the case study is the best-predicted video
    assert M.pick_cases(_records(true, pred, v=pred)) == {"case study": 1, "failure case": 2}


def test_branch_table_and_case_table():
    true = [10.0, 20.0, 30.0, 40.0]
    rec = _records(true, [12.0, 19.0, 33.0, 40.0], v=[20.0, 10.0, 30.0, 41.0], av=[10.0, 20.0, 30.0, 40.0])
    table = M.branch_table(rec)
    assert list(table.index) == ["audio-visual branch alone", "visual branch alone", "fused (the prediction)"]
    assert table.loc["audio-visual branch alone", "mean |error|"] == 0.0
    assert table.loc["visual branch alone", "mean |error|"] == pytest.approx(21 / 4)
    assert table.loc["fused (the prediction)", "mean |error|"] == pytest.approx(6 / 4)
    assert table.loc["fused (the prediction)", "better than visual alone"] == 0.75  # all but video 2
    assert table.loc["audio-visual branch alone", "ρ"] == pytest.approx(1.0)
    rec.truth = [{"level": 0.1 * i, "sync": 1.0, "element_quality": [1.0, 3.0], "element_start": [0, 5],
                  "fault_times": [2.0] * i} for i in range(4)]
    cases = M.case_table(rec, {"case study": 1, "failure case": 2})
    assert list(cases.index) == ["case study: video1", "failure case: video2"]
    assert cases.loc["failure case: video2", "error"] == 3.0 and cases["faults"].tolist() == [1, 2]
    assert cases["mean element quality"].tolist() == [2.0, 2.0] and cases["visual branch"].tolist() == [10.0, 30.0]


# ----- text nodes against the true elements -----

def test_action_masks_use_clip_midpoints_and_merge_elements_of_one_type():
    truth = _truth([3, 7, 3], [2.4, 6.0, 8.2], [2.0, 1.0, 0.2])  # type 3 at [2.4, 4.4) and [8.2, 8.4)
    masks = M.action_masks(truth, 10)
    assert sorted(masks) == [3, 7]
    assert np.flatnonzero(masks[3]).tolist() == [2, 3]  # midpoints 2.5 and 3.5; 8.5 misses [8.2, 8.4)
    assert np.flatnonzero(masks[7]).tolist() == [6]  # [6, 7) holds 6.5 only


def test_column_auc_known_values():
    inside = np.array([True, True, False, False, False])
    values = np.array([[5.0, 0.0, 1.0, 1.0], [4.0, 0.0, 1.0, 3.0], [1.0, 5.0, 1.0, 2.0], [2.0, 5.0, 1.0, 0.0],
                       [3.0, 5.0, 1.0, 4.0]])
    # column 0 all above, column 1 all below, column 2 all tied; column 3: pairs (1 vs 2,0,4): 1/3, (3 vs ...): 2/3
    assert M.column_auc(values, inside).tolist() == pytest.approx([1.0, 0.0, 0.5, 0.5])
    with pytest.raises(ValueError, match="inside and outside"):
        M.column_auc(values, np.zeros(5, dtype=bool))


def test_localisation_table_finds_a_text_that_points_at_its_action():
    truths = [_truth([1, 2], [2, 6], [3, 2]), _truth([0], [0], [4])]  # video 0: type 1 on 2-4, type 2 on 6-7
    lengths = np.array([10, 8])
    sim = np.zeros((2, 12, 3))  # padded to 12 clips; padding must be ignored
    sim[0, 2:5, 1] = 1.0  # text 1 lights up exactly on its action's clips
    sim[0, 10:, 1] = 9.0  # ... and on padding, which is not part of the video
    sim[1, :, 0] = 0.3  # text 0 is flat in video 1: no preference, its top clips are everywhere
    table = M.localisation_table(sim, lengths, truths)
    assert table[["video", "action"]].values.tolist() == [[0, 1], [0, 2], [1, 0]]
    good = table.iloc[0]
    assert good["clips inside"] == 3 and good["inside"] == 1.0 and good["outside"] == 0.0 and good["gap"] == 1.0
    assert good["auc"] == 1.0 and good["top hit"] == 1.0 and good["uniform"] == pytest.approx(0.3)
    assert good["auc other texts"] == 0.5  # texts 0 and 2 are flat in video 0
    flat = table.iloc[2]
    assert flat["auc"] == 0.5 and flat["gap"] == 0.0 and flat["top hit"] == pytest.approx(flat["uniform"]) == 0.5
    summary = M.localisation_summary(table)
    assert summary["pairs"] == 3 and summary["AUC own text"] == pytest.approx((1.0 + 0.5 + 0.5) / 3)
    assert summary["uniform reference"] == pytest.approx((0.3 + 0.2 + 0.5) / 3)


def test_localisation_table_skips_uncovered_actions_and_rejects_unknown_types():
    truths = [_truth([0, 1], [0.2, 3.0], [0.2, 2.0])]  # type 0 covers no clip midpoint
    table = M.localisation_table(np.zeros((1, 6, 2)), np.array([6]), truths)
    assert table["action"].tolist() == [1]
    with pytest.raises(ValueError, match="element type 5 of video 0 has no text node"):
        M.localisation_table(np.zeros((1, 6, 2)), np.array([6]), [_truth([5], [1.0], [2.0])])
    with pytest.raises(ValueError, match="no .video, action. pairs"):
        M.localisation_summary(pd.DataFrame())


def test_graph_weight_deviation_is_zero_for_the_models_uniform_graph():
    from aqa_lib.models.mlavl import action_graph_adjacency

    mask = torch.ones(2, 7, dtype=torch.bool)
    mask[1, 5:] = False  # a 5-clip video padded to 7
    n_texts = 4
    adj = action_graph_adjacency(mask, 1.0 - torch.eye(n_texts))
    weights = adj[:, :7, 7:].numpy()  # text → clip block, as the model's aux graph_weights
    lengths = np.array([7, 5])
    assert M.graph_weight_deviation(weights, lengths) == pytest.approx(0.0, abs=1e-7)
    weights = weights.copy()
    weights[1, 2, 3] += 0.05
    assert M.graph_weight_deviation(weights, lengths) == pytest.approx(0.05, abs=1e-6)


# ----- a smoke run: what is recorded means what the module says -----

def test_records_of_a_smoke_run(tmp_path, monkeypatch):
    from aqa_lib.train import run

    monkeypatch.setenv("AQA_CACHE_DIR", str(tmp_path))
    with pytest.raises(ValueError, match="recorded no grade features"):
        M.mlavl_records(SimpleNamespace(records=lambda prefix: {}, config=SimpleNamespace(model="mlavl")))
    result = run(M.visualisation_config(M.FULL, "fisv", "TES", scale="smoke", epochs=1))
    rec = M.mlavl_records(result)
    n = len(rec.true)
    assert rec.branches == ["av", "v"] and rec.grade_features["av"].shape[:2] == (n, 12)
    assert rec.grade_features["v"].shape[:2] == (n, 6)
    for b in rec.branches:
        assert np.allclose(rec.grade_weights[b].sum(axis=1), 1.0, atol=1e-5)
        assert np.allclose(M.expected_grade(rec.grade_weights[b]) * rec.norm, rec.branch_scores[b], atol=1e-3)
    w = rec.branch_weight
    fused = w * rec.branch_scores["av"] + (1 - w) * rec.branch_scores["v"]
    assert np.allclose(fused, rec.prediction, atol=1e-3)
    assert rec.similarity.shape[0] == n and rec.similarity.shape[2] == 42  # the FS prompt set's actions
    assert np.abs(rec.similarity).max() <= 1.0 + 1e-5
    table = M.localisation_table(rec.similarity, rec.lengths, rec.truth)
    assert len(table) > n and table["auc"].between(0, 1).all()
    graph = result.arrays["final_test/graph_weights"]
    assert M.graph_weight_deviation(graph, result.arrays["final_test/lengths"]) < 1e-6
    visual = M.visualisation_config(M.NO_MAG2, "fisv", "TES", scale="smoke", visual_only=True)
    assert visual.model_kwargs["modalities"] == ("rgb",) and set(M.FINAL_KEYS) == set(visual.final_keys)
    assert M.NO_AVCF not in M.visualisation_variants(visual_only=True)
