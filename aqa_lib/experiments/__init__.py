"""Run configurations of the papers' experiments at each scale, and the ablation-table driver the notebooks call.

A notebook says *what* (paper, table, dataset, targets, seeds, scale, source) and this module says *how*
(the paper's optimiser settings, model width at each scale, epochs), so notebooks stay a parameters cell,
one call and the tables/plots.

Scales (the same names as the data scales, :mod:`aqa_lib.data.synthetic`):

- ``smoke``: seconds per run on CPU (what CI runs): tiny width (d = 32), 2 epochs. Checks that everything
  runs, says nothing about the methods.
- ``quick``: minutes per notebook on CPU: width d = 64, 25 epochs, on the ``quick`` data subsample.
- ``paper``: the paper's configuration (d = 512, K = 5, 4 layers, 8 heads) and full data; meant for a GPU.

Each paper has a module here with its ``<paper>_config(variant, dataset, target, *, scale, seed, source,
data_root, device, epochs, record_keys, final_keys, **model_overrides) -> RunConfig`` holding the paper's
settings (:mod:`aqa_lib.experiments.lmac`, ...), registered in :data:`CONFIG_BUILDERS`; the drivers below
(:func:`run_table`, :func:`compare_table`, :func:`alignment_to_truth`) work for every paper.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .. import tables
from ..data.registry import get_spec
from ..models.base import get_variant, variants
from ..report import fit_rows, reproduced_rows, side_by_side
from ..train import RunConfig, RunResult, load_data, run

TRAINING_SCALES: dict[str, dict[str, Any]] = {
    "smoke": {"epochs": 2, "batch_size": 16},
    "quick": {"epochs": 25, "batch_size": 32},
    "paper": {"epochs": 200, "batch_size": 32},
}
"""Epochs and batch size per scale; each paper's module adds its model width per scale and may override."""
CONFIG_BUILDERS: dict[str, Callable[..., RunConfig]] = {}
"""paper id -> its run-configuration builder (filled by the per-paper modules imported at the end)."""


def targets_for(dataset: str, target: str) -> list[str]:
    """``"all"`` (or empty) → every target of the dataset; else the one target, validated."""
    spec = get_spec(dataset)
    if target in ("", "all", None):
        return list(spec.targets)
    return [spec.check_target(target)]


def describe_variants(rows: dict[str, str]) -> pd.DataFrame:
    """The rows a notebook trains: registered name → the paper's row label and what the variant is."""
    return pd.DataFrame({"paper row": list(rows.values()),
                         "what it is": [get_variant(n).description for n in rows]}, index=list(rows))


def config_builder(paper: str) -> Callable[..., RunConfig]:
    """The run-configuration builder of ``paper`` (ValueError listing the known papers)."""
    if paper not in CONFIG_BUILDERS:
        raise ValueError(f"No experiment settings for paper {paper!r}; known: {', '.join(CONFIG_BUILDERS)}.")
    return CONFIG_BUILDERS[paper]


def table_variants(paper: str, table: str) -> dict[str, str]:
    """Registered variant name → the paper's row label (``reported_method``) for one ablation table."""
    found = {name: v.reported_method for name, v in variants(f"{paper}/{table}/").items()}
    if not found:
        raise ValueError(f"No registered variants for {paper} {table}.")
    return found


def variant_modalities(name: str, dataset: str) -> tuple[str, ...]:
    """The modalities a registered variant reads (its ``modalities`` override, else all of the dataset's)."""
    return tuple(get_variant(name).overrides.get("modalities") or get_spec(dataset).modalities)


RGB_ONLY = {"lmac": "lmac/table7/rgb", "pamfn": "pamfn/branch/rgb"}
"""A multimodal model's RGB-only variant, trained instead of it on RGB-only data (the real Fis-V release)."""
COMPARISON_BASELINES = ("gdlt", "joint_va", "msaf", "umt")
"""The re-implemented competitors of the papers' main comparison tables (besides the pooled SVR)."""


def builder_for(variant: str) -> Callable[..., RunConfig]:
    """The run-configuration builder that trains ``variant`` (``lmac/...`` → LMAC's, ``gdlt`` → baselines')."""
    head = variant.split("/")[0]
    if head in CONFIG_BUILDERS and head != "baselines":
        return CONFIG_BUILDERS[head]
    from ..models.baselines import BASELINE_VARIANTS

    if variant in BASELINE_VARIANTS:
        return CONFIG_BUILDERS["baselines"]
    get_variant(variant)  # unknown names get the registry's error listing the known ones
    raise ValueError(f"No experiment settings train {variant!r}; known families: {', '.join(CONFIG_BUILDERS)}.")


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
    its own paper's settings (:func:`builder_for`) on every target and seed. A model needing modalities the
    data lacks is replaced by its RGB-only variant (:data:`RGB_ONLY`) when it has one and the data has RGB,
    else skipped. With ``svr`` the C3D+SVR row is fitted on the RGB features (one fit per target and seed:
    the seed shuffles its cross-validation folds). Pass ``Comparison.results`` and ``Comparison.fits`` to
    :func:`compare_table`. A ValueError names the available modalities when nothing can run.
    """
    from ..models.baselines import pooled_svr

    if not models:
        raise ValueError("comparison_runs needs at least one registered model name, e.g. ['pamfn', 'gdlt'].")
    common = dict(scale=scale, source=source, data_root=data_root, device=device, epochs=epochs)
    probe = builder_for(models[0])(models[0], dataset, targets[0], scale=scale, source=source, data_root=data_root)
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
    results = [run(builder_for(n)(n, dataset, t, seed=s, **common), progress=progress)
               for n in trained for t in targets for s in seeds]
    fits = []
    if svr and "rgb" in available:
        for t in targets:
            data = load_data(builder_for(models[0])(models[0], dataset, t, scale=scale, source=source,
                                                    data_root=data_root))
            fits += [pooled_svr(data, "rgb", seed=s) for s in seeds]
    provenance = (results[0].meta["provenance"] if results else fits[0]["provenance"])
    return Comparison(results, fits, trained, skipped, substituted, provenance)


def run_table(paper: str, table: str, *, dataset: str, targets: Sequence[str], seeds: Sequence[int],
              scale: str, source: str = "synthetic", data_root: str = "", device: str = "cpu",
              epochs: int | None = None, only: Sequence[str] | None = None, progress: bool = True,
              record_keys: Sequence[str] = (), final_keys: Sequence[str] = (),
              model_kwargs: dict[str, Any] | None = None) -> list[RunResult]:
    """Train (or fetch from the cache) every variant of one ablation table × target × seed.

    ``model_kwargs`` go to every variant's model builder on top of its own settings (e.g.
    ``{"key_position": "sine"}`` for every LMAC-Net row); they are part of each run's config and cache key.

    Variants needing a modality the data does not have (e.g. flow and audio with the real Fis-V release,
    which is RGB only) are skipped with a printed note; if none is left, a ValueError says which are
    available.
    """
    build = config_builder(paper)
    names = list(table_variants(paper, table))
    if only:
        names = [n for n in names if n.rsplit("/", 1)[-1] in only or n in only]
    probe = build(names[0], dataset, targets[0], scale=scale, source=source, data_root=data_root)
    available = set(load_data(probe).modalities)
    runnable = [n for n in names if set(variant_modalities(n, dataset)) <= available]
    skipped = [n for n in names if n not in runnable]
    if skipped:
        print(f"Skipped (need modalities this data lacks; available: {sorted(available)}): {', '.join(skipped)}")
    if not runnable:
        raise ValueError(f"No variant of {paper} {table} can run on modalities {sorted(available)}.")
    configs = [build(n, dataset, t, scale=scale, seed=s, source=source, data_root=data_root, device=device,
                     epochs=epochs, record_keys=record_keys, final_keys=final_keys, **(model_kwargs or {}))
               for n in runnable for t in targets for s in seeds]
    return [run(c, progress=progress) for c in configs]


def alignment_to_truth(results: Sequence[RunResult], *, label: dict[str, str] | None = None) -> pd.DataFrame:
    """Final-layer attention centres of every test video vs the synthetic ground-truth element times.

    Needs runs with ``final_keys=("centres",)`` on synthetic data. One row per variant and modality: mean
    distance (seconds) from each centre to the nearest element midpoint, share of centres inside an element,
    and the same two numbers for evenly spread centres (the untrained reference); averaged over targets and
    seeds.
    """
    from ..analysis import centre_segments, element_hit_rate, nearest_element_distance, uniform_times
    from ..data.registry import SEGMENT_SECONDS

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
        layers = {}
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


def compare_table(results: Sequence[RunResult], paper: str, table: str, dataset: str,
                  *, numeric: bool = False, fits: Sequence[dict] = (), fit_label: str = "C3D+SVR") -> pd.DataFrame:
    """The paper's table beside our runs: rows in the paper's order, per target reported / papers / last.

    ``fits`` are closed-form fits (dicts from :func:`aqa_lib.models.baselines.pooled_svr`, one per target and
    seed); they fill the row labelled ``fit_label`` (the papers' "C3D+SVR"), with the same number under both
    protocols (:func:`aqa_lib.report.fit_rows`).
    """
    # A variant of this paper maps to its row label. Of another paper's variants only the whole methods
    # (top-level names such as ``gdlt`` or ``pamfn``, which appear in every paper's comparison tables) keep
    # their label; ablation variants keep their registered name, so that e.g. PAMFN's "RGB" branch never
    # lands in LMAC-Net's "RGB" row.
    labels = {name: (v.reported_method or name) if (v.paper == paper or "/" not in name) else name
              for name, v in variants().items()}
    ours = reproduced_rows(results, method=lambda r: labels.get(r.config.model, r.config.model))
    if fits:
        ours = pd.concat([ours, fit_rows(fits, method=fit_label)], ignore_index=True)
    ds = get_spec(dataset).name
    ours = ours[ours["dataset"] == ds]
    try:
        rep = tables.reported(paper, table)
        rep["method"] = tables.row_labels(rep)  # rows are matched on the label variants name them by
        rep = rep[(rep["dataset"] == ds) & (rep["metric"] == "spearman")]
    except ValueError:
        rep = pd.DataFrame(columns=["method", "target", "value", "metric"])
    methods = list(dict.fromkeys([*rep["method"], *ours["method"]]))
    targets = list(dict.fromkeys([*ours["target"], *rep["target"]]))
    return side_by_side(rep, ours, targets=targets, methods=methods, numeric=numeric)


# Per-paper settings register themselves in CONFIG_BUILDERS (imported last: they use the names above).
from .baselines import baseline_config  # noqa: E402
from .lmac import lmac_config  # noqa: E402
from .pamfn import pamfn_config  # noqa: E402

__all__ = ["COMPARISON_BASELINES", "CONFIG_BUILDERS", "RGB_ONLY", "TRAINING_SCALES", "Comparison",
           "alignment_to_truth", "baseline_config", "builder_for", "compare_table", "comparison_runs",
           "config_builder", "describe_variants", "lmac_config", "pamfn_config", "run_table", "table_variants",
           "targets_for", "variant_modalities"]
