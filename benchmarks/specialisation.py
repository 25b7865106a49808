"""Do LMAC-Net's queries specialise? Centre order, spread, element hits, query weights, cross-modal agreement.

Trains (or reads from the cache) LMAC-Net runs recording every test video's attention centres and prints,
per run and modality, :func:`aqa_lib.analysis.query_specialisation` (last decoder layer, test videos): the
share of videos whose centres are in temporal order, their spread, centres inside true elements against
evenly spread ones, the query weights' deviation from uniform, and the gap between the modalities' centres.

    python benchmarks/specialisation.py --dataset fisv --targets TES --scale quick
    python benchmarks/specialisation.py --variants lmac/table7/rgb --source real --data-root /data/fisv/vst_fp16
"""

from __future__ import annotations

import argparse
import itertools
import json
import time

from aqa_lib.analysis import query_specialisation
from aqa_lib.experiments import lmac_config
from aqa_lib.train import run


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--variants", nargs="+", default=["lmac"])
    p.add_argument("--dataset", default="fisv")
    p.add_argument("--targets", nargs="+", default=["TES"])
    p.add_argument("--seeds", nargs="+", type=int, default=[0])
    p.add_argument("--scale", default="quick")
    p.add_argument("--epochs", type=int, default=None)
    p.add_argument("--key-position", default="none", choices=["none", "sine"])
    p.add_argument("--input-projection", default="preset", choices=["preset", "on", "off"],
                   help="one learned input projection per modality before the decoder layers (preset: the scale's)")
    p.add_argument("--data-scale", default=None, choices=["smoke", "quick", "paper"],
                   help="synthetic data scale if not --scale (paper = the full training split)")
    p.add_argument("--source", default="synthetic")
    p.add_argument("--data-root", default="")
    p.add_argument("--list", action="store_true", help="print the jobs as JSON (one RunConfig per line), train nothing")
    args = p.parse_args()
    extra: dict[str, object] = {} if args.key_position == "none" else {"key_position": args.key_position}
    if args.input_projection != "preset":
        extra["input_projection"] = args.input_projection == "on"
    for variant, target, seed in itertools.product(args.variants, args.targets, args.seeds):
        cfg = lmac_config(variant, args.dataset, target, scale=args.scale, seed=seed, source=args.source,
                          data_root=args.data_root, epochs=args.epochs, final_keys=("centres",), **extra)
        if args.data_scale and args.source == "synthetic":
            cfg = cfg.replace(scale=args.data_scale)
        if args.list:
            print(json.dumps(cfg.to_dict()))
            continue
        t0 = time.perf_counter()
        result = run(cfg, progress=False)
        print(f"\n{variant} {args.dataset}/{target} seed {seed} ({args.source}, {args.scale} width, "
              f"data {cfg.scale}, {cfg.epochs} epochs, keys "
              f"{args.key_position}, input projection {args.input_projection}): papers {result.summary['papers_spearman']:.3f} / last "
              f"{result.summary['last_spearman']:.3f}, {time.perf_counter() - t0:.0f} s "
              f"({'cached' if result.cached else 'trained'})")
        print(query_specialisation(result).to_string(index=False, float_format=lambda v: f"{v:.3f}"))


if __name__ == "__main__":
    main()
