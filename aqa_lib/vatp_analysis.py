"""VATP-Net's figures from recorded runs (Figs. 6–8), and what only the synthetic data can say: do the
ParseFormer's queries parse a dive into its true sub-actions, and which commentary words does Drop-DTW match
to each of them?

What a run records (no change to the model or the engine): :func:`parsing_config` asks the engine for
``final_keys`` = :data:`FINAL_KEYS`, entries VATP-Net's forward already returns in ``aux``
(:class:`aqa_lib.models.vatp.VATPNet`), for every test video after the last epoch, in evaluation mode:

- ``parse_labels`` ``[N, T]``: per segment, the query with the largest last-layer ParseFormer attention there
  (−1 on padding) — the model's own reading of its parse;
- ``attention/-1`` ``[N, T, S]``: the last ParseFormer layer's attention of each query over time (each query's
  column sums to 1 over the real segments);
- ``match_labels`` ``[N, L]`` and ``text_mask`` ``[N, L]``: Drop-DTW's ``M_vt`` (Eq. 7) as the query each text
  token is matched to (−1: dropped or padding) — the commentary tokens on MTL-AQA, the sport's action vocabulary
  (``text_source="vocabulary"``) on RG / Fis-V / FineFS;
- ``mu``, ``sigma`` ``[N]``: the score distribution's mean and spread (Eqs. 12–14) on the normalised scale.

Figures and measures (pure functions of arrays, each tested on hand-made cases):

- **Fig. 6** predicted vs true with the fitted line (:func:`fitted_line`); **Fig. 7** the cumulative score
  curve ``CS(α) = N_{|e| ≤ α} / N`` (:func:`cumulative_score`, its normalised area :func:`cumulative_score_area`);
  **Fig. 8** the failure case, the test video with the largest absolute error (:func:`failure_case`).
- σ against |error| (:func:`sigma_error_summary`). VATP-Net trains σ only through the sampled score's MSE,
  which drives σ towards 0 (``aqa_lib/models/vatp.py``, "σ and L_reg"): nothing asks σ to track the error.
- **Parsing vs the truth** (synthetic data): segments (:func:`label_runs`), boundaries (:func:`parse_boundaries`,
  :func:`true_boundaries`), the symmetric boundary error in segments (:func:`boundary_error`), and frame
  accuracy after a Hungarian matching of queries to sub-action types (:func:`query_type_overlap`,
  :func:`hungarian_mapping`, :func:`frame_accuracy`), each against the **uniform split** (:func:`uniform_labels`:
  query k takes the k-th of S equal stretches), which knows nothing of the video.
- **Drop-DTW matches** (:func:`matched_runs`, :func:`match_table`, :func:`word_alignment_table`): the real
  words matched to each query, and whether the words that name a sub-action go to the query that parses it.

Units: MTL-AQA's segments are its 10 I3D clips; a clip ``c`` covers clip coordinates ``[c, c + 1)`` and its
midpoint ``c + 0.5`` is the centre of its 16 frames (:func:`aqa_lib.data.mtlaqa.clip_coordinate`). The
ground truth's ``element_start`` / ``element_duration`` are in the same coordinates (segments on RG / Fis-V).
A parse boundary between segments ``c − 1`` and ``c`` lies at coordinate ``c``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment
from scipy.stats import pearsonr, spearmanr

from .analysis import element_at
from .experiments.configs import config_for
from .models.base import model_config
from .train import RunConfig, load_data

FINAL_KEYS = ("parse_labels", "attention/-1", "match_labels", "text_mask", "mu", "sigma")
"""``aux`` entries recorded for every test video (:class:`~aqa_lib.train.RunConfig` ``final_keys``)."""
FULL = "vatp"
BASELINES = ("vatp/i3d_mlp", "vatp/i3d_te")
"""Fig. 6's two baselines: projected features + MLP head, and TE + score-distribution head (MSE only)."""
SUBACTION_WORDS: dict[str, tuple[str, ...]] = {
    "take-off": ("takeoff", "take-off"),
    "somersault": ("somersault", "somersaults"),
    "twist": ("twist", "twists", "twisting"),
    "entry": ("entry", "entries"),
}
"""Commentary words that name each MTL-AQA sub-action type (lower case; the generator renders the first of
each group, :data:`aqa_lib.data.mtlaqa.TYPE_WORDS`)."""


def model_labels(dataset: str) -> dict[str, str]:
    """Registered variant → label: VATP-Net and Fig. 6's baselines named by the dataset's backbone (I3D on
    MTL-AQA as in the paper, VST on RG / Fis-V / FineFS, as Table II)."""
    backbone = "I3D" if dataset == "mtl_aqa" else "VST"
    return {FULL: "VATP-Net", BASELINES[0]: f"{backbone}+MLP", BASELINES[1]: f"{backbone}+TE"}


FINETUNED = ("rg", "fisv", "finefs")
"""Datasets on which the paper's VATP-Net is "fine-tuned with our trained visual ParseFormer" (§IV-A2)."""


def parsing_config(variant: str, dataset: str, target: str, **kwargs: Any) -> RunConfig:
    """The run of ``variant`` as the paper trains it: :func:`~aqa_lib.experiments.config_for`, and on
    :data:`FINETUNED` datasets the full model's ParseFormer starts from VATP-Net trained on (the synthetic)
    MTL-AQA (:func:`aqa_lib.experiments.vatp.finetune_config`); the full model records :data:`FINAL_KEYS` for
    every test video. ``kwargs`` (scale, seed, source, data_root, device, epochs) go to either. What is recorded
    is not part of the cache key: the run is the one any other notebook trains for the variant."""
    if variant == FULL and dataset in FINETUNED:
        from .experiments.vatp import finetune_config

        return finetune_config(variant, dataset, target, **kwargs).replace(final_keys=FINAL_KEYS)
    return config_for(variant, dataset, target, final_keys=FINAL_KEYS if variant == FULL else (), **kwargs)


# ---------------------------------------------------------------------------------------------------------
# Recorded test videos
# ---------------------------------------------------------------------------------------------------------


@dataclass
class VATPRecords:
    """What one VATP-Net run recorded about every test video (split order).

    Attributes:
        variant, dataset: the run's registered variant and dataset; ``names`` the test videos.
        true, prediction: judges' score and the last-epoch prediction, original scale ``[N]``.
        norm: the score normaliser (labels are ``score / norm``).
        lengths: real lengths in segments ``[N]``.
        parse_labels: ``[N, T]`` query per segment (−1 on padding).
        attention: ``[N, T, S]`` last ParseFormer layer's attention.
        mu, sigma: the score distribution's mean and spread, original scale ``[N]`` (sigma None without it).
        text_source: ``"commentary"``, ``"vocabulary"`` or ``"none"``.
        match_labels, text_mask: ``[N, L]`` Drop-DTW's query per token (−1 dropped / padding) and the real
            tokens (None without text).
        tokens: the words behind each video's real tokens (commentary or vocabulary), or None.
        truth: synthetic ground truth per video (None for real data).
    """

    variant: str
    dataset: str
    names: list[str]
    true: np.ndarray
    prediction: np.ndarray
    norm: float
    lengths: np.ndarray
    parse_labels: np.ndarray
    attention: np.ndarray
    mu: np.ndarray
    sigma: np.ndarray | None
    text_source: str
    match_labels: np.ndarray | None
    text_mask: np.ndarray | None
    tokens: list[list[str]] | None
    truth: list[dict[str, Any]] | None

    @property
    def error(self) -> np.ndarray:
        """Prediction minus true score (original scale)."""
        return self.prediction - self.true

    @property
    def n_queries(self) -> int:
        """S, the number of ParseFormer queries."""
        return int(self.attention.shape[2])


def _tokens_of(result: Any, names: Sequence[str], kwargs: Mapping[str, Any]) -> list[list[str]] | None:
    """The words behind the model's text tokens: MTL-AQA commentary tokens or the sport's action vocabulary."""
    source = kwargs.get("text_source", "commentary")
    if source == "vocabulary":
        from .data.text import action_vocabulary

        vocabulary = action_vocabulary(str(kwargs["sport"]))
        return [list(vocabulary) for _ in names]
    if source == "commentary" and result.config.dataset == "mtl_aqa":
        from .data.formats import packaged_mtlaqa
        from .data.mtlaqa import commentary_tokens

        return commentary_tokens(packaged_mtlaqa(), names)
    return None


def vatp_records(result: Any) -> VATPRecords:
    """The :class:`VATPRecords` of a run made with :func:`parsing_config` of a model with the ParseFormer."""
    records = result.records("test")
    if "parse_labels" not in records:
        raise ValueError(f"Run {result.config.model!r} recorded no parse of its test videos: build it with "
                         "aqa_lib.vatp_analysis.parsing_config (final_keys=FINAL_KEYS) and a VATP-Net variant with "
                         "the ParseFormer (use_pd=True).")
    data = load_data(result.config)
    norm = float(data.norm)
    names = list(result.meta["test_names"])
    kwargs = model_config(result.config.model, **result.config.model_kwargs)
    match = records.get("match_labels")
    mask = records.get("text_mask")
    tokens = _tokens_of(result, names, kwargs) if match is not None else None
    if tokens is not None:
        counts = np.asarray(mask).sum(axis=1)
        bad = [i for i, (t, c) in enumerate(zip(tokens, counts, strict=True)) if len(t) != int(c)]
        if bad:
            raise ValueError(f"Test video {names[bad[0]]!r} has {len(tokens[bad[0]])} words but the model read "
                             f"{int(counts[bad[0]])} text tokens; the recorded run and the text do not match.")
    sigma = records.get("sigma")
    return VATPRecords(
        variant=result.config.model, dataset=result.config.dataset, names=names,
        true=np.asarray(result.arrays["test_true"], dtype=np.float64),
        prediction=np.asarray(result.arrays["test_pred_last"], dtype=np.float64), norm=norm,
        lengths=np.asarray(records["lengths"]).astype(int),
        parse_labels=np.asarray(records["parse_labels"]).astype(int),
        attention=np.asarray(records["attention/-1"], dtype=np.float64),
        mu=np.asarray(records["mu"], dtype=np.float64) * norm,
        sigma=None if sigma is None else np.asarray(sigma, dtype=np.float64) * norm,
        text_source=str(kwargs.get("text_source", "commentary")),
        match_labels=None if match is None else np.asarray(match).astype(int),
        text_mask=None if mask is None else np.asarray(mask).astype(bool),
        tokens=tokens, truth=data.test.truth,
    )


# ---------------------------------------------------------------------------------------------------------
# Scores: Fig. 6 (scatter, fitted line), Fig. 7 (cumulative score curve), Fig. 8 (failure case), σ
# ---------------------------------------------------------------------------------------------------------


def fitted_line(true: np.ndarray, prediction: np.ndarray) -> tuple[float, float]:
    """``(slope, intercept)`` of the least-squares line of the prediction on the true score (Fig. 6's blue
    line; slope 1 and intercept 0 is the perfect-prediction diagonal, a slope below 1 regression to the mean)."""
    t = np.asarray(true, dtype=np.float64)
    p = np.asarray(prediction, dtype=np.float64)
    if t.shape != p.shape or t.size < 2:
        raise ValueError(f"fitted_line needs two equal-length arrays of at least 2 scores, got {t.shape} and "
                         f"{p.shape}.")
    if np.ptp(t) == 0:
        raise ValueError("fitted_line: every true score is the same; no line can be fitted.")
    slope, intercept = np.polyfit(t, p, 1)
    return float(slope), float(intercept)


def cumulative_score(errors: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """Fig. 7: ``CS(α) = N_{|e| ≤ α} / N`` for each threshold α (a share in [0, 1]; the paper prints %)."""
    e = np.abs(np.asarray(errors, dtype=np.float64)).ravel()
    if e.size == 0:
        raise ValueError("cumulative_score needs at least one error.")
    a = np.asarray(thresholds, dtype=np.float64)
    return (e[None, :] <= a.reshape(-1, 1)).mean(axis=1).reshape(a.shape)


def cumulative_score_area(errors: np.ndarray, max_threshold: float) -> float:
    """The area under :func:`cumulative_score` over ``[0, max_threshold]`` divided by ``max_threshold`` (1 =
    every error 0; "a larger curve area indicates higher performance"). Exactly ``mean(max(0, 1 − |e| / α_max))``."""
    if not max_threshold > 0:
        raise ValueError(f"max_threshold must be positive, got {max_threshold!r}.")
    e = np.abs(np.asarray(errors, dtype=np.float64))
    return float(np.clip(1.0 - e / max_threshold, 0.0, None).mean())


def score_table(true: np.ndarray, predictions: Mapping[str, np.ndarray], *, max_threshold: float,
                within: float) -> pd.DataFrame:
    """Per method: Spearman ρ, MSE, mean |error|, the fitted slope (Fig. 6), the share within ``within`` points
    and the normalised cumulative-score area up to ``max_threshold`` (Fig. 7), and the largest |error|."""
    t = np.asarray(true, dtype=np.float64)
    rows = []
    for name, pred in predictions.items():
        p = np.asarray(pred, dtype=np.float64)
        err = p - t
        rows.append({"method": name, "ρ": float(spearmanr(t, p).statistic), "MSE": float((err ** 2).mean()),
                     "mean |error|": float(np.abs(err).mean()), "fitted slope": fitted_line(t, p)[0],
                     f"share |error| ≤ {within:g}": float(cumulative_score(err, np.array([within]))[0]),
                     f"CS area (0–{max_threshold:g})": cumulative_score_area(err, max_threshold),
                     "largest |error|": float(np.abs(err).max())})
    return pd.DataFrame(rows).set_index("method")


def official_test_index(name: str) -> int | None:
    """Position of an MTL-AQA sample in the official test split (split 0, 353 dives, the split file's order:
    the paper's "#340"), or None when the sample is not a test dive."""
    from .data.formats import packaged_mtlaqa

    labels = packaged_mtlaqa().labels
    test = labels.loc[labels["split"] == "test", "name"].tolist()
    return test.index(name) if name in test else None


def failure_case(errors: np.ndarray) -> int:
    """Test position of the video with the largest absolute error (Fig. 8; the first one on ties)."""
    e = np.abs(np.asarray(errors, dtype=np.float64))
    if e.size == 0:
        raise ValueError("failure_case needs at least one error.")
    return int(np.argmax(e))


def sigma_error_summary(sigma: np.ndarray, errors: np.ndarray) -> dict[str, float]:
    """Does σ track the error? Spearman and Pearson correlation of σ with |error|, their means, and the share
    of videos whose |error| lies within σ (a calibrated Gaussian gives 0.68) and within 2σ (0.95)."""
    s = np.asarray(sigma, dtype=np.float64)
    e = np.abs(np.asarray(errors, dtype=np.float64))
    if s.shape != e.shape or s.size < 3:
        raise ValueError(f"sigma and errors must be equal-length arrays of at least 3, got {s.shape}, {e.shape}.")
    constant = np.ptp(s) == 0 or np.ptp(e) == 0
    return {"ρ(σ, |error|)": np.nan if constant else float(spearmanr(s, e).statistic),
            "Pearson r(σ, |error|)": np.nan if constant else float(pearsonr(s, e).statistic),
            "mean σ": float(s.mean()), "mean |error|": float(e.mean()),
            "share |error| ≤ σ": float((e <= s).mean()), "share |error| ≤ 2σ": float((e <= 2 * s).mean())}


# ---------------------------------------------------------------------------------------------------------
# Parsing against the ground truth (synthetic data)
# ---------------------------------------------------------------------------------------------------------


def _real(labels: np.ndarray, length: int | None) -> np.ndarray:
    x = np.asarray(labels).astype(int).ravel()
    return x[: (len(x) if length is None else int(length))]


def label_runs(labels: np.ndarray, length: int | None = None) -> list[tuple[int, int, int]]:
    """Maximal runs of equal labels in the first ``length`` entries: ``(label, start, end)``, end exclusive
    (a −1 run, e.g. padding inside ``length``, is kept as any other label)."""
    x = _real(labels, length)
    runs: list[tuple[int, int, int]] = []
    start = 0
    for i in range(1, len(x) + 1):
        if i == len(x) or x[i] != x[start]:
            runs.append((int(x[start]), start, i))
            start = i
    return runs


def parse_boundaries(labels: np.ndarray, length: int | None = None) -> np.ndarray:
    """Positions ``c`` (1 … length − 1) where the label changes between segment ``c − 1`` and ``c``."""
    x = _real(labels, length)
    return (np.flatnonzero(x[1:] != x[:-1]) + 1).astype(np.float64)


def true_segments(truth: Mapping[str, Any], length: int) -> list[tuple[int, float, float]]:
    """The ground truth's elements clipped to ``[0, length]`` with consecutive touching elements of one type
    merged (two somersault units are one "somersault" stretch): ``(type, start, end)`` in segments."""
    start = np.asarray(truth["element_start"], dtype=np.float64)
    end = start + np.asarray(truth["element_duration"], dtype=np.float64)
    types = np.asarray(truth["element_type"]).astype(int)
    out: list[tuple[int, float, float]] = []
    for k, a, b in sorted(zip(types, np.clip(start, 0, length), np.clip(end, 0, length), strict=True),
                          key=lambda r: r[1]):
        if b <= a:
            continue
        if out and out[-1][0] == k and abs(out[-1][2] - a) < 1e-6:
            out[-1] = (int(k), out[-1][1], float(b))
        else:
            out.append((int(k), float(a), float(b)))
    return out


def true_boundaries(truth: Mapping[str, Any], length: int) -> np.ndarray:
    """Interior edges (``0 < b < length``) of :func:`true_segments`: where the sub-action type changes, and where
    an element meets a stretch without one (the diver on the board before a short dive)."""
    edges = {round(e, 9) for _, a, b in true_segments(truth, length) for e in (a, b)}
    return np.array(sorted(e for e in edges if 0 < e < length), dtype=np.float64)


def boundary_distances(predicted: np.ndarray, true: np.ndarray) -> tuple[float, float]:
    """``(true → predicted, predicted → true)``: the mean over true boundaries of the distance to the nearest
    predicted one (small when every true boundary is found; more predicted boundaries can only lower it), and
    the mean over predicted boundaries of the distance to the nearest true one (small when no predicted boundary
    is spurious). NaN for both when either set is empty."""
    p = np.asarray(predicted, dtype=np.float64).ravel()
    t = np.asarray(true, dtype=np.float64).ravel()
    if p.size == 0 or t.size == 0:
        return float("nan"), float("nan")
    d = np.abs(p[:, None] - t[None, :])
    return float(d.min(axis=0).mean()), float(d.min(axis=1).mean())


def boundary_error(predicted: np.ndarray, true: np.ndarray) -> float:
    """Symmetric mean distance between two boundary sets (segments): the mean of the two directions of
    :func:`boundary_distances`. NaN when either set is empty (a parse into one segment has no boundary to
    compare). Over-segmenting lowers the first direction and raises the second, but where true boundaries are
    dense (figure skating) many predicted boundaries all lie near one: compare with a reference that has as many
    segments (:func:`evaluate_parsing`)."""
    return float(np.mean(boundary_distances(predicted, true)))


def uniform_labels(length: int, n_queries: int) -> np.ndarray:
    """The uniform-split reference: segment ``c`` of ``length`` goes to query ``⌊c · S / length⌋`` (S equal
    stretches in query order; with fewer segments than queries, the later queries go unused)."""
    if length < 1 or n_queries < 1:
        raise ValueError(f"uniform_labels needs length >= 1 and n_queries >= 1, got {length}, {n_queries}.")
    return (np.arange(length) * n_queries // length).astype(int)


def segment_types(truth: Mapping[str, Any], length: int) -> np.ndarray:
    """Sub-action type of each segment at its midpoint ``c + 0.5`` (−1 where no element is)."""
    index = element_at(truth, np.arange(length) + 0.5)
    types = np.asarray(truth["element_type"]).astype(int)
    return np.where(index >= 0, types[np.clip(index, 0, None)], -1)


def query_type_overlap(parses: Sequence[np.ndarray], types: Sequence[np.ndarray], n_queries: int,
                       n_types: int) -> np.ndarray:
    """``[S, n_types]`` counts of segments parsed by query q whose true type is k, pooled over videos
    (segments with a −1 on either side are left out)."""
    counts = np.zeros((n_queries, n_types), dtype=np.int64)
    for p, t in zip(parses, types, strict=True):
        p, t = np.asarray(p).astype(int), np.asarray(t).astype(int)
        ok = (p >= 0) & (t >= 0)
        np.add.at(counts, (p[ok], t[ok]), 1)
    return counts


def hungarian_mapping(overlap: np.ndarray) -> np.ndarray:
    """Query → type (``[S]``, −1 for a query left without one) maximising the matched overlap, one type per
    query and one query per type (Hungarian algorithm on :func:`query_type_overlap`)."""
    m = np.asarray(overlap, dtype=np.float64)
    rows, cols = linear_sum_assignment(-m)
    mapping = np.full(m.shape[0], -1, dtype=int)
    mapping[rows] = cols
    return mapping


def frame_accuracy(parses: Sequence[np.ndarray], types: Sequence[np.ndarray], mapping: np.ndarray) -> float:
    """Share of segments inside a sub-action (true type ≥ 0) whose query maps to their true type."""
    hits = total = 0
    mapping = np.asarray(mapping).astype(int)
    for p, t in zip(parses, types, strict=True):
        p, t = np.asarray(p).astype(int), np.asarray(t).astype(int)
        ok = t >= 0
        total += int(ok.sum())
        hits += int(((p >= 0) & ok & (mapping[np.clip(p, 0, None)] == t)).sum())
    if total == 0:
        raise ValueError("frame_accuracy: no segment lies inside a sub-action.")
    return hits / total


def type_names(truths: Sequence[Mapping[str, Any]]) -> list[str]:
    """Name of each sub-action type code ``0 … K − 1`` seen in the ground truth (``element_name``; ``type k``
    for a code that no video names), so that ``names[k]`` is type k's name."""
    names: dict[int, str] = {}
    for truth in truths:
        for k, name in zip(np.asarray(truth["element_type"]).astype(int).tolist(),
                           truth.get("element_name", []), strict=False):
            names.setdefault(k, str(name))
    if not names:
        raise ValueError("type_names: the ground truth holds no element.")
    return [names.get(k, f"type {k}") for k in range(max(names) + 1)]


def attention_sharpness(attention: np.ndarray, length: int) -> float:
    """``1 − H / log T`` averaged over the queries of one video's attention ``[T, S]`` (first ``length``
    segments): 0 = every query attends uniformly over time, 1 = each attends to one segment."""
    a = np.asarray(attention, dtype=np.float64)[:length]
    if length < 2:
        return float("nan")
    p = a / np.clip(a.sum(axis=0, keepdims=True), 1e-12, None)
    entropy = -(p * np.log(np.clip(p, 1e-12, None))).sum(axis=0)
    return float((1.0 - entropy / np.log(length)).mean())


@dataclass
class ParsingEvaluation:
    """:func:`evaluate_parsing`'s result: per-video rows, the summary table, the query × type overlap and the
    dataset-level query → type mapping of the model's parse."""

    per_video: pd.DataFrame
    summary: pd.DataFrame
    overlap: np.ndarray
    mapping: np.ndarray


def evaluate_parsing(parse_labels: np.ndarray, lengths: np.ndarray, truths: Sequence[Mapping[str, Any]], *,
                     n_queries: int, n_types: int, attention: np.ndarray | None = None,
                     unit: str = "segments") -> ParsingEvaluation:
    """The model's parse (``[N, T]`` query per segment) against the ground truth and the uniform split.

    Per video (``per_video``; columns ``"<candidate>: <measure>"`` for each of the three candidates): the number
    of distinct queries used and of true boundaries, then segments, :func:`boundary_distances` and
    :func:`boundary_error` of the parse, of the uniform split into S stretches and of the uniform split into as
    many stretches as the parse has segments (the same number of boundaries, evenly spaced: what the parse's
    boundary count alone earns). Summary rows ``"VATP-Net parse"``, ``"uniform split"`` and ``"uniform split,
    parse's segment count"``: the means over the videos where every boundary error is defined (and how many),
    frame accuracy after one Hungarian matching over all test videos (a query means one type in every video)
    and after a matching per video (the most favourable reading; neither for the count-matched split, whose
    stretches are not queries), segments per video, and the mean :func:`attention_sharpness` when ``attention``
    ``[N, T, S]`` is given. ``unit`` names the time unit in the
    boundary-error column (``"clips"`` on MTL-AQA).
    """
    labels = np.asarray(parse_labels).astype(int)
    lengths = np.asarray(lengths).astype(int)
    if labels.shape[0] != len(truths) or lengths.shape[0] != len(truths):
        raise ValueError(f"parse_labels {labels.shape}, lengths {lengths.shape} and {len(truths)} truths disagree.")
    parses = [labels[i, :n] for i, n in enumerate(lengths)]
    references = {"uniform split": [uniform_labels(int(n), n_queries) for n in lengths],
                  "uniform split, parse's segment count": [uniform_labels(int(n), len(label_runs(p)))
                                                           for p, n in zip(parses, lengths, strict=True)]}
    candidates = {"VATP-Net parse": parses, **references}
    types = [segment_types(t, int(n)) for t, n in zip(truths, lengths, strict=True)]
    rows = []
    for i, n in enumerate(lengths):
        truth_b = true_boundaries(truths[i], int(n))
        row: dict[str, Any] = {"video": i, "true boundaries": len(truth_b),
                               "queries used": len(set(parses[i].tolist()) - {-1}),
                               "typed segments": int((types[i] >= 0).sum())}
        for name, labels_of in candidates.items():
            to_pred, to_true = boundary_distances(parse_boundaries(labels_of[i]), truth_b)
            row.update({f"{name}: segments": len(label_runs(labels_of[i])), f"{name}: true → nearest": to_pred,
                        f"{name}: nearest true ←": to_true, f"{name}: boundary error": 0.5 * (to_pred + to_true)})
        rows.append(row)
    per_video = pd.DataFrame(rows)
    both = per_video[[f"{name}: boundary error" for name in candidates]].notna().all(axis=1)

    def mean_over_compared(name: str, column: str) -> float:
        return float(per_video.loc[both, f"{name}: {column}"].mean()) if both.any() else np.nan

    summary_rows = {}
    for name, labels_of in candidates.items():
        queries = name != "uniform split, parse's segment count"  # its stretches are not S queries
        per = [frame_accuracy([p], [t], hungarian_mapping(query_type_overlap([p], [t], n_queries, n_types)))
               for p, t in zip(labels_of, types, strict=True) if queries and (t >= 0).any()]
        summary_rows[name] = {
            f"boundary error ({unit})": mean_over_compared(name, "boundary error"),
            "true → nearest parsed": mean_over_compared(name, "true → nearest"),
            "parsed → nearest true": mean_over_compared(name, "nearest true ←"),
            "videos compared": int(both.sum()),
            "frame accuracy (one matching)": (frame_accuracy(labels_of, types, hungarian_mapping(
                query_type_overlap(labels_of, types, n_queries, n_types))) if queries else np.nan),
            "frame accuracy (per-video matching)": float(np.mean(per)) if per else np.nan,
            "segments per video": float(per_video[f"{name}: segments"].mean()),
            "attention sharpness": np.nan,
        }
    if attention is not None:
        a = np.asarray(attention, dtype=np.float64)
        summary_rows["VATP-Net parse"]["attention sharpness"] = float(np.nanmean(
            [attention_sharpness(a[i], int(n)) for i, n in enumerate(lengths)]))
    overlap = query_type_overlap(parses, types, n_queries, n_types)
    return ParsingEvaluation(per_video, pd.DataFrame(summary_rows).T, overlap, hungarian_mapping(overlap))


# ---------------------------------------------------------------------------------------------------------
# Drop-DTW matches: which words go to which query
# ---------------------------------------------------------------------------------------------------------


def matched_runs(match_labels: np.ndarray, n_tokens: int) -> dict[int, list[tuple[int, int]]]:
    """Query → its runs of matched token positions ``(start, end)`` (end exclusive) among the first
    ``n_tokens`` (dropped tokens, label −1, are left out). Drop-DTW's contiguous alignment gives each query
    one run; a short text repeated before the matching (``repeat_short_texts``) can give a query a token twice,
    which the model's M_vt folds into one."""
    out: dict[int, list[tuple[int, int]]] = {}
    for label, start, end in label_runs(match_labels, n_tokens):
        if label >= 0:
            out.setdefault(label, []).append((start, end))
    return out


def _clip_text(words: Sequence[str], max_words: int) -> str:
    words = list(words)
    return " ".join(words) if len(words) <= max_words else " ".join(words[:max_words]) + " …"


def match_table(records: VATPRecords, videos: Sequence[int], *, mapping: np.ndarray | None = None,
                type_names: Sequence[str] | None = None, max_words: int = 12, max_runs: int = 6) -> pd.DataFrame:
    """One row per (video, query): the segments the query parses (its first ``max_runs`` runs, first–last
    segment), the true type the dataset-level matching gives it (when ``mapping`` and ``type_names`` are
    given), and the words Drop-DTW matched to it (up to ``max_words``), with how many of the video's words it
    took."""
    if records.match_labels is None or records.tokens is None:
        raise ValueError("match_table needs a run with text (text_source 'commentary' or 'vocabulary').")
    rows = []
    for i in videos:
        n_tokens = int(records.text_mask[i].sum())
        runs = matched_runs(records.match_labels[i], n_tokens)
        words = records.tokens[i]
        segs = label_runs(records.parse_labels[i], int(records.lengths[i]))
        for q in range(records.n_queries):
            mine = [(a, b) for label, a, b in segs if label == q]
            taken = [w for a, b in runs.get(q, []) for w in words[a:b]]
            shown = ", ".join(f"{a}–{b - 1}" if b - a > 1 else f"{a}" for a, b in mine[:max_runs])
            if len(mine) > max_runs:
                shown += f", … ({len(mine)} runs)"
            row: dict[str, Any] = {"video": records.names[i], "query": f"Q{q + 1}", "parsed segments": shown or "—"}
            if mapping is not None and type_names is not None:
                row["matched type"] = type_names[mapping[q]] if mapping[q] >= 0 else "—"
            row.update({"words matched": len(taken), "of": n_tokens,
                        "matched words": _clip_text(taken, max_words) or "— (none)"})
            rows.append(row)
    return pd.DataFrame(rows).set_index(["video", "query"])


def word_alignment_table(tokens: Sequence[Sequence[str]], match_labels: np.ndarray,
                         groups: Mapping[str, Sequence[str]], *, target_query: Mapping[str, int] | None = None,
                         n_queries: int) -> pd.DataFrame:
    """Do the words that name a sub-action survive Drop-DTW, and do they go to the query that parses it?

    Per word group (e.g. :data:`SUBACTION_WORDS`): its occurrences in the texts, the share matched (not
    dropped) against the share of *all* tokens matched (the reference), and with ``target_query`` (group →
    query that parses that type; −1 none) the share of its matched occurrences that go to that query against
    the share of all matched tokens that go there (what a group matched at random would get).
    """
    labels_all: list[int] = []
    by_group: dict[str, list[int]] = {g: [] for g in groups}
    lookup = {w.lower(): g for g, ws in groups.items() for w in ws}
    for i, words in enumerate(tokens):
        row = np.asarray(match_labels[i]).astype(int)[: len(words)]
        labels_all.extend(row.tolist())
        for w, label in zip(words, row, strict=True):
            g = lookup.get(str(w).lower())
            if g is not None:
                by_group[g].append(int(label))
    every = np.asarray(labels_all)
    if every.size == 0:
        raise ValueError("word_alignment_table got no tokens.")
    matched_all = every[every >= 0]
    rows = []
    for g, labels in by_group.items():
        lab = np.asarray(labels, dtype=int)
        kept = lab[lab >= 0]
        row: dict[str, Any] = {"words": g, "occurrences": int(lab.size),
                               "share matched": float((lab >= 0).mean()) if lab.size else np.nan,
                               "share matched, all tokens": float((every >= 0).mean())}
        if target_query is not None:
            q = int(target_query.get(g, -1))
            row["its type's query"] = f"Q{q + 1}" if 0 <= q < n_queries else "—"
            row["share to that query"] = float((kept == q).mean()) if kept.size and q >= 0 else np.nan
            row["all matched tokens to that query"] = (float((matched_all == q).mean())
                                                       if matched_all.size and q >= 0 else np.nan)
        rows.append(row)
    return pd.DataFrame(rows).set_index("words")


# ---------------------------------------------------------------------------------------------------------
# Drawing one parsed video (the parsing figure and Fig. 8 share it)
# ---------------------------------------------------------------------------------------------------------

QUERY_COLOURS = ("#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d", "#666666")
"""One colour per query (Q1 …), colour-blind-safe (Dark2)."""
TYPE_COLOURS = ("#a6cee3", "#b2df8a", "#fdbf6f", "#cab2d6", "#fb9a99", "#ffff99", "#8dd3c7", "#d9d9d9")


def type_legend_handles(type_names: Sequence[str]) -> list[Any]:
    """Colour patches naming each sub-action type as :func:`draw_parse` colours the truth strip (for a figure
    legend: narrow runs carry no label)."""
    from matplotlib.patches import Patch

    return [Patch(facecolor=TYPE_COLOURS[k % len(TYPE_COLOURS)], edgecolor="0.3", lw=0.6, label=name)
            for k, name in enumerate(type_names)]


def draw_parse(ax: Any, records: VATPRecords, i: int, *, type_names: Sequence[str] | None = None,
               unit: str = "clip") -> Any:
    """One test video on ``ax``: the last-layer attention of each query as a heat map (rows Q1 … QS, grey scale
    from 0 to the video's largest weight), the model's parse (the query of largest attention per segment) as a
    coloured strip, and on synthetic data the true sub-actions as a strip below, named when ``type_names`` are
    given; a run too narrow for its label (long routines) is drawn without one. The x axis is time in
    ``unit``s. Returns the heat map's image (for a colour bar)."""
    from matplotlib.patches import Rectangle

    length = int(records.lengths[i])
    s = records.n_queries
    att = records.attention[i, :length].T  # [S, T]
    inches = ax.get_position().width * ax.figure.get_figwidth()  # the axes' width, before any layout pass

    def fits(width: float, text: str, size: float) -> bool:  # a label fits a run (about 0.5 em per character)
        return width / length * inches >= 0.5 * size / 72 * len(text)
    image = ax.imshow(att, aspect="auto", cmap="Greys", interpolation="nearest", extent=(0, length, s - 0.5, -0.5),
              vmin=0, vmax=max(float(att.max()), 1e-9))
    for label, a, b in label_runs(records.parse_labels[i], length):
        if label >= 0:
            ax.add_patch(Rectangle((a, s - 0.5), b - a, 0.8, color=QUERY_COLOURS[label % len(QUERY_COLOURS)],
                                   lw=0))
            if fits(b - a, f"Q{label + 1}", 7):
                ax.text((a + b) / 2, s - 0.1, f"Q{label + 1}", ha="center", va="center", fontsize=7,
                        color="white", fontweight="bold")
    ticks = list(range(s)) + [s - 0.1]
    labels = [f"Q{q + 1}" for q in range(s)] + ["parse"]
    bottom = s + 0.3
    if records.truth is not None:
        for k, a, b in true_segments(records.truth[i], length):
            ax.add_patch(Rectangle((a, s + 0.4), b - a, 0.8, facecolor=TYPE_COLOURS[k % len(TYPE_COLOURS)],
                                   edgecolor="0.3", lw=0.6))
            name = type_names[k] if type_names is not None and k < len(type_names) else f"type {k}"
            if fits(b - a, name, 6.5):
                ax.text((a + b) / 2, s + 0.8, name, ha="center", va="center", fontsize=6.5, clip_on=True)
        ticks.append(s + 0.8)
        labels.append("truth")
        bottom = s + 1.2
    ax.set_ylim(bottom, -0.5)
    ax.set_xlim(0, length)
    ax.set_yticks(ticks, labels, fontsize=7)
    ax.set_xlabel(f"time ({unit}s)", fontsize=8)
    return image
