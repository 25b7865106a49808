"""Model efficiency as the papers report it: parameters, FLOPs and inference latency (LMAC-Net Table 4,
PAMFN / VATP-Net efficiency columns).

- Parameters: every parameter of the model (``params_m`` = millions).
- FLOPs: counted by :class:`torch.utils.flop_counter.FlopCounterMode` for one forward pass of one video
  (batch 1) of ``length`` segments. It counts matrix multiplications and convolutions as 2 FLOPs per
  multiply-add, which is what the papers' tools (fvcore / thop) report as "FLOPs" times 2: those tools count
  one multiply-add as one "FLOP". :func:`measure` therefore reports both ``gflops`` (2 per MAC) and
  ``gmacs`` (1 per MAC, the convention of most AQA papers' tables); say which one you compare.
- Latency: median wall time of one forward pass (batch 1, no grad, eval mode) after warm-up, on the given
  device; on CUDA, timed with synchronisation. It depends on the machine: report the device beside it.
- Extra inputs: a model that reads more than features and mask (VATP-Net's commentary and difficulty degree,
  its ``batch_inputs``) gets them as ``extras``, tensors of batch 1 passed as keywords to every call.
- FLOPs are counted under ``no_grad``; a model that feeds a parameter itself to a module (GDLT's queries)
  makes PyTorch's FlopCounterMode fail there ("Expected gradient function to be set"), so such a model is
  counted again with gradients enabled — in eval mode, nothing is trained, the count is the same.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Mapping

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from .models.base import count_parameters


def dummy_inputs(in_dims: dict[str, int], modalities: tuple[str, ...], length: int,
                 device: str | torch.device = "cpu", batch: int = 1) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """Random features ``[batch, length, D_m]`` per modality and an all-True mask."""
    g = torch.Generator().manual_seed(0)
    feats = {m: torch.randn(batch, length, in_dims[m], generator=g).to(device) for m in modalities}
    mask = torch.ones(batch, length, dtype=torch.bool, device=device)
    return feats, mask


def _on(extras: Mapping[str, torch.Tensor] | None, device: torch.device) -> dict[str, torch.Tensor]:
    return {k: v.to(device) for k, v in (extras or {}).items()}


def count_flops(model: nn.Module, in_dims: dict[str, int], length: int,
                extras: Mapping[str, torch.Tensor] | None = None) -> int:
    """FLOPs (2 per multiply-add) of one forward pass on one video of ``length`` segments (module docstring:
    ``extras``, and the gradient-enabled retry)."""
    model = model.eval()
    device = next(model.parameters()).device
    feats, mask = dummy_inputs(in_dims, tuple(model.modalities), length, device)
    kwargs = _on(extras, device)
    for grad in (False, True):
        counter = FlopCounterMode(display=False)
        try:
            with torch.set_grad_enabled(grad), counter:
                model(feats, mask, **kwargs)
        except AssertionError:
            if grad:
                raise
            continue
        return int(counter.get_total_flops())
    raise AssertionError("unreachable")


@torch.no_grad()
def latency_ms(model: nn.Module, in_dims: dict[str, int], length: int, *, device: str | torch.device = "cpu",
               repeats: int = 20, warmup: int = 3, extras: Mapping[str, torch.Tensor] | None = None) -> float:
    """Median milliseconds per forward pass (batch 1) on ``device``."""
    device = torch.device(device)
    model = model.eval().to(device)
    feats, mask = dummy_inputs(in_dims, tuple(model.modalities), length, device)
    kwargs = _on(extras, device)
    times = []
    for i in range(warmup + repeats):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        t0 = time.perf_counter()
        model(feats, mask, **kwargs)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        if i >= warmup:
            times.append((time.perf_counter() - t0) * 1e3)
    return float(statistics.median(times))


def measure(model: nn.Module, in_dims: dict[str, int], length: int, *, device: str | torch.device = "cpu",
            repeats: int = 20, extras: Mapping[str, torch.Tensor] | None = None) -> dict[str, float]:
    """``params_m``, ``gflops``, ``gmacs`` and ``latency_ms`` of one model for one video of ``length``
    (``extras``: the model's other inputs, batch 1)."""
    model = model.eval()
    flops = count_flops(model.to("cpu"), in_dims, length, extras)
    return {
        "params_m": count_parameters(model) / 1e6,
        "gflops": flops / 1e9,
        "gmacs": flops / 2e9,
        "latency_ms": latency_ms(model, in_dims, length, device=device, repeats=repeats, extras=extras),
    }
