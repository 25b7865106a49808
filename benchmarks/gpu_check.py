"""Everything to check on a CUDA machine, in one go (< 8 minutes on one H200-class GPU), into one JSON.

    python benchmarks/gpu_check.py                       # on a CUDA machine: writes gpu_check.json
    python benchmarks/gpu_check.py --device cpu --dry-run --skip-tests   # the same steps, tiny, on a CPU

Steps (each timed; a step that fails is recorded with its error and the others still run):

1. ``environment``: torch / CUDA versions, device name, bf16 support, thread count.
2. ``tests``: ``tests/test_cuda.py`` (engine smoke runs of LMAC-Net, the PAMFN RGB branch, GDLT and MLAVL
   on ``cuda``; fp32 GPU = CPU; bf16 close to fp32), then the whole unit suite (CPU-side code on this host).
3. ``bf16_parity``: at the paper configurations of LMAC-Net, PAMFN and MLAVL (Fis-V dimensions, batch 32 of
   training crops), one forward + float32 loss + backward in float32 and under bf16 autocast, as the engine
   does: largest prediction difference, loss difference, gradient cosine, and the step time of each.
4. ``paper_epochs``: a few epochs of LMAC-Net at ``paper`` scale (the full synthetic Fis-V training split,
   the paper's width) through the engine: seconds per epoch, final ρ (not a result: three epochs).
5. ``throughput``: training samples per second of quick-width and paper-width LMAC-Net at batch 32 × m for
   m = 1, 8, 32. Until the grouped engine exists (issue "fast engine") this is the *proxy* for a group of m
   runs trained together (one model, m times the batch); the JSON says so.

Nothing here asserts a speed: it prints and records figures for the README's GPU section.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from aqa_lib.data import get_spec
from aqa_lib.experiments import config_for
from aqa_lib.models.base import ModelOutput, count_parameters, create_model
from aqa_lib.train import train

ROOT = Path(__file__).resolve().parents[1]
PAPER_MODELS = ("lmac", "pamfn", "mlavl")
WIDTHS = {"quick": {"d_model": 64, "d_ffn": 64}, "paper": {}}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _batch(dataset: str, batch: int, length: int, device: torch.device
           ) -> tuple[dict[str, torch.Tensor], torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    spec = get_spec(dataset)
    feats = {m: torch.randn(batch, length, d, generator=g).to(device) for m, d in spec.modalities.items()}
    return feats, torch.ones(batch, length, dtype=torch.bool, device=device), torch.rand(batch, generator=g).to(device)


def _step(model: torch.nn.Module, feats, mask, labels, amp: bool) -> tuple[torch.Tensor, torch.Tensor,
                                                                             torch.Tensor]:
    """One engine-style step: forward (bf16 autocast if ``amp``), float32 loss outside autocast, backward."""
    model.zero_grad(set_to_none=True)
    dev = labels.device.type
    with torch.autocast(device_type=dev, dtype=torch.bfloat16, enabled=amp and dev == "cuda"):
        out = model(feats, mask)
    with torch.autocast(device_type=dev, enabled=False):
        loss, _ = model.loss(ModelOutput(out.score.float(), out.aux), labels)
    loss.backward()
    grad = torch.cat([p.grad.flatten().float() for p in model.parameters() if p.grad is not None])
    return out.score.detach().float(), loss.detach(), grad


def _timed(device: torch.device, repeats: int, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> float:
    fn(*args, **kwargs)  # warm-up
    _sync(device)
    t0 = time.perf_counter()
    for _ in range(repeats):
        fn(*args, **kwargs)
    _sync(device)
    return (time.perf_counter() - t0) / repeats


def environment(device: torch.device, _: argparse.Namespace) -> dict[str, Any]:
    info: dict[str, Any] = {"torch": torch.__version__, "python": platform.python_version(),
                            "device": str(device), "threads": torch.get_num_threads()}
    if device.type == "cuda":
        info.update(cuda=torch.version.cuda, name=torch.cuda.get_device_name(device),
                    bf16=torch.cuda.is_bf16_supported(),
                    memory_gib=round(torch.cuda.get_device_properties(device).total_memory / 2**30, 1))
    return info


def tests(device: torch.device, args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {}
    env = {**os.environ, "AQA_SCALE": "smoke", "MPLBACKEND": "Agg"}
    for name, target in (("cuda", ["tests/test_cuda.py"]), ("unit", ["tests"])):
        t0 = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:nbval", "-q", *target],
                              cwd=ROOT, env=env, capture_output=True, text=True, timeout=args.test_timeout)
        lines = (proc.stdout + proc.stderr).strip().splitlines()
        out[name] = {"returncode": proc.returncode, "seconds": round(time.perf_counter() - t0, 1),
                     "summary": lines[-1] if lines else "", "failures": [ln for ln in lines if ln.startswith("FAILED")]}
    return out


def bf16_parity(device: torch.device, args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {}
    spec = get_spec("fisv")
    batch, length = (2, 16) if args.dry_run else (32, spec.train_window)
    for name in PAPER_MODELS:
        torch.manual_seed(0)
        model = create_model(name, in_dims=dict(spec.modalities)).to(device).eval()
        data = _batch("fisv", batch, length, device)
        s32, l32, g32 = _step(model, *data, amp=False)
        s16, l16, g16 = _step(model, *data, amp=True)
        out[name] = {
            "params": count_parameters(model), "batch": batch, "length": length,
            "max_abs_pred_diff": float((s16 - s32).abs().max()), "pred_scale": float(s32.abs().max()),
            "loss_fp32": float(l32), "loss_bf16": float(l16),
            "grad_cosine": float(torch.nn.functional.cosine_similarity(g16.double(), g32.double(), dim=0)),
            "step_s_fp32": _timed(device, args.repeats, _step, model, *data, amp=False),
            "step_s_bf16": _timed(device, args.repeats, _step, model, *data, amp=True),
        }
        del model
    return out


def paper_epochs(device: torch.device, args: argparse.Namespace) -> dict[str, Any]:
    epochs = 1 if args.dry_run else args.epochs
    scale = "smoke" if args.dry_run else "paper"
    config = config_for("lmac", "fisv", "TES", scale=scale, device=str(device), epochs=epochs)
    with tempfile.TemporaryDirectory() as tmp:
        os.environ.setdefault("AQA_CACHE_DIR", tmp)  # data generation is cached; training is not (train())
        t0 = time.perf_counter()
        result = train(config)
        total = time.perf_counter() - t0
    hist = result.history
    return {"scale": scale, "epochs": epochs, "params": result.meta["n_params"], "total_s": round(total, 2),
            "seconds_per_epoch": [round(float(s), 3) for s in hist["seconds"]],
            "last_test_spearman": float(hist["test_spearman"].iloc[-1]), "device": result.meta["device"]}


def _train_step(model: torch.nn.Module, opt: torch.optim.Optimizer, data: tuple) -> None:
    _step(model, *data, amp=True)
    opt.step()


def throughput(device: torch.device, args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {"note": "proxy for m runs trained together: one model, batch 32 x m (no grouped engine "
                                   "yet); samples per second of forward + loss + backward + AdamW"}
    spec = get_spec("fisv")
    members = (1, 2) if args.dry_run else (1, 8, 32)
    for width, kwargs in WIDTHS.items():
        if args.dry_run and width == "paper":
            continue
        torch.manual_seed(0)
        model = create_model("lmac", in_dims=dict(spec.modalities), **kwargs).to(device).train()
        opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
        for m in members:
            data = _batch("fisv", 32 * m, spec.train_window, device)
            try:
                seconds = _timed(device, args.repeats, _train_step, model, opt, data)
                out[f"{width}/m{m}"] = {"batch": 32 * m, "step_s": seconds, "samples_per_s": 32 * m / seconds}
            except torch.OutOfMemoryError as exc:
                out[f"{width}/m{m}"] = {"batch": 32 * m, "error": f"out of memory: {exc}"[:200]}
            del data
            if device.type == "cuda":
                torch.cuda.empty_cache()
        del model, opt
    return out


STEPS: dict[str, Callable[[torch.device, argparse.Namespace], dict[str, Any]]] = {
    "environment": environment, "tests": tests, "bf16_parity": bf16_parity, "paper_epochs": paper_epochs,
    "throughput": throughput,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda", help="cuda (default) or cpu (for a dry run)")
    parser.add_argument("--out", default="gpu_check.json")
    parser.add_argument("--epochs", type=int, default=3, help="paper-scale LMAC-Net epochs")
    parser.add_argument("--repeats", type=int, default=5, help="timed repeats per step figure")
    parser.add_argument("--skip-tests", action="store_true", help="skip step 2 (the test suites)")
    parser.add_argument("--dry-run", action="store_true", help="tiny sizes: check the script itself, anywhere")
    parser.add_argument("--test-timeout", type=int, default=300, help="seconds per test suite")
    args = parser.parse_args(argv)
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        parser.error("no CUDA GPU is visible; run on a GPU machine, or use --device cpu --dry-run to check the "
                     "script itself")
    device = torch.device(args.device)
    report: dict[str, Any] = {"started": time.strftime("%Y-%m-%d %H:%M:%S")}
    for name, fn in STEPS.items():
        if name == "tests" and args.skip_tests:
            continue
        t0 = time.perf_counter()
        try:
            report[name] = fn(device, args)
        except Exception as exc:  # record and go on: one broken step must not lose the others' figures
            report[name] = {"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()[-2000:]}
        report[name + "_seconds"] = round(time.perf_counter() - t0, 1)
        print(f"[{name}] {report[name + '_seconds']} s: {json.dumps(report[name], default=str)[:600]}",
              flush=True)
        Path(args.out).write_text(json.dumps(report, indent=2, default=str))  # after every step: nothing lost
    print(f"wrote {args.out}")
    failed = [k for k, v in report.items() if isinstance(v, dict) and "error" in v]
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
