"""Attention centres (LMAC-Net Eq. 14; TPT): computed from attention maps, and read as times on the segment axis.

The attention centre of query k is the attention-weighted mean position ``c_k = Σ_{t=1..T} t · a_{t,k}``
(:func:`attention_center`). The losses of :mod:`aqa_lib.losses` are written on centres, the models put them
in their outputs, and the analyses of recorded runs (:mod:`aqa_lib.analysis`,
:func:`aqa_lib.experiments.alignment_to_truth`) turn recorded centres into times (:func:`centre_segments`)
and score them against the ground-truth element times that synthetic data keeps. This module depends on
nothing else in the library, so the losses, the models and the analyses all import it without depending on
each other.

Precision (ours): :func:`attention_center` always computes in float32 with autocast disabled. Under bf16
autocast the weighted sum over T ≈ 136 segments would run in bfloat16, whose 8-bit mantissa puts a centre
near segment 100 on a grid of 0.5 segments; the rounding of the weights adds more (up to a third of a
segment in our tests), which is of the order of the ranking margin and of the element durations the
centres are scored against.

Units: with ``normalise=True`` centres are divided by each video's real length (``c = Σ_t t·a_t / T`` with
t = 1..T, in (0, 1]). :func:`centre_segments` turns them back into time on the segment axis (segment t
covers [t − 1, t), so a 1-based centre c sits at time c − 0.5). Synthetic ground truth
(:mod:`aqa_lib.data.synthetic`) gives element starts and durations in segments.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor


def attention_center(attn: Tensor, *, normalise: bool = False, lengths: Tensor | None = None) -> Tensor:
    """Attention centre of each query (LMAC-Net Eq. 14; TPT): ``c_k = Σ_{t=1..T} t · a_{t,k}``.

    Args:
        attn: ``[B, T, K]`` attention over time (each column sums to 1 over valid segments).
        normalise: divide by the sequence length so centres lie in (0, 1] (a switch: the paper does not say
            whether centres are raw indices; raw squared index differences are large for T ≈ 70–136).
        lengths: ``[B]`` valid lengths used when ``normalise`` (default T).

    Returns ``[B, K]`` centres on the 1-based segment index scale (or divided by length), in float32 (float64
    for float64 input), computed with autocast disabled whatever the caller's autocast (module docstring:
    bf16 is too coarse here).
    """
    if attn.ndim != 3:
        raise ValueError(f"attention_center needs attention [B, T, K], got shape {tuple(attn.shape)}.")
    dtype = torch.promote_types(attn.dtype, torch.float32)  # bf16 / fp16 → float32; float64 stays
    with torch.autocast(device_type=attn.device.type, enabled=False):
        a = attn.to(dtype)
        t = torch.arange(1, a.shape[1] + 1, device=a.device, dtype=dtype)
        centres = torch.einsum("btk,t->bk", a, t)
        if normalise:
            denom = lengths.to(dtype) if lengths is not None else a.new_full((a.shape[0],), a.shape[1])
            centres = centres / denom[:, None]
    return centres


def centre_segments(centres: np.ndarray, lengths: np.ndarray, *, normalised: bool = True) -> np.ndarray:
    """Centres ``[..., N, K]`` (normalised by length, or 1-based indices) → times in segments, same shape.

    ``lengths`` has the centres' leading shape without K (``[N]``, or ``[epochs, N]`` for per-epoch records).
    """
    c = np.asarray(centres, dtype=np.float64)
    if normalised:
        c = c * np.asarray(lengths, dtype=np.float64)[..., None]
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
