"""Train every run some notebooks need, on many workers, before the notebooks render: ``python -m aqa_lib.sweep``.

Usage::

    python -m aqa_lib.sweep                                    # every notebook, local workers (one per core)
    python -m aqa_lib.sweep ablation_losses case_study --scale smoke -p seeds "[0, 1]"
    python -m aqa_lib.sweep notebooks/ablation_losses.ipynb --plan-only --probe   # the runs, and how long
    python -m aqa_lib.sweep --backend ray --address auto       # an existing Ray cluster
    python -m aqa_lib.sweep --backend ray --address auto -p device cuda --gpus-per-run 1

then render the notebooks from the cache (``python -m aqa_lib.runner``, what ``make figures`` runs next).

How it works. A notebook does not list its runs; it computes them (from its parameters, the data, sometimes the
results of earlier runs). So the sweep *plans* by executing the notebook's code cells in this process, with
the parameters papermill would inject, inside :func:`aqa_lib.train.planning`: there, cached runs return their
results as usual and the first call that needs uncached runs raises :class:`~aqa_lib.train.PlanPending`
naming all of them, which stops the pass. (The cell is then re-executed with placeholder results for the
runs already found, so a loop of ``run`` calls reveals every run of the loop, not one per pass. Placeholders
hold no numbers: code that reads them stops this look-ahead; code that tolerated the missing numbers could ask
for a run the notebook will not need, which would then be trained for nothing.) The runs
of every notebook are merged (one per cache key), the stage-1 runs they start from (``init_from``) are put
in an earlier wave, and the waves are trained on the workers, each run by :func:`train_task` on one worker
(:func:`aqa_lib.train.run`: checkpoints, resume, atomic cache writes). Then the notebooks are planned again:
cells past the first stop may need runs that depend on those results. The sweep ends when a planning pass
completes every notebook with nothing pending; rendering then trains nothing.

Backends. ``local`` (the default): worker processes on this machine (``--workers``, default one per core;
each pins its PyTorch threads to cores // workers). A worker that dies (killed, out of memory) breaks the
pool: it is recreated and the runs it was training are submitted again (``--retries``), resuming from their
checkpoints. ``ray``: tasks on a Ray cluster (``--address``, default a local instance with ``--workers``
CPUs), each retried by Ray when its worker dies. Every worker writes to the same content-addressed cache
(``AQA_CACHE_DIR`` is passed to the workers): on a multi-node cluster it must be a shared filesystem, and
every node must run the same code (the cache key covers it; a mismatch is detected and reported).

Planning runs the notebooks' code with figures going to a temporary folder, ``MPLBACKEND=Agg``, and their
output hidden. A notebook that fails while planning (anything but a pending run) is reported with its cell;
the sweep goes on with the other notebooks and exits non-zero, as it does when a run fails after its retries.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import math
import os
import statistics
import sys
import tempfile
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from . import cache, runner
from .paths import cache_dir, repo_root
from .train import (
    PendingRun,
    PlanPending,
    RunConfig,
    RunResult,
    _widened,
    lookup,
    planning,
    planning_log,
    run,
    run_key,
    run_many,
    runs_bar,
)

Task = Callable[[dict[str, Any]], dict[str, Any]]
"""What a worker runs for one job: a RunConfig as a dict in, :func:`train_task`'s dict out."""

MAX_LOOKAHEAD = 500
"""How often one cell is re-executed with placeholder results to find the runs after its first pending one."""


def _log(message: str) -> None:
    print(f"[sweep] {message}", flush=True)


# ---------------------------------------------------------------------------------------------------------
# Notebooks
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Notebook:
    """A notebook to plan: ``ipynb`` is what renders (papermill), ``source`` the cells planned (its paired
    py:percent script when there is one, else the .ipynb itself)."""

    name: str
    ipynb: Path
    source: Path


def resolve_notebooks(names: Sequence[str]) -> list[Notebook]:
    """Notebooks by stem (``ablation_losses``, as ``make figures ONLY=...`` names them) or path (the .ipynb or
    its paired .py); none = every notebook :func:`aqa_lib.runner.discover` finds."""
    books: list[Path] = []
    for name in names:
        if not name.endswith((".ipynb", ".py")):
            books += runner.discover([name])  # an unknown stem stops, listing the available ones
            continue
        path = Path(name).with_suffix(".ipynb")
        if not path.exists():
            raise SystemExit(f"Notebook {path} does not exist: pass a stem from notebooks/ or a path; pair a "
                             f"py:percent script with `jupytext --sync {path.with_suffix('.py')}`.")
        books.append(path.resolve())
    if not names:
        books = runner.discover()
    out = []
    for path in dict.fromkeys(books):
        script = path.with_suffix(".py")
        out.append(Notebook(path.stem, path, script if script.exists() else path))
    return out


def code_cells(book: Notebook) -> list[tuple[int, str, bool]]:
    """The notebook's code cells as (number among all cells, 1-based; source; is the ``parameters`` cell),
    magic and shell lines (``%...``, ``!...``) dropped."""
    import jupytext

    nb = jupytext.read(book.source)
    cells = []
    for number, cell in enumerate(nb.cells, start=1):
        if cell.cell_type != "code":
            continue
        if cell.source.lstrip().startswith("%%"):
            continue  # a cell magic (%%bash, %%time, ...) is not Python
        lines = [line for line in cell.source.splitlines() if not line.lstrip().startswith(("%", "!"))]
        cells.append((number, "\n".join(lines), "parameters" in cell.metadata.get("tags", [])))
    return cells


def injected_source(book: Notebook, params: dict[str, Any], scale: str) -> str:
    """The parameters cell papermill would inject: ``scale`` and the ``-p`` values the notebook declares (as
    :func:`aqa_lib.runner.run` passes them), written by papermill's own translator."""
    from papermill.translators import PythonTranslator

    accepted = runner.accepted_parameters(book.ipynb)
    given = {k: v for k, v in {"scale": scale, **params}.items() if k in accepted}
    return PythonTranslator.codify(given)


@dataclass
class NotebookPlan:
    """One planning pass of a notebook: ``pending`` (key -> config) are the uncached runs it stopped at,
    ``cell`` where it stopped (or failed, with ``error``), ``cached`` the cached runs it read before."""

    name: str
    pending: dict[str, RunConfig] = field(default_factory=dict)
    cached: dict[str, RunConfig] = field(default_factory=dict)
    cell: int | None = None
    error: str | None = None

    @property
    def complete(self) -> bool:
        return not self.pending and self.error is None


@contextlib.contextmanager
def _planning_environment(root: Path | None) -> Iterator[None]:
    """What a planning pass runs in: the repository as working directory (as the runner's papermill), Agg
    figures written to a temporary folder, no table export, and the notebook's output hidden."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    saved = {k: os.environ.get(k) for k in ("AQA_FIGURES_DIR", "AQA_TABLES_OUT", "MPLBACKEND")}
    with tempfile.TemporaryDirectory(prefix="aqa-sweep-figures-") as figures:
        os.environ.update({"AQA_FIGURES_DIR": figures, "MPLBACKEND": "Agg"})
        os.environ.pop("AQA_TABLES_OUT", None)
        sink = io.StringIO()
        try:
            with contextlib.ExitStack() as stack:
                if root is not None:
                    stack.enter_context(contextlib.chdir(root))
                stack.enter_context(contextlib.redirect_stdout(sink))
                stack.enter_context(contextlib.redirect_stderr(sink))
                yield
        finally:
            plt.close("all")
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


def _first_line(source: str) -> str:
    lines = [s.strip() for s in source.splitlines() if s.strip() and not s.strip().startswith("#")]
    text = lines[0] if lines else ""
    return text if len(text) <= 60 else text[:57] + "..."


def _error_text(exc: BaseException, filename: str) -> str:
    """``Type: message`` and the notebook line it was raised from (when the traceback reaches it)."""
    where = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == filename]
    line = f" (line {where[-1].lineno} of the cell)" if where else ""
    return f"{type(exc).__name__}: {exc}{line}"


def _look_ahead(code: Any, namespace: dict[str, Any], pending: dict[str, RunConfig],
                cached: dict[str, RunConfig]) -> None:
    """Re-execute a cell that stopped on pending runs, with placeholder results for the runs found so far, to
    find those it asks for after them (a loop of ``run`` calls); stops when the cell ends, fails (it read a
    placeholder's numbers) or asks for nothing new. Adds what it finds to ``pending`` and ``cached``."""
    for _ in range(MAX_LOOKAHEAD):
        with planning(assumed=pending) as log:
            try:
                exec(code, dict(namespace))  # a copy: the real pass stops before this cell
                new = {}
            except PlanPending as more:
                new = {k: c for k, c in zip(more.keys, more.configs, strict=True) if k not in pending}
            except Exception:  # noqa: BLE001 - placeholder numbers were read: what follows is unknowable
                new = {}
        cached.update(log.cached)
        if not new:
            return
        pending.update(new)


def plan_notebook(book: Notebook, params: dict[str, Any], scale: str) -> NotebookPlan:
    """Execute ``book``'s code cells (parameters cell, injected parameters, the rest) in a fresh namespace
    under :func:`aqa_lib.train.planning` until the first cell that needs uncached runs; see the module
    docstring. Never trains, never raises for the notebook's own errors (they land in ``error``)."""
    plan = NotebookPlan(book.name)
    cells = code_cells(book)
    injected = (0, injected_source(book, params, scale), False)
    at = next((i + 1 for i, (_, _, is_params) in enumerate(cells) if is_params), 0)
    cells = [*cells[:at], injected, *cells[at:]]
    namespace: dict[str, Any] = {"__name__": "__main__", "In": [""], "display": lambda *a, **k: None}
    with _planning_environment(repo_root()), planning() as log:
        for number, source, _ in cells:
            filename = f"<{book.name} cell {number}>"
            try:
                code = compile(source, filename, "exec")
                namespace["In"].append(source)  # as IPython keeps it: check_params finds injected names there
                exec(code, namespace)  # the notebook's own code, as papermill runs it
            except PlanPending as stop:
                plan.pending = dict(zip(stop.keys, stop.configs, strict=True))
                plan.cell = number
                _look_ahead(code, namespace, plan.pending, log.cached)
                break
            except (Exception, SystemExit) as exc:  # noqa: BLE001 - reported with the notebook and cell
                where = "the injected parameters" if number == 0 else f"cell {number} (`{_first_line(source)}`)"
                plan.cell, plan.error = number, f"{where}: {_error_text(exc, filename)}"
                break
        plan.cached = dict(log.cached)
    return plan


# ---------------------------------------------------------------------------------------------------------
# Jobs: merged across notebooks, stage-1 runs in earlier waves
# ---------------------------------------------------------------------------------------------------------


@dataclass
class Job:
    """One run to train: its cache key (as this process computes it), config and the notebooks needing it."""

    key: str
    config: RunConfig
    notebooks: set[str] = field(default_factory=set)

    def describe(self) -> str:
        c = self.config
        return f"{c.model} {c.dataset}/{c.target} seed {c.seed} {c.scale}"


def merge(plans: Sequence[NotebookPlan]) -> dict[str, Job]:
    """The pending runs of every plan, one job per cache key; two notebooks asking one key with different
    records train it once, recording the union (:func:`aqa_lib.train.lookup`'s rule)."""
    jobs: dict[str, Job] = {}
    for plan in plans:
        for key, config in plan.pending.items():
            if key in jobs:
                jobs[key].config = _widened(jobs[key].config, config.to_dict())
            else:
                jobs[key] = Job(key, config)
            jobs[key].notebooks.add(plan.name)
    return jobs


def schedule(jobs: dict[str, Job], known: dict[tuple[str, str, str], float] | None = None) -> list[list[Job]]:
    """Waves of jobs: each job after the uncached runs its ``init_from`` starts from (added as jobs of their
    own), so no worker trains a stage-1 run inside its stage-2 job. Adds the stage-1 jobs to ``jobs``.

    Within a wave the longest runs go first (estimated from :func:`timings`; runs without an estimate count
    as long), so that short runs fill the workers' gaps at the end rather than leave one worker training a
    long run alone. ``known``: the timings to use (default :func:`timings`; the sweep adds its probes)."""
    level: dict[str, int] = {}

    def visit(job: Job) -> int:
        if job.key not in level:
            depth = 0
            for spec in job.config.init_from:
                found = lookup(RunConfig.from_dict(spec["run"]))
                if isinstance(found, PendingRun):
                    source = jobs.setdefault(found.key, Job(found.key, found.config))
                    source.notebooks |= job.notebooks
                    depth = max(depth, visit(source) + 1)
            level[job.key] = depth
        return level[job.key]

    for job in list(jobs.values()):
        visit(job)
    waves = [[j for j in jobs.values() if level[j.key] == d] for d in range(max(level.values(), default=-1) + 1)]
    return longest_first([w for w in waves if w], timings() if known is None else known)


def longest_first(waves: Sequence[Sequence[Job]], known: dict[tuple[str, str, str], float]) -> list[list[Job]]:
    """Each wave's jobs by their expected time (seconds per epoch from ``known`` × epochs), longest first; jobs
    without an estimate first; ties keep their order."""

    def expected(job: Job) -> float:
        per_epoch = seconds_per_epoch(known, job.config)
        return math.inf if per_epoch is None else per_epoch * job.config.epochs

    return [sorted(wave, key=expected, reverse=True) for wave in waves]


_TIMINGS: dict[tuple[str, str], tuple[tuple[str, str, str], float] | None] = {}
"""(cache root, key) -> ((model, dataset, scale), seconds per epoch) of each cache entry read so far."""


def _timing(key: str) -> tuple[tuple[str, str, str], float] | None:
    memo = (str(cache.runs_dir()), key)
    if memo not in _TIMINGS:
        try:
            meta = cache.read_meta(key)
        except (OSError, ValueError):
            return None
        cfg, summary = meta.get("config", {}), meta.get("summary", {})
        per_epoch = summary.get("seconds_per_epoch")
        if per_epoch is None and meta.get("meta", {}).get("wall_seconds") and cfg.get("epochs"):
            per_epoch = meta["meta"]["wall_seconds"] / cfg["epochs"]
        found = ((cfg.get("model"), cfg.get("dataset"), cfg.get("scale")), float(per_epoch)) if per_epoch else None
        _TIMINGS[memo] = found
    return _TIMINGS[memo]


def timings() -> dict[tuple[str, str, str], float]:
    """Median training seconds per epoch of the cached runs, per (model, dataset, scale), and per (paper
    family, dataset, scale) under the family's name (``"lmac"`` for every ``lmac/...`` row), the fall-back
    of :func:`seconds_per_epoch`."""
    seen: dict[tuple[str, str, str], list[float]] = {}
    for key in cache.keys():
        found = _timing(key)
        if found is not None:
            (model, dataset, scale), per_epoch = found
            seen.setdefault((model, dataset, scale), []).append(per_epoch)
            if "/" in str(model):
                seen.setdefault((str(model).split("/")[0] + "/*", dataset, scale), []).append(per_epoch)
    return {k: statistics.median(v) for k, v in seen.items()}


def seconds_per_epoch(known: dict[tuple[str, str, str], float], config: RunConfig) -> float | None:
    """``config``'s expected seconds per epoch from :func:`timings`: its own model's, else its paper model's
    (``lmac`` for an ``lmac/...`` row), else the median over its family's rows."""
    own = known.get((config.model, config.dataset, config.scale))
    family = known.get((config.model.split("/")[0] + "/*", config.dataset, config.scale))
    plain = known.get((config.model.split("/")[0], config.dataset, config.scale))
    return next((v for v in (own, plain, family) if v is not None), None)


def probe_seconds_per_epoch(config: RunConfig, *, threads: int = 1, steps: int = 2) -> float:
    """``config``'s seconds per epoch from a short trial, for an estimate before anything trains: the run's
    model, data and optimiser are set up as :func:`aqa_lib.train.train` sets them up (stage-1 weights not
    loaded: the cost is the same), then one warm-up step, ``steps`` timed steps and one timed evaluation of
    the test split; an epoch is the mean step times the steps per epoch plus that evaluation. Runs on
    ``threads`` PyTorch threads (the workers' count) and restores this process's threads and random state;
    nothing is cached. Measured against whole sweeps on 2 workers, the estimates came out 8–24 % high (README,
    "Sweeps"); this shared machine's speed drifts by ±20 %."""
    import torch

    from . import train as engine

    if steps < 1:
        raise ValueError(f"steps must be at least 1, got {steps}.")
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        with engine.isolated_rng():
            cfg = config.replace(init_from=(), record_train=(), record_test=(), save_weights=False)
            r = engine._setup(cfg, engine.load_data(cfg))
            r.model.train()
            for module in r.frozen:
                module.eval()
            n_train, size = len(r.banks["train"]), cfg.batch_size
            order = torch.randperm(n_train, generator=r.gen)
            batches = [order.roll(-i * size)[:size] for i in range(steps + 1)]
            engine._train_step(r, batches[0])
            t0 = time.perf_counter()
            for index in batches[1:]:
                engine._train_step(r, index)
            step = (time.perf_counter() - t0) / steps
            r.model.eval()
            t0 = time.perf_counter()
            engine._evaluate(r)
            return step * r.steps_per_epoch + time.perf_counter() - t0
    finally:
        torch.set_num_threads(before)


def probe_timings(configs: Iterable[RunConfig], known: dict[tuple[str, str, str], float], *,
                  threads: int = 1) -> dict[tuple[str, str, str], float]:
    """``known`` plus a probe (:func:`probe_seconds_per_epoch`) of one run per model, dataset and scale among
    ``configs`` that has no cached timing of its own model (a sibling row's does not count: an ablation row can
    cost 3× another). A run whose trial fails (e.g. a CUDA run planned on a machine without a GPU) stays
    without an estimate; its error is left for the real run to report."""
    out = dict(known)
    for c in configs:
        group = (c.model, c.dataset, c.scale)
        if group in out:
            continue
        try:
            out[group] = probe_seconds_per_epoch(c, threads=threads)
        except Exception:  # noqa: BLE001 - an estimate only; the run itself will raise with its context
            continue
    return out


def plan_summary(waves: Sequence[Sequence[Job]], n_cached: int, workers: int,
                 known: dict[tuple[str, str, str], float] | None = None) -> str:
    """``N runs to train (M cached) in W waves, estimated ~X min on K workers`` (from ``known``, default
    :func:`timings`)."""
    known = timings() if known is None else known
    total, unknown = 0.0, 0
    for wave in waves:
        seconds = []
        for job in wave:
            c = job.config
            per_epoch = seconds_per_epoch(known, c)
            if per_epoch is None:
                unknown += 1
            else:
                seconds.append(per_epoch * c.epochs)
        if seconds:  # a wave lasts at least its longest run
            total += max(sum(seconds) / workers, max(seconds))
    n = sum(len(w) for w in waves)
    head = (f"{n} run{'s' if n != 1 else ''} to train ({n_cached} cached) in {len(waves)} "
            f"wave{'s' if len(waves) != 1 else ''}")
    on = f"on {workers} worker{'s' if workers != 1 else ''}"
    if unknown == n:
        return f"{head}, no estimate yet (no cached run of these models, datasets and scale), {on}"
    note = f" (no timings yet for {unknown} of them)" if unknown else ""
    return f"{head}, estimated ~{max(total / 60, 0.1):.1f} min {on}{note}"


# ---------------------------------------------------------------------------------------------------------
# A notebook's runs on local workers (what the experiments' tables call)
# ---------------------------------------------------------------------------------------------------------

WORKERS_ENV = "AQA_WORKERS"
"""Local worker processes a notebook's table may train its uncached CPU runs on: an integer, or ``auto`` (the
default: one per core)."""


WORKER_MEMORY_GB = 3
"""Memory :func:`local_workers` budgets per worker on ``auto``: a quick run's process peaks at about 1.4 GB."""


def _memory_gb() -> float | None:
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / 2**30
    except (AttributeError, OSError, ValueError):  # pragma: no cover - not POSIX
        return None


def local_workers(workers: int | str | None = None) -> int:
    """How many local worker processes :func:`run_local` may use: ``workers`` if given, else ``$AQA_WORKERS``,
    else ``"auto"``; ``"auto"`` is one per CPU core this process may use, at most one per
    :data:`WORKER_MEMORY_GB` of the machine's memory, and 1 inside a worker."""
    raw = os.environ.get(WORKERS_ENV, "auto") if workers is None else workers
    if raw == "auto":
        if os.environ.get("AQA_IN_WORKER"):
            return 1
        memory = _memory_gb()
        by_memory = cores() if memory is None else max(1, int(memory // WORKER_MEMORY_GB))
        return min(cores(), by_memory)
    try:
        n = int(raw)
    except (TypeError, ValueError):
        n = 0
    if n < 1 or isinstance(raw, bool) or str(n) != str(raw).strip():
        raise ValueError(f"{WORKERS_ENV} / workers must be a positive integer or 'auto', got {raw!r} "
                         f"(e.g. {WORKERS_ENV}=1 trains every run in this process).")
    return n


def runs_for_workers(configs: Sequence[RunConfig], workers: int) -> list[RunConfig]:
    """The configs :func:`run_local` hands to ``workers`` local processes: the uncached CPU runs above smoke
    scale (a smoke run trains in about a second, less than a worker takes to start), one per cache key, and
    only when there are at least two of them and more than one worker."""
    candidates = [c for c in configs if _worker_eligible(c)] if workers > 1 else []
    if len(candidates) < 2:  # nothing to look up: this notebook trains here
        return []
    pending: dict[str, RunConfig] = {}
    for config in candidates:
        found = lookup(config)
        if isinstance(found, PendingRun):
            pending.setdefault(found.key, found.to_train)
    return list(pending.values()) if len(pending) > 1 else []


def _worker_eligible(config: RunConfig) -> bool:
    """A run :func:`run_local` may hand to a worker: on CPU and above smoke scale."""
    import torch

    return config.scale != "smoke" and torch.device(config.device).type == "cpu"


def train_on_workers(configs: Sequence[RunConfig], workers: int) -> None:
    """Train ``configs`` on ``workers`` local processes (:class:`LocalExecutor`), each with this process's
    number of PyTorch threads (the notebooks' policy: one), so that every run gives the numbers it gives
    trained here; stage-1 runs first. Each caches its result; a run that fails raises here, naming it."""
    import torch

    jobs: dict[str, Job] = {}
    for config in configs:
        key = run_key(config)
        jobs[key] = Job(key, config)
    executor = LocalExecutor(min(workers, len(jobs)), threads=torch.get_num_threads())
    try:
        for wave in schedule(jobs):
            outcomes = executor.execute(wave, desc=f"runs on {executor.workers} workers")
            problems = [f"{o.job.describe()}: {why}" for o in outcomes if (why := _check(o)) is not None]
            if problems:
                raise RuntimeError("Training on local workers failed for " + "; ".join(problems)
                                   + f" (set {WORKERS_ENV}=1 to train in this process and see the full traceback).")
    finally:
        executor.close()


def run_local(configs: Sequence[RunConfig], *, progress: bool = False, workers: int | str | None = None
              ) -> list[RunResult]:
    """Every config's result, in order (:func:`aqa_lib.train.run_many`), the uncached CPU runs above smoke scale
    trained first on local worker processes when there are two or more of them (``workers``, default
    ``$AQA_WORKERS`` or one per core; :func:`runs_for_workers`), then read from the cache.

    What a notebook's table calls (:func:`aqa_lib.experiments.run_table` and the comparisons). A run is a pure
    function of its config and trains with this process's threads either way, so the numbers are those of the
    runs trained one after another here (tested); on a 2-core CPU a table trains about twice as fast.
    ``workers=1`` (or ``AQA_WORKERS=1``) trains here. Under :func:`aqa_lib.train.planning` nothing trains.
    This lives here, not in the engine, so that the cache keys (the engine's code) do not depend on it.
    """
    configs = list(configs)
    if planning_log() is None:
        n = local_workers(workers)
        remote = runs_for_workers(configs, n)
        if remote:
            train_on_workers(remote, n)
    return run_many(configs, progress=progress)


def estimate_line(configs: Sequence[RunConfig], workers: int | None = None, *, probe: bool | None = None) -> str:
    """One line for a notebook about to train ``configs``: ``N runs to train (M cached), estimated ~X min one
    after another`` (or ``on K workers``, when :func:`run_local` will hand them to ``workers`` local processes;
    default :func:`local_workers`) from the timings of cached runs of the same model, dataset and scale
    (:func:`timings`), or ``no estimate yet``. With ``probe`` (default: when some run is above smoke scale,
    and never while a sweep plans), a model and dataset without a cached run is timed by a short trial first
    (:func:`probe_timings`, a second or two each at quick). Nothing trains."""
    workers = local_workers() if workers is None else workers
    known = timings()
    keys: dict[str, RunConfig] = {}
    cached = 0
    for config in configs:
        found = lookup(config)
        if isinstance(found, PendingRun):
            keys.setdefault(found.key, found.to_train)
        else:
            cached += 1
    if probe is None:
        probe = planning_log() is None and any(c.scale != "smoke" for c in keys.values())
    timed = 0
    if probe and keys:
        import torch

        probed = probe_timings(keys.values(), known, threads=torch.get_num_threads())
        timed, known = len(probed) - len(known), probed
    on_workers = sum(_worker_eligible(c) for c in keys.values())  # what run_local hands to the workers
    parallel = min(workers, on_workers) if workers > 1 and on_workers > 1 else 1
    each, unknown = [], 0
    for c in keys.values():
        per_epoch = seconds_per_epoch(known, c)
        if per_epoch is None:
            unknown += 1
        else:
            each.append(per_epoch * c.epochs)
    seconds = max(sum(each) / parallel, max(each)) if each and parallel > 1 else sum(each)
    n = len(keys)
    head = f"{n} run{'s' if n != 1 else ''} to train ({cached} cached)"
    if n == 0:
        return f"{head}: nothing trains"
    if unknown == n:
        where = f", on {parallel} workers" if parallel > 1 else ""
        return f"{head}, no estimate yet (no cached run of these models, datasets and scale){where}"
    note = f"; no timing yet for {unknown} of them" if unknown else ""
    if timed:
        note += f"; {timed} model{'s' if timed != 1 else ''} timed by a few training steps"
    how = f"on {parallel} workers" if parallel > 1 else "one after another"
    return f"{head}, estimated ~{max(seconds / 60, 0.1):.1f} min {how}{note}"


# ---------------------------------------------------------------------------------------------------------
# Executors
# ---------------------------------------------------------------------------------------------------------


def train_task(config: dict[str, Any]) -> dict[str, Any]:
    """One sweep job, what every worker runs: the run of ``config`` (a :class:`~aqa_lib.train.RunConfig`
    dict), from the cache or trained now (resuming a checkpoint) and cached. Returns its key as the worker
    computes it, where it was cached, and its summary."""
    result = run(RunConfig.from_dict(config))
    return {"key": result.key, "cached": result.cached, "cache_dir": str(cache_dir()),
            "seconds": result.meta.get("wall_seconds"), "summary": result.summary}


@dataclass
class Outcome:
    """What became of a job: ``info`` (the task's dict) when it succeeded, else ``error``."""

    job: Job
    info: dict[str, Any] | None = None
    error: str | None = None


class Executor(Protocol):
    workers: int

    def execute(self, jobs: Sequence[Job], desc: str) -> list[Outcome]: ...

    def close(self) -> None: ...


cores = runner.cores
"""CPU cores this process may use (:func:`aqa_lib.runner.cores`)."""


def _init_worker(threads: int, env: dict[str, str]) -> None:
    """A local worker's start: the sweep's environment (its cache) and ``threads`` PyTorch/BLAS threads."""
    from .notebook import apply_thread_policy

    os.environ.update(env)
    os.environ["AQA_THREADS"] = str(threads)
    os.environ["AQA_IN_WORKER"] = "1"  # a run inside a worker trains there (aqa_lib.train.local_workers)
    apply_thread_policy()


def _warm() -> None:
    """A local worker's first task: import the engine (what :meth:`LocalExecutor.warm_up` waits for)."""
    from . import train  # noqa: F401


def worker_env() -> dict[str, str]:
    """Environment every worker gets: this process's cache (and code-version pin, when set)."""
    env = {"AQA_CACHE_DIR": str(cache_dir().resolve())}
    if os.environ.get("AQA_CODE_VERSION"):
        env["AQA_CODE_VERSION"] = os.environ["AQA_CODE_VERSION"]
    return env


class LocalExecutor:
    """Worker processes on this machine (``spawn``), one run each at a time; a dead worker's runs are retried.

    When a worker dies, :class:`~concurrent.futures.ProcessPoolExecutor` stops every worker: the pool is
    recreated and every run that was training on it is submitted again (resuming from its checkpoint), up to
    ``retries`` times per run. An exception inside a run (e.g. a NaN loss) is not retried: training is
    deterministic, it would fail again.
    """

    def __init__(self, workers: int | None = None, *, retries: int = 2, task: Task = train_task,
                 threads: int | None = None) -> None:
        self.workers = workers or cores()
        if self.workers < 1 or retries < 0:
            raise ValueError(f"workers must be at least 1 and retries at least 0, got {workers} and {retries}.")
        self.retries, self.task = retries, task
        self.threads = threads or max(1, cores() // self.workers)  # PyTorch threads per worker
        self._pool: ProcessPoolExecutor | None = None

    def _get_pool(self) -> ProcessPoolExecutor:
        if self._pool is None:
            import multiprocessing

            self._pool = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"),
                                             initializer=_init_worker, initargs=(self.threads, worker_env()))
        return self._pool

    def warm_up(self) -> None:
        """Start the workers now (each imports PyTorch and the engine: seconds) while this process plans the
        other notebooks; the sweep calls it once some run needs training. Idempotent."""
        if self._pool is None:
            pool = self._get_pool()
            for _ in range(self.workers):
                pool.submit(_warm)

    def _drop_pool(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def execute(self, jobs: Sequence[Job], desc: str = "runs") -> list[Outcome]:
        queue, outcomes = deque(jobs), {}
        attempts = {job.key: 0 for job in jobs}
        running: dict[Future, Job] = {}
        bar = runs_bar(len(jobs), desc)
        try:
            while queue or running:
                pool = self._get_pool()
                while queue and len(running) < self.workers:  # no backlog: every submitted run is training
                    job = queue.popleft()
                    attempts[job.key] += 1
                    running[pool.submit(self.task, job.config.to_dict())] = job
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                broken = False
                for future in done:
                    job = running.pop(future)
                    try:
                        outcomes[job.key] = Outcome(job, info=future.result())
                        bar.update(1)
                    except BrokenProcessPool:
                        broken = True
                        running[future] = job  # handled with the pool's other runs below
                    except Exception as exc:  # noqa: BLE001 - the run's own error, reported at the end
                        outcomes[job.key] = Outcome(job, error=f"{type(exc).__name__}: {exc}")
                        bar.update(1)
                if broken:
                    bar.write(f"[sweep] a worker died; restarting the pool ({len(running)} run(s) interrupted)",
                              file=sys.stderr)
                    self._drop_pool()
                    for job in running.values():
                        if attempts[job.key] <= self.retries:
                            queue.appendleft(job)
                        else:
                            outcomes[job.key] = Outcome(job, error=f"its worker died in each of its "
                                                                   f"{attempts[job.key]} attempt(s) "
                                                                   f"(--retries {self.retries})")
                            bar.update(1)
                    running.clear()
        finally:
            bar.close()
        return [outcomes[job.key] for job in jobs]

    def close(self) -> None:
        self._drop_pool()


def _ray_job(task: Task, config: dict[str, Any], threads: int) -> dict[str, Any]:
    """A Ray task: set the run's threads, then run ``task``."""
    from .notebook import apply_thread_policy

    os.environ["AQA_THREADS"] = str(threads)
    apply_thread_policy()
    return task(config)


def import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise SystemExit('--backend ray needs Ray, an optional extra of aqa-companion: pip install -e ".[ray]" '
                         "(on every node of the cluster too), or use the default --backend local.") from None
    return ray


class RayExecutor:
    """Ray tasks, one run each, on the cluster at ``address`` (``"auto"``: the one this node belongs to) or,
    without one, a local Ray instance with ``workers`` CPUs (or the Ray instance this process already started).

    Each task asks for ``cpus_per_run`` CPUs (its PyTorch threads) and ``gpus_per_run`` GPUs; Ray retries a
    task whose worker dies up to ``retries`` times (the run resumes from its checkpoint). The workers get this
    process's cache through their environment (:func:`worker_env`), so on several nodes the cache must be a
    shared filesystem mounted at the same path.
    """

    def __init__(self, workers: int | None = None, *, address: str | None = None, retries: int = 2,
                 gpus_per_run: float = 0, cpus_per_run: int = 1, task: Task = train_task) -> None:
        ray = import_ray()
        if retries < 0 or gpus_per_run < 0 or cpus_per_run < 1:
            raise ValueError("retries and gpus_per_run must be >= 0 and cpus_per_run >= 1.")
        self._ray, self.task, self.cpus_per_run = ray, task, cpus_per_run
        self._owned = not ray.is_initialized()
        if self._owned:
            if address:
                ray.init(address=address)
            else:
                ray.init(num_cpus=workers or cores(), include_dashboard=False)
        resources = ray.cluster_resources()
        slots = int(resources.get("CPU", 1) // cpus_per_run)
        if gpus_per_run:
            slots = min(slots, int(resources.get("GPU", 0) // gpus_per_run))
            if slots < 1:
                raise SystemExit(f"--gpus-per-run {gpus_per_run}: the Ray cluster has {resources.get('GPU', 0)} "
                                 "GPUs; start it on GPU nodes or drop --gpus-per-run.")
        self.workers = max(1, slots)
        self._remote = ray.remote(_ray_job).options(
            max_retries=retries, num_cpus=cpus_per_run, num_gpus=gpus_per_run,
            runtime_env={"env_vars": worker_env()})

    def execute(self, jobs: Sequence[Job], desc: str = "runs") -> list[Outcome]:
        ray = self._ray
        refs = {self._remote.remote(self.task, job.config.to_dict(), self.cpus_per_run): job for job in jobs}
        outcomes: dict[str, Outcome] = {}
        bar = runs_bar(len(jobs), desc)
        try:
            left = list(refs)
            while left:
                done, left = ray.wait(left, num_returns=1)
                job = refs[done[0]]
                try:
                    outcomes[job.key] = Outcome(job, info=ray.get(done[0]))
                except ray.exceptions.RayError as exc:  # the run's error, or its worker died past the retries
                    cause = getattr(exc, "cause", None)
                    text = f"{type(cause).__name__}: {cause}" if cause is not None else str(exc).splitlines()[0]
                    outcomes[job.key] = Outcome(job, error=text)
                bar.update(1)
        finally:
            bar.close()
        return [outcomes[job.key] for job in jobs]

    def close(self) -> None:
        if self._owned:
            self._ray.shutdown()


# ---------------------------------------------------------------------------------------------------------
# The sweep
# ---------------------------------------------------------------------------------------------------------


@dataclass
class SweepReport:
    """What a sweep did: keys trained, runs that failed (key -> why), notebooks that could not be planned
    (name -> why), planning rounds, and the notebooks whose every run is now cached."""

    trained: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    complete: list[str] = field(default_factory=list)
    rounds: int = 0

    @property
    def ok(self) -> bool:
        return not self.failed and not self.errors


def _check(outcome: Outcome) -> str | None:
    """Why a finished job does not count, or None: the worker must have cached it under this process's key,
    in this process's cache (otherwise the next planning pass would ask for it again, forever)."""
    if outcome.error is not None:
        return outcome.error
    info = outcome.info or {}
    key = info.get("key")
    if key != outcome.job.key:
        if run_key(outcome.job.config) != key:  # not merely the code on disk changing during the sweep
            return (f"the worker computed cache key {key} for it, this process {outcome.job.key}: the workers "
                    "run other code or another torch version; install the same checkout everywhere (or pin "
                    "AQA_CODE_VERSION).")
        _log(f"the code changed during the sweep: {outcome.job.describe()} is cached under its new key; the "
             "next planning pass uses the new code's keys")
    if not cache.exists(key):
        return (f"the worker cached it in {info.get('cache_dir')}, which is not this process's cache "
                f"{cache_dir()}: give every worker one shared cache (AQA_CACHE_DIR on a shared filesystem).")
    return None


def plan_lines(waves: Sequence[Sequence[Job]], cached: dict[str, RunConfig]) -> list[str]:
    """One line per run (``--plan-only``): model, dataset/target, seed, scale, cached or to train."""
    rows = [(c, "cached", "") for c in cached.values()]
    rows += [(j.config, f"to-train (wave {i})", ", ".join(sorted(j.notebooks)))
             for i, wave in enumerate(waves, start=1) for j in wave]
    width = max((len(c.model) for c, _, _ in rows), default=5)
    return [f"  {c.model:<{width}}  {c.dataset}/{c.target:<8} seed {c.seed:<3} {c.scale:<6} {status}"
            + (f"  [{books}]" if books else "") for c, status, books in rows]


def sweep(books: Sequence[Notebook], *, params: dict[str, Any], scale: str, executor: Executor | None,
          max_rounds: int = 10, plan_only: bool = False, probe: bool = False) -> SweepReport:
    """Plan ``books``, train what they need on ``executor``, plan again, until every notebook completes (see
    the module docstring). With ``plan_only`` (``executor`` may be None) prints the first plan and stops.
    With ``probe``, runs of a model, dataset and scale without a cached timing are timed by a short trial
    (:func:`probe_timings`) before each round, so the plan line has an estimate and long runs go first."""
    runner.check_names([b.ipynb for b in books], params)
    _log(f"planning {', '.join(b.name for b in books)} at {scale} scale{f' with {params}' if params else ''}; "
         f"cache {cache_dir()}")
    report = SweepReport()
    active = list(books)
    for round_ in range(1, max_rounds + 2):
        if not active:
            break
        t0 = time.perf_counter()
        plans = []
        for book in active:
            plans.append(plan_notebook(book, params, scale))
            if plans[-1].pending and not plan_only and hasattr(executor, "warm_up"):
                executor.warm_up()  # workers start while the other notebooks are planned
        report.rounds = round_
        for plan in plans:
            if plan.error is not None:
                report.errors[plan.name] = plan.error
                _log(f"FAILED planning {plan.name}: {plan.error}")
            elif plan.complete:
                report.complete.append(plan.name)
        waiting = [p for p in plans if p.pending]
        cached = {k: c for p in plans for k, c in p.cached.items()}
        prefix = "" if round_ == 1 else f"round {round_}: "
        if not waiting:
            if plan_only:
                print("\n".join(plan_lines([], cached)))
            _log(f"{prefix}every run of {len(plans)} notebook(s) is cached (planned in "
                 f"{time.perf_counter() - t0:.1f} s)")
            break
        if round_ > max_rounds:
            for plan in waiting:
                report.errors[plan.name] = (f"still needs {len(plan.pending)} runs (cell {plan.cell}) after "
                                            f"{max_rounds} rounds of planning and training; raise --max-rounds")
                _log(f"FAILED {plan.name}: {report.errors[plan.name]}")
            break
        jobs = merge(waiting)
        known = timings()
        waves = schedule(jobs, known)  # adds the stage-1 jobs: probed below with the rest
        executor_workers = executor.workers if executor is not None else cores()
        if probe:
            t1 = time.perf_counter()
            probed = probe_timings((j.config for j in jobs.values()), known, threads=_threads_of(executor))
            if len(probed) > len(known):
                _log(f"{prefix}timed {len(probed) - len(known)} model / dataset pair(s) without a cached run by "
                     f"a few training steps each ({time.perf_counter() - t1:.0f} s)")
                known = probed
                waves = longest_first(waves, known)
        _log(f"{prefix}{plan_summary(waves, len(cached), executor_workers, known)} "
             f"(planned in {time.perf_counter() - t0:.1f} s)")
        if plan_only:
            print("\n".join(plan_lines(waves, cached)))
            for plan in waiting:
                _log(f"{plan.name}: planned up to cell {plan.cell}; its later cells may need more runs once "
                     "these are trained")
            break
        if executor is None:
            raise ValueError("sweep() needs an executor unless plan_only=True.")
        failed_now: set[str] = set()
        for i, wave in enumerate(waves, start=1):
            for outcome in executor.execute(wave, desc=f"wave {i}/{len(waves)}"):
                why = _check(outcome)
                if why is None:
                    report.trained.append(outcome.job.key)
                else:
                    report.failed[outcome.job.key] = f"{outcome.job.describe()}: {why}"
                    failed_now.add(outcome.job.key)
                    _log(f"FAILED run {report.failed[outcome.job.key]}")
            if failed_now:
                break  # later waves start from these runs; the notebooks needing them are reported below
        blocked = {b for j in jobs.values() if j.key in failed_now for b in j.notebooks}
        for name in sorted(blocked):
            report.errors[name] = "some of its runs failed (listed above)"
        active = [b for b in active if b.name in {p.name for p in waiting} and b.name not in blocked]
    return report


def _threads_of(executor: Executor | None) -> int:
    """The PyTorch threads one run gets on ``executor`` (local workers: cores / workers; Ray: its CPUs)."""
    return int(getattr(executor, "threads", None) or getattr(executor, "cpus_per_run", None) or 1)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m aqa_lib.sweep", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("notebooks", nargs="*", metavar="NOTEBOOK",
                        help="notebook stems or paths (default: every notebook in notebooks/)")
    parser.add_argument("--scale", default="auto", choices=["auto", "smoke", "quick", "paper"],
                        help="scale passed to every notebook (auto: $AQA_SCALE, smoke under CI, else quick)")
    parser.add_argument("-p", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                        help="parameter passed to every notebook that declares it (as the runner passes it)")
    parser.add_argument("--backend", default="local", choices=["local", "ray"])
    parser.add_argument("--address", default=None, help="Ray cluster address (e.g. auto, ray://head:10001)")
    parser.add_argument("--workers", type=int, default=None,
                        help="local worker processes, or the CPUs of a local Ray instance (default: CPU cores)")
    parser.add_argument("--gpus-per-run", type=float, default=0, help="GPUs each Ray task asks for (ray only)")
    parser.add_argument("--retries", type=int, default=2, help="times a run whose worker died is started again")
    parser.add_argument("--max-rounds", type=int, default=10, help="rounds of planning and training at most")
    parser.add_argument("--plan-only", action="store_true", help="print the plan (one line per run) and stop")
    parser.add_argument("--probe", action=argparse.BooleanOptionalAction, default=None,
                        help="time a few training steps of each model / dataset without a cached run, for the "
                             "estimate (default: on when training above smoke scale, off with --plan-only)")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.backend == "local" and (args.address or args.gpus_per_run):
        parser.error("--address and --gpus-per-run are for --backend ray (local workers share this machine).")
    if (args.workers is not None and args.workers < 1) or args.retries < 0 or args.max_rounds < 1:
        parser.error("--workers and --max-rounds must be at least 1, --retries at least 0.")
    os.environ.setdefault("MPLBACKEND", "Agg")
    from .notebook import resolve_scale

    scale = resolve_scale(args.scale)
    params = {k: runner._literal(v) for k, v in args.p}
    books = resolve_notebooks(args.notebooks)
    runner.check_names([b.ipynb for b in books], params)  # before starting any worker
    executor: Executor | None = None
    if not args.plan_only:
        executor = (RayExecutor(args.workers, address=args.address, retries=args.retries,
                                gpus_per_run=args.gpus_per_run) if args.backend == "ray"
                    else LocalExecutor(args.workers, retries=args.retries))
    t0 = time.perf_counter()
    try:
        probe = args.probe if args.probe is not None else (not args.plan_only and scale != "smoke")
        report = sweep(books, params=params, scale=scale, executor=executor, max_rounds=args.max_rounds,
                       plan_only=args.plan_only, probe=probe)
    finally:
        if executor is not None:
            executor.close()
    if not args.plan_only:
        _log(f"trained {len(report.trained)} runs in {report.rounds} round(s), {time.perf_counter() - t0:.0f} s; "
             f"{len(report.complete)} notebook(s) render from the cache")
    for key, why in report.failed.items():
        _log(f"  failed run {key[:12]}: {why}")
    for name, why in report.errors.items():
        _log(f"  failed notebook {name}: {why}")
    return 0 if report.ok else 1


if __name__ == "__main__":
    # Import the module under its own name: local workers (spawn) then unpickle aqa_lib.sweep.train_task.
    from aqa_lib.sweep import main as _main

    sys.exit(_main())
