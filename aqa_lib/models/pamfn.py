"""PAMFN: Progressive Adaptive Multimodal Fusion Network (the ``pamfn`` paper), in one file.

Reading order: the masked pooling helpers, :class:`ModalityBranch` (one modality alone, §III-B.1),
:class:`NegatedAttention` (the decoders' cross-attention, Eqs. 4 and 11), :class:`ModalityFeatureDecoder`
(MSFD, §III-C), :class:`AdaptiveFusion` (FusionNets + PolicyNet, §III-D, Eqs. 5–10),
:func:`gumbel_decision` and :func:`fusionnet_mask` (the straight-through decision and the ranked mask, Eq. 12),
:class:`CrossModalFeatureDecoder` (CMFD, §III-E), :class:`FusionStage`, :class:`PAMFN`, then the baselines and
the variants registered at the bottom (Tables IV–VIII, Fig. 6).

The model (paper §III, Fig. 1; exact shapes from the official code, ``shared/design/models.md``)
------------------------------------------------------------------------------------------------
1. **Modality-specific branches** (one per modality, §III-B.1). An embedding
   ``Conv1×1(D→512)-BN-ReLU-Conv1×1(512→d)-BN-ReLU-Dropout(0.3)``, then three 1D residual blocks
   ``x + GELU(BN(Conv3(GELU(BN(Conv3 x)))))``, with AvgPool(2) after blocks 1 and 2 and a global average
   pool after block 3. A branch therefore yields features at four lengths, ``T, T/2, T/4, 1`` (levels 0–3),
   and its own score ``sigmoid(Linear(Dropout(level 3)))`` (used when the branch is trained alone).
2. **Mixed-modality branch** (§III-B.2): a stream ``c`` that starts as zeros (3·d channels at length T/2)
   and goes through three fusion stages at lengths T/2, T/4 and 1. Stage i first refines ``c`` with a conv
   block ``Conv3-BN-ReLU-Conv3-BN-ReLU`` plus a ``Conv1-BN-ReLU`` shortcut, then appends
   - **MSFD** (§III-C, Eq. 4): at every time step, ``c`` (through a Conv1×1) queries the M modality features
     of level i+1 (M tokens, one per modality) with a one-head cross-attention whose scores are **negated**,
     ``softmax(−QKᵀ/√d)V``: the modality least similar to what ``c`` already holds gets the most weight.
   - **AFM** (§III-D): K **FusionNets**. Per modality, ``Conv-BN-ReLU-Conv(→K)`` gives K logits per time
     step; a softmax over the modalities gives, for each FusionNet k, a weighted sum of the modality features
     of level i (Eq. 5), refined by its own ``Conv3-BN-ReLU-Conv3-BN-ReLU`` with a residual and pooled to the
     stage's length (Eq. 6). The **PolicyNet** ``Conv1×1(M·d→K)`` on the concatenated level-i features,
     pooled the same way, gives K decision logits per time step; a hard straight-through Gumbel-softmax
     (Eqs. 9–10) with **one learnable temperature τ (initialised to 10) shared by the three stages** picks
     ``k*``; **ranked** FusionNets: FusionNets 0..k* are enabled, the others masked with −1e9 (Eq. 12).
   - **CMFD** (§III-E, Eq. 11): the **negated** ``Conv1×1([c; ŝ])`` queries the K cross-modal features with the
     same negated attention, plus the mask.
   The stage outputs ``[c; ŝ; f̂]`` (3·d channels), pooled (AvgPool(2) after stage 1, global after stage 2).
3. **Head**: ``Dropout(fc_drop)-Linear(3d→d/fc_r)-BN-ReLU-Dropout(0.5)-Linear(→1)-Sigmoid``; the loss is the
   MSE on labels normalised to [0, 1] (÷25 RG, ÷45 Fis-V: the datasets' ``norm``).
4. **Training** (§III-F, §IV-C) is in two stages: each branch alone (:class:`BranchModel`), then the full
   model with the RGB and flow branches frozen (audio stays trainable). How is the recipes' business (section
   "Training recipes" below, :data:`PAMFN_RECIPE` and :data:`STAGE1_RECIPE`, read by
   :func:`aqa_lib.experiments.config_for`); the builders' ``training`` argument says which scheme a variant
   needs, and through it which way gradients reach the branches (``branch_gradient``, next section).

What is the official code's, what the paper says, and what is ours
-------------------------------------------------------------------
Taken from the official code: every layer shape above; the negations (in MSFD the scores are negated; in
CMFD the query is negated *and* the scores are, as the code does both); the attention dropout 0.1 with no
output projection after the attention; dropout 0.5 on every branch feature before fusion (``feat_drop``);
``fc_drop = 0`` and ``fc_r = 2`` (both datasets' configs); the mask trick ``mask + y − stop_grad(y)`` of Eq. 12
(the gradient reaches the policy only through the attention logits); τ as a raw learnable scalar.

Corrected (flaws of the official code, ``models.md``):

- **Evaluation is deterministic**: no Gumbel noise in eval mode, the decision is ``argmax`` of the logits
  (the official code samples noise at test time too, so its scores change between calls).
- Frozen branches keep their BatchNorm statistics: the training engine puts frozen submodules in eval mode
  (the official code leaves them in train mode, so their running statistics drift in stage 2).
- The first stage's refinement of the zero stream ``c`` normalises, in eval mode, with the statistics its
  (video-independent) input has in training, recomputed for the current weights
  (:meth:`FusionStage.refine`): with the official running statistics a near-zero variance turns a small lag
  into saturated test predictions.

Ours (the paper and code are silent, or the code cannot run batched):

- **Padding.** The official code evaluates one video at a time; our engine batches whole test sequences of
  different lengths. Features at padded segments are zeroed after every layer (a Conv3 then sees zeros
  beyond the end, exactly like its own zero padding), AvgPool(2) keeps a pooled step only if both halves are
  real (PyTorch's floor for odd lengths), and global pooling averages real steps only. So in eval mode a
  video gets the same score alone or padded in a batch (tested). In train mode BatchNorm statistics include
  padded steps (as in the official code, which zero-pads short crops). A video needs at least 4 segments.
- τ is clamped to at least 0.01 where it is used (a raw parameter could in principle reach 0).
- ``branch_loss_weight = 0``: only the fused score is trained (§III-F); a positive weight adds each branch's
  own MSE (a switch for one-stage training, where the paper does not say).

Parameter counts (pinned in ``tests/test_pamfn.py``)
--------------------------------------------------
With RGB/flow 1024-d and audio 768-d, d = 256: one 1024-d branch 1,842,177, the 768-d branch 1,711,105; the
full model 22,714,493 at the official RG configuration (K = 10, fc_r = 2), 17,958,989 at the official Fis-V
configuration (K = 6, fc_r = 2) and 18,057,805 at K = 6, fc_r = 1 — the paper's "18.06 M" (Table I). All
equal the official model's counts. Two details make them equal: the official attention module defines a
LayerNorm it never uses (512 parameters, six of them: 3,072 in all), kept here as
:attr:`NegatedAttention.unused_norm` only for the count; and the official zero initial stream ``c`` is an
``nn.Parameter`` that the official count leaves out (``requires_grad=False``) — here it is not a parameter.

Variants (registered names; the paper's Tables IV–VIII and Fig. 6)
------------------------------------------------------------------
``create_model("pamfn", in_dims=...)`` is the full model (K = 6 by default; the run configuration sets
K = 10 for RG). ``pamfn/branch/{rgb,flow,audio}`` are the branches trained alone (stage 1; Table IV's
unimodal rows, also registered as ``pamfn/tableIV/{rgb,flow,audio}``). Ablations:

- ``pamfn/tableIV/weighted/<subset>``: Weighted Fusion baselines, trained in one stage;
  ``pamfn/tableIV/<subset>``: PAMFN on a modality subset, two-stage.
- ``pamfn/tableV/{one_stage,two_stage}/{avg,cat,weighted,attention,ours}``: fusion strategies × training.
- ``pamfn/tableVI/{no_cmfd,no_msfd,cmfd_weighted,msfd_weighted,both_weighted,full}``: the decoders.
- ``pamfn/tableVII/{unranked,free,ranked}``: the FusionNet decision.
- ``pamfn/tableVIII/{first,first_two,all}``: fusion in the first stage(s) only.
- ``pamfn/fig6/k1`` … ``pamfn/fig6/k12``: the number of FusionNets.

Table IV's ``variant`` labels ("RGB+Flow", ...) name both a Weighted Fusion row and a PAMFN row (its
``method`` column tells them apart), so both kinds of variant carry the same ``reported_method``.

**Table IV's Weighted Fusion is feature-level** (our reading): its RGB+Flow+Audio row equals Table V's
"one-stage / Weighted" row digit for digit (eight numbers), and Table V's baselines fuse "the outputs of the
last convolution block" with a two-FC regressor. So the Weighted Fusion baselines fuse the branches' pooled
last-block features with softmaxed learnable weights (``level="features"``); ``level="scores"`` gives the
other reading, a softmax-weighted average of the branches' own predictions.

Branch gradient: what Table V's one-stage rows need (``branch_gradient``)
-------------------------------------------------------------------------
The official forward pass detaches the RGB and flow branch features before the fusion
(``self.drop(_.detach())``; audio's are not detached), so no gradient reaches those two branches through the
fused score — whatever the run does. The official code only ever runs stage 2 (it loads the pretrained
branches), where this is what "fix the RGB and flow branches" (§III-F) means. Our engine freezes them through
the run configuration instead (``freeze``, which also keeps their BatchNorm statistics; module section
"Corrected"), so the model needs no detaching there. The switch is the builders' ``branch_gradient``:

- ``"official_detach"``: the RGB and flow branch features (every level, and their scores for
  ``level="scores"``) are detached before the fusion, as the official forward does; the audio branch still
  trains through the fusion.
- ``"end_to_end"``: nothing is detached; every branch trains through the fused score.
- ``None`` (the builders' default): the variant's training scheme decides — ``two_stage`` →
  ``"official_detach"``, ``one_stage`` → ``"end_to_end"`` (:data:`SCHEME_BRANCH_GRADIENT`). Overriding
  ``training=`` therefore switches the reading with it; pass ``branch_gradient`` as well for the other one.

Which reading each Table V row uses, and why:

- ``pamfn/tableV/two_stage/*`` (and every other two-stage row, Tables IV, VI–VIII, Fig. 6, ``pamfn``):
  ``"official_detach"``, the official forward. With the engine's freeze of the same two branches, the
  gradients are the same under either reading; the detach only makes the model say what the official one does.
- ``pamfn/tableV/one_stage/*`` (and Table IV's Weighted Fusion rows, trained in one stage): ``"end_to_end"``
  (our reading). The paper calls these "joint learning" baselines "trained in one stage" (§IV-E) and explains
  one-stage PAMFN's drop by "the modality-specific branches have difficulty extracting high-quality
  modality-specific information when trained in one stage" (§IV-F1): the branches *are* trained there, which
  the official detach would forbid (randomly initialised RGB and flow branches would never learn). The other
  reading is one keyword away: ``branch_gradient="official_detach"``.

Training recipes (§III-F, §IV-C; the official configs): :data:`STAGE1_RECIPE`, :data:`PAMFN_RECIPE`
------------------------------------------------------------------------------------------------------
Which scheme a variant needs is its ``training`` setting (overridable as a keyword, e.g.
``config_for("pamfn", ..., training="one_stage")``):

- ``branch`` (``pamfn/branch/<m>``, Table IV's unimodal rows; :data:`STAGE1_RECIPE`): **stage 1**, one branch
  and its head alone: SGD lr 1e-2, momentum 0.9, weight decay 1e-4, cosine to 5e-6 (``min_lr_ratio = 5e-4``),
  250 epochs, dropout 0.5, gradient-norm clip 2, batch 32, ``save_weights=True``. The table rows
  ``pamfn/tableIV/{rgb,flow,audio}`` are configured as the very same runs (model ``pamfn/branch/<m>``, the
  recipe's ``same_run_as``), so a Table IV sweep reuses the stage-1 runs of the two-stage models from the cache.
- ``two_stage`` (the paper's model and most ablations; :data:`PAMFN_RECIPE`): **stage 2**. ``init_from`` holds
  the stage-1 run configuration of every branch the variant uses (same data, seed, device and branch width:
  the recipe's :class:`~aqa_lib.recipes.Pretraining`), so the run's fingerprint covers them and each is trained
  once and cached; the RGB and flow branches are frozen (kept in eval mode by the engine), audio stays
  trainable; AdamW lr 5e-4 (RG) / 8e-4 (Fis-V), the regression head at 0.1× (``lr_multipliers={"head.": 0.1}``:
  the mixed head only, as the official ``reduce_fc_lr``), gradient clip 2, K = 10 (RG) / 6 (Fis-V), d = 256,
  batch 32; epochs Ball 400, Clubs 500, Hoop 300, Ribbon 500, TES 500, PCS 500 at ``paper`` scale.
- ``one_stage`` (Table IV's Weighted Fusion, Table V's one-stage rows): the stage-2 settings, but the branches
  start from random weights and nothing is frozen (our reading: the paper gives no optimiser for these), and
  every branch trains through the fusion (``branch_gradient="end_to_end"``, section "Branch gradient").

Training crops (70 RG / 130 Fis-V segments) are the datasets' ``train_window``; test uses whole sequences.

Settings taken from the official code where the paper is silent or differs (each a documented choice):

- Stage-2 weight decay 1e-2: the official config says 1e-4, but its code builds ``AdamW(params, lr)`` and so
  runs with PyTorch's default 1e-2.
- Stage-2 schedule: cosine to 5e-6 on RG (``min_lr_ratio = 0.01``) but a **constant** learning rate on Fis-V
  (the official Fis-V config has ``lr_scheduler: none``; the paper's text says cosine for both).
- Gradient clipping at norm 2 in both stages (``clip_grad: True`` in both official configs).
- The schedule is per step here (the engine's), per epoch in the official code (timm); the 0.1× head follows
  the same cosine scaled by 0.1 (timm would decay it to the same 5e-6 floor).
- Each seed trains its own stage-1 branches (seed-for-seed two-stage runs); the official code pretrains once.

Scales (the data scales of :mod:`aqa_lib.data.synthetic`; the optimiser settings above at every scale):

- ``smoke``: d = 16, embedding width 32, K = 2; 2 epochs per stage, batch 16 (seconds, checks only).
- ``quick``: d = 32, embedding width 64, K = 3; batch 32; RG 20 epochs stage 1 and 40 epochs stage 2, Fis-V
  (and the datasets that take its settings) 10 + 20 (ours, since 2026-12-03; 20 + 40 for every dataset
  before). Measured then, seed 0, one thread each beside one other run on the shared 2-core CPU: Fis-V TES
  papers / last test Spearman 0.634 / 0.463 in 173 s with 20 + 40 epochs (Fis-V's stage 2 keeps a constant
  learning rate and drifts down after epoch 10), 0.636 / 0.606 in 91 s with 10 + 20; RG Hoop 0.647 / 0.622
  with 20 + 40 but 0.530 / 0.530 with 10 + 20 (still rising at the last epoch of its cosine schedule), so RG
  keeps the longer schedule. MTL-AQA (VATP-Net's dataset) also keeps 20 + 40 (measured 2026-12-02, seed 0:
  10 + 20 peaks at 0.54 and ends at 0.49; 20 + 40 gives 0.668 / 0.632 in 37 s). Earlier measurements
  (generator v2, busy machine): the complete two-stage PAMFN (three branches, then the full model) took
  ≈ 80 s on the quick RG data of 100 training videos (since v3 it has all 200, about twice that); two
  threads were ~10× slower than one there.
- ``paper``: the paper's width (d = 256, embedding 512, K = 10 RG / 6 Fis-V) and epochs; meant for a GPU.

Other datasets (e.g. FS1000) get the Fis-V settings, except the quick MTL-AQA epochs above.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..losses import mse_loss
from ..recipes import ANY_DATASET, Optimiser, Pretraining, Recipe
from .base import ModelOutput, check_inputs, register

DECODERS = ("attention", "weighted", "none")
"""MSFD / CMFD kinds: the paper's negated cross-attention, Weighted Fusion instead (Table VI), or removed."""
POLICIES = ("ranked", "unranked", "free")
"""FusionNet decisions (Table VII): first k*+1 enabled (ours), only k* enabled, all enabled (no PolicyNet)."""
BASELINE_FUSIONS = ("avg", "cat", "weighted", "attention")
"""The fusion strategies of Table V's baselines."""
BASELINE_LEVELS = ("features", "scores")
TRAININGS = ("two_stage", "one_stage", "branch")
"""How a variant is trained (read by the recipes; the models see it only through ``branch_gradient``)."""
BRANCH_GRADIENTS = ("official_detach", "end_to_end")
"""How gradients reach the branches through the fusion (module docstring, "Branch gradient")."""
OFFICIAL_DETACHED = ("rgb", "flow")
"""The branches the official forward pass detaches before the fusion."""
SCHEME_BRANCH_GRADIENT = {"two_stage": "official_detach", "one_stage": "end_to_end"}
"""The branch gradient of each training scheme when ``branch_gradient`` is not given."""
MASK_VALUE = -1e9
"""Additive attention mask of a disabled FusionNet (the official value)."""
MIN_SEGMENTS = 4
"""Shortest video the three pooling levels accept (length T/4 must be at least 1)."""


def _check_option(name: str, value: Any, valid: Sequence[str]) -> None:
    if value not in valid:
        raise ValueError(f"Unknown {name}={value!r}; valid values: {', '.join(valid)}.")


# ---------------------------------------------------------------------------------------------------------
# Masked pooling: features are [B, C, T] (channels first, as Conv1d wants); masks [B, T], True = real step
# ---------------------------------------------------------------------------------------------------------


def _apply(x: Tensor, mask: Tensor) -> Tensor:
    """Zero the padded steps of ``x`` ``[B, C, T]``."""
    return x * mask[:, None, :].to(x.dtype)


def pool_mask(mask: Tensor) -> Tensor:
    """Mask after AvgPool(2): a pooled step is real only if both halves are (odd lengths drop the last step)."""
    half = mask.shape[1] // 2
    return mask[:, 0:2 * half:2] & mask[:, 1:2 * half:2]


def avg_pool(x: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
    """AvgPool1d(2, 2) of ``x`` ``[B, C, T]`` → ``[B, C, T // 2]`` and the pooled mask."""
    pooled = pool_mask(mask)
    return _apply(F.avg_pool1d(x, 2, 2), pooled), pooled


def global_pool(x: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
    """Mean over the real steps: ``[B, C, T]`` → ``[B, C, 1]`` and an all-True ``[B, 1]`` mask."""
    weights = mask[:, None, :].to(x.dtype)
    mean = (x * weights).sum(dim=2, keepdim=True) / weights.sum(dim=2, keepdim=True)
    return mean, mask.new_ones(mask.shape[0], 1)


def conv_bn_act(in_dim: int, out_dim: int, kernel: int, act: type[nn.Module]) -> nn.Sequential:
    """``Conv1d(kernel, same padding) → BatchNorm1d → activation`` on ``[B, C, T]``."""
    return nn.Sequential(nn.Conv1d(in_dim, out_dim, kernel, padding=kernel // 2), nn.BatchNorm1d(out_dim), act())


# ---------------------------------------------------------------------------------------------------------
# Modality-specific branch (§III-B.1)
# ---------------------------------------------------------------------------------------------------------


class ResidualBlock(nn.Module):
    """``x + GELU(BN(Conv3(GELU(BN(Conv3 x)))))`` on ``[B, d, T]`` (ResNet's block in 1D)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.conv1 = conv_bn_act(dim, dim, 3, nn.GELU)
        self.conv2 = conv_bn_act(dim, dim, 3, nn.GELU)

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        h = _apply(self.conv1(x), mask)
        return _apply(x + self.conv2(h), mask)


@dataclass
class BranchOutput:
    """A branch's score ``[B]``, its features at levels 0–3 (``[B, d, T_l]``) and their masks (``[B, T_l]``)."""

    score: Tensor
    features: list[Tensor]
    masks: list[Tensor]


class ModalityBranch(nn.Module):
    """One modality-specific branch: embedding, three residual stages with pooling, and its own head.

    Levels: 0 = the embedding (length T), 1 = after block 1 + AvgPool(2) (T/2), 2 = after block 2 +
    AvgPool(2) (T/4), 3 = after block 3 + global pooling (1). The head, ``Dropout(head_dropout) →
    Linear(d, 1) → Sigmoid`` on level 3, is the regression layer of the branch trained alone (stage 1).
    """

    def __init__(self, in_dim: int, *, d_model: int = 256, hidden_dim: int = 512, embed_dropout: float = 0.3,
                 head_dropout: float = 0.5) -> None:
        super().__init__()
        self.embed = nn.Sequential(
            nn.Conv1d(in_dim, hidden_dim, 1), nn.BatchNorm1d(hidden_dim), nn.ReLU(),
            nn.Conv1d(hidden_dim, d_model, 1), nn.BatchNorm1d(d_model), nn.ReLU(),
            nn.Dropout(embed_dropout),
        )
        self.blocks = nn.ModuleList(ResidualBlock(d_model) for _ in range(3))
        self.head = nn.Sequential(nn.Dropout(head_dropout), nn.Linear(d_model, 1), nn.Sigmoid())

    def forward(self, x: Tensor, mask: Tensor) -> BranchOutput:
        """``x`` ``[B, T, D]``, ``mask`` ``[B, T]`` → :class:`BranchOutput`."""
        x0 = _apply(self.embed(x.transpose(1, 2)), mask)
        x1, m1 = avg_pool(self.blocks[0](x0, mask), mask)
        x2, m2 = avg_pool(self.blocks[1](x1, m1), m1)
        x3, m3 = global_pool(self.blocks[2](x2, m2), m2)
        score = self.head(x3.squeeze(2)).squeeze(1)
        return BranchOutput(score, [x0, x1, x2, x3], [mask, m1, m2, m3])


# ---------------------------------------------------------------------------------------------------------
# The decoders' attention and the two decoders
# ---------------------------------------------------------------------------------------------------------


class NegatedAttention(nn.Module):
    """Cross-attention with negated scores: ``softmax(−QKᵀ/√d_h + mask) V`` (Eqs. 4 and 11).

    Q, K and V are linear projections (d → d) of the query and the tokens; ``n_heads`` heads of width
    ``d_h = d / n_heads``; dropout on the attention weights; no output projection (as the official code).
    Negating the scores gives the most weight to the token *least* similar to the query: "the unseen or
    neglected information in the mixed-modality branch".
    """

    def __init__(self, dim: int, n_heads: int = 1, dropout: float = 0.1) -> None:
        super().__init__()
        if n_heads < 1 or dim % n_heads:
            raise ValueError(f"n_heads={n_heads} must be a positive divisor of the model width {dim}.")
        self.n_heads = n_heads
        self.q_proj = nn.Linear(dim, dim)
        self.k_proj = nn.Linear(dim, dim)
        self.v_proj = nn.Linear(dim, dim)
        self.drop = nn.Dropout(dropout)
        # The official module defines this LayerNorm and never uses it; kept (unused, it gets no gradient)
        # only so that parameter counts equal the official ones (see the module docstring).
        self.unused_norm = nn.LayerNorm(dim)

    def forward(self, query: Tensor, tokens: Tensor, add_mask: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """``query`` ``[N, d]``, ``tokens`` ``[N, n, d]``, ``add_mask`` ``[N, n]`` (0 or −1e9) → the attended
        features ``[N, d]`` and the attention weights ``[N, n]`` (mean over heads, before dropout)."""
        n, n_tok, dim = tokens.shape
        h = self.n_heads
        q = self.q_proj(query).view(n, h, 1, dim // h)
        k = self.k_proj(tokens).view(n, n_tok, h, dim // h).transpose(1, 2)  # [N, h, n, d_h]
        v = self.v_proj(tokens).view(n, n_tok, h, dim // h).transpose(1, 2)
        scores = -(q @ k.transpose(-1, -2)) / math.sqrt(dim // h)  # [N, h, 1, n]: the negation
        if add_mask is not None:
            scores = scores + add_mask[:, None, None, :]
        attn = scores.softmax(dim=-1)
        out = (self.drop(attn) @ v).reshape(n, dim)
        return out, attn.mean(dim=1).squeeze(1)


def _per_step(x: Tensor) -> Tensor:
    """``[B, C, T]`` → ``[B·T, C]`` (one attention query per time step)."""
    return x.permute(0, 2, 1).reshape(-1, x.shape[1])


def _back_to_sequence(x: Tensor, batch: int) -> Tensor:
    """``[B·T, C]`` → ``[B, C, T]``."""
    return x.reshape(batch, -1, x.shape[-1]).permute(0, 2, 1)


class ModalityFeatureDecoder(nn.Module):
    """MSFD (§III-C, Eq. 4): at each time step, ``Conv1×1(c)`` attends (negated) over the M modality features.

    Returns ``ŝ`` ``[B, d, T]`` and the attention weights ``[B, T, M]`` (Fig. 7 shows them in stage 2).
    """

    def __init__(self, dim: int, n_heads: int = 1, dropout: float = 0.1) -> None:
        super().__init__()
        self.proj = nn.Conv1d(dim, dim, 1)
        self.attend = NegatedAttention(dim, n_heads, dropout)

    def forward(self, c: Tensor, s: Sequence[Tensor]) -> tuple[Tensor, Tensor]:
        batch, _, steps = c.shape
        tokens = torch.stack([_per_step(x) for x in s], dim=1)  # [B·T, M, d]
        out, attn = self.attend(_per_step(self.proj(c)), tokens)
        return _back_to_sequence(out, batch), attn.reshape(batch, steps, len(s))


class WeightedModalityFusion(nn.Module):
    """Weighted Fusion instead of MSFD (Table VI): ``ŝ = Σ_m softmax(w)_m s_m``, w a learnable M-vector."""

    def __init__(self, n_modalities: int) -> None:
        super().__init__()
        self.logits = nn.Parameter(torch.zeros(n_modalities))

    def forward(self, c: Tensor, s: Sequence[Tensor]) -> tuple[Tensor, Tensor]:
        weights = self.logits.softmax(dim=0)
        out = sum(w * x for w, x in zip(weights, s, strict=True))
        return out, weights.expand(c.shape[0], c.shape[2], -1)


# ---------------------------------------------------------------------------------------------------------
# Adaptive Fusion Module (§III-D): FusionNets, PolicyNet, the straight-through decision, the ranked mask
# ---------------------------------------------------------------------------------------------------------


def gumbel_decision(logits: Tensor, tau: Tensor | float, *, training: bool) -> Tensor:
    """A hard one-hot decision over dim 1 of ``logits`` ``[B, K, T]`` (Eqs. 9–10), float32.

    Training: the straight-through Gumbel estimator — forward ``one_hot(argmax(logits + g))`` with Gumbel(0, 1)
    noise g, backward through ``softmax((logits + g) / τ)``. Eval: ``one_hot(argmax(logits))``, no noise (so
    predictions are deterministic; the official code samples noise at test time as well).
    """
    logits = logits.float()
    if training:
        gumbels = -torch.empty_like(logits).exponential_().log()  # −log(Exp(1)) ~ Gumbel(0, 1)
        noisy = logits + gumbels
    else:
        noisy = logits
    index = noisy.argmax(dim=1, keepdim=True)
    hard = torch.zeros_like(noisy).scatter_(1, index, 1.0)
    if not training:
        return hard
    soft = (noisy / tau).softmax(dim=1)
    return hard - soft.detach() + soft  # value: hard; gradient: soft's


def fusionnet_mask(decision: Tensor, policy: str) -> Tensor:
    """Additive attention mask ``[B, K, T]`` (0 = enabled, −1e9 = disabled) from a one-hot ``decision``.

    ``ranked`` (ours, Eq. 12): the choice k* enables FusionNets 0..k* (the first k*+1, most general first);
    ``unranked`` (Table VII): only FusionNet k* is enabled. The mask is ``hard + y − stop_grad(y)`` (the
    official trick), so its value is the hard mask and its gradient reaches the decision ``y`` unchanged.
    """
    k = decision.shape[1]
    index = torch.arange(k, device=decision.device, dtype=decision.dtype)[None, :, None]
    chosen = (decision.detach() * index).sum(dim=1, keepdim=True)  # k* per step, [B, 1, T]
    disabled = index > chosen if policy == "ranked" else index != chosen
    hard = torch.where(disabled, torch.full_like(decision, MASK_VALUE), torch.zeros_like(decision))
    return hard + decision - decision.detach()


class AdaptiveFusion(nn.Module):
    """AFM (§III-D): K FusionNets (Eqs. 5–6) and the PolicyNet (Eqs. 7–8) of one stage.

    FusionNet k: modality weights ``softmax_m(P_m(f_m))_k`` (``P_m = Conv-BN-ReLU-Conv(→K)``, one per modality),
    the weighted sum of the level-i features, refined by ``R_k = Conv3-BN-ReLU-Conv3-BN-ReLU`` with a residual,
    then pooled to the stage's length (AvgPool(2), or global pooling in the last stage). PolicyNet:
    ``Conv1×1(M·d → K)`` on the concatenated features, pooled the same way (absent when ``policy="free"``).
    """

    def __init__(self, dim: int, n_modalities: int, n_fusion: int, *, policy: str, global_pool: bool) -> None:
        super().__init__()
        self.modality_logits = nn.ModuleList(
            nn.Sequential(nn.Conv1d(dim, dim, 1), nn.BatchNorm1d(dim), nn.ReLU(), nn.Conv1d(dim, n_fusion, 1))
            for _ in range(n_modalities)
        )
        self.refine = nn.ModuleList(
            nn.ModuleList([conv_bn_act(dim, dim, 3, nn.ReLU), conv_bn_act(dim, dim, 3, nn.ReLU)])
            for _ in range(n_fusion)
        )
        self.policy = None if policy == "free" else nn.Conv1d(n_modalities * dim, n_fusion, 1)
        self.global_pool = global_pool

    def _pool(self, x: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        return global_pool(x, mask) if self.global_pool else avg_pool(x, mask)

    def forward(self, f: Sequence[Tensor], mask: Tensor) -> tuple[Tensor, Tensor | None, Tensor]:
        """Level-i features ``f`` (M × ``[B, d, T_f]``) → the K cross-modal features ``[B, K, d, T]``, the
        policy logits ``[B, K, T]`` (None when free) and the pooled mask ``[B, T]``."""
        stacked = torch.stack(list(f), dim=1)  # [B, M, d, T_f]
        logits = [p(x) for p, x in zip(self.modality_logits, f, strict=True)]  # M × [B, K, T_f]
        weights = torch.stack(logits, dim=1).softmax(dim=1)  # [B, M, K, T_f]: softmax over modalities
        fused = torch.einsum("bmkt,bmdt->bkdt", weights, stacked)  # Eq. 5, all K FusionNets at once
        outputs = []
        for k, (conv1, conv2) in enumerate(self.refine):  # Eq. 6, each FusionNet its own refinement
            x = fused[:, k]
            h = conv2(_apply(conv1(x), mask))
            pooled, pooled_mask = self._pool(_apply(h + x, mask), mask)
            outputs.append(pooled)
        logits = None
        if self.policy is not None:
            logits, _ = self._pool(self.policy(torch.cat(list(f), dim=1)), mask)
        return torch.stack(outputs, dim=1), logits, pooled_mask


class CrossModalFeatureDecoder(nn.Module):
    """CMFD (§III-E, Eq. 11): the negated ``Conv1×1([c; ŝ])`` queries the K cross-modal features with the
    negated attention, disabled FusionNets masked. Returns ``f̂`` ``[B, d, T]`` and the weights ``[B, T, K]``."""

    def __init__(self, dim: int, query_dim: int, n_heads: int = 1, dropout: float = 0.1) -> None:
        super().__init__()
        self.proj = nn.Conv1d(query_dim, dim, 1)
        self.attend = NegatedAttention(dim, n_heads, dropout)

    def forward(self, query_in: Tensor, cross: Tensor, add_mask: Tensor) -> tuple[Tensor, Tensor]:
        batch, n_fusion, _, steps = cross.shape
        query = -_per_step(self.proj(query_in))  # the query is negated too (official code)
        tokens = cross.permute(0, 3, 1, 2).reshape(batch * steps, n_fusion, -1)  # [B·T, K, d]
        mask = add_mask.permute(0, 2, 1).reshape(batch * steps, n_fusion)
        out, attn = self.attend(query, tokens, mask)
        return _back_to_sequence(out, batch), attn.reshape(batch, steps, n_fusion)


class WeightedFusionNetFusion(nn.Module):
    """Weighted Fusion instead of CMFD (Table VI): ``f̂ = Σ_k softmax_k(w_k + mask_k) f_k``, w learnable.

    The PolicyNet's mask still decides which FusionNets take part (and carries its gradient).
    """

    def __init__(self, n_fusion: int) -> None:
        super().__init__()
        self.logits = nn.Parameter(torch.zeros(n_fusion))

    def forward(self, query_in: Tensor, cross: Tensor, add_mask: Tensor) -> tuple[Tensor, Tensor]:
        weights = (self.logits[None, :, None] + add_mask).softmax(dim=1)  # [B, K, T]
        out = torch.einsum("bkt,bkdt->bdt", weights.to(cross.dtype), cross)
        return out, weights.permute(0, 2, 1)


# ---------------------------------------------------------------------------------------------------------
# One fusion stage of the mixed-modality branch, and the model
# ---------------------------------------------------------------------------------------------------------


@dataclass
class StageOutput:
    """A stage's output ``[B, C, T]`` and what the figures need (None where the stage lacks the module)."""

    features: Tensor
    decision: Tensor | None  # [B, T] chosen k* (−1 on padded steps)
    msfd_attention: Tensor | None  # [B, T, M]
    cmfd_attention: Tensor | None  # [B, T, K]


class FusionStage(nn.Module):
    """Stage i of the mixed-modality branch: refine ``c``, then append ``ŝ`` (MSFD) and ``f̂`` (AFM + CMFD).

    ``msfd`` / ``cmfd`` are ``"attention"`` (the paper's), ``"weighted"`` (Table VI) or ``"none"``; a stage
    with both ``"none"`` only refines ``c`` (the non-fusing stages of Table VIII). Output width:
    ``d × (1 + [msfd] + [cmfd])``.
    """

    def __init__(self, in_dim: int, dim: int, n_modalities: int, n_fusion: int, *, msfd: str, cmfd: str,
                 policy: str, last: bool, msfd_heads: int = 1, cmfd_heads: int = 1,
                 attn_dropout: float = 0.1, zero_input: bool = False) -> None:
        super().__init__()
        self.zero_input = zero_input
        # Length of the zero stream in the last training batch (see refine); a buffer so it is saved.
        self.register_buffer("zero_stream_length", torch.zeros((), dtype=torch.long))
        self.conv1 = conv_bn_act(in_dim, dim, 3, nn.ReLU)
        self.conv2 = conv_bn_act(dim, dim, 3, nn.ReLU)
        self.shortcut = conv_bn_act(in_dim, dim, 1, nn.ReLU)
        self.msfd: nn.Module | None = None
        if msfd == "attention":
            self.msfd = ModalityFeatureDecoder(dim, msfd_heads, attn_dropout)
        elif msfd == "weighted":
            self.msfd = WeightedModalityFusion(n_modalities)
        self.afm: AdaptiveFusion | None = None
        self.cmfd: nn.Module | None = None
        if cmfd != "none":
            self.afm = AdaptiveFusion(dim, n_modalities, n_fusion, policy=policy, global_pool=last)
            query_dim = dim * (2 if self.msfd is not None else 1)
            self.cmfd = (CrossModalFeatureDecoder(dim, query_dim, cmfd_heads, attn_dropout) if cmfd == "attention"
                         else WeightedFusionNetFusion(n_fusion))
        self.policy = policy
        self.out_dim = dim * (1 + (self.msfd is not None) + (self.cmfd is not None))

    @property
    def has_policy(self) -> bool:
        return self.afm is not None and self.afm.policy is not None

    def refine(self, c: Tensor, mask: Tensor) -> Tensor:
        """``c ← Conv3-BN-ReLU-Conv3-BN-ReLU(c) + Conv1-BN-ReLU(c)``, padded steps zeroed.

        The first stage refines the zero stream, a video-independent input: its BatchNorms see (almost) no
        variance, so in the official code their running statistics, which lag the changing conv biases by a
        few steps, are divided by ``sqrt(var + eps) ≈ 0.003`` in eval mode and the predictions saturate (we
        saw every Fis-V test score pinned at 45 at quick scale while the training loss was fine). Ours, for
        that stage only: eval mode normalises with the statistics the training batches had, recomputed for
        the current weights on the canonical input (zeros of the last training length), so eval equals
        training for this input and is the same for a video alone or padded in a batch.
        """
        if self.zero_input and self.training:
            self.zero_stream_length.fill_(c.shape[-1])
        elif self.zero_input and int(self.zero_stream_length) > 0:
            return self._refine_zero_stream(c, mask)
        return _apply(self.conv2(_apply(self.conv1(c), mask)) + self.shortcut(c), mask)

    def _refine_zero_stream(self, c: Tensor, mask: Tensor) -> Tensor:
        reference = c.new_zeros(1, c.shape[1], int(self.zero_stream_length))

        def block(layers: nn.Sequential, x: Tensor, x_ref: Tensor) -> tuple[Tensor, Tensor]:
            conv, bn, act = layers
            y, y_ref = conv(x), conv(x_ref)
            mean, var = y_ref.mean(dim=(0, 2)), y_ref.var(dim=(0, 2), unbiased=False)
            return tuple(act(F.batch_norm(t, mean, var, bn.weight, bn.bias, training=False, eps=bn.eps))
                         for t in (y, y_ref))

        h, h_ref = block(self.conv1, c, reference)
        h, _ = block(self.conv2, _apply(h, mask), h_ref)
        short, _ = block(self.shortcut, c, reference)
        return _apply(h + short, mask)

    def forward(self, c: Tensor, mask: Tensor, f: Sequence[Tensor], f_mask: Tensor, s: Sequence[Tensor],
                tau: Tensor | None) -> StageOutput:
        """``c`` and ``s`` (M × ``[B, d, T]``) share ``mask`` ``[B, T]``; ``f`` (level i) has ``f_mask``."""
        c = self.refine(c, mask)
        parts = [c]
        decision = msfd_attn = cmfd_attn = None
        s_hat = None
        if self.msfd is not None:
            s_hat, msfd_attn = self.msfd(c, s)
            s_hat = _apply(s_hat, mask)
            parts.append(s_hat)
        if self.cmfd is not None:
            cross, logits, _ = self.afm(f, f_mask)
            if logits is None:  # free FusionNets: all enabled, no PolicyNet
                add_mask = cross.new_zeros(cross.shape[0], cross.shape[1], cross.shape[3], dtype=torch.float32)
            else:
                choice = gumbel_decision(logits, tau.clamp_min(0.01), training=self.training)
                add_mask = fusionnet_mask(choice, self.policy)
                decision = choice.detach().argmax(dim=1).masked_fill(~mask, -1)
            query_in = c if s_hat is None else torch.cat([c, s_hat], dim=1)
            f_hat, cmfd_attn = self.cmfd(query_in, cross, add_mask)
            parts.append(_apply(f_hat, mask))
        return StageOutput(torch.cat(parts, dim=1), decision, msfd_attn, cmfd_attn)


def _check_inputs(model: nn.Module, features: Mapping[str, Tensor],
                  mask: Tensor | None) -> tuple[dict[str, Tensor], Tensor]:
    """:func:`~aqa_lib.models.base.check_inputs` (at least :data:`MIN_SEGMENTS` real segments: length T/4 ≥ 1
    for the three pooling levels), then padded steps zeroed (the loaders pad with zeros; tests may not).

    A batch without padding (every training crop of a video longer than the crop) is returned as it is: the
    zeroing would copy the whole ``[B, T, D]`` inputs to change nothing (with the batcher's own skip, a quick
    stage-2 training step is 1.07–1.11× faster; README, "Speed-ups that change no number"). Inside
    ``torch.func.vmap`` (runs trained together) a value cannot steer Python: the zeroing always runs there."""
    xs, mask = check_inputs(features, mask, model.in_dims, model=type(model).__name__, min_segments=MIN_SEGMENTS)
    if not torch._C._functorch.is_batchedtensor(mask) and bool(mask.all()):
        return xs, mask
    return {m: x.masked_fill(~mask[:, :, None], 0.0) for m, x in xs.items()}, mask


def _detached(modalities: Sequence[str], branch_gradient: str) -> tuple[str, ...]:
    """The modalities whose branch features are detached before the fusion (module docstring)."""
    _check_option("branch_gradient", branch_gradient, BRANCH_GRADIENTS)
    return tuple(m for m in modalities if m in OFFICIAL_DETACHED) if branch_gradient == "official_detach" else ()


def _to_fusion(x: Tensor, modality: str, detached: Sequence[str]) -> Tensor:
    """A branch output as the fusion sees it: detached for the modalities in ``detached``."""
    return x.detach() if modality in detached else x


def _resolve_modalities(in_dims: Mapping[str, int], modalities: Sequence[str] | None) -> dict[str, int]:
    modalities = tuple(modalities) if modalities is not None else tuple(in_dims)
    unknown = [m for m in modalities if m not in in_dims]
    if unknown:
        raise ValueError(f"modalities {unknown} are not in the data; in_dims has {sorted(in_dims)}.")
    if not modalities or len(set(modalities)) != len(modalities):
        raise ValueError(f"modalities must be a non-empty list without repeats, got {modalities}.")
    return {m: int(in_dims[m]) for m in modalities}


def _branch_mse(output: ModelOutput, labels: Tensor) -> Tensor:
    scores = output.aux["branch_scores"]
    return sum(mse_loss(v, labels.to(v.dtype)) for v in scores.values())


class PAMFN(nn.Module):
    """The full model: M modality branches, the mixed-modality branch of three fusion stages, the head.

    Args:
        in_dims: modality → input feature dimension (``data.modalities``).
        modalities: the modalities to use (default: all of ``in_dims``; Table IV's subsets).
        d_model: feature width d (256). ``hidden_dim``: the branches' embedding width (512).
        n_fusion: K, the number of FusionNets per stage (10 RG / 6 Fis-V in the paper).
        fc_r: the head's hidden width is ``3d / 3 / fc_r`` = ``d // fc_r`` (official configs: 2).
        fc_drop: dropout before the head (official: 0). ``head_dropout``: inside the head (0.5).
        feat_drop: dropout on every branch feature before fusion (official: 0.5).
        embed_dropout, branch_head_dropout: the branches' own dropouts (0.3; 0.5 as in stage 1).
        msfd, cmfd: ``"attention"`` (paper), ``"weighted"`` or ``"none"`` (Table VI).
        policy: ``"ranked"`` (paper), ``"unranked"`` or ``"free"`` (Table VII).
        fusion_stages: how many of the three stages fuse (Table VIII); later stages only refine ``c``.
        msfd_heads, cmfd_heads, attn_dropout: the decoders' attention (1, 1, 0.1).
        tau_init: initial Gumbel-softmax temperature τ, one parameter shared by all stages (10).
        branch_loss_weight: weight of the branches' own MSE in the loss (0: only the fused score trains).
        branch_gradient: ``"end_to_end"`` (every branch trains through the fused score) or
            ``"official_detach"`` (the RGB and flow branch features are detached, as the official forward
            does); module docstring, "Branch gradient". The builder picks it from ``training`` when not given.
    """

    def __init__(self, in_dims: Mapping[str, int], *, modalities: Sequence[str] | None = None, d_model: int = 256,
                 hidden_dim: int = 512, n_fusion: int = 6, fc_r: int = 2, fc_drop: float = 0.0,
                 head_dropout: float = 0.5, feat_drop: float = 0.5, embed_dropout: float = 0.3,
                 branch_head_dropout: float = 0.5, msfd: str = "attention", cmfd: str = "attention",
                 policy: str = "ranked", fusion_stages: int = 3, msfd_heads: int = 1, cmfd_heads: int = 1,
                 attn_dropout: float = 0.1, tau_init: float = 10.0, branch_loss_weight: float = 0.0,
                 branch_gradient: str = "end_to_end") -> None:
        super().__init__()
        _check_option("msfd", msfd, DECODERS)
        _check_option("cmfd", cmfd, DECODERS)
        _check_option("policy", policy, POLICIES)
        if fusion_stages not in (1, 2, 3):
            raise ValueError(f"fusion_stages must be 1, 2 or 3 (how many of the three stages fuse), "
                             f"got {fusion_stages!r}.")
        if int(n_fusion) < 1:
            raise ValueError(f"n_fusion (K, the number of FusionNets) must be at least 1, got {n_fusion!r}.")
        if int(fc_r) < 1 or d_model // int(fc_r) < 1:
            raise ValueError(f"fc_r must be a positive integer at most d_model={d_model}, got {fc_r!r}.")
        if tau_init <= 0:
            raise ValueError(f"tau_init must be positive, got {tau_init!r}.")
        self.in_dims = _resolve_modalities(in_dims, modalities)
        self.modalities = tuple(self.in_dims)
        self.detached = _detached(self.modalities, branch_gradient)
        self.n_fusion = int(n_fusion)
        self.branch_loss_weight = float(branch_loss_weight)
        self.branches = nn.ModuleDict({
            m: ModalityBranch(dim, d_model=d_model, hidden_dim=hidden_dim, embed_dropout=embed_dropout,
                              head_dropout=branch_head_dropout)
            for m, dim in self.in_dims.items()
        })
        self.feat_drop = nn.Dropout(feat_drop)
        self.init_dim = 3 * d_model  # the zero initial stream c (official: 3·d channels)
        stages, width = [], self.init_dim
        for i in range(3):
            fuses = i < fusion_stages
            stage = FusionStage(width, d_model, len(self.modalities), self.n_fusion,
                                msfd=msfd if fuses else "none", cmfd=cmfd if fuses else "none", policy=policy,
                                last=(i == 2), msfd_heads=msfd_heads, cmfd_heads=cmfd_heads,
                                attn_dropout=attn_dropout, zero_input=(i == 0))
            stages.append(stage)
            width = stage.out_dim
        self.stages = nn.ModuleList(stages)
        hidden = d_model // int(fc_r)
        self.head = nn.Sequential(nn.Dropout(fc_drop), nn.Linear(width, hidden), nn.BatchNorm1d(hidden), nn.ReLU(),
                                  nn.Dropout(head_dropout), nn.Linear(hidden, 1), nn.Sigmoid())
        # One temperature shared by all stages; only when some stage has a PolicyNet.
        self.tau = nn.Parameter(torch.tensor(float(tau_init))) if any(s.has_policy for s in stages) else None

    def forward(self, features: Mapping[str, Tensor], mask: Tensor | None = None) -> ModelOutput:
        """``features[m]`` ``[B, T, D_m]``, ``mask`` ``[B, T]`` → :class:`ModelOutput`.

        ``aux``: ``branch_scores`` (modality → ``[B]``, each branch's own head), ``decisions`` (per stage
        ``[B, T_i]`` chosen k*, −1 on padded steps; None without a PolicyNet), ``msfd_attention`` (per stage,
        modality → ``[B, T_i]``; None without MSFD), ``cmfd_attention`` (per stage ``[B, T_i, K]``),
        ``stage_masks`` (per stage ``[B, T_i]``, lengths T/2, T/4, 1), ``tau`` and ``lengths`` ``[B]``.
        """
        xs, mask = _check_inputs(self, features, mask)
        outs = {m: self.branches[m](xs[m], mask) for m in self.modalities}
        feats = [[self.feat_drop(_to_fusion(outs[m].features[level], m, self.detached)) for m in self.modalities]
                 for level in range(4)]
        masks = outs[self.modalities[0]].masks  # the same for every modality
        c = xs[self.modalities[0]].new_zeros(mask.shape[0], self.init_dim, masks[1].shape[1])
        c_mask = masks[1]
        decisions, msfd_maps, cmfd_maps, stage_masks = [], [], [], []
        for i, stage in enumerate(self.stages):
            out = stage(c, c_mask, feats[i], masks[i], feats[i + 1], self.tau)
            decisions.append(out.decision)
            msfd_maps.append(None if out.msfd_attention is None else
                             {m: out.msfd_attention[..., j] for j, m in enumerate(self.modalities)})
            cmfd_maps.append(out.cmfd_attention)
            stage_masks.append(c_mask)
            if i == 0:  # AvgPool(2) after stage 1, global pooling after stage 2
                c, c_mask = avg_pool(out.features, c_mask)
            elif i == 1:
                c, c_mask = global_pool(out.features, c_mask)
            else:
                c = out.features
        score = self.head(c.squeeze(2)).squeeze(1)
        aux = {"branch_scores": {m: o.score for m, o in outs.items()}, "decisions": decisions,
               "msfd_attention": msfd_maps, "cmfd_attention": cmfd_maps, "stage_masks": stage_masks,
               "tau": self.tau, "lengths": mask.sum(dim=1)}
        return ModelOutput(score=score, aux=aux)

    def loss(self, output: ModelOutput, labels: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        """MSE of the fused score (+ ``branch_loss_weight`` × the branches' MSE); parts ``mse``, ``branch_mse``."""
        mse = mse_loss(output.score, labels.to(output.score.dtype))
        branch = _branch_mse(output, labels)
        total = mse + self.branch_loss_weight * branch if self.branch_loss_weight else mse
        return total, {"mse": mse, "branch_mse": branch}


# ---------------------------------------------------------------------------------------------------------
# Stage 1 (one branch alone) and the baselines of Tables IV and V
# ---------------------------------------------------------------------------------------------------------


class BranchModel(nn.Module):
    """One modality-specific branch with its own head, trained alone (stage 1; Table IV's unimodal rows).

    ``modalities`` names exactly one modality (a one-element tuple, so that the registry and the experiment
    drivers read a variant's modalities the same way for every model). Its ``branch`` submodule is what
    stage 2 loads into ``branches.<modality>`` of :class:`PAMFN`.
    """

    def __init__(self, in_dims: Mapping[str, int], *, modalities: Sequence[str], d_model: int = 256,
                 hidden_dim: int = 512, embed_dropout: float = 0.3, head_dropout: float = 0.5) -> None:
        super().__init__()
        if isinstance(modalities, str) or len(modalities) != 1:
            raise ValueError(f"A branch model reads exactly one modality; got modalities={modalities!r} "
                             "(write e.g. ('rgb',)).")
        self.in_dims = _resolve_modalities(in_dims, modalities)
        self.modalities = tuple(self.in_dims)
        self.branch = ModalityBranch(self.in_dims[self.modalities[0]], d_model=d_model, hidden_dim=hidden_dim,
                                     embed_dropout=embed_dropout, head_dropout=head_dropout)

    def forward(self, features: Mapping[str, Tensor], mask: Tensor | None = None) -> ModelOutput:
        """``aux``: ``branch_scores`` (modality → ``[B]``, the score itself) and ``lengths``."""
        xs, mask = _check_inputs(self, features, mask)
        m = self.modalities[0]
        out = self.branch(xs[m], mask)
        return ModelOutput(score=out.score, aux={"branch_scores": {m: out.score}, "lengths": mask.sum(dim=1)})

    def loss(self, output: ModelOutput, labels: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        mse = mse_loss(output.score, labels.to(output.score.dtype))
        return mse, {"mse": mse}


class FusionBaseline(nn.Module):
    """Fusion baselines without the mixed-modality branch (Table IV's Weighted Fusion, Table V's baselines).

    ``level="features"`` (Table V: "fusion strategies combine the outputs of the last convolution block, and
    two FC layers used as a regressor take the fused features"): the branches' level-3 features ``[B, d]``
    (after ``feat_drop``) are fused by ``fusion`` —

    - ``avg``: their mean; ``cat``: concatenation, then ``Linear(M·d → d)``;
    - ``weighted``: ``Σ_m softmax(w)_m x_m`` with a learnable M-vector w (Weighted Fusion [62]);
    - ``attention``: ``Linear(M·d → M)`` on the concatenation, softmax, weighted sum (per video);

    then ``Dropout(fc_drop)-Linear(d → d/fc_r)-BN-ReLU-Dropout(0.5)-Linear-Sigmoid`` (the PAMFN head, input d).
    ``level="scores"`` fuses the branches' own sigmoid scores instead (``avg`` or ``weighted`` only).
    ``branch_gradient`` as in :class:`PAMFN` (module docstring, "Branch gradient").
    """

    def __init__(self, in_dims: Mapping[str, int], *, modalities: Sequence[str] | None = None,
                 fusion: str = "weighted", level: str = "features", d_model: int = 256, hidden_dim: int = 512,
                 fc_r: int = 2, fc_drop: float = 0.0, head_dropout: float = 0.5, feat_drop: float = 0.5,
                 embed_dropout: float = 0.3, branch_head_dropout: float = 0.5,
                 branch_loss_weight: float = 0.0, branch_gradient: str = "end_to_end") -> None:
        super().__init__()
        _check_option("fusion", fusion, BASELINE_FUSIONS)
        _check_option("level", level, BASELINE_LEVELS)
        if level == "scores" and fusion not in ("avg", "weighted"):
            raise ValueError(f"level='scores' fuses the branches' scores: fusion must be 'avg' or 'weighted', "
                             f"got {fusion!r}.")
        if int(fc_r) < 1 or d_model // int(fc_r) < 1:
            raise ValueError(f"fc_r must be a positive integer at most d_model={d_model}, got {fc_r!r}.")
        self.in_dims = _resolve_modalities(in_dims, modalities)
        self.modalities = tuple(self.in_dims)
        self.detached = _detached(self.modalities, branch_gradient)
        self.fusion, self.level = fusion, level
        self.branch_loss_weight = float(branch_loss_weight)
        n = len(self.modalities)
        self.branches = nn.ModuleDict({
            m: ModalityBranch(dim, d_model=d_model, hidden_dim=hidden_dim, embed_dropout=embed_dropout,
                              head_dropout=branch_head_dropout)
            for m, dim in self.in_dims.items()
        })
        self.feat_drop = nn.Dropout(feat_drop)
        self.weight_logits = nn.Parameter(torch.zeros(n)) if fusion == "weighted" else None
        self.reduce = nn.Linear(n * d_model, d_model) if fusion == "cat" else None
        self.attention = nn.Linear(n * d_model, n) if fusion == "attention" else None
        hidden = d_model // int(fc_r)
        self.head = None if level == "scores" else nn.Sequential(
            nn.Dropout(fc_drop), nn.Linear(d_model, hidden), nn.BatchNorm1d(hidden), nn.ReLU(),
            nn.Dropout(head_dropout), nn.Linear(hidden, 1), nn.Sigmoid())

    def _weights(self, stacked: Tensor) -> Tensor:
        """Per-modality weights ``[M]`` (avg, weighted) or ``[B, M]`` (attention)."""
        if self.fusion == "weighted":
            return self.weight_logits.softmax(dim=0)
        if self.fusion == "attention":
            return self.attention(stacked.flatten(1)).softmax(dim=1)
        return stacked.new_full((stacked.shape[1],), 1.0 / stacked.shape[1])

    def forward(self, features: Mapping[str, Tensor], mask: Tensor | None = None) -> ModelOutput:
        """``aux``: ``branch_scores`` (modality → ``[B]``), ``modality_weights`` (``[M]`` or ``[B, M]``; None
        for ``cat``) and ``lengths``."""
        xs, mask = _check_inputs(self, features, mask)
        outs = {m: self.branches[m](xs[m], mask) for m in self.modalities}
        branch_scores = {m: o.score for m, o in outs.items()}
        weights = None
        if self.level == "scores":
            stacked = torch.stack([_to_fusion(v, m, self.detached) for m, v in branch_scores.items()], dim=1)
            weights = self._weights(stacked[..., None])
            score = (stacked * weights).sum(dim=1)
        else:
            last_block = [self.feat_drop(_to_fusion(o.features[3].squeeze(2), m, self.detached))
                          for m, o in outs.items()]
            stacked = torch.stack(last_block, dim=1)  # [B, M, d]
            if self.fusion == "cat":
                fused = self.reduce(stacked.flatten(1))
            else:
                weights = self._weights(stacked)
                fused = (stacked * weights[..., None]).sum(dim=1)
            score = self.head(fused).squeeze(1)
        aux = {"branch_scores": branch_scores, "modality_weights": weights, "lengths": mask.sum(dim=1)}
        return ModelOutput(score=score, aux=aux)

    def loss(self, output: ModelOutput, labels: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        mse = mse_loss(output.score, labels.to(output.score.dtype))
        branch = _branch_mse(output, labels)
        total = mse + self.branch_loss_weight * branch if self.branch_loss_weight else mse
        return total, {"mse": mse, "branch_mse": branch}


# ---------------------------------------------------------------------------------------------------------
# Builders (``training`` tells the recipe how to train the variant, and the model its branch gradient)
# ---------------------------------------------------------------------------------------------------------


def _check_training(training: str, valid: Sequence[str]) -> None:
    _check_option("training", training, valid)


def build_pamfn(in_dims: Mapping[str, int], *, training: str = "two_stage", branch_gradient: str | None = None,
                **cfg: Any) -> PAMFN:
    """PAMFN for ``in_dims``; ``training`` is ``"two_stage"`` (pretrained branches) or ``"one_stage"``;
    ``branch_gradient`` defaults to the scheme's (:data:`SCHEME_BRANCH_GRADIENT`)."""
    _check_training(training, ("two_stage", "one_stage"))
    return PAMFN(in_dims, branch_gradient=branch_gradient or SCHEME_BRANCH_GRADIENT[training], **cfg)


def build_branch(in_dims: Mapping[str, int], *, training: str = "branch", **cfg: Any) -> BranchModel:
    """One branch trained alone (stage 1); ``training`` must be ``"branch"``."""
    _check_training(training, ("branch",))
    return BranchModel(in_dims, **cfg)


def build_fusion_baseline(in_dims: Mapping[str, int], *, training: str = "one_stage",
                          branch_gradient: str | None = None, **cfg: Any) -> FusionBaseline:
    """A Table IV / V fusion baseline; ``training`` is ``"one_stage"`` or ``"two_stage"``; ``branch_gradient``
    defaults to the scheme's (:data:`SCHEME_BRANCH_GRADIENT`)."""
    _check_training(training, ("two_stage", "one_stage"))
    return FusionBaseline(in_dims, branch_gradient=branch_gradient or SCHEME_BRANCH_GRADIENT[training], **cfg)


# ---------------------------------------------------------------------------------------------------------
# Training recipes (module docstring, "Training recipes")
# ---------------------------------------------------------------------------------------------------------

PAMFN_WIDTH: dict[str, dict[str, Any]] = {
    "smoke": {"d_model": 16, "hidden_dim": 32, "n_fusion": 2},
    "quick": {"d_model": 32, "hidden_dim": 64, "n_fusion": 3},
    "paper": {},
}
"""Model width per scale (``paper``: the builders' defaults, plus K per dataset)."""
BRANCH_KEYS = ("d_model", "hidden_dim")
"""Model settings stage 1 must share with stage 2 so that the branch weights fit."""
FROZEN_IN_STAGE_2 = ("rgb", "flow")
"""Branches kept frozen in stage 2 (audio is fine-tuned: alone it can hardly assess an action, §IV-E)."""

STAGE1_RECIPE = Recipe(
    family="pamfn", source="PAMFN §III-F stage 1; official configs",
    optimiser={ANY_DATASET: Optimiser("sgd", lr=1e-2, momentum=0.9, weight_decay=1e-4, min_lr_ratio=5e-6 / 1e-2,
                                      grad_clip=2.0)},
    epochs={"smoke": 2, "quick": {"rg": 20, "mtl_aqa": 20, ANY_DATASET: 10}, "paper": 250},
    width={scale: {k: v for k, v in w.items() if k in BRANCH_KEYS} for scale, w in PAMFN_WIDTH.items()},
    model_kwargs={ANY_DATASET: {"head_dropout": 0.5}},  # the official stage-1 ``drop_rate``
    drop_kwargs=("training", "modalities"),  # a branch variant's modality is its name
    choices={"training": ("branch",)},
    save_weights=True,
)
"""Stage 1: one branch and its head alone (``pamfn/branch/<m>``), weights kept for stage 2."""

_STAGE2_RG = Optimiser("adamw", lr=5e-4, weight_decay=1e-2, min_lr_ratio=5e-6 / 5e-4, grad_clip=2.0,
                       lr_multipliers={"head.": 0.1})

PAMFN_RECIPE = Recipe(
    family="pamfn", source="PAMFN §III-F, §IV-C; official configs",
    optimiser={"rg": _STAGE2_RG,
               ANY_DATASET: Optimiser(**{**_STAGE2_RG.run_fields(), "lr": 8e-4, "min_lr_ratio": 1.0})},  # Fis-V
    epochs={"smoke": 2, "quick": {"rg": 40, "mtl_aqa": 40, ANY_DATASET: 20}, "paper": 500},
    paper_epochs={ANY_DATASET: {"Ball": 400, "Clubs": 500, "Hoop": 300, "Ribbon": 500, "TES": 500, "PCS": 500}},
    width=PAMFN_WIDTH,
    model_kwargs={"rg": {"n_fusion": 10}, ANY_DATASET: {"n_fusion": 6}},
    choices={"training": ("two_stage", "one_stage")},
    pretraining=Pretraining(variant="pamfn/branch/{modality}", into="branches.{modality}", source="branch",
                            shared_keys=BRANCH_KEYS, frozen=FROZEN_IN_STAGE_2, when={"training": "two_stage"}),
)
"""Stage 2 (two-stage variants: pretrained branches, RGB and flow frozen) or one-stage training of PAMFN."""

FUSION_BASELINE_RECIPE = replace(
    PAMFN_RECIPE, source="PAMFN §IV-E, §IV-F1 (baselines); PAMFN's stage-2 settings",
    width={scale: {k: v for k, v in w.items() if k != "n_fusion"} for scale, w in PAMFN_WIDTH.items()},
    model_kwargs={},
)
"""The fusion baselines of Tables IV and V: PAMFN's settings, without K (they have no FusionNets)."""


# ---------------------------------------------------------------------------------------------------------
# Registered variants: the paper model and every ablation row
# ---------------------------------------------------------------------------------------------------------

MODALITY_LABELS = {"rgb": "RGB", "flow": "Flow", "audio": "Audio"}
SUBSETS = (("rgb", "flow"), ("rgb", "audio"), ("flow", "audio"), ("rgb", "flow", "audio"))
"""Table IV's multimodal rows, in the paper's order."""
FIG6_K = tuple(range(1, 13))
"""Fig. 6's numbers of FusionNets (the text discusses K from 4 to 12 and "larger than 10")."""


def _label(subset: Sequence[str]) -> str:
    return "+".join(MODALITY_LABELS[m] for m in subset)


def _register_all() -> None:
    register("pamfn", build_pamfn, paper="pamfn", table="tableI", reported_method="PAMFN", recipe=PAMFN_RECIPE,
             description="PAMFN as in the paper: three branches (pretrained; RGB/flow frozen), mixed-modality "
                         "branch with MSFD, AFM (ranked FusionNets, straight-through Gumbel PolicyNet) and CMFD "
                         "in all three stages; two-stage training.")
    for m, label in MODALITY_LABELS.items():
        text = (f"The {label} branch alone with its own head, trained with SGD (stage 1 of PAMFN; Table IV's "
                f"unimodal row).")
        register(f"pamfn/branch/{m}", build_branch, paper="pamfn", table="tableIV", reported_method=label,
                 recipe=STAGE1_RECIPE, description=text, modalities=(m,), training="branch")
        register(f"pamfn/tableIV/{m}", build_branch, paper="pamfn", table="tableIV", reported_method=label,
                 recipe=replace(STAGE1_RECIPE, same_run_as=f"pamfn/branch/{m}"),
                 description=text + f" Same run as pamfn/branch/{m}.", modalities=(m,), training="branch")
    for subset in SUBSETS:
        slug, label = "+".join(subset), _label(subset)
        register(f"pamfn/tableIV/weighted/{slug}", build_fusion_baseline, paper="pamfn", table="tableIV",
                 reported_method=f"Weighted Fusion: {label}", recipe=FUSION_BASELINE_RECIPE,
                 modalities=subset, fusion="weighted", training="one_stage",
                 description=f"Table IV Weighted Fusion on {label}: softmax-weighted fusion of the branches' "
                             "last-block features + two-FC regressor, trained in one stage, end to end (feature "
                             "level: our reading, its 3-modality row equals Table V's one-stage / Weighted).")
        register(f"pamfn/tableIV/{slug}", build_pamfn, paper="pamfn", table="tableIV",
                 reported_method=f"PAMFN: {label}", recipe=PAMFN_RECIPE,
                 modalities=subset, training="two_stage",
                 description=f"Table IV: PAMFN on {label} only (the other branches removed), two-stage.")

    fusions = (("avg", "AVG", "mean of the branches' last-block features"),
               ("cat", "CAT", "concatenation + Linear(M·d → d)"),
               ("weighted", "Weighted", "learnable softmax weights over modalities"),
               ("attention", "Attention", "an FC layer gives per-video softmax weights over modalities"))
    for scheme, scheme_label in (("one_stage", "one-stage"), ("two_stage", "two-stage")):
        how = ("all branches trained jointly from scratch, nothing frozen or detached (end_to_end, our reading)"
               if scheme == "one_stage" else
               "branches pretrained alone; RGB and flow frozen (and detached: official_detach)")
        for slug, label, text in fusions:
            register(f"pamfn/tableV/{scheme}/{slug}", build_fusion_baseline, paper="pamfn", table="tableV",
                     reported_method=f"{scheme_label} / {label}", recipe=FUSION_BASELINE_RECIPE,
                     fusion=slug, training=scheme,
                     description=f"Table V {scheme_label} {label}: {text}, then a two-FC regressor; {how}.")
        register(f"pamfn/tableV/{scheme}/ours", build_pamfn, paper="pamfn", table="tableV",
                 reported_method=f"{scheme_label} / Ours", recipe=PAMFN_RECIPE, training=scheme,
                 description=f"Table V {scheme_label} Ours: the full PAMFN; {how}.")

    table6 = (("no_cmfd", "w/o CMFD", {"cmfd": "none"},
               "no AFM and no CMFD: stages output [c; ŝ]."),
              ("no_msfd", "w/o MSFD", {"msfd": "none"},
               "no MSFD: stages output [c; f̂], the CMFD query is Conv1×1(c) (our reading)."),
              ("cmfd_weighted", "CMFD replaced by Weighted Fusion", {"cmfd": "weighted"},
               "f̂ = Σ_k softmax(w_k + mask_k) f_k: learnable weights over the enabled FusionNets."),
              ("msfd_weighted", "MSFD replaced by Weighted Fusion", {"msfd": "weighted"},
               "ŝ = Σ_m softmax(w)_m s_m: learnable weights over modalities."),
              ("both_weighted", "MSFD and CMFD replaced by Weighted Fusion", {"msfd": "weighted", "cmfd": "weighted"},
               "both decoders replaced by Weighted Fusion."),
              ("full", "Full model", {}, "the full model."))
    for slug, label, overrides, text in table6:
        register(f"pamfn/tableVI/{slug}", build_pamfn, paper="pamfn", table="tableVI", reported_method=label,
                 recipe=PAMFN_RECIPE, description=f"Table VI: {text} Two-stage.", training="two_stage",
                 **overrides)

    table7 = (("unranked", "Unranked FusionNets", "the decision enables only FusionNet k* (one-hot)."),
              ("free", "Free FusionNets", "all FusionNets enabled, no PolicyNet (and no τ)."),
              ("ranked", "Ranked FusionNets (Ours)", "the decision k* enables FusionNets 0..k* (the paper's)."))
    for slug, label, text in table7:
        register(f"pamfn/tableVII/{slug}", build_pamfn, paper="pamfn", table="tableVII", reported_method=label,
                 recipe=PAMFN_RECIPE, description=f"Table VII: {text} Two-stage.", policy=slug,
                 training="two_stage")

    table8 = (("first", "First Stage", 1), ("first_two", "First Two Stages", 2), ("all", "All Stages (Ours)", 3))
    for slug, label, n in table8:
        register(f"pamfn/tableVIII/{slug}", build_pamfn, paper="pamfn", table="tableVIII", reported_method=label,
                 recipe=PAMFN_RECIPE,
                 description=f"Table VIII: MSFD/AFM/CMFD in the first {n} stage(s); later stages only refine the "
                             "mixed stream (our reading). Two-stage.",
                 fusion_stages=n, training="two_stage")

    for k in FIG6_K:
        register(f"pamfn/fig6/k{k}", build_pamfn, paper="pamfn", table="fig6", reported_method=f"K={k}",
                 recipe=PAMFN_RECIPE,
                 description=f"Fig. 6: the full model with K = {k} FusionNets per stage. Two-stage.",
                 n_fusion=k, training="two_stage")


_register_all()
