"""What the notebooks' training costs, measured: the wall seconds of every run they need, read from the cache.

Plans the notebooks as ``python -m aqa_lib.sweep`` does (nothing trains, no notebook renders), collects every
run they read, with the stage-1 runs those start from, and sums the training wall seconds each run's cache
entry recorded (``meta.wall_seconds``: the run's own training, in whatever process trained it, so runs
trained two at a time on a 2-core machine carry that sharing). Prints the total per model family and
dataset and per notebook (a run two notebooks share counts in both rows, once in the total), and the total
divided by the workers: what a sweep of all of them from an empty cache costs at the least, before start-up
and rendering. Runs not cached yet are listed, not guessed (train them first: ``make`` or the sweep).

    python benchmarks/make_cost.py --scale quick
    python benchmarks/make_cost.py ablation_losses -p dataset fisv --scale quick
"""

from __future__ import annotations

import argparse
import collections
import os
import statistics
from typing import Any

from aqa_lib import cache, runner
from aqa_lib import sweep as sw
from aqa_lib.train import RunConfig, run_key


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("notebooks", nargs="*", metavar="NOTEBOOK", help="notebook stems (default: every notebook)")
    p.add_argument("--scale", default="quick", choices=["smoke", "quick", "paper"])
    p.add_argument("-p", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                   help="parameter passed to every notebook that declares it (as the sweep passes it)")
    p.add_argument("--workers", type=int, default=None, help="workers to divide by (default: CPU cores)")
    return p


def _with_stage1(key: str, config: RunConfig, into: dict[str, RunConfig]) -> None:
    """``config`` and, recursively, the stage-1 runs it starts from (their own cache entries)."""
    if key in into:
        return
    into[key] = config
    for source in config.init_from:
        parent = RunConfig.from_dict(source["run"])
        _with_stage1(run_key(parent), parent, into)


def measure(books: list[sw.Notebook], params: dict[str, Any], scale: str) -> dict[str, Any]:
    """Per notebook: the cache keys of its runs (stage-1 runs included), whether its plan is complete, and
    every run's measured wall seconds (None: not cached)."""
    per_book: dict[str, set[str]] = {}
    configs: dict[str, RunConfig] = {}
    incomplete: dict[str, str] = {}
    for book in books:
        plan = sw.plan_notebook(book, params, scale)
        runs: dict[str, RunConfig] = {}
        for key, config in {**plan.cached, **plan.pending}.items():
            _with_stage1(key, config, runs)
        per_book[book.name] = set(runs)
        configs.update(runs)
        if plan.error:
            incomplete[book.name] = plan.error
        elif plan.pending:
            incomplete[book.name] = (f"{len(plan.pending)} run(s) not cached at cell {plan.cell}; later cells may "
                                     "need more")
    seconds: dict[str, float | None] = {}
    for key in configs:
        wall = cache.read_meta(key).get("meta", {}).get("wall_seconds") if cache.exists(key) else None
        seconds[key] = float(wall) if wall is not None else None
    return {"per_book": per_book, "configs": configs, "seconds": seconds, "incomplete": incomplete}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    os.environ.setdefault("MPLBACKEND", "Agg")
    params = {k: runner._literal(v) for k, v in args.p}
    books = sw.resolve_notebooks(args.notebooks)
    runner.check_names([b.ipynb for b in books], params)
    workers = args.workers or sw.cores()
    m = measure(books, params, args.scale)
    seconds, configs = m["seconds"], m["configs"]
    measured = {k: s for k, s in seconds.items() if s is not None}
    families: dict[str, list[float]] = collections.defaultdict(list)
    for key, s in measured.items():
        c = configs[key]
        families[f"{c.model.split('/')[0]} {c.dataset}"].append(s)
    total = sum(measured.values())
    print(f"{len(configs)} runs at {args.scale} (cache {cache.runs_dir().parent}): {len(measured)} measured, "
          f"{len(configs) - len(measured)} not cached")
    print(f"training: {total / 60:.1f} CPU-min summed; / {workers} workers = {total / 60 / workers:.1f} min")
    print("\nper model family and dataset (runs, CPU-min, median s per run):")
    for name, values in sorted(families.items(), key=lambda kv: -sum(kv[1])):
        print(f"  {name:24s} {len(values):4d} {sum(values) / 60:7.1f} {statistics.median(values):7.1f}")
    print("\nper notebook (runs, CPU-min; shared runs count in every notebook that reads them):")
    for name, keys in sorted(m["per_book"].items(), key=lambda kv: -sum(measured.get(k, 0.0) for k in kv[1])):
        note = f"  (incomplete: {m['incomplete'][name]})" if name in m["incomplete"] else ""
        print(f"  {name:26s} {len(keys):4d} {sum(measured.get(k, 0.0) for k in keys) / 60:7.1f}{note}")
    missing = [configs[k] for k, s in seconds.items() if s is None]
    for c in missing[:20]:
        print(f"  not cached: {c.model} {c.dataset}/{c.target} seed {c.seed}")
    if len(missing) > 20:
        print(f"  ... and {len(missing) - 20} more")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
