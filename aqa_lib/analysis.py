"""Analyses of recorded attention that the notebooks' figures share (LMAC-Net Figs. 5–10), plus what only
synthetic data allows: scoring attention centres against the ground-truth element times.

Units: attention centres come from the model in the losses' unit. LMAC-Net's default divides them by the
video's real length (``c = Σ_t t·a_t / T`` with t = 1..T); :func:`centre_segments` turns them back into
time on the segment axis (segment t covers [t − 1, t), so a 1-based centre c sits at time c − 0.5).
Synthetic ground truth (:mod:`aqa_lib.data.synthetic`) gives element starts and durations in segments.

The centre helpers (:func:`centre_segments`, :func:`element_midpoints`, :func:`nearest_element_distance`,
:func:`uniform_times`, :func:`element_hit_rate`) live in :mod:`aqa_lib.centres` and are re-exported here.
Dependencies are one-way: this module uses :mod:`aqa_lib.experiments` (the run configurations behind the
figures), which never imports it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd

from .centres import centre_segments as centre_segments
from .centres import element_hit_rate as element_hit_rate
from .centres import element_midpoints as element_midpoints
from .centres import nearest_element_distance as nearest_element_distance
from .centres import uniform_times as uniform_times
from .data.registry import SEGMENT_SECONDS, get_spec
from .experiments.configs import lmac_config
from .train import RunConfig, load_data


def pairwise_centre_distance(centres: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """``|c^i_k − c^j_k|`` per modality pair, averaged over queries (LMAC-Net Figs. 7–8): pair → ``[...]``
    with the leading axes of the inputs (e.g. ``[epochs, videos]``)."""
    return {f"{a}–{b}": np.abs(np.asarray(centres[a]) - np.asarray(centres[b])).mean(axis=-1)
            for a, b in combinations(centres, 2)}


def attention_cosine(attention: Mapping[str, np.ndarray]) -> np.ndarray:
    """Mean over modality pairs of the cosine similarity between two modalities' attention maps
    (LMAC-Net Fig. 6). Inputs ``[..., T, K]`` per modality; output ``[...]``."""
    sims = []
    for a, b in combinations(attention, 2):
        x = np.asarray(attention[a], dtype=np.float64)
        y = np.asarray(attention[b], dtype=np.float64)
        x = x.reshape(*x.shape[:-2], -1)
        y = y.reshape(*y.shape[:-2], -1)
        num = (x * y).sum(-1)
        den = np.linalg.norm(x, axis=-1) * np.linalg.norm(y, axis=-1)
        sims.append(num / np.maximum(den, 1e-12))
    if not sims:
        raise ValueError("attention_cosine needs at least two modalities.")
    return np.mean(sims, axis=0)


# ---------------------------------------------------------------------------------------------------------
# Recorded runs → figure data (LMAC-Net Figs. 5–10)
# ---------------------------------------------------------------------------------------------------------


def last_layer(records: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Each modality's last recorded layer, from records keyed ``"<modality>/<layer>"``.

    E.g. ``result.records("final_test/attention")`` (keys ``rgb/0`` … ``rgb/3``) or
    ``result.records("epoch/attention")`` (keys ``rgb/-1``). A negative index counts from the end, so it ranks
    above every non-negative one (``-1`` is the last layer by definition). Modalities keep their first-seen order.
    """
    best: dict[str, tuple[tuple[int, int], str]] = {}
    for key in records:
        modality, _, layer = key.rpartition("/")
        try:
            pos = int(layer)
        except ValueError:
            raise ValueError(f"Record key {key!r} is not '<modality>/<layer index>'.") from None
        if not modality:
            raise ValueError(f"Record key {key!r} is not '<modality>/<layer index>'.")
        rank = (1, pos) if pos < 0 else (0, pos)
        if modality not in best or rank > best[modality][0]:
            best[modality] = (rank, key)
    return {m: np.asarray(records[key]) for m, (_, key) in best.items()}


def mask_padding(values: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Float copy of ``values`` with every padded segment set to NaN.

    ``lengths`` gives the real length of each video and has the leading shape of ``values``; the next axis of
    ``values`` is time (``[N, T, K]`` with ``[N]``, or ``[epochs, N, T, K]`` with ``[epochs, N]``).
    """
    v = np.array(values, dtype=np.float64)
    lengths = np.asarray(lengths)
    if v.ndim <= lengths.ndim or v.shape[:lengths.ndim] != lengths.shape:
        raise ValueError(f"lengths {lengths.shape} must be the leading shape of values {v.shape} (before time).")
    padded = np.arange(v.shape[lengths.ndim]) >= lengths[..., None]
    v[padded] = np.nan
    return v


def top_segments(curve: np.ndarray, k: int, *, min_separation: int = 1) -> np.ndarray:
    """Positions of the ``k`` highest points of a 1-D curve, returned in time order.

    Chosen greedily from the highest down, skipping points closer than ``min_separation`` segments to one
    already chosen (so the marks land on distinct peaks, not on one peak's shoulders). NaN points (padding)
    are never chosen; fewer than ``k`` come back when too few points are eligible.
    """
    c = np.asarray(curve, dtype=np.float64)
    if c.ndim != 1:
        raise ValueError(f"top_segments needs a 1-D curve, got shape {c.shape}.")
    if k < 0 or min_separation < 1:
        raise ValueError(f"need k >= 0 and min_separation >= 1, got k={k}, min_separation={min_separation}.")
    picks: list[int] = []
    for i in np.argsort(-np.where(np.isfinite(c), c, -np.inf), kind="stable"):
        if len(picks) == k or not np.isfinite(c[i]):
            break
        if all(abs(int(i) - j) >= min_separation for j in picks):
            picks.append(int(i))
    return np.sort(np.asarray(picks, dtype=np.int64))


def element_spans(truth: Mapping[str, Any]) -> np.ndarray:
    """``[n_elements, 2]`` start and end (segments, end exclusive) of a synthetic routine's elements."""
    start = np.asarray(truth["element_start"], dtype=np.float64)
    return np.stack([start, start + np.asarray(truth["element_duration"], dtype=np.float64)], axis=1)


def element_at(truth: Mapping[str, Any], times: np.ndarray) -> np.ndarray:
    """Index of the element whose span ``[start, end)`` holds each time (segments), −1 where none does."""
    t = np.asarray(times, dtype=np.float64)
    spans = element_spans(truth)
    inside = (t[..., None] >= spans[:, 0]) & (t[..., None] < spans[:, 1])
    return np.where(inside.any(axis=-1), inside.argmax(axis=-1), -1)


def recorded_truth(result: Any, split: str = "train") -> list[dict[str, Any]] | None:
    """Synthetic ground truth of the videos a run recorded (``record_train`` or ``record_test``), in record
    order; None for real data.

    Matched by video name, so it stays right when a holdout moved the training split's positions.
    """
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}.")
    data = load_data(result.config)
    part = data.train if split == "train" else data.test
    if part.truth is None:
        return None
    where = {name: i for i, name in enumerate(part.names)}
    return [part.truth[where[name]] for name in result.meta[f"record_{split}"]]


def _normalised(result: Any) -> bool:
    return bool(result.config.model_kwargs.get("normalise_centres", True))


def _in_order(values: Mapping[str, np.ndarray], order: Sequence[str]) -> dict[str, np.ndarray]:
    return {m: values[m] for m in [*[m for m in order if m in values], *[m for m in values if m not in order]]}


@dataclass
class Trajectories:
    """Per-epoch attention of a run's tracked training videos (LMAC-Net Figs. 5–8), last decoder layer.

    Attributes:
        names: the tracked videos; ``lengths`` their real lengths (segments) ``[N]``.
        epochs: 1-based epoch numbers ``[E]``.
        times: modality → attention-centre times in segments ``[E, N, K]``.
        cosine: mean over modality pairs of the cosine similarity of the attention maps ``[E, N]`` (None when
            the attention maps were not recorded).
        distance: modality pair → mean over queries of ``|c^i_k − c^j_k|`` in segments ``[E, N]``.
        truth: synthetic ground truth of the tracked videos (None for real data).
    """

    names: list[str]
    lengths: np.ndarray
    epochs: np.ndarray
    times: dict[str, np.ndarray]
    cosine: np.ndarray | None
    distance: dict[str, np.ndarray]
    truth: list[dict[str, Any]] | None


def trajectories(result: Any) -> Trajectories:
    """The :class:`Trajectories` of a run recorded with ``record_keys=("centres", "attention/<m>/-1", ...)``."""
    order = result.meta.get("modalities", [])
    centres = _in_order(last_layer(result.records("epoch/centres")), order)
    if not centres or "epoch/lengths" not in result.arrays:
        raise ValueError("This run recorded no per-epoch centres: train it with record_keys=('centres', ...) and "
                         "a non-empty record_train.")
    lengths = np.asarray(result.arrays["epoch/lengths"])
    times = {m: centre_segments(c, lengths, normalised=_normalised(result)) for m, c in centres.items()}
    attention = _in_order(last_layer(result.records("epoch/attention")), order)
    cosine = attention_cosine(attention) if len(attention) >= 2 else None
    return Trajectories(
        names=list(result.meta["record_train"]), lengths=lengths[0], epochs=np.arange(1, lengths.shape[0] + 1),
        times=times, cosine=cosine, distance=pairwise_centre_distance(times) if len(times) >= 2 else {},
        truth=recorded_truth(result, "train"),
    )


def trajectory_summary(traj: Trajectories, *, epoch: int = -1) -> dict[str, float]:
    """One epoch (default the last) of :class:`Trajectories` in numbers, averaged over the tracked videos.

    ``cosine`` (mean attention-map cosine between modalities), ``dist <pair> (s)`` (centre distance per
    modality pair, seconds) and, on synthetic data, ``to element (s)`` (centre to the nearest true element
    midpoint, all modalities and queries) and ``inside element`` (share of centres inside an element).
    """
    row: dict[str, float] = {}
    if traj.cosine is not None:
        row["cosine"] = float(np.mean(traj.cosine[epoch]))
    for pair, d in traj.distance.items():
        row[f"dist {pair} (s)"] = float(np.mean(d[epoch])) * SEGMENT_SECONDS
    if traj.truth is not None:
        times = np.concatenate([t[epoch] for t in traj.times.values()], axis=1)  # [N, M·K]
        row["to element (s)"] = float(np.nanmean(nearest_element_distance(times, traj.truth))) * SEGMENT_SECONDS
        row["inside element"] = float(element_hit_rate(times, traj.truth).mean())
    return row


@dataclass
class RecordedVideo:
    """Everything a case study shows of one recorded test video (last decoder layer, padding removed).

    Attributes:
        name, index: the video and its position in the test split; ``length`` its real length (segments).
        attention: modality → ``[length, K]`` attention (each query's column sums to 1 over time).
        centres: modality → ``[K]`` attention-centre times (segments).
        query_scores: ``[K]`` first-level scores ``s_k`` on the original score scale (None for one-stage heads).
        query_weights: ``[K]`` second-level weights (softmax(w); None when the head has none).
        prediction, true: the final predicted and the judges' score (original scale).
        truth: synthetic ground truth (None for real data).
    """

    name: str
    index: int
    length: int
    attention: dict[str, np.ndarray]
    centres: dict[str, np.ndarray]
    query_scores: np.ndarray | None
    query_weights: np.ndarray | None
    prediction: float
    true: float
    truth: dict[str, Any] | None


def recorded_videos(result: Any) -> list[RecordedVideo]:
    """The ``record_test`` videos of a run (its ``final_test/...`` records) as :class:`RecordedVideo`."""
    arrays = result.arrays
    if "final_test/lengths" not in arrays:
        raise ValueError("This run recorded no test videos: give it a non-empty record_test.")
    order = result.meta.get("modalities", [])
    norm = float(load_data(result.config).norm)
    lengths = np.asarray(arrays["final_test/lengths"]).astype(int)
    attention = {m: mask_padding(a, lengths)
                 for m, a in _in_order(last_layer(result.records("final_test/attention")), order).items()}
    centres = {m: centre_segments(c, lengths, normalised=_normalised(result))
               for m, c in _in_order(last_layer(result.records("final_test/centres")), order).items()}
    scores = arrays.get("final_test/query_scores")
    weights = arrays.get("final_test/query_weights")
    truths = recorded_truth(result, "test")
    videos = []
    for pos, (name, index) in enumerate(zip(result.meta["record_test"], result.meta["record_test_index"], strict=True)):
        w = None
        if weights is not None:
            w = np.asarray(weights, dtype=np.float64)
            w = w[pos] if w.ndim == 2 else w
        videos.append(RecordedVideo(
            name=name, index=int(index), length=int(lengths[pos]),
            attention={m: a[pos, :lengths[pos]] for m, a in attention.items()},
            centres={m: c[pos] for m, c in centres.items()},
            query_scores=None if scores is None else np.asarray(scores[pos], dtype=np.float64) * norm,
            query_weights=w,
            prediction=float(arrays["final_test/score"][pos]) * norm,
            true=float(arrays["test_true"][index]),
            truth=None if truths is None else truths[pos],
        ))
    return videos


def query_table(video: RecordedVideo) -> pd.DataFrame:
    """Per query: score ``s_k``, weight ``w_k``, contribution ``w_k·s_k`` (original scale; with softmaxed
    weights they sum to the prediction) and each modality's attention-centre time (s)."""
    if video.centres:
        k = next(iter(video.centres.values())).shape[0]
    else:
        k = 0 if video.query_scores is None else len(video.query_scores)
    frame = pd.DataFrame(index=pd.Index([f"Q{i + 1}" for i in range(k)], name="query"))
    if video.query_scores is not None:
        frame["score s_k"] = video.query_scores
    if video.query_weights is not None:
        frame["weight w_k"] = video.query_weights
    if video.query_scores is not None and video.query_weights is not None:
        frame["w_k·s_k"] = video.query_scores * video.query_weights
    for m, c in video.centres.items():
        frame[f"{m} centre (s)"] = c * SEGMENT_SECONDS
    return frame


def mark_label(i: int) -> str:
    """Label of the i-th marked segment: a, b, …, z, then m27, m28, …"""
    return chr(ord("a") + i) if 0 <= i < 26 else f"m{i + 1}"


def peak_table(video: RecordedVideo, peaks: np.ndarray, *, modality: str) -> pd.DataFrame:
    """The marked segments of one modality's attention (LMAC-Net Fig. 10's a, b, c, …): time, the query that
    attends there most, its weight, and on synthetic data the true element there (name, quality)."""
    att = video.attention[modality]
    rows = []
    for i, t in enumerate(np.asarray(peaks, dtype=np.int64)):
        q = int(np.nanargmax(att[t]))
        row = {"mark": mark_label(i), "segment": int(t), "time (s)": (t + 0.5) * SEGMENT_SECONDS,
               "top query": f"Q{q + 1}", "attention": float(att[t, q])}
        if video.truth is not None:
            e = int(element_at(video.truth, t + 0.5))
            row["true element"] = video.truth["element_name"][e] if e >= 0 else "(between elements)"
            row["element quality"] = float(video.truth["element_quality"][e]) if e >= 0 else np.nan
        rows.append(row)
    return pd.DataFrame(rows).set_index("mark")


def lmac_figure_config(variant: str, dataset: str, target: str, *, n_tracked: int = 8,
                       videos: Sequence[int] = (0, 1, 2, 3), **kwargs: Any) -> RunConfig:
    """The LMAC-Net run behind Figs. 5–10: :func:`aqa_lib.experiments.lmac_config` (``kwargs``: scale, seed,
    source, data_root, device, epochs and model overrides such as ``lambda_consistency=0.0``) recording, every
    epoch, the centres and last-layer attention of the first ``n_tracked`` training videos, and after training
    everything about the test videos at positions ``videos``.

    Both figure notebooks build their runs here, so with the same parameters the case study reuses the
    alignment notebook's cached full-model run instead of training it again.
    """
    if not (isinstance(n_tracked, int) and n_tracked >= 1):
        raise ValueError(f"n_tracked must be a positive integer, got {n_tracked!r}.")
    if not (len(videos) and all(isinstance(i, int) and i >= 0 for i in videos)):
        raise ValueError(f"videos must be a non-empty list of test-split positions, got {videos!r}.")
    record_keys = ("centres", *(f"attention/{m}/-1" for m in get_spec(dataset).modalities))
    cfg = lmac_config(variant, dataset, target, record_keys=record_keys, final_keys=("centres",), **kwargs)
    return cfg.replace(record_train=tuple(range(n_tracked)), record_test=tuple(videos))


def query_specialisation(result: Any) -> pd.DataFrame:
    """Do the queries specialise (what LMAC-Net Figs. 5–10 claim)? One row per modality, last decoder layer,
    over every test video (needs a run with ``final_keys=("centres",)``, as :func:`lmac_figure_config` makes):

    - ``ordered``: share of videos whose K centres are in strict temporal order;
    - ``spread``: mean over videos of (last centre − first centre), as a fraction of the routine;
    - ``mean centres``: each query's mean centre, as a fraction of the routine;
    - ``inside an element`` / ``uniform reference``: share of centres inside a true element, and the same
      for K evenly spread centres (synthetic data only);
    - ``weight deviation``: largest |query weight − 1/K| of the two-level score (0 = uniform weights),
      averaged over videos when the weights are per video (``lmac/table8/attention``);
    - ``cross-modal gap``: mean |c_k^m − c_k^m'| over modality pairs and queries (fraction of the routine).
    """
    centres = result.records("test/centres")
    if not centres or "test/lengths" not in result.arrays:
        raise ValueError("query_specialisation needs a run recording every test video's centres: "
                         "final_keys=('centres',) (lmac_figure_config sets it).")
    lengths = np.asarray(result.arrays["test/lengths"], dtype=np.float64)
    last: dict[str, str] = {}
    for key in centres:  # "<modality>/<layer position>"
        m, layer = key.split("/")
        if m not in last or int(layer) > int(last[m].split("/")[1]):
            last[m] = key
    normalised = _normalised(result)
    rel = {m: centres[k] if normalised else centres[k] / lengths[:, None] for m, k in last.items()}
    truths = load_data(result.config).test.truth
    weights = result.arrays.get("final_test/query_weights")
    gap = (np.mean([np.abs(rel[a] - rel[b]).mean() for a, b in combinations(rel, 2)])
           if len(rel) > 1 else np.nan)
    rows = []
    for m, c in rel.items():
        row: dict[str, Any] = {
            "modality": m, "ordered": float((np.diff(c, axis=1) > 0).all(axis=1).mean()),
            "spread": float((c[:, -1] - c[:, 0]).mean()),
            "mean centres": " ".join(f"{v:.2f}" for v in c.mean(axis=0)),
        }
        if truths is not None:
            times = centre_segments(c, lengths, normalised=True)
            row["inside an element"] = float(element_hit_rate(times, truths).mean())
            row["uniform reference"] = float(element_hit_rate(uniform_times(lengths, c.shape[1]), truths).mean())
        if weights is not None:
            w = np.asarray(weights, dtype=np.float64).reshape(-1, c.shape[1])  # [K] global or [B, K] per video
            row["weight deviation"] = float(np.abs(w - 1 / w.shape[1]).max(axis=1).mean())
        row["cross-modal gap"] = float(gap)
        rows.append(row)
    return pd.DataFrame(rows)
