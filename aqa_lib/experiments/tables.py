"""The ablation-table driver the notebooks call: which variants a paper table has, train them, and put our
numbers beside the paper's.

A notebook says *what* (paper, table, dataset, targets, seeds, scale, source) and :func:`run_table` says
*how*: every variant is trained with its own recipe (:func:`aqa_lib.experiments.config_for`), so notebooks
stay a parameters cell, one call and the tables/plots.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from .. import tables as reported_tables
from ..data.registry import get_spec
from ..models.base import get_variant, variants
from ..report import fit_rows, reproduced_rows, side_by_side
from ..train import RunResult, load_data
from .configs import config_for, variant_modalities


def describe_variants(rows: dict[str, str]) -> pd.DataFrame:
    """The rows a notebook trains: registered name → the paper's row label and what the variant is."""
    return pd.DataFrame({"paper row": list(rows.values()),
                         "what it is": [get_variant(n).description for n in rows]}, index=list(rows))


def table_variants(paper: str, table: str) -> dict[str, str]:
    """Registered variant name → the paper's row label (``reported_method``) for one ablation table."""
    found = {name: v.reported_method for name, v in variants(f"{paper}/{table}/").items()}
    if not found:
        raise ValueError(f"No registered variants for {paper} {table}.")
    return found


def run_table(paper: str, table: str, *, dataset: str, targets: Sequence[str], seeds: Sequence[int],
              scale: str, source: str = "synthetic", data_root: str = "", device: str = "cpu",
              epochs: int | None = None, only: Sequence[str] | None = None, progress: bool = True,
              record_keys: Sequence[str] = (), final_keys: Sequence[str] = (),
              model_kwargs: dict[str, Any] | None = None) -> list[RunResult]:
    """Train (or fetch from the cache) every variant of one ablation table × target × seed.

    Each variant is configured by its own recipe (:func:`~aqa_lib.experiments.config_for`).
    ``model_kwargs`` go to every variant's model builder on top of its own settings (e.g.
    ``{"key_position": "sine"}`` for every LMAC-Net row); they are part of each run's config and cache key.

    Variants needing a modality the data does not have (e.g. flow and audio with the real Fis-V release,
    which is RGB only) are skipped with a printed note; if none is left, a ValueError says which are
    available.
    """
    names = list(table_variants(paper, table))
    if only:
        names = [n for n in names if n.rsplit("/", 1)[-1] in only or n in only]
        if not names:
            raise ValueError(f"only={list(only)} matches no variant of {paper} {table}; its variants: "
                             f"{', '.join(table_variants(paper, table))}.")
    probe = config_for(names[0], dataset, targets[0], scale=scale, source=source, data_root=data_root)
    available = set(load_data(probe).modalities)
    runnable = [n for n in names if set(variant_modalities(n, dataset)) <= available]
    skipped = [n for n in names if n not in runnable]
    if skipped:
        print(f"Skipped (need modalities this data lacks; available: {sorted(available)}): {', '.join(skipped)}")
    if not runnable:
        raise ValueError(f"No variant of {paper} {table} can run on modalities {sorted(available)}.")
    configs = [config_for(n, dataset, t, scale=scale, seed=s, source=source, data_root=data_root, device=device,
                          epochs=epochs, record_keys=record_keys, final_keys=final_keys, **(model_kwargs or {}))
               for n in runnable for t in targets for s in seeds]
    if progress:  # before a long table: how many runs train and about how long (from cached timings)
        from ..sweep import estimate_line

        print(f"[aqa_lib] {estimate_line(configs)}", flush=True)
    from ..sweep import run_local

    # uncached CPU runs train on local worker processes first; runs of one recipe train together on a GPU
    return run_local(configs, progress=progress)


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
        rep = reported_tables.reported(paper, table)
        rep["method"] = reported_tables.row_labels(rep)  # rows are matched on the label variants name them by
        rep = rep[(rep["dataset"] == ds) & (rep["metric"] == "spearman")]
    except ValueError:
        rep = pd.DataFrame(columns=["method", "target", "value", "metric"])
    methods = list(dict.fromkeys([*rep["method"], *ours["method"]]))
    targets = list(dict.fromkeys([*ours["target"], *rep["target"]]))
    return side_by_side(rep, ours, targets=targets, methods=methods, numeric=numeric)


def rows_from_tables(results: Sequence[RunResult], dataset: str, picks: dict[str, tuple[str, str, str]], *,
                     fits: Sequence[dict] = (), numeric: bool = False) -> pd.DataFrame:
    """One row per entry of ``picks`` (``{our label: (paper, table, row label)}``), each taken from its own
    paper's table beside our runs (``compare_table``), e.g. every RGB-only method from the table that reports
    it. ``fits`` fill the papers' C3D+SVR rows."""
    rows = []
    for label, (paper, table, row) in picks.items():
        frame = compare_table(results, paper, table, dataset, numeric=numeric, fits=fits)
        if row not in frame.index:
            raise ValueError(f"{paper} {table} has no row {row!r} for {dataset}; rows: {list(frame.index)}.")
        rows.append(frame.loc[[row]].rename(index={row: label}))
    return pd.concat(rows)
