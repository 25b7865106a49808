"""Content-addressed, crash-safe results cache for training runs, and the ``python -m aqa_lib.cache`` command.

A training run is a pure function of what decides its numbers, so its result is stored under a fingerprint
of exactly that (:func:`aqa_lib.train.run_key`): the resolved architecture (builder and every keyword it
gets, not the variant's *name*, so table rows that are the same model share one entry), the training
settings, the data's fingerprint (a sampled content hash of real files; the generator's source and
parameters for synthetic data), the source of the code the run imports (:func:`code_version`: comments,
docstrings and the training recipes stripped, since every recipe value a run uses is in its settings) and the
torch version. Re-running a notebook with the same parameters trains nothing,
and a sweep killed half-way resumes with the runs that are missing.

Layout under ``<cache>/runs/`` (``AQA_CACHE_DIR`` overrides the cache root, see :mod:`aqa_lib.paths`)::

    <fingerprint>/result.json    config, summary, history, metadata (human-readable)
    <fingerprint>/arrays.npz     predictions and recorded tensors (attention centres per epoch, maps, ...)
    <fingerprint>/weights.pt     final model weights, only for runs asked to keep them (e.g. PAMFN stage 1)
    <fingerprint>.ckpt           an in-progress run's last checkpoint (model, optimiser, RNG states)
    .quarantine/                 the few most recent unreadable entries, set aside for inspection

Writes are atomic: an entry is written into a temporary directory next to its final place and renamed in one
step, so a killed process leaves either no entry or a complete one, never a corrupt one. An entry that fails
to load (e.g. written by hand or truncated by a full disk) is moved to ``.quarantine/`` (only the newest
:data:`QUARANTINE_KEEP` are kept) and recomputed, not trusted.

``AQA_CODE_VERSION`` pins the code part of every key (e.g. on a cluster where every worker runs the same
release, or to read back results computed before a refactor that did not change the numbers).

Command line::

    python -m aqa_lib.cache list [--stale]       # one line per entry: model, data, seed, epochs, rho, status
    python -m aqa_lib.cache verify [--fix]       # load every entry; --fix quarantines the unreadable ones
    python -m aqa_lib.cache prune --stale        # delete entries whose code or torch version is not current
    python -m aqa_lib.cache prune --older-than 30 --checkpoints --quarantine [--dry-run]
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
import warnings
from collections.abc import Iterable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from .paths import PACKAGE_DIR, cache_dir

RESULT_FILE = "result.json"
ARRAYS_FILE = "arrays.npz"
WEIGHTS_FILE = "weights.pt"
QUARANTINE = ".quarantine"
QUARANTINE_KEEP = 3
"""How many unreadable entries stay in ``.quarantine/`` (older ones are deleted when a new one arrives)."""
ENGINE_ROOTS = ("aqa_lib.train",)
"""Modules every run imports (the engine, the data loaders, the cache); a run adds its builder's module."""
PACKAGE = PACKAGE_DIR.name
NOT_HASHED = (f"{PACKAGE}.cache",)
"""Modules left out of the code fingerprint: this module's code decides where results are kept and under which
key, not what a run computes, so an edit to it (a new command, another quarantine rule) keeps every entry."""
RECIPE_SUFFIX = "_RECIPE"
"""Module-level assignments to names ending in this (``LMAC_RECIPE = Recipe(...)``) are left out of a module's
fingerprint: a recipe is plain data that :func:`aqa_lib.experiments.config_for` copies into each run's
settings (optimiser, epochs, batch size, crop, widths, model keywords, stage-1 runs), which the key already
holds; so a preset change re-keys only the runs whose settings it changes."""


# ---------------------------------------------------------------------------------------------------------
# Code fingerprint: the source a run imports, with comments and docstrings stripped
# ---------------------------------------------------------------------------------------------------------


def _module_file(name: str) -> Path | None:
    """Source file of module ``name``: inside the package by path, elsewhere through ``sys.modules``."""
    if name == PACKAGE:
        return PACKAGE_DIR / "__init__.py"
    if name.startswith(PACKAGE + "."):
        rel = Path(*name.split(".")[1:])
        for candidate in (PACKAGE_DIR / rel.with_suffix(".py"), PACKAGE_DIR / rel / "__init__.py"):
            if candidate.is_file():
                return candidate
        return None
    module = sys.modules.get(name)
    file = getattr(module, "__file__", None)
    return Path(file) if file and file.endswith(".py") else None


def _internal_imports(name: str, tree: ast.Module, is_package: bool) -> set[str]:
    """Package modules that ``name`` imports (statically, anywhere in its body), with their parent packages."""
    found: set[str] = set()
    here = name if is_package else name.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == PACKAGE)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here.rsplit(".", node.level - 1)[0] if node.level > 1 else here
                full = f"{base}.{node.module}" if node.module else base
            else:
                full = node.module or ""
            if full.split(".")[0] != PACKAGE:
                continue
            found.add(full)
            for alias in node.names:  # ``from . import cache`` imports a module, not a name
                if _module_file(f"{full}.{alias.name}") is not None:
                    found.add(f"{full}.{alias.name}")
    parents = {".".join(m.split(".")[:i]) for m in found for i in range(1, m.count(".") + 1)}
    return {m for m in found | parents if _module_file(m) is not None}


def _strip_docstrings(tree: ast.AST) -> ast.AST:
    """Drop every bare string statement (docstrings, attribute docstrings); comments never reach the AST."""
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list):
            kept = [s for s in body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant)
                                            and isinstance(s.value.value, str))]
            node.body = kept or [ast.Pass()]
    return tree


def _strip_recipes(tree: ast.Module) -> ast.Module:
    """Drop the module-level assignments to ``*_RECIPE`` names (:data:`RECIPE_SUFFIX`)."""
    def is_recipe(s: ast.stmt) -> bool:
        targets = s.targets if isinstance(s, ast.Assign) else [s.target] if isinstance(s, ast.AnnAssign) else []
        return bool(targets) and all(isinstance(t, ast.Name) and t.id.endswith(RECIPE_SUFFIX) for t in targets)
    tree.body = [s for s in tree.body if not is_recipe(s)] or [ast.Pass()]
    return tree


@lru_cache(maxsize=256)
def _module_digest(path: Path, mtime_ns: int) -> tuple[str, tuple[str, ...]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    name = _path_module(path)
    imports = _internal_imports(name, tree, path.name == "__init__.py") if name else set()
    digest = hashlib.sha256(ast.dump(_strip_recipes(_strip_docstrings(tree))).encode()).hexdigest()
    return digest, tuple(sorted(imports))


def _path_module(path: Path) -> str | None:
    try:
        rel = path.resolve().relative_to(PACKAGE_DIR)
    except ValueError:
        return None
    parts = list(rel.with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join([PACKAGE, *parts])


def code_closure(roots: Iterable[str] = ENGINE_ROOTS) -> dict[str, str]:
    """Module name -> digest of its stripped source, for ``roots`` and every package module they import.

    The closure is static (``import`` statements anywhere in a module, including inside functions), so it
    does not depend on what happens to be imported in this process. Modules outside the package (e.g. a
    test's model) count with their own file only; :data:`NOT_HASHED` modules do not count (nor what only
    they import).
    """
    todo = list(roots)
    out: dict[str, str] = {}
    while todo:
        name = todo.pop()
        if name in out or name in NOT_HASHED:
            continue
        path = _module_file(name)
        if path is None:
            out[name] = "missing"
            continue
        digest, imports = _module_digest(path, path.stat().st_mtime_ns)
        out[name] = digest
        todo.extend(m for m in imports if m not in out)
    return dict(sorted(out.items()))


def code_version(roots: Sequence[str] = ENGINE_ROOTS) -> str:
    """Fingerprint of the code a run imports (``$AQA_CODE_VERSION`` when set).

    Comments, docstrings, line positions, ``*_RECIPE`` assignments and this module do not count (an edit to
    prose or to a preset leaves every run valid whose settings it does not change); any other change to a
    statement of an imported module does. Without ``roots``: the engine and the data layer, which every run
    imports.
    """
    env = os.environ.get("AQA_CODE_VERSION")
    if env:
        return env
    return hashlib.sha256(canonical_json(code_closure(tuple(roots))).encode()).hexdigest()[:16]


# ---------------------------------------------------------------------------------------------------------
# Keys
# ---------------------------------------------------------------------------------------------------------


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


def sampled_file_digest(path: str | Path, *, chunk: int = 1 << 16) -> str:
    """Hash of a file's size and of three ``chunk``-byte samples (start, middle, end): cheap on large
    feature files, and it changes when a file is re-extracted, truncated or replaced by another of the
    same name and size (the bytes differ), unlike a fingerprint of names and sizes."""
    path = Path(path)
    size = path.stat().st_size
    h = hashlib.sha256(str(size).encode())
    with path.open("rb") as f:
        for offset in sorted({0, max(0, size // 2 - chunk // 2), max(0, size - chunk)}):
            f.seek(offset)
            h.update(f.read(chunk))
    return h.hexdigest()[:16]


def content_digest(path: str | Path) -> str:
    """Digest of a file, or of every file below a folder (relative names + :func:`sampled_file_digest`)."""
    path = Path(path)
    if not path.is_dir():
        return sampled_file_digest(path)
    files = sorted(p for p in path.rglob("*") if p.is_file())
    return fingerprint([(p.relative_to(path).as_posix(), sampled_file_digest(p)) for p in files])


@lru_cache(maxsize=1)
def package_data_digest() -> str:
    """Digest of every file shipped in ``aqa_lib/data/package_data`` (labels, calibration statistics, the
    released MLAVL prompt embeddings): a model or loader may read them, so run keys cover their content."""
    from .paths import PACKAGE_DATA

    return content_digest(PACKAGE_DATA)


# ---------------------------------------------------------------------------------------------------------
# Entries
# ---------------------------------------------------------------------------------------------------------


def runs_dir() -> Path:
    return cache_dir("runs")


def entry_dir(key: str) -> Path:
    return runs_dir() / key


def checkpoint_path(key: str) -> Path:
    return runs_dir() / f"{key}.ckpt"


def exists(key: str) -> bool:
    d = entry_dir(key)
    return (d / RESULT_FILE).is_file() and (d / ARRAYS_FILE).is_file()


def has_weights(key: str) -> bool:
    return (entry_dir(key) / WEIGHTS_FILE).is_file()


def save(key: str, meta: dict[str, Any], arrays: dict[str, np.ndarray], state_dict: dict[str, Any] | None = None,
         *, replace: bool = False) -> Path:
    """Write an entry atomically (temporary directory, then one rename). Returns the entry directory.

    An existing entry is kept (a concurrent worker finished the same run first) unless ``replace``: then the
    new one takes its place (a re-run that records more than the old one did; the numbers are the same).
    """
    final = entry_dir(key)
    tmp = Path(tempfile.mkdtemp(prefix=f".{key}.", dir=runs_dir()))
    try:
        (tmp / RESULT_FILE).write_text(json.dumps(meta, indent=1, default=_json_default))
        np.savez(tmp / ARRAYS_FILE, **arrays)
        if state_dict is not None:
            import torch

            torch.save(state_dict, tmp / WEIGHTS_FILE)
        if final.exists():
            if not replace:
                shutil.rmtree(tmp)
                return final
            old = Path(tempfile.mkdtemp(prefix=f".{key}.old.", dir=runs_dir()))
            os.replace(final, old / "entry")
            os.replace(tmp, final)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def read_meta(key: str) -> dict[str, Any]:
    """An entry's ``result.json`` (config, summary, history, meta)."""
    return json.loads((entry_dir(key) / RESULT_FILE).read_text())


def quarantine(key: str, reason: str) -> Path | None:
    """Move entry ``key`` into ``.quarantine/`` (keeping only the newest :data:`QUARANTINE_KEEP` there)."""
    d = entry_dir(key)
    if not d.exists():
        return None
    qdir = runs_dir() / QUARANTINE
    qdir.mkdir(exist_ok=True)
    dest = qdir / f"{key}-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"
    os.replace(d, dest)
    (dest / "REASON.txt").write_text(reason + "\n")
    kept = sorted(qdir.iterdir(), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in kept[QUARANTINE_KEEP:]:
        shutil.rmtree(old, ignore_errors=True)
    return dest


def load(key: str) -> tuple[dict[str, Any], dict[str, np.ndarray]] | None:
    """The entry's metadata and arrays, or None when absent or unreadable (then it is quarantined)."""
    if not exists(key):
        return None
    try:
        meta = read_meta(key)
        with np.load(entry_dir(key) / ARRAYS_FILE, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except Exception as exc:  # noqa: BLE001 - any unreadable entry is recomputed
        dest = quarantine(key, f"unreadable: {exc}")
        warnings.warn(f"Cache entry {key} was unreadable ({exc}); moved to {dest} and recomputing "
                      "(`python -m aqa_lib.cache prune --quarantine` deletes such entries).", stacklevel=2)
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


# ---------------------------------------------------------------------------------------------------------
# Listing, verifying, pruning (the ``python -m aqa_lib.cache`` command)
# ---------------------------------------------------------------------------------------------------------


def keys() -> list[str]:
    """Keys of the complete entries, oldest first."""
    found = [p for p in runs_dir().iterdir() if p.is_dir() and not p.name.startswith(".") and exists(p.name)]
    return [p.name for p in sorted(found, key=lambda p: p.stat().st_mtime)]


def status(meta: dict[str, Any]) -> str:
    """``current``, or why an entry can no longer be hit: ``stale: code`` / ``stale: torch``."""
    import torch

    info = meta.get("meta", {})
    if info.get("torch") and info["torch"] != torch.__version__:
        return "stale: torch"
    roots = info.get("code_roots")
    if not roots:
        return "stale: code"  # written before keys named the code they cover
    if os.environ.get("AQA_CODE_VERSION") and info.get("code_version") != os.environ["AQA_CODE_VERSION"]:
        return "stale: code"
    if any(_module_file(r) is None for r in roots if r.split(".")[0] == PACKAGE):
        return "stale: code"
    if any(r.split(".")[0] != PACKAGE and r not in sys.modules for r in roots):
        return "unknown"  # a model defined outside the package (a test, a notebook) is not importable here
    return "current" if code_version(roots) == info.get("code_version") else "stale: code"


def describe(key: str) -> dict[str, Any]:
    """One row of ``list``: what the entry is and whether it is still current."""
    d = entry_dir(key)
    size = sum(p.stat().st_size for p in d.iterdir() if p.is_file())
    row: dict[str, Any] = {"key": key, "size_kb": size // 1024,
                           "written": time.strftime("%Y-%m-%d %H:%M", time.localtime(d.stat().st_mtime))}
    try:
        meta = read_meta(key)
    except Exception as exc:  # noqa: BLE001
        return {**row, "status": f"unreadable: {exc}"}
    cfg, summary = meta.get("config", {}), meta.get("summary", {})
    row.update({
        "model": cfg.get("model"), "data": f"{cfg.get('dataset')}/{cfg.get('target')} {cfg.get('source')}",
        "scale": cfg.get("scale"), "seed": cfg.get("seed"), "epochs": cfg.get("epochs"),
        "last_rho": summary.get("last_spearman"), "weights": has_weights(key), "status": status(meta),
    })
    return row


def verify(key: str) -> str | None:
    """None when entry ``key`` loads completely (result, arrays, weights), else the reason it does not."""
    try:
        meta = read_meta(key)
        for field in ("config", "summary", "history", "meta"):
            if field not in meta:
                return f"result.json has no {field!r}"
        with np.load(entry_dir(key) / ARRAYS_FILE, allow_pickle=False) as z:
            for name in z.files:
                z[name]
        if has_weights(key):
            load_weights(key)
    except Exception as exc:  # noqa: BLE001
        return str(exc) or type(exc).__name__
    return None


def _leftovers(older_than_s: float = 3600.0) -> list[Path]:
    """Checkpoints without a running owner and temporary directories older than ``older_than_s``."""
    now = time.time()
    out = []
    for p in runs_dir().iterdir():
        old = now - p.stat().st_mtime > older_than_s
        if p.name.endswith(".ckpt") and (exists(p.name[:-5]) or old):
            out.append(p)
        elif p.name.startswith(".") and p.name != QUARANTINE and old:
            out.append(p)
    return out


def prune(*, stale: bool = False, older_than_days: float | None = None, checkpoints: bool = False,
          quarantined: bool = False, dry_run: bool = False) -> list[Path]:
    """Delete what the selectors name and return the paths (nothing is deleted with ``dry_run``)."""
    doomed: list[Path] = []
    limit = None if older_than_days is None else time.time() - older_than_days * 86400
    for key in keys():
        d = entry_dir(key)
        if (limit is not None and d.stat().st_mtime < limit) or (stale and describe(key)["status"].startswith(
                ("stale", "unreadable"))):
            doomed.append(d)
    if checkpoints:
        doomed += _leftovers()
    if quarantined and (runs_dir() / QUARANTINE).exists():
        doomed.append(runs_dir() / QUARANTINE)
    if not dry_run:
        for p in doomed:
            shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)
    return doomed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m aqa_lib.cache",
                                     description="List, verify and prune the cached training runs.")
    sub = parser.add_subparsers(dest="command", required=True)
    p_list = sub.add_parser("list", help="one line per cached run")
    p_list.add_argument("--stale", action="store_true", help="only entries that can no longer be hit")
    p_verify = sub.add_parser("verify", help="load every entry completely; exit 1 if any is unreadable")
    p_verify.add_argument("--fix", action="store_true", help="move unreadable entries to .quarantine/")
    p_prune = sub.add_parser("prune", help="delete entries (name at least one selector)")
    p_prune.add_argument("--stale", action="store_true", help="entries whose code or torch version changed")
    p_prune.add_argument("--older-than", type=float, metavar="DAYS", help="entries written more than DAYS ago")
    p_prune.add_argument("--checkpoints", action="store_true",
                         help="checkpoints of finished runs, and abandoned checkpoints and temporary files")
    p_prune.add_argument("--quarantine", action="store_true", help="the unreadable entries set aside")
    p_prune.add_argument("--dry-run", action="store_true", help="say what would be deleted, delete nothing")
    args = parser.parse_args(argv)
    print(f"cache: {runs_dir()}")
    if args.command == "list":
        rows = [describe(k) for k in keys()]
        if args.stale:
            rows = [r for r in rows if r["status"] != "current"]
        for r in rows:
            rho = r.get("last_rho")
            rho = f"{rho:+.3f}" if isinstance(rho, (int, float)) else "  —  "
            print(f"{r['key']}  {str(r.get('model')):28s} {str(r.get('data')):24s} {str(r.get('scale')):6s} "
                  f"seed {r.get('seed')}  {r.get('epochs')} ep  last rho {rho}  {r['size_kb']} KB  "
                  f"{r['written']}  {r['status']}")
        print(f"{len(rows)} entries")
        return 0
    if args.command == "verify":
        bad = [(k, why) for k in keys() if (why := verify(k)) is not None]
        for k, why in bad:
            print(f"UNREADABLE {k}: {why}" + (f" -> {quarantine(k, why)}" if args.fix else ""))
        print(f"{len(keys()) + (len(bad) if args.fix else 0)} entries checked, {len(bad)} unreadable")
        return 1 if bad and not args.fix else 0
    if not (args.stale or args.older_than is not None or args.checkpoints or args.quarantine):
        parser.error("prune needs a selector: --stale, --older-than DAYS, --checkpoints or --quarantine.")
    gone = prune(stale=args.stale, older_than_days=args.older_than, checkpoints=args.checkpoints,
                 quarantined=args.quarantine, dry_run=args.dry_run)
    for p in gone:
        print(("would delete " if args.dry_run else "deleted ") + str(p))
    print(f"{len(gone)} {'would be ' if args.dry_run else ''}deleted")
    return 0


if __name__ == "__main__":
    sys.exit(main())
