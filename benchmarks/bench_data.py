"""Data-layer benchmark: prints timings, asserts nothing (speed goals live here, not in tests).

    python benchmarks/bench_data.py [--scale quick] [--device auto] [--real-fisv /path/to/vst_fp16]

Measures synthetic generation (cold cache, then warm), optional real-feature loading, and how many
training crops per second :class:`aqa_lib.data.batching.FeatureBank` assembles on the device.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import torch

from aqa_lib.data import load
from aqa_lib.data.batching import FeatureBank
from aqa_lib.notebook import resolve_device


def _timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", default="quick", choices=["smoke", "quick", "paper"])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--real-fisv", default="", help="folder of real Fis-V VST features (GDLT format)")
    args = parser.parse_args()
    device = resolve_device(args.device)
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["AQA_CACHE_DIR"] = tmp
        for dataset, target in [("fisv", "TES"), ("rg", "Ball")]:
            data, cold = _timed(lambda d=dataset, t=target: load(d, t, scale=args.scale, seed=0))
            _, warm = _timed(lambda d=dataset, t=target: load(d, t, scale=args.scale, seed=0))
            n = len(data.train) + len(data.test)
            print(f"synthetic {dataset}/{target} scale={args.scale}: {n} videos, cold {cold:.2f} s, warm {warm:.2f} s")
    data = load("fisv", "TES", scale=args.scale, seed=0)
    if args.real_fisv:
        data, secs = _timed(lambda: load("fisv", "TES", source="real", data_root=args.real_fisv))
        print(f"real Fis-V load: {len(data.train) + len(data.test)} videos in {secs:.2f} s")
    bank, secs = _timed(lambda: FeatureBank(data.train, device=device))
    print(f"FeatureBank on {device}: built in {secs:.2f} s")
    gen = torch.Generator().manual_seed(0)
    idx = torch.arange(min(32, len(bank)))
    steps = 50
    t0 = time.perf_counter()
    for _ in range(steps):
        batch = bank.train_batch(idx, window=130, generator=gen)
    if device == "cuda":
        torch.cuda.synchronize()
    dt = (time.perf_counter() - t0) / steps
    print(f"train crop batch of {len(idx)} x 130 segments x {sum(bank.dims.values())} dims: {dt * 1e3:.2f} ms"
          f" ({len(idx) / dt:.0f} videos/s); modalities {list(batch.features)}")


if __name__ == "__main__":
    main()
