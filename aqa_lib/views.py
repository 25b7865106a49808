"""Views of recorded runs for the figure notebooks (helpers that used to be defined inside notebooks).

- :func:`runs_of`: the runs of one variant (and target) among a notebook's results;
- :func:`decision_frequencies`, :func:`decision_entropy`: how often PAMFN's PolicyNet takes each decision
  (PAMFN Fig. 5);
- :func:`stage_view`: one recorded video at one PAMFN stage: step times, MSFD attention, decisions
  (PAMFN Figs. 7–8);
- :func:`shade_elements`: the synthetic ground truth's element spans behind a time axis.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .data.registry import SEGMENT_SECONDS


def runs_of(results: Iterable[Any], variant: str, target: str | None = None) -> list[Any]:
    """The runs of registered ``variant`` (and of ``target`` when given), in their order."""
    return [r for r in results if r.config.model == variant and (target is None or r.config.target == target)]


def decision_frequencies(runs: Iterable[Any], n_fusion: int) -> dict[int, np.ndarray]:
    """Per stage (0-based): the share of each PolicyNet decision 0..K−1 over the real (unpadded) steps of every
    recorded test video of ``runs`` (pooled over runs). Needs runs with ``final_keys=("decisions",
    "stage_masks")``. Each stage's shares sum to 1 (all zeros when a stage has no real step)."""
    if n_fusion < 1:
        raise ValueError(f"n_fusion must be at least 1, got {n_fusion}.")
    counts: dict[int, np.ndarray] = {}
    for r in runs:
        decisions, masks = r.records("test/decisions"), r.records("test/stage_masks")
        for stage, d in decisions.items():
            if stage not in masks:
                raise ValueError(f"Run {r.config.model} recorded decisions of stage {stage} but no stage mask; "
                                 "train it with final_keys=('decisions', 'stage_masks').")
            real = np.asarray(masks[stage]).astype(bool)
            c = np.bincount(np.asarray(d)[real].astype(int), minlength=n_fusion)[:n_fusion]
            counts[int(stage)] = counts.get(int(stage), 0) + c
    return {s: c / max(c.sum(), 1) for s, c in sorted(counts.items())}


def decision_entropy(freqs: np.ndarray) -> float:
    """Normalised entropy of decision shares: 1 = uniform over the K decisions, 0 = always the same one."""
    freqs = np.asarray(freqs, dtype=float)
    if len(freqs) < 2:
        return 0.0
    nz = freqs[freqs > 0]
    return float(-(nz * np.log(nz)).sum() / np.log(len(freqs)))


@dataclass
class StageView:
    """One recorded video at one PAMFN stage."""

    times: np.ndarray
    """centre of every real step, in segments."""
    edges: np.ndarray
    """step boundaries in seconds (``len(times) + 1``), for :meth:`matplotlib.axes.Axes.stairs`."""
    attention: np.ndarray
    """MSFD attention over the modalities, ``[steps, M]`` (rows sum to 1)."""
    decisions: np.ndarray
    """PolicyNet decision per step (decision k enables ranked FusionNets 1..k+1)."""


def stage_view(records: Mapping[str, np.ndarray], i: int, stage: int, modalities: Sequence[str]) -> StageView:
    """Recorded video ``i`` (position in the recorded videos) at PAMFN ``stage`` (1-based: stage s runs at
    T / 2^s, so each step covers 2^s segments), from ``result.records("final_test")``."""
    s = stage - 1
    key = f"stage_masks/{s}"
    if key not in records:
        raise ValueError(f"No records of stage {stage}; recorded stages: "
                         f"{sorted(k.split('/')[1] for k in records if k.startswith('stage_masks/'))}.")
    step = 2 ** stage
    n = int(np.asarray(records[key][i]).astype(bool).sum())
    attention = np.stack([np.asarray(records[f"msfd_attention/{s}/{m}"][i][:n]) for m in modalities], axis=1)
    decisions = np.asarray(records[f"decisions/{s}"][i][:n]).astype(int)
    times = (np.arange(n) + 0.5) * step
    return StageView(times, np.arange(n + 1) * step * SEGMENT_SECONDS, attention, decisions)


def shade_elements(ax: Any, truth: Mapping[str, Any], *, quality: bool = False, label: str | None = None) -> Any:
    """Shade the true element spans of a synthetic routine on a time axis in seconds: grey, or coloured by
    execution quality (red poor, green good) when ``quality``. Returns the quality colour scale (a
    :class:`matplotlib.colors.Normalize`) for a colour bar. ``label`` names the first span in a legend."""
    import matplotlib.pyplot as plt
    from matplotlib.colors import Normalize

    from .analysis import element_spans

    q = np.asarray(truth["element_quality"], dtype=float)
    top = float(np.nanmax(np.abs(q))) if q.size else 1.0
    norm = Normalize(-top, top)
    cmap = plt.get_cmap("RdYlGn")
    for j, ((start, end), qi) in enumerate(zip(element_spans(truth), q, strict=True)):
        ax.axvspan(start * SEGMENT_SECONDS, end * SEGMENT_SECONDS, color=cmap(norm(qi)) if quality else "0.88",
                   lw=0, zorder=0, label=label if j == 0 else None)
    return norm
