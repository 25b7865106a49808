"""The CUDA paths: the engine, fp32 parity with the CPU and bf16 autocast parity, on a real GPU.

Every test here skips without a CUDA GPU (CI and the 2-core development machine have none);
``benchmarks/gpu_check.py`` runs this file first on a machine that has one. What is checked:

- a smoke run of each model family (LMAC-Net, PAMFN branch, GDLT, MLAVL) trains on ``cuda`` with bf16
  autocast through the engine and gives finite metrics;
- a model's float32 forward and loss on the GPU equal the CPU's (same weights, same batch) to float
  tolerance: nothing on the device path changes the numbers;
- the bf16 autocast forward stays close to the float32 one (predictions, loss, gradient direction), at
  the paper configuration where it matters (LMAC-Net d = 512; PAMFN's full model).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from aqa_lib.data import get_spec
from aqa_lib.experiments import config_for
from aqa_lib.models.base import ModelOutput, create_model
from aqa_lib.train import train

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(),
                                reason="needs a CUDA GPU (benchmarks/gpu_check.py runs this file on one)")

SMOKE = [("lmac", "fisv", "TES"), ("pamfn/branch/rgb", "rg", "Ball"), ("gdlt", "fisv", "PCS"),
         ("mlavl", "fisv", "TES")]


def _batch(dataset: str, batch: int, length: int, seed: int = 0) -> tuple[dict[str, torch.Tensor], torch.Tensor,
                                                                           torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    spec = get_spec(dataset)
    feats = {m: torch.randn(batch, length, d, generator=g) for m, d in spec.modalities.items()}
    mask = torch.ones(batch, length, dtype=torch.bool)
    mask[0, length // 2:] = False  # one padded video: the masked paths run too
    return feats, mask, torch.rand(batch, generator=g)


def _step(model: torch.nn.Module, feats, mask, labels, *, amp: bool) -> tuple[torch.Tensor, torch.Tensor,
                                                                                  torch.Tensor]:
    """Forward (bf16 autocast if ``amp``), float32 loss outside autocast as the engine does, backward."""
    model.zero_grad(set_to_none=True)
    device = labels.device.type
    with torch.autocast(device_type=device, dtype=torch.bfloat16, enabled=amp and device == "cuda"):
        out = model(feats, mask)
    out32 = ModelOutput(out.score.float(), out.aux)
    with torch.autocast(device_type=device, enabled=False):
        loss, _ = model.loss(out32, labels)
    loss.backward()
    grad = torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None])
    return out.score.detach().float(), loss.detach(), grad.detach().float()


def _to(feats, mask, labels, device):
    return {m: x.to(device) for m, x in feats.items()}, mask.to(device), labels.to(device)


@pytest.mark.parametrize("variant,dataset,target", SMOKE)
def test_smoke_run_trains_on_cuda(variant, dataset, target, tmp_path, monkeypatch):
    monkeypatch.setenv("AQA_CACHE_DIR", str(tmp_path))
    config = config_for(variant, dataset, target, scale="smoke", device="cuda")
    result = train(config)
    hist = result.history
    assert len(hist) == config.epochs
    assert np.isfinite(hist["test_spearman"]).all() and np.isfinite(hist["train_loss"]).all()
    assert result.meta["device"].startswith("cuda")


@pytest.mark.parametrize("name,dataset,kwargs", [("lmac", "fisv", {"d_model": 64, "d_ffn": 64}),
                                                 ("gdlt", "rg", {}), ("mlavl", "fisv", {"d_model": 64})])
def test_fp32_forward_and_loss_match_cpu(name, dataset, kwargs):
    torch.manual_seed(0)
    model = create_model(name, in_dims=dict(get_spec(dataset).modalities), **kwargs).eval()
    feats, mask, labels = _batch(dataset, 4, 48)
    score_cpu, loss_cpu, grad_cpu = _step(model, feats, mask, labels, amp=False)
    model.cuda()
    score_gpu, loss_gpu, grad_gpu = _step(model, *_to(feats, mask, labels, "cuda"), amp=False)
    torch.testing.assert_close(score_gpu.cpu(), score_cpu, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(loss_gpu.cpu(), loss_cpu, rtol=1e-4, atol=1e-4)
    assert torch.nn.functional.cosine_similarity(grad_gpu.cpu().double(), grad_cpu.double(), dim=0) > 0.9999


@pytest.mark.parametrize("name,dataset", [("lmac", "fisv"), ("pamfn", "fisv"), ("mlavl", "fisv")])
def test_bf16_autocast_close_to_fp32_at_paper_size(name, dataset):
    torch.manual_seed(0)
    model = create_model(name, in_dims=dict(get_spec(dataset).modalities)).cuda().eval()
    feats, mask, labels = _to(*_batch(dataset, 8, get_spec(dataset).train_window), "cuda")
    s32, l32, g32 = _step(model, feats, mask, labels, amp=False)
    s16, l16, g16 = _step(model, feats, mask, labels, amp=True)
    assert (s16 - s32).abs().max() < 0.02 * max(1.0, s32.abs().max().item())
    assert abs(l16.item() - l32.item()) < 0.05 * max(1.0, abs(l32.item()))
    assert torch.nn.functional.cosine_similarity(g16.double(), g32.double(), dim=0) > 0.98
