"""Run configurations of the papers' experiments at each scale, and the ablation-table driver the notebooks call.

A notebook says *what* (paper, table, dataset, targets, seeds, scale, source) and this module says *how*
(the paper's optimiser settings, model width at each scale, epochs), so notebooks stay a parameters cell,
one call and the tables/plots.

Scales (the same names as the data scales, :mod:`aqa_lib.data.synthetic`):

- ``smoke``: seconds per run on CPU (what CI runs): tiny width (d = 32), 2 epochs. Checks that everything
  runs, says nothing about the methods.
- ``quick``: minutes per notebook on CPU: width d = 64, 25 epochs, on the ``quick`` data subsample.
- ``paper``: the paper's configuration (d = 512, K = 5, 4 layers, 8 heads) and full data; meant for a GPU.

LMAC-Net's paper settings (§4.2): AdamW, lr 9e-4 (RG) / 9e-5 (Fis-V), cosine decay, batch 32, dropout 0.1
(RG) / 0.2 (Fis-V). The paper gives no epoch count or weight decay: we use 200 epochs and weight decay 1e-4
(TPT's official setting) at ``paper`` scale — our choice. Training crops are the dataset's ``train_window``
(70 RG / 130 Fis-V segments, the PAMFN / GDLT protocol). At ``smoke`` / ``quick`` scale the learning rate is
9e-4 for both datasets (the small models and short schedules learn nothing at 9e-5).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from . import tables
from .data.registry import get_spec
from .models.base import get_variant, variants
from .report import reproduced_rows, side_by_side
from .train import RunConfig, RunResult, load_data, run

TRAINING_SCALES: dict[str, dict[str, Any]] = {
    "smoke": {"epochs": 2, "batch_size": 16, "model": {"d_model": 32, "d_ffn": 32, "n_heads": 4}},
    "quick": {"epochs": 25, "batch_size": 32, "model": {"d_model": 64, "d_ffn": 64}},
    "paper": {"epochs": 200, "batch_size": 32, "model": {}},
}
LMAC_PAPER = {
    "rg": {"lr": 9e-4, "dropout": 0.1},
    "fisv": {"lr": 9e-5, "dropout": 0.2},
}


def targets_for(dataset: str, target: str) -> list[str]:
    """``"all"`` (or empty) → every target of the dataset; else the one target, validated."""
    spec = get_spec(dataset)
    if target in ("", "all", None):
        return list(spec.targets)
    return [spec.check_target(target)]


def lmac_config(variant: str, dataset: str, target: str, *, scale: str = "quick", seed: int = 0,
                source: str = "synthetic", data_root: str = "", device: str = "cpu", epochs: int | None = None,
                record_keys: Sequence[str] = (), final_keys: Sequence[str] = (), data_seed: int = 0,
                **model_overrides: Any) -> RunConfig:
    """The :class:`~aqa_lib.train.RunConfig` of one LMAC-Net variant on one target at ``scale``."""
    if scale not in TRAINING_SCALES:
        raise ValueError(f"Unknown scale {scale!r}; valid: {', '.join(TRAINING_SCALES)}.")
    get_variant(variant)
    ds = get_spec(dataset).name
    paper = LMAC_PAPER.get(ds, LMAC_PAPER["fisv"])
    preset = TRAINING_SCALES[scale]
    lr = paper["lr"] if scale == "paper" else 9e-4
    model_kwargs = {"dropout": paper["dropout"], **preset["model"], **model_overrides}
    return RunConfig(
        model=variant, dataset=ds, target=target, model_kwargs=model_kwargs, source=source,
        data_root=data_root, scale=scale if source == "synthetic" else "paper", data_seed=data_seed, seed=seed,
        epochs=epochs or preset["epochs"], batch_size=preset["batch_size"], optimizer="adamw", lr=lr,
        weight_decay=1e-4, device=device, record_keys=tuple(record_keys), final_keys=tuple(final_keys),
    )


def table_variants(paper: str, table: str) -> dict[str, str]:
    """Registered variant name → the paper's row label (``reported_method``) for one ablation table."""
    found = {name: v.reported_method for name, v in variants(f"{paper}/{table}/").items()}
    if not found:
        raise ValueError(f"No registered variants for {paper} {table}.")
    return found


def variant_modalities(name: str, dataset: str) -> tuple[str, ...]:
    """The modalities a registered variant reads (its ``modalities`` override, else all of the dataset's)."""
    return tuple(get_variant(name).overrides.get("modalities") or get_spec(dataset).modalities)


def run_table(paper: str, table: str, *, dataset: str, targets: Sequence[str], seeds: Sequence[int],
              scale: str, source: str = "synthetic", data_root: str = "", device: str = "cpu",
              epochs: int | None = None, only: Sequence[str] | None = None, progress: bool = True,
              record_keys: Sequence[str] = (), final_keys: Sequence[str] = ()) -> list[RunResult]:
    """Train (or fetch from the cache) every variant of one ablation table × target × seed.

    Variants needing a modality the data does not have (e.g. flow and audio with the real Fis-V release,
    which is RGB only) are skipped with a printed note; if none is left, a ValueError says which are
    available.
    """
    if paper != "lmac":
        raise ValueError(f"run_table knows the paper 'lmac' so far, not {paper!r}.")
    names = list(table_variants(paper, table))
    if only:
        names = [n for n in names if n.rsplit("/", 1)[-1] in only or n in only]
    probe = lmac_config(names[0], dataset, targets[0], scale=scale, source=source, data_root=data_root)
    available = set(load_data(probe).modalities)
    runnable = [n for n in names if set(variant_modalities(n, dataset)) <= available]
    skipped = [n for n in names if n not in runnable]
    if skipped:
        print(f"Skipped (need modalities this data lacks; available: {sorted(available)}): {', '.join(skipped)}")
    if not runnable:
        raise ValueError(f"No variant of {paper} {table} can run on modalities {sorted(available)}.")
    configs = [lmac_config(n, dataset, t, scale=scale, seed=s, source=source, data_root=data_root, device=device,
                           epochs=epochs, record_keys=record_keys, final_keys=final_keys)
               for n in runnable for t in targets for s in seeds]
    return [run(c, progress=progress) for c in configs]


def alignment_to_truth(results: Sequence[RunResult], *, label: dict[str, str] | None = None) -> pd.DataFrame:
    """Final-layer attention centres of every test video vs the synthetic ground-truth element times.

    Needs runs with ``final_keys=("centres",)`` on synthetic data. One row per variant and modality: mean
    distance (seconds) from each centre to the nearest element midpoint, share of centres inside an element,
    and the same two numbers for evenly spread centres (the untrained reference); averaged over targets and
    seeds.
    """
    from .analysis import centre_segments, element_hit_rate, nearest_element_distance, uniform_times
    from .data.registry import SEGMENT_SECONDS

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
                  *, numeric: bool = False) -> pd.DataFrame:
    """The paper's table beside our runs: rows in the paper's order, per target reported / papers / last."""
    labels = {name: v.reported_method or name for name, v in variants(f"{paper}/").items()}
    labels.update({name: v.reported_method or name for name, v in variants(paper).items()})
    ours = reproduced_rows(results, method=lambda r: labels.get(r.config.model, r.config.model))
    ds = get_spec(dataset).name
    ours = ours[ours["dataset"] == ds]
    try:
        rep = tables.reported(paper, table)
        rep = rep[(rep["dataset"] == ds) & (rep["metric"] == "spearman")].copy()
        # Ablation tables label their rows in ``variant`` (method = the paper's model); comparison tables in
        # ``method``. Rows are matched on that label.
        rep["method"] = rep["variant"].where(rep["variant"] != "", rep["method"])
    except ValueError:
        rep = pd.DataFrame(columns=["method", "target", "value", "metric"])
    methods = list(dict.fromkeys([*rep["method"], *ours["method"]]))
    targets = list(dict.fromkeys([*ours["target"], *rep["target"]]))
    return side_by_side(rep, ours, targets=targets, methods=methods, numeric=numeric)
