"""PAMFN, GDLT and MLAVL training-speed benchmark at the papers' configurations: prints seconds per epoch, the
FLOPs of an epoch and how close the engine gets to this machine's matmul peak.

    python benchmarks/bench_pamfn.py [--dataset fisv] [--target TES] [--epochs 2] [--device cpu] [--threads 1]
        [--jobs pamfn_stage2 pamfn_one_stage pamfn_rgb gdlt mlavl] [--source real --data-root DIR] [--cpu-bf16]

Each job is the paper-scale :class:`~aqa_lib.train.RunConfig` the notebooks use, trained by the real engine
(:func:`aqa_lib.train.train`, no cache) for ``--epochs`` epochs, by default on the synthetic data at ``paper``
scale (the dataset's full split sizes and sequence lengths, all three modalities); ``--source real
--data-root /data/fisv/vst_fp16`` runs the RGB-only jobs (``gdlt``, ``pamfn_rgb``) on the released Fis-V VST
features instead. Seconds per epoch include the whole-test-split evaluation each epoch does. The stage-2 job
freezes the RGB and flow branches exactly as two-stage training does, but starts them from random weights:
the stage-1 runs are not trained here (their cost is the ``pamfn_<modality>`` jobs).

Columns: parameters; seconds per epoch; the FLOPs of one epoch (``torch.utils.flop_counter`` on one training
step, times the steps per epoch, plus one evaluation of the test split); achieved GFLOP/s (those FLOPs over
the epoch's seconds) and its share of the fp32 matmul peak measured here with the same threads (the best of
a few 2048 × 2048 products, ``bench_group.matmul_peak``); "× bound": the epoch's seconds over the FLOP-bound
time (its FLOPs at that peak; 1.0 would be every FLOP at peak speed); the last column extrapolates to the
paper's epoch count. The official code of GDLT and PAMFN runs the same architecture on the same crops, hence
the same FLOPs per epoch: its time per epoch (measured side by side in session notes, the issue quotes
GDLT about 6.8 s + 1.3 s per test pass, PAMFN's RGB branch about 4.7 s + 0.8 s with two threads) can only
shrink by computing faster, not less. ``--cpu-bf16`` trains under bf16 autocast on the CPU
(``RunConfig.cpu_bf16``), the lever past the fp32 bound on CPUs with bf16 instructions; the FLOP columns
still compare with the fp32 peak. Asserts nothing; numbers depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import time

import torch
from bench_group import matmul_peak, run_flops

from aqa_lib.experiments import config_for
from aqa_lib.experiments.baselines import baseline_config
from aqa_lib.experiments.pamfn import pamfn_config, stage1_config
from aqa_lib.train import RunConfig, _setup, load_data, train

RGB_JOBS = ("pamfn_rgb", "gdlt")
"""The jobs that read RGB only, hence can run on the released Fis-V features (``--source real``)."""


def _jobs(dataset: str, target: str, source: str, data_root: str) -> dict[str, RunConfig]:
    data = dict(source=source, data_root=data_root)
    jobs = {}
    if source == "synthetic":
        stage2 = pamfn_config("pamfn", dataset, target, scale="paper")
        one_stage = pamfn_config("pamfn", dataset, target, scale="paper", training="one_stage")
        jobs = {"pamfn_stage2": stage2.replace(init_from=()), "pamfn_one_stage": one_stage}
        for m in ("flow", "audio"):
            jobs[f"pamfn_{m}"] = stage1_config(m, dataset, target, scale="paper")
    jobs["pamfn_rgb"] = stage1_config("rgb", dataset, target, scale="paper", **data)
    jobs["gdlt"] = baseline_config("gdlt", dataset, target, scale="paper", **data)
    if source == "synthetic":
        jobs["mlavl"] = config_for("mlavl", dataset, target, scale="paper")  # official config: RGB + audio, batch 64
    return jobs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", default="fisv", choices=["fisv", "rg"])
    parser.add_argument("--target", default=None, help="default: TES (Fis-V) / Ball (RG)")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (0 = leave as is)")
    parser.add_argument("--source", default="synthetic", choices=["synthetic", "real"])
    parser.add_argument("--data-root", default="", help="with --source real: the Fis-V VST feature folder")
    parser.add_argument("--cpu-bf16", action="store_true", help="bf16 autocast on the CPU (RunConfig.cpu_bf16)")
    parser.add_argument("--jobs", nargs="+", default=None,
                        help="default: pamfn_stage2 pamfn_one_stage pamfn_rgb gdlt (real: pamfn_rgb gdlt)")
    args = parser.parse_args()
    if args.source == "real" and (args.dataset != "fisv" or not args.data_root):
        parser.error("--source real needs --dataset fisv and --data-root (the released Fis-V VST features)")
    if args.threads:
        torch.set_num_threads(args.threads)
    target = args.target or ("TES" if args.dataset == "fisv" else "Ball")
    jobs = _jobs(args.dataset, target, args.source, args.data_root)
    names = args.jobs or (list(RGB_JOBS) if args.source == "real" else
                          ["pamfn_stage2", "pamfn_one_stage", "pamfn_rgb", "gdlt"])
    unknown = [j for j in names if j not in jobs]
    if unknown:
        parser.error(f"unknown jobs {unknown} for --source {args.source}; valid: {', '.join(jobs)}")
    t0 = time.perf_counter()
    data = load_data(jobs[names[0]])
    peak = matmul_peak(torch.device("cpu"), torch.float32, 2048)[0] if args.device == "cpu" else float("nan")
    print(f"{data.provenance}\n(data ready in {time.perf_counter() - t0:.0f} s; torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, device {args.device}{', bf16 autocast' if args.cpu_bf16 else ''}; "
          f"fp32 matmul peak {peak:.0f} GFLOP/s)")
    for name in names:
        paper_config = jobs[name]
        config = paper_config.replace(epochs=args.epochs, device=args.device, save_weights=False,
                                      record_train=(), record_test=(), cpu_bf16=args.cpu_bf16)
        result = train(config, data=data)
        s = result.summary["seconds_per_epoch"]
        r = _setup(config, data)
        step_flops, eval_flops = run_flops(r)
        flops = step_flops * r.steps_per_epoch + eval_flops  # one epoch: its steps and one evaluation
        achieved = flops / s / 1e9
        print(f"  {name:16s} {result.meta['n_params'] / 1e6:6.2f} M params ({result.meta['n_trainable'] / 1e6:5.2f} "
              f"M trained)  {s:6.2f} s/epoch  {flops / 1e9:7.1f} GFLOP/epoch  {achieved:5.1f} GFLOP/s "
              f"({achieved / peak:4.0%} of peak, {peak * 1e9 * s / flops:4.2f}x bound)  "
              f"-> {paper_config.epochs} epochs ≈ {s * paper_config.epochs / 60:6.1f} min", flush=True)


if __name__ == "__main__":
    main()
