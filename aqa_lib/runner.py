"""Execute the companion notebooks with papermill: the README's main job (``make``).

Usage::

    python -m aqa_lib.runner                       # every notebook, quick scale, one per CPU core at a time
    python -m aqa_lib.runner --scale smoke --only data_tour
    python -m aqa_lib.runner -p dataset rg -p seed 1
    python -m aqa_lib.runner --jobs 1              # one notebook after the other

Executed copies go to ``out/notebooks/`` (never over the sources); figures go to ``figures/`` (or
``$AQA_FIGURES_DIR``). Notebooks run side by side, one per core (``--jobs``); each kernel trains on one
PyTorch thread unless ``$AQA_THREADS`` says otherwise. A notebook that fails does not stop the others; the exit
code is non-zero if any failed, and the summary names each failure with the cell's error.
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


def runs_alone(path: Path) -> bool:
    """Whether the notebook asks to run with no other notebook beside it: ``aqa: runs_alone: true`` in its
    metadata (the py:percent header), set by the notebooks that measure latency. A neighbour that shares a
    core's caches, or the physical core itself where the "cores" are hyperthreads, slows what they time; on this
    project's 2-core machine the effect was small (LMAC-Net forward on Fis-V, median of six alternations: 82.8 ms
    alone, 83.7 ms beside a busy one-thread process), smaller than the machine's drift between renders."""
    import nbformat

    return bool(nbformat.read(path, as_version=4).metadata.get("aqa", {}).get("runs_alone", False))


def cores() -> int:
    """CPU cores this process may use (the runner's and the sweep's default worker count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def render_jobs(jobs: int | str | None, n_books: int) -> int:
    """How many notebooks :func:`run` executes at once: ``jobs`` (an integer, or ``auto`` / None: one per CPU
    core this process may use), never more than ``n_books``. Each kernel trains on ``$AQA_THREADS`` PyTorch
    threads (default 1), so one notebook per core keeps every core busy without oversubscribing them."""
    if jobs is None or jobs == "auto":
        count = cores()
    else:
        try:
            count = int(jobs)
        except (TypeError, ValueError):
            raise SystemExit(f"--jobs must be a positive integer or 'auto', got {jobs!r}.") from None
        if count < 1:
            raise SystemExit(f"--jobs must be a positive integer or 'auto', got {jobs!r}.")
    return max(1, min(count, n_books))


def kernel_manager_class() -> type:
    """jupyter_client's kernel manager, except that shutting a kernel down sends no SIGINT first.

    jupyter_client interrupts a kernel before asking it to shut down (in case it is busy); papermill shuts
    kernels down only once they are idle, and an idle kernel that receives the signal at the wrong moment logs
    ``[IPKernelApp] ERROR | KeyboardInterrupt caught in kernel.`` to the terminal: here 2, 3 and 2 times in
    three renders of 24 small notebooks two at a time, never in three renders with this class. A kernel that
    ignores the shutdown request is still terminated, then killed (``shutdown_wait_time``)."""
    from jupyter_client.manager import AsyncKernelManager

    class QuietShutdownKernelManager(AsyncKernelManager):
        async def _async_interrupt_kernel(self) -> None:
            if self.shutting_down:
                return
            await super()._async_interrupt_kernel()

    return QuietShutdownKernelManager


def execute(path: Path, out_path: Path, params: dict[str, object], cwd: Path | None) -> tuple[str | None, float]:
    """Execute one notebook with papermill into ``out_path``. Returns (None, seconds) on success, else (the
    last line of the error, seconds): one failing notebook must not stop the others."""
    import papermill as pm

    t0 = time.perf_counter()
    try:
        pm.execute_notebook(
            str(path), str(out_path), parameters=params, kernel_name="python3",
            cwd=str(cwd) if cwd else None, progress_bar=False, log_output=False, config=quiet_kernel_config(),
            kernel_manager_class=kernel_manager_class(),
        )
    except Exception as exc:  # noqa: BLE001 - report every notebook's failure, then exit non-zero
        msg = str(exc).strip().splitlines()
        return (msg[-1] if msg else type(exc).__name__), time.perf_counter() - t0
    return None, time.perf_counter() - t0


def run(books: list[Path], *, scale: str, params: dict[str, object], out_dir: Path,
        jobs: int | str | None = 1) -> int:
    """Execute ``books`` with papermill (each gets the parameters it declares), ``jobs`` at a time
    (:func:`render_jobs`; 1: one after the other in this process). Prints a line per notebook as it ends, then
    a summary in ``books``' order: failures with their errors, and the stale quotes the notebooks printed.
    Returns 1 if any notebook failed, else 0.

    Notebooks whose metadata asks to run alone (:func:`runs_alone`: they measure latency) run after the others,
    one at a time. Notebooks running side by side share the results cache (atomic writes) and the figures folder
    (:func:`aqa_lib.notebook.save_figure` updates its manifest under a lock); after a sweep they only read the
    cache. Without one, two notebooks that need the same uncached run may both train it, to the same numbers."""
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from multiprocessing import get_context

    check_names(books, params)
    out_dir.mkdir(parents=True, exist_ok=True)
    root = repo_root()
    todo = []
    for path in books:
        accepted = accepted_parameters(path)
        given = {"scale": scale, **params}
        # Pass only the parameters a notebook declares: papermill merely warns on unknown ones.
        todo.append((path, {k: v for k, v in given.items() if k in accepted}))
    errors: dict[str, str | None] = {}

    def finished(path: Path, error: str | None, seconds: float) -> None:
        errors[path.stem] = error
        state = f"FAILED {path.stem} after" if error is not None else f"ok {path.stem} in"
        print(f"[runner] {state} {seconds:.0f} s", flush=True)

    n_jobs = render_jobs(jobs, len(todo))
    alone = [item for item in todo if n_jobs > 1 and runs_alone(item[0])]
    shared = [item for item in todo if item not in alone]
    pooled = n_jobs > 1 and len(shared) > 1  # else every notebook runs here, one after the other
    if pooled:
        later = f", then {', '.join(p.stem for p, _ in alone)} alone (they time themselves)" if alone else ""
        print(f"[runner] {len(shared)} notebooks, {min(n_jobs, len(shared))} at a time{later}", flush=True)
        # spawn, not fork: each worker starts papermill's kernels afresh (no inherited event loop or sockets).
        with ProcessPoolExecutor(max_workers=min(n_jobs, len(shared)), mp_context=get_context("spawn")) as pool:
            futures = {}
            for path, nb_params in shared:
                print(f"[runner] {path.stem} {nb_params}", flush=True)
                futures[pool.submit(execute, path, out_dir / path.name, nb_params, root)] = path
            for future in as_completed(futures):
                try:
                    error, seconds = future.result()
                except Exception as exc:  # noqa: BLE001 - the worker process died (killed, out of memory)
                    error, seconds = f"its worker process died ({type(exc).__name__}: {exc})", 0.0
                finished(futures[future], error, seconds)
    for path, nb_params in (alone if pooled else shared + alone):
        print(f"[runner] {path.stem} {nb_params}", flush=True)
        finished(path, *execute(path, out_dir / path.name, nb_params, root))
    failures = [(path.stem, errors[path.stem]) for path, _ in todo if errors[path.stem] is not None]
    stale: list[str] = []
    warned: list[str] = []
    for path, _ in todo:
        if errors[path.stem] is None:
            lines = stream_lines(out_dir / path.name)
            stale += stale_quotes(lines=lines)
            warned += [f"{path.stem}: {line}" for line in warnings_printed(lines=lines)]
    print(f"[runner] {len(books) - len(failures)} passed, {len(failures)} failed")
    for name, msg in failures:
        print(f"[runner]   {name}: {msg}")
    if stale:
        print(f"[runner] {len(stale)} number(s) quoted in the notebooks' text differ from this run (the tables are "
              "right; update the text and its check_quoted cell):")
        for line in stale:
            print(f"[runner]   {line}")
    if warned:
        print(f"[runner] {len(warned)} warning(s) in the notebooks' output (readers see them; fix the code that "
              "raised them):")
        for line in warned:
            print(f"[runner]   {line}")
    return 1 if failures else 0


def stream_lines(executed: Path) -> list[tuple[str, str]]:
    """(stream name, line) of every stream output of an executed notebook, in order."""
    import nbformat

    return [(output.get("name", ""), line)
            for cell in nbformat.read(executed, as_version=4).cells for output in cell.get("outputs", [])
            if output.get("output_type") == "stream" for line in output.get("text", "").splitlines()]


def stale_quotes(executed: Path | None = None, *, lines: list[tuple[str, str]] | None = None) -> list[str]:
    """The :data:`~aqa_lib.notebook.STALE_MARK` lines an executed notebook printed
    (:func:`aqa_lib.notebook.check_quoted`: a number its text quotes that this run no longer gives);
    ``lines``: its :func:`stream_lines`, when already read."""
    from .notebook import STALE_MARK

    lines = stream_lines(executed) if lines is None else lines
    return [line for _, line in lines if line.startswith(STALE_MARK)]


def warnings_printed(executed: Path | None = None, *, lines: list[tuple[str, str]] | None = None) -> list[str]:
    """The warning lines (``...Warning: ...``, e.g. a library's deprecation) on an executed notebook's stderr;
    ``lines``: its :func:`stream_lines`, when already read."""
    lines = stream_lines(executed) if lines is None else lines
    return [line.strip() for name, line in lines if name == "stderr" and "Warning: " in line]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", default="quick", choices=["smoke", "quick", "paper"])
    parser.add_argument("--only", nargs="*", help="notebook stems to run (default: all)")
    parser.add_argument("-p", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                        help="parameter passed to every notebook that declares it")
    parser.add_argument("--out", default=None, help="folder for executed notebooks (default out/notebooks)")
    parser.add_argument("--jobs", default="auto",
                        help="notebooks executed at once (default auto: one per CPU core; 1: one after the other)")
    args = parser.parse_args(argv)
    params = {k: _literal(v) for k, v in args.p}
    out_dir = Path(args.out) if args.out else (repo_root() or Path.cwd()) / "out" / "notebooks"
    os.environ.setdefault("MPLBACKEND", "Agg")
    return run(discover(args.only), scale=args.scale, params=params, out_dir=out_dir, jobs=args.jobs)


if __name__ == "__main__":
    sys.exit(main())
