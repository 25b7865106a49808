"""Conventions every companion notebook follows (parameters, scale, device, labelled tables and figures).

A notebook's first code cell is tagged ``parameters`` (papermill injects overrides after it) and holds only
literals, e.g.::

    dataset = "fisv"       # rg | fisv | ...
    target = "TES"
    source = "synthetic"   # synthetic | real
    data_root = ""         # folder of real features when source == "real"
    scale = "auto"         # smoke | quick | paper | auto
    seed = 0
    device = "auto"        # auto | cpu | cuda

The next cell calls :func:`check_params`, which fails with a clear message on unknown values (papermill only
*warns* on unknown ``-p`` keys, so notebooks validate themselves), and resolves ``scale="auto"``:
``AQA_SCALE`` if set, else ``smoke`` under CI (``CI`` set; nbval cannot pass parameters), else ``quick``.

Every table and figure carries the data's provenance (synthetic or real, and from where): use
:func:`show_table` and :func:`save_figure`, which refuse to work without one.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from .paths import figures_dir

SCALES = ("smoke", "quick", "paper")
SOURCES = ("synthetic", "real")
DEVICES = ("auto", "cpu", "cuda")


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


def check_choice(name: str, value: Any, valid: Iterable[Any]) -> Any:
    """Return ``value`` if it is one of ``valid``, else raise ValueError listing the valid values."""
    valid = list(valid)
    if value not in valid:
        raise ValueError(f"Unknown {name} {value!r}; valid values: {', '.join(map(str, valid))}.")
    return value


def check_params(params: Mapping[str, Any], *, choices: Mapping[str, Iterable[Any]] | None = None) -> dict[str, Any]:
    """Validate a notebook's parameters and resolve ``scale`` / ``device``.

    Checks ``dataset`` (and ``target`` against it), ``source`` (``real`` needs ``data_root``), ``scale``,
    ``device``, ``seed``/``seeds`` and any extra ``choices`` given as ``{name: valid values}``. Returns a new
    dict with ``scale`` and ``device`` resolved.
    """
    from .data.registry import get_spec

    out = dict(params)
    if "dataset" in out:
        spec = get_spec(out["dataset"])
        out["dataset"] = spec.name
        if "target" in out and out["target"] not in ("", None, "all"):
            spec.check_target(out["target"])
    if "source" in out:
        check_choice("source", out["source"], SOURCES)
        if out["source"] == "real" and not out.get("data_root"):
            raise ValueError(
                "source='real' needs data_root: the folder holding the released features "
                "(e.g. -p data_root /data/fisv/vst_fp16)."
            )
        if out["source"] == "real" and not Path(out["data_root"]).exists():
            raise ValueError(f"data_root {out['data_root']!r} does not exist.")
    if "scale" in out:
        out["scale"] = resolve_scale(out["scale"])
    if "device" in out:
        out["device"] = resolve_device(out["device"])
    for key in ("seed",):
        if key in out and not (isinstance(out[key], int) and out[key] >= 0):
            raise ValueError(f"{key} must be a non-negative integer, got {out[key]!r}.")
    if "seeds" in out:
        seeds = out["seeds"]
        if not (isinstance(seeds, (list, tuple)) and seeds and all(isinstance(s, int) and s >= 0 for s in seeds)):
            raise ValueError(f"seeds must be a non-empty list of non-negative integers, got {seeds!r}.")
    for name, valid in (choices or {}).items():
        check_choice(name, out.get(name), valid)
    return out


def _require_provenance(provenance: str) -> None:
    if not provenance or not provenance.strip():
        raise ValueError("Every table and figure must say where its data comes from: pass provenance=...")


def show_table(frame: pd.DataFrame, *, title: str, provenance: str, precision: int = 3) -> None:
    """Display ``frame`` with a caption naming the table and the data's provenance.

    Returns nothing, so a call that ends a notebook cell does not display the table a second time.
    """
    _require_provenance(provenance)
    styler = frame.style.format(precision=precision, na_rep="—").set_caption(f"{title} — data: {provenance}")
    try:  # pragma: no cover - display only exists inside IPython
        from IPython.display import display

        display(styler)
    except ImportError:
        print(f"{title} — data: {provenance}\n{frame.to_string()}")


def save_figure(fig: Any, name: str, *, provenance: str, directory: str | Path | None = None) -> Path:
    """Stamp ``provenance`` on ``fig`` and save it as ``<figures>/<name>.png`` (byte-stable with Agg).

    Returns the written path. ``name`` must be a plain file stem (letters, digits, ``_``, ``-``, ``.``).
    """
    _require_provenance(provenance)
    if not name or any(c in name for c in "/\\ ") or name.endswith(".png"):
        raise ValueError(f"Figure name {name!r} must be a plain file stem without extension or spaces.")
    fig.text(0.005, 0.005, f"data: {provenance}", fontsize=7, color="0.35", ha="left", va="bottom")
    out_dir = Path(directory) if directory else figures_dir()
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{name}.png"
    fig.savefig(path, dpi=110, bbox_inches="tight", metadata={"Software": None})
    return path


def announce_runs(results: Sequence[Any]) -> str:
    """Print where the runs' data came from and how many were read from the cache; return the provenance."""
    if not results:
        raise ValueError("announce_runs got no runs: nothing was trained (check the variants and modalities).")
    provenance = results[0].meta["provenance"]
    print(provenance)
    print(f"{len(results)} runs, {sum(r.cached for r in results)} from the cache")
    return provenance
