"""Readers for the released label files (RG, Fis-V, FS1000), with format checks.

Formats (as released by the datasets' authors):

- **RG** (ACTION-NET release): whitespace separated, header
  ``Video_Name Difficulty_Score Execution_Score Total_Score Penalty Video_length``; names like
  ``Ball_001``; ``Video_length`` in seconds.
- **Fis-V** (MS-LSTM release, also redistributed with GDLT and PAMFN features): no header,
  ``video_id TES PCS deductions``.
- **FS1000** (Skating-Mixer release): no header, ``name TES PCS SS TR PE CO IN factor``; PCS is divided
  by ``factor`` when read (the official loader does the same), the raw value is kept as ``PCS_raw``.

Every reader returns a DataFrame with a string ``name`` column plus numeric score columns, and raises
:class:`~aqa_lib.data.core.DataError` naming the file and the expected format when the file does not match.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .core import DataError

RG_COLUMNS = ["Video_Name", "Difficulty_Score", "Execution_Score", "Total_Score", "Penalty", "Video_length"]
FISV_COLUMNS = ["name", "TES", "PCS", "deductions"]
FS1000_COLUMNS = ["name", "TES", "PCS", "SS", "TR", "PE", "CO", "IN", "factor"]
LABEL_FORMATS = ("rg", "fisv", "fs1000")


def _read_rows(path: Path) -> list[list[str]]:
    path = Path(path)
    if not path.is_file():
        raise DataError(
            f"Label file not found: {path}. Point data_root (or label_root) at the folder that holds the "
            "released train.txt / test.txt."
        )
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(f"Label file {path} is not UTF-8 text ({exc}); is it a binary file?") from exc
    return [line.split() for line in text.splitlines() if line.strip()]


def _to_numeric(path: Path, rows: list[list[str]], columns: list[str], first_line: int) -> pd.DataFrame:
    for i, row in enumerate(rows):
        if len(row) != len(columns):
            raise DataError(
                f"{path}, line {i + first_line}: {len(row)} fields, expected {len(columns)} "
                f"({' '.join(columns)})."
            )
    frame = pd.DataFrame(rows, columns=columns)
    for col in columns[1:]:
        values = pd.to_numeric(frame[col], errors="coerce")
        if values.isna().any():
            line = int(np.flatnonzero(values.isna().to_numpy())[0]) + first_line
            raise DataError(f"{path}, line {line}: column {col!r} is not a number ({frame[col].iloc[line - first_line]!r}).")
        if not np.isfinite(values.to_numpy(dtype=float)).all():
            raise DataError(f"{path}: column {col!r} contains Inf.")
        frame[col] = values.astype(float)
    if frame.iloc[:, 0].duplicated().any():
        dup = frame.iloc[:, 0][frame.iloc[:, 0].duplicated()].iloc[0]
        raise DataError(f"{path}: video {dup!r} is listed twice.")
    if frame.empty:
        raise DataError(f"{path}: no label rows.")
    return frame


def read_rg_labels(path: str | Path) -> pd.DataFrame:
    """Read an RG label file (header required). Columns: ``name, difficulty, execution, total, penalty,
    length_s, apparatus``."""
    path = Path(path)
    rows = _read_rows(path)
    if not rows or rows[0] != RG_COLUMNS:
        got = " ".join(rows[0]) if rows else "(empty file)"
        raise DataError(
            f"{path}: header does not match the RG format. Expected '{' '.join(RG_COLUMNS)}', got '{got}'. "
            "Fis-V label files have no header; pass dataset='fisv' for those."
        )
    frame = _to_numeric(path, rows[1:], RG_COLUMNS, first_line=2)
    frame = frame.rename(
        columns={
            "Video_Name": "name",
            "Difficulty_Score": "difficulty",
            "Execution_Score": "execution",
            "Total_Score": "total",
            "Penalty": "penalty",
            "Video_length": "length_s",
        }
    )
    apparatus = frame["name"].str.split("_").str[0]
    bad = ~apparatus.isin(["Ball", "Clubs", "Hoop", "Ribbon"])
    if bad.any():
        raise DataError(f"{path}: video name {frame['name'][bad].iloc[0]!r} does not start with an apparatus "
                        "(Ball_, Clubs_, Hoop_, Ribbon_).")
    frame["apparatus"] = apparatus
    # Keep the released column names as aliases so the registry's score_column ('Total_Score') resolves.
    frame["Total_Score"] = frame["total"]
    return frame


def _headerless(path: Path, columns: list[str], fmt: str) -> pd.DataFrame:
    rows = _read_rows(path)
    if rows and rows[0] and not _is_number(rows[0][1] if len(rows[0]) > 1 else ""):
        raise DataError(
            f"{path}: the first line looks like a header ({' '.join(rows[0])!r}) but the {fmt} format has "
            f"none: every line is '{' '.join(columns)}'. Remove the header line, or use the RG reader."
        )
    return _to_numeric(path, rows, columns, first_line=1)


def _is_number(s: str) -> bool:
    try:
        float(s)
    except ValueError:
        return False
    return True


def read_fisv_labels(path: str | Path) -> pd.DataFrame:
    """Read a Fis-V label file (``video_id TES PCS deductions``, no header). ``name`` is the id as text."""
    frame = _headerless(Path(path), FISV_COLUMNS, "Fis-V")
    frame["name"] = frame["name"].astype(str)
    return frame


def read_fs1000_labels(path: str | Path) -> pd.DataFrame:
    """Read an FS1000 label file (``name TES PCS SS TR PE CO IN factor``); PCS is divided by ``factor``."""
    frame = _headerless(Path(path), FS1000_COLUMNS, "FS1000")
    if (frame["factor"] <= 0).any():
        raise DataError(f"{path}: the PCS factor column must be positive.")
    frame["PCS_raw"] = frame["PCS"]
    frame["PCS"] = frame["PCS"] / frame["factor"]
    return frame


READERS = {"rg": read_rg_labels, "fisv": read_fisv_labels, "fs1000": read_fs1000_labels}


def read_labels(path: str | Path, fmt: str) -> pd.DataFrame:
    """Read a label file in format ``fmt`` (one of :data:`LABEL_FORMATS`)."""
    if fmt not in READERS:
        raise ValueError(f"Unknown label format {fmt!r}; valid formats: {', '.join(LABEL_FORMATS)}.")
    return READERS[fmt](path)


def packaged_labels(dataset: str, split: str) -> pd.DataFrame:
    """The real labels and official split shipped with the package: RG, Fis-V, MTL-AQA.

    MTL-AQA's rows are :func:`aqa_lib.data.formats.packaged_mtlaqa`'s, with ``score`` (= ``final_score``, the
    registry's score column) added.
    """
    from ..paths import PACKAGE_DATA

    if dataset not in ("rg", "fisv", "mtl_aqa") or split not in ("train", "test"):
        raise ValueError("Packaged labels exist for dataset 'rg', 'fisv' or 'mtl_aqa' and split 'train' or 'test'.")
    if dataset == "mtl_aqa":
        from .formats import packaged_mtlaqa

        frame = packaged_mtlaqa().split(split)
        return frame.assign(score=frame["final_score"])
    return read_labels(PACKAGE_DATA / dataset / f"{split}.txt", dataset)


def packaged_fisv_lengths() -> dict[str, int]:
    """Segments per Fis-V video in the real VST feature release (shipped as package data)."""
    from ..paths import PACKAGE_DATA

    frame = pd.read_csv(PACKAGE_DATA / "fisv" / "lengths.csv")
    return {str(v): int(t) for v, t in zip(frame["video_id"], frame["segments"], strict=True)}
