"""The engine's speed-ups change no number: each faster form is pinned, bit for bit (``torch.equal``, forward
and gradients), against the form it replaced, written out here (head width 6, so √d_head is no power of two).

- attention logits scaled and masked in place on the product's buffer (``blocks.multihead_attention``, MLAVL's
  ``Attention``), where the replaced forms allocated a new tensor per step (and MLAVL's ``masked_fill`` kept a
  mask for its backward);
- dropout's scaled mask built in one pass (``blocks._keep``);
- Adam / AdamW with ``foreach=True`` (one kernel over all parameters) against the per-tensor loop;
- PAMFN's inputs not zeroed again when a batch has no padding (``pamfn._check_inputs``), and still zeroed
  when it has some.
"""

import copy
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from aqa_lib.models import pamfn
from aqa_lib.models.base import check_inputs, create_model
from aqa_lib.models.blocks import DropoutNoise, _keep, multihead_attention, use_run_noise
from aqa_lib.models.mlavl import Attention
from aqa_lib.train import RunConfig, _make_optimizer


@pytest.fixture(autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _grads(module: nn.Module, *inputs: torch.Tensor) -> list[torch.Tensor]:
    return [p.grad.clone() for p in module.parameters()] + [x.grad.clone() for x in inputs]


def _inputs(b: int = 3, lq: int = 5, s: int = 9, d: int = 24) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    torch.manual_seed(0)
    query = torch.randn(b, lq, d, requires_grad=True)
    key = torch.randn(b, s, d, requires_grad=True)
    pad = torch.zeros(b, s, dtype=torch.bool)
    pad[1, 6:] = True
    pad[2, 3:] = True
    return query, key, pad


def _old_keep(x: torch.Tensor, p: float, noise: DropoutNoise) -> torch.Tensor:
    u = noise.uniform(x.shape, x.device)
    return x * ((u >= p).to(x.dtype) * (1.0 / (1.0 - p)))


def test_dropout_mask_in_one_pass_equals_the_two_pass_form():
    x = torch.randn(4, 50, requires_grad=True)
    new = _keep(x, 0.3, DropoutNoise(torch.Generator().manual_seed(5)))
    old = _old_keep(x, 0.3, DropoutNoise(torch.Generator().manual_seed(5)))
    assert torch.equal(new, old) and bool((new == 0).any())
    g = torch.randn_like(x)
    assert torch.equal(torch.autograd.grad(new, x, g)[0], torch.autograd.grad(old, x, g)[0])


@pytest.mark.parametrize("training", [False, True])
def test_mlavl_attention_equals_the_masked_fill_form(training):
    query, key, pad = _inputs()
    attn = Attention(24, 4, dropout=0.3).train(training)
    use_run_noise(attn, DropoutNoise(torch.Generator().manual_seed(1)))
    out, weights = attn(query, key, pad)
    (out.square().sum() + weights.sum()).backward()
    new = [out, weights, *_grads(attn, query, key)]

    ref = copy.deepcopy(attn)
    use_run_noise(ref, DropoutNoise(torch.Generator().manual_seed(1)))
    query2, key2 = query.detach().clone().requires_grad_(), key.detach().clone().requires_grad_()
    b, lq, d = query2.shape
    q = ref.q(query2).view(b, lq, 4, 6).transpose(1, 2)
    k = ref.k(key2).view(b, key2.shape[1], 4, 6).transpose(1, 2)
    v = ref.v(key2).view(b, key2.shape[1], 4, 6).transpose(1, 2)
    logits = q @ k.transpose(-1, -2) / math.sqrt(6)
    logits = logits.masked_fill(pad[:, None, None, :], float("-inf"))
    w = logits.softmax(dim=-1)
    dropped = _old_keep(w, 0.3, ref.drop.noise) if training else w
    out2 = ref.o((dropped @ v).transpose(1, 2).reshape(b, lq, d))
    (out2.square().sum() + w.mean(dim=1).sum()).backward()
    old = [out2, w.mean(dim=1), *_grads(ref, query2, key2)]
    assert len(new) == len(old)
    for a, b_ in zip(new, old, strict=True):
        assert torch.equal(a, b_)


def _heads(x: torch.Tensor) -> torch.Tensor:
    return x.reshape(x.shape[0], x.shape[1], 4, 6).transpose(1, 2)


@pytest.mark.parametrize("training", [False, True])
def test_multihead_attention_equals_the_out_of_place_form(training):
    query, key, pad = _inputs()
    attn_mask = torch.zeros(5, 9).masked_fill(torch.rand(5, 9, generator=torch.Generator().manual_seed(3)) > 0.8,
                                              float("-inf"))
    mha = nn.MultiheadAttention(24, 4, dropout=0.3, batch_first=True).train(training)
    use_run_noise(mha, DropoutNoise(torch.Generator().manual_seed(1)))
    out, weights = multihead_attention(mha, query, key, key, key_padding_mask=pad, attn_mask=attn_mask)
    (out.square().sum() + weights.sum()).backward()
    new = [out, weights, *_grads(mha, query, key)]

    ref = copy.deepcopy(mha)
    use_run_noise(ref, DropoutNoise(torch.Generator().manual_seed(1)))
    for p in ref.parameters():
        p.grad = None
    query2, key2 = query.detach().clone().requires_grad_(), key.detach().clone().requires_grad_()
    w_q, w_k, w_v = ref.in_proj_weight.chunk(3)
    b_q, b_k, b_v = ref.in_proj_bias.chunk(3)
    q, k, v = (_heads(F.linear(x, w, bias)) for x, w, bias in ((query2, w_q, b_q), (key2, w_k, b_k), (key2, w_v, b_v)))
    logits = q @ k.transpose(-2, -1) * (1.0 / math.sqrt(6))
    logits = logits + attn_mask
    logits = logits + torch.zeros(pad.shape).masked_fill(pad, float("-inf"))[:, None, None, :]
    w = logits.softmax(dim=-1)
    if training:
        w = _old_keep(w, 0.3, ref.noise)
    out2 = F.linear((w @ v).transpose(1, 2).reshape(3, 5, 24), ref.out_proj.weight, ref.out_proj.bias)
    (out2.square().sum() + w.mean(dim=-3).sum()).backward()
    old = [out2, w.mean(dim=-3), *_grads(ref, query2, key2)]
    for a, b_ in zip(new, old, strict=True):
        assert torch.equal(a, b_)


@pytest.mark.parametrize("optimizer", ["adamw", "adam"])
def test_foreach_optimiser_equals_the_per_tensor_loop(optimizer):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(12, 20), nn.ReLU(), nn.Linear(20, 1))
    twin, start = copy.deepcopy(model), copy.deepcopy(model)
    config = RunConfig(model="lmac", dataset="fisv", target="TES", optimizer=optimizer, lr=3e-3,
                       weight_decay=0.01, lr_multipliers={"0.": 0.1})
    opt = _make_optimizer(model.named_parameters(), config)
    assert all(group["foreach"] for group in opt.param_groups) and len(opt.param_groups) == 2
    loop_cls = torch.optim.AdamW if optimizer == "adamw" else torch.optim.Adam
    loop = loop_cls([{"params": list(twin[0].parameters()), "lr": 3e-4},
                     {"params": list(twin[2].parameters()), "lr": 3e-3}], lr=3e-3, weight_decay=0.01,
                    foreach=False)
    for _ in range(6):
        x = torch.randn(8, 12)
        for m, o in ((model, opt), (twin, loop)):
            o.zero_grad()
            m(x).square().mean().backward()
            o.step()
    for a, b in zip(model.parameters(), twin.parameters(), strict=True):
        assert torch.equal(a, b)
    assert not torch.equal(model[0].weight, start[0].weight)  # they did train


def _pamfn_zeroing_always(model, features, mask):
    """The replaced form of ``pamfn._check_inputs``: padded steps zeroed whatever the mask."""
    xs, mask = check_inputs(features, mask, model.in_dims, model=type(model).__name__,
                            min_segments=pamfn.MIN_SEGMENTS)
    return {m: x.masked_fill(~mask[:, :, None], 0.0) for m, x in xs.items()}, mask


@pytest.mark.parametrize("padded", [False, True])
def test_pamfn_skips_zeroing_only_where_nothing_is_padded(monkeypatch, padded):
    dims, b, t = {"rgb": 10, "flow": 8, "audio": 6}, 3, 12
    lengths = torch.tensor([12, 9, 6] if padded else [12, 12, 12])
    mask = torch.arange(t)[None, :] < lengths[:, None]
    g = torch.Generator().manual_seed(0)
    feats = {m: torch.randn(b, t, d, generator=g) for m, d in dims.items()}  # padding holds noise, not zeros

    def step(check):
        monkeypatch.setattr(pamfn, "_check_inputs", check)
        torch.manual_seed(0)
        model = create_model("pamfn", in_dims=dims, d_model=8, hidden_dim=8, n_fusion=2).eval()
        xs = {m: x.clone().requires_grad_(True) for m, x in feats.items()}
        score = model(xs, mask).score
        score.sum().backward()
        inputs = [xs[m].grad for m in dims if xs[m].grad is not None]  # RGB and flow are detached (official)
        return [score.detach()] + [p.grad.clone() for p in model.parameters() if p.grad is not None], inputs

    check = pamfn._check_inputs
    (new, new_inputs), (old, old_inputs) = step(check), step(_pamfn_zeroing_always)
    assert new_inputs and len(new) == len(old) and len(new_inputs) == len(old_inputs)
    assert all(torch.equal(a, c) for a, c in zip(new + new_inputs, old + old_inputs, strict=True))
    model = create_model("pamfn", in_dims=dims, d_model=8, hidden_dim=8, n_fusion=2)
    xs, _ = check(model, feats, mask)
    for m, x in feats.items():
        if padded:  # zeroed where padded, the inputs elsewhere
            assert torch.equal(xs[m], x.masked_fill(~mask[:, :, None], 0.0)) and not torch.equal(xs[m], x)
        else:  # handed on as they are: no copy
            assert xs[m] is x
