"""Analyses of recorded attention that the notebooks' figures share (LMAC-Net Figs. 5–10), plus what only
synthetic data allows: scoring attention centres against the ground-truth element times.

Units: attention centres come from the model in the losses' unit. LMAC-Net's default divides them by the
video's real length (``c = Σ_t t·a_t / T`` with t = 1..T); :func:`centre_segments` turns them back into
time on the segment axis (segment t covers [t − 1, t), so a 1-based centre c sits at time c − 0.5).
Synthetic ground truth (:mod:`aqa_lib.data.synthetic`) gives element starts and durations in segments.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import combinations
from typing import Any

import numpy as np


def centre_segments(centres: np.ndarray, lengths: np.ndarray, *, normalised: bool = True) -> np.ndarray:
    """Centres ``[N, K]`` (normalised by length, or 1-based indices) → times in segments ``[N, K]``."""
    c = np.asarray(centres, dtype=np.float64)
    if normalised:
        c = c * np.asarray(lengths, dtype=np.float64)[:, None]
    return c - 0.5


def element_midpoints(truth: Mapping[str, Any]) -> np.ndarray:
    """Midpoints (segments) of a synthetic routine's elements."""
    start = np.asarray(truth["element_start"], dtype=np.float64)
    return start + 0.5 * np.asarray(truth["element_duration"], dtype=np.float64)


def nearest_element_distance(times: np.ndarray, truths: Sequence[Mapping[str, Any]]) -> np.ndarray:
    """For each video and query, the distance (segments) from the centre time to the nearest element
    midpoint: ``[N, K]``. Videos without elements give NaN."""
    times = np.asarray(times, dtype=np.float64)
    out = np.full(times.shape, np.nan)
    for i, truth in enumerate(truths):
        mids = element_midpoints(truth)
        if mids.size:
            out[i] = np.abs(times[i][:, None] - mids[None, :]).min(axis=1)
    return out


def uniform_times(lengths: np.ndarray, n_queries: int) -> np.ndarray:
    """The no-learning reference: K centres evenly spread over each video, at ``(k − 0.5)/K · T``."""
    k = (np.arange(n_queries) + 0.5) / n_queries
    return np.asarray(lengths, dtype=np.float64)[:, None] * k[None, :]


def element_hit_rate(times: np.ndarray, truths: Sequence[Mapping[str, Any]]) -> np.ndarray:
    """Fraction of queries per video whose centre time falls *inside* an element ``[N]``."""
    hits = np.zeros(len(truths))
    times = np.asarray(times, dtype=np.float64)
    for i, truth in enumerate(truths):
        start = np.asarray(truth["element_start"], dtype=np.float64)
        end = start + np.asarray(truth["element_duration"], dtype=np.float64)
        inside = (times[i][:, None] >= start[None, :]) & (times[i][:, None] < end[None, :])
        hits[i] = inside.any(axis=1).mean()
    return hits


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
