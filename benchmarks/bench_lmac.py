"""LMAC-Net training-speed benchmark: prints seconds per step and per epoch, asserts nothing.

    python benchmarks/bench_lmac.py [--dataset fisv] [--device auto] [--steps 3] [--threads 0]

One step = forward + backward + AdamW on a batch of 32 training crops (130 segments for Fis-V, 70 for RG)
of random features with the dataset's dimensions, at the paper's configuration (d = 512) and at the width
fitted to the paper's 8.95 M parameters (d = 256). An epoch is ceil(n_train / 32) steps (Fis-V 400 → 13,
RG 200 per apparatus → 7) plus whole-sequence evaluation of the test split (timed separately). On CUDA the
step runs under bf16 autocast, as the training engine does.
"""

from __future__ import annotations

import argparse
import math
import time

import torch

from aqa_lib.data import get_spec
from aqa_lib.models.base import create_model
from aqa_lib.notebook import resolve_device

CONFIGS = {"paper text (d=512)": {}, "fit to 8.95 M (d=256)": {"d_model": 256, "d_ffn": 256,
                                                               "self_attention_every": 4}}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dataset", default="fisv", choices=["fisv", "rg"])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = leave as is)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(resolve_device(args.device))
    spec = get_spec(args.dataset)
    n_train = spec.n_train // (len(spec.targets) if spec.name == "rg" else 1)
    n_test = spec.n_test // (len(spec.targets) if spec.name == "rg" else 1)
    steps_per_epoch = math.ceil(n_train / 32)
    window, full = spec.train_window, 300 if spec.name == "fisv" else 80
    amp = device.type == "cuda"
    print(f"{spec.title} on {device} ({torch.get_num_threads()} threads), batch 32 x {window} segments, "
          f"{steps_per_epoch} steps/epoch, eval {n_test} videos of <= {full} segments")
    for name, overrides in CONFIGS.items():
        torch.manual_seed(0)
        model = create_model("lmac", in_dims=dict(spec.modalities), **overrides).to(device)
        opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
        feats = {m: torch.randn(32, window, d, device=device) for m, d in spec.modalities.items()}
        mask = torch.ones(32, window, dtype=torch.bool, device=device)
        labels = torch.rand(32, device=device)
        times = []
        for i in range(args.steps + 1):
            _sync(device)
            t0 = time.perf_counter()
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
                out = model(feats, mask)
                loss, _ = model.loss(out, labels)
            opt.zero_grad()
            loss.backward()
            opt.step()
            _sync(device)
            if i:  # the first step warms up
                times.append(time.perf_counter() - t0)
        step = sum(times) / len(times)
        model.eval()
        efeats = {m: torch.randn(16, full, d, device=device) for m, d in spec.modalities.items()}
        emask = torch.ones(16, full, dtype=torch.bool, device=device)
        _sync(device)
        t0 = time.perf_counter()
        with torch.no_grad(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            model(efeats, emask)
        _sync(device)
        eval_s = (time.perf_counter() - t0) * math.ceil(n_test / 16)
        print(f"  {name:24s} {step:7.3f} s/step  -> {step * steps_per_epoch:7.1f} s/epoch training "
              f"+ {eval_s:6.1f} s evaluation")


if __name__ == "__main__":
    main()
