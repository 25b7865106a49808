"""Drop-DTW (VATP-Net Eq. 7): the exact DP on hand-made cases and against brute-force enumeration of every
valid alignment, the properties of its labels, the soft DP's limit, hand-computed values and gradients,
batching and masks against per-item calls, the cost construction from features, and the input errors."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from aqa_lib.drop_dtw import DropDTWResult, alignment_costs, drop_dtw, match_matrix, soft_drop_dtw


def _t(rows) -> torch.Tensor:
    return torch.tensor(rows, dtype=torch.float64)


def _valid_labelings(k: int, n: int, contiguous: bool) -> torch.Tensor:
    """Every valid alignment of k steps to n clips as labels [V, n] (−1 = dropped), by enumeration."""
    valid = []
    for labels in itertools.product(range(-1, k), repeat=n):
        kept = [(j, s) for j, s in enumerate(labels) if s >= 0]
        steps = [s for _, s in kept]
        if sorted(set(steps)) != list(range(k)) or steps != sorted(steps):
            continue
        if contiguous:
            runs = [[j for j, s in kept if s == i] for i in range(k)]
            if any(r[-1] - r[0] + 1 != len(r) for r in runs):
                continue
        valid.append(labels)
    return torch.tensor(valid, dtype=torch.long)


def _labels_cost(cost: torch.Tensor, drop: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Total cost of labelings: cost [B, K, N], drop [B, N], labels [B, V, N] -> [B, V]."""
    matched = cost.gather(1, labels.clamp(min=0))  # [B, V, N]: cost[b, labels[b, v, j], j]
    return torch.where(labels >= 0, matched, drop[:, None, :]).sum(dim=2)


def _assert_valid(labels: torch.Tensor, k: int, contiguous: bool) -> None:
    """Every step gets a clip, matched steps are in order, and (contiguous) each step's clips are one run."""
    for row in labels.tolist():
        kept = [(j, s) for j, s in enumerate(row) if s >= 0]
        steps = [s for _, s in kept]
        assert sorted(set(steps)) == list(range(k)), row
        assert steps == sorted(steps), row
        if contiguous:
            for i in range(k):
                at = [j for j, s in kept if s == i]
                assert at[-1] - at[0] + 1 == len(at), row


# ------------------------------------------------------------------------------------------------------------
# Exact DP: hand-made cases
# ------------------------------------------------------------------------------------------------------------

def test_hand_made_alignment_without_drops():
    # step 0 fits clips 0-1, step 1 clip 2, step 2 clips 3-5; drops are dear
    cost = _t([[0, 0, 7, 7, 7, 7], [7, 7, 0, 7, 7, 7], [7, 7, 7, 0, 0, 0]])
    r = drop_dtw(cost, torch.full((6,), 5.0, dtype=torch.float64))
    assert isinstance(r, DropDTWResult)
    assert r.labels.tolist() == [0, 0, 1, 2, 2, 2]
    assert r.cost.item() == 0.0
    assert r.match.tolist() == [[1, 1, 0, 0, 0, 0], [0, 0, 1, 0, 0, 0], [0, 0, 0, 1, 1, 1]]


def test_outlier_clip_with_cheap_drop_is_dropped():
    cost = _t([[0, 0, 9, 5, 5], [5, 5, 9, 0, 0]])
    r = drop_dtw(cost, _t([3, 3, 1, 3, 3]))
    assert r.labels.tolist() == [0, 0, -1, 1, 1]
    assert r.cost.item() == 1.0
    assert r.match[:, 2].tolist() == [0, 0]


def test_clip_with_dear_drop_is_matched():
    # same outlier, but dropping it costs 20: the cheaper step (1, cost 8) takes it
    cost = _t([[0, 0, 9, 5, 5], [5, 5, 8, 0, 0]])
    r = drop_dtw(cost, _t([3, 3, 20, 3, 3]))
    assert r.labels.tolist() == [0, 0, 1, 1, 1]
    assert r.cost.item() == 8.0


def test_drops_before_and_after_the_runs():
    r = drop_dtw(_t([[9, 0, 0, 9]]), _t([1, 9, 9, 2]))
    assert r.labels.tolist() == [-1, 0, 0, -1]
    assert r.cost.item() == 3.0


def test_ties_are_broken_as_documented():
    # matching or dropping clip 1 both cost 1: the match state wins at the end
    assert drop_dtw(_t([[0, 1]]), _t([1, 1])).labels.tolist() == [0, 0]
    # clip 1 fits both steps (cost 0): the diagonal predecessor wins, so step 0 keeps it
    assert drop_dtw(_t([[0, 0, 9], [9, 0, 0]]), _t([9, 9, 9])).labels.tolist() == [0, 0, 1]


def test_every_step_gets_a_clip_even_when_matching_is_dear():
    # two steps, both expensive everywhere, cheap drops: still one clip per step (cost 10 + 10 + 0)
    r = drop_dtw(_t([[10, 10, 10], [10, 10, 10]]), _t([0, 0, 0]))
    assert (r.labels >= 0).sum().item() == 2
    assert r.cost.item() == 20.0


def test_non_contiguous_option_lets_a_drop_interrupt_a_run():
    cost, drop = _t([[0, 9, 0]]), _t([9, 1, 9])
    contiguous = drop_dtw(cost, drop)
    assert contiguous.labels.tolist() == [0, 0, 0] and contiguous.cost.item() == 9.0
    free = drop_dtw(cost, drop, contiguous=False)
    assert free.labels.tolist() == [0, -1, 0] and free.cost.item() == 1.0


def test_steps_stay_in_order_even_when_reversed_costs_would_be_cheaper():
    # clips 0-1 look like steps 1 then 0; in order, the best is step 0 on clip 1 (0), step 1 on clip 2 (5) and
    # clips 0 and 3 dropped (8): 13
    cost = _t([[5, 0, 5, 5], [0, 5, 5, 6]])
    r = drop_dtw(cost, _t([4, 4, 4, 4]))
    _assert_valid(r.labels[None], 2, True)
    brute = _labels_cost(cost[None], _t([[4, 4, 4, 4]]), _valid_labelings(2, 4, True)[None]).min()
    # (a swap, step 1 on clip 0 and step 0 on clip 1, would cost 0 + 0 + 8)
    assert r.cost.item() == brute.item() == 13.0
    assert r.labels.tolist() == [-1, 0, 1, -1]


# ------------------------------------------------------------------------------------------------------------
# Exact DP: properties and brute force
# ------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("contiguous", [True, False])
def test_labels_cover_every_step_in_order(contiguous):
    g = torch.Generator().manual_seed(1)
    cost = torch.rand(64, 4, 12, generator=g, dtype=torch.float64)
    drop = torch.rand(64, 12, generator=g, dtype=torch.float64) * 0.6
    r = drop_dtw(cost, drop, contiguous=contiguous)
    _assert_valid(r.labels, 4, contiguous)
    assert (r.labels == -1).any(), "the drop costs were chosen so that some clips are dropped"
    assert torch.equal(r.match.sum(dim=1), (r.labels >= 0).double())  # a clip matches at most one step
    assert torch.allclose(_labels_cost(cost, drop, r.labels[:, None])[:, 0], r.cost)


@pytest.mark.parametrize("contiguous", [True, False])
def test_exact_cost_equals_brute_force_minimum(contiguous):
    """Every (K, N) with K <= 3, K <= N <= 6, 40 random cases each: the DP's cost is the minimum over all valid
    alignments, and its labels are one of them with exactly that cost."""
    g = torch.Generator().manual_seed(2)
    for k in range(1, 4):
        for n in range(k, 7):
            cost = torch.rand(40, k, n, generator=g, dtype=torch.float64)
            drop = torch.rand(40, n, generator=g, dtype=torch.float64) * 0.7
            valid = _valid_labelings(k, n, contiguous)
            best = _labels_cost(cost, drop, valid.expand(40, -1, -1)).min(dim=1).values
            r = drop_dtw(cost, drop, contiguous=contiguous)
            assert torch.allclose(r.cost, best), (k, n)
            assert (r.labels[:, None, :] == valid[None]).all(dim=2).any(dim=1).all(), (k, n)
            assert torch.allclose(_labels_cost(cost, drop, r.labels[:, None])[:, 0], best), (k, n)


def test_non_contiguous_is_never_dearer_and_sometimes_cheaper():
    g = torch.Generator().manual_seed(3)
    cost = torch.rand(200, 3, 8, generator=g, dtype=torch.float64)
    drop = torch.rand(200, 8, generator=g, dtype=torch.float64) * 0.5
    strict, free = drop_dtw(cost, drop).cost, drop_dtw(cost, drop, contiguous=False).cost
    assert (free <= strict + 1e-12).all()
    assert (free < strict - 1e-9).any()


def test_exact_result_has_no_gradient():
    cost = torch.rand(2, 3, 5, requires_grad=True)
    r = drop_dtw(cost, torch.rand(2, 5, requires_grad=True))
    assert not (r.cost.requires_grad or r.match.requires_grad)
    assert r.labels.dtype == torch.long and r.match.dtype == torch.float32


# ------------------------------------------------------------------------------------------------------------
# Soft DP
# ------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("softmin", ["mean", "logsumexp"])
def test_soft_value_on_a_hand_computed_case(softmin):
    """K = 1, N = 2 at γ = 1, unrolled by hand: A[1,1] = C11 (the drop of clip 1 at row 1 is impossible);
    Dp[1,2] = C12 + smin(A[0,1] = d1, Dp[1,1] = C11); A[1,2] = smin(C11 + d2, Dp[1,2]); result A[1,2] / 2."""
    c11, c12, d1, d2 = 0.5, 0.2, 0.3, 0.9

    def smin(a, b):
        if softmin == "mean":
            wa, wb = math.exp(-a), math.exp(-b)
            return (wa * a + wb * b) / (wa + wb)
        return -math.log(math.exp(-a) + math.exp(-b))

    expected = smin(c11 + d2, c12 + smin(d1, c11)) / 2
    got = soft_drop_dtw(_t([[c11, c12]]), _t([d1, d2]), softmin=softmin)
    assert got.item() == pytest.approx(expected, rel=1e-12)


def _soft_reference(cost, drop, gamma, softmin, contiguous):
    """The soft recurrences of the module docstring, one cell at a time with lists of scalars (autograd)."""
    k, n = cost.shape
    impossible = torch.tensor(1e10, dtype=cost.dtype)

    def smin(*values):
        x = torch.stack(values)
        if softmin == "mean":
            return (torch.softmax(-x / gamma, dim=0) * x).sum()
        return -gamma * torch.logsumexp(-x / gamma, dim=0)

    overall = [[torch.zeros((), dtype=cost.dtype)] + [None] * n] + [[impossible] + [None] * n for _ in range(k)]
    matched = [[None] * (n + 1)] + [[impossible] + [None] * n for _ in range(k)]
    for j in range(1, n + 1):
        overall[0][j] = overall[0][j - 1] + drop[j - 1]
        for i in range(1, k + 1):
            previous = matched[i][j - 1] if contiguous else overall[i][j - 1]
            matched[i][j] = cost[i - 1, j - 1] + smin(overall[i - 1][j - 1], previous)
            overall[i][j] = smin(overall[i][j - 1] + drop[j - 1], matched[i][j])
    return overall[k][n] / n


@pytest.mark.parametrize("softmin", ["mean", "logsumexp"])
@pytest.mark.parametrize("contiguous", [True, False])
def test_soft_value_and_gradient_equal_a_cell_by_cell_reference(softmin, contiguous):
    g = torch.Generator().manual_seed(17)
    for k, n in ((1, 1), (1, 4), (2, 2), (2, 5), (3, 6), (4, 5)):
        cost = torch.rand(k, n, generator=g, dtype=torch.float64, requires_grad=True)
        drop = torch.rand(n, generator=g, dtype=torch.float64, requires_grad=True)
        expected = _soft_reference(cost, drop, 0.7, softmin, contiguous)
        want = torch.autograd.grad(expected, (cost, drop))
        got = soft_drop_dtw(cost, drop, gamma=0.7, softmin=softmin, contiguous=contiguous)
        have = torch.autograd.grad(got, (cost, drop))
        assert got.item() == pytest.approx(expected.item(), abs=1e-12), (k, n)
        assert all(torch.allclose(a, b, atol=1e-12) for a, b in zip(have, want, strict=True)), (k, n)


@pytest.mark.parametrize("softmin", ["mean", "logsumexp"])
@pytest.mark.parametrize("contiguous", [True, False])
def test_soft_cost_tends_to_exact_cost_over_n(softmin, contiguous):
    g = torch.Generator().manual_seed(4)
    cost = torch.rand(30, 3, 7, generator=g, dtype=torch.float64)
    drop = torch.rand(30, 7, generator=g, dtype=torch.float64) * 0.6
    exact = drop_dtw(cost, drop, contiguous=contiguous).cost / 7
    errors = [(soft_drop_dtw(cost, drop, gamma=gamma, softmin=softmin, contiguous=contiguous) - exact).abs().max()
              for gamma in (1.0, 0.1, 1e-4)]
    assert errors[0] > 1e-2  # γ = 1 is really soft
    assert errors[2] < 1e-4
    assert errors[2] < errors[1] < errors[0]


@pytest.mark.parametrize("softmin", ["mean", "logsumexp"])
@pytest.mark.parametrize("contiguous", [True, False])
def test_soft_gradient_matches_numerical_gradient(softmin, contiguous):
    g = torch.Generator().manual_seed(5)
    cost = torch.rand(2, 3, 5, generator=g, dtype=torch.float64, requires_grad=True)
    drop = torch.rand(2, 5, generator=g, dtype=torch.float64, requires_grad=True)
    for gamma in (1.0, 0.3):
        assert torch.autograd.gradcheck(
            lambda c, d, gamma=gamma: soft_drop_dtw(c, d, gamma=gamma, softmin=softmin, contiguous=contiguous),
            (cost, drop))


def test_logsumexp_gradient_is_a_soft_assignment_of_every_clip():
    """With the log-sum-exp soft-min, N · ∂cost/∂C[i, j] is the probability that clip j is matched to step i and
    N · ∂cost/∂d[j] that it is dropped (a Gibbs distribution over alignments): they sum to 1 per clip, and at a
    small γ on a clear case they are the exact match matrix."""
    g = torch.Generator().manual_seed(6)
    cost = torch.rand(3, 4, 9, generator=g, dtype=torch.float64, requires_grad=True)
    drop = torch.rand(3, 9, generator=g, dtype=torch.float64, requires_grad=True)
    soft_drop_dtw(cost, drop, softmin="logsumexp").sum().backward()
    per_clip = (cost.grad.sum(dim=1) + drop.grad) * 9
    assert torch.allclose(per_clip, torch.ones_like(per_clip))
    assert (cost.grad >= 0).all() and (drop.grad >= 0).all()

    clear = _t([[0, 0, 9, 5, 5], [5, 5, 9, 0, 0]]).requires_grad_()
    clear_drop = _t([3, 3, 1, 3, 3]).requires_grad_()
    soft_drop_dtw(clear, clear_drop, gamma=0.01, softmin="logsumexp").backward()
    assert torch.allclose(clear.grad * 5, drop_dtw(clear, clear_drop).match, atol=1e-6)
    assert torch.allclose(clear_drop.grad * 5, _t([0, 0, 1, 0, 0]), atol=1e-6)


def test_soft_repeats_each_clip_in_place_when_steps_outnumber_clips():
    g = torch.Generator().manual_seed(7)
    cost = torch.rand(5, 3, generator=g, dtype=torch.float64)  # K = 5 > N = 3: each clip twice (r = 2)
    drop = torch.rand(3, generator=g, dtype=torch.float64)
    got = soft_drop_dtw(cost, drop)
    in_place = soft_drop_dtw(cost.repeat_interleave(2, dim=1), drop.repeat_interleave(2))
    tiled = soft_drop_dtw(cost.repeat(1, 2), drop.repeat(2))
    assert torch.allclose(got, in_place)  # divided by the repeated N = 6, as the official code does
    assert not torch.allclose(got, tiled)
    square = torch.rand(4, 4, generator=g, dtype=torch.float64)  # K = N: nothing repeated
    assert torch.allclose(soft_drop_dtw(square, drop[:1].repeat(4)),
                          soft_drop_dtw(square.repeat_interleave(1, dim=1), drop[:1].repeat(4)))


def test_soft_is_float32_under_bf16_autocast():
    g = torch.Generator().manual_seed(8)
    cost, drop = torch.rand(2, 3, 6, generator=g), torch.rand(2, 6, generator=g)
    reference = soft_drop_dtw(cost, drop)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        got = soft_drop_dtw(cost, drop)
    assert got.dtype == torch.float32 and torch.allclose(got, reference)
    assert soft_drop_dtw(cost.bfloat16(), drop.bfloat16()).dtype == torch.float32


# ------------------------------------------------------------------------------------------------------------
# Batches, masks, unbatched input
# ------------------------------------------------------------------------------------------------------------

def test_batched_equals_per_item():
    g = torch.Generator().manual_seed(9)
    cost = torch.rand(6, 4, 10, generator=g, dtype=torch.float64, requires_grad=True)
    drop = torch.rand(6, 10, generator=g, dtype=torch.float64, requires_grad=True)
    batched = drop_dtw(cost, drop)
    soft = soft_drop_dtw(cost, drop)
    soft.sum().backward()
    grads = cost.grad.clone(), drop.grad.clone()
    for b in range(6):
        one = drop_dtw(cost[b], drop[b])
        assert torch.equal(one.labels, batched.labels[b]) and torch.equal(one.match, batched.match[b])
        assert one.cost.item() == pytest.approx(batched.cost[b].item(), abs=1e-12)
        c, d = cost[b].detach().clone().requires_grad_(), drop[b].detach().clone().requires_grad_()
        s = soft_drop_dtw(c, d)
        s.backward()
        assert s.item() == pytest.approx(soft[b].item(), abs=1e-12)
        assert torch.allclose(c.grad, grads[0][b]) and torch.allclose(d.grad, grads[1][b])


def test_unbatched_inputs_give_unbatched_outputs():
    cost, drop = torch.rand(3, 7), torch.rand(7)
    r = drop_dtw(cost, drop)
    assert r.cost.shape == () and r.labels.shape == (7,) and r.match.shape == (3, 7)
    assert soft_drop_dtw(cost, drop).shape == ()
    c, d = alignment_costs(torch.randn(3, 8), torch.randn(7, 8))
    assert c.shape == (3, 7) and d.shape == (7,)
    assert match_matrix(torch.randn(3, 8), torch.randn(7, 8)).shape == (3, 7)
    assert drop_dtw(cost, drop, step_mask=torch.tensor([True, True, False])).match[2].sum() == 0


def _padded_case(seed: int):
    """Items of different real sizes, padded with NaN into one batch, with masks that have holes."""
    g = torch.Generator().manual_seed(seed)
    sizes = [(3, 8), (2, 5), (4, 4), (1, 6), (5, 3)]  # the last has K > N (soft DP only)
    k_max, n_max = 6, 9
    cost = torch.full((len(sizes), k_max, n_max), math.nan, dtype=torch.float64)
    drop = torch.full((len(sizes), n_max), math.nan, dtype=torch.float64)
    step_mask = torch.zeros(len(sizes), k_max, dtype=torch.bool)
    clip_mask = torch.zeros(len(sizes), n_max, dtype=torch.bool)
    items = []
    for b, (k, n) in enumerate(sizes):
        rows = torch.randperm(k_max, generator=g)[:k].sort().values  # real entries anywhere, in order
        cols = torch.randperm(n_max, generator=g)[:n].sort().values
        c = torch.rand(k, n, generator=g, dtype=torch.float64)
        d = torch.rand(n, generator=g, dtype=torch.float64) * 0.6
        cost[b, rows[:, None], cols[None, :]] = c
        drop[b, cols] = d
        step_mask[b, rows], clip_mask[b, cols] = True, True
        items.append((rows, cols, c, d))
    return cost, drop, step_mask, clip_mask, items


def test_exact_with_masks_equals_unpadded_items():
    cost, drop, step_mask, clip_mask, items = _padded_case(10)
    keep = slice(0, 4)  # items with K <= N
    r = drop_dtw(cost[keep], drop[keep], step_mask=step_mask[keep], clip_mask=clip_mask[keep])
    for b, (rows, cols, c, d) in enumerate(items[:4]):
        one = drop_dtw(c, d)
        assert r.cost[b].item() == pytest.approx(one.cost.item(), abs=1e-12)
        expected = torch.full((cost.shape[2],), -1)
        expected[cols] = torch.where(one.labels >= 0, rows[one.labels.clamp(min=0)], -1)
        assert torch.equal(r.labels[b], expected)
        full = torch.zeros(cost.shape[1:], dtype=r.match.dtype)
        full[rows[:, None], cols[None, :]] = one.match
        assert torch.equal(r.match[b], full)


@pytest.mark.parametrize("softmin", ["mean", "logsumexp"])
def test_soft_with_masks_equals_unpadded_items(softmin):
    cost, drop, step_mask, clip_mask, items = _padded_case(11)
    cost.requires_grad_()
    drop.requires_grad_()
    got = soft_drop_dtw(cost, drop, softmin=softmin, step_mask=step_mask, clip_mask=clip_mask)
    got.sum().backward()
    assert torch.isfinite(got).all()
    assert (cost.grad[~(step_mask[:, :, None] & clip_mask[:, None, :])] == 0).all()
    assert (drop.grad[~clip_mask] == 0).all()
    for b, (rows, cols, c, d) in enumerate(items):
        c, d = c.clone().requires_grad_(), d.clone().requires_grad_()
        one = soft_drop_dtw(c, d, softmin=softmin)  # item 4 (K = 5 > N = 3) repeats its clips alone
        one.backward()
        assert got[b].item() == pytest.approx(one.item(), abs=1e-12)
        assert torch.allclose(cost.grad[b][rows[:, None], cols[None, :]], c.grad)
        assert torch.allclose(drop.grad[b][cols], d.grad)


def test_item_without_real_steps_drops_every_clip():
    cost, drop = torch.rand(2, 2, 4, dtype=torch.float64), torch.rand(2, 4, dtype=torch.float64)
    step_mask = torch.tensor([[True, True], [False, False]])
    r = drop_dtw(cost, drop, step_mask=step_mask)
    assert r.labels[1].tolist() == [-1] * 4 and r.cost[1].item() == pytest.approx(drop[1].sum().item())
    soft = soft_drop_dtw(cost, drop, step_mask=step_mask)
    assert soft[1].item() == pytest.approx(drop[1].sum().item() / 4)


# ------------------------------------------------------------------------------------------------------------
# Costs from features
# ------------------------------------------------------------------------------------------------------------

def test_alignment_costs_on_a_hand_made_case():
    steps = _t([[1, 0], [0, 1]])
    clips = _t([[2, 0], [1, 1], [0, 3]])
    c, d = alignment_costs(steps, clips, l2_normalise=False, gamma_xz=0.5)
    sim = _t([[2, 1, 0], [0, 1, 3]])
    baseline = 3.0  # 6 entries, k = max(1, int(0.3 * 6)) = 1: the largest similarity
    prob = torch.cat([sim, torch.full((1, 3), baseline, dtype=torch.float64)]).div(0.5).softmax(dim=0)
    assert torch.allclose(c, -(prob[:2] + 1e-5).log())
    assert torch.allclose(d, -(prob[2] + 1e-5).log())
    # a larger quantile takes a lower baseline: the 3rd largest (q = 0.5 -> k = 3) is 1
    _, d_half = alignment_costs(steps, clips, l2_normalise=False, gamma_xz=0.5, drop_quantile=0.5)
    prob = torch.cat([sim, torch.ones(1, 3, dtype=torch.float64)]).div(0.5).softmax(dim=0)
    assert torch.allclose(d_half, -(prob[2] + 1e-5).log())


def test_alignment_costs_default_temperature_follows_normalisation():
    g = torch.Generator().manual_seed(12)
    steps, clips = torch.randn(2, 3, 8, generator=g), torch.randn(2, 7, 8, generator=g)
    for l2, gamma in ((True, 0.1), (False, 10.0)):
        default = alignment_costs(steps, clips, l2_normalise=l2)
        explicit = alignment_costs(steps, clips, l2_normalise=l2, gamma_xz=gamma)
        assert all(torch.equal(a, b) for a, b in zip(default, explicit, strict=True))
    scaled = alignment_costs(steps * 5, clips * 0.5)  # cosine similarities: the scale does not matter
    assert torch.allclose(scaled[0], alignment_costs(steps, clips)[0], atol=1e-5)


def test_alignment_costs_baseline_is_detached():
    """The gradient equals that of the same formula with the baseline replaced by a constant."""
    g = torch.Generator().manual_seed(13)
    steps = torch.randn(3, 4, generator=g, dtype=torch.float64, requires_grad=True)
    clips = torch.randn(5, 4, generator=g, dtype=torch.float64, requires_grad=True)
    c, d = alignment_costs(steps, clips, l2_normalise=False, gamma_xz=2.0)
    (c.sum() + 2 * d.sum()).backward()
    got = steps.grad.clone(), clips.grad.clone()
    steps.grad = clips.grad = None
    sim = steps @ clips.T
    baseline = sim.detach().flatten().sort(descending=True).values[int(0.3 * 15) - 1]
    prob = torch.cat([sim, baseline.expand(1, 5)]).div(2.0).softmax(dim=0)
    (-(prob[:3] + 1e-5).log().sum() - 2 * (prob[3] + 1e-5).log().sum()).backward()
    assert torch.allclose(got[0], steps.grad) and torch.allclose(got[1], clips.grad)


def test_alignment_costs_with_masks_equal_unpadded_items():
    g = torch.Generator().manual_seed(14)
    steps = torch.randn(2, 4, 6, generator=g, dtype=torch.float64)
    clips = torch.randn(2, 9, 6, generator=g, dtype=torch.float64)
    step_mask = torch.tensor([[True, False, True, True], [True, True, False, False]])
    clip_mask = torch.ones(2, 9, dtype=torch.bool)
    clip_mask[0, [2, 7]] = False
    clip_mask[1, 5:] = False
    steps[~step_mask] = math.nan  # padding may hold anything
    clips[~clip_mask] = math.inf
    steps.requires_grad_()
    c, d = alignment_costs(steps, clips, step_mask=step_mask, clip_mask=clip_mask)
    c.sum().backward()
    assert torch.isfinite(steps.grad).all() and (steps.grad[~step_mask] == 0).all()
    for b in range(2):
        rows, cols = step_mask[b].nonzero()[:, 0], clip_mask[b].nonzero()[:, 0]
        one_c, one_d = alignment_costs(steps[b, rows].detach(), clips[b, cols])
        assert torch.allclose(c[b][rows[:, None], cols[None, :]], one_c)
        assert torch.allclose(d[b, cols], one_d)
        assert (c[b][~(step_mask[b][:, None] & clip_mask[b][None, :])] == 0).all()


def _crafted_features():
    """4 steps along e0..e3; 7 clips: e0, e0, e1, outlier, e2, e3, e3, the outlier −(e0+…+e3)/2 (cosine −0.5).
    28 similarities, k = ⌊0.3 · 28⌋ = 8 and only 6 are 1, so the drop baseline is 0: between a true match (1)
    and the outlier (−0.5)."""
    eye = torch.eye(5)
    steps = eye[:4]
    clips = torch.stack([eye[0], eye[0], eye[1], -eye[:4].sum(0) / 2, eye[2], eye[3], eye[3]])
    return steps, clips


def test_match_matrix_finds_the_crafted_alignment_and_drops_the_outlier():
    steps, clips = _crafted_features()
    expected_labels = [0, 0, 1, -1, 2, 3, 3]
    expected = torch.zeros(4, 7)
    for j, i in enumerate(expected_labels):
        if i >= 0:
            expected[i, j] = 1
    for gamma_xz in (30.0, 10.0, 0.1):
        assert torch.equal(match_matrix(steps, clips, gamma_xz=gamma_xz), expected), gamma_xz
    # batched, the second item without its last clip (padding): step 3 keeps clip 5 alone
    clip_mask = torch.tensor([[True] * 7, [True] * 6 + [False]])
    m = match_matrix(steps.expand(2, -1, -1), clips.expand(2, -1, -1), clip_mask=clip_mask)
    assert torch.equal(m[0], expected)
    assert torch.equal(m[1], torch.cat([expected[:, :6], torch.zeros(4, 1)], dim=1))


# ------------------------------------------------------------------------------------------------------------
# Errors
# ------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("call", "message"), [
    (lambda: drop_dtw(torch.rand(4, 3), torch.rand(3)), r"item 0 has K = 4 real steps but only N = 3.*K <= N"),
    (lambda: drop_dtw(torch.rand(2, 3, 5), torch.rand(2, 5), clip_mask=torch.tensor([[1] * 5, [1, 1, 0, 0, 0]])),
     r"item 1 has K = 3 real steps but only N = 2.*soft_drop_dtw"),
    (lambda: drop_dtw(torch.rand(5), torch.rand(5)), r"cost has shape \(5,\); expected \[B, K, N\]"),
    (lambda: drop_dtw(torch.rand(1, 2, 3, 4), torch.rand(4)), r"cost has shape \(1, 2, 3, 4\)"),
    (lambda: drop_dtw(torch.rand(2, 3, 5), torch.rand(5)), r"drop_cost has shape \(5,\).*expected \[2, 5\]"),
    (lambda: drop_dtw(torch.rand(3, 5), torch.rand(3)), r"drop_cost has shape \(3,\).*one drop cost per clip"),
    (lambda: drop_dtw(_t([[0, math.nan, 1]]), torch.rand(3)), r"cost has 1 NaN or infinite.*index \(0, 1\)"),
    (lambda: soft_drop_dtw(_t([[0, 1, 1]]), _t([0, math.inf, 1])), r"drop_cost has 1 NaN or infinite"),
    (lambda: drop_dtw(torch.rand(2, 3, 5), torch.rand(2, 5), step_mask=torch.ones(3, dtype=torch.bool)),
     r"step_mask has shape \(3,\); expected \[2, 3\]"),
    (lambda: soft_drop_dtw(torch.rand(1, 2, 3), torch.rand(1, 3), clip_mask=torch.zeros(1, 3, dtype=torch.bool)),
     r"no real clip in item 0"),
    (lambda: soft_drop_dtw(torch.rand(2, 3), torch.rand(3), softmin="min"), r"softmin='min' is not one of"),
    (lambda: soft_drop_dtw(torch.rand(2, 3), torch.rand(3), gamma=0.0), r"gamma=0.0 must be .* > 0.*drop_dtw"),
    (lambda: alignment_costs(torch.rand(2, 3, 8), torch.rand(2, 5, 6)), r"do not match.*same B and feature size"),
    (lambda: alignment_costs(torch.rand(3, 8), torch.rand(2, 5, 8)), r"do not match"),
    (lambda: alignment_costs(torch.rand(8), torch.rand(5, 8)), r"steps has shape \(8,\)"),
    (lambda: alignment_costs(torch.rand(3, 8), torch.rand(5, 8), drop_quantile=0.0), r"drop_quantile=0.0"),
    (lambda: match_matrix(torch.rand(6, 8), torch.rand(5, 8)), r"K = 6 real steps but only N = 5"),
])
def test_bad_input_raises_a_clear_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_nan_in_padding_is_not_an_error():
    cost = _t([[[0, 2, math.nan]], [[3, 0, 2]]])
    drop = _t([[1, 1, math.nan], [1, 1, 1]])
    clip_mask = torch.tensor([[True, True, False], [True, True, True]])
    r = drop_dtw(cost, drop, clip_mask=clip_mask)
    assert r.labels.tolist() == [[0, -1, -1], [-1, 0, -1]] and r.cost.tolist() == [1.0, 2.0]
    assert torch.isfinite(soft_drop_dtw(cost, drop, clip_mask=clip_mask)).all()


@pytest.mark.parametrize("softmin", ["mean", "logsumexp"])
def test_soft_float32_agrees_with_float64(softmin):
    """The "impossible" value 1e10 must not leak rounding into real cells (float32 resolves 1e10 to ~1e3)."""
    g = torch.Generator().manual_seed(16)
    cost = torch.rand(4, 5, 12, generator=g, dtype=torch.float64, requires_grad=True)
    drop = torch.rand(4, 12, generator=g, dtype=torch.float64)
    reference = soft_drop_dtw(cost, drop, softmin=softmin, gamma=0.5)
    (grad64,) = torch.autograd.grad(reference.sum(), cost)
    c32 = cost.detach().float().requires_grad_()
    single = soft_drop_dtw(c32, drop.float(), softmin=softmin, gamma=0.5)
    (grad32,) = torch.autograd.grad(single.sum(), c32)
    assert single.dtype == torch.float32
    assert torch.allclose(single.double(), reference, atol=1e-5)
    assert torch.allclose(grad32.double(), grad64, atol=1e-5)
