"""Attention centre and the attention-centre losses on hand-made cases, gradients, and what they enforce;
the centre's float32 precision under bf16 autocast; the losses need no model code."""

import math
import subprocess
import sys

import pytest
import torch

from aqa_lib import centres, losses
from aqa_lib.losses import consistency_loss, mse_loss, ranking_loss, sparsity_loss, temporal_infonce_loss
from aqa_lib.models import blocks
from aqa_lib.models.blocks import QueryDecoder, attention_center


def _one_hot_attn(T, positions):
    """[1, T, K] attention putting all weight of query k on 1-based segment positions[k]."""
    a = torch.zeros(1, T, len(positions))
    for k, p in enumerate(positions):
        a[0, p - 1, k] = 1.0
    return a


def test_attention_center_known_values():
    # query 0: all weight on t=3 -> 3; query 1: half on t=1, half on t=4 -> 2.5
    a = torch.zeros(1, 4, 2)
    a[0, 2, 0] = 1.0
    a[0, 0, 1] = a[0, 3, 1] = 0.5
    assert attention_center(a).tolist() == [[3.0, 2.5]]
    assert attention_center(a, normalise=True).tolist() == [[0.75, 0.625]]
    assert torch.allclose(attention_center(a, normalise=True, lengths=torch.tensor([5])), torch.tensor([[0.6, 0.5]]))


def test_attention_center_is_float32_under_bf16_autocast():
    """At T = 136 a bf16 weighted sum is off by a third of a segment; the centre disables autocast."""
    g = torch.Generator().manual_seed(0)
    attn = torch.randn(2, 136, 5, generator=g).mul(3).softmax(dim=1)
    lengths = torch.tensor([136, 120])
    reference = attention_center(attn)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        centre = attention_center(attn)
        normalised = attention_center(attn, normalise=True, lengths=lengths)
        t = torch.arange(1, 137, dtype=torch.float32)
        plain = torch.einsum("btk,t->bk", attn, t)  # the same sum without the guard: autocast runs it in bf16
    assert centre.dtype == normalised.dtype == torch.float32
    assert torch.allclose(centre, reference, atol=1e-4)
    assert torch.allclose(normalised, reference / lengths[:, None], atol=1e-6)
    # sanity reference: the naive bf16 computation is far off
    naive = torch.einsum("btk,t->bk", attn.bfloat16(), t.bfloat16()).float()
    assert (naive - reference).abs().max() > 0.05 and (plain.float() - reference).abs().max() > 0.05
    # bf16 attention maps still give float32 centres; float64 stays float64
    assert attention_center(attn.bfloat16()).dtype == torch.float32
    assert attention_center(attn.double()).dtype == torch.float64
    with pytest.raises(ValueError, match="\\[B, T, K\\]"):
        attention_center(attn[0])


def test_losses_depend_on_no_model_code():
    """The centre is one function, re-exported by the model blocks; importing the losses loads no model."""
    assert blocks.attention_center is losses.attention_center is centres.attention_center
    code = ("import sys, aqa_lib.losses; bad = [m for m in sys.modules if m.startswith('aqa_lib.models')]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_ranking_loss_ordered_vs_disordered():
    T, m = 20, 2.0
    ordered = torch.tensor([[4.0, 8.0, 12.0, 16.0]])
    assert ranking_loss(ordered, T, m).item() == 0.0  # gaps 4 >= m, 4 >= 1+m, 16 <= T-m
    swapped = torch.tensor([[4.0, 12.0, 8.0, 16.0]])
    # pairs: (4,12): 0; (12,8): 12-8+2 = 6; (8,16): 0 -> 6
    assert ranking_loss(swapped, T, m).item() == pytest.approx(6.0)
    edges = torch.tensor([[1.5, 8.0, 12.0, 19.5]])
    # first: 1+2-1.5 = 1.5 ; last: 19.5-20+2 = 1.5 -> 3
    assert ranking_loss(edges, T, m).item() == pytest.approx(3.0)
    # normalised scale
    assert ranking_loss(torch.tensor([[0.2, 0.5, 0.8]]), 1.0, 0.1, first_index=0.0).item() == 0.0


def test_sparsity_loss_zero_for_peaked_positive_for_spread():
    peaked = _one_hot_attn(10, [2, 5, 9])
    assert sparsity_loss(peaked).item() == 0.0
    spread = torch.zeros(1, 10, 1)
    spread[0, 0, 0] = spread[0, 9, 0] = 0.5  # centre 5.5; spread = 0.5*4.5 + 0.5*4.5 = 4.5
    assert sparsity_loss(spread).item() == pytest.approx(4.5)


def test_consistency_loss_identical_vs_different():
    c = torch.tensor([[3.0, 7.0]])
    assert consistency_loss({"rgb": c, "flow": c.clone(), "audio": c.clone()}).item() == 0.0
    d = torch.tensor([[4.0, 5.0]])
    # pairs rgb-flow (0), rgb-audio (1+4), flow-audio (1+4) -> 10
    assert consistency_loss({"rgb": c, "flow": c, "audio": d}).item() == pytest.approx(10.0)
    assert consistency_loss([c]).item() == 0.0


def test_mse_loss():
    assert mse_loss(torch.tensor([0.5, 0.1]), torch.tensor([0.3, 0.1])).item() == pytest.approx(0.02)


def test_gradients_flow_to_attention_logits():
    logits = torch.randn(2, 12, 3, requires_grad=True)
    attn = logits.softmax(dim=1)
    c = attention_center(attn)
    loss = ranking_loss(c, 12, 3.0) + sparsity_loss(attn, c) + consistency_loss([c, c.flip(0)])
    loss.backward()
    assert logits.grad is not None and torch.isfinite(logits.grad).all() and logits.grad.abs().sum() > 0


def _minimise(loss_fn, steps=300, T=24, K=4, lr=0.2):
    torch.manual_seed(0)
    logits = torch.randn(1, T, K, requires_grad=True)
    opt = torch.optim.Adam([logits], lr=lr)
    for _ in range(steps):
        opt.zero_grad()
        loss_fn(logits.softmax(dim=1)).backward()
        opt.step()
    return logits.detach().softmax(dim=1)


def test_minimising_ranking_orders_centres():
    T, m = 24, 3.0
    attn = _minimise(lambda a: ranking_loss(attention_center(a), T, m), T=T)
    c = attention_center(attn)[0]
    assert (c[1:] - c[:-1] >= m - 0.1).all() and c[0] >= 1 + m - 0.1 and c[-1] <= T - m + 0.1


def test_minimising_sparsity_concentrates_attention():
    before = torch.full((1, 24, 4), 1 / 24)
    attn = _minimise(lambda a: sparsity_loss(a))
    assert sparsity_loss(attn) < 0.1 * sparsity_loss(before)
    assert (attn.max(dim=1).values > 0.8).all()


def test_minimising_consistency_aligns_modalities():
    torch.manual_seed(1)
    la, lb = torch.randn(1, 24, 4, requires_grad=True), torch.randn(1, 24, 4, requires_grad=True)
    opt = torch.optim.Adam([la, lb], lr=0.2)
    start = consistency_loss([attention_center(la.softmax(1)), attention_center(lb.softmax(1))]).item()
    for _ in range(300):
        opt.zero_grad()
        consistency_loss([attention_center(la.softmax(1)), attention_center(lb.softmax(1))]).backward()
        opt.step()
    end = consistency_loss([attention_center(la.softmax(1)), attention_center(lb.softmax(1))]).item()
    assert end < 1e-3 * max(start, 1.0)


def test_query_decoder_shapes_masking_and_normalised_attention():
    torch.manual_seed(0)
    dec = QueryDecoder(in_dim=16, n_queries=3, d_model=8, d_ffn=8, n_layers=2, n_heads=2, dropout=0.0)
    x = torch.randn(2, 10, 16)
    mask = torch.ones(2, 10, dtype=torch.bool)
    mask[1, 6:] = False
    feats, maps = dec(x, mask)
    assert feats.shape == (2, 3, 8) and len(maps) == 2 and maps[0].shape == (2, 10, 3)
    for a in maps:
        assert torch.allclose(a.sum(dim=1), torch.ones(2, 3), atol=1e-5)
        assert a[1, 6:].abs().max() == 0  # padded segments get no attention
    # padding content must not change the result
    x2 = x.clone()
    x2[1, 6:] = 100.0
    feats2, _ = dec(x2, mask)
    assert torch.allclose(feats[1], feats2[1], atol=1e-5)


def test_query_decoder_tau_initialised():
    dec = QueryDecoder(in_dim=4, n_queries=2, d_model=8, d_ffn=8, n_heads=2)
    assert all(layer.tau.item() == pytest.approx(0.07) for layer in dec.layers)
    with pytest.raises(ValueError, match="at least one layer"):
        QueryDecoder(in_dim=4, n_layers=0)


def test_ranking_loss_per_video_margin_and_first_index():
    c = torch.tensor([[4.0, 8.0, 12.0, 16.0], [4.0, 12.0, 8.0, 16.0]])
    per_video = ranking_loss(c, torch.tensor([20.0, 20.0]), torch.tensor([2.0, 5.0]))
    each = [ranking_loss(c[i:i + 1], 20.0, m).item() for i, m in enumerate([2.0, 5.0])]
    assert per_video.item() == pytest.approx(sum(each) / 2)
    # first_index per video (normalised centres: the first segment is at 1/T_b)
    cn = torch.tensor([[0.1, 0.5], [0.1, 0.5]])
    loss = ranking_loss(cn, 1.0, 0.0, first_index=torch.tensor([0.05, 0.2]))
    assert loss.item() == pytest.approx((0.0 + 0.1) / 2)  # only video 2 starts before its first segment


def test_sparsity_loss_divided_by_real_length():
    spread = torch.zeros(2, 10, 1)
    spread[:, 0, 0] = spread[:, 9, 0] = 0.5  # spread 4.5 for both videos
    assert sparsity_loss(spread, lengths=torch.tensor([10, 5])).item() == pytest.approx((0.45 + 0.9) / 2)


def test_temporal_infonce_known_value_2x2():
    z = torch.tensor([[[1.0, 0.0], [0.0, 1.0]]])  # one video, two queries, orthogonal features
    # logits = identity / τ (τ = 1): CE of picking the diagonal = log(1 + e^-1) in both directions
    expected = math.log(1 + math.exp(-1))
    assert temporal_infonce_loss([z, z.clone()], temperature=1.0).item() == pytest.approx(expected, abs=1e-6)
    assert temporal_infonce_loss({"a": z, "b": 3 * z}, temperature=1.0).item() == pytest.approx(expected, abs=1e-6)
    swapped = z.flip(1)  # the other modality's queries in the wrong order: positives are now orthogonal
    assert temporal_infonce_loss([z, swapped], temperature=1.0).item() == pytest.approx(1 + expected, abs=1e-6)
    assert temporal_infonce_loss([z]).item() == 0.0


def test_temporal_infonce_aligned_lower_than_shuffled():
    torch.manual_seed(0)
    f = torch.randn(4, 5, 16)
    aligned = temporal_infonce_loss([f, f.clone(), f + 0.01 * torch.randn_like(f)])
    shuffled = temporal_infonce_loss([f, f[torch.randperm(4)][:, torch.randperm(5)], f.flip(0)])
    assert aligned < 0.1 * shuffled
    per_query = temporal_infonce_loss([f, f.clone()], negatives="same_query")
    assert per_query < temporal_infonce_loss([f, f.flip(0)], negatives="same_query")
    with pytest.raises(ValueError, match="negatives"):
        temporal_infonce_loss([f, f], negatives="videos")


def test_temporal_infonce_gradients_pull_modalities_together():
    torch.manual_seed(0)
    a = torch.randn(3, 4, 8, requires_grad=True)
    b = torch.randn(3, 4, 8, requires_grad=True)
    opt = torch.optim.Adam([a, b], lr=0.1)
    start = temporal_infonce_loss([a, b]).item()
    for _ in range(40):
        opt.zero_grad()
        temporal_infonce_loss([a, b]).backward()
        opt.step()
    assert temporal_infonce_loss([a, b]).item() < 0.2 * start


def test_hard_triplet_loss_hand_made():
    """MLAVL L_TL: A = (1, 0) and C = (1, 1) share label 0, B = (0, 1) has label 1; cosine distances
    d(A, B) = 1, d(A, C) = d(B, C) = 1 − 1/√2. Margin 1: A: d(A,C) − d(A,B) + 1 = 1 − 1/√2; B (no positive):
    0 − d(B,C) + 1 = 1/√2; C: d(C,A) − d(C,B) + 1 = 1 → mean 2/3. Margin 0.1: only C, 0.1 → 0.1/3."""
    from aqa_lib.losses import hard_triplet_loss

    x = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], requires_grad=True)
    labels = torch.tensor([0, 1, 0])
    loss = hard_triplet_loss(x, labels, margin=1.0)
    assert torch.allclose(loss, torch.tensor(2.0 / 3.0), atol=1e-6)
    assert torch.allclose(hard_triplet_loss(x * 7.0, labels, margin=0.1), torch.tensor(0.1 / 3.0), atol=1e-6)
    loss.backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    # a single label: no negatives, no loss
    assert hard_triplet_loss(x, torch.zeros(3, dtype=torch.long)).item() == 0.0


def test_query_triplet_loss_labels_are_query_indices():
    """Two videos with the same two orthogonal queries: positives at distance 0, negatives at 1, so the loss is
    max(0, 0 − 1 + δ): 0 for δ = 1, 0.5 for δ = 1.5. Swapping one video's queries makes both terms hard."""
    from aqa_lib.losses import query_triplet_loss

    q = torch.eye(2)[None].repeat(2, 1, 1)  # [B=2, K=2, D=2]
    assert query_triplet_loss(q, 1.0).item() == 0.0
    assert torch.allclose(query_triplet_loss(q, 1.5), torch.tensor(0.5))
    swapped = torch.stack([torch.eye(2), torch.eye(2).flip(0)])
    # every anchor: hardest positive at distance 1, hardest negative at 0 -> 1 − 0 + 1 = 2
    assert torch.allclose(query_triplet_loss(swapped, 1.0), torch.tensor(2.0))
    # a text set is passed as [1, K, D]: no positives, negatives at distance 1 -> 0 for δ = 1
    assert query_triplet_loss(torch.eye(3)[None], 1.0).item() == 0.0


def test_prompt_alignment_loss_hand_made():
    """MLAVL L_CE: grade features equal to their (orthogonal) texts give cosine logits [1, 0] / [0, 1] (no
    temperature); with smoothing 0.1 the loss is 0.9·log(1 + e⁻¹) + 0.1·mean(log(1 + e⁻¹), 1 + log(1 + e⁻¹))."""
    from aqa_lib.losses import prompt_alignment_loss

    texts = torch.eye(2)
    feats = (texts * 5.0)[None].repeat(3, 1, 1)  # cosine: the scale does not matter
    nll = math.log(1 + math.exp(-1))
    expected = 0.9 * nll + 0.1 * (nll + (1 + nll)) / 2
    assert torch.allclose(prompt_alignment_loss(feats, texts), torch.tensor(expected), atol=1e-6)
    assert torch.allclose(prompt_alignment_loss(feats, texts, label_smoothing=0.0), torch.tensor(nll), atol=1e-6)
    # swapped targets: each feature matches the other prompt -> larger loss
    assert prompt_alignment_loss(feats.flip(1), texts) > prompt_alignment_loss(feats, texts)
