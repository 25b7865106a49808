"""Everything to check on a CUDA machine, in one go (< 8 minutes on one H200-class GPU), into one JSON.

    python benchmarks/gpu_check.py                       # on a CUDA machine: writes gpu_check.json
    python benchmarks/gpu_check.py --device cpu --dry-run --skip-tests   # the same steps, tiny, on a CPU

``--dry-run`` shrinks every step (smoke scale, groups of 1 and 2): it checks the script, not the machine.

Steps (each timed; a step that fails is recorded with its error and the others still run):

1. ``environment``: torch / CUDA versions, device name, bf16 support, thread count.
2. ``tests``: ``tests/test_cuda.py`` (engine smoke runs of LMAC-Net, the PAMFN RGB branch, GDLT and MLAVL
   on ``cuda``; fp32 GPU = CPU; bf16 close to fp32), then the whole unit suite (CPU-side code on this host).
3. ``bf16_parity``: at the paper configurations of LMAC-Net, PAMFN and MLAVL (Fis-V dimensions, batch 32 of
   training crops), one forward + float32 loss + backward in float32 and under bf16 autocast, as the engine
   does: largest prediction difference, loss difference, gradient cosine, and the step time of each.
4. ``paper_epochs``: a few epochs of LMAC-Net at ``paper`` scale (the full synthetic Fis-V training split,
   the paper's width) through the engine: seconds per epoch, final ρ (not a result: three epochs).
5. ``throughput``: groups of m = 1, 8, 32 LMAC-Net runs (Fis-V TES, seeds 0..m-1) trained together by the
   grouped engine (:mod:`aqa_lib.group`, timed with ``benchmarks/bench_group.py``'s harness) at ``quick`` and
   ``paper`` scale: seconds per step and evaluation, runs per hour, the gain over one run alone, achieved
   GFLOP/s, peak memory.

Nothing here asserts a speed: it prints and records figures for the README's GPU section.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
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
    """``tests/test_cuda.py`` in one process (one GPU), then the unit suite on up to 8 processes of one thread
    each (as ``make test`` runs it; pytest-xdist). A suite past ``--test-timeout`` is recorded as timed out and
    the next one still runs."""
    out: dict[str, Any] = {}
    env = {**os.environ, "AQA_SCALE": "smoke", "MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1", "AQA_WORKERS": "1"}
    workers = max(1, min(8, os.cpu_count() or 1))
    for name, target in (("cuda", ["tests/test_cuda.py"]), ("unit", ["-n", str(workers), "tests"])):
        t0 = time.perf_counter()
        try:
            proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:nbval", "-q", *target],
                                  cwd=ROOT, env=env, capture_output=True, text=True, timeout=args.test_timeout)
        except subprocess.TimeoutExpired:
            out[name] = {"error": f"timed out after {args.test_timeout} s (--test-timeout)",
                         "seconds": round(time.perf_counter() - t0, 1)}
            continue
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
    t0 = time.perf_counter()
    result = train(config)  # trains without the results cache (the generated data is cached)
    total = time.perf_counter() - t0
    hist = result.history
    return {"scale": scale, "epochs": epochs, "params": result.meta["n_params"], "total_s": round(total, 2),
            "seconds_per_epoch": [round(float(s), 3) for s in hist["seconds"]],
            "last_test_spearman": float(hist["test_spearman"].iloc[-1]), "device": result.meta["device"]}


def throughput(device: torch.device, args: argparse.Namespace) -> dict[str, Any]:
    """Runs trained together by the grouped engine (:mod:`aqa_lib.group`, through ``bench_group``'s harness):
    LMAC-Net on Fis-V TES at ``quick`` and ``paper`` scale, groups of 1, 8 and 32 members (seeds 0..m-1).
    Per group: seconds per step and per evaluation of the whole test split, an epoch's seconds per member,
    runs per hour at the scale's epochs, the gain over one run alone, achieved GFLOP/s (m runs' FLOPs over the
    group's epoch) and peak GPU memory. A group that does not fit is recorded as out of memory."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import bench_group

    out: dict[str, Any] = {"what": "LMAC-Net, Fis-V TES, members differing in seed, trained by aqa_lib.group; "
                                   "an epoch = steps_per_epoch steps + one evaluation"}
    members = (1, 2) if args.dry_run else (1, 8, 32)
    scales = ("smoke",) if args.dry_run else ("quick", "paper")
    for scale in scales:
        step_flops, eval_flops, steps, epochs = bench_group._flops("lmac", "fisv", "TES", str(device), scale)
        epoch_flops = steps * step_flops + eval_flops
        out[scale] = {"steps_per_epoch": steps, "epochs": epochs, "gflop_per_epoch": round(epoch_flops / 1e9, 2)}
        alone = None
        for m in members:
            if device.type == "cuda":
                torch.cuda.empty_cache()
                torch.cuda.reset_peak_memory_stats(device)
            try:
                step, evaluate, _ = bench_group._engine("lmac", "fisv", "TES", str(device), m, scale)
                step_s = bench_group._timed(step, device, args.repeats, 1, count=False)[0]
                eval_s = bench_group._timed(evaluate, device, 1, 1, count=False)[0]
            except torch.OutOfMemoryError as exc:
                out[scale][f"m{m}"] = {"error": f"out of memory: {exc}"[:200]}
                continue
            epoch_s = steps * step_s + eval_s
            per_hour = 3600 * m / (epochs * epoch_s)
            alone = alone or per_hour
            row = {"step_s": round(step_s, 4), "eval_s": round(eval_s, 4), "epoch_s": round(epoch_s, 3),
                   "epoch_s_per_run": round(epoch_s / m, 4), "runs_per_hour": round(per_hour, 1),
                   "vs_alone": round(per_hour / alone, 2), "gflop_per_s": round(m * epoch_flops / epoch_s / 1e9, 1)}
            if device.type == "cuda":
                row["peak_memory_gib"] = round(torch.cuda.max_memory_allocated(device) / 2**30, 2)
            out[scale][f"m{m}"] = row
            del step, evaluate
    return out


STEPS: dict[str, Callable[[torch.device, argparse.Namespace], dict[str, Any]]] = {
    "environment": environment, "tests": tests, "bf16_parity": bf16_parity, "paper_epochs": paper_epochs,
    "throughput": throughput,
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda", help="cuda (default) or cpu (for a dry run)")
    parser.add_argument("--out", default="gpu_check.json")
    parser.add_argument("--epochs", type=int, default=3, help="paper-scale LMAC-Net epochs")
    parser.add_argument("--repeats", type=int, default=5, help="timed repeats per step figure")
    parser.add_argument("--skip-tests", action="store_true", help="skip step 2 (the test suites)")
    parser.add_argument("--dry-run", action="store_true", help="tiny sizes: check the script itself, anywhere")
    parser.add_argument("--test-timeout", type=int, default=300, help="seconds per test suite")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
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
    failed += [f"tests/{k}" for k, v in report.get("tests", {}).items()
               if isinstance(v, dict) and ("error" in v or v.get("returncode"))]
    if failed:
        print(f"failed: {', '.join(failed)} (details in {args.out})")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
