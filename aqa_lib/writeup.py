"""Write it up: every table and figure of the last notebook runs as one ``report/`` bundle.

Usage::

    python -m aqa_lib.writeup                                  # run every notebook (quick), then build report/
    python -m aqa_lib.writeup --scale smoke --only data_tour ablation_losses
    python -m aqa_lib.writeup --no-run                         # build from what the last runs wrote
    python -m aqa_lib.writeup -p seeds "[0, 1, 2]" --only ablation_losses

Without ``--no-run`` the notebooks are executed by :mod:`aqa_lib.runner` (papermill, executed copies in
``out/notebooks/``) with two environment variables set: ``AQA_TABLES_OUT`` (default ``out/tables``), so that
:func:`aqa_lib.notebook.show_table` also writes every table it shows as CSV + JSON sidecar, and
``AQA_FIGURE_FORMATS=png,pdf``, so that :func:`aqa_lib.notebook.save_figure` also writes vector PDFs. Their
training runs hit the results cache: only what is missing trains.

The bundle then holds what each notebook's **last run** wrote (the tables and figures dated within the run
recorded in its executed copy's papermill metadata; older files from other runs are left out):

- ``index.html``: one static page (no JavaScript, no network): every table and figure with its provenance,
  links to the files and to the executed notebooks;
- ``tables/<stem>.md``, ``.tex``, ``.csv``, ``.json``: each table as Markdown, LaTeX (booktabs), the tidy CSV
  and its sidecar; ``tables.md`` and ``tables.tex``: all of them in one file each;
- ``figures/<stem>.png`` and ``.pdf``: each figure, raster and vector; ``figures.tex``: one ``figure``
  environment per figure (the PDFs), captioned with its provenance;
- ``notebooks/<name>.ipynb``: the executed notebooks; ``references.bib``: the four papers and the six
  datasets; ``manifest.json``: all of the above with provenance, machine-readable.

The comparison tables keep the paper's number beside ours under both protocols (``papers``: best test
epoch; ``last``: last epoch), mean ± std over the seeds where there are several; every table has a footnote
naming the data (synthetic or real, from the provenance string), the scale and the seeds. Synthetic numbers are never a
reproduction of a paper's number: the footnote of every table computed on synthetic data says so.
"""

from __future__ import annotations

import argparse
import ast
import csv
import difflib
import html
import json
import os
import re
import shutil
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from .notebook import (
    FIGURE_FORMATS_ENV,
    FIGURE_PROVENANCE,
    MANIFEST,
    PAPER_TITLES,
    TABLE_FORMAT,
    TABLES_ENV,
    data_kind,
)
from .paths import figures_dir, repo_root

MARKER = ".aqa-writeup"
"""File that marks a folder as written by this module (only such a folder is emptied before a rebuild)."""
SCALE_NOTES = {
    "smoke": "numbers meaningless: a check that everything runs",
    "quick": "reduced data, width and epochs sized for a CPU (README, 'Scales')",
    "paper": "the paper's configuration and full data",
}
PROTOCOL_NOTE = ("reported = the paper's printed number (on the paper's data); papers = our run's best test "
                 "epoch (the papers' protocol, which selects the epoch on the test set); last = our run's last "
                 "epoch (no selection)")
NOT_A_REPRODUCTION = "Synthetic numbers are not a reproduction of any paper's number."


class WriteupError(ValueError):
    """Bad input to the write-up (a missing notebook, an empty tables folder, ...): the message says the fix."""


# --------------------------------------------------------------------------------------------------------------
# References (facts from the papers' own reference lists and title pages in shared/papers/)
# --------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reference:
    """One bibliography entry; ``authors`` as (given names, family name)."""

    key: str
    kind: str
    title: str
    authors: tuple[tuple[str, str], ...] = ()
    fields: tuple[tuple[str, str], ...] = ()
    comment: str = ""
    role: str = ""

    def get(self, name: str, default: str = "") -> str:
        return dict(self.fields).get(name, default)


REFERENCES: tuple[Reference, ...] = (
    Reference(
        "lmacnet", "misc", "Attention-Driven Multimodal Alignment for Long-term Action Quality Assessment",
        fields=(("key", "LMAC-Net"),
                ("note", "LMAC-Net. School of Sport Engineering, Beijing Sport University. Authors, venue and year "
                         "are not printed in the text this companion works from; complete them before citing")),
        comment="Title and affiliation from the paper's first page (shared/papers/lmac-net.txt).",
        role="paper: LMAC-Net"),
    Reference(
        "zeng2024pamfn", "article", "Multimodal Action Quality Assessment",
        (("Ling-An", "Zeng"), ("Wei-Shi", "Zheng")),
        (("journal", "IEEE Transactions on Image Processing"), ("volume", "33"), ("pages", "1600--1613"),
         ("year", "2024"), ("note", "PAMFN")),
        comment="As cited by MLAVL (supp. ref. 21) and VATP-Net (ref. 55).", role="paper: PAMFN"),
    Reference(
        "xu2025mlavl", "inproceedings", "Language-Guided Audio-Visual Learning for Long-Term Sports Assessment",
        (("Huangbiao", "Xu"), ("Xiao", "Ke"), ("Huanqi", "Wu"), ("Rui", "Xu"), ("Yuezhou", "Li"),
         ("Wenzhong", "Guo")),
        (("booktitle", "Proceedings of the IEEE/CVF Conference on Computer Vision and Pattern Recognition (CVPR)"),
         ("year", "2025"), ("note", "MLAVL")),
        comment=("Authors from the supplementary's title page; CVPR from the reading notes (CVF open-access copy). "
                 "The text prints no year: 2025 because it compares against 'three 2024 SOTA works' (supp. Tab. 4)."),
        role="paper: MLAVL"),
    Reference(
        "gedamu2025vatpnet", "article", "Visual-Semantic Alignment Temporal Parsing for Action Quality Assessment",
        (("Kumie", "Gedamu"), ("Yanli", "Ji"), ("Yang", "Yang"), ("Jie", "Shao"), ("Heng Tao", "Shen")),
        (("journal", "IEEE Transactions on Circuits and Systems for Video Technology"), ("year", "2025"),
         ("doi", "10.1109/TCSVT.2024.3487242"),
         ("note", "VATP-Net. Published online 28 October 2024; current version 7 March 2025")),
        comment="Authors, DOI and dates from the paper's first page (shared/papers/vatp-net.txt).",
        role="paper: VATP-Net"),
    Reference(
        "zeng2020rg", "inproceedings",
        "Hybrid Dynamic-Static Context-Aware Attention Network for Action Assessment in Long Videos",
        (("Ling-An", "Zeng"), ("Fa-Ting", "Hong"), ("Wei-Shi", "Zheng"), ("Qi-Zhi", "Yu"), ("Wei", "Zeng"),
         ("Yao-Wei", "Wang"), ("Jian-Huang", "Lai")),
        (("booktitle", "Proceedings of the 28th ACM International Conference on Multimedia"),
         ("pages", "2526--2534"), ("year", "2020"), ("note", "Rhythmic Gymnastics (RG) dataset")),
        comment="LMAC-Net ref. 4, MLAVL supp. ref. 22, VATP-Net ref. 26.", role="dataset: RG"),
    Reference(
        "xu2020fisv", "article", "Learning to Score Figure Skating Sport Videos",
        (("Chengming", "Xu"), ("Yanwei", "Fu"), ("Bing", "Zhang"), ("Zitian", "Chen"), ("Yu-Gang", "Jiang"),
         ("Xiangyang", "Xue")),
        (("journal", "IEEE Transactions on Circuits and Systems for Video Technology"), ("volume", "30"),
         ("number", "12"), ("pages", "4578--4590"), ("year", "2020"), ("note", "Fis-V dataset")),
        comment=("VATP-Net ref. 27 (vol. 30, no. 12, Dec. 2020); LMAC-Net ref. 3 and MLAVL supp. ref. 19 give "
                 "the year as 2019."),
        role="dataset: Fis-V"),
    Reference(
        "xia2023fs1000", "inproceedings", "{Skating-Mixer}: Long-Term Sport Audio-Visual Modeling with {MLPs}",
        (("Jingfei", "Xia"), ("Mingchen", "Zhuge"), ("Tiantian", "Geng"), ("Shun", "Fan"), ("Yuantai", "Wei"),
         ("Zhenyu", "He"), ("Feng", "Zheng")),
        (("booktitle", "Proceedings of the AAAI Conference on Artificial Intelligence"), ("volume", "37"),
         ("pages", "2901--2909"), ("year", "2023"), ("note", "FS1000 dataset")),
        comment="MLAVL supp. ref. 17 (FS1000), LMAC-Net ref. 8, VATP-Net ref. 56 (no. 3).",
        role="dataset: FS1000"),
    Reference(
        "zhang2023logo", "inproceedings", "{LOGO}: A Long-Form Video Dataset for Group Action Quality Assessment",
        (("Shiyi", "Zhang"), ("Wenxun", "Dai"), ("Sujia", "Wang"), ("Xiangwei", "Shen"), ("Jiwen", "Lu"),
         ("Jie", "Zhou"), ("Yansong", "Tang")),
        (("booktitle", "Proceedings of the IEEE/CVF Conference on Computer Vision and Pattern Recognition (CVPR)"),
         ("pages", "2405--2414"), ("year", "2023"), ("note", "LOGO dataset")),
        comment="MLAVL supp. ref. 23, LMAC-Net ref. 24.", role="dataset: LOGO"),
    Reference(
        "parmar2019mtlaqa", "inproceedings",
        "What and How Well You Performed? {A} Multitask Learning Approach to Action Quality Assessment",
        (("Paritosh", "Parmar"), ("Brendan Tran", "Morris")),
        (("booktitle", "Proceedings of the IEEE/CVF Conference on Computer Vision and Pattern Recognition (CVPR)"),
         ("pages", "304--313"), ("year", "2019"), ("note", "MTL-AQA dataset")),
        comment="VATP-Net ref. 1 (MTL-AQA), LMAC-Net ref. 19.", role="dataset: MTL-AQA"),
    Reference(
        "ji2023finefs", "inproceedings",
        "Localization-Assisted Uncertainty Score Disentanglement Network for Action Quality Assessment",
        (("Yanli", "Ji"), ("Lingfeng", "Ye"), ("Huili", "Huang"), ("Lijing", "Mao"), ("Yang", "Zhou"),
         ("Lingling", "Gao")),
        (("booktitle", "Proceedings of the 31st ACM International Conference on Multimedia"),
         ("pages", "8590--8597"), ("year", "2023"), ("note", "FineFS dataset")),
        comment="VATP-Net ref. 24 (FineFS), LMAC-Net ref. 7.", role="dataset: FineFS"),
)
PAPER_KEYS = {"lmac": "lmacnet", "pamfn": "zeng2024pamfn", "mlavl": "xu2025mlavl", "vatp": "gedamu2025vatpnet"}
DATASET_KEYS = {"rg": "zeng2020rg", "fisv": "xu2020fisv", "fs1000": "xia2023fs1000", "logo": "zhang2023logo",
                "mtlaqa": "parmar2019mtlaqa", "finefs": "ji2023finefs"}
DATASET_NAMES = {"rg": "Rhythmic Gymnastics (RG)", "fisv": "Fis-V", "fs1000": "FS1000", "logo": "LOGO",
                 "mtlaqa": "MTL-AQA", "finefs": "FineFS"}


def bibtex(references: Sequence[Reference] = REFERENCES) -> str:
    """``references`` as BibTeX (``references.bib``); where each fact comes from is a comment above it."""
    out = ["% references.bib, written by python -m aqa_lib.writeup: the four papers this companion follows and",
           "% the six datasets they use. Facts from the papers' own title pages and reference lists",
           "% (shared/papers/*.txt); see each entry's comment.", ""]
    for ref in references:
        if ref.comment:
            out.append(f"% {ref.key}: {ref.comment}")
        lines = [f"  title = {{{{{ref.title}}}}}" if ref.kind == "misc" else f"  title = {{{ref.title}}}"]
        if ref.authors:
            lines.insert(0, "  author = {" + " and ".join(f"{last}, {first}" for first, last in ref.authors) + "}")
        lines += [f"  {name} = {{{value}}}" for name, value in ref.fields]
        out.append(f"@{ref.kind}{{{ref.key},\n" + ",\n".join(lines) + "\n}\n")
    return "\n".join(out)


def _reference_html(ref: Reference) -> str:
    authors = ", ".join(f"{first} {last}" for first, last in ref.authors)
    where = ref.get("journal") or ref.get("booktitle")
    extra = ", ".join(x for x in (f"vol. {ref.get('volume')}" if ref.get("volume") else "",
                                  f"pp. {ref.get('pages').replace('--', '–')}" if ref.get("pages") else "",
                                  ref.get("year"), f"doi:{ref.get('doi')}" if ref.get("doi") else "") if x)
    title = ref.title.replace("{", "").replace("}", "")
    parts = [f"<b>{html.escape(ref.role)}</b> [<code>{ref.key}</code>]", html.escape(authors) if authors else "",
             f"“{html.escape(title)}”", f"<i>{html.escape(where)}</i>" if where else "", html.escape(extra)]
    note = "" if ref.authors else f" <span class='warn'>({html.escape(ref.get('note'))})</span>"
    return ". ".join(p for p in parts if p) + "." + note


# --------------------------------------------------------------------------------------------------------------
# What the last runs wrote
# --------------------------------------------------------------------------------------------------------------


@dataclass
class NotebookRun:
    """One notebook's last execution, as its executed copy in ``out/notebooks/`` records it."""

    name: str
    path: Path
    parameters: dict[str, Any]
    start: datetime | None
    end: datetime | None
    duration: float | None
    failed: bool

    @property
    def scale(self) -> str | None:
        value = self.parameters.get("scale")
        return str(value) if value is not None else None

    def wrote(self, date: datetime | None) -> bool:
        """Whether a file dated ``date`` was written during this run (second resolution)."""
        if date is None or self.start is None:
            return False
        upper = self.end + timedelta(seconds=1) if self.end is not None else None
        return self.start.replace(microsecond=0) <= date and (upper is None or date <= upper)


@dataclass
class Table:
    """One table a notebook showed: its cells as text (CSV) and its sidecar."""

    stem: str
    title: str
    provenance: str
    data: str
    notebook: str
    parameters: dict[str, Any]
    date: datetime | None
    order: int
    precision: int
    index_columns: int
    columns: list[list[str]]
    rows: list[list[str]]
    csv_path: Path

    @property
    def scale(self) -> str | None:
        return self.parameters.get("scale")

    @property
    def seeds(self) -> list[int] | None:
        params = self.parameters
        return list(params["seeds"]) if "seeds" in params else ([params["seed"]] if "seed" in params else None)


@dataclass
class Figure:
    """One figure a notebook saved (``figures/manifest.csv`` + ``figures/provenance.csv``)."""

    name: str
    notebook: str
    parameters: dict[str, Any]
    date: datetime | None
    order: int
    title: str
    provenance: str
    stamp: str
    png: Path
    pdf: Path | None

    @property
    def stem(self) -> str:
        return Path(self.name).stem


@dataclass
class Bundle:
    """Everything a report shows: the runs, their tables and figures, and notes on what is missing."""

    runs: list[NotebookRun]
    tables: list[Table]
    figures: list[Figure]
    notes: dict[str, list[str]] = field(default_factory=dict)


def _parse_date(text: Any) -> datetime | None:
    if not text:
        return None
    try:
        value = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def available_notebooks(directory: Path | None = None) -> list[str]:
    """The notebooks the runner can execute (stems of ``notebooks/*.ipynb``)."""
    from .runner import notebooks_dir

    directory = directory or notebooks_dir()
    return sorted(p.stem for p in directory.glob("*.ipynb") if not p.name.endswith(".executed.ipynb"))


def check_notebooks(names: Iterable[str], available: Sequence[str]) -> list[str]:
    """``names`` without duplicates, each one checked against ``available`` (the closest name is suggested)."""
    names = list(dict.fromkeys(names))
    bad = []
    for name in names:
        if name not in available:
            close = difflib.get_close_matches(name, available, n=1)
            bad.append(f"{name!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
    if bad:
        raise WriteupError(f"Unknown notebook {', '.join(bad)}; the notebooks are: {', '.join(available)}.")
    return names


def read_run(executed_dir: Path, name: str) -> NotebookRun:
    """The last run of ``name`` from its executed copy ``<executed_dir>/<name>.ipynb`` (papermill metadata)."""
    path = Path(executed_dir) / f"{name}.ipynb"
    if not path.exists():
        raise WriteupError(f"Notebook {name!r} has no executed copy ({path}): it has not run yet. Run "
                           f"`python -m aqa_lib.writeup --only {name}` (without --no-run) to execute it.")
    try:
        meta = json.loads(path.read_text()).get("metadata", {}).get("papermill", {})
    except (OSError, json.JSONDecodeError) as exc:
        raise WriteupError(f"Cannot read the executed notebook {path} ({exc}); run it again.") from None
    if not meta:
        raise WriteupError(f"{path} has no papermill metadata: it was not executed by the runner. Run "
                           f"`python -m aqa_lib.writeup --only {name}`.")
    return NotebookRun(name=name, path=path, parameters=dict(meta.get("parameters") or {}),
                       start=_parse_date(meta.get("start_time")), end=_parse_date(meta.get("end_time")),
                       duration=meta.get("duration"), failed=bool(meta.get("exception")))


def read_tables(tables_dir: Path) -> list[Table]:
    """Every table sidecar (``*.json`` written by :func:`aqa_lib.notebook.save_table`) in ``tables_dir``."""
    tables_dir = Path(tables_dir)
    sidecars = sorted(tables_dir.glob("*.json")) if tables_dir.is_dir() else []
    if not sidecars:
        raise WriteupError(
            f"No tables in {tables_dir}: the notebooks write them only when ${TABLES_ENV} is set. Run "
            "`python -m aqa_lib.writeup` without --no-run (it sets it), or point --tables-dir at the folder "
            f"a run with ${TABLES_ENV} wrote.")
    tables = []
    for path in sidecars:
        try:
            meta = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise WriteupError(f"Table sidecar {path} is not valid JSON ({exc}); delete it and run the notebook "
                               "again.") from None
        if meta.get("format") != TABLE_FORMAT:
            continue
        csv_path = path.with_name(meta.get("csv", path.with_suffix(".csv").name))
        if not csv_path.exists():
            raise WriteupError(f"Table sidecar {path} names {csv_path.name}, which is missing; run the notebook "
                               f"{meta.get('notebook')!r} again.")
        with csv_path.open(newline="") as f:
            rows = list(csv.reader(f))[1:]
        tables.append(Table(stem=meta["stem"], title=meta["title"], provenance=meta["provenance"],
                            data=meta.get("data") or data_kind(meta["provenance"]), notebook=meta.get("notebook", ""),
                            parameters=dict(meta.get("parameters") or {}), date=_parse_date(meta.get("date")),
                            order=int(meta.get("order") or 0), precision=int(meta.get("precision", 3)),
                            index_columns=int(meta.get("index_columns", 0)), columns=meta["columns"], rows=rows,
                            csv_path=csv_path))
    return tables


def read_figures(directory: Path) -> list[Figure]:
    """Every figure ``figures/manifest.csv`` lists, with its provenance from ``figures/provenance.csv``."""
    directory = Path(directory)
    manifest = directory / MANIFEST
    if not manifest.exists():
        return []
    with manifest.open(newline="") as f:
        rows = list(csv.DictReader(f))
    extra: dict[str, dict[str, str]] = {}
    if (directory / FIGURE_PROVENANCE).exists():
        with (directory / FIGURE_PROVENANCE).open(newline="") as f:
            extra = {r["figure"]: r for r in csv.DictReader(f)}
    figures = []
    for row in rows:
        info = extra.get(row["figure"], {})
        png = directory / row["figure"]
        pdf = png.with_suffix(".pdf")
        has_pdf = "pdf" in info.get("formats", "").split(",") and pdf.exists()
        try:
            params = json.loads(row.get("parameters") or "{}")
        except json.JSONDecodeError:
            params = {}
        figures.append(Figure(name=row["figure"], notebook=row.get("notebook", ""), parameters=params,
                              date=_parse_date(row.get("date")), order=int(info.get("order") or 0),
                              title=info.get("title", ""), provenance=info.get("provenance", ""),
                              stamp=info.get("stamp", ""), png=png, pdf=pdf if has_pdf else None))
    return figures


def collect(notebooks: Sequence[str], *, tables_dir: Path, figures_dir: Path, executed_dir: Path,
            scale: str | None = None) -> Bundle:
    """The tables and figures the last run of each of ``notebooks`` wrote.

    A run is read from its executed copy (:func:`read_run`); a table or figure belongs to it when its
    notebook matches and its date lies within the run. ``scale`` (optional) must be the scale those runs used.
    A notebook whose last run failed contributes nothing but a note. Raises :class:`WriteupError` when
    ``notebooks`` is empty, a notebook never ran, ran at another scale, or no table at all was found.
    """
    if not notebooks:
        raise WriteupError(f"No notebooks to write up: pass --only NAME... or run them first (no executed copies "
                           f"in {executed_dir}).")
    runs = [read_run(executed_dir, name) for name in notebooks]
    if scale is not None:
        other = [f"{r.name} ({r.scale})" for r in runs if r.scale is not None and r.scale != scale]
        if other:
            raise WriteupError(f"The last runs of {', '.join(other)} were not at scale {scale!r}. Run them at that "
                               f"scale (`python -m aqa_lib.writeup --scale {scale} --only ...`), or leave --scale "
                               "out to write up the last runs as they are.")
    all_tables = read_tables(tables_dir)
    all_figures = read_figures(figures_dir)
    bundle = Bundle(runs=runs, tables=[], figures=[])
    for run in runs:
        notes = bundle.notes.setdefault(run.name, [])
        if run.failed:
            notes.append("its last run failed: nothing from it is shown; open the executed notebook for the error")
            continue
        tables = sorted((t for t in all_tables if t.notebook == run.name and run.wrote(t.date)),
                        key=lambda t: (t.order, t.stem))
        figures = sorted((f for f in all_figures if f.notebook == run.name and run.wrote(f.date)),
                         key=lambda f: (f.order, f.name))
        for fig in figures:
            if not fig.png.exists():
                notes.append(f"figure {fig.name} is listed in the manifest but its file is missing")
            elif fig.pdf is None:
                notes.append(f"figure {fig.name} has no PDF from this run (set {FIGURE_FORMATS_ENV}=png,pdf, or "
                             "build without --no-run)")
        if not tables and not figures:
            notes.append(f"its last run wrote no tables or figures that the write-up can find (it ran without "
                         f"${TABLES_ENV}, e.g. by `make figures`?): build without --no-run")
        bundle.tables += tables
        bundle.figures += [f for f in figures if f.png.exists()]
    if not bundle.tables:
        raise WriteupError(
            f"No table in {tables_dir} comes from the last run of {', '.join(notebooks)}: those runs did not write "
            f"tables (${TABLES_ENV} unset) or failed. Run `python -m aqa_lib.writeup --only {' '.join(notebooks)}` "
            "without --no-run.")
    return bundle


# --------------------------------------------------------------------------------------------------------------
# Rendering: cells, footnotes, Markdown, LaTeX, HTML
# --------------------------------------------------------------------------------------------------------------

_FLOAT = re.compile(r"^[-+]?(\d+\.\d*|\.\d+|\d+\.?\d*[eE][-+]?\d+)$")
_NUMERIC = re.compile(r"^([-+−]?(\d[\d,]*\.?\d*|\.\d+)([eE][-+]?\d+)?%?( ± \d*\.?\d+)?|—|inf|-inf|nan)$")


def format_cell(text: str, precision: int = 3, *, missing: str = "—") -> str:
    """A CSV cell as shown: empty → ``missing``; a float → ``precision`` decimals; anything else unchanged."""
    if text == "":
        return missing
    if _FLOAT.match(text):
        return f"{float(text):.{precision}f}"
    return text


def _numeric_columns(table: Table) -> list[bool]:
    """Per column: numbers only (right-aligned; an empty cell there is a missing number, shown as ``—``)."""
    out = []
    for j in range(len(table.columns)):
        cells = [format_cell(r[j], table.precision) for r in table.rows if j < len(r) and r[j] != ""]
        cells = [c for c in cells if c != "—"]
        out.append(j >= table.index_columns and bool(cells) and all(_NUMERIC.match(c) for c in cells))
    return out


def _shown_rows(table: Table) -> list[list[str]]:
    """The cells as shown: floats at the table's precision; empty → ``—`` in number columns, blank elsewhere."""
    numeric = _numeric_columns(table)
    return [[format_cell(c, table.precision, missing="—" if j < len(numeric) and numeric[j] else "")
             for j, c in enumerate(row)] for row in table.rows]


def _levels(table: Table) -> list[list[str]]:
    """Each column's header levels, right-aligned (``["here", ""]`` → ``["", "here"]``)."""
    depth = max((len(c) for c in table.columns), default=1)
    out = []
    for col in table.columns:
        kept = list(col)
        while len(kept) > 1 and not kept[-1]:
            kept.pop()
        out.append([""] * (depth - len(kept)) + kept)
    return out


def _groups(levels: list[list[str]], row: int) -> list[tuple[str, int, int]]:
    """Runs of consecutive columns sharing header levels ``0..row``: (label, first, last) with 0-based columns."""
    groups: list[tuple[str, int, int]] = []
    for j, col in enumerate(levels):
        key = tuple(col[: row + 1])
        if groups and col[row] and tuple(levels[groups[-1][1]][: row + 1]) == key:
            groups[-1] = (groups[-1][0], groups[-1][1], j)
        else:
            groups.append((col[row], j, j))
    return groups


def _flat_header(col: list[str]) -> str:
    return " / ".join(part for part in col if part)


def _run_words(params: Mapping[str, Any]) -> str:
    scale = params.get("scale")
    seeds = params.get("seeds", [params["seed"]] if "seed" in params else None)
    parts = []
    if scale:
        parts.append(f"{scale} scale ({SCALE_NOTES.get(scale, 'see the README')})")
    if seeds is not None:
        parts.append(f"seed{'s' if len(seeds) > 1 else ''} {', '.join(map(str, seeds))}"
                     + (" (mean ± std over seeds)" if len(seeds) > 1 else ""))
    return "; ".join(parts)


def paper_of(notebook: str) -> str | None:
    """The paper a notebook reproduces (``lmac`` / ``pamfn`` / ``mlavl`` / ``vatp``), from its name."""
    prefixes = {"lmac_": "lmac", "ablation_": "lmac", "alignment_": "lmac", "case_study": "lmac",
                "pamfn_": "pamfn", "mlavl_": "mlavl", "vatp": "vatp"}
    return next((paper for prefix, paper in prefixes.items() if notebook.startswith(prefix)), None)


def _has_protocols(table: Table) -> bool:
    labels = {part for col in table.columns for part in col}
    return bool({"papers", "last"} & labels)


def footnote_parts(table: Table) -> list[tuple[str, str]]:
    """The table's footnote as (label, text) pairs: data, run, protocols, source, and the synthetic warning."""
    parts = [(f"Data ({table.data})", table.provenance)]
    run = _run_words(table.parameters)
    if run:
        parts.append(("Run", run))
    if _has_protocols(table):
        parts.append(("Columns", PROTOCOL_NOTE))
    dataset = table.parameters.get("dataset")
    source = f"notebook {table.notebook}" if table.notebook else "no notebook recorded"
    if dataset in DATASET_NAMES:
        source += f"; dataset {DATASET_NAMES[dataset]}"
        if "synthetic" in table.data:
            source += " (the embedded synthetic stand-in, not the released data)"
    parts.append(("Source", source))
    if "synthetic" in table.data:
        parts.append(("Note", NOT_A_REPRODUCTION))
    return parts


def _md_escape(text: str) -> str:
    return re.sub(r"([\\`*_|<>\[\]])", r"\\\1", text).replace("\n", " ")


def table_markdown(table: Table) -> str:
    """The table as a GitHub-flavoured Markdown pipe table under its title, with its provenance footnote."""
    rows = _shown_rows(table)
    numeric = _numeric_columns(table)
    header = [_md_escape(_flat_header(c)) for c in table.columns]
    lines = [f"### {_md_escape(table.title)}", "",
             "| " + " | ".join(header) + " |",
             "|" + "|".join("--:" if n else ":--" for n in numeric) + "|"]
    lines += ["| " + " | ".join(_md_escape(c) for c in row) + " |" for row in rows]
    lines.append("")
    lines += [f"*{label}:* {_md_escape(text)}  " for label, text in footnote_parts(table)]
    lines[-1] = lines[-1].rstrip()
    return "\n".join(lines).rstrip() + "\n"


_LATEX_SPECIAL = {
    "\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{",
    "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "<": r"\textless{}",
    ">": r"\textgreater{}", "|": r"\textbar{}", "\u00a0": "~",
    "±": r"\ensuremath{\pm}", "×": r"\ensuremath{\times}", "−": r"\ensuremath{-}", "·": r"\ensuremath{\cdot}",
    "→": r"\ensuremath{\rightarrow}", "←": r"\ensuremath{\leftarrow}", "≈": r"\ensuremath{\approx}",
    "≤": r"\ensuremath{\leq}", "≥": r"\ensuremath{\geq}", "≠": r"\ensuremath{\neq}", "∞": r"\ensuremath{\infty}",
    "ρ": r"\ensuremath{\rho}", "α": r"\ensuremath{\alpha}", "β": r"\ensuremath{\beta}",
    "γ": r"\ensuremath{\gamma}", "δ": r"\ensuremath{\delta}", "Δ": r"\ensuremath{\Delta}",
    "λ": r"\ensuremath{\lambda}", "μ": r"\ensuremath{\mu}", "ξ": r"\ensuremath{\xi}", "σ": r"\ensuremath{\sigma}",
    "τ": r"\ensuremath{\tau}", "ℓ": r"\ensuremath{\ell}", "²": r"\textsuperscript{2}", "³": r"\textsuperscript{3}",
    "°": r"\ensuremath{^\circ}", "—": "---", "–": "--", "…": r"\dots{}", "’": "'", "‘": "`", "“": "``",
    "”": "''", "✓": r"\checkmark{}", "✗": "x",
}


def latex_escape(text: str) -> str:
    """``text`` safe inside LaTeX: the ten special characters escaped, ``±``, ``ρ``, dashes and other symbols
    the tables use written as LaTeX commands (accented letters stay UTF-8)."""
    return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in str(text))


def _latex_cell(text: str, numeric: bool) -> str:
    """A body cell: escaped; in a number column a leading hyphen becomes a real minus sign."""
    if numeric and text.startswith("-") and text != "-":
        return r"\ensuremath{-}" + latex_escape(text[1:])
    return latex_escape(text)


def _latex_label(stem: str) -> str:
    return re.sub(r"[^A-Za-z0-9:-]+", "-", stem)


def _latex_footnote(table: Table) -> str:
    parts = []
    for label, text in footnote_parts(table):
        body = latex_escape(text)
        if label == "Source":
            dataset = table.parameters.get("dataset")
            if dataset in DATASET_KEYS:
                body = body.replace(latex_escape(DATASET_NAMES[dataset]),
                                    latex_escape(DATASET_NAMES[dataset]) + f"~\\cite{{{DATASET_KEYS[dataset]}}}", 1)
            paper = paper_of(table.notebook)
            if paper in PAPER_KEYS and ("reported" in table.provenance.lower() or "reported" in
                                        {p for c in table.columns for p in c}):
                body += f"; reported numbers: {latex_escape(PAPER_TITLES[paper])}~\\cite{{{PAPER_KEYS[paper]}}}"
        parts.append(f"\\textit{{{label}:}} {body}" + ("" if body.endswith(".") else "."))
    return " ".join(parts)


def table_latex(table: Table, *, source: str = "") -> str:
    """The table as a LaTeX ``table`` (booktabs rules, a ``\\cmidrule`` under each header group, shrunk to the
    line width when wider) with its provenance as a footnote below. Needs ``booktabs`` and ``graphicx``."""
    rows = _shown_rows(table)
    numeric = _numeric_columns(table)
    levels = _levels(table)
    depth = len(levels[0]) if levels else 1
    spec = "".join("r" if n else "l" for n in numeric)
    head: list[str] = []
    for r in range(depth):
        cells, rules = [], []
        for label, first, last in _groups(levels, r):
            span = last - first + 1
            if r < depth - 1 and label:
                cells.append(f"\\multicolumn{{{span}}}{{c}}{{{latex_escape(label)}}}")
                rules.append(f"\\cmidrule(lr){{{first + 1}-{last + 1}}}")
            else:
                cells += [latex_escape(levels[j][r]) for j in range(first, last + 1)]
        if any(cells):
            head.append(" & ".join(cells) + r" \\")
            if rules:
                head.append(" ".join(rules))
    body = [" & ".join(_latex_cell(c, j < len(numeric) and numeric[j]) for j, c in enumerate(row)) + r" \\"
            for row in rows]
    origin = f"% {table.stem}.tex, written by python -m aqa_lib.writeup"
    if source:
        origin += f" from {source}"
    return "\n".join([
        origin,
        "% Needs \\usepackage{booktabs} and \\usepackage{graphicx}.",
        r"\begin{table}[htbp]",
        r"  \centering",
        f"  \\caption{{{latex_escape(table.title)}}}\\label{{tab:{_latex_label(table.stem)}}}",
        r"  \resizebox{\ifdim\width>\linewidth\linewidth\else\width\fi}{!}{%",
        f"  \\begin{{tabular}}{{@{{}}{spec}@{{}}}}",
        r"  \toprule",
        *[f"  {line}" for line in head],
        r"  \midrule",
        *[f"  {line}" for line in body],
        r"  \bottomrule",
        r"  \end{tabular}}",
        r"  \par\smallskip",
        f"  \\parbox{{\\linewidth}}{{\\footnotesize {_latex_footnote(table)}}}",
        r"\end{table}",
        "",
    ])


def figure_latex(fig: Figure) -> str:
    """A LaTeX ``figure`` environment for the figure's PDF (PNG when no PDF was written), captioned with its
    title and provenance."""
    path = f"figures/{fig.stem}.pdf" if fig.pdf else f"figures/{fig.name}"
    caption = latex_escape(fig.title or fig.stem)
    data = latex_escape(fig.stamp or fig.provenance or "provenance not recorded")
    return "\n".join([
        r"\begin{figure}[htbp]",
        r"  \centering",
        f"  \\includegraphics[width=\\linewidth]{{{path}}}",
        f"  \\caption{{{caption}. \\textit{{{data}}} (notebook {latex_escape(fig.notebook)}).}}"
        f"\\label{{fig:{_latex_label(fig.stem)}}}",
        r"\end{figure}",
        "",
    ])


def table_html(table: Table) -> str:
    """The table as an HTML ``<table>`` (grouped header cells) inside a scrolling ``<div>``."""
    rows = _shown_rows(table)
    numeric = _numeric_columns(table)
    levels = _levels(table)
    depth = len(levels[0]) if levels else 1
    single = [all(not part for part in col[:-1]) for col in levels]
    head = []
    for r in range(depth):
        cells = []
        for label, first, last in _groups(levels, r):
            for j in range(first, last + 1) if r == depth - 1 or not label else [first]:
                if single[j]:
                    if r == 0:
                        cells.append(f"<th rowspan='{depth}' class='{'num' if numeric[j] else ''}'>"
                                     f"{html.escape(levels[j][-1])}</th>")
                    continue
                if r == depth - 1 or not label:
                    cells.append(f"<th class='{'num' if numeric[j] else ''}'>{html.escape(levels[j][r])}</th>")
                else:
                    cells.append(f"<th colspan='{last - first + 1}' class='group'>{html.escape(label)}</th>")
        head.append("<tr>" + "".join(cells) + "</tr>")
    body = []
    for row in rows:
        cells = []
        for j, cell in enumerate(row):
            tag = "th" if j < table.index_columns else "td"
            cls = " class='num'" if j < len(numeric) and numeric[j] else ""
            cells.append(f"<{tag}{cls}>{html.escape(cell)}</{tag}>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return ("<div class='scroll'><table class='booktabs'><thead>" + "".join(head) + "</thead><tbody>"
            + "".join(body) + "</tbody></table></div>")


# --------------------------------------------------------------------------------------------------------------
# The page
# --------------------------------------------------------------------------------------------------------------

CSS = """
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;color:#1d1d1f;
margin:0;background:#f6f6f4}
main{max-width:1180px;margin:0 auto;padding:24px 28px 60px;background:#fff;min-height:100vh}
h1{font-size:26px;margin:0 0 4px}h2{font-size:21px;margin:40px 0 6px;padding-top:10px;border-top:2px solid #ddd}
h3{font-size:16px;margin:26px 0 6px}
.meta,.small{color:#555;font-size:13px}
.banner{padding:10px 14px;border-radius:6px;margin:12px 0;font-size:14px}
.banner.smoke{background:#fdecea;border:1px solid #e0a39c;color:#8a1f11}
.banner.info{background:#eef4fb;border:1px solid #b7cde6}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;font-weight:600;margin-right:6px;
vertical-align:1px}
.badge.synthetic{background:#fff1cc;color:#7a5600}.badge.real{background:#dcf3e2;color:#17612f}
.badge.reported{background:#e8e8e8;color:#444}.badge.smoke{background:#fdecea;color:#a32a1a}
.badge.failed{background:#a32a1a;color:#fff}.badge.ok{background:#dcf3e2;color:#17612f}
.scroll{overflow-x:auto;margin:6px 0}
table.booktabs{border-collapse:collapse;font-size:13px;border-top:2px solid #222;border-bottom:2px solid #222}
table.booktabs thead tr:last-child th{border-bottom:1px solid #222}
table.booktabs th,table.booktabs td{padding:3px 9px;text-align:left;white-space:nowrap;vertical-align:bottom}
table.booktabs thead th{white-space:normal;max-width:11em;line-height:1.25}
table.booktabs th.group{text-align:center;border-bottom:1px solid #999}
table.booktabs .num{text-align:right;font-variant-numeric:tabular-nums}
table.booktabs tbody th{font-weight:normal}
table.booktabs tbody tr:nth-child(even){background:#fafafa}
table.runs{border-collapse:collapse;font-size:13px;margin:8px 0}
table.runs th,table.runs td{border-bottom:1px solid #ddd;padding:4px 10px;text-align:left;vertical-align:top}
.foot{font-size:12.5px;color:#444;margin:4px 0 0;max-width:1100px}
dl.foot{display:grid;grid-template-columns:max-content 1fr;column-gap:12px;row-gap:1px}
.foot dt{font-weight:600}.foot dd{margin:0}
.files a{margin-right:10px;font-size:12.5px}
figure{margin:18px 0 8px}figure img{max-width:100%;height:auto;border:1px solid #e2e2e2}
figcaption{font-size:13px;color:#333;margin-top:4px}
nav.toc{columns:2;font-size:14px;margin:8px 0}nav.toc a{text-decoration:none}
.warn{color:#8a1f11}
code{font-size:12.5px;background:#f2f2f2;padding:0 3px;border-radius:3px}
ol.refs li{margin:4px 0;font-size:13.5px}
"""


def _badge(kind: str) -> str:
    cls = "reported" if kind in ("reported only", "unspecified") else kind.split()[0]
    return f"<span class='badge {cls}'>{html.escape(kind)}</span>"


def _footnote_html(table: Table) -> str:
    items = "".join(f"<dt>{html.escape(label)}</dt><dd>{html.escape(text)}</dd>"
                    for label, text in footnote_parts(table))
    return f"<dl class='foot'>{items}</dl>"


def _params_text(params: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in params.items())


def page_html(bundle: Bundle, *, generated: str, code_version: str) -> str:
    """``index.html``: a summary of the runs, then per notebook its tables and figures with provenance."""
    scales = sorted({r.scale for r in bundle.runs if r.scale})
    smoke = "smoke" in scales
    kinds = sorted({t.data for t in bundle.tables})
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        f"<title>aqa-companion write-up ({', '.join(scales) or 'unknown'} scale)</title>",
        f"<style>{CSS}</style></head><body><main>",
        "<h1>aqa-companion: reproduced tables and figures</h1>",
        f"<p class='meta'>Written {html.escape(generated)} by <code>python -m aqa_lib.writeup</code> · code version "
        f"<code>{html.escape(code_version)}</code> · scale: {html.escape(', '.join(scales) or 'not recorded')} · "
        f"{len(bundle.runs)} notebooks, {len(bundle.tables)} tables, {len(bundle.figures)} figures · "
        "<a href='references.bib'>references.bib</a> · <a href='tables.md'>tables.md</a> · "
        "<a href='tables.tex'>tables.tex</a> · <a href='figures.tex'>figures.tex</a> · "
        "<a href='manifest.json'>manifest.json</a></p>",
    ]
    if smoke:
        parts.append("<div class='banner smoke'><b>Smoke scale: numbers meaningless.</b> Smoke runs use tiny models "
                     "trained for two epochs: this page shows that every table and figure is produced, not what the "
                     "methods achieve. Run <code>make report</code> (quick scale) for numbers worth reading.</div>")
    parts.append(
        "<div class='banner info'>Every number is labelled with the data it was computed on "
        f"({' · '.join(_badge(k) for k in kinds)}). <b>reported</b> columns are the papers' printed numbers on "
        "their data; <b>papers</b> is our run's best test epoch (the papers' protocol, which selects the epoch on "
        "the test set, so it is optimistic); <b>last</b> is our run's last epoch. "
        f"{html.escape(NOT_A_REPRODUCTION)}</div>")
    parts.append("<h2 id='runs'>Runs</h2><table class='runs'><thead><tr><th>notebook</th><th>status</th>"
                 "<th>parameters</th><th>ran</th><th>tables</th><th>figures</th><th>executed notebook</th>"
                 "</tr></thead><tbody>")
    for run in bundle.runs:
        n_tab = sum(t.notebook == run.name for t in bundle.tables)
        n_fig = sum(f.notebook == run.name for f in bundle.figures)
        status = "<span class='badge failed'>failed</span>" if run.failed else "<span class='badge ok'>ok</span>"
        when = run.start.strftime("%Y-%m-%d %H:%M UTC") if run.start else "—"
        took = f" ({run.duration:.0f} s)" if isinstance(run.duration, int | float) else ""
        parts.append(f"<tr><td><a href='#nb-{run.name}'>{html.escape(run.name)}</a></td><td>{status}</td>"
                     f"<td><code>{html.escape(_params_text(run.parameters))}</code></td><td>{when}{took}</td>"
                     f"<td>{n_tab}</td><td>{n_fig}</td><td><a href='notebooks/{run.name}.ipynb'>"
                     f"{html.escape(run.name)}.ipynb</a></td></tr>")
    parts.append("</tbody></table>")
    for run in bundle.runs:
        tables = [t for t in bundle.tables if t.notebook == run.name]
        figures = [f for f in bundle.figures if f.notebook == run.name]
        paper = paper_of(run.name)
        subtitle = f" · {PAPER_TITLES[paper]}" if paper else ""
        parts.append(f"<h2 id='nb-{run.name}'>{html.escape(run.name)}<span class='small'>{html.escape(subtitle)}"
                     "</span></h2>")
        parts.append(f"<p class='meta'>Executed notebook: <a href='notebooks/{run.name}.ipynb'>notebooks/"
                     f"{html.escape(run.name)}.ipynb</a> · parameters <code>{html.escape(_params_text(run.parameters))}"
                     f"</code>{' · ' + _badge('smoke') if run.scale == 'smoke' else ''}</p>")
        for note in bundle.notes.get(run.name, []):
            parts.append(f"<p class='warn small'>Note: {html.escape(note)}.</p>")
        for t in tables:
            parts.append(f"<h3 id='table-{t.stem}'>{_badge(t.data)}{html.escape(t.title)}</h3>")
            parts.append(table_html(t))
            parts.append(_footnote_html(t))
            parts.append(f"<p class='files'><a href='tables/{t.stem}.md'>Markdown</a><a href='tables/{t.stem}.tex'>"
                         f"LaTeX</a><a href='tables/{t.stem}.csv'>CSV</a><a href='tables/{t.stem}.json'>JSON</a>"
                         "</p>")
        for f in figures:
            kind = data_kind(f.provenance) if f.provenance else "unspecified"
            links = f"<a href='figures/{f.name}'>PNG</a>" + (f"<a href='figures/{f.stem}.pdf'>PDF</a>" if f.pdf else "")
            parts.append(f"<figure id='figure-{f.stem}'><img src='figures/{f.name}' alt='{html.escape(f.title or f.stem)}'>"
                         f"<figcaption>{_badge(kind)}<b>{html.escape(f.title or f.stem)}</b><br>"
                         f"{html.escape(f.stamp or f.provenance or 'provenance: see the line under the figure')}"
                         f"<br><span class='files'>{links}</span> <code>{html.escape(f.name)}</code></figcaption>"
                         "</figure>")
    parts.append("<h2 id='references'>References</h2><p class='small'>BibTeX: <a href='references.bib'>"
                 "references.bib</a> (facts from the papers' own title pages and reference lists).</p><ol class='refs'>")
    parts += [f"<li>{_reference_html(ref)}</li>" for ref in REFERENCES]
    parts.append("</ol></main></body></html>\n")
    return "\n".join(parts)


# --------------------------------------------------------------------------------------------------------------
# Build and run
# --------------------------------------------------------------------------------------------------------------


def _prepare_out(out: Path) -> None:
    """Empty ``out`` when this module wrote it before; refuse a non-empty folder it did not write."""
    if out.exists():
        if not out.is_dir():
            raise WriteupError(f"--out {out} is a file; pass a folder (default: report).")
        if any(out.iterdir()):
            if not (out / MARKER).exists():
                raise WriteupError(f"--out {out} is not empty and was not written by aqa_lib.writeup; pass a new or "
                                   "empty folder (default: report).")
            shutil.rmtree(out)
    for sub in ("tables", "figures", "notebooks"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    (out / MARKER).write_text("This folder is written by python -m aqa_lib.writeup and emptied on every build.\n")


def build(bundle: Bundle, out: Path | str) -> dict[str, Any]:
    """Write the report folder ``out`` from ``bundle``; returns what it wrote (also ``out/manifest.json``)."""
    from .cache import code_version

    out = Path(out)
    _prepare_out(out)
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    version = code_version()
    md_all = ["# aqa-companion: reproduced tables", "",
              f"Written {generated} by `python -m aqa_lib.writeup` (code version `{version}`). {NOT_A_REPRODUCTION}",
              ""]
    tex_all = ["% tables.tex, written by python -m aqa_lib.writeup: every table; needs booktabs and graphicx.", ""]
    manifest: dict[str, Any] = {"generated": generated, "code_version": version, "notebooks": [], "tables": [],
                                "figures": [], "notes": bundle.notes}
    for run in bundle.runs:
        shutil.copyfile(run.path, out / "notebooks" / f"{run.name}.ipynb")
        manifest["notebooks"].append({"name": run.name, "file": f"notebooks/{run.name}.ipynb",
                                      "parameters": run.parameters, "failed": run.failed,
                                      "start": run.start.isoformat() if run.start else None,
                                      "duration_s": run.duration})
    for t in bundle.tables:
        source = f"notebook {t.notebook} ({t.csv_path.name})"
        (out / "tables" / f"{t.stem}.md").write_text(table_markdown(t))
        (out / "tables" / f"{t.stem}.tex").write_text(table_latex(t, source=source))
        shutil.copyfile(t.csv_path, out / "tables" / f"{t.stem}.csv")
        shutil.copyfile(t.csv_path.with_suffix(".json"), out / "tables" / f"{t.stem}.json")
        md_all += [table_markdown(t), ""]
        tex_all += [table_latex(t, source=source), ""]
        manifest["tables"].append({"stem": t.stem, "title": t.title, "notebook": t.notebook, "data": t.data,
                                   "provenance": t.provenance, "scale": t.scale, "seeds": t.seeds,
                                   "files": [f"tables/{t.stem}.{ext}" for ext in ("md", "tex", "csv", "json")]})
    fig_tex = ["% figures.tex, written by python -m aqa_lib.writeup: every figure; needs graphicx.", ""]
    for f in bundle.figures:
        shutil.copyfile(f.png, out / "figures" / f.name)
        files = [f"figures/{f.name}"]
        if f.pdf:
            shutil.copyfile(f.pdf, out / "figures" / f.pdf.name)
            files.append(f"figures/{f.pdf.name}")
        fig_tex.append(figure_latex(f))
        manifest["figures"].append({"name": f.name, "title": f.title, "notebook": f.notebook,
                                    "data": data_kind(f.provenance) if f.provenance else "unspecified",
                                    "provenance": f.provenance, "stamp": f.stamp, "files": files})
    (out / "tables.md").write_text("\n".join(md_all))
    (out / "tables.tex").write_text("\n".join(tex_all))
    (out / "figures.tex").write_text("\n".join(fig_tex))
    (out / "references.bib").write_text(bibtex())
    (out / "index.html").write_text(page_html(bundle, generated=generated, code_version=version))
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1, ensure_ascii=False, default=str) + "\n")
    return manifest


def run_notebooks(notebooks: Sequence[str], *, scale: str, params: Mapping[str, Any], tables_dir: Path,
                  executed_dir: Path, jobs: int | str | None = "auto") -> int:
    """Execute ``notebooks`` with the runner, ``jobs`` at a time (:func:`aqa_lib.runner.render_jobs`), with
    ``$AQA_TABLES_OUT`` and ``$AQA_FIGURE_FORMATS=png,pdf`` set for their kernels (their training runs hit the
    cache). Returns the runner's exit code."""
    from . import runner

    books = [runner.notebooks_dir() / f"{name}.ipynb" for name in notebooks]
    env = {TABLES_ENV: str(Path(tables_dir).resolve()), FIGURE_FORMATS_ENV: "png,pdf"}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        return runner.run(books, scale=scale, params=dict(params), out_dir=Path(executed_dir), jobs=jobs)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _literal(text: str) -> object:
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def main(argv: Sequence[str] | None = None) -> int:
    """The command line (module docstring). Exit code 0; 1 when a notebook failed (the report is still
    written from the others); 2 on bad input, with the message saying the fix."""
    root = repo_root() or Path.cwd()
    parser = argparse.ArgumentParser(prog="python -m aqa_lib.writeup", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", choices=["smoke", "quick", "paper"], default=None,
                        help="scale to run the notebooks at (default quick; with --no-run: whatever they last ran at)")
    parser.add_argument("--only", nargs="+", metavar="NOTEBOOK", help="notebook stems (default: all)")
    parser.add_argument("--out", default=str(root / "report"), help="report folder (default report/)")
    parser.add_argument("--no-run", action="store_true", help="build from what the last runs wrote; run nothing")
    parser.add_argument("-p", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                        help="parameter passed to every notebook that declares it (as the runner does)")
    parser.add_argument("--tables-dir", default=os.environ.get(TABLES_ENV) or str(root / "out" / "tables"),
                        help=f"where the notebooks write their tables (default ${TABLES_ENV} or out/tables)")
    parser.add_argument("--notebooks-dir", default=str(root / "out" / "notebooks"),
                        help="executed notebooks (default out/notebooks, where the runner writes them)")
    parser.add_argument("--jobs", default="auto",
                        help="notebooks executed at once (default auto: one per CPU core; 1: one after the other)")
    args = parser.parse_args(argv)
    tables_dir, executed_dir = Path(args.tables_dir), Path(args.notebooks_dir)
    t0 = time.perf_counter()
    rc = 0
    try:
        available = available_notebooks()
        if args.only:
            names = check_notebooks(args.only, available)
        elif args.no_run:
            names = [n for n in available if (executed_dir / f"{n}.ipynb").exists()]
        else:
            names = available
        if args.no_run and args.p:
            raise WriteupError("-p has no effect with --no-run (nothing runs); drop one of them.")
        if not args.no_run:
            scale = args.scale or "quick"
            print(f"[writeup] running {len(names)} notebooks at {scale} scale (tables → {tables_dir}, figures → "
                  f"{figures_dir()}, PNG + PDF)", flush=True)
            rc = run_notebooks(names, scale=scale, params={k: _literal(v) for k, v in args.p},
                               tables_dir=tables_dir, executed_dir=executed_dir, jobs=args.jobs)
            if rc:
                print("[writeup] some notebooks failed: the report shows the others and names the failures",
                      flush=True)
        ran = time.perf_counter() - t0
        bundle = collect(names, tables_dir=tables_dir, figures_dir=figures_dir(), executed_dir=executed_dir,
                         scale=None if args.no_run and args.scale is None else (args.scale or "quick"))
        build(bundle, args.out)
    except WriteupError as exc:
        print(f"writeup: error: {exc}", file=sys.stderr)
        return 2
    failed = [r.name for r in bundle.runs if r.failed]
    print(f"[writeup] {args.out}: {len(bundle.tables)} tables, {len(bundle.figures)} figures from "
          f"{len(bundle.runs)} notebooks (ran {ran:.0f} s, built {time.perf_counter() - t0 - ran:.1f} s); open "
          f"{Path(args.out) / 'index.html'}" + (f"; failed: {', '.join(failed)}" if failed else ""))
    return 1 if rc or failed else 0


if __name__ == "__main__":
    sys.exit(main())
