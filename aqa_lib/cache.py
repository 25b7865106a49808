"""Content-addressed, crash-safe results cache for training runs.

A training run is a pure function of its configuration, its data and the code that runs it, so its result
is stored under ``fingerprint(config, data fingerprint, code version)``: re-running a notebook with the same
parameters trains nothing, and a sweep killed half-way resumes with the runs that are missing.

Layout under ``<cache>/runs/`` (``AQA_CACHE_DIR`` overrides the cache root, see :mod:`aqa_lib.paths`)::

    <fingerprint>/result.json    config, summary, history, metadata (human-readable)
    <fingerprint>/arrays.npz     predictions and recorded tensors (attention centres per epoch, maps, ...)
    <fingerprint>/weights.pt     final model weights, only for runs asked to keep them (e.g. PAMFN stage 1)
    <fingerprint>.ckpt           an in-progress run's last checkpoint (model, optimiser, RNG states)

Writes are atomic: an entry is written into a temporary directory next to its final place and renamed in one
step, so a killed process leaves either no entry or a complete one, never a corrupt one. An entry that fails
to load (e.g. written by hand or truncated by a full disk) is reported and recomputed, not trusted.

The code version hashes every ``.py`` file of ``aqa_lib`` (so any code change invalidates cached results;
conservative but never stale). Set ``AQA_CODE_VERSION`` to pin it, e.g. on a cluster where every worker runs
the same release.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import warnings
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from .paths import PACKAGE_DIR, cache_dir

RESULT_FILE = "result.json"
ARRAYS_FILE = "arrays.npz"
WEIGHTS_FILE = "weights.pt"


@lru_cache(maxsize=1)
def code_version() -> str:
    """Hash of the library's source (or ``$AQA_CODE_VERSION``)."""
    env = os.environ.get("AQA_CODE_VERSION")
    if env:
        return env
    h = hashlib.sha256()
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        h.update(path.relative_to(PACKAGE_DIR).as_posix().encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


def canonical_json(obj: Any) -> str:
    """Deterministic JSON (sorted keys, tuples as lists) used for hashing configurations."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=_json_default)


def _json_default(value: Any) -> Any:
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"Value {value!r} of type {type(value).__name__} is not JSON-serialisable.")


def fingerprint(*parts: Any) -> str:
    """A 20-hex-digit hash of the canonical JSON of ``parts``."""
    return hashlib.sha256(canonical_json(list(parts)).encode()).hexdigest()[:20]


def runs_dir() -> Path:
    return cache_dir("runs")


def entry_dir(key: str) -> Path:
    return runs_dir() / key


def checkpoint_path(key: str) -> Path:
    return runs_dir() / f"{key}.ckpt"


def exists(key: str) -> bool:
    d = entry_dir(key)
    return (d / RESULT_FILE).is_file() and (d / ARRAYS_FILE).is_file()


def save(key: str, meta: dict[str, Any], arrays: dict[str, np.ndarray], state_dict: dict[str, Any] | None = None
         ) -> Path:
    """Write an entry atomically (temporary directory, then one rename). Returns the entry directory."""
    final = entry_dir(key)
    tmp = Path(tempfile.mkdtemp(prefix=f".{key}.", dir=runs_dir()))
    try:
        (tmp / RESULT_FILE).write_text(json.dumps(meta, indent=1, default=_json_default))
        np.savez(tmp / ARRAYS_FILE, **arrays)
        if state_dict is not None:
            import torch

            torch.save(state_dict, tmp / WEIGHTS_FILE)
        if final.exists():  # a concurrent worker finished the same run first: keep theirs
            shutil.rmtree(tmp)
            return final
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def load(key: str) -> tuple[dict[str, Any], dict[str, np.ndarray]] | None:
    """The entry's metadata and arrays, or None when absent or unreadable (then it is set aside)."""
    d = entry_dir(key)
    if not exists(key):
        return None
    try:
        meta = json.loads((d / RESULT_FILE).read_text())
        with np.load(d / ARRAYS_FILE, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except Exception as exc:  # noqa: BLE001 - any unreadable entry is recomputed
        bad = d.with_name(d.name + ".corrupt")
        shutil.rmtree(bad, ignore_errors=True)
        os.replace(d, bad)
        warnings.warn(f"Cache entry {d} was unreadable ({exc}); moved to {bad.name} and recomputing.",
                      stacklevel=2)
        return None
    return meta, arrays


def load_weights(key: str) -> dict[str, Any]:
    """The saved model weights of entry ``key`` (on CPU); FileNotFoundError says how to get them."""
    import torch

    path = entry_dir(key) / WEIGHTS_FILE
    if not path.is_file():
        raise FileNotFoundError(
            f"Run {key} kept no weights ({path} is missing): train it with save_weights=True."
        )
    return torch.load(path, map_location="cpu", weights_only=True)


def atomic_torch_save(obj: Any, path: Path) -> None:
    """``torch.save`` to a temporary file in the same folder, then rename (no half-written checkpoints)."""
    import torch

    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    try:
        torch.save(obj, tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def clear(key: str | None = None) -> None:
    """Remove one entry (and its checkpoint), or every run entry when ``key`` is None."""
    if key is None:
        shutil.rmtree(runs_dir(), ignore_errors=True)
        return
    shutil.rmtree(entry_dir(key), ignore_errors=True)
    checkpoint_path(key).unlink(missing_ok=True)
