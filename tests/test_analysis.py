"""Analyses behind LMAC-Net Figs. 5–10 (:mod:`aqa_lib.analysis`) on hand-made cases with known answers."""

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from aqa_lib import analysis as A
from aqa_lib.data.registry import SEGMENT_SECONDS
from aqa_lib.train import RunConfig, RunResult


def _truth(starts, durations, names=None, quality=None):
    n = len(starts)
    return {"element_start": np.asarray(starts, dtype=float), "element_duration": np.asarray(durations, dtype=float),
            "element_name": names or [f"e{i}" for i in range(n)],
            "element_quality": np.asarray(quality if quality is not None else np.zeros(n), dtype=float)}


# ----- units and ground truth -----

def test_centre_segments_normalised_and_raw():
    # normalised 0.5 of a 10-segment video = 1-based index 5 = time 4.5 (segment 5 covers [4, 5))
    assert A.centre_segments(np.array([[0.5, 1.0]]), np.array([10])).tolist() == [[4.5, 9.5]]
    assert A.centre_segments(np.array([[3.0, 7.0]]), np.array([10]), normalised=False).tolist() == [[2.5, 6.5]]
    # per-video lengths apply row by row
    out = A.centre_segments(np.array([[0.5], [0.5]]), np.array([10, 20]))
    assert out.tolist() == [[4.5], [9.5]]


def test_centre_segments_per_epoch_lengths():
    # [epochs=2, videos=2, K=1] with lengths [2, 2]: each video scaled by its own length in every epoch
    c = np.array([[[0.5], [1.0]], [[0.25], [0.5]]])
    lengths = np.array([[10, 4], [10, 4]])
    assert A.centre_segments(c, lengths).tolist() == [[[4.5], [3.5]], [[2.0], [1.5]]]


def test_element_midpoints_and_nearest_distance():
    truth = _truth([0, 10], [4, 2])  # midpoints 2 and 11
    assert A.element_midpoints(truth).tolist() == [2.0, 11.0]
    d = A.nearest_element_distance(np.array([[1.0, 6.0, 12.0]]), [truth])
    assert d.tolist() == [[1.0, 4.0, 1.0]]  # 6 is 4 from 2 and 5 from 11
    empty = _truth([], [])
    both = A.nearest_element_distance(np.array([[1.0], [1.0]]), [truth, empty])
    assert both[0, 0] == 1.0 and np.isnan(both[1, 0])


def test_element_hit_rate_end_exclusive():
    truth = _truth([0, 10], [4, 2])  # spans [0, 4) and [10, 12)
    assert A.element_hit_rate(np.array([[1.0, 5.0, 10.5]]), [truth]).tolist() == pytest.approx([2 / 3])
    assert A.element_hit_rate(np.array([[0.0, 4.0, 12.0, 3.99]]), [truth]).tolist() == [0.5]


def test_uniform_times():
    out = A.uniform_times(np.array([10, 20]), 5)
    assert out.tolist() == [[1, 3, 5, 7, 9], [2, 6, 10, 14, 18]]


def test_element_spans_and_element_at():
    truth = _truth([0, 10], [4, 2])
    assert A.element_spans(truth).tolist() == [[0, 4], [10, 12]]
    assert A.element_at(truth, np.array([0.0, 1.0, 4.0, 5.0, 10.0, 11.9, 12.0])).tolist() == [0, 0, -1, -1, 1, 1, -1]
    assert int(A.element_at(truth, 11.0)) == 1


# ----- alignment measures (Figs. 6–8) -----

def test_pairwise_centre_distance_known_values():
    centres = {"a": np.array([[0.0, 0.0]]), "b": np.array([[1.0, 3.0]]), "c": np.array([[0.0, 1.0]])}
    d = A.pairwise_centre_distance(centres)
    assert list(d) == ["a–b", "a–c", "b–c"]
    assert d["a–b"].tolist() == [2.0] and d["a–c"].tolist() == [0.5] and d["b–c"].tolist() == [1.5]


def test_pairwise_centre_distance_keeps_leading_axes():
    a = np.zeros((3, 4, 5))
    b = np.ones((3, 4, 5)) * np.arange(3)[:, None, None]  # epoch e: every centre e away
    d = A.pairwise_centre_distance({"a": a, "b": b})["a–b"]
    assert d.shape == (3, 4) and d[:, 0].tolist() == [0.0, 1.0, 2.0]


def test_attention_cosine_identical_disjoint_and_mean_over_pairs():
    x = np.array([[0.5, 0.0], [0.5, 1.0], [0.0, 0.0]])  # [T=3, K=2]
    y = np.array([[0.0, 0.0], [0.0, 0.0], [1.0, 1.0]])  # no overlap with x anywhere
    assert A.attention_cosine({"a": x, "b": x}) == pytest.approx(1.0)
    assert A.attention_cosine({"a": x, "b": 3 * x}) == pytest.approx(1.0)  # scale-free
    assert A.attention_cosine({"a": x, "b": y}) == pytest.approx(0.0)
    # pairs a–b = 1, a–c = 0, b–c = 0 -> mean 1/3
    assert A.attention_cosine({"a": x, "b": x, "c": y}) == pytest.approx(1 / 3)
    with pytest.raises(ValueError, match="at least two"):
        A.attention_cosine({"a": x})


def test_attention_cosine_partial_overlap_and_leading_axes():
    x = np.array([[1.0], [0.0]])
    y = np.array([[1.0], [1.0]])
    assert A.attention_cosine({"a": x, "b": y}) == pytest.approx(1 / np.sqrt(2))
    stacked = {"a": np.stack([x, x, x]), "b": np.stack([x, y, 2 * y])}  # [3, T, K]
    assert A.attention_cosine(stacked) == pytest.approx([1.0, 1 / np.sqrt(2), 1 / np.sqrt(2)])


# ----- records → figure data -----

def test_last_layer_picks_highest_index_and_minus_one():
    recs = {"rgb/0": np.zeros(1), "rgb/3": np.ones(1) * 3, "rgb/1": np.ones(1), "flow/2": np.ones(1) * 2,
            "flow/-1": np.ones(1) * -1}
    out = A.last_layer(recs)
    assert list(out) == ["rgb", "flow"]
    assert out["rgb"].tolist() == [3.0] and out["flow"].tolist() == [-1.0]
    with pytest.raises(ValueError, match="modality"):
        A.last_layer({"rgb": np.zeros(1)})
    with pytest.raises(ValueError, match="modality"):
        A.last_layer({"rgb/last": np.zeros(1)})


def test_mask_padding():
    v = np.ones((2, 4, 1))
    out = A.mask_padding(v, np.array([2, 4]))
    assert np.isnan(out[0, 2:]).all() and not np.isnan(out[0, :2]).any() and not np.isnan(out[1]).any()
    assert not np.isnan(v).any()  # a copy
    per_epoch = A.mask_padding(np.ones((3, 2, 4, 1)), np.array([[1, 3]] * 3))
    assert np.isnan(per_epoch).sum() == 3 * (3 + 1)
    with pytest.raises(ValueError, match="leading shape"):
        A.mask_padding(v, np.array([2, 4, 1]))


def test_top_segments_peaks_in_time_order():
    curve = np.array([0.0, 5.0, 4.0, 0.0, 3.0, 9.0, 8.0])
    assert A.top_segments(curve, 2).tolist() == [5, 6]  # adjacent allowed with separation 1
    assert A.top_segments(curve, 2, min_separation=2).tolist() == [1, 5]  # 6 is too close to 5
    assert A.top_segments(curve, 3, min_separation=3).tolist() == [1, 5]  # nothing else is 3 away from both
    with_nan = np.array([np.nan, 1.0, np.nan])
    assert A.top_segments(with_nan, 3).tolist() == [1]
    assert A.top_segments(curve, 0).tolist() == []
    with pytest.raises(ValueError):
        A.top_segments(curve.reshape(7, 1), 2)
    with pytest.raises(ValueError):
        A.top_segments(curve, 2, min_separation=0)


def test_mark_label():
    assert [A.mark_label(i) for i in (0, 1, 25, 26)] == ["a", "b", "z", "m27"]


def _fake_run(monkeypatch, arrays, meta, *, train_names, train_truth, test_names, test_truth, norm=10.0,
              test_scores=None):
    """A RunResult over hand-made records, with load_data answering a hand-made data set."""
    split = SimpleNamespace
    data = SimpleNamespace(
        train=split(names=train_names, truth=train_truth),
        test=split(names=test_names, truth=test_truth,
                   scores=np.asarray(test_scores if test_scores is not None else np.zeros(len(test_names)))),
        norm=norm)
    monkeypatch.setattr("aqa_lib.analysis.load_data", lambda config: data)
    config = RunConfig(model="lmac", dataset="fisv", target="TES", scale="smoke")
    meta = {"modalities": ["rgb", "flow"], "test_names": test_names, **meta}
    return RunResult(config=config, key="k", summary={}, history=pd.DataFrame(), arrays=arrays, meta=meta)


def test_trajectories_from_records(monkeypatch):
    # 2 epochs, 2 tracked videos (lengths 10 and 20), K = 2, last layer = index 1
    lengths = np.array([[10, 20], [10, 20]])
    rgb = np.array([[[0.25, 0.75], [0.25, 0.75]], [[0.5, 1.0], [0.5, 1.0]]])
    flow = np.array([[[0.25, 0.25], [0.25, 0.75]], [[0.5, 1.0], [0.5, 1.0]]])
    att = np.zeros((2, 2, 20, 2))
    att[..., 0, :] = 1.0  # both modalities attend to segment 1 only -> cosine 1
    arrays = {"epoch/lengths": lengths, "epoch/centres/flow/1": flow, "epoch/centres/rgb/1": rgb,
              "epoch/centres/rgb/0": np.zeros_like(rgb), "epoch/centres/flow/0": np.zeros_like(rgb),
              "epoch/attention/rgb/-1": att, "epoch/attention/flow/-1": att}
    # record_train names "b", "a": truth must be looked up by name (positions moved, e.g. by a holdout)
    truth_a, truth_b = _truth([0], [2]), _truth([4], [1])  # spans [0, 2) and [4, 5)
    result = _fake_run(monkeypatch, arrays, {"record_train": ["b", "a"], "record_test": [], "record_test_index": []},
                       train_names=["a", "b"], train_truth=[truth_a, truth_b], test_names=["t"], test_truth=[None])
    tr = A.trajectories(result)
    assert list(tr.times) == ["rgb", "flow"]  # the run's modality order, not the records'
    assert tr.names == ["b", "a"] and tr.truth == [truth_b, truth_a]
    assert tr.epochs.tolist() == [1, 2] and tr.lengths.tolist() == [10, 20]
    assert tr.times["rgb"][0, 0].tolist() == [2.0, 7.0]  # 0.25·10 − 0.5, 0.75·10 − 0.5
    assert tr.times["rgb"][1, 1].tolist() == [9.5, 19.5]
    # epoch 1, video 0: |0.75 − 0.25|·10 / 2 queries = 2.5 segments; later all equal
    assert tr.distance["rgb–flow"] == pytest.approx(np.array([[2.5, 0.0], [0.0, 0.0]]))
    assert tr.cosine == pytest.approx(np.ones((2, 2)))

    row = A.trajectory_summary(tr)
    assert row["cosine"] == pytest.approx(1.0) and row["dist rgb–flow (s)"] == 0.0
    # last epoch, both modalities: video b (element [4, 5), mid 4.5) centres 4.5, 9.5 -> distances 0, 5, one of
    # two inside; video a (element [0, 2), mid 1) centres 9.5, 19.5 -> 8.5, 18.5, none inside
    assert row["to element (s)"] == pytest.approx((2 * 0 + 2 * 5 + 2 * 8.5 + 2 * 18.5) / 8 * SEGMENT_SECONDS)
    assert row["inside element"] == pytest.approx((0.5 + 0.0) / 2)
    first = A.trajectory_summary(tr, epoch=0)
    assert first["dist rgb–flow (s)"] == pytest.approx(2.5 / 2 * SEGMENT_SECONDS)


def test_trajectories_needs_records(monkeypatch):
    result = _fake_run(monkeypatch, {}, {"record_train": []}, train_names=["a"], train_truth=None, test_names=["t"],
                       test_truth=None)
    with pytest.raises(ValueError, match="record_keys"):
        A.trajectories(result)


def test_recorded_videos_tables(monkeypatch):
    # two recorded test videos (positions 2 and 0) of lengths 3 and 2 (padded to 3), K = 2, last layer 1
    att = np.zeros((2, 3, 2))
    att[0, :, 0] = [0.2, 0.3, 0.5]
    att[0, :, 1] = [0.0, 0.0, 1.0]
    att[1, :2, 0] = [1.0, 0.0]
    att[1, :2, 1] = [0.5, 0.5]
    arrays = {
        "final_test/lengths": np.array([3, 2]),
        "final_test/attention/rgb/0": np.zeros_like(att), "final_test/attention/rgb/1": att,
        "final_test/attention/flow/1": att,
        "final_test/centres/rgb/1": np.array([[0.5, 1.0], [0.5, 1.0]]),
        "final_test/centres/flow/1": np.array([[0.5, 1.0], [0.5, 1.0]]),
        "final_test/query_scores": np.array([[0.2, 0.6], [0.4, 0.4]]),
        "final_test/query_weights": np.array([0.25, 0.75]),
        "final_test/score": np.array([0.25 * 0.2 + 0.75 * 0.6, 0.4]),
        "test_true": np.array([1.0, 2.0, 3.0]),
    }
    truth0 = _truth([2], [1], names=["spin"], quality=[1.5])
    result = _fake_run(monkeypatch, arrays,
                       {"record_train": [], "record_test": ["z", "x"], "record_test_index": [2, 0]},
                       train_names=["a"], train_truth=[None], test_names=["x", "y", "z"],
                       test_truth=[None, None, truth0], norm=10.0)
    videos = A.recorded_videos(result)
    assert [v.name for v in videos] == ["z", "x"] and [v.index for v in videos] == [2, 0]
    v0, v1 = videos
    assert v0.truth is truth0 and v1.truth is None
    assert v0.true == 3.0 and v1.true == 1.0
    assert v0.prediction == pytest.approx(5.0) and v1.prediction == pytest.approx(4.0)
    assert v1.attention["rgb"].shape == (2, 2)  # padding removed
    assert v0.attention["rgb"][:, 1].tolist() == [0.0, 0.0, 1.0]
    assert v0.centres["rgb"].tolist() == [1.0, 2.5]
    assert v0.query_scores.tolist() == pytest.approx([2.0, 6.0]) and v0.query_weights.tolist() == [0.25, 0.75]

    table = A.query_table(v0)
    assert list(table.index) == ["Q1", "Q2"]
    assert table["w_k·s_k"].sum() == pytest.approx(v0.prediction)
    assert table["rgb centre (s)"].tolist() == pytest.approx([1.0 * SEGMENT_SECONDS, 2.5 * SEGMENT_SECONDS])

    peaks = A.top_segments(v0.attention["rgb"].sum(axis=1), 2)
    assert peaks.tolist() == [1, 2]  # sums 0.2, 0.3, 1.5
    marks = A.peak_table(v0, peaks, modality="rgb")
    assert list(marks.index) == ["a", "b"]
    assert marks.loc["b", "top query"] == "Q2" and marks.loc["a", "top query"] == "Q1"
    assert marks.loc["b", "true element"] == "spin" and marks.loc["b", "element quality"] == 1.5
    assert marks.loc["a", "true element"] == "(between elements)"  # segment 1 = time 1.5, outside [2, 3)
    assert "true element" not in A.peak_table(v1, np.array([0]), modality="rgb").columns


def test_recorded_videos_needs_records(monkeypatch):
    result = _fake_run(monkeypatch, {}, {"record_test": [], "record_test_index": []}, train_names=["a"],
                       train_truth=None, test_names=["t"], test_truth=None)
    with pytest.raises(ValueError, match="record_test"):
        A.recorded_videos(result)


def test_lmac_figure_config_records_what_the_figures_need():
    with_loss = A.lmac_figure_config("lmac", "fisv", "TES", n_tracked=3, videos=[5, 1], scale="smoke")
    without = A.lmac_figure_config("lmac", "fisv", "TES", n_tracked=3, videos=[5, 1], scale="smoke",
                                   lambda_consistency=0.0)
    assert with_loss.record_train == (0, 1, 2) and with_loss.record_test == (5, 1)
    assert with_loss.record_keys == ("centres", "attention/rgb/-1", "attention/flow/-1", "attention/audio/-1")
    assert without.model_kwargs["lambda_consistency"] == 0.0 and "lambda_consistency" not in with_loss.model_kwargs
    assert without.replace(model_kwargs=with_loss.model_kwargs) == with_loss  # nothing else differs
    # the case study's defaults give the alignment notebook's full-model run (one cached training for both)
    assert A.lmac_figure_config("lmac", "rg", "Ball", scale="smoke") == A.lmac_figure_config(
        "lmac", "rg", "Ball", n_tracked=8, videos=(0, 1, 2, 3), scale="smoke")
    with pytest.raises(ValueError, match="n_tracked"):
        A.lmac_figure_config("lmac", "fisv", "TES", n_tracked=0)
    with pytest.raises(ValueError, match="videos"):
        A.lmac_figure_config("lmac", "fisv", "TES", videos=[])


def test_query_specialisation_hand_made(monkeypatch):
    # 3 test videos of length 10, K = 3 queries; rgb ordered in 2 of 3 videos, flow in all three
    rgb = np.array([[0.2, 0.5, 0.8], [0.1, 0.4, 0.7], [0.5, 0.4, 0.6]])
    flow = np.array([[0.2, 0.5, 0.8], [0.1, 0.4, 0.7], [0.3, 0.4, 0.6]])
    arrays = {"test/lengths": np.array([10, 10, 10]), "test/centres/rgb/0": np.zeros((3, 3)),
              "test/centres/rgb/1": rgb, "test/centres/flow/1": flow,
              "final_test/query_weights": np.array([0.5, 0.25, 0.25])}
    truth = _truth([1], [2])  # one element on [1, 3): only a centre time in there is inside
    result = _fake_run(monkeypatch, arrays, {"record_train": []}, train_names=["a"], train_truth=None,
                       test_names=["x", "y", "z"], test_truth=[truth] * 3)
    table = A.query_specialisation(result).set_index("modality")
    assert table.loc["rgb", "ordered"] == pytest.approx(2 / 3) and table.loc["flow", "ordered"] == 1.0
    assert table.loc["rgb", "spread"] == pytest.approx((0.6 + 0.6 + 0.1) / 3)
    assert table.loc["rgb", "mean centres"] == "0.27 0.43 0.70"
    # centre times c·10 − 0.5: rgb video x 1.5 / 4.5 / 7.5 -> one of three inside [1, 3); video y 0.5 / 3.5 /
    # 6.5 -> none; video z 4.5 / 3.5 / 5.5 -> none
    assert table.loc["rgb", "inside an element"] == pytest.approx((1 / 3) / 3)
    assert table.loc["rgb", "uniform reference"] == pytest.approx(1 / 3)  # 1.67 is inside, 5 and 8.33 not
    assert table.loc["rgb", "weight deviation"] == pytest.approx(0.5 - 1 / 3)
    assert table.loc["rgb", "cross-modal gap"] == pytest.approx(0.2 / 9)
    with pytest.raises(ValueError, match="final_keys"):
        A.query_specialisation(_fake_run(monkeypatch, {}, {"record_train": []}, train_names=["a"],
                                         train_truth=None, test_names=["t"], test_truth=None))
