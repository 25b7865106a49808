"""LMAC-Net: Long-term Multimodal Attention Consistency Network (the ``lmac`` paper), in one file.

Reading order: :func:`two_level_score` (Eqs. 9–10), :class:`LMACNet` (the model and its loss), then the
ablation variants registered at the bottom (Tables 5–9).

The model (paper §3, Fig. 2)
----------------------------
1. **Multimodal local query encoder (MLQE, §3.2, Eqs. 4–8).** One TPT query decoder per modality
   (:class:`aqa_lib.models.blocks.QueryDecoder`, with that modality's input dimension): K = 5 learnable
   queries attend over the T segments. "Two stacked decoders, each with two layers" (§4.3) is one decoder of
   4 layers with query self-attention in the first layer of each stacked decoder (``self_attention_every=2``).
   Each modality gives query features ``[B, K, d]`` and one attention map ``[B, T, K]`` per layer.
2. **Fusion (Eq. 8).** The per-query features of the modalities are concatenated: ``[B, K, M·d]``.
3. **Two-level score (§3.3, Eqs. 9–10).** A linear layer scores each query, ``s_k``; the final score is
   ``Σ_k softmax(w)_k s_k`` with ``w`` a learnable K-vector.
4. **Loss (§3.4, Eqs. 11–17).** ``λ_mse·MSE + λ_rank·Σ_m α_m L_rank^m + λ_sp·Σ_m β_m L_sp^m +
   λ_cons·L_cons``, the ranking / sparsity / consistency terms computed on attention centres (Eq. 14) of every
   decoder layer and summed over layers (TPT's practice).

What is the paper's and what is ours
------------------------------------
The paper fixes K = 5, 8 heads, width 512, two stacked decoders × two layers, τ initialised to 0.07, dropout
0.1 (RG) / 0.2 (Fis-V; the caller passes ``dropout``), concatenation fusion, the two-level score with a
softmaxed weight vector, and the form of the losses. It does not give (our choices, each a constructor
argument):

- ``d_ffn = 512`` (TPT's value; the paper only says "output dimension 512").
- Loss weights: the paper's Eq. 11 has λ₁·L_dec + λ₂·L_feat with L_feat = L_rank + L_sp + L_cons (Eq. 13) and
  per-modality weights α_m, β_m inside L_rank and L_sp (Eqs. 15–16). We use ``lambda_mse = 1``,
  ``lambda_rank = lambda_consistency = 1`` (λ₂ = 1) and ``lambda_sparsity = 0.05`` (TPT's sparsity weight);
  the per-modality α_m, β_m default to 1 (``rank_weights`` / ``sparsity_weights`` change them).
- ``normalise_centres = True``: centres are divided by each video's real length, so they lie in (0, 1]. With
  T ≈ 70–136 segments, raw squared index differences in L_cons reach thousands and would swamp an MSE on
  labels in [0, 1]; normalised, every term is O(1) whatever the dataset. ``False`` gives TPT's raw scale
  (then choose much smaller λ's).
- ``margin = None``: half the largest feasible margin, ``m_b = 0.5·(T_b − 1)/(K + 1)`` segments for a video
  of real length T_b (divided by T_b when normalised). The ranking hinge can reach zero only if
  ``m ≤ (T − 1)/(K + 1)``, and at that bound only for exactly evenly spaced centres; TPT used m ≈ the bound
  for T = 20 — for minutes-long routines we leave slack so queries can settle on uneven moments. A float is used as given (in segments, or fractions of the video
  when normalised).
- ``centre_layers = "all"``: the losses are summed over the centres of every decoder layer (TPT). The paper's
  Eq. 14 text ("the attention weights from all decoder layers are concatenated") is ambiguous; ``"last"`` or
  a tuple of layer indices restricts the losses to those layers.
- ``query_head = "separate"``: each query has its own linear scorer (the GDLT/MLAVL ``diag(Linear(d, K))``
  pattern). With one shared scorer (``"shared"``), the "two-level average" of Table 8 would be *exactly* the
  "one-stage linear" of Table 8 (a linear map commutes with the query average), yet the paper reports
  different numbers for them — one reason to read the first stage as per-query heads.
- The final score has no sigmoid (the paper's heads are linear; labels are in [0, 1]).

Padded segments (mask False) get zero attention (the decoder masks them), the ranking boundary uses each
video's real length, and the centres are normalised by it.

Parameter count vs the paper's 8.95 M
-------------------------------------
At the paper configuration as the text states it (RGB 1024-d, flow 1024-d, audio 768-d, K = 5,
d = d_ffn = 512, 4 decoder layers per modality with query self-attention in the first layer of each stacked
decoder, concat fusion, two-level score) this implementation has **27,352,086** parameters: RGB and flow
branches 9,464,324 each, audio 8,415,748, scorer 7,690. The paper reports **8.95 M** (§4.4, Table 4), three
times fewer. Where the difference comes from: one decoder layer of a 1024-d branch costs 1,839,617
(key/value projections from the input dimension 1,049,600, FFN 525,312, W_q 262,656, LayerNorms, τ), plus
1,051,648 for a layer with the 8-head query self-attention — three branches of four such layers cannot fit in
8.95 M at width 512. Our estimate (the paper's code is not public, so this is a fit, not a fact): searching
width, FFN width, depth and self-attention placement, the configuration closest to 8.95 M is **d = d_ffn = 256,
4 layers, self-attention only in the first layer** (TPT's single self-attention): 8,952,854 parameters, within
0.03 % of the reported figure (``create_model("lmac", in_dims=..., d_model=256, d_ffn=256,
self_attention_every=4)``). So the reported count is consistent with a decoder width of 256 — the "output
dimension 512" of §4.3 may then refer to something else (e.g. a feature width before the decoders). We keep
the text's configuration as the default and report the gap rather than tune the architecture to a number.

Ablation variants (registered names; Tables 5–9 of the paper)
-------------------------------------------------------------
``create_model("lmac", in_dims=...)`` is the full paper model. The ablation rows:

- ``lmac/table5/{baseline, mlqe, mlqe_ranking, mlqe_ranking_sparsity, ours}``: the MLQE ablation.
- ``lmac/table6/{cca_concat, cca_sum, cca_dynamic, concat_attention, sum_attention, sum, concat}``: fusion.
- ``lmac/table7/{rgb, flow, audio, rgb+flow, rgb+audio, flow+audio, all}``: modality subsets.
- ``lmac/table8/{one_stage_mlp, one_stage_linear, average, mlp, linear, attention, weight}``: scoring.
- ``lmac/table9/{ca, dca, mtc, ours}``: alignment strategies (Table 9 is an image in the text).

**Tables 5 and 6 use the one-stage linear head** (our reading): their "Ours" rows (RG 0.797, Fis-V 0.808)
equal Table 8's "one-stage / Linear" row digit for digit, not the full model's 0.840 / 0.850 (Tables 7, 8),
so those ablations were evidently run before the two-level score was added. Each variant's docstring-level
description says what is the paper's and what is our reading.

Training recipe (§4.2; :data:`LMAC_RECIPE`, registered with every variant)
--------------------------------------------------------------------------
Paper: AdamW, lr 9e-4 (RG) / 9e-5 (Fis-V), cosine decay, batch 32, dropout 0.1 (RG) / 0.2 (Fis-V). The paper
gives no epoch count or weight decay: we use 200 epochs and weight decay 1e-4 (TPT's official setting) at
``paper`` scale — our choice. Training crops are the dataset's ``train_window`` (70 RG / 130 Fis-V segments,
the PAMFN / GDLT protocol). At ``smoke`` / ``quick`` scale the learning rate is 9e-4 for both datasets (the
small models and short schedules learn nothing at 9e-5). Datasets the paper did not use get its Fis-V
settings.

Scales: ``smoke`` d = d_ffn = 32 with 4 heads, 2 epochs, batch 16; ``quick`` d = d_ffn = 64, **batch 8,
12 epochs** (300 optimiser steps on the 200 quick Fis-V or RG training videos); both with
``input_projection=True`` (ours); ``paper`` the text's configuration (the builder's defaults: d = 512, K = 5,
4 layers, 8 heads, every layer projecting the raw features), batch 32, 200 epochs.

Why the small scales project the inputs once (ours; :class:`~aqa_lib.models.blocks.QueryDecoder`): at d = 64
the per-layer key and value projections of the raw 1024-d (RGB, flow) and 768-d (audio) features were most
of a quick run's arithmetic. One learned ``Linear(D_in, 64)`` per modality, read by every layer, cuts a quick
training step from 519 to 228 ms (one thread; 1.70 M → 0.54 M parameters) and a whole quick run about
twofold (651 → 332 s, Fis-V TES, seed 0, measured side by side on a loaded 2-core machine). The test ρ and
the queries' specialisation hold (``benchmarks/specialisation.py``, last decoder layer, RGB; per-layer
projections → shared projection): Fis-V TES ρ 0.685 / 0.647 → 0.687 / 0.655 (papers / last), centres
ordered in 92 % → 90 % of test videos, spread 0.33 → 0.37, centres inside true elements 0.34 → 0.30 (evenly
spread centres: 0.28); RG Ball ρ 0.797 / 0.773 → 0.776 / 0.769, ordered 92 % → 88 %, spread 0.31 → 0.35,
inside 0.36 → 0.40 (even: 0.42). The paper configuration keeps the text's per-layer projections.

Why the quick schedule is batch 8 × 12 epochs (ours; measured 2026-12-03 with
``benchmarks/specialisation.py``, full model, seed 0, synthetic generator v3, paper decoder; RGB centres of
the test videos: share in temporal order / spread over the routine). The queries spread with the number of
optimiser steps, not with the videos seen. At batch 32 on Fis-V TES: 20 epochs (140 steps) 82 % / 0.08, all
five centres near the middle; 50 epochs (350 steps; the preset until 2026-12-03) 90 % / 0.37. At batch 16:
12 epochs (156 steps) 80 % / 0.13; 20 epochs (260 steps) 94 % / 0.35. At batch 8: 10 epochs (250 steps)
88 % / 0.30 (PCS 88 % / 0.30; RG Ball 78 % / 0.23); 12 epochs (300 steps, the preset) Fis-V TES 88 % / 0.33,
RG Ball 90 % / 0.30 (Ball at batch 32 × 50 epochs: 90 % / 0.31). Centres inside true elements stay at the
level of evenly spread centres in every setting (Fis-V TES 0.28–0.33 against 0.28; Ball 0.41 against 0.42).
Test Spearman does not depend on it (Fis-V TES papers / last: 0.687 / 0.654 at batch 32 × 50, 0.671 / 0.662
at batch 8 × 12; it peaks within the first ten epochs of any schedule). Batch 8 × 12 epochs does 6 % fewer
steps on 27 % of the samples: a quick Fis-V run took 38 s against 112 s for batch 32 × 50 (each measured
beside one other run on the shared 2-core CPU, one thread each), since a small batch leaves the per-step overhead
(optimiser, autograd, evaluation) as most of the cost.

MTL-AQA (VATP-Net's dataset, not the paper's) trains **36 quick epochs** (ours; measured 2026-12-02, full
model, seed 0, test ρ best / last epoch): 12 epochs 0.47 / 0.46, 24 epochs 0.69 / 0.69, 36 epochs
0.76 / 0.75, 50 epochs 0.77 / 0.77 (runs of 8–40 s). A dive is seconds long, not minutes, so an epoch is
cheap, but the model needs about 30 epochs to converge there.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from ..centres import attention_center
from ..losses import consistency_loss, mse_loss, ranking_loss, sparsity_loss, temporal_infonce_loss
from ..recipes import ANY_DATASET, Optimiser, Recipe
from .base import ModelOutput, check_inputs, register
from .blocks import QueryDecoder

ENCODERS = ("mlqe", "pooled")
FUSIONS = ("concat", "sum", "concat_attention", "sum_attention", "cca_concat", "cca_sum", "cca_dynamic")
ALIGNMENTS = ("none", "ca", "dca")
SCORINGS = ("weight", "average", "linear", "mlp", "attention", "one_stage_linear", "one_stage_mlp")
QUERY_HEADS = ("separate", "shared")


def _check_option(name: str, value: Any, valid: Sequence[str]) -> None:
    if value not in valid:
        raise ValueError(f"Unknown {name}={value!r}; valid values: {', '.join(valid)}.")


def two_level_score(query_scores: Tensor, weight_logits: Tensor) -> tuple[Tensor, Tensor]:
    """The second level of the two-level score (Eqs. 9–10): ``ŷ = Σ_k softmax(w)_k · s_k``.

    Args:
        query_scores: ``[B, K]`` first-level scores ``s_k`` (one per query).
        weight_logits: the learnable vector ``w`` ``[K]`` (or per-video ``[B, K]``).

    Returns the final scores ``[B]`` and the normalised weights ``softmax(w)`` (same shape as ``w``).
    """
    weights = weight_logits.softmax(dim=-1)
    return (query_scores * weights).sum(dim=-1), weights


class PerQueryLinear(nn.Module):
    """K linear scorers, query k scored by its own weights: ``s_k = W_k · f_k + b_k`` (``[B, K, D] → [B, K]``)."""

    def __init__(self, n_queries: int, in_dim: int) -> None:
        super().__init__()
        bound = 1.0 / math.sqrt(in_dim)  # the nn.Linear initialisation
        self.weight = nn.Parameter(torch.empty(n_queries, in_dim).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(n_queries).uniform_(-bound, bound))

    def forward(self, feats: Tensor) -> Tensor:
        return torch.einsum("bkd,kd->bk", feats, self.weight) + self.bias


class CollaborativeAttention(nn.Module):
    """Cross-modal collaborative attention (Table 6; our reading of §4.5 item 1).

    "The features from different branches serve as queries to interact with other modalities": the K query
    features of modality m attend (multi-head, over time) to the segment features of every other modality n,
    ``f_m ← LN(f_m + Σ_{n≠m} Dropout(MHA_{m←n}(f_m, x_n, x_n)))``, padded segments masked. One attention
    block per ordered modality pair, each projecting keys/values from that modality's input dimension — the
    "significantly increased model complexity" the paper mentions.
    """

    def __init__(self, in_dims: Mapping[str, int], d_model: int, n_heads: int, dropout: float) -> None:
        super().__init__()
        self.modalities = tuple(in_dims)
        if len(self.modalities) < 2:
            raise ValueError("Cross-modal collaborative attention needs at least two modalities.")
        self.attn = nn.ModuleDict({
            f"{m}_from_{n}": nn.MultiheadAttention(d_model, n_heads, dropout=dropout, batch_first=True,
                                                   kdim=in_dims[n], vdim=in_dims[n])
            for m in self.modalities for n in self.modalities if n != m
        })
        self.drop = nn.Dropout(dropout)
        self.norm = nn.ModuleDict({m: nn.LayerNorm(d_model) for m in self.modalities})

    def forward(self, feats: dict[str, Tensor], inputs: dict[str, Tensor], mask: Tensor) -> dict[str, Tensor]:
        out = {}
        for m in self.modalities:
            gathered = sum(
                self.attn[f"{m}_from_{n}"](feats[m], inputs[n], inputs[n], key_padding_mask=~mask,
                                           need_weights=False)[0]
                for n in self.modalities if n != m
            )
            out[m] = self.norm[m](feats[m] + self.drop(gathered))
        return out


class QueryCrossAttention(nn.Module):
    """Bidirectional cross-attention between the modalities' query features (Table 9 CA / DCA; our reading).

    Each modality's K query features attend to the query features of all other modalities (every modality is
    in turn query and key/value: bidirectional), ``a_m = MHA_m(f_m, f_{¬m}, f_{¬m})``.

    - CA (``gated=False``): ``f_m ← LN(f_m + Dropout(a_m))``.
    - DCA (``gated=True``, after Praveen & Alam's dynamic cross-attention): a gate
      ``g = σ(W_m [f_m; a_m])`` chooses per channel between the original and the aligned features,
      ``f_m ← LN(g ⊙ a_m + (1 − g) ⊙ f_m)``.

    The paper describes both in one sentence each (§4.5, "Multimodal Alignment Strategies"); applying them to
    the query features (the paper's "key temporal points") rather than to the segment sequences is ours.
    """

    def __init__(self, modalities: Sequence[str], d_model: int, n_heads: int, dropout: float, *,
                 gated: bool) -> None:
        super().__init__()
        self.modalities = tuple(modalities)
        if len(self.modalities) < 2:
            raise ValueError("Cross-modal alignment (CA / DCA) needs at least two modalities.")
        self.attn = nn.ModuleDict({
            m: nn.MultiheadAttention(d_model, n_heads, dropout=dropout, batch_first=True) for m in self.modalities
        })
        self.gate = nn.ModuleDict({m: nn.Linear(2 * d_model, d_model) for m in self.modalities}) if gated else None
        self.drop = nn.Dropout(dropout)
        self.norm = nn.ModuleDict({m: nn.LayerNorm(d_model) for m in self.modalities})

    def forward(self, feats: dict[str, Tensor]) -> dict[str, Tensor]:
        out = {}
        for m in self.modalities:
            others = torch.cat([feats[n] for n in self.modalities if n != m], dim=1)  # [B, K·(M−1), d]
            aligned = self.drop(self.attn[m](feats[m], others, others, need_weights=False)[0])
            if self.gate is None:
                out[m] = self.norm[m](feats[m] + aligned)
            else:
                g = torch.sigmoid(self.gate[m](torch.cat([feats[m], aligned], dim=-1)))
                out[m] = self.norm[m](g * aligned + (1 - g) * feats[m])
        return out


class Fusion(nn.Module):
    """Fuse the modalities' query features ``[B, K, d]`` each into ``[B, K, D_f]`` (Eq. 8; Table 6 options).

    - ``concat`` (the paper's): ``[f_rgb; f_flow; f_audio]``, D_f = M·d.
    - ``sum``: ``Σ_m f_m``, D_f = d.
    - ``*_attention`` (§4.5 item 5): concat or sum, then multi-head self-attention among the K fused query
      tokens with residual + LayerNorm ("the outputs from all queries are aggregated through average pooling":
      that pooling is the one-stage head used for Table 6, see the module docstring).
    - ``cca_*``: :class:`CollaborativeAttention` first, then concat / sum / dynamic weighting, where dynamic
      weighting (§4.5 item 4) is ``Σ_m α_m f_m`` with ``α = softmax_m(Linear_m(f_m))`` per video and query.
    """

    def __init__(self, fusion: str, in_dims: Mapping[str, int], d_model: int, n_heads: int, dropout: float) -> None:
        super().__init__()
        _check_option("fusion", fusion, FUSIONS)
        self.modalities = tuple(in_dims)
        self.collaborative = (
            CollaborativeAttention(in_dims, d_model, n_heads, dropout) if fusion.startswith("cca_") else None
        )
        self.combine = fusion.removeprefix("cca_").removesuffix("_attention")  # concat | sum | dynamic
        self.out_dim = d_model * len(self.modalities) if self.combine == "concat" else d_model
        self.dynamic = (
            nn.ModuleDict({m: nn.Linear(d_model, 1) for m in self.modalities}) if self.combine == "dynamic" else None
        )
        if fusion.endswith("_attention"):
            self.self_attn = nn.MultiheadAttention(self.out_dim, n_heads, dropout=dropout, batch_first=True)
            self.drop = nn.Dropout(dropout)
            self.norm = nn.LayerNorm(self.out_dim)
        else:
            self.self_attn = None

    def forward(self, feats: dict[str, Tensor], inputs: dict[str, Tensor], mask: Tensor) -> Tensor:
        if self.collaborative is not None:
            feats = self.collaborative(feats, inputs, mask)
        stacked = [feats[m] for m in self.modalities]
        if self.combine == "concat":
            fused = torch.cat(stacked, dim=-1)
        elif self.combine == "sum":
            fused = torch.stack(stacked).sum(dim=0)
        else:  # dynamic weighting
            logits = torch.cat([self.dynamic[m](feats[m]) for m in self.modalities], dim=-1)  # [B, K, M]
            alpha = logits.softmax(dim=-1)
            fused = torch.einsum("bkm,mbkd->bkd", alpha, torch.stack(stacked))
        if self.self_attn is not None:
            fused = self.norm(fused + self.drop(self.self_attn(fused, fused, fused, need_weights=False)[0]))
        return fused


class ScoreHead(nn.Module):
    """From fused query features ``[B, K, D]`` to the score ``[B]`` (§3.3; Table 8 options).

    Two-level heads first score each query (``s_k``, :class:`PerQueryLinear` or one shared linear layer), then:

    - ``weight`` (the paper's, Eqs. 9–10): ``Σ_k softmax(w)_k s_k``, ``w`` a learnable K-vector (init 0:
      uniform weights at the start, our choice).
    - ``average``: ``mean_k s_k``.
    - ``linear``: ``Linear(K → 1)(s)``.
    - ``mlp``: ``Linear(K → h) → ReLU → Linear(h → 1)`` (h = ``score_hidden``, our choice).
    - ``attention`` (our reading of "the query scores are processed using a self-attention mechanism to
      calculate their importance"): each score becomes a token ``s_k·u + p_k`` (u, p_k learnable, width h),
      one-head self-attention among the K tokens, a linear layer gives an importance logit per query, and the
      final score is ``Σ_k softmax(logit)_k s_k`` with weights per video.

    One-stage heads average the fused features over the queries first (§4.5): ``one_stage_linear`` is
    ``Linear(D → 1)``, ``one_stage_mlp`` is ``Linear(D → d) → ReLU → Dropout → Linear(d → 1)``; they have no
    per-query scores.

    ``forward`` returns ``(score [B], query_scores [B, K] | None, query_weights [K] | [B, K] | None)``.
    """

    def __init__(self, scoring: str, n_queries: int, in_dim: int, *, query_head: str = "separate",
                 score_hidden: int = 16, mlp_hidden: int = 512, dropout: float = 0.1) -> None:
        super().__init__()
        _check_option("scoring", scoring, SCORINGS)
        _check_option("query_head", query_head, QUERY_HEADS)
        self.scoring = scoring
        if scoring == "one_stage_linear":
            self.regressor = nn.Linear(in_dim, 1)
            return
        if scoring == "one_stage_mlp":
            self.regressor = nn.Sequential(nn.Linear(in_dim, mlp_hidden), nn.ReLU(), nn.Dropout(dropout),
                                           nn.Linear(mlp_hidden, 1))
            return
        self.query_head = query_head
        self.per_query = PerQueryLinear(n_queries, in_dim) if query_head == "separate" else nn.Linear(in_dim, 1)
        if scoring == "weight":
            self.weight_logits = nn.Parameter(torch.zeros(n_queries))
        elif scoring == "linear":
            self.fuse = nn.Linear(n_queries, 1)
        elif scoring == "mlp":
            self.fuse = nn.Sequential(nn.Linear(n_queries, score_hidden), nn.ReLU(), nn.Linear(score_hidden, 1))
        elif scoring == "attention":
            self.token_scale = nn.Parameter(torch.randn(score_hidden) * 0.02)
            self.token_position = nn.Parameter(torch.randn(n_queries, score_hidden) * 0.02)
            self.attn = nn.MultiheadAttention(score_hidden, 1, batch_first=True)
            self.importance = nn.Linear(score_hidden, 1)

    def forward(self, fused: Tensor) -> tuple[Tensor, Tensor | None, Tensor | None]:
        if self.scoring.startswith("one_stage"):
            return self.regressor(fused.mean(dim=1)).squeeze(-1), None, None
        if self.query_head == "separate":
            s = self.per_query(fused)  # [B, K]
        else:
            s = self.per_query(fused).squeeze(-1)
        if self.scoring == "weight":
            score, weights = two_level_score(s, self.weight_logits)
            return score, s, weights
        if self.scoring == "average":
            return s.mean(dim=-1), s, s.new_full((s.shape[-1],), 1.0 / s.shape[-1])
        if self.scoring in ("linear", "mlp"):
            return self.fuse(s).squeeze(-1), s, None
        tokens = s[..., None] * self.token_scale + self.token_position  # [B, K, h]
        attended, _ = self.attn(tokens, tokens, tokens, need_weights=False)
        score, weights = two_level_score(s, self.importance(attended).squeeze(-1))  # per-video weights [B, K]
        return score, s, weights


class LMACNet(nn.Module):
    """LMAC-Net (§3): per-modality query decoders, fusion, two-level score, and the composite loss (Eq. 11).

    Args:
        in_dims: modality → input feature dimension, e.g. ``{"rgb": 1024, "flow": 1024, "audio": 768}``.
        modalities: the subset of ``in_dims`` to use (Table 7); default: all of ``in_dims``, in its order. Only
            the branches of these modalities are built.
        n_queries: K (paper: 5).
        d_model, d_ffn: decoder width and FFN width (paper: width 512; d_ffn 512 is TPT's, our choice).
        n_layers, self_attention_every: decoder layers per modality and the period of the query self-attention
            (paper: two stacked decoders × two layers → 4 and 2).
        n_heads: heads of every multi-head attention (paper: 8).
        dropout: 0.1 (RG) / 0.2 (Fis-V) in the paper.
        tau_init: initial cross-attention temperature τ (paper: 0.07).
        key_position: ``"none"`` (the paper, TPT's code: content-only attention) or ``"sine"`` (ours, a switch:
            a relative-position code added to the keys, so queries can take their places in time even where
            the features' statistics do not change over a routine; see :class:`~aqa_lib.models.blocks.QueryDecoder`).
        input_projection: ``False`` (the paper, TPT: every decoder layer projects the raw features) or ``True``
            (ours, the ``quick`` preset: one learned ``Linear(D_in, d)`` per modality first, read by every layer;
            see :class:`~aqa_lib.models.blocks.QueryDecoder` and the module docstring, "Scales").
        encoder: ``"mlqe"`` (the paper's) or ``"pooled"`` (Table 5 baseline: per-modality mean over the real
            segments, concatenated, scored by the one-stage head; no attention, so no feature-level losses).
        fusion: one of :data:`FUSIONS` (see :class:`Fusion`; paper: ``"concat"``).
        alignment: ``"none"`` (paper: alignment comes from the consistency loss), ``"ca"`` or ``"dca"``
            (Table 9, see :class:`QueryCrossAttention`).
        scoring: one of :data:`SCORINGS` (see :class:`ScoreHead`; paper: ``"weight"``).
        query_head: ``"separate"`` (one linear scorer per query, our default) or ``"shared"``.
        score_hidden: hidden width of the ``mlp`` and ``attention`` score fusions (our choice, 16).
        lambda_mse, lambda_rank, lambda_sparsity, lambda_consistency: loss weights (module docstring).
        lambda_mtc: weight of :func:`aqa_lib.losses.temporal_infonce_loss` (0 except in Table 9 "MTC").
        margin: ranking margin in the centres' unit; ``None`` = ``0.5·(T_b − 1)/(K + 1)`` per video.
        normalise_centres: divide centres (and sparsity spreads) by each video's real length.
        centre_layers: ``"all"``, ``"last"`` or a sequence of layer indices whose centres feed the losses.
        rank_weights, sparsity_weights: per-modality α_m, β_m of Eqs. 15–16 (default 1 each).
        mtc_temperature: τ of the MTC InfoNCE (our choice, 0.07).
    """

    def __init__(
        self,
        in_dims: Mapping[str, int],
        *,
        modalities: Sequence[str] | None = None,
        n_queries: int = 5,
        d_model: int = 512,
        d_ffn: int = 512,
        n_layers: int = 4,
        self_attention_every: int = 2,
        n_heads: int = 8,
        dropout: float = 0.1,
        tau_init: float = 0.07,
        key_position: str = "none",
        input_projection: bool = False,
        encoder: str = "mlqe",
        fusion: str = "concat",
        alignment: str = "none",
        scoring: str = "weight",
        query_head: str = "separate",
        score_hidden: int = 16,
        lambda_mse: float = 1.0,
        lambda_rank: float = 1.0,
        lambda_sparsity: float = 0.05,
        lambda_consistency: float = 1.0,
        lambda_mtc: float = 0.0,
        margin: float | None = None,
        normalise_centres: bool = True,
        centre_layers: str | Sequence[int] = "all",
        rank_weights: Mapping[str, float] | None = None,
        sparsity_weights: Mapping[str, float] | None = None,
        mtc_temperature: float = 0.07,
    ) -> None:
        super().__init__()
        _check_option("encoder", encoder, ENCODERS)
        _check_option("fusion", fusion, FUSIONS)
        _check_option("alignment", alignment, ALIGNMENTS)
        _check_option("scoring", scoring, SCORINGS)
        _check_option("query_head", query_head, QUERY_HEADS)
        self.in_dims = self._select_modalities(in_dims, modalities)
        self.modalities = tuple(self.in_dims)
        self.n_queries, self.n_layers = n_queries, n_layers
        self.encoder_kind, self.scoring = encoder, scoring
        self.lambdas = {"mse": float(lambda_mse), "ranking": float(lambda_rank), "sparsity": float(lambda_sparsity),
                        "consistency": float(lambda_consistency), "mtc": float(lambda_mtc)}
        self.margin, self.normalise_centres, self.mtc_temperature = margin, normalise_centres, mtc_temperature
        self.rank_weights = self._per_modality("rank_weights", rank_weights)
        self.sparsity_weights = self._per_modality("sparsity_weights", sparsity_weights)

        if encoder == "pooled":
            self._check_pooled(fusion, alignment, scoring)
            self.centre_layers: tuple[int, ...] = ()
            self.drop = nn.Dropout(dropout)
            self.head = ScoreHead(scoring, 1, sum(self.in_dims.values()), dropout=dropout)
            return

        self.centre_layers = self._resolve_layers(centre_layers, n_layers)
        self.encoders = nn.ModuleDict({
            m: QueryDecoder(dim, n_queries=n_queries, d_model=d_model, d_ffn=d_ffn, n_layers=n_layers,
                            n_heads=n_heads, dropout=dropout, tau_init=tau_init,
                            self_attention_every=self_attention_every, key_position=key_position,
                            input_projection=input_projection)
            for m, dim in self.in_dims.items()
        })
        self.alignment = (
            None if alignment == "none"
            else QueryCrossAttention(self.modalities, d_model, n_heads, dropout, gated=alignment == "dca")
        )
        self.fusion = Fusion(fusion, self.in_dims, d_model, n_heads, dropout)
        self.head = ScoreHead(scoring, n_queries, self.fusion.out_dim, query_head=query_head,
                              score_hidden=score_hidden, mlp_hidden=d_model, dropout=dropout)

    # ----- construction helpers -----

    @staticmethod
    def _select_modalities(in_dims: Mapping[str, int], modalities: Sequence[str] | None) -> dict[str, int]:
        if not in_dims:
            raise ValueError("in_dims is empty: give modality -> input dimension, e.g. {'rgb': 1024}.")
        for m, dim in in_dims.items():
            if not isinstance(dim, int) or dim < 1:
                raise ValueError(f"in_dims[{m!r}] = {dim!r}: a feature dimension must be a positive int.")
        if modalities is None:
            return dict(in_dims)
        if isinstance(modalities, str):
            modalities = (modalities,)
        missing = [m for m in modalities if m not in in_dims]
        if missing:
            raise ValueError(f"This model uses modalities {tuple(modalities)} but in_dims lacks {missing}; "
                             f"in_dims has {sorted(in_dims)}.")
        if not modalities or len(set(modalities)) != len(modalities):
            raise ValueError(f"modalities must be a non-empty list without repeats, got {tuple(modalities)}.")
        return {m: in_dims[m] for m in modalities}

    def _per_modality(self, name: str, weights: Mapping[str, float] | None) -> dict[str, float]:
        weights = dict(weights or {})
        unknown = sorted(set(weights) - set(self.modalities))
        if unknown:
            raise ValueError(f"{name} names {unknown}, which this model does not use; modalities: {self.modalities}.")
        return {m: float(weights.get(m, 1.0)) for m in self.modalities}

    @staticmethod
    def _resolve_layers(centre_layers: str | Sequence[int], n_layers: int) -> tuple[int, ...]:
        if centre_layers == "all":
            return tuple(range(n_layers))
        if centre_layers == "last":
            return (n_layers - 1,)
        if isinstance(centre_layers, str):
            raise ValueError(f"Unknown centre_layers={centre_layers!r}; valid values: all, last, or layer indices.")
        layers = set()
        for i in centre_layers:
            if not -n_layers <= int(i) < n_layers:
                raise ValueError(f"centre_layers has index {i}, but the decoder has {n_layers} layers.")
            layers.add(int(i) % n_layers)
        if not layers:
            raise ValueError("centre_layers is empty: give 'all', 'last' or at least one layer index.")
        return tuple(sorted(layers))

    def _check_pooled(self, fusion: str, alignment: str, scoring: str) -> None:
        problems = []
        if fusion != "concat":
            problems.append(f"fusion={fusion!r} (only 'concat')")
        if alignment != "none":
            problems.append(f"alignment={alignment!r} (only 'none')")
        if not scoring.startswith("one_stage"):
            problems.append(f"scoring={scoring!r} (only one_stage_linear / one_stage_mlp)")
        for key in ("ranking", "sparsity", "consistency", "mtc"):
            if self.lambdas[key] != 0:
                problems.append(f"lambda for {key} = {self.lambdas[key]} (no attention maps or query features: use 0)")
        if problems:
            raise ValueError("encoder='pooled' (the Table 5 baseline) does not support: " + "; ".join(problems) + ".")

    # ----- forward -----

    def forward(self, features: Mapping[str, Tensor], mask: Tensor | None = None) -> ModelOutput:
        """``features[m]`` ``[B, T, D_m]`` and ``mask`` ``[B, T]`` (True = real segment) → :class:`ModelOutput`.

        ``aux``: ``attention`` (modality → per-layer ``[B, T, K]`` maps), ``centres`` (modality → per-layer
        ``[B, K]`` centres of the layers in ``centre_layers``, in the losses' unit), ``query_features``
        (modality → ``[B, K, d]``), ``query_scores`` ``[B, K]``, ``query_weights`` (``[K]``, softmaxed; ``[B, K]``
        for the attention fusion), ``lengths`` ``[B]``. Heads without per-query scores (one-stage, pooled
        baseline) give ``None`` for the last two; the pooled baseline has empty ``attention`` / ``centres``.
        """
        xs, mask = check_inputs(features, mask, self.in_dims, model="LMAC-Net")
        lengths = mask.sum(dim=1)
        attention: dict[str, list[Tensor]] = {}
        centres: dict[str, list[Tensor]] = {}
        query_feats: dict[str, Tensor] = {}
        if self.encoder_kind == "pooled":
            pooled = torch.cat([  # mean over each video's real segments
                xs[m].masked_fill(~mask[:, :, None], 0.0).sum(dim=1) / lengths[:, None].to(xs[m].dtype)
                for m in self.modalities
            ], dim=-1)
            score, query_scores, query_weights = self.head(self.drop(pooled)[:, None, :])
        else:
            for m in self.modalities:
                query_feats[m], attention[m] = self.encoders[m](xs[m], mask)  # Eqs. 4–7
                centres[m] = [attention_center(attention[m][i], normalise=self.normalise_centres, lengths=lengths)
                              for i in self.centre_layers]  # Eq. 14
            aligned = self.alignment(query_feats) if self.alignment is not None else query_feats
            fused = self.fusion(aligned, xs, mask)  # Eq. 8
            score, query_scores, query_weights = self.head(fused)  # Eqs. 9–10
        aux = {"attention": attention, "centres": centres, "query_features": query_feats,
               "query_scores": query_scores, "query_weights": query_weights, "lengths": lengths}
        return ModelOutput(score=score, aux=aux)

    # ----- loss -----

    def ranking_margin(self, lengths: Tensor) -> Tensor:
        """Per-video ranking margin ``[B]`` in the centres' unit (segments, or fractions when normalised)."""
        lengths = lengths.to(torch.get_default_dtype())
        if self.margin is None:
            margin = 0.5 * (lengths - 1) / (self.n_queries + 1)
            return margin / lengths if self.normalise_centres else margin
        return torch.full_like(lengths, float(self.margin))

    def loss(self, output: ModelOutput, labels: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        """Eq. 11: ``λ_mse·MSE + λ_rank·L_rank + λ_sp·L_sp + λ_cons·L_cons (+ λ_mtc·L_mtc)``.

        Per decoder layer in ``centre_layers`` and per modality m (Eqs. 15–16): ``α_m·L_rank`` (boundaries at
        each video's first and last real segment) and ``β_m·L_sp``; per layer, ``L_cons`` over all modality
        pairs (Eq. 17); all summed over layers. ``parts`` holds every term *unweighted* (also those whose
        λ is 0, for logging); ``total`` adds the terms with a non-zero λ.

        Every term is computed in float32 with autocast disabled (ours): under bf16 autocast the centres,
        margins and spreads would otherwise be rounded to bfloat16, a grid as coarse as the ranking margin
        (:mod:`aqa_lib.centres`), and the MTC logits (divided by τ = 0.07) lose as much.
        """
        aux = output.aux
        score = _float32(output.score)
        zero = score.new_zeros(())
        parts = {"mse": mse_loss(score, _float32(labels)), "ranking": zero, "sparsity": zero,
                 "consistency": zero, "mtc": zero}
        if aux["attention"]:
            with torch.autocast(device_type=score.device.type, enabled=False):
                lengths = _float32(aux["lengths"])
                margin = _float32(self.ranking_margin(aux["lengths"]))
                first, last = (1.0 / lengths, 1.0) if self.normalise_centres else (1.0, lengths)
                spread_norm = lengths if self.normalise_centres else None
                ranking = sparsity = consistency = zero
                for pos, layer in enumerate(self.centre_layers):
                    centres = {m: _float32(aux["centres"][m][pos]) for m in self.modalities}
                    for m in self.modalities:
                        ranking = ranking + self.rank_weights[m] * ranking_loss(centres[m], last, margin,
                                                                                first_index=first)
                        sparsity = sparsity + self.sparsity_weights[m] * sparsity_loss(
                            _float32(aux["attention"][m][layer]), lengths=spread_norm)
                    consistency = consistency + consistency_loss(centres)
            parts.update(ranking=ranking, sparsity=sparsity, consistency=consistency)
        if len(aux["query_features"]) >= 2:
            with torch.autocast(device_type=score.device.type, enabled=False):
                feats = {m: _float32(f) for m, f in aux["query_features"].items()}
                parts["mtc"] = temporal_infonce_loss(feats, self.mtc_temperature)
        total = sum(self.lambdas[k] * v for k, v in parts.items() if self.lambdas[k] != 0)
        return total, parts


def _float32(x: Tensor) -> Tensor:
    """``x`` in float32 (float64 stays float64): the loss terms' precision whatever the autocast."""
    return x.to(torch.promote_types(x.dtype, torch.float32)) if x.is_floating_point() else x.to(torch.float32)


def build_lmac(in_dims: Mapping[str, int], **cfg: Any) -> LMACNet:
    """Build LMAC-Net for ``in_dims`` (modality → input dimension); ``cfg`` are :class:`LMACNet` arguments."""
    return LMACNet(in_dims, **cfg)


# ----- the training recipe (module docstring, "Training recipe") -----

LMAC_RECIPE = Recipe(
    family="lmac", source="LMAC-Net §4.2",
    optimiser={"rg": Optimiser("adamw", lr=9e-4, weight_decay=1e-4),
               ANY_DATASET: Optimiser("adamw", lr=9e-5, weight_decay=1e-4)},  # Fis-V's, and unknown datasets'
    scale_optimiser={"smoke": {"lr": 9e-4}, "quick": {"lr": 9e-4}},
    epochs={"quick": {"mtl_aqa": 36, ANY_DATASET: 12}},
    batch_size={"quick": 8},
    width={"smoke": {"d_model": 32, "d_ffn": 32, "n_heads": 4, "input_projection": True},
           "quick": {"d_model": 64, "d_ffn": 64, "input_projection": True}, "paper": {}},
    model_kwargs={"rg": {"dropout": 0.1}, ANY_DATASET: {"dropout": 0.2}},
)
"""LMAC-Net's training settings per dataset and scale (batch size: 8 at ``quick``, else the scales' default;
36 quick epochs on MTL-AQA, module docstring "Scales")."""


# ----- registered variants: the paper model and every ablation row -----

_NO_FEATURE_LOSSES = {"lambda_rank": 0.0, "lambda_sparsity": 0.0, "lambda_consistency": 0.0}
# Tables 5 and 6 were run with the one-stage linear head: their "Ours" rows equal Table 8 "one-stage / Linear".
_TABLE_5_6_HEAD = {"scoring": "one_stage_linear"}


def _register_all() -> None:
    register("lmac", build_lmac, paper="lmac", table="table3", reported_method="LMAC-Net", recipe=LMAC_RECIPE,
             description="LMAC-Net as in the paper: MLQE (3 × TPT decoder, K=5, 4 layers), concat fusion, "
                         "two-level score with softmaxed weights, MSE + ranking + sparsity + consistency losses.")

    table5 = [
        ("baseline", "Baseline (concatenation + linear regression)",
         "Per-modality mean over real segments, concatenated, one linear layer; MSE only (paper's baseline; "
         "mean pooling is our reading).",
         {"encoder": "pooled", **_NO_FEATURE_LOSSES}),
        ("mlqe", "Baseline + MLQE",
         "Query decoders per modality, concat fusion, one-stage linear head; MSE only.",
         {**_NO_FEATURE_LOSSES}),
        ("mlqe_ranking", "Baseline + MLQE + ranking loss",
         "MLQE + multimodal ranking loss (Eq. 15); one-stage linear head.",
         {"lambda_sparsity": 0.0, "lambda_consistency": 0.0}),
        ("mlqe_ranking_sparsity", "Baseline + MLQE + ranking loss + sparsity loss",
         "MLQE + ranking + sparsity losses (Eqs. 15–16); one-stage linear head.",
         {"lambda_consistency": 0.0}),
        ("ours", "Full: MLQE + ranking + sparsity + consistency losses (Ours)",
         "MLQE + ranking + sparsity + consistency losses; one-stage linear head (its numbers equal Table 8's "
         "one-stage / Linear row).",
         {}),
    ]
    for slug, method, text, overrides in table5:
        register(f"lmac/table5/{slug}", build_lmac, paper="lmac", table="table5", reported_method=method,
                 recipe=LMAC_RECIPE,
                 description=f"Table 5: {text}", **{**_TABLE_5_6_HEAD, **overrides})

    table6 = [
        ("cca_concat", "Cross-modal Collaborative Attention + Concatenation",
         "each modality's queries attend over time to the other modalities' segments (our reading), then concat."),
        ("cca_sum", "Cross-modal Collaborative Attention + Summation",
         "collaborative attention (our reading), then element-wise sum."),
        ("cca_dynamic", "Cross-modal Collaborative Attention + Dynamic Weighting",
         "collaborative attention (our reading), then a per-query softmax over modalities of linear scores."),
        ("concat_attention", "Concatenation + Attention",
         "concat, then 8-head self-attention among the K fused query tokens (residual + LN)."),
        ("sum_attention", "Summation + Attention",
         "sum, then 8-head self-attention among the K fused query tokens (residual + LN)."),
        ("sum", "Summation", "element-wise sum of the modalities' query features."),
        ("concat", "Concatenation (Ours)", "concatenation of the modalities' query features (the paper's)."),
    ]
    for slug, method, text in table6:
        register(f"lmac/table6/{slug}", build_lmac, paper="lmac", table="table6", reported_method=method,
                 recipe=LMAC_RECIPE,
                 description=f"Table 6 fusion: {text} All losses; one-stage linear head (our reading).",
                 fusion=slug, **_TABLE_5_6_HEAD)

    table7 = [
        ("rgb", "RGB", ("rgb",)), ("flow", "Flow", ("flow",)), ("audio", "Audio", ("audio",)),
        ("rgb+flow", "RGB+Flow", ("rgb", "flow")), ("rgb+audio", "RGB+Audio", ("rgb", "audio")),
        ("flow+audio", "Flow+Audio", ("flow", "audio")), ("all", "RGB+Flow+Audio", ("rgb", "flow", "audio")),
    ]
    for slug, method, subset in table7:
        register(f"lmac/table7/{slug}", build_lmac, paper="lmac", table="table7", reported_method=method,
                 recipe=LMAC_RECIPE,
                 description=f"Table 7: the full model on {method} only (one query decoder per modality used; "
                             "the consistency loss is 0 with one modality).",
                 modalities=subset)

    table8 = [
        ("one_stage_mlp", "one-stage / MLP", "query-averaged features → MLP (D → d → 1)."),
        ("one_stage_linear", "one-stage / Linear", "query-averaged features → one linear layer."),
        ("average", "two-level / Average", "per-query linear scores, averaged."),
        ("mlp", "two-level / MLP", "per-query linear scores → MLP (K → 16 → 1; width ours)."),
        ("linear", "two-level / Linear", "per-query linear scores → Linear(K → 1)."),
        ("attention", "two-level / Attention",
         "per-query linear scores weighted by a softmax of self-attention importances (our reading)."),
        ("weight", "two-level / Weight (Ours)", "per-query linear scores, Σ softmax(w)_k s_k (the paper's)."),
    ]
    for slug, method, text in table8:
        register(f"lmac/table8/{slug}", build_lmac, paper="lmac", table="table8", reported_method=method,
                 recipe=LMAC_RECIPE,
                 description=f"Table 8 scoring: {text} Full model otherwise.", scoring=slug)

    table9 = [
        ("ca", "Cross-Attention (CA)",
         "bidirectional cross-attention between the modalities' query features instead of the consistency "
         "loss (our reading).",
         {"alignment": "ca", "lambda_consistency": 0.0}),
        ("dca", "Dynamic Cross-Attention (DCA)",
         "cross-attention with a sigmoid gate between original and aligned query features, instead of the "
         "consistency loss (our reading).",
         {"alignment": "dca", "lambda_consistency": 0.0}),
        ("mtc", "Multimodal Temporal Contrastive Loss (MTC Loss)",
         "InfoNCE across modalities per (video, query) token, weight 0.1, instead of the consistency loss "
         "(weight and negatives ours).",
         {"lambda_mtc": 0.1, "lambda_consistency": 0.0}),
        ("ours", "Ours", "the attention-centre consistency loss (the full model).", {}),
    ]
    for slug, method, text, overrides in table9:
        register(f"lmac/table9/{slug}", build_lmac, paper="lmac", table="table9", reported_method=method,
                 recipe=LMAC_RECIPE,
                 description=f"Table 9 alignment (image in the text; labels from §4.5 prose): {text}", **overrides)


_register_all()
