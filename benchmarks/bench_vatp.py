"""VATP-Net training-speed benchmark on MTL-AQA: seconds per step and per epoch, Drop-DTW's share, FLOPs.

    python benchmarks/bench_vatp.py [--scales paper quick] [--steps 8] [--warmup 2] [--engine-epochs 0]
        [--threads 1] [--device cpu]

For each scale, the run :func:`aqa_lib.experiments.config_for` gives ``vatp`` on MTL-AQA (``paper``: d = 128,
8 heads, batch 32, the full 1,059 / 353 split; ``quick``: d = 32, 4 heads, batch 32, 200 / 67 dives), on the
embedded data: 10 synthetic I3D-sized clip features per dive and the **real commentary** of every dive as
384-d token features (2–483 tokens, padded to the longest of each batch, as the engine pads them).

What it times (``time.perf_counter``, one CPU thread by default; on CUDA every timer synchronises):

- **a training step** as the engine takes it (:mod:`aqa_lib.train`: a random batch of training dives,
  forward, Eq. 16's loss, backward, Adam step), ``--steps`` steps after ``--warmup``, split into forward,
  loss, backward and optimiser;
- inside it, by wrapping the functions VATP-Net calls (no change to the model): **Drop-DTW's exact
  alignment** (Eq. 7, :func:`aqa_lib.models.vatp.drop_dtw_positives`, no gradient), split into its *soft*
  cost construction (:func:`aqa_lib.drop_dtw.alignment_costs`: cosine similarities, drop baseline, softmax over
  the steps and the drop row, ``−log``), the **exact DP** (:func:`aqa_lib.drop_dtw.drop_dtw`: the two-state
  recursion over the N tokens and the backtrack) and the rest (repeating short texts, folding the match back);
  and the contrastive losses that read the match (Eqs. 8–10);
- for reference, what Drop-DTW's own **differentiable soft-DP loss** (:func:`aqa_lib.drop_dtw.soft_drop_dtw`,
  forward + backward) would cost on the same costs per step: VATP-Net does not use it (its alignment is the
  exact DP on detached costs, used as InfoNCE positives);
- **per epoch**: steps per epoch × the mean step + one whole-test-split evaluation (what the engine does every
  epoch), and with ``--engine-epochs N`` the engine itself (:func:`aqa_lib.train.train`, no cache) for N epochs;
- **FLOPs** of one forward pass of one dive (batch 1, 10 clips) with :func:`aqa_lib.efficiency.measure`,
  through a wrapper that supplies the commentary (the median and the longest length) and the difficulty
  degree. The counter sees matrix products only, not Drop-DTW's elementwise dynamic programme.

Prints figures; asserts nothing. Numbers depend on the machine and its load (run it on a quiet machine).
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import time
from collections import defaultdict
from collections.abc import Callable, Iterator

import numpy as np
import torch
from torch import Tensor, nn

import aqa_lib.drop_dtw as drop_dtw_module
import aqa_lib.models.vatp as vatp_module
from aqa_lib.data.batching import FeatureBank
from aqa_lib.efficiency import measure
from aqa_lib.experiments import config_for
from aqa_lib.models.base import create_model
from aqa_lib.train import RunConfig, load_data, predict, train

ORDER = ("step: forward (incl. Eq. 7)", "step: loss (Eq. 16)", "step: backward", "step: optimiser",
         "drop-dtw: Eq. 7 total", "drop-dtw: soft costs (alignment_costs)",
         "drop-dtw: exact DP + backtrack (drop_dtw)", "drop-dtw: DP recursion only", "drop-dtw: backtrack only",
         "drop-dtw: rest (repeat short texts, fold back)", "loss: L_alg (Eqs. 8-9)", "loss: L_gc (Eq. 10)",
         "reference: soft_drop_dtw forward + backward")
"""The timed parts, in the order they are printed (Drop-DTW's parts are inside the forward)."""


class Timers:
    """Accumulated seconds per name; :meth:`wrap` times every call of a module-level function."""

    def __init__(self, device: torch.device) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.device = device

    def _sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    @contextlib.contextmanager
    def time(self, name: str) -> Iterator[None]:
        self._sync()
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self._sync()
            self.seconds[name] += time.perf_counter() - t0

    def wrap(self, module: object, attribute: str, name: str) -> Callable[[], None]:
        """Replace ``module.attribute`` by a timed copy; returns the function that restores it."""
        original = getattr(module, attribute)

        def timed(*args, **kwargs):
            with self.time(name):
                return original(*args, **kwargs)

        setattr(module, attribute, timed)
        return lambda: setattr(module, attribute, original)


class WithCommentary(nn.Module):
    """VATP-Net reading a fixed commentary of ``length`` tokens and DD, called as ``model(features, mask)``
    (what :func:`aqa_lib.efficiency.measure` calls)."""

    def __init__(self, model: nn.Module, length: int) -> None:
        super().__init__()
        self.model = model
        self.modalities = model.modalities
        self.length = length

    def forward(self, features: dict[str, Tensor], mask: Tensor):
        b = mask.shape[0]
        text = torch.randn(b, self.length, self.model.text_dim, generator=torch.Generator().manual_seed(1))
        extras = {}
        if "text" in self.model.batch_inputs:
            extras = {"text": text.to(mask.device), "text_mask": torch.ones(b, self.length, dtype=torch.bool,
                                                                             device=mask.device)}
        if "dd" in self.model.batch_inputs:
            extras["dd"] = torch.full((b,), 3.0, device=mask.device)
        return self.model(features, mask, **extras)


def _instrument(timers: Timers) -> list[Callable[[], None]]:
    """Wrap the functions VATP-Net's forward and loss call (module globals looked up at call time)."""
    return [
        timers.wrap(vatp_module, "drop_dtw_positives", "drop-dtw: Eq. 7 total"),
        timers.wrap(vatp_module, "alignment_costs", "drop-dtw: soft costs (alignment_costs)"),
        timers.wrap(vatp_module, "drop_dtw", "drop-dtw: exact DP + backtrack (drop_dtw)"),
        timers.wrap(drop_dtw_module, "_backtrack", "drop-dtw: backtrack only"),
        timers.wrap(vatp_module, "alignment_loss", "loss: L_alg (Eqs. 8-9)"),
        timers.wrap(vatp_module, "global_contrastive_loss", "loss: L_gc (Eq. 10)"),
    ]


def _soft_reference(model: nn.Module, batch_out: dict, timers: Timers) -> None:
    """Drop-DTW's differentiable soft loss (forward + backward) on this step's costs (reference only)."""
    subactions, semantics, mask = batch_out["subactions"], batch_out["semantics"], batch_out["text_mask"]
    steps = subactions.detach().float().requires_grad_(True)
    clips, clip_mask, _ = vatp_module.repeat_short_texts(semantics.detach().float(), mask.bool(), steps.shape[1])
    with timers.time("reference: soft_drop_dtw forward + backward"):
        cost, drop = drop_dtw_module.alignment_costs(steps, clips, clip_mask=clip_mask)
        drop_dtw_module.soft_drop_dtw(cost, drop, clip_mask=clip_mask).mean().backward()


def bench_steps(config: RunConfig, *, steps: int, warmup: int, device: torch.device) -> dict[str, float]:
    """Mean seconds per training step (and its parts) of ``config``'s model on its data, plus one evaluation."""
    data = load_data(config)
    torch.manual_seed(config.seed)
    model = create_model(config.model, in_dims=dict(data.modalities), **config.model_kwargs).to(device)
    bank = FeatureBank(data.train.select_modalities(tuple(model.modalities)), device)
    test = FeatureBank(data.test.select_modalities(tuple(model.modalities)), device)
    opt = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    gen = torch.Generator().manual_seed(config.seed)
    window = config.window or 10
    names = tuple(model.batch_inputs)
    timers = Timers(device)
    restore = _instrument(timers)
    step_seconds, lengths = [], []
    try:
        model.train()
        for s in range(warmup + steps):
            if s == warmup:
                timers.seconds.clear()
            t0 = time.perf_counter()
            index = torch.randperm(len(bank), generator=gen)[: config.batch_size]
            batch = bank.train_batch(index, window, gen)
            with timers.time("step: forward (incl. Eq. 7)"):
                out = model(batch.features, batch.mask, **batch.pick(names))
            with timers.time("step: loss (Eq. 16)"):
                total, _ = model.loss(out, batch.labels)
            opt.zero_grad(set_to_none=True)
            with timers.time("step: backward"):
                total.backward()
            with timers.time("step: optimiser"):
                opt.step()
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            if s >= warmup:
                step_seconds.append(time.perf_counter() - t0)
                lengths.append(int(out.aux["text_mask"].shape[1]))
                _soft_reference(model, out.aux, timers)
        t0 = time.perf_counter()
        predict(model, test, batch_size=config.eval_batch_size, amp=config.amp)
        eval_seconds = time.perf_counter() - t0
    finally:
        for undo in restore:
            undo()
    n_train = len(bank)
    steps_per_epoch = max(1, n_train // config.batch_size + (n_train % config.batch_size > 1))
    parts = {k: v / steps for k, v in timers.seconds.items()}
    parts["drop-dtw: DP recursion only"] = (parts.get("drop-dtw: exact DP + backtrack (drop_dtw)", 0.0)
                                            - parts.get("drop-dtw: backtrack only", 0.0))
    parts["drop-dtw: rest (repeat short texts, fold back)"] = (
        parts.get("drop-dtw: Eq. 7 total", 0.0) - parts.get("drop-dtw: soft costs (alignment_costs)", 0.0)
        - parts.get("drop-dtw: exact DP + backtrack (drop_dtw)", 0.0))
    return {"step_mean": statistics.mean(step_seconds), "step_median": statistics.median(step_seconds),
            "steps_per_epoch": steps_per_epoch, "eval": eval_seconds, "n_train": n_train, "n_test": len(test),
            "padded_text_mean": float(np.mean(lengths)), **parts}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scales", nargs="+", default=["paper", "quick"], choices=["paper", "quick", "smoke"])
    parser.add_argument("--steps", type=int, default=8, help="timed training steps per scale")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps first")
    parser.add_argument("--engine-epochs", type=int, default=0,
                        help="also train N epochs with the engine (aqa_lib.train.train, no cache) per scale")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (0 = leave as is)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), device {device}")
    for scale in args.scales:
        config = config_for("vatp", "mtl_aqa", "score", scale=scale, device=str(device))
        data = load_data(config)
        lengths = np.array([len(t) for t in data.train.text])
        print(f"\n== {scale}: {config.model_kwargs}, batch {config.batch_size}, {config.epochs} epochs, "
              f"lr {config.lr}\n   {data.provenance}\n   commentary tokens per training dive: median "
              f"{int(np.median(lengths))}, max {int(lengths.max())}", flush=True)
        r = bench_steps(config, steps=args.steps, warmup=args.warmup, device=device)
        step = r["step_mean"]
        print(f"   {r['n_train']} training dives, {r['steps_per_epoch']} steps/epoch; batches padded to "
              f"{r['padded_text_mean']:.0f} tokens on average")
        print(f"   training step: mean {step:.3f} s, median {r['step_median']:.3f} s ({args.steps} steps)")
        for name in (k for k in ORDER if k in r):
            print(f"     {name:48s} {r[name]:8.4f} s  {100 * r[name] / step:5.1f} % of a step")
        epoch = r["steps_per_epoch"] * step + r["eval"]
        print(f"   evaluation of {r['n_test']} test dives: {r['eval']:.2f} s")
        print(f"   epoch ≈ {r['steps_per_epoch']} × {step:.3f} + {r['eval']:.2f} = {epoch:.1f} s  -> "
              f"{config.epochs} epochs ≈ {epoch * config.epochs / 60:.1f} min", flush=True)
        if args.engine_epochs:
            result = train(config.replace(epochs=args.engine_epochs, record_train=(), record_test=()), data=data)
            print(f"   engine: {result.summary['seconds_per_epoch']:.1f} s/epoch over {args.engine_epochs} epoch(s)")
        model = create_model(config.model, in_dims=dict(data.modalities), **config.model_kwargs)
        for label, length in (("median", int(np.median(lengths))), ("longest", int(lengths.max()))):
            m = measure(WithCommentary(model, length), dict(data.modalities), 10, device=device, repeats=10)
            print(f"   one dive, {label} commentary ({length} tokens): {m['params_m']:.3f} M params, "
                  f"{m['gflops']:.4f} GFLOPs ({m['gmacs']:.4f} GMACs), {m['latency_ms']:.1f} ms forward", flush=True)


if __name__ == "__main__":
    main()
