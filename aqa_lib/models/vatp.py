"""VATP-Net: Visual-semantic Alignment Temporal Parsing Network (the ``vatp`` paper), in one file.

Gedamu et al., IEEE TCSVT 2025. Reading order: the losses (§III-D/F, Eqs. 8–11, 14–16: :func:`reparameterise`,
:func:`regression_loss`, :func:`diversity_loss`, :func:`alignment_loss`, :func:`global_contrastive_loss`),
the Drop-DTW positives (Eq. 7: :func:`drop_dtw_positives`), the blocks (:class:`TemperedAttention`,
:class:`DecoderLayer`, :class:`DecoderStack`, :class:`ScoreDistributionHead`), :class:`VATPNet` (the model and
its loss), then the recipe and the registered variants (Tables I–IX, Fig. 6).

The model (paper §III, Figs. 2–4)
---------------------------------
1. **Projections.** Video features ``[B, T, D]`` (I3D on MTL-AQA, VST on RG / Fis-V / FineFS; D from the
   data) go through GDLT's ``Conv1×1(D → D/2)-BN-ReLU-Conv1×1(D/2 → d)-BN`` per segment (padding masked out
   of the BatchNorm statistics: :class:`aqa_lib.models.mlavl.Projection`). Text features ``[B, L, D_t]`` go
   through one linear layer (§III-C: "the semantic context queries Q_t are derived from the projection matrix
   of the semantic action feature F_t").
2. **Temporal enhancement (TE, §III-B1).** "Similarly to [GDLT], we adopt a self-attention encoder": one
   post-norm Transformer encoder layer with a final LayerNorm over the T segments (GDLT's encoder,
   :class:`aqa_lib.models.mlavl.Encoder`), padded segments masked.
3. **Visual ParseFormer decoder (PD, §III-B2, Eqs. 3–4, Fig. 3).** S learnable queries ``Q_v`` decode the
   TE output through ``n_blocks`` post-norm decoder layers (query self-attention, multi-head cross-attention
   over time with a learnable temperature τ — ``softmax(q·k / (√d_h · τ))``, Eq. 3 —, FFN, each with residual
   + LayerNorm, Eq. 4) and a final LayerNorm. The query state starts at zero and ``Q_v`` is added to it in
   every attention's query (the "(F_v + Q_v)" of Eq. 3, DETR / TPT style). Output: S sub-action features
   ``F̄_v`` ``[B, S, d]`` and, per layer, each query's attention over time ``[B, T, S]``.
4. **Context-aware decoder (CD, §III-C, Eqs. 5–6, Fig. 4).** The projected text tokens are the queries (and
   the initial state: Eq. 6 adds the attended visual values to ``F_t``), the TE output is the memory; the
   same decoder layers as PD (text self-attention masked to real tokens, tempered cross-attention over time).
   Output: refined semantic features ``F̄_t`` ``[B, L, d]``.
5. **Score distribution (§III-E, Eqs. 12–14).** ``𝔽 = MLP(F̄)`` (two ReLU layers, d → d → d/2), ``μ(𝔽)``
   and ``σ(𝔽)`` linear (σ through a softplus). Training: ``ŷ = μ + ε·σ``, ε ~ N(0, 1) (re-parameterisation);
   evaluation (``model.eval()``): ``ŷ = μ``. The video-level feature ``F̄`` is the mean of the S sub-actions
   plus the masked mean of the L refined text tokens ("we integrate visual and semantic action features by
   fusing the two sets of features", §IV-B4; the sum is ours).
6. **Losses (§III-D, §III-F).** ``L_all = L_reg + β·L_div + L_alg + L_gc`` (Eq. 16): MSE on the sampled score
   (Eq. 15), the diversity of the sub-actions (Eq. 11), two InfoNCE terms over Drop-DTW positives within a
   video (Eqs. 7–9) and a global contrastive term with the other videos of the batch as negatives (Eq. 10).

Drop-DTW: which sequence is the steps (Eq. 7; :func:`drop_dtw_positives`)
------------------------------------------------------------------------
``M_vt = DD(F̄_v, F̄_t)`` is computed every forward pass with the exact Drop-DTW of :mod:`aqa_lib.drop_dtw` on
*detached* costs (no gradient flows through the matching; the contrastive losses use it as labels). The S
sub-actions are the **steps** (K = S) and the L text tokens the **sequence** (N = L), drops on the text side:

- Drop-DTW needs K ≤ N and drops only sequence elements. S = 2…6 is below almost every text length here
  (MTL-AQA commentary: 2–483 spoken tokens, median about 78; the RG / FS / LOGO vocabularies: 32 / 42 / 63
  actions); the other way round would need L ≤ S, which almost never holds.
- Most commentary tokens describe nothing of the dive (names, scores, chatter): they should be dropped,
  whereas every sub-action should find its description — which is exactly "every step matched, outlier
  clips dropped".
- StepFormer ([53], by Drop-DTW's authors, which the paper follows for its diversity and global losses)
  aligns its learnable step queries to the narration in the same direction.

A video whose text has fewer real tokens than S gets each token repeated ``⌈S / L_b⌉`` times before the
matching (what Drop-DTW's code does when K ≥ N); a sub-action matched to any copy is matched to the token.
Costs: :func:`aqa_lib.drop_dtw.alignment_costs` with its defaults (L2-normalised features, softmax over the
steps and a drop row at the top-30 % similarity), the training defaults of Drop-DTW's code.

What is the paper's and what is ours
------------------------------------
The paper fixes: the four components, S = 4 queries (Table III), 2 ParseFormer blocks (Table IV), the losses'
forms, Adam with lr 1e-3 and no weight decay, the RG epochs, DD multiplication on MTL-AQA, 1.81 M parameters.
Ours (each a constructor argument):

- **Widths** (see "Parameter count"): d = 128, FFN 3d, 8 heads, 1 TE layer, 2 CD layers, dropout 0.3 (GDLT's).
- **τ** learnable per cross-attention layer, initialised to 1 on top of the 1/√d_h scaling (``tau_init``).
- **γ** of Eq. 8 (the contrastive temperature): 0.1 (``gamma``). **β** of Eq. 16: 1 (``lambda_div``).
- **Eq. 8 with several positives**: a sub-action matched to a run of tokens averages Eq. 8 over its
  positives (``−1/|P| Σ_{t*∈P} log f(v,t*) / Σ_t f(v,t)``); a token's positive is the one sub-action it is
  matched to. Eq. 9's two terms are means over the anchors that have a positive (every sub-action; the
  matched tokens), per video, then over the videos.
- **Eq. 10 as printed**: ``L_gc = −log (1/M) Σ_i ratio_i`` — the log is *outside* the mean over the M
  sub-actions of the batch (a weaker objective than the mean of the logs; we follow the print). Positives:
  every real text token of the sub-action's own video; negatives: every real token of the other videos.
- **Eq. 11 as printed**: the mean pairwise cosine of the S sub-actions of a video (it can go below 0),
  averaged over the batch.
- **σ and L_reg.** The paper supervises the sampled ŷ with MSE only (Eq. 15), so E[(μ + εσ − y)²] =
  (μ − y)² + σ² and training drives σ towards 0: ``aux["sigma"]`` is exposed as the paper defines it, not as
  a calibrated uncertainty. σ = softplus(·), its bias initialised to −3 (σ ≈ 0.05 at the start), ours.
- **Which configuration is a "component" row** (Table I): without PD the pooled feature is the masked mean
  of the TE output (I3D+TE) or of the projected features (I3D+MLP: no re-parameterisation, Rep. "-"); without
  TE the ParseFormer reads the projected features (I3D+PD).

Text for datasets without commentary (``text_source``)
------------------------------------------------------
- ``"commentary"`` (MTL-AQA, the paper's): per-video text ``text`` ``[B, L, D_t]`` and ``text_mask`` ``[B, L]``
  from the data (the engine pads them: :mod:`aqa_lib.data.batching`), any ``text_dim`` D_t (BERT 768 in the
  paper; the project's MTL-AQA text is a 384-d sentence encoder: the recipe reads the dataset's ``text_dim``).
- ``"vocabulary"`` (ours, for RG / Fis-V / FineFS, which the paper "fine-tunes with the trained ParseFormer"
  without saying what its CD reads there): the sport's fixed action vocabulary, the N "a video of <action>"
  prompt embeddings of :func:`aqa_lib.data.text.load_prompts` (512-d, the same for every video; N = 32 RG,
  42 FS, 63 LOGO). The CD refines them per video; Drop-DTW then orders them as a sequence although the
  vocabulary has no temporal order (the alignment is only a soft partition of the vocabulary there).
  **Measured caveat**: with the vocabulary, Eq. 10's negatives (other videos' tokens) are the same prompts as
  its positives, and at quick on the real Fis-V RGB features L_alg + L_gc dominate the loss: TES ρ 0.170 /
  0.112 (papers / last), PCS 0.300 / 0.296, against 0.613 / 0.613 and 0.742 / 0.742 with ``lambda_alg =
  lambda_gc = 0`` (``benchmarks/real_fisv_rgb.py`` jobs ``vatp_align`` and ``vatp``). So **the recipe turns
  both off wherever the text is the vocabulary** (ours; L_reg + L_div remain, and the CD still reads the
  vocabulary). Pass ``lambda_alg=1.0, lambda_gc=1.0`` for the literal reading; registered rows that set
  their own λ (the loss ablations) keep them.
- ``"none"``: no semantic branch; L_alg and L_gc are off whatever their λ.

MTL-AQA with difficulty degree (``use_dd``; Table IX "w/ DD")
-------------------------------------------------------------
Following CoRe (§IV-A2), the head regresses the *execution* score and the prediction is multiplied by DD.
With labels ``y = final_score / norm`` (norm = 110, the registry's MTL-AQA constant) and the execution sum of
three judges at most 30: the head's output is ``e ≈ final_score / (30 · DD)`` ∈ [0, 1], the model's score
is ``e · DD / dd_scale`` with ``dd_scale = norm / 30 = 110 / 30`` (so it is again ``final_score / norm``), and
L_reg is the MSE between the sampled e and ``y · dd_scale / DD`` ("the training target is then effectively
score / DD"). The model reads ``dd`` (``batch_inputs``); ``aux["mu"]`` / ``aux["sigma"]`` are on the score's
scale, ``aux["head_score"]`` on the head's. Pass ``dd_scale`` when labels use another norm.

Parameter count vs the paper's 1.81 M (Tables IV, VIII)
-------------------------------------------------------
The text gives no width. One fact pins it: Table IV adds 0.46–0.47 M per two ParseFormer blocks (1.81, 2.27,
2.74, 3.20, 3.66 M for 2–10 blocks), i.e. about 0.231 M per block. One post-norm decoder layer (query
self-attention, cross-attention, FFN, three LayerNorms) has ``8d² + 2·d·d_ffn + …`` parameters: 231,680 at
**d = 128 with FFN 384 = 3d** — GDLT's own decoder layer (d = 256, FFN 3d, 922,112 parameters) at half width,
GDLT being the paper's reference for its encoder — plus one τ. Its neighbours miss: d = 128 with FFN 2d or 4d
gives 198,784 / 264,576, d = 96 and 160 (FFN 3d) 130,752 / 361,280. The rest of the 1.81 M is a fit, not a fact: several natural configurations land on
every figure of Table IV after rounding, ours is one of them: GDLT's video projection (1024 → 512 → 128,
591,744), a linear text projection (768 → 128, 98,432), 1 TE layer + LayerNorm (165,632), PD (2 × 231,681 +
LayerNorm + S·d queries = 464,130), CD with 2 layers + LayerNorm (463,618) and the head (d → d → d/2 → μ, σ:
24,898): **1,808,454** parameters with 1024-d video and 768-d BERT text (``tests/test_vatp.py`` pins it and
2,271,816 / 2,735,178 / 3,198,540 / 3,661,902 for 4–10 blocks: 2.27 / 2.74 / 3.20 / 3.66 M, every printed
figure). With the 512-d vocabulary instead of BERT: 1,775,686; with the project's 384-d MTL-AQA text:
1,759,302. Heads (8, ours; the paper says "multihead") do not change the count.

Variants (registered names; reported row labels in ``papers_tables/vatp``)
--------------------------------------------------------------------------
- ``vatp``: the paper model (Table VIII's row; also the VATP-Net rows of Tables X–XII on RG / Fis-V /
  FineFS, with the vocabulary as text). ``vatp/i3d_mlp``, ``vatp/i3d_te``: Fig. 6's two baselines.
- ``vatp/tableI/{i3d_mlp, i3d_te, i3d_pd, i3d_te_pd, vatp}``: components (Rep., TE, PD, CD); the ablation rows
  train with L_reg only (Table V shows Table I's I3D+TE+PD number is its L_reg-only row).
- ``vatp/tableII/{vst_te, vst_te_pd, vatp}``: the same components on RG (VST features are RG's ``rgb``).
- ``vatp/tableIII/s{2..6}``: S queries. ``vatp/tableIV/blocks{2,4,6,8,10}``: ParseFormer blocks.
- ``vatp/tableV/*``: the loss ablation, ten rows. Rows 6 and 7 print the same check-marks (L_reg + l_div);
  we read row 7 as **L_reg + l_div + L_alg**: rows 7–9 are then the three leave-one-out ablations of the
  auxiliary losses (without L_gc, L_alg, L_div), and §IV-B4 says adding the alignment loss "further enhances
  performance". Row 6 is as printed.
- ``vatp/tableVI/{i3d_mlp, gdlt, rgb, rgb_semantics}``: GDLT is the project's ``gdlt`` (its own recipe);
  "VATP-Net: RGB" is the full model with ``text_source="none"`` (0.9547, equal to Table V's I3D+TE+PD +
  l_div row, which is that model).
- ``vatp/tableVII/{i3d_mlp, gdlt, i3d, i3d_bert}``: the I3D rows; "I3D" without BERT is the semantic branch
  removed (as Table VI's RGB row; the printed 0.9531 equals Table I's I3D+TE+PD instead).
- ``vatp/tableVIII/vatp``; ``vatp/tableIX/{w_dd, wo_dd}``: MTL-AQA with and without DD.

Reported-only rows, and why:

- Table VII "VATP-Net (VST)" and "(VST+BERT)": the backbone is the data's, not the model's: these are the
  I3D rows' models on MTL-AQA VST features, which the project does not have (registering them would train
  the I3D run under a VST label).
- Table X "VATP-Net (I3D)" on RG: no I3D RGB features of RG here (RG's ``rgb`` is VST).
- Every other method of Tables VI–XII (CoRe, TAP, FSPN, SGN, USDL, MUSDL, H-GCN, PCLA, C3D-LSTM, MSCADC,
  C3D-AVG, TSA-Net, UD-AQA, NAE, FineParser, C3D+SVR, MS-LSTM, ACTION-NET, CoFInAl, TPT, TSA, LUSD-Net): other
  papers' models. GDLT is the project's ``gdlt`` (registered here for Tables VI–VII; in Tables X–XII it is
  the ``gdlt`` variant itself).

Training recipe (§IV-A2; :data:`VATP_RECIPE`)
---------------------------------------------
Paper: Adam, lr 1e-3, weight decay 0; RG epochs Ball 300 / Clubs 400 / Hoop 500 / Ribbon 300. The engine's
cosine decay to 0 over the run (the paper names an initial lr only). Ours: MTL-AQA 200 epochs (CoRe's, whose
protocol the paper follows there), Fis-V and FineFS 300 (the shortest RG schedule), batch size 32 (GDLT's) at
every dataset; training crops are the dataset's ``train_window``. Per dataset the recipe sets the text source
(MTL-AQA: commentary at the dataset's ``text_dim``, with DD; RG: RG vocabulary; Fis-V, FineFS, FS1000: FS;
LOGO: LOGO; others: none).

Fine-tuning from an MTL-AQA-trained ParseFormer (§IV-A2, Tables II, X–XII) does not fit
:class:`aqa_lib.recipes.Pretraining`: its stage-1 runs are on the run's own dataset and target. The engine's
``init_from`` can express it (a source run on any dataset): :func:`aqa_lib.experiments.vatp.finetune_config`
builds the run with the ``parse`` submodule initialised from ``vatp`` trained on MTL-AQA. A declarative recipe
would need ``Pretraining.dataset`` / ``target`` fields (the source run's; "" = this run's) read by
``config_for``, and one source run when ``into`` names no ``{modality}``.

Scales (ours): ``smoke`` d = 16, 2 heads, projection hidden width 32, 2 epochs (runs, says nothing);
``quick`` d = 32, 4 heads, projection hidden width 128 (GDLT's D/2 = 512 made the projection most of a quick
step), 20 epochs (15 on MTL-AQA, whose commentaries run to 483 tokens: the context decoder's self-attention
over them dominates a step); ``paper`` the configuration above. Measured once (seed 0, synthetic data,
``vatp``, 2 threads on a shared 2-core CPU under a load of 5–6 from other jobs): quick RG Ball 227 s (4 s per
epoch in the quieter minutes, 11 s on average), test Spearman 0.67 at the last epoch; quick MTL-AQA 339 s
(22 s per epoch), 0.73. Smoke runs: 14 s (RG) and 25 s (MTL-AQA) under that load, a few seconds when quiet.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..data.registry import get_spec
from ..data.text import load_prompts
from ..drop_dtw import alignment_costs, drop_dtw
from ..losses import mse_loss
from ..recipes import ANY_DATASET, Optimiser, Recipe
from .base import ModelOutput, check_inputs, register, registrar
from .baselines import GDLT_RECIPE, build_gdlt
from .mlavl import Encoder, FeedForward, Projection

TEXT_SOURCES = ("commentary", "vocabulary", "none")
EXECUTION_MAX = 30.0
"""The largest MTL-AQA execution score: three judges' scores of at most 10 each (final = DD × execution)."""
DD_SCALE = get_spec("mtl_aqa").norm["score"] / EXECUTION_MAX
"""``norm / 30``: the model's score is ``e · DD / DD_SCALE`` for a head output e ∈ [0, 1] (module docstring)."""


SIGMA_BIAS_INIT = -3.0
"""Initial bias of the σ layer: σ = softplus(−3 + …) ≈ 0.05 on labels in [0, 1] (ours; softplus(0) = 0.69
would drown the first epochs' regression in sampling noise)."""


def _check_option(name: str, value: Any, valid: Sequence[str]) -> None:
    if value not in valid:
        raise ValueError(f"Unknown {name}={value!r}; valid values: {', '.join(map(str, valid))}.")


def masked_mean(x: Tensor, mask: Tensor) -> Tensor:
    """Mean of ``x`` ``[B, N, d]`` over its real rows (``mask`` ``[B, N]``); 0 for a video with none."""
    weights = mask.to(x.dtype)[..., None]
    return (x * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1.0)


# ---------------------------------------------------------------------------------------------------------
# Losses (§III-D, §III-E, §III-F)
# ---------------------------------------------------------------------------------------------------------

def reparameterise(mu: Tensor, sigma: Tensor | None, *, sample: bool) -> Tensor:
    """Eq. 14: ``ŷ = μ + ε·σ`` with ε ~ N(0, 1) when ``sample`` (training), else ``μ`` (evaluation)."""
    if not sample or sigma is None:
        return mu
    return mu + torch.randn_like(mu) * sigma


def regression_loss(pred: Tensor, target: Tensor) -> Tensor:
    """Eq. 15: ``L_reg = 1/N Σ (ŷ − y)²`` (the mean over the batch)."""
    return mse_loss(pred, target)


def diversity_loss(subactions: Tensor) -> Tensor:
    """Eq. 11: ``L_div = 1/(S(S−1)) Σ_i Σ_{j≠i} cos(F̄_v^i, F̄_v^j)`` per video, mean over the batch.

    ``subactions`` ``[B, S, d]``. With S = 1 there is no pair: 0.
    """
    s = subactions.shape[1]
    if s < 2:
        return subactions.sum() * 0.0
    unit = F.normalize(subactions, dim=-1)
    cos = unit @ unit.transpose(1, 2)  # [B, S, S]
    off_diagonal = cos.sum(dim=(1, 2)) - cos.diagonal(dim1=1, dim2=2).sum(dim=1)
    return (off_diagonal / (s * (s - 1))).mean()


def _cosine_logits(a: Tensor, b: Tensor, gamma: float) -> Tensor:
    """``cos(a_i, b_j) / γ``: ``[B, I, d]`` × ``[B, J, d]`` → ``[B, I, J]``."""
    return F.normalize(a, dim=-1) @ F.normalize(b, dim=-1).transpose(1, 2) / gamma


def alignment_loss(subactions: Tensor, semantics: Tensor, match: Tensor, text_mask: Tensor, *,
                   gamma: float = 0.1) -> Tensor:
    """Eqs. 8–9: ``L_alg``, two InfoNCE terms over the Drop-DTW positives ``M_vt`` within each video.

    Args:
        subactions: ``F̄_v`` ``[B, S, d]``. semantics: ``F̄_t`` ``[B, L, d]``.
        match: ``M_vt`` ``[B, S, L]`` (1 = positive pair, Eq. 7). text_mask: ``[B, L]`` (True = real token).
        gamma: the temperature γ of ``f = exp(cos / γ)``.

    Sub-action term: for each sub-action v with positives P_v, ``−1/|P_v| Σ_{t*∈P_v} log f(v,t*) / Σ_t f(v,t)``
    (t over the video's real tokens). Token term: for each matched token t, the same with the sub-actions as
    candidates. Each term is the mean over its anchors with a positive; their sum is averaged over the videos
    that have a match (0 when none has).
    """
    logits = _cosine_logits(subactions, semantics, gamma)  # [B, S, L]
    positive = (match > 0) & text_mask[:, None, :]
    over_tokens = logits.masked_fill(~text_mask[:, None, :], float("-inf")).log_softmax(dim=2)
    over_subactions = logits.log_softmax(dim=1)

    def term(log_p: Tensor, dim: int) -> tuple[Tensor, Tensor]:
        count = positive.sum(dim=dim)
        anchor = -torch.where(positive, log_p, 0.0).sum(dim=dim) / count.clamp(min=1)
        has = count > 0
        per_video = (anchor * has).sum(dim=1) / has.sum(dim=1).clamp(min=1)
        return per_video, has.any(dim=1)

    v_term, video_ok = term(over_tokens, 2)
    t_term, _ = term(over_subactions, 1)
    if not bool(video_ok.any()):
        return logits.sum() * 0.0
    return (v_term + t_term)[video_ok].mean()


def global_contrastive_loss(subactions: Tensor, semantics: Tensor, text_mask: Tensor, *,
                            gamma: float = 0.1) -> Tensor:
    """Eq. 10 as printed: ``L_gc = −log 1/M Σ_i [Σ_{t∈P} f(v_i,t)] / [Σ_{t∈P} f(v_i,t) + Σ_{t∈N} f(v_i,t)]``.

    Every sub-action ``v_i`` of the batch is an anchor (M = B·S, over the videos that have text); its
    positives P are the real text tokens of its own video, its negatives N those of the other videos. The
    log is outside the mean, as printed. ``subactions`` ``[B, S, d]``, ``semantics`` ``[B, L, d]``,
    ``text_mask`` ``[B, L]``. With one video there are no negatives and the loss is 0.
    """
    b, s, _ = subactions.shape
    tokens = F.normalize(semantics, dim=-1).reshape(-1, semantics.shape[-1])  # every token of the batch
    logits = (F.normalize(subactions, dim=-1) @ tokens.T / gamma).view(b, s, b, -1)  # [B, S, B, L]
    real = text_mask[None, None, :, :].expand_as(logits)
    own = torch.eye(b, dtype=torch.bool, device=logits.device)[:, None, :, None].expand_as(logits)
    log_all = logits.masked_fill(~real, float("-inf")).flatten(2).logsumexp(dim=2)  # [B, S]
    log_pos = logits.masked_fill(~(real & own), float("-inf")).flatten(2).logsumexp(dim=2)
    has_text = text_mask.any(dim=1)
    if not bool(has_text.any()):
        return logits.sum() * 0.0
    log_ratio = (log_pos - log_all)[has_text].flatten()  # log of each anchor's ratio, M of them
    return -(log_ratio.logsumexp(dim=0) - math.log(log_ratio.numel()))


# ---------------------------------------------------------------------------------------------------------
# Drop-DTW positives (Eq. 7)
# ---------------------------------------------------------------------------------------------------------

def repeat_short_texts(text: Tensor, text_mask: Tensor, n_steps: int) -> tuple[Tensor, Tensor, Tensor]:
    """Repeat each token ``⌈n_steps / L_b⌉`` times in the videos with fewer real tokens L_b than steps.

    Returns the texts ``[B, N, d]`` with every video's real tokens first, their mask ``[B, N]`` and, per
    position, the index of the original token ``[B, N]`` (−1 on padding). Videos with ``L_b ≥ n_steps`` keep
    their tokens once; a video with no real token stays empty.
    """
    count = text_mask.sum(dim=1)
    reps = torch.where((count > 0) & (count < n_steps), (n_steps + count - 1) // count.clamp(min=1), 1)
    new_count = count * reps
    width = max(1, int(new_count.max()))
    order = torch.argsort((~text_mask).to(torch.int8), dim=1, stable=True)  # real tokens first, in order
    pos = torch.arange(width, device=text.device)[None, :]
    mask = pos < new_count[:, None]
    slot = torch.minimum(pos // reps[:, None], (count[:, None] - 1).clamp(min=0))
    source = torch.gather(order, 1, slot.clamp(max=text.shape[1] - 1))
    source = torch.where(mask, source, -1)
    rows = torch.gather(text, 1, source.clamp(min=0)[..., None].expand(-1, -1, text.shape[-1]))
    return rows * mask[..., None].to(text.dtype), mask, source


@torch.no_grad()
def drop_dtw_positives(subactions: Tensor, semantics: Tensor, text_mask: Tensor) -> tuple[Tensor, Tensor]:
    """Eq. 7: ``M_vt = DD(F̄_v, F̄_t)`` by the exact Drop-DTW on detached costs, sub-actions as the steps.

    Args:
        subactions: ``[B, S, d]`` (the K = S steps). semantics: ``[B, L, d]`` (the N = L sequence; drops here).
        text_mask: ``[B, L]`` True = real token.

    Returns ``match`` ``[B, S, L]`` (1 = sub-action s matched to token t) and ``labels`` ``[B, L]`` (the
    sub-action each token is matched to, −1 for dropped tokens and padding). Short texts are repeated
    (:func:`repeat_short_texts`); videos without text get no match.
    """
    b, s, _ = subactions.shape
    match = subactions.new_zeros(b, s, semantics.shape[1], dtype=torch.float32)
    has_text = text_mask.any(dim=1)
    if bool(has_text.any()):
        with torch.autocast(device_type=subactions.device.type, enabled=False):
            steps = subactions[has_text].float()
            clips, clip_mask, source = repeat_short_texts(semantics[has_text].float(), text_mask[has_text], s)
            cost, drop = alignment_costs(steps, clips, clip_mask=clip_mask)
            found = drop_dtw(cost, drop, clip_mask=clip_mask).match.float() * clip_mask[:, None, :]
            back = torch.zeros_like(match[has_text])
            index = source.clamp(min=0)[:, None, :].expand(-1, s, -1)
            match[has_text] = back.scatter_reduce(2, index, found, reduce="amax")
    match = match * text_mask[:, None, :]
    labels = torch.where(match.amax(dim=1) > 0, match.argmax(dim=1), -1)
    return match, labels


# ---------------------------------------------------------------------------------------------------------
# Blocks
# ---------------------------------------------------------------------------------------------------------

class TemperedAttention(nn.Module):
    """Multi-head attention with an optional learnable temperature τ: ``softmax(q·k / (√d_h · τ))`` (Eqs. 3, 5).

    4·(d² + d) parameters (+1 for τ, kept positive through its logarithm). ``key_padding`` ``[B, S]`` True =
    ignore that key. Returns the output ``[B, Q, d]`` and the head-averaged weights ``[B, Q, S]``.
    """

    def __init__(self, d_model: int, n_heads: int, dropout: float, tau_init: float | None = None) -> None:
        super().__init__()
        if d_model % n_heads:
            raise ValueError(f"d_model={d_model} must be divisible by n_heads={n_heads}.")
        self.n_heads = n_heads
        self.q, self.k, self.v, self.o = (nn.Linear(d_model, d_model) for _ in range(4))
        self.log_tau = nn.Parameter(torch.tensor(math.log(tau_init))) if tau_init is not None else None
        self.drop = nn.Dropout(dropout)

    @property
    def tau(self) -> Tensor | None:
        return self.log_tau.exp() if self.log_tau is not None else None

    def forward(self, query: Tensor, key: Tensor, value: Tensor, key_padding: Tensor | None = None
                ) -> tuple[Tensor, Tensor]:
        b, lq, d = query.shape
        h = self.n_heads
        q = self.q(query).view(b, lq, h, d // h).transpose(1, 2)
        k = self.k(key).view(b, key.shape[1], h, d // h).transpose(1, 2)
        v = self.v(value).view(b, value.shape[1], h, d // h).transpose(1, 2)
        logits = q @ k.transpose(-1, -2) / math.sqrt(d // h)  # [B, h, Q, S]
        if self.log_tau is not None:
            logits = logits / self.log_tau.exp()
        if key_padding is not None:
            logits = logits.masked_fill(key_padding[:, None, None, :], float("-inf"))
        weights = logits.softmax(dim=-1)
        out = (self.drop(weights) @ v).transpose(1, 2).reshape(b, lq, d)
        return self.o(out), weights.mean(dim=1)


class DecoderLayer(nn.Module):
    """One ParseFormer / context-aware decoder layer (post-norm): self-attention among the queries, tempered
    cross-attention over the visual memory (Eqs. 3–6), FFN; each with residual, dropout and LayerNorm.

    ``pos`` (the ParseFormer's learnable queries) is added to the queries of both attentions and to the keys
    of the self-attention, never to the values (DETR / TPT).
    """

    def __init__(self, d_model: int, n_heads: int, d_ffn: int, dropout: float, tau_init: float) -> None:
        super().__init__()
        self.self_attn = TemperedAttention(d_model, n_heads, dropout)
        self.cross_attn = TemperedAttention(d_model, n_heads, dropout, tau_init)
        self.ffn = FeedForward(d_model, d_ffn, dropout)
        self.norm1, self.norm2, self.norm3 = (nn.LayerNorm(d_model) for _ in range(3))
        self.drop1, self.drop2, self.drop3 = (nn.Dropout(dropout) for _ in range(3))

    def forward(self, state: Tensor, memory: Tensor, *, pos: Tensor | None = None, state_pad: Tensor | None = None,
                memory_pad: Tensor | None = None) -> tuple[Tensor, Tensor]:
        q = state if pos is None else state + pos
        state = self.norm1(state + self.drop1(self.self_attn(q, q, state, state_pad)[0]))
        q = state if pos is None else state + pos
        attended, weights = self.cross_attn(q, memory, memory, memory_pad)
        state = self.norm2(state + self.drop2(attended))
        return self.norm3(state + self.drop3(self.ffn(state))), weights


class DecoderStack(nn.Module):
    """``n_layers`` :class:`DecoderLayer` and a final LayerNorm; returns the state and every layer's
    cross-attention ``[B, Q, T]``."""

    def __init__(self, n_layers: int, d_model: int, n_heads: int, d_ffn: int, dropout: float,
                 tau_init: float) -> None:
        super().__init__()
        self.layers = nn.ModuleList(DecoderLayer(d_model, n_heads, d_ffn, dropout, tau_init) for _ in range(n_layers))
        self.norm = nn.LayerNorm(d_model)

    def forward(self, state: Tensor, memory: Tensor, *, pos: Tensor | None = None, state_pad: Tensor | None = None,
                memory_pad: Tensor | None = None) -> tuple[Tensor, list[Tensor]]:
        maps = []
        for layer in self.layers:
            state, weights = layer(state, memory, pos=pos, state_pad=state_pad, memory_pad=memory_pad)
            maps.append(weights)
        return self.norm(state), maps


class ParseFormer(nn.Module):
    """The visual ParseFormer decoder (§III-B2, Fig. 3): S learnable queries over the visual memory."""

    def __init__(self, n_queries: int, n_blocks: int, d_model: int, n_heads: int, d_ffn: int, dropout: float,
                 tau_init: float) -> None:
        super().__init__()
        self.queries = nn.Parameter(torch.randn(n_queries, d_model))  # Q_v (nn.Embedding's initialisation)
        self.decoder = DecoderStack(n_blocks, d_model, n_heads, d_ffn, dropout, tau_init)

    def forward(self, memory: Tensor, memory_pad: Tensor) -> tuple[Tensor, list[Tensor]]:
        """``[B, T, d]`` → sub-actions ``[B, S, d]`` and per-layer attention ``[B, S, T]``."""
        state = memory.new_zeros(memory.shape[0], *self.queries.shape)
        return self.decoder(state, memory, pos=self.queries, memory_pad=memory_pad)


class ScoreDistributionHead(nn.Module):
    """Eqs. 12–14: ``𝔽 = MLP(F̄)`` (d → d → d/2, ReLU), ``μ(𝔽)`` and ``σ(𝔽) = softplus(·)``; ŷ sampled in
    training when ``reparam`` (the re-parameterisation trick), μ otherwise. Without ``reparam`` there is no σ."""

    def __init__(self, d_model: int, dropout: float, reparam: bool) -> None:
        super().__init__()
        hidden = max(1, d_model // 2)
        self.mlp = nn.Sequential(nn.Linear(d_model, d_model), nn.ReLU(), nn.Dropout(dropout),
                                 nn.Linear(d_model, hidden), nn.ReLU())
        self.mu = nn.Linear(hidden, 1)
        self.sigma = nn.Linear(hidden, 1) if reparam else None
        if self.sigma is not None:  # σ ≈ softplus(−3) ≈ 0.05 at the start (ours; labels lie in [0, 1])
            nn.init.constant_(self.sigma.bias, SIGMA_BIAS_INIT)

    def forward(self, pooled: Tensor) -> tuple[Tensor, Tensor, Tensor | None]:
        """``[B, d]`` → sampled (or deterministic) score, μ and σ (None without ``reparam``), each ``[B]``."""
        f = self.mlp(pooled)
        mu = self.mu(f).squeeze(-1)
        sigma = F.softplus(self.sigma(f).squeeze(-1)) if self.sigma is not None else None
        return reparameterise(mu, sigma, sample=self.training), mu, sigma


# ---------------------------------------------------------------------------------------------------------
# The model
# ---------------------------------------------------------------------------------------------------------

class VATPNet(nn.Module):
    """VATP-Net (module docstring): projections, TE, ParseFormer, context-aware decoder, score distribution.

    Args:
        in_dims: modality → feature dimension; ``modalities``: the one visual modality read (RGB).
        d_model, n_heads, ffn_mult, dropout: width (128), heads (8), FFN width ``ffn_mult · d`` (3), dropout.
        proj_hidden: hidden width of the video projection (None: half the input dimension, GDLT's).
        use_te, use_pd: the temporal enhancement encoder and the ParseFormer (Table I's TE / PD).
        text_source: ``"commentary"`` (per-video ``text`` / ``text_mask``), ``"vocabulary"`` (the ``sport``'s
            action prompts) or ``"none"`` (no CD, no L_alg / L_gc).
        reparam: sample the score in training (Eq. 14; Table I's "Rep.").
        n_queries: S (4). n_blocks: ParseFormer layers (2). n_te_layers (1), n_cd_layers (2).
        tau_init: initial τ of every cross-attention. text_dim: D_t of the commentary (768, BERT).
        sport, prompt_dir: the vocabulary's prompt set (``RG``, ``FS``, ``LOGO``) and an optional folder.
        use_dd, dd_scale: multiply the prediction by DD (MTL-AQA "w/ DD"; module docstring).
        lambda_reg, lambda_div (β), lambda_alg, lambda_gc: Eq. 16's weights; gamma: γ of Eqs. 8 and 10.
    """

    def __init__(self, in_dims: Mapping[str, int], *, modalities: Sequence[str] | None = ("rgb",),
                 d_model: int = 128, n_heads: int = 8, ffn_mult: int = 3, dropout: float = 0.3,
                 proj_hidden: int | None = None, use_te: bool = True, use_pd: bool = True,
                 text_source: str = "commentary", reparam: bool = True,
                 n_queries: int = 4, n_blocks: int = 2, n_te_layers: int = 1, n_cd_layers: int = 2,
                 tau_init: float = 1.0, text_dim: int = 768, sport: str = "", prompt_dir: str = "",
                 use_dd: bool = False, dd_scale: float = DD_SCALE, lambda_reg: float = 1.0, lambda_div: float = 1.0,
                 lambda_alg: float = 1.0, lambda_gc: float = 1.0, gamma: float = 0.1) -> None:
        super().__init__()
        self.modalities = tuple(modalities) if modalities is not None else ("rgb",)
        if len(self.modalities) != 1:
            raise ValueError(f"VATP-Net reads one visual modality; got modalities={self.modalities}.")
        self.visual = self.modalities[0]
        if self.visual not in in_dims:
            raise ValueError(f"VATP-Net reads {self.visual!r} but in_dims has {sorted(in_dims)}; pass "
                             "modalities=(one of those,).")
        _check_option("text_source", text_source, TEXT_SOURCES)
        for name, value in (("n_queries", n_queries), ("n_blocks", n_blocks), ("n_te_layers", n_te_layers),
                            ("n_cd_layers", n_cd_layers), ("ffn_mult", ffn_mult), ("text_dim", text_dim)):
            if not (isinstance(value, int) and value >= 1):
                raise ValueError(f"{name} must be a positive int, got {value!r}.")
        if not (tau_init > 0 and gamma > 0 and dd_scale > 0):
            raise ValueError(f"tau_init, gamma and dd_scale must be positive; got {tau_init}, {gamma}, {dd_scale}.")
        self.in_dims = {self.visual: int(in_dims[self.visual])}
        self.text_source, self.use_dd, self.dd_scale, self.gamma = text_source, use_dd, float(dd_scale), gamma
        d_ffn = ffn_mult * d_model
        self.proj = Projection(self.in_dims[self.visual], d_model, proj_hidden)
        self.encoder = Encoder(n_te_layers, d_model, n_heads, d_ffn, dropout) if use_te else None
        self.parse = (ParseFormer(n_queries, n_blocks, d_model, n_heads, d_ffn, dropout, tau_init)
                      if use_pd else None)
        self.text_proj: nn.Linear | None = None
        self.context: DecoderStack | None = None
        if text_source == "vocabulary":
            if not sport:
                raise ValueError("text_source='vocabulary' needs sport= (RG, FS or LOGO), the action prompt set.")
            prompts = load_prompts(sport, prompt_dir or None)
            self.register_buffer("vocabulary", torch.as_tensor(prompts.video_actions, dtype=torch.float32))
            text_dim = prompts.dim
        if text_source != "none":
            self.text_proj = nn.Linear(text_dim, d_model)
            self.context = DecoderStack(n_cd_layers, d_model, n_heads, d_ffn, dropout, tau_init)
        self.text_dim = text_dim
        self.head = ScoreDistributionHead(d_model, dropout, reparam)
        # Eq. 16's weights in effect: the terms of a missing component (no PD, no text) are off.
        aligned = use_pd and text_source != "none"
        self.lambdas = {"reg": float(lambda_reg), "div": float(lambda_div) if use_pd else 0.0,
                        "alg": float(lambda_alg) if aligned else 0.0, "gc": float(lambda_gc) if aligned else 0.0}

    @property
    def batch_inputs(self) -> tuple[str, ...]:
        """The per-video extras ``forward`` reads (:mod:`aqa_lib.models.base`)."""
        return (("text", "text_mask") if self.text_source == "commentary" else ()) + (("dd",) if self.use_dd else ())

    def _semantic_inputs(self, batch: int, text: Tensor | None, text_mask: Tensor | None) -> tuple[Tensor, Tensor]:
        if self.text_source == "vocabulary":
            vocab = self.vocabulary[None].expand(batch, -1, -1)
            return vocab, torch.ones(vocab.shape[:2], dtype=torch.bool, device=vocab.device)
        if text is None or text.ndim != 3 or text.shape[0] != batch or text.shape[-1] != self.text_dim:
            got = tuple(text.shape) if isinstance(text, Tensor) else None
            raise ValueError(f"VATP-Net (text_source='commentary') reads text of shape [B={batch}, L, "
                             f"{self.text_dim}], got {got}. Load data with per-video text (MTL-AQA), build the "
                             "model with text_dim= the text's width, or use text_source='vocabulary' / 'none'.")
        if text_mask is None:
            text_mask = torch.ones(text.shape[:2], dtype=torch.bool, device=text.device)
        if tuple(text_mask.shape) != tuple(text.shape[:2]):
            raise ValueError(f"text_mask has shape {tuple(text_mask.shape)}; VATP-Net expected "
                             f"{tuple(text.shape[:2])}, the text's [B, L].")
        return text, text_mask.bool()

    def _dd_factor(self, dd: Tensor | None, batch: int, ref: Tensor) -> Tensor:
        if not self.use_dd:
            return ref.new_ones(batch)
        if dd is None or dd.shape != (batch,):
            got = tuple(dd.shape) if isinstance(dd, Tensor) else None
            raise ValueError(f"VATP-Net with use_dd=True reads the difficulty degree dd of shape [{batch}], got "
                             f"{got}. Load MTL-AQA (extras 'dd') or build with use_dd=False.")
        if not bool((dd > 0).all()):
            raise ValueError("dd must be positive (the difficulty degree of each dive).")
        return dd.to(ref.dtype) / self.dd_scale

    def forward(self, features: Mapping[str, Tensor], mask: Tensor | None = None, *, text: Tensor | None = None,
                text_mask: Tensor | None = None, dd: Tensor | None = None) -> ModelOutput:
        """``features[m]`` ``[B, T, D]``, ``mask`` ``[B, T]`` (+ ``text`` / ``text_mask`` / ``dd``, see
        ``batch_inputs``) → :class:`ModelOutput`.

        ``aux``: ``lengths``; ``mu``, ``sigma`` (σ only with ``reparam``; both on the score's scale),
        ``head_score`` (the head's sampled output, on the head's scale) and ``dd_factor`` (score / head score);
        with the ParseFormer ``subactions`` ``[B, S, d]``, ``attention`` (per layer ``[B, T, S]``: each
        sub-action's attention over time) and ``parse_labels`` ``[B, T]`` (the sub-action of the last layer's
        largest attention per segment, −1 on padding); with text ``semantics`` ``[B, L, d]`` and ``text_mask``
        ``[B, L]``; with both ``match`` ``[B, L, S]`` (Drop-DTW's M_vt, tokens first) and ``match_labels``
        ``[B, L]`` (sub-action per token, −1 dropped or padding).
        """
        xs, mask = check_inputs(features, mask, self.in_dims, model="VATP-Net")
        b = mask.shape[0]
        pad = ~mask
        memory = self.proj(xs[self.visual], mask)
        if self.encoder is not None:
            memory = self.encoder(memory, pad)  # TE (§III-B1)
        aux: dict[str, Any] = {"lengths": mask.sum(dim=1)}
        pooled = masked_mean(memory, mask)
        if self.parse is not None:  # PD (Eqs. 3–4)
            subactions, maps = self.parse(memory, pad)
            attention = [m.transpose(1, 2) for m in maps]
            aux.update(subactions=subactions, attention=attention,
                       parse_labels=attention[-1].argmax(dim=2).masked_fill(pad, -1))
            pooled = subactions.mean(dim=1)
        if self.context is not None:  # CD (Eqs. 5–6)
            tokens, t_mask = self._semantic_inputs(b, text, text_mask)
            state_pad = ~t_mask & t_mask.any(dim=1, keepdim=True)  # a video without text attends to its zeros
            semantics, _ = self.context(self.text_proj(tokens), memory, state_pad=state_pad, memory_pad=pad)
            aux.update(semantics=semantics, text_mask=t_mask)
            pooled = pooled + masked_mean(semantics, t_mask)
            if self.parse is not None:  # M_vt (Eq. 7), no gradient
                match, labels = drop_dtw_positives(aux["subactions"].detach(), semantics.detach(), t_mask)
                aux.update(match=match.transpose(1, 2), match_labels=labels)
        sample, mu, sigma = self.head(pooled)  # Eqs. 12–14
        factor = self._dd_factor(dd, b, mu)
        aux.update(head_score=sample, mu=mu * factor, dd_factor=factor)
        if sigma is not None:
            aux["sigma"] = sigma * factor
        return ModelOutput(score=sample * factor, aux=aux)

    def loss(self, output: ModelOutput, labels: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        """Eq. 16: ``λ_reg·L_reg + β·L_div + λ_alg·L_alg + λ_gc·L_gc`` (1, 1, 1, 1).

        L_reg is the MSE of the head's sampled output against ``labels / dd_factor`` (the execution target
        with DD, the label otherwise). ``parts`` hold every term unweighted (0 for a missing component);
        ``total`` adds those with a non-zero weight in effect (``self.lambdas``).
        """
        aux = output.aux
        head = aux["head_score"].float()
        zero = head.new_zeros(())
        target = labels.to(head.dtype) / aux["dd_factor"].to(head.dtype)
        parts = {"reg": regression_loss(head, target), "div": zero, "alg": zero, "gc": zero}
        if "subactions" in aux:
            subactions = aux["subactions"].float()
            parts["div"] = diversity_loss(subactions)
            if "match" in aux:
                semantics, t_mask = aux["semantics"].float(), aux["text_mask"].bool()
                parts["alg"] = alignment_loss(subactions, semantics, aux["match"].transpose(1, 2), t_mask,
                                              gamma=self.gamma)
                parts["gc"] = global_contrastive_loss(subactions, semantics, t_mask, gamma=self.gamma)
        total = sum(self.lambdas[k] * v for k, v in parts.items() if self.lambdas[k] != 0)
        return total, parts


def build_vatp(in_dims: Mapping[str, int], **cfg: Any) -> VATPNet:
    """Build VATP-Net for ``in_dims`` (modality → input dimension); ``cfg`` are :class:`VATPNet` arguments."""
    return VATPNet(in_dims, **cfg)


# ---------------------------------------------------------------------------------------------------------
# Training recipe (module docstring, "Training recipe")
# ---------------------------------------------------------------------------------------------------------

_VOCABULARY = {"rg": "RG", "fisv": "FS", "finefs": "FS", "fs1000": "FS", "logo": "LOGO"}

VATP_RECIPE = Recipe(
    family="vatp", source="VATP-Net §IV-A2; MTL-AQA / Fis-V / FineFS epochs and batch size ours",
    optimiser={ANY_DATASET: Optimiser("adam", lr=1e-3, weight_decay=0.0)},
    epochs={"quick": {"mtl_aqa": 15, ANY_DATASET: 20}, "paper": 300},
    paper_epochs={"rg": {"Ball": 300, "Clubs": 400, "Hoop": 500, "Ribbon": 300}, "mtl_aqa": {"score": 200}},
    batch_size={"paper": 32},
    width={"smoke": {"d_model": 16, "n_heads": 2, "proj_hidden": 32},
           "quick": {"d_model": 32, "n_heads": 4, "proj_hidden": 128}, "paper": {}},
    model_kwargs={
        "mtl_aqa": {"text_source": "commentary", "text_dim": get_spec("mtl_aqa").text_dim, "use_dd": True},
        # vocabulary text: L_alg and L_gc off by default (module docstring, "Text for datasets without commentary")
        **{ds: {"text_source": "vocabulary", "sport": sport, "lambda_alg": 0.0, "lambda_gc": 0.0}
           for ds, sport in _VOCABULARY.items()},
        ANY_DATASET: {"text_source": "none"},
    },
)
"""VATP-Net's training settings per dataset and scale (module docstring, "Training recipe")."""


# ---------------------------------------------------------------------------------------------------------
# Registered variants: the paper model and every row it produces
# ---------------------------------------------------------------------------------------------------------

_REG_ONLY = {"lambda_div": 0.0, "lambda_alg": 0.0, "lambda_gc": 0.0}
_MLP = {"use_te": False, "use_pd": False, "text_source": "none", "reparam": False, **_REG_ONLY}
_TE = {"use_pd": False, "text_source": "none", **_REG_ONLY}
_PD = {"use_te": False, "text_source": "none", **_REG_ONLY}
_TE_PD = {"text_source": "none", **_REG_ONLY}
_RGB = {"text_source": "none"}


def _register_all() -> None:
    reg = registrar(build_vatp, paper="vatp", recipe=VATP_RECIPE)

    reg("vatp", "tableVIII", "VATP-Net", "VATP-Net as in the paper: GDLT-style projection, TE (1 layer), "
        "ParseFormer (S=4 queries, 2 blocks, learnable τ), context-aware decoder over the text, score "
        "distribution with re-parameterisation; L_reg + L_div + L_alg (Drop-DTW positives) + L_gc.")
    reg("vatp/i3d_mlp", "fig6", "I3D+MLP", "Fig. 6 baseline: projected features, masked mean over time, the "
        "score head's MLP (no re-parameterisation); MSE only.", **_MLP)
    reg("vatp/i3d_te", "fig6", "I3D+TE", "Fig. 6 baseline: TE, masked mean over time, score distribution "
        "head; MSE only.", **_TE)

    table1 = [
        ("i3d_mlp", "I3D+MLP (baseline)", "projection, mean over time, MLP head; no Rep.; L_reg.", _MLP),
        ("i3d_te", "I3D+TE", "TE, mean over time, score distribution head; L_reg.", _TE),
        ("i3d_pd", "I3D+PD", "ParseFormer on the projected features (no TE); L_reg.", _PD),
        ("i3d_te_pd", "I3D+TE+PD", "TE + ParseFormer, no semantic branch; L_reg (Table V's row of the same "
         "number).", _TE_PD),
        ("vatp", "I3D+TE+PD+CD (full)", "the full model (all losses).", {}),
    ]
    for slug, method, text, overrides in table1:
        reg(f"vatp/tableI/{slug}", "tableI", method, f"Table I (MTL-AQA, components): {text}", **overrides)

    table2 = [
        ("vst_te", "VST+TE", "TE, mean over time, score distribution head; L_reg.", _TE),
        ("vst_te_pd", "VST+TE+PD", "TE + ParseFormer, no semantic branch; L_reg.", _TE_PD),
        ("vatp", "VST+TE+PD+CD (full)", "the full model, the RG action vocabulary as text (ours).", {}),
    ]
    for slug, method, text, overrides in table2:
        reg(f"vatp/tableII/{slug}", "tableII", method, f"Table II (RG, VST features, components): {text}",
            **overrides)

    for s in range(2, 7):
        reg(f"vatp/tableIII/s{s}", "tableIII", f"S={s}", f"Table III: the full model with S={s} ParseFormer "
            "queries" + (" (the paper's)." if s == 4 else "."), n_queries=s)
    for n in (2, 4, 6, 8, 10):
        reg(f"vatp/tableIV/blocks{n}", "tableIV", f"blocks={n}", f"Table IV: the full model with {n} "
            "ParseFormer decoder blocks (layers)" + (" (the paper's)." if n == 2 else "."), n_blocks=n)

    table5 = [
        ("i3d_mlp", "I3D+MLP (baseline); L_reg", "Table I's baseline.", _MLP),
        ("i3d_te", "I3D+TE; L_reg", "Table I's I3D+TE.", _TE),
        ("i3d_te_pd", "I3D+TE+PD; L_reg", "Table I's I3D+TE+PD.", _TE_PD),
        ("i3d_te_pd_div", "I3D+TE+PD; L_reg + l_div", "TE + ParseFormer with the diversity loss.",
         {"text_source": "none", "lambda_alg": 0.0, "lambda_gc": 0.0}),
        ("reg", "VATP-Net; L_reg", "the full architecture trained with L_reg only.", _REG_ONLY),
        ("reg_div", "VATP-Net; L_reg + l_div (row 6)", "the full architecture, L_reg + L_div (as printed).",
         {"lambda_alg": 0.0, "lambda_gc": 0.0}),
        ("reg_div_alg", "VATP-Net; L_reg + l_div (row 7)", "the full architecture, L_reg + L_div + L_alg (our "
         "reading of a row printed with row 6's check-marks: the ablation without L_gc).", {"lambda_gc": 0.0}),
        ("reg_div_gc", "VATP-Net; L_reg + l_div + L_gc", "the full architecture without L_alg.",
         {"lambda_alg": 0.0}),
        ("reg_gc_alg", "VATP-Net; L_reg + L_gc + L_alg", "the full architecture without L_div.",
         {"lambda_div": 0.0}),
        ("full", "VATP-Net; L_reg + l_div + L_gc + L_alg", "the full model.", {}),
    ]
    every_loss = {"lambda_div": 1.0, "lambda_alg": 1.0, "lambda_gc": 1.0}  # explicit: a loss row states all λ
    for slug, method, text, overrides in table5:
        reg(f"vatp/tableV/{slug}", "tableV", method, f"Table V (losses): {text}", **{**every_loss, **overrides})

    reg("vatp/tableVI/i3d_mlp", "tableVI", "I3D+MLP (baseline); RGB", "Table VI: Table I's baseline.", **_MLP)
    register("vatp/tableVI/gdlt", build_gdlt, paper="vatp", table="tableVI", reported_method="GDLT: RGB",
             recipe=GDLT_RECIPE, modalities=("rgb",),
             description="Table VI: GDLT as in its official code (the project's gdlt, trained by its own recipe).")
    reg("vatp/tableVI/rgb", "tableVI", "VATP-Net: RGB", "Table VI: the full model with the semantic branch "
        "removed (text_source='none': no CD, L_alg, L_gc); L_reg + L_div.", **_RGB)
    reg("vatp/tableVI/rgb_semantics", "tableVI", "RGB+Semantics", "Table VI: the full model.")

    reg("vatp/tableVII/i3d_mlp", "tableVII", "I3D+MLP (baseline)", "Table VII: Table I's baseline (I3D).", **_MLP)
    register("vatp/tableVII/gdlt", build_gdlt, paper="vatp", table="tableVII", reported_method="GDLT",
             recipe=GDLT_RECIPE, modalities=("rgb",),
             description="Table VII: GDLT as in its official code on I3D (the project's gdlt).")
    reg("vatp/tableVII/i3d", "tableVII", "VATP-Net (I3D)", "Table VII: I3D without BERT, i.e. the semantic "
        "branch removed (as Table VI's RGB row).", **_RGB)
    reg("vatp/tableVII/i3d_bert", "tableVII", "VATP-Net (I3D+BERT)", "Table VII: I3D + BERT commentary, the "
        "full model.")

    reg("vatp/tableVIII/vatp", "tableVIII", "VATP-Net", "Table VIII: the full model (1.81 M parameters).")
    reg("vatp/tableIX/w_dd", "tableIX", "VATP-Net: w/ DD", "Table IX: the full model, prediction multiplied by "
        "the difficulty degree (the head regresses the execution score).", use_dd=True)
    reg("vatp/tableIX/wo_dd", "tableIX", "VATP-Net: w/o DD", "Table IX: the full model regressing the final "
        "score directly (no DD).", use_dd=False)


_register_all()
