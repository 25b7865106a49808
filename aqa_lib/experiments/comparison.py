"""The main comparison tables' runs: several whole methods, each with its own paper's recipe, plus the
pooled-feature SVR (the papers' "C3D+SVR" row)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..models.baselines import pooled_svr
from ..train import RunResult, load_data
from .configs import config_for, variant_modalities

RGB_ONLY = {"lmac": "lmac/table7/rgb", "pamfn": "pamfn/branch/rgb", "mlavl": "mlavl/visual"}
"""A multimodal model's RGB-only variant, trained instead of it on RGB-only data (the real Fis-V release)."""
COMPARISON_BASELINES = ("gdlt", "joint_va", "msaf", "umt")
"""The re-implemented competitors of the papers' main comparison tables (besides the pooled SVR)."""


@dataclass
class Comparison:
    """What :func:`comparison_runs` trained: runs, pooled-SVR fits, and which models ran or were skipped."""

    results: list[RunResult]
    fits: list[dict[str, Any]]
    trained: list[str]
    skipped: list[str]
    substituted: dict[str, str]
    provenance: str


def comparison_runs(models: Sequence[str], *, dataset: str, targets: Sequence[str], seeds: Sequence[int],
                    scale: str, source: str = "synthetic", data_root: str = "", device: str = "cpu",
                    epochs: int | None = None, svr: bool = True, progress: bool = True) -> Comparison:
    """Train (or fetch from the cache) the models of a main comparison table, plus the pooled-feature SVR.

    Each model in ``models`` (registered names, e.g. ``["pamfn", *COMPARISON_BASELINES]``) is trained with
    its own paper's recipe (:func:`~aqa_lib.experiments.config_for`) on every target and seed. A model
    needing modalities the data lacks is replaced by its RGB-only variant (:data:`RGB_ONLY`) when it has one
    and the data has RGB, else skipped. With ``svr`` the C3D+SVR row is fitted on the RGB features (one fit
    per target and seed: the seed shuffles its cross-validation folds). Pass ``Comparison.results`` and
    ``Comparison.fits`` to :func:`~aqa_lib.experiments.compare_table`. A ValueError names the available
    modalities when nothing can run.
    """
    if not models:
        raise ValueError("comparison_runs needs at least one registered model name, e.g. ['pamfn', 'gdlt'].")
    common = dict(scale=scale, source=source, data_root=data_root, device=device, epochs=epochs)
    probe = config_for(models[0], dataset, targets[0], scale=scale, source=source, data_root=data_root)
    available = set(load_data(probe).modalities)
    trained, skipped, substituted = [], [], {}
    for m in models:
        if set(variant_modalities(m, dataset)) <= available:
            trained.append(m)
        elif m in RGB_ONLY and "rgb" in available:
            trained.append(RGB_ONLY[m])
            substituted[m] = RGB_ONLY[m]
        else:
            skipped.append(m)
    if not trained and not (svr and "rgb" in available):
        raise ValueError(f"None of {list(models)} can run on modalities {sorted(available)}.")
    from ..sweep import run_local

    # uncached CPU runs train on local worker processes first; runs of one recipe train together on a GPU
    results = run_local([config_for(n, dataset, t, seed=s, **common) for n in trained for t in targets
                         for s in seeds], progress=progress)
    fits = []
    if svr and "rgb" in available:
        for t in targets:
            data = load_data(config_for(models[0], dataset, t, scale=scale, source=source, data_root=data_root))
            fits += [pooled_svr(data, "rgb", seed=s) for s in seeds]
    provenance = (results[0].meta["provenance"] if results else fits[0]["provenance"])
    return Comparison(results, fits, trained, skipped, substituted, provenance)
