"""Evaluation metrics used by the four papers.

- Spearman's rank correlation ρ between predicted and true scores (all four papers' main metric), with
  average ranks for ties.
- The Fisher-z average of correlations across classes (RG apparatus, Fis-V TES/PCS, FS1000 scores):
  ``tanh(mean_i arctanh(ρ_i))``, as all four papers average per-class ρ.
- MSE on the original score scale: predictions and labels are normalised by a constant (e.g. 25 for RG,
  45 for Fis-V), and the papers multiply both back before computing the squared error (MLAVL supp. §B).
- Relative L2 distance (R-ℓ2, used by LOGO tables): ``mean(((y − ŷ) / (y_max − y_min))²)``, where the range
  is that of the dataset's scores; tables usually print it ×100.
- Cumulative score curve (VATP-Net Fig. 7): the fraction of test samples whose absolute error is at most δ,
  for a range of thresholds δ.

Every function validates its inputs (equal lengths, at least two samples where a correlation is needed,
finite values) and raises ``ValueError`` with the reason instead of returning a silently wrong number.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

ArrayLike = Sequence[float] | np.ndarray


def _pair(pred: ArrayLike, true: ArrayLike, *, name: str, min_len: int = 1) -> tuple[np.ndarray, np.ndarray]:
    p = np.asarray(pred, dtype=np.float64).reshape(-1)
    t = np.asarray(true, dtype=np.float64).reshape(-1)
    if p.shape != t.shape:
        raise ValueError(f"{name}: predictions have {p.size} values but targets have {t.size}.")
    if p.size < min_len:
        raise ValueError(f"{name}: needs at least {min_len} samples, got {p.size}.")
    if not (np.isfinite(p).all() and np.isfinite(t).all()):
        raise ValueError(f"{name}: inputs contain NaN or Inf (predictions of a diverged model?).")
    return p, t


def rankdata(values: ArrayLike) -> np.ndarray:
    """Ranks 1..n with ties given their average rank (as ``scipy.stats.rankdata(method='average')``)."""
    x = np.asarray(values, dtype=np.float64).reshape(-1)
    order = np.argsort(x, kind="mergesort")
    sorted_x = x[order]
    ranks = np.empty(x.size, dtype=np.float64)
    # Boundaries of runs of equal values in sorted order.
    starts = np.flatnonzero(np.r_[True, sorted_x[1:] != sorted_x[:-1]])
    ends = np.r_[starts[1:], x.size]
    for s, e in zip(starts, ends, strict=True):
        ranks[order[s:e]] = (s + 1 + e) / 2.0
    return ranks


def spearman(pred: ArrayLike, true: ArrayLike) -> float:
    """Spearman's ρ: Pearson correlation of the (average) ranks.

    Returns NaN when either input is constant (the correlation is undefined; a model that predicts one
    value for every video has no ranking to evaluate).
    """
    p, t = _pair(pred, true, name="spearman", min_len=2)
    rp, rt = rankdata(p), rankdata(t)
    rp -= rp.mean()
    rt -= rt.mean()
    denom = np.sqrt((rp * rp).sum() * (rt * rt).sum())
    if denom == 0.0:
        return float("nan")
    return float((rp * rt).sum() / denom)


def fisher_z_mean(correlations: Iterable[float], *, clip: float = 1.0 - 1e-7) -> float:
    """Average correlations through Fisher's z-transform: ``tanh(mean(arctanh(r)))``.

    Values of exactly ±1 would map to ±∞, so they are clipped to ``±clip`` first. NaN inputs raise.
    """
    r = np.asarray(list(correlations), dtype=np.float64)
    if r.size == 0:
        raise ValueError("fisher_z_mean: no correlations to average.")
    if not np.isfinite(r).all():
        raise ValueError("fisher_z_mean: a correlation is NaN or Inf.")
    if (np.abs(r) > 1.0 + 1e-12).any():
        raise ValueError(f"fisher_z_mean: correlations must lie in [-1, 1], got {r.tolist()}.")
    z = np.arctanh(np.clip(r, -clip, clip))
    return float(np.tanh(z.mean()))


def mse(pred: ArrayLike, true: ArrayLike, *, norm: float = 1.0) -> float:
    """Mean squared error on the original score scale.

    ``pred`` and ``true`` are in normalised units (scores / ``norm``); both are multiplied by ``norm``
    before squaring, as the papers do.
    """
    if not norm > 0:
        raise ValueError(f"mse: norm must be positive, got {norm}.")
    p, t = _pair(pred, true, name="mse")
    return float(np.mean(((p - t) * norm) ** 2))


def relative_l2(pred: ArrayLike, true: ArrayLike, *, score_min: float, score_max: float) -> float:
    """Relative L2 distance ``mean(((y − ŷ) / (score_max − score_min))²)`` (not ×100).

    ``score_min`` / ``score_max`` are the dataset's score range (in the same units as the inputs).
    """
    if not score_max > score_min:
        raise ValueError(f"relative_l2: score_max ({score_max}) must exceed score_min ({score_min}).")
    p, t = _pair(pred, true, name="relative_l2")
    return float(np.mean(((p - t) / (score_max - score_min)) ** 2))


def cumulative_score(pred: ArrayLike, true: ArrayLike, thresholds: ArrayLike) -> np.ndarray:
    """Cumulative score curve: for each δ in ``thresholds``, the fraction of samples with |ŷ − y| ≤ δ.

    Returns an array of the same length as ``thresholds``; it is non-decreasing in δ for sorted δ.
    """
    p, t = _pair(pred, true, name="cumulative_score")
    d = np.asarray(thresholds, dtype=np.float64).reshape(-1)
    if d.size == 0 or (d < 0).any() or not np.isfinite(d).all():
        raise ValueError("cumulative_score: thresholds must be a non-empty list of non-negative numbers.")
    err = np.abs(p - t)
    return (err[None, :] <= d[:, None]).mean(axis=1)


def evaluate(pred: ArrayLike, true: ArrayLike, *, norm: float = 1.0) -> dict[str, float]:
    """Spearman and original-scale MSE of normalised predictions, as a dict (what the tables report)."""
    return {"spearman": spearman(pred, true), "mse": mse(pred, true, norm=norm)}


EPOCH_METRICS = ("spearman", "mse", "rl2")
"""Metrics the training engine can compute on the test split after every epoch (``RunConfig.metrics``):
``spearman`` (always needed: the protocols select on it), ``mse`` on the original score scale, and ``rl2``,
the relative L2 distance (not ×100) with the score range taken from the target's scores over the train and
test splits (LOGO's and MLAVL's R-ℓ2)."""


def check_metrics(names: Sequence[str]) -> tuple[str, ...]:
    """Validate a list of per-epoch metric names (unknown names listed with the valid ones)."""
    names = tuple(names)
    unknown = [n for n in names if n not in EPOCH_METRICS]
    if unknown:
        raise ValueError(f"Unknown metrics {unknown}; valid: {', '.join(EPOCH_METRICS)}.")
    if "spearman" not in names:
        raise ValueError("metrics must include 'spearman': both protocols select epochs on it.")
    if len(set(names)) != len(names):
        raise ValueError(f"metrics lists a name twice: {list(names)}.")
    return names


def epoch_metrics(names: Sequence[str], pred: ArrayLike, true: ArrayLike, *, norm: float,
                  score_range: tuple[float, float]) -> dict[str, float]:
    """The metrics ``names`` of normalised predictions against normalised labels (see :data:`EPOCH_METRICS`).

    ``score_range`` is (min, max) of the target's scores on the original scale (used by ``rl2``).
    """
    out = {}
    for name in check_metrics(names):
        if name == "spearman":
            out[name] = spearman(pred, true)
        elif name == "mse":
            out[name] = mse(pred, true, norm=norm)
        else:
            p, t = _pair(pred, true, name="rl2")
            out[name] = relative_l2(p * norm, t * norm, score_min=score_range[0], score_max=score_range[1])
    return out
