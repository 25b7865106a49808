"""VATP-Net's figure measures (:mod:`aqa_lib.vatp_analysis`) on hand-made cases with known answers, and one
smoke run checking that the recorded entries mean what the module says they mean."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from aqa_lib import vatp_analysis as V


def _truth(types, starts, durations):
    return {"element_type": np.asarray(types), "element_start": np.asarray(starts, dtype=float),
            "element_duration": np.asarray(durations, dtype=float)}


# ----- scores: Figs. 6–8, σ -----

def test_fitted_line_recovers_a_known_line_and_refuses_what_it_cannot_fit():
    t = np.array([0.0, 1.0, 2.0, 3.0])
    assert V.fitted_line(t, 0.5 * t + 2) == pytest.approx((0.5, 2.0))
    with pytest.raises(ValueError, match="same"):
        V.fitted_line(np.ones(3), np.arange(3.0))
    with pytest.raises(ValueError, match="two equal-length"):
        V.fitted_line(t, t[:3])


def test_cumulative_score_counts_errors_at_or_below_each_threshold():
    errors = np.array([-1.0, 2.0, 0.0, 5.0])
    cs = V.cumulative_score(errors, np.array([0.0, 1.0, 1.5, 2.0, 4.9, 5.0]))
    assert cs.tolist() == [0.25, 0.5, 0.5, 0.75, 0.75, 1.0]
    assert V.cumulative_score(errors, np.array(10.0)).shape == ()


def test_cumulative_score_area_is_the_integral_of_the_curve():
    errors = np.array([0.0, 1.0, 3.0, 8.0])
    assert V.cumulative_score_area(errors, 4.0) == pytest.approx((1 + 0.75 + 0.25 + 0) / 4)
    grid = np.linspace(0, 4.0, 40001)
    numeric = np.trapezoid(V.cumulative_score(errors, grid), grid) / 4.0
    assert V.cumulative_score_area(errors, 4.0) == pytest.approx(numeric, abs=1e-3)
    with pytest.raises(ValueError, match="positive"):
        V.cumulative_score_area(errors, 0.0)


def test_score_table_and_failure_case():
    true = np.array([10.0, 20.0, 30.0, 40.0])
    table = V.score_table(true, {"perfect": true, "off": true + np.array([1.0, -3.0, 0.0, 2.0])},
                          max_threshold=4.0, within=1.0)
    assert table.loc["perfect", "ρ"] == pytest.approx(1.0) and table.loc["perfect", "MSE"] == 0
    assert table.loc["perfect", "CS area (0–4)"] == 1.0 and table.loc["perfect", "fitted slope"] == pytest.approx(1)
    assert table.loc["off", "MSE"] == pytest.approx((1 + 9 + 0 + 4) / 4)
    assert table.loc["off", "share |error| ≤ 1"] == 0.5 and table.loc["off", "largest |error|"] == 3.0
    assert V.failure_case(np.array([1.0, -3.0, 0.0, 2.0])) == 1


def test_official_test_index_finds_the_papers_failure_case():
    # the paper's Fig. 8 dive #340: DD 3.1, scored 0 (real labels)
    assert V.official_test_index("17_35") == 340
    assert V.official_test_index("no such dive") is None


def test_sigma_error_summary_sees_a_sigma_that_tracks_the_error():
    sigma = np.array([1.0, 2.0, 3.0, 4.0])
    out = V.sigma_error_summary(sigma, np.array([0.5, -1.5, 3.5, -9.0]))
    assert out["ρ(σ, |error|)"] == pytest.approx(1.0)
    assert out["share |error| ≤ σ"] == 0.5 and out["share |error| ≤ 2σ"] == 0.75
    assert V.sigma_error_summary(sigma, -np.array([4.0, 3.0, 2.0, 1.0]))["ρ(σ, |error|)"] == pytest.approx(-1)
    assert np.isnan(V.sigma_error_summary(np.ones(4), np.arange(4.0))["ρ(σ, |error|)"])


# ----- parsing against the truth -----

def test_label_runs_and_boundaries():
    labels = np.array([0, 0, 1, 1, 1, 3, 0, -1, -1])
    assert V.label_runs(labels, 7) == [(0, 0, 2), (1, 2, 5), (3, 5, 6), (0, 6, 7)]
    assert V.parse_boundaries(labels, 7).tolist() == [2.0, 5.0, 6.0]
    assert V.parse_boundaries(np.zeros(5, int)).size == 0


def test_true_segments_merge_touching_units_of_one_type_and_clip_to_the_window():
    # take-off from before the window, two somersault units, a twist, entry; the video is 10 clips long
    truth = _truth([0, 1, 1, 2, 3], [-1.0, 3.0, 5.0, 7.5, 9.0], [4.0, 2.0, 2.5, 1.5, 2.0])
    assert V.true_segments(truth, 10) == [(0, 0.0, 3.0), (1, 3.0, 7.5), (2, 7.5, 9.0), (3, 9.0, 10.0)]
    assert V.true_boundaries(truth, 10).tolist() == [3.0, 7.5, 9.0]
    # a short dive: the board before the take-off is a boundary too
    late = _truth([0, 1, 3], [1.6, 4.0, 9.0], [2.4, 5.0, 1.0])
    assert V.true_boundaries(late, 10).tolist() == [1.6, 4.0, 9.0]


def test_boundary_error_is_symmetric_and_nan_without_boundaries():
    assert V.boundary_error(np.array([3.0, 7.0]), np.array([3.0, 7.0])) == 0.0
    # true→nearest predicted: |2−3| = 1, |8−7| = 1 → 1; predicted→nearest true: 1 and 1 → 1
    assert V.boundary_error(np.array([3.0, 7.0]), np.array([2.0, 8.0])) == pytest.approx(1.0)
    # one predicted boundary at 5 against true {2, 8}: (3 + 3)/2 = 3 one way, 3 the other
    assert V.boundary_error(np.array([5.0]), np.array([2.0, 8.0])) == pytest.approx(3.0)
    # asymmetric sets: predicted {2, 3, 8} vs true {2, 8}: 0 one way, (0 + 1 + 0)/3 the other
    assert V.boundary_error(np.array([2.0, 3.0, 8.0]), np.array([2.0, 8.0])) == pytest.approx(1 / 6)
    assert np.isnan(V.boundary_error(np.array([]), np.array([2.0])))
    assert V.boundary_distances(np.array([2.0, 3.0, 8.0]), np.array([2.0, 8.0])) == pytest.approx((0.0, 1 / 3))


def test_uniform_labels_split_into_equal_stretches():
    assert V.uniform_labels(10, 4).tolist() == [0, 0, 0, 1, 1, 2, 2, 2, 3, 3]
    assert V.uniform_labels(8, 4).tolist() == [0, 0, 1, 1, 2, 2, 3, 3]
    assert V.uniform_labels(2, 4).tolist() == [0, 2]
    assert V.parse_boundaries(V.uniform_labels(8, 4)).tolist() == [2.0, 4.0, 6.0]


def test_segment_types_read_the_type_at_each_midpoint():
    truth = _truth([0, 1, 3], [1.6, 4.0, 9.0], [2.4, 5.0, 1.0])
    assert V.segment_types(truth, 10).tolist() == [-1, -1, 0, 0, 1, 1, 1, 1, 1, 3]


def test_hungarian_mapping_and_frame_accuracy_on_a_permuted_parse():
    # the parse names the true types with permuted query ids: after matching it is perfect
    types = [np.array([0, 0, 1, 1, 2, 3]), np.array([0, 1, 1, 1, 3, -1])]
    parses = [np.array([2, 2, 0, 0, 3, 1]), np.array([2, 0, 0, 0, 1, 1])]
    overlap = V.query_type_overlap(parses, types, 4, 4)
    assert overlap.sum() == 11 and overlap[2, 0] == 3 and overlap[0, 1] == 5
    mapping = V.hungarian_mapping(overlap)
    assert mapping.tolist() == [1, 3, 0, 2]
    assert V.frame_accuracy(parses, types, mapping) == 1.0
    # one query for everything: only its best type can be right
    flat = [np.zeros(6, int), np.zeros(6, int)]
    m = V.hungarian_mapping(V.query_type_overlap(flat, types, 4, 4))
    assert m[0] == 1 and V.frame_accuracy(flat, types, m) == pytest.approx(5 / 11)
    # more queries than types: the extra queries map to nothing
    assert (V.hungarian_mapping(np.array([[3, 0], [0, 2], [1, 1]])) == [0, 1, -1]).all()


def test_type_names_come_from_the_truth():
    truths = [{**_truth([0, 3], [0, 1], [1, 1]), "element_name": ["take-off", "entry"]},
              {**_truth([1], [0], [1]), "element_name": ["somersault"]}]
    assert V.type_names(truths) == ["take-off", "somersault", "type 2", "entry"]


def test_attention_sharpness_from_uniform_to_one_hot():
    assert V.attention_sharpness(np.full((10, 4), 0.1), 10) == pytest.approx(0.0)
    assert V.attention_sharpness(np.eye(10)[:, :4], 10) == pytest.approx(1.0)


def test_evaluate_parsing_scores_a_perfect_parse_above_the_uniform_split():
    truth = _truth([0, 1, 2, 3], [0.0, 2.0, 6.0, 8.0], [2.0, 4.0, 2.0, 2.0])
    perfect = np.array([[0, 0, 1, 1, 1, 1, 2, 2, 3, 3]])
    result = V.evaluate_parsing(perfect, np.array([10]), [truth], n_queries=4, n_types=4,
                                attention=np.eye(10)[None, :, :4])
    model, uniform = result.summary.loc["VATP-Net parse"], result.summary.loc["uniform split"]
    assert model["boundary error (segments)"] == 0.0 and model["frame accuracy (one matching)"] == 1.0
    # uniform boundaries {3, 5, 8} against the truth {2, 6, 8}: (1 + 1 + 0)/3 both ways
    assert uniform["boundary error (segments)"] == pytest.approx(2 / 3)
    assert uniform["true → nearest parsed"] == pytest.approx(2 / 3) and uniform["segments per video"] == 4
    # the parse has 4 segments, so the count-matched reference is the same uniform split here
    counted = result.summary.loc["uniform split, parse's segment count"]
    assert counted["boundary error (segments)"] == pytest.approx(2 / 3)
    assert np.isnan(counted["frame accuracy (one matching)"])
    # uniform Q1 takes clips 0–2 (types 0, 0, 1), Q2 3–4 (1, 1), Q3 5–7 (1, 2, 2), Q4 8–9 (3, 3): 8 of 10
    assert uniform["frame accuracy (one matching)"] == pytest.approx(0.8)
    assert result.mapping.tolist() == [0, 1, 2, 3] and model["attention sharpness"] == pytest.approx(1.0)
    assert result.per_video.loc[0, "true boundaries"] == 3
    assert result.per_video.loc[0, "VATP-Net parse: segments"] == 4


def test_evaluate_parsing_compares_an_oversegmented_parse_with_as_many_even_stretches():
    truth = _truth([0, 1], [0.0, 5.0], [5.0, 5.0])
    choppy = np.array([[0, 1, 0, 1, 0, 1, 0, 1, 0, 1]])  # 10 segments, 9 boundaries, one at the true 5
    result = V.evaluate_parsing(choppy, np.array([10]), [truth], n_queries=4, n_types=2)
    rows = result.summary
    assert rows.loc["VATP-Net parse", "true → nearest parsed"] == 0.0
    # parsed → nearest true: |1−5| + |2−5| + … + |9−5| = 20 over 9 boundaries
    assert rows.loc["VATP-Net parse", "parsed → nearest true"] == pytest.approx(20 / 9)
    # the count-matched reference (10 stretches of one segment) has the very same boundaries
    assert rows.loc["uniform split, parse's segment count", "segments per video"] == 10
    assert rows.loc["uniform split, parse's segment count", "boundary error (segments)"] == pytest.approx(10 / 9)


# ----- Drop-DTW matches -----

def test_matched_runs_skip_dropped_tokens_and_padding():
    labels = np.array([-1, 0, 0, -1, 1, 2, 2, 2, 3, -1, -1, -1])
    assert V.matched_runs(labels, 10) == {0: [(1, 3)], 1: [(4, 5)], 2: [(5, 8)], 3: [(8, 9)]}


def test_word_alignment_table_counts_matches_and_the_target_query():
    tokens = [["nice", "twist", "and", "entry"], ["the", "entry", "was", "clean", "twist"]]
    labels = np.array([[0, 1, -1, 2, -1], [-1, 2, 2, 3, -1]])
    table = V.word_alignment_table(tokens, labels, {"twist": ("twist",), "entry": ("entry",)},
                                   target_query={"twist": 1, "entry": 3}, n_queries=4)
    assert table.loc["twist", "occurrences"] == 2 and table.loc["twist", "share matched"] == 0.5
    assert table.loc["twist", "share to that query"] == 1.0 and table.loc["twist", "its type's query"] == "Q2"
    assert table.loc["entry", "share matched"] == 1.0 and table.loc["entry", "share to that query"] == 0.0
    assert table.loc["entry", "share matched, all tokens"] == pytest.approx(6 / 9)
    assert table.loc["entry", "all matched tokens to that query"] == pytest.approx(1 / 6)


def _records(parse, match, tokens, truth=None):
    n, t = parse.shape
    att = np.full((n, t, 4), 1.0 / t)
    return V.VATPRecords(
        variant="vatp", dataset="mtl_aqa", names=[f"d{i}" for i in range(n)], true=np.arange(n, dtype=float),
        prediction=np.arange(n, dtype=float) + 1, norm=110.0, lengths=np.full(n, t), parse_labels=parse,
        attention=att, mu=np.zeros(n), sigma=np.ones(n), text_source="commentary", match_labels=match,
        text_mask=match > -2, tokens=tokens, truth=truth)


def test_match_table_lists_the_words_of_each_query():
    parse = np.array([[0, 0, 1, 1, 2, 2, 3, 3, 3, 0]])
    match = np.array([[-1, 0, 0, -1, 1, 2, 2, 2, 3, -1]])
    tokens = [["a", "big", "takeoff", "and", "two", "twisting", "somersaults", "then", "entry", "ok"]]
    rec = _records(parse, match, tokens)
    table = V.match_table(rec, [0], mapping=np.array([0, 1, 2, 3]), type_names=["take-off", "s", "t", "entry"],
                          max_words=2)
    assert table.loc[("d0", "Q1"), "parsed segments"] == "0–1, 9"
    assert table.loc[("d0", "Q1"), "matched words"] == "big takeoff"
    assert table.loc[("d0", "Q3"), "matched words"] == "twisting somersaults …"
    assert table.loc[("d0", "Q4"), "matched type"] == "entry" and table.loc[("d0", "Q4"), "words matched"] == 1
    assert (table["of"] == 10).all()


def test_draw_parse_draws_the_attention_parse_and_truth():
    truth = [_truth([0, 1, 3], [0.0, 3.0, 9.0], [3.0, 6.0, 1.0])]
    rec = _records(np.array([[0, 0, 0, 1, 1, 1, 2, 2, 3, 3]]), np.full((1, 3), -1), [["a", "b", "c"]], truth)
    fig, ax = plt.subplots()
    image = V.draw_parse(ax, rec, 0, type_names=["take-off", "somersault", "twist", "entry"])
    assert image.get_array().shape == (4, 10)
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels == ["Q1", "Q2", "Q3", "Q4", "parse", "truth"]
    assert {t.get_text() for t in ax.texts} >= {"take-off", "somersault", "entry", "Q1", "Q4"}
    plt.close(fig)
    # a long routine: runs one segment wide carry no label, the wide ones keep theirs
    long = _records(np.array([[0, 1] * 40 + [2] * 40 + [3] * 40]), np.full((1, 3), -1), [["a", "b", "c"]])
    fig, ax = plt.subplots(figsize=(6, 2))
    V.draw_parse(ax, long, 0)
    assert sorted(t.get_text() for t in ax.texts) == ["Q3", "Q4"]
    plt.close(fig)
    handles = V.type_legend_handles(["take-off", "entry"])
    assert [h.get_label() for h in handles] == ["take-off", "entry"]


# ----- a real (smoke) run -----

def test_parsing_config_fine_tunes_where_the_paper_does_and_records_the_parse():
    mtl = V.parsing_config(V.FULL, "mtl_aqa", "score", scale="smoke")
    assert mtl.final_keys == V.FINAL_KEYS and not mtl.init_from
    fisv = V.parsing_config(V.FULL, "fisv", "TES", scale="smoke")
    assert fisv.final_keys == V.FINAL_KEYS and fisv.init_from[0]["into"] == "parse"
    assert fisv.init_from[0]["run"]["dataset"] == "mtl_aqa"
    baseline = V.parsing_config(V.BASELINES[1], "fisv", "TES", scale="smoke")
    assert baseline.final_keys == () and not baseline.init_from



def test_recorded_entries_mean_what_the_module_says(tmp_path, monkeypatch):
    """Trains (runs cached in tmp_path only; the synthetic data and commentary embeddings come from the usual,
    content-keyed caches, so the test does not re-encode the commentary)."""
    from aqa_lib import cache
    from aqa_lib.train import run

    monkeypatch.setattr(cache, "runs_dir", lambda: tmp_path)

    result = run(V.parsing_config(V.FULL, "mtl_aqa", "score", scale="smoke", epochs=1))
    rec = V.vatp_records(result)
    n = len(rec.names)
    assert rec.parse_labels.shape == (n, 10) and rec.attention.shape == (n, 10, 4)
    # the parse is the query of largest last-layer attention, each query's attention sums to 1 over time
    assert (rec.parse_labels == rec.attention.argmax(axis=2)).all()
    assert np.allclose(rec.attention.sum(axis=1), 1.0, atol=1e-4)
    # evaluation predicts μ (no sampling); σ is positive
    assert np.allclose(rec.mu, rec.prediction, atol=1e-3) and (rec.sigma > 0).all()
    # the words are the real commentary tokens, one per real text token; every query is matched somewhere
    assert all(len(t) == int(m.sum()) for t, m in zip(rec.tokens, rec.text_mask, strict=True))
    for i in range(n):
        n_tok = int(rec.text_mask[i].sum())
        assert rec.text_mask[i, :n_tok].all() and (rec.match_labels[i, n_tok:] == -1).all()
        if n_tok >= 4:  # Drop-DTW gives every query (step) at least one token
            assert set(rec.match_labels[i, :n_tok].tolist()) - {-1} == set(range(4))
    assert rec.truth is not None and V.model_labels("mtl_aqa")[V.BASELINES[0]] == "I3D+MLP"
    ev = V.evaluate_parsing(rec.parse_labels, rec.lengths, rec.truth, n_queries=4, n_types=4)
    assert isinstance(ev.summary, pd.DataFrame) and len(ev.per_video) == n
