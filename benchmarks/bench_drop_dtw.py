"""Drop-DTW speed: prints milliseconds per call, asserts nothing.

    python benchmarks/bench_drop_dtw.py [--device auto] [--threads 1] [--batch 32] [--repeats 20] [--clock wall]

For a batch of B = 32 random items, K = 5 and 10 steps and N = 10 to 103 clips (103 = MTL-AQA's clips,
VATP-Net §IV-A.2), it times :func:`aqa_lib.drop_dtw.drop_dtw` (exact DP + backtrack, what
:func:`~aqa_lib.drop_dtw.match_matrix` adds to every training step) and :func:`~aqa_lib.drop_dtw.soft_drop_dtw`
forward + backward with each soft-min. The median of ``--repeats`` calls after two warm-up calls. With
``--device auto`` it runs on the CPU (with ``--threads`` torch threads) and, when available, on CUDA too.
``--clock cpu`` times the process's CPU time instead of wall time (CPU device only: steadier on a machine
shared with other jobs, where wall time also counts the time spent waiting for a core).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch

from aqa_lib.drop_dtw import drop_dtw, soft_drop_dtw

STEPS = (5, 10)
CLIPS = (10, 32, 64, 103)


def _time(fn: Callable[[], object], device: torch.device, repeats: int, clock: Callable[[], float]) -> float:
    """Median milliseconds per call of ``fn`` (after two warm-up calls)."""
    times = []
    for i in range(repeats + 2):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = clock()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        if i >= 2:
            times.append((clock() - start) * 1e3)
    return statistics.median(times)


def bench(device: torch.device, batch: int, repeats: int, clock_name: str) -> None:
    clock = time.process_time if clock_name == "cpu" and device.type == "cpu" else time.perf_counter
    threads = f", {torch.get_num_threads()} thread(s)" if device.type == "cpu" else ""
    kind = "CPU time" if clock is time.process_time else "wall time"
    print(f"\nDrop-DTW on {device}{threads}, batch {batch}, float32, ms per call ({kind}, median of {repeats})")
    print(f"{'K':>3} {'N':>4} {'exact':>8} {'soft mean f+b':>14} {'soft lse f+b':>13}")
    g = torch.Generator().manual_seed(0)
    for k in STEPS:
        for n in CLIPS:
            cost = torch.rand(batch, k, n, generator=g).to(device)
            drop = torch.rand(batch, n, generator=g).to(device)
            exact = _time(lambda c=cost, d=drop: drop_dtw(c, d), device, repeats, clock)
            soft = {}
            for softmin in ("mean", "logsumexp"):
                c = cost.clone().requires_grad_()
                d = drop.clone().requires_grad_()

                def step(c=c, d=d, softmin=softmin) -> None:
                    soft_drop_dtw(c, d, softmin=softmin).mean().backward()

                soft[softmin] = _time(step, device, repeats, clock)
            print(f"{k:>3} {n:>4} {exact:>8.2f} {soft['mean']:>14.2f} {soft['logsumexp']:>13.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto", help="auto (CPU, then CUDA if available), cpu or cuda")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--clock", default="wall", choices=["wall", "cpu"],
                        help="wall time, or this process's CPU time (CPU device only; for shared machines)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    devices = [torch.device(args.device)] if args.device != "auto" else [torch.device("cpu")] + (
        [torch.device("cuda")] if torch.cuda.is_available() else [])
    for device in devices:
        bench(device, args.batch, args.repeats, args.clock)


if __name__ == "__main__":
    main()
