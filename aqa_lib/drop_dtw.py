"""Drop-DTW: monotonic alignment of K steps to N clips that may drop clips (VATP-Net §III-D.1, Eq. 7).

VATP-Net (``vatp-net`` paper, §III-D.1 "Unsupervised Visual-Semantic Alignment") aligns its S visual
sub-action features with the semantic (text) embeddings by Drop-DTW and reads the optimal alignment as a 0/1
correspondence matrix ``M_vt = DD(F̄_v, F̄_t)`` (Eq. 7): 1 marks a positive pair and 0 a negative pair for the
InfoNCE losses of Eqs. 8–9. Drop-DTW is Dvornik et al., "Drop-DTW: Aligning Common Signal Between Sequences
While Dropping Outliers", NeurIPS 2021; the facts below that go beyond both papers' text come from its
official code, read for facts only (``shared/design/models.md``, section "VATP-Net"). Which sequence plays
the steps and which the clips is the model's choice: steps must not outnumber clips (see below).

Reading order: :class:`DropDTWResult`, :func:`drop_dtw` (exact), :func:`soft_drop_dtw` (differentiable),
:func:`alignment_costs` (the cost matrices from features), :func:`match_matrix` (Eq. 7 from features), then
the private helpers (input checks, padding, the two dynamic programmes).

The alignment (Drop-DTW's)
--------------------------
Costs: ``C[i, j]`` for matching clip j to step i (K × N) and ``d[j]`` for dropping clip j (N). Every clip is
either matched to exactly one step or dropped; every step gets at least one clip; the matched clips are in
step order; with ``contiguous=True`` (the default) each step's clips form one unbroken run, drops falling
only before, between or after the runs; with ``contiguous=False`` drops may also interrupt a run. Hence
K ≤ N. The total cost is ``Σ_matched C[i, j] + Σ_dropped d[j]``.

The dynamic programme keeps **two states per cell** (i = steps done, j = clips seen, 1-based; row 0 and
column 0 are the empty prefixes):

- ``D0[i, j]`` (match): the best cost of the first j clips with clip j matched to step i;
- ``D1[i, j]`` (drop): the best cost of the first j clips with steps 1..i used and clip j dropped.

::

    D0[0, 0] = D1[0, 0] = 0;   D0[i, 0] = D1[i, 0] = ∞ (i ≥ 1);   D0[0, j] = ∞;   D1[0, j] = d_1 + … + d_j
    D0[i, j] = C[i, j] + min(D0[i−1, j−1], D1[i−1, j−1], D0[i, j−1] [, D1[i, j−1] if not contiguous])
    D1[i, j] = d[j]    + min(D0[i, j−1], D1[i, j−1])
    cost     = min(D0[K, N], D1[K, N])

Backtracking from the better final state gives each clip's step (or "dropped"), hence the match matrix.

The **soft version** (Drop-DTW's training loss) mirrors it with three values per cell, overall ``A``,
dropped ``Dm`` and matched ``Dp``: ``Dp[i, j] = C[i, j] + smin(A[i−1, j−1], Dp[i, j−1])`` (or
``A[i, j−1]`` in place of ``Dp[i, j−1]`` when not contiguous), ``Dm[i, j] = d[j] + A[i, j−1]``,
``A[i, j] = smin(Dm[i, j], Dp[i, j])``, with ``A[0, j] = d_1 + … + d_j``; the loss is ``A[K, N] / N``.
Drop-DTW's default soft-min (its training default, used here by default) is the softmax-weighted **mean**
``smin(a) = Σ_k softmax(−a/γ)_k a_k``; the other is ``−γ log Σ_k exp(−a_k/γ)``. Both recover ``min`` as
γ → 0. When a video has more steps than clips (K > N) the official code repeats every clip column
``⌈K/N⌉`` times in place (``c1 c1 c2 c2 …``, with its drop cost) and divides by the repeated N; so does
:func:`soft_drop_dtw`. The exact :func:`drop_dtw` refuses K > N instead (a match matrix on repeated clips
would be ambiguous).

Costs from features (Drop-DTW's training construction, :func:`alignment_costs`): optional L2 normalisation;
similarities ``s = z xᵀ`` (steps × clips); the drop "baseline" ``b`` is the k-th largest similarity of the
item, ``k = max(1, ⌊0.3 · K · N⌋)``, detached; ``b`` is appended as an extra row and a softmax over the
K + 1 rows of ``[s; b] / γ_xz`` (per clip) gives match and drop probabilities;
``C = −log(P[steps] + 1e−5)`` and ``d = −log(P[drop] + 1e−5)``. ``γ_xz`` is 10 (0.1 on L2-normalised
features) for training; evaluation uses 30 and the exact DP on detached costs. (The official code also
lets repeated step ids share one row of the softmax; VATP-Net's queries and tokens carry no step ids, so
that is left out.) Note (ours): up to the 1e−5, ``C[i, j] = −s[i, j]/γ_xz + log Z_j`` and
``d[j] = −b/γ_xz + log Z_j`` with ``Z_j`` clip j's softmax normaliser, which every alignment pays exactly once
per clip (match or drop); so the *exact* alignment is that of the costs ``−s`` and ``−b``, and depends on
γ_xz only through the 1e−5.

What is ours
------------
- **Vectorisation.** Every transition advances exactly one clip (j−1 → j), so all K + 1 cells of a column
  depend only on the previous column: the DPs loop over the N columns and compute each column for the whole
  batch and all steps at once (N sequential steps; anti-diagonals would need K + N steps and gathers). The
  backtrack is one loop over columns, vectorised over the batch. The official code loops over cells.
- **Batches and masks.** ``cost`` ``[B, K, N]`` with ``drop_cost`` ``[B, N]``, or one item ``[K, N]`` with
  ``[N]`` whose outputs then have no batch dimension (PyTorch's unbatched-input convention). ``step_mask``
  ``[B, K]`` and ``clip_mask`` ``[B, N]`` (True = real) mark real entries anywhere, not only as a prefix:
  masked steps and clips are *removed* from the sequences before aligning (not dropped at a cost) and get
  label −1 / an all-zero row or column. The official code pads lists into a batch instead.
- **Ties.** Among equal-cost alignments the backtrack prefers the match state over the drop state, and
  for a match the predecessor in the previous row ("diagonal": the earlier step keeps the clips) over the
  one in the same row: the path is deterministic.
- **Speed.** The soft DP has a hand-written backward (:class:`_SoftTable`), faster than autograd through
  the loop (about 1.5× for forward + backward on one CPU thread at B = 32, K = 10, N = 103).
- **Numerics.** Everything runs in float32 (float64 stays float64) with autocast disabled. The soft DP
  runs on costs divided by γ (exactly equivalent) and uses ``1e10`` (in those units) for "impossible"
  (∞ would turn the mean soft-min's ``0 · ∞`` into NaN); its log-sum-exp soft-min is the exact one,
  without the official ``+1e−5`` inside the log.
- **Checks.** Bad shapes, NaN or infinite costs at real entries, K > N in the exact DP, bad γ or soft-min
  name all raise ``ValueError`` naming the problem and the fix.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.autograd.function import once_differentiable

__all__ = ["DropDTWResult", "alignment_costs", "drop_dtw", "match_matrix", "soft_drop_dtw"]

SOFTMINS = ("mean", "logsumexp")
# "Impossible" in the soft DP, in units of γ (the DP runs on costs / γ): far above any real alignment cost,
# yet finite so that the mean soft-min's weight on it is exactly 0 without producing 0 · ∞ = NaN in the
# gradient (ours; the official code uses ~1e10 in cost units).
_SOFT_INF = 1e10
_PROB_EPS = 1e-5  # Drop-DTW's ε in C = −log(P + ε)


@dataclass
class DropDTWResult:
    """The exact Drop-DTW alignment of a batch (shapes without ``B`` for unbatched input).

    Attributes:
        cost: ``[B]`` the optimal total cost ``Σ_matched C + Σ_dropped d`` (not divided by N).
        labels: ``[B, N]`` long: the step 0..K−1 each clip is matched to, −1 if dropped (or masked).
        match: ``[B, K, N]`` float 0/1: ``match[b, i, j] = 1`` iff clip j is matched to step i; this is
            ``M_vt`` of VATP-Net Eq. 7 (rows are the steps, columns the clips).
    """

    cost: Tensor
    labels: Tensor
    match: Tensor


# ------------------------------------------------------------------------------------------------------------
# Public API
# ------------------------------------------------------------------------------------------------------------

def drop_dtw(cost: Tensor, drop_cost: Tensor, *, contiguous: bool = True, step_mask: Tensor | None = None,
             clip_mask: Tensor | None = None) -> DropDTWResult:
    """Exact Drop-DTW (Dvornik et al. 2021; VATP-Net Eq. 7): the optimal alignment and its match matrix.

    Args:
        cost: ``[B, K, N]`` match costs, steps × clips (or ``[K, N]`` for one item).
        drop_cost: ``[B, N]`` drop costs of the clips (or ``[N]``).
        contiguous: each step's clips form one unbroken run (Drop-DTW's default); False lets drops interrupt
            a run (steps stay in order and each still gets at least one clip).
        step_mask: ``[B, K]`` bool, True = real step; masked steps are removed before aligning.
        clip_mask: ``[B, N]`` bool, True = real clip; masked clips are removed (label −1, never paid for).

    Returns a :class:`DropDTWResult`; every item needs at most as many real steps as real clips. Runs under
    ``torch.no_grad`` on detached inputs (use :func:`soft_drop_dtw` for a loss). Its ``cost`` and ``match``
    are float32 (float64 for float64 input).
    """
    with torch.no_grad():
        p = _prepare(cost.detach(), drop_cost.detach(), step_mask, clip_mask, caller="drop_dtw")
        too_long = p.n_steps > p.n_clips
        if bool(too_long.any()):
            b = int(too_long.nonzero()[0, 0])
            raise ValueError(
                f"drop_dtw: item {b} has K = {int(p.n_steps[b])} real steps but only N = {int(p.n_clips[b])} real "
                "clips; Drop-DTW gives every step at least one clip, so it needs K <= N for each item. Swap the "
                "roles (pass the longer sequence as the clips), use fewer steps, or use soft_drop_dtw, which "
                "repeats each clip ceil(K/N) times as the official code does.")
        total, labels = _exact_dp(p.cost, p.drop, p.n_steps, p.n_clips, contiguous=contiguous)
        labels = _restore_labels(labels, p)
        k = cost.shape[-2]
        steps = torch.arange(k, device=labels.device)
        match = (labels[:, None, :] == steps[None, :, None]).to(total.dtype)
        if p.unbatched:
            return DropDTWResult(total[0], labels[0], match[0])
        return DropDTWResult(total, labels, match)


def soft_drop_dtw(cost: Tensor, drop_cost: Tensor, *, gamma: float = 1.0, softmin: str = "mean",
                  contiguous: bool = True, step_mask: Tensor | None = None,
                  clip_mask: Tensor | None = None) -> Tensor:
    """Differentiable soft Drop-DTW cost divided by N (Drop-DTW's training loss; module docstring).

    Args:
        cost, drop_cost, contiguous, step_mask, clip_mask: as in :func:`drop_dtw`.
        gamma: soft-min temperature (> 0); as γ → 0 the soft cost tends to the exact cost / N.
        softmin: ``"mean"`` (softmax-weighted mean, Drop-DTW's training default) or ``"logsumexp"``
            (``−γ log Σ exp(−a/γ)``).

    Returns ``[B]`` (a scalar for unbatched input), each item's soft cost divided by its number of real clips.
    An item with more real steps than clips (K > N) has each clip repeated ``r = ⌈K/N⌉`` times in place,
    with its drop cost, and is divided by ``r · N`` (as in the official code). Gradients flow to ``cost`` and
    ``drop_cost`` (zero at masked entries).
    """
    if softmin not in SOFTMINS:
        raise ValueError(f"soft_drop_dtw: softmin={softmin!r} is not one of {SOFTMINS}; use 'mean' (Drop-DTW's "
                         "training default) or 'logsumexp'.")
    if not (isinstance(gamma, (int, float)) and math.isfinite(gamma) and gamma > 0):
        raise ValueError(f"soft_drop_dtw: gamma={gamma!r} must be a finite number > 0 (Drop-DTW trains with 1); "
                         "for the hard alignment (gamma -> 0) call drop_dtw.")
    with torch.autocast(device_type=cost.device.type, enabled=False):
        p = _prepare(cost, drop_cost, step_mask, clip_mask, caller="soft_drop_dtw")
        c, d, n_clips = _repeat_short(p.cost, p.drop, p.n_steps, p.n_clips)
        table = _soft_dp(c, d, gamma=float(gamma), softmin=softmin, contiguous=contiguous)  # [B, K+1, N+1]
        batch = torch.arange(c.shape[0], device=c.device)
        total = table[batch, p.n_steps, n_clips] / n_clips.to(table.dtype)
    return total[0] if p.unbatched else total


def alignment_costs(steps: Tensor, clips: Tensor, *, l2_normalise: bool = True, gamma_xz: float | None = None,
                    drop_quantile: float = 0.3, step_mask: Tensor | None = None,
                    clip_mask: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """Match and drop costs from features, Drop-DTW's training construction (module docstring).

    Args:
        steps: ``[B, K, D]`` step features (or ``[K, D]``).
        clips: ``[B, N, D]`` clip features (or ``[N, D]``).
        l2_normalise: L2-normalise both before the dot product (cosine similarities).
        gamma_xz: softmax temperature over the K steps plus the drop row; default 0.1 when
            ``l2_normalise`` and 10 otherwise (training); evaluation uses 30 (:func:`match_matrix`).
        drop_quantile: the drop baseline is the k-th largest similarity, ``k = max(1, ⌊q · K · N⌋)`` over the
            item's real entries (0.3 = "the top 30 %"); it is detached.
        step_mask, clip_mask: ``[B, K]`` / ``[B, N]`` bool, True = real. Masked steps are left out of the
            softmax and of the quantile, masked clips out of the quantile; masked entries of the outputs are 0.

    Returns ``(C, d)``: ``C = −log(P[steps] + 1e−5)`` ``[B, K, N]`` and ``d = −log(P[drop] + 1e−5)`` ``[B, N]``
    (``[K, N]`` and ``[N]`` for unbatched input), in float32 (float64 stays), differentiable in both inputs.
    """
    for name, x in (("steps", steps), ("clips", clips)):
        if not isinstance(x, Tensor) or x.ndim not in (2, 3):
            got = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
            raise ValueError(f"alignment_costs: {name} has shape {got}; expected [B, {name[0].upper()}, D] features "
                             f"(or [{name[0].upper()}, D] for one item).")
    if steps.ndim != clips.ndim or steps.shape[-1] != clips.shape[-1] or (
            steps.ndim == 3 and steps.shape[0] != clips.shape[0]):
        raise ValueError(f"alignment_costs: steps {tuple(steps.shape)} and clips {tuple(clips.shape)} do not match; "
                         "pass steps [B, K, D] with clips [B, N, D] (same B and feature size D), or [K, D] with "
                         "[N, D]. Project both to a common width first if their D differ.")
    if not 0 < drop_quantile <= 1:
        raise ValueError(f"alignment_costs: drop_quantile={drop_quantile!r} must be in (0, 1] (Drop-DTW uses 0.3, "
                         "the top 30 % of similarities).")
    if gamma_xz is None:
        gamma_xz = 0.1 if l2_normalise else 10.0
    if not (math.isfinite(gamma_xz) and gamma_xz > 0):
        raise ValueError(f"alignment_costs: gamma_xz={gamma_xz!r} must be a finite number > 0 (10, or 0.1 on "
                         "L2-normalised features, for training; 30 for evaluation).")
    unbatched = steps.ndim == 2
    if unbatched:
        steps, clips = steps[None], clips[None]
    bsz, k, n = steps.shape[0], steps.shape[1], clips.shape[1]
    smask = _mask(step_mask, (bsz, k), unbatched, "step_mask", "alignment_costs", steps.device)
    cmask = _mask(clip_mask, (bsz, n), unbatched, "clip_mask", "alignment_costs", steps.device)
    dtype = torch.promote_types(torch.promote_types(steps.dtype, clips.dtype), torch.float32)
    with torch.autocast(device_type=steps.device.type, enabled=False):
        # Zero padded features first so that NaN padding can reach neither the values nor the gradients.
        z = steps.to(dtype).masked_fill(~smask[:, :, None], 0.0)
        x = clips.to(dtype).masked_fill(~cmask[:, :, None], 0.0)
        if l2_normalise:
            z, x = F.normalize(z, dim=-1), F.normalize(x, dim=-1)
        sim = z @ x.transpose(1, 2)  # [B, K, N]
        real = smask[:, :, None] & cmask[:, None, :]
        # Drop baseline: the k-th largest real similarity of each item (float64 product: Python's int(q·K·N)).
        count = real.flatten(1).sum(dim=1)
        kth = torch.floor(count.to(torch.float64) * drop_quantile).long().clamp(min=1)
        ranked = sim.detach().masked_fill(~real, -math.inf).flatten(1).sort(dim=1, descending=True).values
        baseline = ranked.gather(1, (kth - 1).clamp(max=k * n - 1)[:, None])  # [B, 1]
        baseline = baseline.masked_fill(count[:, None] == 0, 0.0)  # an item without real steps drops everything
        logits = torch.cat([sim.masked_fill(~smask[:, :, None], -math.inf), baseline[:, :, None].expand(-1, 1, n)],
                           dim=1) / gamma_xz
        prob = logits.softmax(dim=1)  # over the K steps and the drop row, per clip
        c = (-(prob[:, :k] + _PROB_EPS).log()).masked_fill(~real, 0.0)
        d = (-(prob[:, k] + _PROB_EPS).log()).masked_fill(~cmask, 0.0)
    return (c[0], d[0]) if unbatched else (c, d)


def match_matrix(steps: Tensor, clips: Tensor, *, gamma_xz: float = 30.0, l2_normalise: bool = True,
                 drop_quantile: float = 0.3, contiguous: bool = True, step_mask: Tensor | None = None,
                 clip_mask: Tensor | None = None) -> Tensor:
    """``M_vt`` of VATP-Net Eq. 7 from features: exact Drop-DTW on detached :func:`alignment_costs`.

    ``gamma_xz`` defaults to 30, the evaluation temperature of Drop-DTW's code (module docstring: the exact
    alignment depends on it only through the 1e−5). With VATP-Net's S sub-action queries as the steps and
    the text tokens as the clips, this is ``M_vt`` ``[B, S, T_t]`` and text tokens may be dropped. Returns ``[B, K, N]`` float 0/1, steps × clips (``[K, N]`` unbatched),
    with no gradient. Needs K ≤ N real entries per item (see :func:`drop_dtw`).
    """
    with torch.no_grad():
        c, d = alignment_costs(steps.detach(), clips.detach(), l2_normalise=l2_normalise, gamma_xz=gamma_xz,
                               drop_quantile=drop_quantile, step_mask=step_mask, clip_mask=clip_mask)
        return drop_dtw(c, d, contiguous=contiguous, step_mask=step_mask, clip_mask=clip_mask).match


# ------------------------------------------------------------------------------------------------------------
# Input checks and padding
# ------------------------------------------------------------------------------------------------------------

@dataclass
class _Prepared:
    """Batched inputs with the real steps and clips moved to the front of each item (padding zeroed)."""

    cost: Tensor  # [B, K, N]
    drop: Tensor  # [B, N]
    n_steps: Tensor  # [B] long, real steps per item
    n_clips: Tensor  # [B] long, real clips per item
    step_order: Tensor | None  # [B, K]: original index of the step at each compacted position (None: identity)
    clip_order: Tensor | None  # [B, N]
    unbatched: bool


def _mask(mask: Tensor | None, shape: tuple[int, int], unbatched: bool, name: str, caller: str,
          device: torch.device) -> Tensor:
    """A ``[B, L]`` bool mask (all True when None); an unbatched mask ``[L]`` gains the batch dimension."""
    if mask is None:
        return torch.ones(shape, dtype=torch.bool, device=device)
    expected = shape[1:] if unbatched else shape
    if not isinstance(mask, Tensor) or tuple(mask.shape) != expected:
        got = tuple(mask.shape) if isinstance(mask, Tensor) else type(mask).__name__
        raise ValueError(f"{caller}: {name} has shape {got}; expected {list(expected)} (True = real entry), matching "
                         f"the costs. Pass {name}=None when every entry is real.")
    mask = mask.to(device=device).bool()
    return mask[None] if unbatched else mask


def _prepare(cost: Tensor, drop_cost: Tensor, step_mask: Tensor | None, clip_mask: Tensor | None, *,
             caller: str) -> _Prepared:
    """Check shapes and values, batch, compact masked entries away and zero the padding."""
    if not isinstance(cost, Tensor) or cost.ndim not in (2, 3):
        got = tuple(cost.shape) if isinstance(cost, Tensor) else type(cost).__name__
        raise ValueError(f"{caller}: cost has shape {got}; expected [B, K, N] (steps x clips) or [K, N] for one "
                         "item.")
    unbatched = cost.ndim == 2
    expected = cost.shape[-1:] if unbatched else (cost.shape[0], cost.shape[2])
    if not isinstance(drop_cost, Tensor) or tuple(drop_cost.shape) != tuple(expected):
        got = tuple(drop_cost.shape) if isinstance(drop_cost, Tensor) else type(drop_cost).__name__
        raise ValueError(f"{caller}: drop_cost has shape {got} but cost has shape {tuple(cost.shape)}; expected "
                         f"{list(expected)}, one drop cost per clip (the last axis of cost, which must be the clips)"
                         + (" and per batch item." if not unbatched else "."))
    if cost.shape[-1] == 0:
        raise ValueError(f"{caller}: cost has no clips (shape {tuple(cost.shape)}); every item needs at least one clip.")
    dtype = torch.promote_types(torch.promote_types(cost.dtype, drop_cost.dtype), torch.float32)
    c, d = cost.to(dtype), drop_cost.to(dtype)
    if unbatched:
        c, d = c[None], d[None]
    bsz, k, n = c.shape
    smask = _mask(step_mask, (bsz, k), unbatched, "step_mask", caller, c.device)
    cmask = _mask(clip_mask, (bsz, n), unbatched, "clip_mask", caller, c.device)
    n_clips = cmask.sum(dim=1)
    if bool((n_clips == 0).any()):
        b = int((n_clips == 0).nonzero()[0, 0])
        raise ValueError(f"{caller}: clip_mask marks no real clip in item {b}; every item needs at least one clip. "
                         "Leave empty items out of the batch.")
    real = smask[:, :, None] & cmask[:, None, :]
    for name, x, ok in (("cost", c, real), ("drop_cost", d, cmask)):
        bad = ~torch.isfinite(x) & ok
        if bool(bad.any()):
            where = tuple(int(v) for v in bad.nonzero()[0])
            raise ValueError(f"{caller}: {name} has {int(bad.sum())} NaN or infinite value(s) at real entries (first "
                             f"at index {where if not unbatched else where[1:]}); Drop-DTW needs finite costs. Find "
                             "where the features or costs became NaN/inf upstream, use a large finite cost to "
                             "forbid a match, or mark padding with step_mask/clip_mask.")
    step_order = clip_order = None
    if step_mask is not None:
        step_order = torch.argsort((~smask).to(torch.int8), dim=1, stable=True)  # real steps first, in order
        c = c.gather(1, step_order[:, :, None].expand(-1, -1, n))
    if clip_mask is not None:
        clip_order = torch.argsort((~cmask).to(torch.int8), dim=1, stable=True)
        c = c.gather(2, clip_order[:, None, :].expand(-1, k, -1))
        d = d.gather(1, clip_order)
    n_steps = smask.sum(dim=1)
    if step_mask is not None or clip_mask is not None:
        step_real = torch.arange(k, device=c.device)[None] < n_steps[:, None]
        clip_real = torch.arange(n, device=c.device)[None] < n_clips[:, None]
        c = c.masked_fill(~(step_real[:, :, None] & clip_real[:, None, :]), 0.0)
        d = d.masked_fill(~clip_real, 0.0)
    return _Prepared(c, d, n_steps, n_clips, step_order, clip_order, unbatched)


def _restore_labels(labels: Tensor, p: _Prepared) -> Tensor:
    """Labels on compacted sequences → labels on the caller's positions (masked clips −1)."""
    if p.step_order is not None:
        labels = torch.where(labels >= 0, p.step_order.gather(1, labels.clamp(min=0)), labels)
    if p.clip_order is not None:
        labels = torch.empty_like(labels).scatter_(1, p.clip_order, labels)
    return labels


def _repeat_short(cost: Tensor, drop: Tensor, n_steps: Tensor, n_clips: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Repeat each clip ``r_b = ⌈K_b/N_b⌉`` times in place for items with K_b > N_b (official code's rule)."""
    if not bool((n_steps > n_clips).any()):
        return cost, drop, n_clips
    reps = torch.where(n_steps > n_clips, (n_steps + n_clips - 1) // n_clips, torch.ones_like(n_clips))
    new_clips = reps * n_clips
    width = int(new_clips.max())
    pos = torch.arange(width, device=cost.device)[None]  # [1, N']
    source = (pos // reps[:, None]).clamp(max=cost.shape[2] - 1)  # [B, N']: clip j' comes from clip j'/r
    real = pos < new_clips[:, None]
    cost = cost.gather(2, source[:, None, :].expand(-1, cost.shape[1], -1)).masked_fill(~real[:, None, :], 0.0)
    drop = drop.gather(1, source).masked_fill(~real, 0.0)
    return cost, drop, new_clips


# ------------------------------------------------------------------------------------------------------------
# The dynamic programmes (column by column: column j depends on column j−1 only)
# ------------------------------------------------------------------------------------------------------------

def _columns(x: Tensor) -> tuple[Tensor, ...]:
    """``[B, R, N]`` → N contiguous ``[B, R]`` columns (the DP loops read one column per step)."""
    return x.permute(2, 0, 1).contiguous().unbind(0)


def _exact_dp(cost: Tensor, drop: Tensor, n_steps: Tensor, n_clips: Tensor, *,
              contiguous: bool) -> tuple[Tensor, Tensor]:
    """Exact two-state DP and backtrack on compacted ``[B, K, N]`` costs; returns (cost [B], labels [B, N]).

    The loop keeps ``D0`` (rows 1..K; row 0 is ∞) and ``best = min(D0, D1)`` (rows 0..K), which is all the
    recurrences read: ``D0[i, j] = C[i, j] + min(best[i−1, j−1], D0[i, j−1])`` (``best[i, j−1]`` when not
    contiguous) and ``best[i, j] = min(D0[i, j], best[i, j−1] + d[j])``; ``D1 < D0`` exactly where ``best < D0``.
    """
    bsz, k, n = cost.shape
    costs, drops = _columns(cost), _columns(drop[:, None, :])  # per clip: [B, K], [B, 1]
    dropped_only = _columns(drop.cumsum(dim=1)[:, None, :])  # best[0, j] = D1[0, j] = d_1 + … + d_j
    best = [torch.cat([cost.new_zeros(bsz, 1), cost.new_full((bsz, k), math.inf)], dim=1)]  # column 0
    match = [cost.new_full((bsz, k), math.inf)]  # D0 rows 1..K, column 0
    for j in range(n):
        b = best[-1]
        match.append(costs[j] + torch.minimum(b[:, :-1], match[-1] if contiguous else b[:, 1:]))
        best.append(torch.cat([dropped_only[j], torch.minimum(match[-1], b[:, 1:] + drops[j])], dim=1))
    best_tab = torch.stack(best, dim=2)  # [B, K+1, N+1]
    match_tab = torch.cat([torch.full_like(best_tab[:, :1], math.inf), torch.stack(match, dim=2)], dim=1)
    batch = torch.arange(bsz, device=cost.device)
    total = best_tab[batch, n_steps, n_clips]
    start = 2 * n_steps + (total < match_tab[batch, n_steps, n_clips]).long()  # the better end state (ties: match)
    return total, _backtrack(best_tab, match_tab, start, n_clips, contiguous=contiguous)


def _backtrack(best: Tensor, d0: Tensor, start: Tensor, n_clips: Tensor, *, contiguous: bool) -> Tensor:
    """Labels ``[B, N]`` of the optimal path, followed back from node ``start`` in each item's column N_b.

    ``best = min(D0, D1)`` and ``d0 = D0`` are ``[B, K+1, N+1]`` tables. Within a column, cell (row i, state s)
    is node ``2i + s`` (s = 0 match, 1 drop). First, for every cell at once, the node of its best predecessor
    in the previous column (the argmin of the DP's min); then one gather per column follows the pointers.
    Columns past an item's last clip point every node to itself.
    """
    bsz, rows, cols = d0.shape  # K + 1, N + 1
    prev_state = (best < d0)[:, :, :-1].long()  # [B, K+1, N]: state of min(D0, D1) one column back (ties: match)
    # A match at (i, j) comes from row i ("left", loses ties) or row i − 1 ("diagonal", best state there).
    from_left = (d0 if contiguous else best)[:, 1:, :-1] < best[:, :-1, :-1]  # [B, K, N] for rows 1..K
    left_state = torch.zeros_like(prev_state[:, 1:]) if contiguous else prev_state[:, 1:]
    row = torch.arange(rows, device=d0.device)[None, :, None]  # [1, K+1, 1]
    match_next = torch.where(from_left, 2 * row[:, 1:] + left_state, 2 * (row[:, 1:] - 1) + prev_state[:, :-1])
    match_next = torch.cat([torch.zeros_like(match_next[:, :1]), match_next], dim=1)  # row 0: never a match
    drop_next = 2 * row + prev_state  # a drop at (i, j) comes from the best state of row i
    next_node = torch.stack([match_next, drop_next], dim=2).reshape(bsz, 2 * rows, cols - 1)  # [B, nodes, N]
    past_end = torch.arange(cols - 1, device=d0.device)[None, None, :] >= n_clips[:, None, None]
    nodes = torch.arange(2 * rows, device=d0.device)[None, :, None]
    next_node = torch.where(past_end, nodes, next_node)

    node, visited, pointers = start[:, None], [], _columns(next_node)
    for j in range(cols - 2, -1, -1):  # clip j (0-based), last to first
        visited.append(node)
        node = pointers[j].gather(1, node)
    visited = torch.cat(visited[::-1], dim=1)  # [B, N]: the path's node at each clip
    real = torch.arange(cols - 1, device=d0.device)[None, :] < n_clips[:, None]
    return torch.where((visited % 2 == 0) & real, visited // 2 - 1, -1)


def _soft_dp(cost: Tensor, drop: Tensor, *, gamma: float, softmin: str, contiguous: bool) -> Tensor:
    """Soft Drop-DTW table of the overall value ``A`` ``[B, K+1, N+1]``, differentiable in cost and drop.

    The DP runs on costs divided by γ with γ = 1 and the table is multiplied back: both soft-mins satisfy
    ``smin_γ(a, b) = γ · smin_1(a/γ, b/γ)``, so the whole DP does. The log-sum-exp soft-min runs on negated
    values, ``−smin_1(a, b) = logaddexp(−a, −b)``. :class:`_SoftTable` does the DP and its gradient.
    """
    sign = -1.0 if softmin == "logsumexp" else 1.0
    table = _SoftTable.apply(cost * (sign / gamma), drop * (sign / gamma), softmin, contiguous)
    return table * (sign * gamma)


def _smin(a: Tensor, b: Tensor, softmin: str) -> Tensor:
    """Soft-min of two tensors at γ = 1: softmax-weighted mean, or (on negated values) ``logaddexp``.

    The mean is ``lerp(b, a, w)`` with ``w = σ(b − a)``, which lerp keeps exact when w is 0 or 1 (not
    ``b + w·(a − b)``: with b ≈ "impossible" and w = 1 that loses a's digits).
    """
    if softmin == "mean":
        return torch.lerp(b, a, torch.sigmoid(b - a))
    return torch.logaddexp(a, b)


def _smin_partials(a: Tensor, b: Tensor, softmin: str) -> tuple[Tensor, Tensor]:
    """``(∂smin/∂a, ∂smin/∂b)`` of :func:`_smin`.

    Mean: with ``w = σ(b − a)`` and ``1 − w = σ(a − b)``, ``∂/∂a = w · (1 − (a − b)(1 − w))`` and
    ``∂/∂b = (1 − w) · (1 + (a − b) w)``. Log-sum-exp (negated values): ``σ(a − b)`` and ``σ(b − a)``.
    """
    w, v = torch.sigmoid(b - a), torch.sigmoid(a - b)
    if softmin == "mean":
        diff = a - b
        return w * (1 - diff * v), v * (1 + diff * w)
    return v, w


class _SoftTable(torch.autograd.Function):
    """The soft DP (module docstring) at γ = 1 with a hand-written backward (ours, for speed).

    Forward, column by column, rows 1..K at once: ``Dp_j = c_j + smin(A_{j−1}[0..K−1], Dp_{j−1} or
    A_{j−1}[1..K])``, ``Dm_j = A_{j−1}[1..K] + d_j``, ``A_j[1..K] = smin(Dm_j, Dp_j)``, ``A_j[0] = d_1 + … + d_j``.
    Backward runs the same recursion in reverse (the adjoint): the gradient reaching ``A_j`` is split between
    ``Dm_j`` and ``Dp_j`` by the soft-min's partial derivatives, ``Dp_j``'s share goes to ``c_j`` and, split
    again, to ``A_{j−1}`` and ``Dp_{j−1}``; ``Dm_j``'s to ``d_j`` and ``A_{j−1}``. The partial derivatives of all
    cells are computed at once from the saved tables before the loop. The tests check it against finite
    differences and against autograd through a cell-by-cell implementation of the recurrences.
    """

    @staticmethod
    def forward(ctx, cost: Tensor, drop: Tensor, softmin: str, contiguous: bool) -> Tensor:
        bsz, k, n = cost.shape
        impossible = _SOFT_INF if softmin == "mean" else -_SOFT_INF
        costs, drops = _columns(cost), _columns(drop[:, None, :])  # per clip: [B, K], [B, 1]
        dropped_only = _columns(drop.cumsum(dim=1)[:, None, :])  # row 0: the first j clips all dropped
        overall = [torch.cat([cost.new_zeros(bsz, 1), cost.new_full((bsz, k), impossible)], dim=1)]  # A, col 0
        matched = [cost.new_full((bsz, k), impossible)]  # Dp rows 1..K, column 0
        for j in range(n):
            a = overall[-1]
            left = matched[-1] if contiguous else a[:, 1:]
            matched.append(costs[j] + _smin(a[:, :-1], left, softmin))
            overall.append(torch.cat([dropped_only[j], _smin(a[:, 1:] + drops[j], matched[-1], softmin)], dim=1))
        table, match_table = torch.stack(overall, dim=2), torch.stack(matched, dim=2)
        ctx.save_for_backward(drop, table, match_table)
        ctx.softmin, ctx.contiguous = softmin, contiguous
        return table

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_table: Tensor) -> tuple[Tensor, Tensor, None, None]:
        drop, table, match_table = ctx.saved_tensors
        softmin, contiguous = ctx.softmin, ctx.contiguous
        prev = table[:, :, :-1]  # A_{j−1} for j = 1..N: [B, K+1, N]
        # Partial derivatives of every cell's two soft-mins, [B, K, N] each.
        to_diag, to_left = _smin_partials(prev[:, :-1], match_table[:, :, :-1] if contiguous else prev[:, 1:], softmin)
        to_drop, to_match = _smin_partials(prev[:, 1:] + drop[:, None, :], match_table[:, :, 1:], softmin)
        columns = [_columns(x) for x in (grad_table[:, :, 1:], to_diag, to_left, to_drop, to_match)]
        grad_a, diag, left, via_drop, via_match = columns
        carry_a = torch.zeros_like(grad_a[0])  # gradient reaching A_j from column j + 1: [B, K+1]
        carry_match = torch.zeros_like(to_diag[:, :, 0])  # gradient reaching Dp_j from Dp_{j+1} (contiguous)
        grad_cost, grad_drop, grad_first = [], [], []
        for j in range(drop.shape[1] - 1, -1, -1):  # clip j (0-based), last to first
            g = grad_a[j] + carry_a
            g_match = g[:, 1:] * via_match[j] + carry_match
            g_drop = g[:, 1:] * via_drop[j]
            grad_cost.append(g_match)
            grad_drop.append(g_drop.sum(dim=1))
            grad_first.append(g[:, 0])  # A_j[0] = d_1 + … + d_j
            to_prev_rows = g_drop  # A_{j−1}[1..K]
            if contiguous:
                carry_match = g_match * left[j]
            else:
                to_prev_rows = to_prev_rows + g_match * left[j]
            carry_a = F.pad(g_match * diag[j], (0, 1)) + F.pad(to_prev_rows, (1, 0))
        grad_cost = torch.stack(grad_cost[::-1], dim=2)  # [B, K, N]
        first = torch.stack(grad_first, dim=1)  # [B, N], clips last to first: its cumsum sums over j' >= j
        grad_drop = torch.stack(grad_drop[::-1], dim=1) + first.cumsum(dim=1).flip(1)
        return grad_cost, grad_drop, None, None
