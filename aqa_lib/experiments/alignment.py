"""Attention centres against the synthetic ground truth: where did the queries settle, and is that on the
elements of the routine? (Only synthetic data keeps the element times.)"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..centres import centre_segments, element_hit_rate, nearest_element_distance, uniform_times
from ..data.registry import SEGMENT_SECONDS
from ..models.base import get_variant
from ..train import RunResult, load_data


def alignment_to_truth(results: Sequence[RunResult], *, label: dict[str, str] | None = None) -> pd.DataFrame:
    """Final-layer attention centres of every test video vs the synthetic ground-truth element times.

    Needs runs with ``final_keys=("centres",)`` on synthetic data. One row per variant and modality: mean
    distance (seconds) from each centre to the nearest element midpoint, share of centres inside an element,
    and the same two numbers for evenly spread centres (the untrained reference); averaged over targets and
    seeds.
    """
    labels = label or {}
    rows = []
    for r in results:
        truths = load_data(r.config).test.truth
        if truths is None:
            raise ValueError("alignment_to_truth needs synthetic data (real data has no element ground truth).")
        lengths = r.arrays.get("test/lengths")
        centres = r.records("test/centres")
        if lengths is None or not centres:
            continue  # no attention (e.g. the pooled baseline) or not recorded
        layers: dict[str, int] = {}
        for key in centres:  # "<modality>/<layer position>"
            m, pos = key.split("/")
            layers[m] = max(layers.get(m, -1), int(pos))
        normalised = bool(r.config.model_kwargs.get("normalise_centres", True))
        for m, pos in layers.items():
            times = centre_segments(centres[f"{m}/{pos}"], lengths, normalised=normalised)
            uniform = uniform_times(lengths, times.shape[1])
            rows.append({
                "variant": labels.get(r.config.model, get_variant(r.config.model).reported_method or r.config.model),
                "modality": m,
                "distance_s": float(np.nanmean(nearest_element_distance(times, truths))) * SEGMENT_SECONDS,
                "inside_element": float(element_hit_rate(times, truths).mean()),
                "uniform_distance_s": float(np.nanmean(nearest_element_distance(uniform, truths))) * SEGMENT_SECONDS,
                "uniform_inside": float(element_hit_rate(uniform, truths).mean()),
            })
    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame
    return frame.groupby(["variant", "modality"], sort=False).mean().reset_index()
