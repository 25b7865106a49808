"""The papers' reported numbers, transcribed as tidy data in ``papers_tables/``.

Layout: ``papers_tables/<paper>/<table>.csv`` (papers ``lmac``, ``pamfn``, ``mlavl``, ``vatp``), long format
with columns ``method, variant, features, dataset, target, metric, value, note``; ``papers_tables/index.csv``
lists every table (``paper, table, caption, source_file, note``), including tables that are images in the
source and so have no rows; ``papers_tables/fisherz_exceptions.csv`` lists the reported ``Avg.`` entries that
are not the Fisher-z mean of their class entries, each with the reason (papers contain inconsistencies; we
record them rather than "fix" the paper).

Values keep the precision the paper printed: :func:`reported` returns ``value`` as float plus ``decimals``,
the number of printed decimals, so comparisons can respect rounding.

The tables directory is ``<repo>/papers_tables``; set ``AQA_TABLES_DIR`` to read another copy.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from .metrics import fisher_z_mean
from .paths import repo_root

PAPERS = ("lmac", "pamfn", "mlavl", "vatp")
COLUMNS = ["method", "variant", "features", "dataset", "target", "metric", "value", "note"]
KEY = ["method", "variant", "features", "dataset", "target", "metric"]
_STR_COLUMNS = ["method", "variant", "features", "dataset", "target", "metric", "note"]
OTHER_TASK_DATASETS = {
    "youtube_highlights": "YouTube Highlights: video highlight detection, mAP per topic (PAMFN Table IX)",
}
"""Datasets of other tasks that a paper reports on (its generalisation experiments): transcribed as
reported-only rows; they are not in the data registry, since nothing here trains on them."""


def tables_dir() -> Path:
    env = os.environ.get("AQA_TABLES_DIR")
    root = repo_root()
    path = Path(env) if env else (root / "papers_tables" if root else None)
    if path is None or not path.is_dir():
        raise FileNotFoundError(
            "papers_tables/ not found. Run from a checkout of aqa-companion, or set AQA_TABLES_DIR to the "
            "folder holding index.csv."
        )
    return path


def index() -> pd.DataFrame:
    """Every table of the four papers: ``paper, table, caption, source_file, note``."""
    return pd.read_csv(tables_dir() / "index.csv", dtype=str, keep_default_na=False)


def _decimals(text: str) -> int:
    text = text.strip()
    return len(text.split(".", 1)[1]) if "." in text else 0


def _read(path: Path) -> pd.DataFrame:
    raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = [c for c in COLUMNS if c not in raw.columns]
    if missing:
        raise ValueError(f"{path}: missing columns {missing}; expected {COLUMNS}.")
    frame = raw[COLUMNS].copy()
    frame["decimals"] = frame["value"].map(_decimals)
    frame["value"] = pd.to_numeric(frame["value"], errors="raise")
    return frame


def reported(paper: str, table: str) -> pd.DataFrame:
    """The rows a paper reports in one table (``value`` float, ``decimals`` as printed).

    Tables that are images in the source have an index entry but no rows: an empty frame is returned whose
    ``attrs["note"]`` says why. Unknown papers or tables raise ``ValueError`` listing the valid ones.
    """
    if paper not in PAPERS:
        raise ValueError(f"Unknown paper {paper!r}; valid papers: {', '.join(PAPERS)}.")
    idx = index()
    rows = idx[(idx["paper"] == paper) & (idx["table"] == table)]
    if rows.empty:
        valid = ", ".join(idx.loc[idx["paper"] == paper, "table"])
        raise ValueError(f"Unknown table {table!r} of paper {paper!r}; valid tables: {valid}.")
    path = tables_dir() / paper / f"{table}.csv"
    if not path.exists():
        frame = pd.DataFrame(columns=[*COLUMNS, "decimals"])
        frame.attrs["note"] = rows["note"].iloc[0] or "no numeric rows transcribed"
        return frame
    frame = _read(path)
    frame.attrs["caption"] = rows["caption"].iloc[0]
    frame.attrs["note"] = rows["note"].iloc[0]
    return frame


def row_labels(frame: pd.DataFrame) -> pd.Series:
    """The label each row of one table is known by (what a model variant's ``reported_method`` names).

    Ablation tables name their rows in ``variant`` (``method`` is the paper's model); comparison tables in
    ``method``. A variant string that appears under several methods of the same table (PAMFN Table IV has
    "RGB+Flow" for both "Weighted Fusion" and "PAMFN") is disambiguated as ``"<method>: <variant>"``.
    """
    has_variant = frame["variant"] != ""
    methods_per_variant = frame[has_variant].groupby("variant")["method"].nunique()
    ambiguous = frame["variant"].map(methods_per_variant).fillna(0) > 1
    label = frame["variant"].where(has_variant, frame["method"])
    return label.where(~ambiguous, frame["method"] + ": " + frame["variant"])


def all_reported() -> pd.DataFrame:
    """Every transcribed row of every table, with ``paper`` and ``table`` columns added."""
    parts = []
    for _, row in index().iterrows():
        path = tables_dir() / row["paper"] / f"{row['table']}.csv"
        if path.exists():
            frame = _read(path)
            frame.insert(0, "table", row["table"])
            frame.insert(0, "paper", row["paper"])
            parts.append(frame)
    return pd.concat(parts, ignore_index=True)


def exceptions() -> pd.DataFrame:
    """Reported averages known not to be the Fisher-z mean of their class entries, with reasons."""
    return pd.read_csv(tables_dir() / "fisherz_exceptions.csv", dtype=str, keep_default_na=False)


def _is_average(target: str) -> bool:
    return target == "Avg." or target.endswith("-Avg.")


def _prefix(target: str) -> str:
    return target.rsplit("-", 1)[0] if "-" in target else ""


def fisher_z_check(frame: pd.DataFrame | None = None) -> pd.DataFrame:
    """Recompute every reported Spearman average as the Fisher-z mean of its class entries.

    For each row with metric ``spearman`` and target ``Avg.`` (or ``<prefix>-Avg.``, which averages the
    targets sharing the prefix, e.g. FineFS ``SP-TES``/``SP-PCS``), the class entries are the rows of the same
    paper, table, method, variant, features, dataset and metric with a non-average target (same prefix).
    Returns one row per average with ``reported``, ``recomputed``, ``n_classes``, ``tolerance`` (one unit in the
    last printed decimal) and ``ok``. Averages without class entries are skipped.
    """
    frame = all_reported() if frame is None else frame
    sp = frame[frame["metric"] == "spearman"]
    group_cols = ["paper", "table", "method", "variant", "features", "dataset", "metric"]
    out = []
    for key, group in sp.groupby(group_cols, sort=False):
        for _, avg in group[group["target"].map(_is_average)].iterrows():
            prefix = _prefix(avg["target"])
            classes = group[(~group["target"].map(_is_average)) & (group["target"].map(_prefix) == prefix)]
            if classes.empty:
                continue
            recomputed = fisher_z_mean(classes["value"].to_numpy())
            tol = 10.0 ** (-int(avg["decimals"])) + 1e-9
            out.append(
                {
                    **dict(zip(group_cols, key, strict=True)),
                    "target": avg["target"],
                    "reported": float(avg["value"]),
                    "recomputed": recomputed,
                    "arithmetic": float(np.mean(classes["value"].to_numpy())),
                    "n_classes": len(classes),
                    "tolerance": tol,
                    "ok": abs(recomputed - float(avg["value"])) <= tol,
                }
            )
    return pd.DataFrame(out)


def side_by_side(
    reported_rows: pd.DataFrame, reproduced: pd.DataFrame, *, on: list[str], value: str = "value"
) -> pd.DataFrame:
    """Join reported rows and reproduced rows on ``on`` columns: columns ``reported`` and ``reproduced``.

    ``reproduced`` must hold the ``on`` columns and ``value``; rows only in one of the two are kept (outer
    join) so missing reproductions stay visible.
    """
    rep = reported_rows[[*on, "value"]].rename(columns={"value": "reported"})
    ours = reproduced[[*on, value]].rename(columns={value: "reproduced"})
    return rep.merge(ours, on=on, how="outer")
