"""PAMFN, GDLT and MLAVL training-speed benchmark at the papers' configurations: prints seconds per epoch.

    python benchmarks/bench_pamfn.py [--dataset fisv] [--target TES] [--epochs 2] [--device cpu] [--threads 1]
        [--jobs pamfn_stage2 pamfn_one_stage pamfn_rgb gdlt mlavl]

Each job is the paper-scale :class:`~aqa_lib.train.RunConfig` the notebooks use, trained by the real engine
(:func:`aqa_lib.train.train`, no cache) for ``--epochs`` epochs on the synthetic data at ``paper`` scale
(the dataset's full split sizes and sequence lengths, all three modalities). Seconds per epoch include the
whole-test-split evaluation each epoch does. The stage-2 job freezes the RGB and flow branches exactly as
two-stage training does, but starts them from random weights: the stage-1 runs are not trained here (their
cost is the ``pamfn_<modality>`` jobs). The last column extrapolates to the paper's epoch count. Asserts
nothing; numbers depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import time

import torch

from aqa_lib.experiments import config_for
from aqa_lib.experiments.baselines import baseline_config
from aqa_lib.experiments.pamfn import pamfn_config, stage1_config
from aqa_lib.train import RunConfig, load_data, train


def _jobs(dataset: str, target: str) -> dict[str, RunConfig]:
    stage2 = pamfn_config("pamfn", dataset, target, scale="paper")
    one_stage = pamfn_config("pamfn", dataset, target, scale="paper", training="one_stage")
    jobs = {"pamfn_stage2": stage2.replace(init_from=()), "pamfn_one_stage": one_stage}
    for m in ("rgb", "flow", "audio"):
        jobs[f"pamfn_{m}"] = stage1_config(m, dataset, target, scale="paper")
    jobs["gdlt"] = baseline_config("gdlt", dataset, target, scale="paper")
    jobs["mlavl"] = config_for("mlavl", dataset, target, scale="paper")  # official config: RGB + audio, batch 64
    return jobs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", default="fisv", choices=["fisv", "rg"])
    parser.add_argument("--target", default=None, help="default: TES (Fis-V) / Ball (RG)")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (0 = leave as is)")
    parser.add_argument("--jobs", nargs="+", default=["pamfn_stage2", "pamfn_one_stage", "pamfn_rgb", "gdlt"])
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    target = args.target or ("TES" if args.dataset == "fisv" else "Ball")
    jobs = _jobs(args.dataset, target)
    unknown = [j for j in args.jobs if j not in jobs]
    if unknown:
        parser.error(f"unknown jobs {unknown}; valid: {', '.join(jobs)}")
    t0 = time.perf_counter()
    data = load_data(next(iter(jobs.values())).replace(scale="paper"))
    print(f"{data.provenance}\n(data ready in {time.perf_counter() - t0:.0f} s; torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, device {args.device})")
    for name in args.jobs:
        paper_config = jobs[name]
        config = paper_config.replace(epochs=args.epochs, device=args.device, save_weights=False,
                                      record_train=(), record_test=())
        result = train(config, data=data)
        s = result.summary["seconds_per_epoch"]
        print(f"  {name:16s} {result.meta['n_params'] / 1e6:6.2f} M params ({result.meta['n_trainable'] / 1e6:5.2f} "
              f"M trained)  {s:6.1f} s/epoch  -> {paper_config.epochs} epochs ≈ {s * paper_config.epochs / 60:6.1f} min", flush=True)


if __name__ == "__main__":
    main()
