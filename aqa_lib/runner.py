"""Execute the companion notebooks with papermill: the README's main job (``make``).

Usage::

    python -m aqa_lib.runner                       # every notebook, quick scale
    python -m aqa_lib.runner --scale smoke --only data_tour
    python -m aqa_lib.runner -p dataset rg -p seed 1

Executed copies go to ``out/notebooks/`` (never over the sources); figures go to ``figures/`` (or
``$AQA_FIGURES_DIR``). A notebook that fails does not stop the others; the exit code is non-zero if any
failed, and the summary names each failure with the cell's error.
"""

from __future__ import annotations

import argparse
import ast
import difflib
import os
import sys
import time
from pathlib import Path

from .paths import repo_root


def notebooks_dir() -> Path:
    root = repo_root()
    if root is None:
        raise SystemExit("The runner needs a checkout of aqa-companion (notebooks/ next to aqa_lib/).")
    return root / "notebooks"


def _literal(text: str) -> object:
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def discover(only: list[str] | None = None) -> list[Path]:
    """Notebooks to run, in name order; ``only`` filters by stem (errors on unknown names)."""
    books = sorted(p for p in notebooks_dir().glob("*.ipynb") if not p.name.endswith(".executed.ipynb"))
    if only:
        stems = {p.stem: p for p in books}
        unknown = [o for o in only if o not in stems]
        if unknown:
            raise SystemExit(f"Unknown notebooks {unknown}; available: {', '.join(stems)}.")
        books = [stems[o] for o in only]
    return books


def accepted_parameters(path: Path) -> set[str]:
    """Names assigned in the notebook's cell tagged ``parameters``."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code" and "parameters" in cell.metadata.get("tags", []):
            tree = ast.parse(cell.source)
            return {t.id for node in tree.body if isinstance(node, ast.Assign) for t in node.targets
                    if isinstance(t, ast.Name)}
    return set()


def check_names(books: list[Path], params: dict[str, object]) -> None:
    """Stop on a ``-p`` name no selected notebook declares (naming the closest declared one): the runner
    passes each parameter only to the notebooks that declare it, so a misspelt name would silently do nothing."""
    declared = sorted(set().union(*(accepted_parameters(p) for p in books))) if books else []
    unknown = [k for k in params if k not in declared]
    if unknown:
        hints = []
        for name in unknown:
            close = difflib.get_close_matches(name, declared, n=1, cutoff=0.6)
            hints.append(f"{name!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
        raise SystemExit(f"Unknown parameter {', '.join(hints)}: no selected notebook declares it. Declared "
                         f"parameters: {', '.join(declared)}.")


def quiet_kernel_config():
    """nbclient configuration that starts kernels with CurveZMQ transport encryption when the kernelspec
    supports it, so ipykernel does not warn "Kernel is running over TCP without encryption" for every notebook."""
    from traitlets.config import Config

    return Config({"KernelManager": {"transport_encryption": "auto"}})


def run(books: list[Path], *, scale: str, params: dict[str, object], out_dir: Path) -> int:
    import papermill as pm

    check_names(books, params)
    out_dir.mkdir(parents=True, exist_ok=True)
    failures: list[tuple[str, str]] = []
    stale: list[str] = []
    root = repo_root()
    for path in books:
        accepted = accepted_parameters(path)
        given = {"scale": scale, **params}
        # Pass only the parameters a notebook declares: papermill merely warns on unknown ones.
        nb_params = {k: v for k, v in given.items() if k in accepted}
        t0 = time.perf_counter()
        print(f"[runner] {path.stem} {nb_params}", flush=True)
        try:
            pm.execute_notebook(
                str(path), str(out_dir / path.name), parameters=nb_params, kernel_name="python3",
                cwd=str(root), progress_bar=False, log_output=False, config=quiet_kernel_config(),
            )
        except Exception as exc:  # noqa: BLE001 - report every notebook's failure, then exit non-zero
            msg = str(exc).strip().splitlines()
            failures.append((path.stem, msg[-1] if msg else type(exc).__name__))
            print(f"[runner] FAILED {path.stem} after {time.perf_counter() - t0:.0f} s", flush=True)
            continue
        print(f"[runner] ok {path.stem} in {time.perf_counter() - t0:.0f} s", flush=True)
        stale += stale_quotes(out_dir / path.name)
    print(f"[runner] {len(books) - len(failures)} passed, {len(failures)} failed")
    for name, msg in failures:
        print(f"[runner]   {name}: {msg}")
    if stale:
        print(f"[runner] {len(stale)} number(s) quoted in the notebooks' text differ from this run (the tables are "
              "right; update the text and its check_quoted cell):")
        for line in stale:
            print(f"[runner]   {line}")
    return 1 if failures else 0


def stale_quotes(executed: Path) -> list[str]:
    """The :data:`~aqa_lib.notebook.STALE_MARK` lines an executed notebook printed
    (:func:`aqa_lib.notebook.check_quoted`: a number its text quotes that this run no longer gives)."""
    import nbformat

    from .notebook import STALE_MARK

    lines = []
    for cell in nbformat.read(executed, as_version=4).cells:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream":
                lines += [line for line in output.get("text", "").splitlines() if line.startswith(STALE_MARK)]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", default="quick", choices=["smoke", "quick", "paper"])
    parser.add_argument("--only", nargs="*", help="notebook stems to run (default: all)")
    parser.add_argument("-p", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                        help="parameter passed to every notebook that declares it")
    parser.add_argument("--out", default=None, help="folder for executed notebooks (default out/notebooks)")
    args = parser.parse_args(argv)
    params = {k: _literal(v) for k, v in args.p}
    out_dir = Path(args.out) if args.out else (repo_root() or Path.cwd()) / "out" / "notebooks"
    os.environ.setdefault("MPLBACKEND", "Agg")
    return run(discover(args.only), scale=args.scale, params=params, out_dir=out_dir)


if __name__ == "__main__":
    sys.exit(main())
