"""aqa_lib.efficiency: FLOPs by hand on a linear model, extra inputs passed through, and the gradient-enabled
retry for a model that feeds a parameter to a module (GDLT)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from aqa_lib.efficiency import count_flops, latency_ms, measure
from aqa_lib.models.base import create_model


class Linear(nn.Module):
    """score = mean over time of W·x (+ an optional per-video offset read as an extra input)."""

    modalities = ("rgb",)

    def __init__(self, d: int, needs_offset: bool = False) -> None:
        super().__init__()
        self.proj = nn.Linear(d, 3, bias=False)
        self.needs_offset = needs_offset

    def forward(self, features, mask=None, *, offset: torch.Tensor | None = None):
        if self.needs_offset and offset is None:
            raise TypeError("offset is required")
        out = self.proj(features["rgb"]).mean(dim=(1, 2))
        return out if offset is None else out + offset


def test_flops_of_a_linear_layer_by_hand():
    # one [1, 10, 8] @ [8, 3] product: 10 · 8 · 3 multiply-adds = 480 FLOPs at 2 per multiply-add
    assert count_flops(Linear(8), {"rgb": 8}, 10) == 2 * 10 * 8 * 3
    m = measure(Linear(8), {"rgb": 8}, 10, repeats=2)
    assert m["gflops"] == pytest.approx(480e-9) and m["gmacs"] == pytest.approx(240e-9)
    assert m["params_m"] == pytest.approx(24e-6) and m["latency_ms"] > 0


def test_extras_reach_every_call_and_missing_ones_fail():
    model = Linear(8, needs_offset=True)
    with pytest.raises(TypeError, match="offset"):
        count_flops(model, {"rgb": 8}, 10)
    extras = {"offset": torch.ones(1)}
    assert count_flops(model, {"rgb": 8}, 10, extras) == 480
    assert latency_ms(model, {"rgb": 8}, 10, repeats=1, warmup=0, extras=extras) > 0
    assert measure(model, {"rgb": 8}, 10, repeats=1, extras=extras)["gflops"] == pytest.approx(480e-9)


def test_gdlt_is_counted_with_gradients_enabled_and_the_same_as_under_grad():
    dims = {"rgb": 32}
    model = create_model("gdlt", in_dims=dims, d_model=16, n_heads=2)
    flops = count_flops(model, dims, 6)  # no_grad fails inside FlopCounterMode for GDLT; the retry counts it
    assert flops > 0
    from torch.utils.flop_counter import FlopCounterMode

    from aqa_lib.efficiency import dummy_inputs

    feats, mask = dummy_inputs(dims, ("rgb",), 6)
    counter = FlopCounterMode(display=False)
    with counter:
        model.eval()(feats, mask)
    assert flops == counter.get_total_flops()
    assert measure(model, dims, 6, repeats=1)["params_m"] > 0
