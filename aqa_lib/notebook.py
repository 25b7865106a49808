"""Conventions every companion notebook follows (parameters, scale, device, threads, labelled tables and figures).

A notebook's first code cell is tagged ``parameters`` (papermill injects overrides after it) and holds only
literals, e.g.::

    dataset = "fisv"       # rg | fisv | ...
    target = "TES"
    source = "synthetic"   # synthetic | real
    data_root = ""         # folder of real features when source == "real"
    scale = "auto"         # smoke | quick | paper | auto
    seeds = [0]
    device = "auto"        # auto | cpu | cuda

The next cell calls :func:`check_params` with *every* parameter and ``namespace=globals()``. It

- stops on a misspelt parameter name (papermill only *warns* on unknown ``-p`` keys and then runs the
  defaults), naming the closest declared one;
- reads list parameters given as text (``papermill -p seeds "[0, 1, 2]"`` passes the string ``"[0, 1, 2]"``);
- fails with a clear message on unknown values, and resolves ``scale="auto"`` (``AQA_SCALE`` if set, else
  ``smoke`` under CI, where nbval cannot pass parameters, else ``quick``) and ``device="auto"``;
- applies the thread policy (:func:`apply_thread_policy`: one CPU thread per notebook unless
  ``AQA_THREADS`` says otherwise) and remembers the parameters for the figures' file names and manifest.

Every table and figure carries the data's provenance (synthetic or real, and from where): use
:func:`show_table` and :func:`save_figure`, which refuse to work without one. :func:`save_figure` names the
file after the data source, scale and seeds when they differ from the defaults (so a 2-seed or real-data
run never overwrites another), marks smoke-scale figures, and records every figure in
``figures/manifest.csv`` (figure, notebook, parameters, code version, date) and its provenance in
``figures/provenance.csv``. With ``$AQA_FIGURE_FORMATS=png,pdf`` a figure is also written as vector PDF;
with ``$AQA_TABLES_OUT`` set, :func:`show_table` also writes each table it shows as CSV plus a JSON sidecar
(title, provenance, parameters) there (:func:`save_table`), which ``python -m aqa_lib.writeup`` turns into
Markdown, LaTeX and one HTML page.

Where a notebook's prose quotes numbers its default run measured ("Measured once at `quick` scale ..."), a
cell near its end lists those quotes in :func:`check_quoted`, which prints a ``STALE TEXT`` line for each one
the run no longer gives (the runner lists them), so an engine or recipe change cannot leave the text quietly
wrong.

The ablation-table notebooks share one skeleton, :func:`run_paper_table` → :class:`TableStudy` (train or
fetch every row, show reported vs reproduced, draw the bar chart), so a notebook keeps only what is
particular to its table.
"""

from __future__ import annotations

import ast
import contextlib
import csv
import difflib
import hashlib
import json
import math
import os
import re
import textwrap
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from .paths import figures_dir

SCALES = ("smoke", "quick", "paper")
SOURCES = ("synthetic", "real")
DEVICES = ("auto", "cpu", "cuda")
DEFAULTS: dict[str, Any] = {"source": "synthetic", "scale": "quick", "seeds": [0], "seed": 0, "epochs": 0}
"""The parameter values a figure's file name does not mention (``make``'s defaults)."""
LIST_PARAMETERS = ("seeds", "ks", "videos")
"""Parameters that hold lists of integers (a single integer is read as a one-element list)."""
PAPERMILL_MARKER = "# Parameters"
"""First line of the cell papermill injects after the cell tagged ``parameters``."""
MANIFEST = "manifest.csv"
MANIFEST_COLUMNS = ["figure", "notebook", "parameters", "code_version", "date"]
FIGURE_PROVENANCE = "provenance.csv"
FIGURE_PROVENANCE_COLUMNS = ["figure", "notebook", "order", "title", "provenance", "stamp", "formats"]
"""``figures/provenance.csv``: per figure, what it shows and where its data came from (for the write-up)."""
FIGURE_FORMATS_ENV = "AQA_FIGURE_FORMATS"
FIGURE_FORMATS = ("png", "pdf", "svg")
"""Formats :func:`save_figure` can write; PNG is always written (the manifest and the notebooks show it)."""
TABLES_ENV = "AQA_TABLES_OUT"
"""When set, :func:`show_table` also writes every table it shows into this folder (:func:`save_table`). Not
``AQA_TABLES_DIR``: that one points :mod:`aqa_lib.tables` at another copy of the papers' reported tables."""
TABLE_FORMAT = "aqa-companion table 1"
SMOKE_MARK = "smoke scale: numbers meaningless (a check that everything runs)"

_CONTEXT: dict[str, Any] = {"notebook": "", "params": {}, "tables": {}, "figures": 0}
"""The parameters :func:`check_params` resolved last (this kernel's notebook), for :func:`save_figure`, the
table files :func:`save_table` wrote since then (``stem -> title``) and how many figures were saved."""


# --------------------------------------------------------------------------------------------------------------
# Parameters
# --------------------------------------------------------------------------------------------------------------


def resolve_scale(scale: str) -> str:
    """``auto`` → ``$AQA_SCALE`` if set, else ``smoke`` when ``$CI`` is set, else ``quick``."""
    if scale == "auto":
        env = os.environ.get("AQA_SCALE")
        if env:
            scale = env
        elif os.environ.get("CI"):
            scale = "smoke"
        else:
            scale = "quick"
    if scale not in SCALES:
        raise ValueError(f"Unknown scale {scale!r}; valid: auto, {', '.join(SCALES)}.")
    return scale


def resolve_device(device: str) -> str:
    """``auto`` → ``cuda`` when a GPU is visible, else ``cpu``; ``cuda`` without a GPU is an error."""
    import torch

    if device not in DEVICES:
        raise ValueError(f"Unknown device {device!r}; valid: {', '.join(DEVICES)}.")
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("device='cuda' was requested but no CUDA GPU is visible; use device='cpu' or 'auto'.")
    return device


def apply_thread_policy(device: str = "cpu") -> int:
    """The one place the companion sets PyTorch's CPU threads: ``$AQA_THREADS`` if set, else 1.

    One thread per notebook is the fastest setting measured on small shared CPUs (the models are small, so
    several threads mostly wait on each other; PAMFN's recipe notes in ``aqa_lib/models/pamfn.py`` measured
    two threads ~10× slower than one), and it keeps runs deterministic. On CUDA the GPU does the work and one host thread
    is enough too. NumPy's BLAS (the synthetic generator, scikit-learn baselines) gets the same limit through
    ``threadpoolctl``: uncapped, generating a course lesson's data took 360 s instead of 63 s on two busy cores.
    Returns the number of threads set.
    """
    import torch
    from threadpoolctl import threadpool_limits

    raw = os.environ.get("AQA_THREADS", "1")
    try:
        n = int(raw)
    except ValueError:
        raise ValueError(f"AQA_THREADS must be a positive integer, got {raw!r}.") from None
    if n < 1:
        raise ValueError(f"AQA_THREADS must be a positive integer, got {raw!r}.")
    torch.set_num_threads(n)
    threadpool_limits(n)  # process-wide from here on (not a context): the notebook's BLAS calls follow it
    return n


def check_choice(name: str, value: Any, valid: Iterable[Any]) -> Any:
    """Return ``value`` if it is one of ``valid``, else raise ValueError listing the valid values."""
    valid = list(valid)
    if value not in valid:
        close = difflib.get_close_matches(str(value), [str(v) for v in valid], n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ValueError(f"Unknown {name} {value!r}{hint}; valid values: {', '.join(map(str, valid))}.")
    return value


def parse_list(name: str, value: Any) -> list[int]:
    """A list-of-integers parameter as a list: accepts a list, a tuple, one integer, or the text papermill
    passes for ``-p seeds "[0, 1, 2]"`` (also ``"0, 1, 2"`` and ``"0 1 2"``)."""
    original = value
    if isinstance(value, str):
        text = value.strip()
        if not text.startswith(("[", "(")):
            text = "[" + ",".join(text.replace(",", " ").split()) + "]"
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            raise ValueError(f"{name} must be a list of non-negative integers; cannot read {original!r} "
                             f"(write e.g. -p {name} \"[0, 1, 2]\").") from None
    if isinstance(value, int) and not isinstance(value, bool):
        value = [value]
    if isinstance(value, tuple):
        value = list(value)
    if not (isinstance(value, list) and value and all(isinstance(v, int) and not isinstance(v, bool) and v >= 0
                                                      for v in value)):
        raise ValueError(f"{name} must be a non-empty list of non-negative integers, got {original!r} "
                         f"(write e.g. -p {name} \"[0, 1, 2]\").")
    return value


def parse_targets(dataset: str, value: Any) -> list[str] | str:
    """The ``targets`` parameter: ``"paper"`` (kept: the targets the notebook's paper table reports, resolved
    by :func:`table_targets`), ``"all"`` (every target of ``dataset``), or a list of target names, also as the
    text papermill passes (``-p targets "[TES, PCS]"``, ``"TES PCS"``, ``"TES,PCS"``); names are checked."""
    from .data.registry import get_spec

    spec = get_spec(dataset)
    if isinstance(value, str):
        text = value.strip()
        if text in ("paper", "all"):
            return list(spec.targets) if text == "all" else "paper"
        value = [w.strip("'\" ") for w in text.strip("[]()").replace(",", " ").split() if w.strip("'\" ")]
    if isinstance(value, tuple):
        value = list(value)
    if not (isinstance(value, list) and value and all(isinstance(v, str) for v in value)):
        raise ValueError(f"targets must be 'paper', 'all' or a non-empty list of target names of {spec.name} "
                         f"({', '.join(spec.targets)}), got {value!r}.")
    return [spec.check_target(v) for v in dict.fromkeys(value)]


def table_targets(paper: str, table: str, dataset: str, targets: Sequence[str] | str = "paper") -> list[str]:
    """The targets to train for one paper table: ``"paper"`` → those the table prints for ``dataset`` (all of
    the dataset's when it prints only ``Avg.``, e.g. MLAVL's RG-Avg.), in the dataset's order; a list → itself.
    """
    from .data.registry import get_spec
    from .tables import reported

    spec = get_spec(dataset)
    if targets != "paper":
        return [spec.check_target(t) for t in targets]
    rep = reported(paper, table)
    printed = set(rep.loc[rep["dataset"] == spec.name, "target"]) - {"Avg.", "all"}
    if rep[rep["dataset"] == spec.name].empty:
        raise ValueError(f"{PAPER_TITLES.get(paper, paper)} {table_label(table)} reports nothing on {spec.name}.")
    return [t for t in spec.targets if t in printed] or list(spec.targets)


def injected_parameters(namespace: Mapping[str, Any]) -> list[str]:
    """Names papermill assigned in this kernel: the assignments of every executed cell that starts with
    papermill's ``# Parameters`` line (IPython keeps the executed cells in ``In``)."""
    names: list[str] = []
    for source in namespace.get("In", None) or []:
        if not isinstance(source, str) or not source.lstrip().startswith(PAPERMILL_MARKER):
            continue
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        for node in tree.body:
            if isinstance(node, ast.Assign):
                names += [t.id for t in node.targets if isinstance(t, ast.Name) and t.id not in names]
    return names


def check_unknown_params(namespace: Mapping[str, Any], declared: Iterable[str]) -> None:
    """Stop on a parameter papermill injected that the notebook does not declare (e.g. ``-p datset rg``),
    naming the closest declared one: papermill only warns and would run the defaults."""
    declared = list(declared)
    unknown = [n for n in injected_parameters(namespace) if n not in declared]
    if not unknown:
        return
    parts = []
    for name in unknown:
        close = difflib.get_close_matches(name, declared, n=1, cutoff=0.6)
        parts.append(f"{name!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
    raise ValueError(f"Unknown parameter {', '.join(parts)}: this notebook's parameters are "
                     f"{', '.join(declared)}. papermill only warns about an unknown -p name and would run the "
                     "defaults; fix the name and run again.")


def check_params(params: Mapping[str, Any], *, choices: Mapping[str, Iterable[Any]] | None = None,
                 namespace: dict[str, Any] | None = None, notebook: str = "") -> dict[str, Any]:
    """Validate a notebook's parameters, resolve ``scale`` / ``device`` / list parameters, set the threads.

    Args:
        params: every parameter the notebook declares, ``{name: value}``.
        choices: extra ``{name: valid values}`` checks.
        namespace: the notebook's ``globals()``: parameters papermill injected under an undeclared name stop
            the notebook (with the closest declared name), and the resolved values are written back, so the
            notebook's ``scale``, ``device``, ``seeds``, ... hold them after this call.
        notebook: the notebook's name, recorded with its figures in ``figures/manifest.csv``.

    Checks ``dataset`` (and ``target`` against it; ``targets`` is read by :func:`parse_targets`), ``source`` (``real`` needs an existing ``data_root``),
    ``scale``, ``device``, ``seed`` / ``epochs`` (non-negative integers), the list parameters
    (:data:`LIST_PARAMETERS`) and ``choices``. Returns a new dict of resolved values.
    """
    from .data.registry import get_spec

    if namespace is not None:
        check_unknown_params(namespace, params)
    out = dict(params)
    for name in LIST_PARAMETERS:
        if name in out:
            out[name] = parse_list(name, out[name])
    if "dataset" in out:
        spec = get_spec(out["dataset"])
        out["dataset"] = spec.name
        if "target" in out and out["target"] not in ("", None, "all"):
            spec.check_target(out["target"])
        if "targets" in out:
            out["targets"] = parse_targets(spec.name, out["targets"])
    if "source" in out:
        check_choice("source", out["source"], SOURCES)
        if out["source"] == "real" and not out.get("data_root"):
            raise ValueError(
                "source='real' needs data_root: the folder holding the released features "
                "(e.g. -p data_root /data/fisv/vst_fp16)."
            )
        if out["source"] == "real" and not Path(out["data_root"]).exists():
            raise ValueError(f"data_root {out['data_root']!r} does not exist; pass the folder of the released "
                             "features (e.g. -p data_root /data/fisv/vst_fp16).")
    if "scale" in out:
        out["scale"] = resolve_scale(out["scale"])
    if "device" in out:
        out["device"] = resolve_device(out["device"])
    for key in ("seed", "epochs"):
        if key in out and not (isinstance(out[key], int) and not isinstance(out[key], bool) and out[key] >= 0):
            raise ValueError(f"{key} must be a non-negative integer, got {out[key]!r}.")
    for name, valid in (choices or {}).items():
        check_choice(name, out.get(name), valid)
    apply_thread_policy(out.get("device", "cpu"))
    _CONTEXT["notebook"] = notebook
    _CONTEXT["params"] = dict(out)
    _CONTEXT["tables"] = {}
    _CONTEXT["figures"] = 0
    if namespace is not None:
        namespace.update(out)
    return out


# --------------------------------------------------------------------------------------------------------------
# Tables and figures
# --------------------------------------------------------------------------------------------------------------

COLUMN_LABELS = {
    "distance_s": "distance to nearest element (s)",
    "inside_element": "share inside an element",
    "uniform_distance_s": "distance, evenly spread centres (s)",
    "uniform_inside": "share inside, evenly spread centres",
    "spread_s": "cross-modal spread (s)",
    "params_m": "parameters (M)",
    "gflops": "GFLOPs",
    "gmacs": "GMACs",
    "latency_ms": "latency (ms)",
    "n_train": "train videos",
    "n_test": "test videos",
    "spearman": "test Spearman ρ",
    "alpha": "ridge α",
    "dim": "feature dimension",
}
"""Readable names :func:`show_table` gives the library's snake_case columns."""


def _require_provenance(provenance: str) -> None:
    if not provenance or not provenance.strip():
        raise ValueError("Every table and figure must say where its data comes from: pass provenance=...")


def readable(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with :data:`COLUMN_LABELS` applied to its columns (and index names)."""
    out = frame.rename(columns=lambda c: COLUMN_LABELS.get(c, c) if isinstance(c, str) else c)
    if out.index.names and any(n in COLUMN_LABELS for n in out.index.names if isinstance(n, str)):
        out.index = out.index.set_names([COLUMN_LABELS.get(n, n) if isinstance(n, str) else n
                                         for n in out.index.names])
    return out


def show_table(frame: pd.DataFrame, *, title: str, provenance: str, precision: int = 3,
               name: str | None = None) -> None:
    """Display ``frame`` with a caption naming the table and the data's provenance.

    Columns get readable names (:data:`COLUMN_LABELS`) and a plain 0..n−1 index is hidden. Returns nothing,
    so a call that ends a notebook cell does not display the table a second time. When ``$AQA_TABLES_OUT``
    is set (``python -m aqa_lib.writeup`` sets it), the table is also written there as CSV + JSON sidecar
    (:func:`save_table`; ``name`` chooses the file stem, default: from the notebook and the title).
    """
    _require_provenance(provenance)
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"show_table needs a pandas DataFrame, got {type(frame).__name__}; wrap a Series with "
                        ".to_frame().")
    frame = readable(frame)
    if os.environ.get(TABLES_ENV):
        save_table(frame, title=title, provenance=provenance, precision=precision, name=name)
    plain_index = isinstance(frame.index, pd.RangeIndex) and frame.index.name is None
    styler = frame.style.format(precision=precision, na_rep="—").set_caption(f"{title} — data: {provenance}")
    if plain_index:
        styler = styler.hide(axis="index")
    try:  # pragma: no cover - display only exists inside IPython
        from IPython.display import display

        display(styler)
    except ImportError:
        print(f"{title} — data: {provenance}\n{frame.to_string(index=not plain_index)}")


STALE_MARK = "STALE TEXT"
"""How :func:`check_quoted` starts each line about a quote that no longer holds (the runner collects them)."""


class StaleTextWarning(UserWarning):
    """A number a notebook's text quotes from its default run is not what that run gives now."""


def _quoted_number(label: str, text: str) -> tuple[float, int]:
    """``text`` as printed ("0.74", "−5.2", "26") → (value, decimals)."""
    cleaned = str(text).strip().replace("\u2212", "-")
    if not re.fullmatch(r"-?\d+(\.\d+)?", cleaned):
        raise ValueError(f"check_quoted: quote {label!r} must be a number as the text prints it (e.g. \"0.74\", "
                         f"\"26\"), got {text!r}.")
    return float(cleaned), len(cleaned.partition(".")[2])


def check_quoted(quotes: Mapping[str, tuple[str, float]] | Callable[[], Mapping[str, tuple[str, float]]], *,
                 at: Mapping[str, Any]) -> pd.DataFrame | None:
    """Check the numbers a notebook's text quotes from its default run against this run (ours).

    A notebook's prose says what its default configuration measured ("Measured once at `quick` scale (seed
    0): ρ 0.735 ..."); a change of the engine, a recipe or the data changes those runs without any error,
    and the text goes stale silently. The notebook's last cell lists every such quote here, as
    ``label → (text, value)``: ``text`` the number exactly as the prose prints it (``"0.74"``, ``"−5.2"``,
    ``"26"`` for 26 %), ``value`` this run's number in the same unit (a share quoted in % times 100). A quote
    holds when ``value`` is within half a unit of the quote's last decimal of it. ``quotes`` may be a function
    returning that mapping, for values that exist only under the quoted parameters (a table of the default
    dataset): it is still called under other parameters, so CI's smoke run checks the quotes' form, and a
    failure there is ignored; under the quoted parameters a failure (a row renamed) is reported as stale text,
    never stops the notebook.

    The quotes are numbers of one configuration, ``at``: the parameters that define it, as
    :func:`check_params` resolves them (e.g. ``{"scale": "quick", "seeds": [0], "source": "synthetic",
    "dataset": "mtl_aqa", "epochs": 0}``). Under any other parameters (another scale, seed or dataset, CI's
    smoke runs), or when there is no quote for them, nothing is checked: one line says so and None is
    returned. Otherwise returns the table of
    every quote (quoted, this run, holds); each quote that does not hold is printed on a line starting with
    :data:`STALE_MARK` (``python -m aqa_lib.runner`` lists them after the run) and one
    :class:`StaleTextWarning` is raised as a warning: the tables above are right, the text is not. Bad quotes
    (not a number, a non-finite value) raise ValueError.
    """
    import warnings

    params = _CONTEXT.get("params", {})
    other = {k: params.get(k) for k, v in at.items() if params.get(k) != v}
    not_checked = f"The text's quoted numbers are from {dict(at)}; this run has {other}: not checked."
    if callable(quotes):
        try:
            quotes = quotes()
        except Exception as exc:  # noqa: BLE001 - a check of the text must not stop the notebook
            if other:  # the values may not exist under these parameters (another dataset, no baselines)
                print(f"{not_checked[:-1]} (the quoted values do not exist here: {type(exc).__name__}: {exc}).")
                return None
            notebook = _CONTEXT.get("notebook") or "this notebook"
            print(f"{STALE_MARK} ({notebook}): the quoted numbers could not be computed: {type(exc).__name__}: {exc}")
            warnings.warn(f"the quotes of {notebook}'s text could not be computed ({type(exc).__name__}: {exc}); "
                          "update its check_quoted cell.", StaleTextWarning, stacklevel=2)
            return None
    checked = {name: _quoted_number(name, text) for name, (text, _) in quotes.items()}
    values = {name: float(value) for name, (_, value) in quotes.items()}
    if other:
        print(not_checked)
        return None
    if not quotes:  # e.g. a table or dataset of the notebook whose numbers the text does not quote
        print("The text quotes no number from this configuration: nothing to check.")
        return None
    bad = [name for name, v in values.items() if not math.isfinite(v)]
    if bad:
        raise ValueError(f"check_quoted: this run's value of {', '.join(map(repr, bad))} is not finite.")
    rows = []
    for name, (quoted, decimals) in checked.items():
        holds = abs(values[name] - quoted) <= 0.5 * 10 ** -decimals + 1e-9
        rows.append({"quote": name, "text": quotes[name][0], "this run": round(values[name], decimals + 2),
                     "holds": holds})
    table = pd.DataFrame(rows).set_index("quote")
    stale = table[~table["holds"]]
    if stale.empty:
        print(f"The {len(table)} number{'s' if len(table) != 1 else ''} the text quotes from this configuration "
              f"{'are' if len(table) != 1 else 'is'} this run's.")
        return table
    notebook = _CONTEXT.get("notebook") or "this notebook"
    for name, row in stale.iterrows():
        print(f"{STALE_MARK} ({notebook}): {name}: the text says {row['text']}, this run gives {row['this run']}")
    warnings.warn(f"{len(stale)} of the {len(table)} numbers the text of {notebook} quotes are stale (trust "
                  "the tables above, then update the text and its check_quoted cell).", StaleTextWarning,
                  stacklevel=2)
    return table


def _slug(text: str, limit: int = 60) -> str:
    """``text`` as a lower-case ASCII file-name part (``-`` between words), at most ``limit`` characters plus
    a short hash of ``text`` when it had to be cut."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-") or "table"
    if len(slug) > limit:
        cut = slug[:limit + 1]
        cut = cut[: cut.rfind("-")] if "-" in cut[limit // 2:] else slug[:limit]
        slug = cut.rstrip("-") + "-" + hashlib.sha1(text.encode()).hexdigest()[:6]
    return slug


def data_kind(provenance: str) -> str:
    """What a provenance string says the numbers were computed on: ``real``, ``synthetic``, ``real and
    synthetic``, ``reported only`` (a paper's printed numbers, nothing computed) or ``unspecified``.

    >>> data_kind("reported: MLAVL paper; ours: SYNTHETIC data (embedded generator v3, ...)")
    'synthetic'
    """
    real, synthetic = "REAL" in provenance, "SYNTHETIC" in provenance
    if real and synthetic:
        return "real and synthetic"
    if real or synthetic:
        return "real" if real else "synthetic"
    return "reported only" if "reported" in provenance.lower() else "unspecified"


def _cell(value: Any) -> str:
    """One CSV cell: floats at full precision (``repr``), missing values empty, anything else as text."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float) or (hasattr(value, "dtype") and getattr(value.dtype, "kind", "") == "f"):
        value = float(value)
        return "" if math.isnan(value) else repr(value)
    if value is pd.NA or value is pd.NaT:
        return ""
    return str(value)


def table_stem(title: str, params: Mapping[str, Any] | None = None, notebook: str | None = None,
               name: str | None = None) -> str:
    """The file stem :func:`save_table` writes: ``<notebook>__<name or title slug>`` plus what makes this run
    differ from the default one (:func:`figure_stem`: source, scale, seeds, epochs).

    >>> table_stem("MLAVL Table 2, Spearman ρ (fisv)", {"scale": "smoke", "seeds": [0]}, "mlavl_main_results")
    'mlavl_main_results__mlavl-table-2-spearman-fisv_smoke'
    """
    params = _CONTEXT["params"] if params is None else params
    notebook = _CONTEXT["notebook"] if notebook is None else notebook
    if name is not None and (not name or any(c in name for c in "/\\ .")):
        raise ValueError(f"Table name {name!r} must be a plain file stem without extension, dots or spaces.")
    prefix = re.sub(r"[^A-Za-z0-9_-]+", "-", notebook).strip("-") + "__" if notebook else ""
    return figure_stem(prefix + (name or _slug(title)), params)


def _header(frame: pd.DataFrame) -> tuple[list[list[str]], int, pd.DataFrame]:
    """(column header levels per column, number of index columns, frame with the index as columns)."""
    depth = frame.columns.nlevels
    plain_index = isinstance(frame.index, pd.RangeIndex) and frame.index.name is None

    def levels(label: Any) -> list[str]:
        parts = list(label) if isinstance(label, tuple) else [label]
        return ["" if p is None or (isinstance(p, float) and math.isnan(p)) else str(p) for p in parts]

    columns = [levels(c) for c in frame.columns]
    body = frame
    index_columns = 0
    if not plain_index:
        names = [("" if n is None else str(n)) for n in frame.index.names]
        index_columns = len(names)
        columns = [[*([""] * (depth - 1)), n] for n in names] + columns
        body = frame.copy()
        body.columns = range(body.shape[1])
        body = body.reset_index(names=[f"__index{i}" for i in range(index_columns)])
    return columns, index_columns, body


def save_table(frame: pd.DataFrame, *, title: str, provenance: str, directory: str | Path | None = None,
               name: str | None = None, params: Mapping[str, Any] | None = None, notebook: str | None = None,
               precision: int = 3) -> Path:
    """Write ``frame`` as ``<directory>/<stem>.csv`` plus ``<stem>.json`` (title, provenance, parameters).

    The CSV is tidy and self-describing: the index (unless a plain 0..n−1 one) becomes the first columns, a
    multi-level column header is flattened to one row (``TES / reported``), floats keep full precision and a
    missing value is an empty cell. The JSON sidecar holds what the CSV cannot: ``title``, ``provenance``,
    ``data`` (:func:`data_kind`), ``notebook``, ``parameters``, ``scale``, ``seeds``, ``code_version``,
    ``date``, ``order`` (its place among the tables of this notebook run), ``precision`` (decimals to show),
    ``index_columns`` and ``columns`` (every column's header levels). ``directory`` defaults to ``$AQA_TABLES_OUT``; ``params`` and ``notebook`` to what
    :func:`check_params` resolved last; the stem is :func:`table_stem`. A second table with the same stem
    in one notebook run gets ``-2``, ``-3``, ... Returns the CSV path.
    """
    from .cache import code_version

    _require_provenance(provenance)
    if not title or not title.strip():
        raise ValueError("save_table needs a title: the write-up shows it as the table's caption.")
    directory = directory if directory is not None else os.environ.get(TABLES_ENV)
    if not directory:
        raise ValueError(f"save_table has nowhere to write: pass directory=... or set ${TABLES_ENV}.")
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"save_table needs a pandas DataFrame, got {type(frame).__name__}.")
    frame = readable(frame)
    params = dict(_CONTEXT["params"] if params is None else params)
    notebook = _CONTEXT["notebook"] if notebook is None else notebook
    stem = table_stem(title, params, notebook, name)
    seen: dict[str, str] = _CONTEXT.setdefault("tables", {})
    base, n = stem, 1
    while stem in seen:
        n += 1
        stem = f"{base}-{n}"
    seen[stem] = title
    order = len(seen)
    columns, index_columns, body = _header(frame)
    out_dir = Path(directory)
    out_dir.mkdir(parents=True, exist_ok=True)
    csv_path = out_dir / f"{stem}.csv"
    tmp = csv_path.with_suffix(f".tmp{os.getpid()}")
    with tmp.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow([" / ".join(part for part in col if part) for col in columns])
        for row in body.itertuples(index=False, name=None):
            writer.writerow([_cell(v) for v in row])
    os.replace(tmp, csv_path)
    seeds = params.get("seeds", [params["seed"]] if "seed" in params else None)
    sidecar = {
        "format": TABLE_FORMAT, "stem": stem, "title": title, "provenance": provenance,
        "data": data_kind(provenance), "notebook": notebook,
        "parameters": json.loads(json.dumps(params, default=str)), "scale": params.get("scale"),
        "seeds": list(seeds) if seeds is not None else None, "code_version": code_version(),
        "date": datetime.now(UTC).isoformat(timespec="seconds"), "order": order, "precision": precision,
        "index_columns": index_columns, "columns": columns, "rows": len(body), "csv": csv_path.name,
    }
    json_path = csv_path.with_suffix(".json")
    tmp = json_path.with_suffix(f".tmp{os.getpid()}")
    tmp.write_text(json.dumps(sidecar, indent=1, ensure_ascii=False) + "\n")
    os.replace(tmp, json_path)
    return csv_path


def figure_stem(name: str, params: Mapping[str, Any] | None = None) -> str:
    """``name`` plus what makes this run's figure differ from the default one: ``_real`` for real data, the
    scale unless ``quick``, ``_seeds0-1-2`` / ``_seed1`` unless seed 0, ``_<n>ep`` for an epochs override.

    >>> figure_stem("lmac_table7_fisv", {"source": "real", "scale": "smoke", "seeds": [0, 1]})
    'lmac_table7_fisv_real_smoke_seeds0-1'
    """
    params = _CONTEXT["params"] if params is None else params
    parts = [name]
    if params.get("source", DEFAULTS["source"]) != DEFAULTS["source"]:
        parts.append(str(params["source"]))
    scale = params.get("scale", DEFAULTS["scale"])
    if scale not in ("auto", DEFAULTS["scale"]):
        parts.append(str(scale))
    seeds = params.get("seeds", DEFAULTS["seeds"])
    if list(seeds) != DEFAULTS["seeds"]:
        parts.append("seeds" + "-".join(str(s) for s in seeds))
    if params.get("seed", DEFAULTS["seed"]) != DEFAULTS["seed"]:
        parts.append(f"seed{params['seed']}")
    if params.get("epochs", DEFAULTS["epochs"]):
        parts.append(f"{params['epochs']}ep")
    return "_".join(parts)


def _stamp(provenance: str, params: Mapping[str, Any]) -> str:
    run = []
    if "scale" in params:
        run.append(f"{params['scale']} scale")
    if "seeds" in params:
        run.append("seeds " + ", ".join(map(str, params["seeds"])))
    elif "seed" in params:
        run.append(f"seed {params['seed']}")
    return f"data: {provenance}" + (f" | {'; '.join(run)}" if run else "")


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``<path>.lock`` (``fcntl.flock``; no lock where fcntl is missing): notebooks
    rendered side by side (``python -m aqa_lib.runner --jobs``) update one manifest, and a read-modify-write
    without it loses the rows another kernel wrote in between."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    with open(path.with_name(path.name + ".lock"), "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _write_manifest(directory: Path, row: dict[str, str], *, file: str = MANIFEST,
                    columns: Sequence[str] = MANIFEST_COLUMNS) -> None:
    """Insert or replace ``row`` (keyed by ``figure``) in ``<directory>/manifest.csv`` (or ``file`` with
    ``columns``), atomically and under a lock (:func:`_locked`: other processes may be updating it too)."""
    path = directory / file
    with _locked(path):
        rows: list[dict[str, str]] = []
        if path.exists():
            with path.open(newline="") as f:
                rows = [r for r in csv.DictReader(f) if r.get("figure") != row["figure"]]
        rows.append(row)
        rows.sort(key=lambda r: r["figure"])
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        with tmp.open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(columns), extrasaction="ignore")
            writer.writeheader()
            writer.writerows(rows)
        os.replace(tmp, path)


def figure_formats(formats: str | Sequence[str] | None = None) -> list[str]:
    """The formats :func:`save_figure` writes: ``png`` first, then those of ``formats`` (a list, or text such
    as ``"png,pdf"``), default ``$AQA_FIGURE_FORMATS`` (unset: PNG only). Unknown formats are an error."""
    where = f"formats={formats!r}"
    if formats is None:
        formats = os.environ.get(FIGURE_FORMATS_ENV, "png")
        where = f"{FIGURE_FORMATS_ENV}={formats!r}"
    words = formats.replace(",", " ").split() if isinstance(formats, str) else list(formats)
    words = [str(w).strip().lower().lstrip(".") for w in words if str(w).strip()]
    unknown = [w for w in words if w not in FIGURE_FORMATS]
    if unknown:
        raise ValueError(f"{where} names unknown figure format(s) {', '.join(map(repr, unknown))}; use a "
                         f"comma-separated subset of {', '.join(FIGURE_FORMATS)}, e.g. {FIGURE_FORMATS_ENV}=png,pdf.")
    return list(dict.fromkeys(["png", *words]))


def _figure_title(fig: Any) -> str:
    """The figure's suptitle, else its axes' titles (up to three, joined by `` | ``)."""
    suptitle = getattr(fig, "_suptitle", None)
    if suptitle is not None and suptitle.get_text().strip():
        return " ".join(suptitle.get_text().split())
    titles = []
    for ax in fig.get_axes():
        for loc in ("center", "left", "right"):
            text = " ".join(ax.get_title(loc).split())
            if text and text not in titles:
                titles.append(text)
    return " | ".join(titles[:3]) + (" | …" if len(titles) > 3 else "")


def save_figure(fig: Any, name: str, *, provenance: str, directory: str | Path | None = None,
                params: Mapping[str, Any] | None = None, notebook: str | None = None,
                formats: str | Sequence[str] | None = None) -> Path:
    """Stamp provenance on ``fig``, save it as ``<figures>/<stem>.png`` and record it in the manifest.

    ``stem`` is :func:`figure_stem` of ``name`` (source, scale, seeds when they differ from the defaults).
    ``params`` and ``notebook`` default to what :func:`check_params` resolved last. The stamp below the
    figure names the data, the scale and the seeds; a smoke-scale figure also carries a red mark above it
    saying its numbers are meaningless. ``figures/manifest.csv`` gets one row per file: figure, notebook,
    parameters (JSON), code version (:func:`aqa_lib.cache.code_version`) and date; ``figures/provenance.csv``
    one row per file too: figure, notebook, title, provenance, stamp, formats. PNGs from Agg are
    byte-stable. ``formats`` (default ``$AQA_FIGURE_FORMATS``, e.g. ``png,pdf``; unset: PNG only, as before)
    adds vector copies under the same stem (PDF without creation date, so re-runs give the same bytes).
    Returns the PNG's path. ``name`` must be a plain file stem.
    """
    from .cache import code_version

    _require_provenance(provenance)
    if not name or any(c in name for c in "/\\ ") or name.endswith(tuple(f".{f}" for f in FIGURE_FORMATS)):
        raise ValueError(f"Figure name {name!r} must be a plain file stem without extension or spaces.")
    extra = figure_formats(formats)[1:]
    params = dict(_CONTEXT["params"] if params is None else params)
    notebook = _CONTEXT["notebook"] if notebook is None else notebook
    title = _figure_title(fig)
    width = max(40, int(fig.get_figwidth() * 17))  # characters of 7-pt text across the figure
    stamp = _stamp(provenance, params)
    fig.text(0.005, 0.0, textwrap.fill(stamp, width), fontsize=7, color="0.35", ha="left", va="top")
    if params.get("scale") == "smoke":
        fig.text(0.5, 1.0, SMOKE_MARK, fontsize=10, color="crimson", fontweight="bold", ha="center",
                 va="bottom")
    out_dir = Path(directory) if directory else figures_dir()
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{figure_stem(name, params)}.png"
    fig.savefig(path, dpi=110, bbox_inches="tight", pad_inches=0.08, metadata={"Software": None})
    for fmt in extra:
        meta: dict[str, Any] = ({"Title": path.stem, "Subject": stamp, "Creator": None, "Producer": None,
                                 "CreationDate": None} if fmt == "pdf" else {"Title": path.stem, "Date": None})
        fig.savefig(path.with_suffix(f".{fmt}"), format=fmt, bbox_inches="tight", pad_inches=0.08, metadata=meta)
    _write_manifest(out_dir, {"figure": path.name, "notebook": notebook,
                              "parameters": json.dumps(params, sort_keys=True, default=str),
                              "code_version": code_version(),
                              "date": datetime.now(UTC).isoformat(timespec="seconds")})
    _CONTEXT["figures"] = _CONTEXT.get("figures", 0) + 1
    _write_manifest(out_dir, {"figure": path.name, "notebook": notebook, "order": str(_CONTEXT["figures"]),
                              "title": title, "provenance": provenance, "stamp": stamp,
                              "formats": ",".join(["png", *extra])},
                    file=FIGURE_PROVENANCE, columns=FIGURE_PROVENANCE_COLUMNS)
    return path


def announce_runs(results: Sequence[Any]) -> str:
    """Print where the runs' data came from and how many were read from the cache; return the provenance."""
    if not results:
        raise ValueError("announce_runs got no runs: nothing was trained (check the variants and modalities).")
    provenance = results[0].meta["provenance"]
    print(provenance)
    print(f"{len(results)} runs, {sum(r.cached for r in results)} from the cache")
    return provenance


# --------------------------------------------------------------------------------------------------------------
# Which notebooks run on which modalities (the real Fis-V release is RGB only)
# --------------------------------------------------------------------------------------------------------------

TABLE_NOTEBOOKS: dict[str, tuple[str, str]] = {
    "ablation_losses": ("lmac", "table5"),
    "ablation_fusion": ("lmac", "table6"),
    "ablation_modalities": ("lmac", "table7"),
    "ablation_scoring": ("lmac", "table8"),
    "ablation_alignment": ("lmac", "table9"),
    "pamfn_baselines": ("pamfn", "tableIV"),
    "pamfn_fusion": ("pamfn", "tableV"),
    "pamfn_decoders": ("pamfn", "tableVI"),
    "pamfn_fusionnets": ("pamfn", "tableVII"),
    "pamfn_stages": ("pamfn", "tableVIII"),
}
"""Notebook → the (paper, table) whose rows it trains with :func:`aqa_lib.experiments.run_table`."""
COMPARISON_NOTEBOOKS: dict[str, tuple[str, ...]] = {
    "lmac_main_results": ("lmac", "gdlt", "pamfn", "joint_va", "msaf", "umt"),
    "pamfn_main_results": ("pamfn", "gdlt", "joint_va", "msaf", "umt"),
    "mlavl_main_results": ("mlavl", "gdlt", "pamfn"),
}
"""Notebook → the models its main comparison trains (:func:`aqa_lib.experiments.comparison_runs`)."""
PAPER_TITLES = {"lmac": "LMAC-Net", "pamfn": "PAMFN", "mlavl": "MLAVL", "vatp": "VATP-Net"}


def runnable_rows(modalities: Iterable[str], dataset: str = "fisv") -> dict[str, list[str]]:
    """Notebook → the rows (paper labels / models) it trains on data with only ``modalities``.

    Notebooks with nothing to train on such data are left out; ``data_tour`` (modality evidence) runs on
    any features.
    """
    from .experiments import RGB_ONLY, table_variants, variant_modalities
    from .models.base import get_variant

    available = set(modalities)
    out: dict[str, list[str]] = {"data_tour": ["modality evidence (pooled ridge per modality)"]}
    for nb, models in COMPARISON_NOTEBOOKS.items():
        rows = []
        for m in models:
            if set(variant_modalities(m, dataset)) <= available:
                rows.append(get_variant(m).reported_method or m)
            elif m in RGB_ONLY and set(variant_modalities(RGB_ONLY[m], dataset)) <= available:
                rows.append(f"{PAPER_TITLES.get(m, m)} RGB only ({RGB_ONLY[m]})")
        if "rgb" in available:
            rows.append("C3D+SVR (pooled RGB features)")
        if rows:
            out[nb] = rows
    for nb, (paper, table) in TABLE_NOTEBOOKS.items():
        rows = [f"{PAPER_TITLES.get(paper, paper)} {table_label(table)} row '{label}'"
                for name, label in table_variants(paper, table).items()
                if set(variant_modalities(name, dataset)) <= available]
        if rows:
            out[nb] = rows
    return out


def modality_guide(modalities: Iterable[str], dataset: str = "fisv") -> str:
    """One paragraph: which notebooks and rows run on data with only ``modalities``."""
    lines = [f"  {nb}: {', '.join(rows)}" for nb, rows in runnable_rows(modalities, dataset).items()]
    return (f"On data with only {sorted(set(modalities))} these notebooks and rows run:\n" + "\n".join(lines)
            + "\nEverything runs on the embedded synthetic default (source='synthetic').")


def require_modalities(needed: Iterable[str] | int, available: Iterable[str], *, what: str,
                       dataset: str = "fisv") -> None:
    """Stop with :func:`modality_guide` when ``available`` lacks what ``what`` needs: the ``needed`` modality
    names, or (an integer) at least that many modalities."""
    available = list(available)
    if isinstance(needed, int):
        ok, need = len(available) >= needed, f"at least {needed} modalities"
    else:
        missing = [m for m in needed if m not in available]
        ok, need = not missing, f"the modalities {list(needed)}"
    if not ok:
        raise ValueError(f"{what} needs {need}; this data has {available} (the real Fis-V release is RGB "
                         f"only).\n{modality_guide(available, dataset)}")


# --------------------------------------------------------------------------------------------------------------
# The ablation-table skeleton
# --------------------------------------------------------------------------------------------------------------


def table_slug(table: str) -> str:
    """``tableVIII`` → ``table8`` (figure file names use arabic numerals)."""
    romans = {"I": 1, "V": 5, "X": 10}
    head, tail = table[:5], table[5:]
    if head == "table" and tail and set(tail) <= set(romans):
        total = 0
        for i, ch in enumerate(tail):
            value = romans[ch]
            total += -value if i + 1 < len(tail) and romans[tail[i + 1]] > value else value
        return f"table{total}"
    return table


def table_label(table: str) -> str:
    """``tableVIII`` → ``Table VIII``; ``fig6`` → ``Fig. 6``."""
    if table.startswith("table"):
        return f"Table {table[5:]}"
    if table.startswith("fig"):
        return f"Fig. {table[3:]}"
    return table


@dataclass
class TableStudy:
    """One paper table trained on one dataset: its runs and everything the notebook shows about them."""

    paper: str
    table: str
    dataset: str
    targets: list[str]
    seeds: list[int]
    rows: dict[str, str]
    """registered variant → the paper's row label (every row of the table, run or not)."""
    results: list[Any]
    provenance: str
    fits: list[dict[str, Any]] = field(default_factory=list)

    @property
    def title(self) -> str:
        return f"{PAPER_TITLES.get(self.paper, self.paper)} {table_label(self.table)} ({self.dataset})"

    @property
    def ran(self) -> list[str]:
        """The registered variants that ran, in the order of the runs (a row may run as a shared variant, e.g.
        PAMFN Table IV's unimodal rows as the stage-1 branch runs ``pamfn/branch/<modality>``)."""
        return list(dict.fromkeys(r.config.model for r in self.results))

    @property
    def summary(self) -> str:
        """The column a one-number figure shows: ``Avg.`` over several targets, else the one target."""
        from .report import summary_column

        return summary_column(self.targets)

    def compare(self, *, numeric: bool = False) -> pd.DataFrame:
        """The paper's table beside our runs (:func:`aqa_lib.experiments.compare_table`)."""
        from .experiments import compare_table

        return compare_table(self.results, self.paper, self.table, self.dataset, numeric=numeric, fits=self.fits)

    def show(self, *, drop_reported: bool = False) -> pd.DataFrame:
        """Display the reported-vs-reproduced table (captioned with the provenance) and return it."""
        table = self.compare()
        if drop_reported:
            table = table.drop(columns="reported", level=1)
        show_table(table, title=self.title, provenance=self.provenance)
        return table

    def bar_chart(self, *, short: Mapping[str, str] | Callable[[str], str] | None = None,
                  groups: Sequence[tuple[str, Sequence[str]]] | None = None, title: str | None = None,
                  name: str | None = None, figsize: tuple[float, float] = (8.5, 3.8), rotation: float = 20) -> Any:
        """The table as grouped bars at :attr:`summary` (reported, best test epoch, last epoch), saved with its
        provenance as ``<paper>_<table>_<dataset>`` (:func:`save_figure`). Returns the figure.

        ``short`` shortens row labels (a mapping or a function); ``groups`` = ``[(group name, row labels)]``
        draws the rows group by group, separated and labelled.
        """
        import matplotlib.pyplot as plt

        from .report import plot_table_bars

        numeric = self.compare(numeric=True)
        fig, ax = plt.subplots(figsize=figsize)
        shorten = short.get if isinstance(short, Mapping) else short
        plot_table_bars(ax, numeric, self.summary,
                        short=(lambda m: shorten(m, m)) if isinstance(short, Mapping) else shorten,
                        rotation=rotation, groups=groups)
        ax.set_title(title or f"{table_label(self.table)} on {self.dataset}: reported (paper's data) vs reproduced "
                     "(this notebook's data)", fontsize=10, pad=16 if groups else 6)
        fig.tight_layout()
        save_figure(fig, name or f"{self.paper}_{table_slug(self.table)}_{self.dataset}",
                    provenance=f"reported: {PAPER_TITLES.get(self.paper, self.paper)} paper; reproduced: "
                               f"{self.provenance}")
        return fig


def run_paper_table(paper: str, table: str, params: Mapping[str, Any], *, targets: Sequence[str] | None = None,
                    **run_kwargs: Any) -> TableStudy:
    """Train (or fetch from the cache) every row of one paper table that the data can feed.

    ``params`` are the notebook's resolved parameters (:func:`check_params`: ``dataset``, ``target``,
    ``seeds``, ``scale``, ``source``, ``data_root``, ``device``, ``epochs``); ``targets`` (e.g. from
    :func:`table_targets`) replaces the one ``target`` / ``all`` of ``params``; ``run_kwargs`` go to
    :func:`aqa_lib.experiments.run_table` (e.g. ``final_keys``, ``model_kwargs``, ``only``). Prints the
    provenance and how many runs came from the cache. When no row can run on the data's modalities (e.g. a
    three-modality table on the RGB-only real Fis-V release), stops saying which notebooks and rows do.
    """
    from .experiments import config_builder, run_table, table_variants, targets_for, variant_modalities
    from .train import load_data

    dataset = params["dataset"]
    targets = list(targets) if targets is not None else targets_for(dataset, params.get("target", "all"))
    seeds = list(params.get("seeds", [params.get("seed", 0)]))
    rows = table_variants(paper, table)
    source, data_root = params.get("source", "synthetic"), params.get("data_root", "")
    if source != "synthetic":
        probe = config_builder(paper)(next(iter(rows)), dataset, targets[0], scale=params["scale"], source=source,
                                      data_root=data_root)
        available = list(load_data(probe).modalities)
        if not any(set(variant_modalities(n, dataset)) <= set(available) for n in rows):
            needs = sorted({m for n in rows for m in variant_modalities(n, dataset)})
            raise ValueError(f"No row of {PAPER_TITLES.get(paper, paper)} {table_label(table)} can run on this "
                             f"data: its rows need {needs}, the data has {available}.\n"
                             f"{modality_guide(available, dataset)}")
    results = run_table(paper, table, dataset=dataset, targets=targets, seeds=seeds, scale=params["scale"],
                        source=source, data_root=data_root, device=params.get("device", "cpu"),
                        epochs=params.get("epochs") or None, **run_kwargs)
    provenance = announce_runs(results)
    return TableStudy(paper, table, dataset, targets, seeds, rows, results, provenance)
