"""RunConfig.cpu_bf16: bf16 autocast on CPU only when asked (amp alone stays CUDA-only), part of the cache key,
and a CPU run under it trains, close to its float32 twin."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from aqa_lib.experiments import config_for
from aqa_lib.train import _autocast, run, run_key


def _linear_dtype(enabled: bool, cpu: bool) -> torch.dtype:
    layer = torch.nn.Linear(4, 2)
    with _autocast(torch.device("cpu"), enabled, cpu):
        return layer(torch.randn(3, 4)).dtype


def test_autocast_on_cpu_only_with_cpu_bf16():
    assert _linear_dtype(True, False) == torch.float32  # amp alone: CUDA only, as before
    assert _linear_dtype(True, True) == torch.bfloat16
    assert _linear_dtype(False, True) == torch.float32  # amp off wins


def test_cpu_bf16_is_in_the_key_and_trains_close_to_float32(tmp_path, monkeypatch):
    monkeypatch.setenv("AQA_CACHE_DIR", str(tmp_path))
    fp32 = config_for("lmac/table7/rgb", "rg", "Ball", scale="smoke", epochs=2)
    bf16 = fp32.replace(cpu_bf16=True)
    assert run_key(fp32) != run_key(bf16)
    a, b = run(fp32), run(bf16)
    pa, pb = a.arrays["test_pred_last"], b.arrays["test_pred_last"]
    assert np.isfinite(pb).all() and not np.array_equal(pa, pb)  # bf16 really ran
    # ... and stays near float32: within 1 % of the score, and the same ranking of the test videos in essence
    assert np.abs(pa - pb).max() < 0.01 * np.abs(pa).max() and np.corrcoef(pa, pb)[0, 1] > 0.95


def test_the_environment_switch_reaches_every_config_including_stage_one(monkeypatch):
    monkeypatch.setenv("AQA_CPU_BF16", "1")
    cfg = config_for("pamfn", "rg", "Ball", scale="smoke")
    assert cfg.cpu_bf16 and all(spec["run"]["cpu_bf16"] for spec in cfg.init_from)
    monkeypatch.setenv("AQA_CPU_BF16", "0")
    assert not config_for("lmac", "rg", "Ball", scale="smoke").cpu_bf16
    monkeypatch.setenv("AQA_CPU_BF16", "on")
    with pytest.raises(ValueError, match="AQA_CPU_BF16 must be 1"):
        config_for("lmac", "rg", "Ball", scale="smoke")
