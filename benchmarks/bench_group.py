"""Runs trained together (:mod:`aqa_lib.group`) against one after another: prints figures, asserts nothing.

    python benchmarks/bench_group.py [--sizes 1 8 32] [--threads 1 2] [--device cpu|cuda|all] [--steps 2]
                                     [--rounds 3] [--model lmac] [--dataset fisv] [--target TES]
                                     [--scale smoke|quick|paper]

What runs: the model's ``--scale`` configuration (:func:`aqa_lib.experiments.config_for`; by default LMAC-Net
at ``quick`` on the quick Fis-V TES data: d = d_ffn = 64, three modalities, batches of 32 crops of 130
segments, 7 steps per epoch, 50 epochs; ``paper``: the paper's width on the full synthetic data), trained by
the engine itself. A group of N (members differing in seed) runs
``aqa_lib.group._train_step`` and ``aqa_lib.group._evaluate``; N = 1 is the engine alone,
``aqa_lib.train._train_step`` and ``aqa_lib.train._evaluate``. Timed: the mean of ``--steps`` optimisation steps
after a warm-up step and a counted one (the best of ``--rounds`` rounds: other work on the machine only slows
a round), and one evaluation of the whole test split after a warm-up one (best of the rounds too). An epoch is
``steps_per_epoch`` steps plus one evaluation; a run's share is the group's epoch / N; runs per hour =
3600 / (epochs × share). Setup and the final records (once per run, not per epoch) are not counted. The same
figures from this process's CPU time are printed beside: on a machine shared with other work, wall time
measures the load as much as the engine (a long group step always overlaps other work, short steps sometimes
slip between it), while the CPU time of a one-thread run is the work the engine did.

ops/step: the ATen operations of one step (views included; on a GPU, about one kernel launch each for the
rest; a group's grow with N only through the members' batch gathering and dropout-noise draws). FLOPs: counted
by ``torch.utils.flop_counter`` on one step and one evaluation of a run alone (products and convolutions; a
group computes N times that). Achieved GFLOP/s is the FLOPs of N runs' epochs over the group's
epoch time, printed beside the peak measured here: the best of a few [n × n] · [n × n] products in fp32 (n =
2048 on CPU; 8192 on CUDA with TF32 off), and on CUDA in bf16 as well (what autocast runs there); on CPU both
also per second of CPU time.
"""

from __future__ import annotations

import argparse
import math
import os
import time
from collections.abc import Callable

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import FlopCounterMode

from aqa_lib import group as grouping
from aqa_lib import train as engine
from aqa_lib.experiments import config_for


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def matmul_peak(device: torch.device, dtype: torch.dtype, n: int, reps: int = 5) -> tuple[float, float]:
    """Best GFLOP/s of an [n × n] · [n × n] product (fp32 without TF32 on CUDA), per wall second and per second of
    this process's CPU time."""
    a = torch.randn(n, n, device=device).to(dtype)
    b = torch.randn(n, n, device=device).to(dtype)
    tf32 = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = False
    try:
        a @ b
        wall = cpu = math.inf
        for _ in range(reps):
            _sync(device)
            t0, c0 = time.perf_counter(), time.process_time()
            a @ b
            _sync(device)
            wall, cpu = min(wall, time.perf_counter() - t0), min(cpu, time.process_time() - c0)
    finally:
        torch.backends.cuda.matmul.allow_tf32 = tf32
    return 2 * n**3 / wall / 1e9, 2 * n**3 / cpu / 1e9


class _OpCounter(TorchDispatchMode):
    """Counts the ATen operations run (on a GPU, about one kernel launch each)."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # noqa: ANN001, ANN204
        self.count += 1
        return func(*args, **(kwargs or {}))


def _timed(fn: Callable[[], object], device: torch.device, reps: int, rounds: int, *,
           count: bool = True) -> tuple[float, float, int]:
    """Wall and CPU seconds (this process's) per call of ``fn``, each the best of ``rounds`` means of ``reps``
    calls, after a warm-up call; with ``count``, the operations of one more call."""
    fn()  # a group's first step also records its dropout shapes
    ops = _OpCounter()
    if count:
        with ops:
            fn()
    wall = cpu = math.inf
    for _ in range(rounds):
        _sync(device)
        t0, c0 = time.perf_counter(), time.process_time()
        for _ in range(reps):
            fn()
        _sync(device)
        wall = min(wall, (time.perf_counter() - t0) / reps)
        cpu = min(cpu, (time.process_time() - c0) / reps)
    return wall, cpu, ops.count


def _engine(model: str, dataset: str, target: str, device: str, n: int, scale: str = "quick"
            ) -> tuple[Callable, Callable, object]:
    """(one training step, one evaluation, the run or group) for a group of ``n`` runs (1: the engine alone) of
    ``model``'s ``scale`` configuration (``benchmarks/gpu_check.py`` times ``paper`` and ``smoke`` too)."""
    configs = [config_for(model, dataset, target, scale=scale, seed=s, device=device) for s in range(n)]
    data = engine.load_data(configs[0])
    if n == 1:
        r = engine._setup(configs[0], data)
        n_train, size = len(r.banks["train"]), r.config.batch_size

        def solo_step() -> None:
            r.model.train()
            engine._train_step(r, torch.randperm(n_train, generator=r.gen)[:size])

        return solo_step, lambda: engine._evaluate(r), r
    pool = grouping._BankPool()
    runs = [engine._setup(c, data, make_bank=pool.bank) for c in configs]
    g = grouping._fuse(runs, [str(i) for i in range(n)])
    n_train, size = len(runs[0].banks["train"]), configs[0].batch_size

    def group_step() -> None:
        g.template.train_mode()
        grouping._train_step(g, [torch.randperm(n_train, generator=r.gen)[:size] for r in runs])

    return group_step, lambda: grouping._evaluate(g), g


def run_flops(r: engine._Run) -> tuple[float, float]:
    """FLOPs of one training step (a random batch) and one evaluation (test and held-out splits) of the run
    ``r`` (:func:`aqa_lib.train._setup`'s state); ``bench_pamfn.py`` counts its epochs with it too."""
    n_train, size = len(r.banks["train"]), r.config.batch_size
    r.model.train()
    with FlopCounterMode(display=False) as step:
        engine._train_step(r, torch.randperm(n_train, generator=r.gen)[:size])
    r.model.eval()
    # the forward FLOPs of evaluation. Not under no_grad: there, a view of a parameter (GDLT's expanded queries)
    # requires grad without a grad_fn, which FlopCounterMode's module tracker cannot hook; without a backward
    # pass, the count is the same
    with FlopCounterMode(display=False) as evaluation:
        for split in ("test", "holdout"):
            for batch in r.banks[split].eval_batches(r.config.eval_batch_size) if split in r.banks else ():
                engine._forward(r.model, batch)
    return step.get_total_flops(), evaluation.get_total_flops()


def _flops(model: str, dataset: str, target: str, device: str, scale: str = "quick"
           ) -> tuple[float, float, int, int]:
    """FLOPs of one step and one evaluation of a run alone; its steps per epoch and epochs."""
    _, _, r = _engine(model, dataset, target, device, 1, scale)
    return (*run_flops(r), r.steps_per_epoch, r.config.epochs)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="torch CPU threads (CPU runs)")
    parser.add_argument("--device", default="all", choices=["cpu", "cuda", "all"])
    parser.add_argument("--steps", type=int, default=2, help="timed steps per round (after one warm-up)")
    parser.add_argument("--rounds", type=int, default=3, help="timing rounds; the best is kept")
    parser.add_argument("--model", default="lmac")
    parser.add_argument("--dataset", default="fisv")
    parser.add_argument("--target", default="TES")
    parser.add_argument("--scale", default="quick", choices=["smoke", "quick", "paper"],
                        help="the model's configuration and data at this scale (paper: the paper's width)")
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    devices = ["cpu", "cuda"] if args.device == "all" else [args.device]
    devices = [d for d in devices if d == "cpu" or torch.cuda.is_available()]
    print(f"torch {torch.__version__}, {os.cpu_count()} CPUs visible (load average {os.getloadavg()[0]:.1f}); "
          f"{args.model} {args.scale} on {args.dataset} {args.target}; sizes {args.sizes}")
    for device_name in devices:
        device = torch.device(device_name)
        settings = args.threads if device.type == "cpu" else [torch.get_num_threads()]
        for threads in settings:
            torch.set_num_threads(threads)
            step_flops, eval_flops, steps_per_epoch, epochs = _flops(args.model, args.dataset, args.target,
                                                                      device_name, args.scale)
            epoch_flops = steps_per_epoch * step_flops + eval_flops
            on_cpu = device.type == "cpu"
            if on_cpu:
                wall_peak, peak_cpu = matmul_peak(device, torch.float32, 2048)
                peaks = {"fp32": wall_peak}
            else:
                peaks = {"fp32": matmul_peak(device, torch.float32, 8192)[0],
                         "bf16": matmul_peak(device, torch.bfloat16, 8192)[0]}
            where = f"{device_name}, {threads} thread(s)" if on_cpu else \
                f"{device_name} ({torch.cuda.get_device_name(device)})"
            print(f"\n{where}: one run = {step_flops / 1e9:.2f} GFLOP per step, {eval_flops / 1e9:.2f} GFLOP per "
                  f"evaluation, {steps_per_epoch} steps per epoch, {epochs} epochs; matmul peak "
                  + ", ".join(f"{k} {v:,.0f} GFLOP/s" for k, v in peaks.items())
                  + (f" (per second of this process's CPU time: {peak_cpu:,.0f})" if on_cpu else ""))
            print(f"  {'N':>3} {'s/step':>7} {'ops/step':>8} {'s/eval':>7} {'s/epoch':>8} {'s/ep/run':>8} "
                  f"{'runs/h':>7} {'vs alone':>8} {'GFLOP/s':>7} {'of peak':>7}"
                  + (f"   CPU time: {'s/ep/run':>8} {'runs/h':>7} {'vs alone':>8} {'GFLOP/s':>7} {'of peak':>7}"
                     if on_cpu else "   memory"))
            alone = alone_cpu = None
            for n in args.sizes:
                if not on_cpu:
                    torch.cuda.reset_peak_memory_stats(device)
                step, evaluate, _ = _engine(args.model, args.dataset, args.target, device_name, n, args.scale)
                step_s, step_cpu, ops = _timed(step, device, args.steps, args.rounds)
                eval_s, eval_cpu, _ = _timed(evaluate, device, 1, args.rounds, count=False)
                epoch_s = steps_per_epoch * step_s + eval_s
                share = epoch_s / n
                per_hour = 3600 / (epochs * share)
                alone = alone or per_hour
                gflops = n * epoch_flops / epoch_s / 1e9
                line = (f"  {n:>3} {step_s:7.3f} {ops:8d} {eval_s:7.3f} {epoch_s:8.2f} {share:8.3f} {per_hour:7.1f} "
                        f"{per_hour / alone:7.2f}x {gflops:7.1f} {gflops / peaks['fp32']:7.1%}")
                if on_cpu:
                    share_cpu = (steps_per_epoch * step_cpu + eval_cpu) / n
                    per_hour_cpu = 3600 / (epochs * share_cpu)
                    alone_cpu = alone_cpu or per_hour_cpu
                    gflops_cpu = epoch_flops / share_cpu / 1e9
                    line += (f"             {share_cpu:8.3f} {per_hour_cpu:7.1f} {per_hour_cpu / alone_cpu:7.2f}x "
                             f"{gflops_cpu:7.1f} {gflops_cpu / peak_cpu:7.1%}")
                else:
                    line += f"   {torch.cuda.max_memory_allocated(device) / 2**30:.1f} GiB"
                print(line, flush=True)
                del step, evaluate
    load, cpus = os.getloadavg()[0], os.cpu_count() or 1
    note = " (above the CPU count: other work slowed the rounds)" if load > cpus else ""
    print(f"\nload average at the end: {load:.1f} on {cpus} CPUs{note}")


if __name__ == "__main__":
    main()
