"""MLAVL: Language-Guided Audio-Visual Learning for long-term sports assessment (the ``mlavl`` paper), in one file.

Reading order: the building blocks (:class:`MaskedBatchNorm1d`, :class:`Projection`, :class:`Attention`, the
post-norm :class:`EncoderLayer` / :class:`DecoderLayer`), then the four modules of the paper — S²CE (the
shared :class:`Encoder`), MAG² (:func:`action_graph_adjacency`, :class:`ActionGraph`), AVCF (:class:`Fusion`),
DPG (:func:`grade_score`) — then :class:`MLAVL` (the model and its loss), the recipe and the variants.

The model (paper §3, Fig. 2; official code ``XuHuangbiao/MLAVL``, read for facts)
--------------------------------------------------------------------------------
1. **Token projection.** Visual, audio and text features each go through ``Conv1×1(D → D/2)-BN-ReLU-
   Conv1×1(D/2 → d)-BN`` (d = 256; a 1×1 convolution over time is a per-clip linear layer, written so here).
   The text projection is shared by the four prompt groups (all rows projected together, as the code does).
2. **S²CE (Eq. 7).** One Transformer encoder (1 post-norm layer, 8 heads, FFN 3d, final LayerNorm) shared by
   both modalities: ``e_m = Enc(x_m) + x_m``.
3. **MAG² (Eqs. 8–9).** Per modality a graph over T clip nodes and N action-text nodes ("a video of
   <action>" for the visual graph, "a music suitable for <action>" for the audio graph). The official code is
   two PyG ``SAGEConv`` layers (mean aggregation, 256 → 128 → ReLU → dropout → 256): ``h_i' = W_l ·
   mean_{j → i} h_j + b + W_r · h_i``. Edges (receiver ← sender): clip ← every other clip, text ← every other
   text, clip ← every text (text → clip only). Here the row-mean-normalised receiver adjacency is a dense
   matrix (:func:`action_graph_adjacency`, the text block a buffer built once, the clip block from the mask:
   no graph library, no per-forward Python loops). The text-node outputs are discarded.
4. **AVCF (Eqs. 10–12).** A 2-layer Transformer decoder (tgt = visual clips, memory = audio clips; global
   action–music consistency) plus a clip-wise ``Conv1×1(2d → d)-BN-ReLU-Conv1×1(d → d)-BN`` on ``[v; a]``
   (local match), summed.
5. **DPG (Eqs. 13–15).** One shared 3-layer decoder whose queries are the projected grade prompts: 2N = 12
   audio-visual grade prompts over the fused memory, N = 6 visual grade prompts over the visual memory. Per
   query ``s_k = diag(Linear(d, K)(g))_k``, ``p = σ(s) / Σ σ(s)``, ``out = Σ_k linspace(0, 1, K)_k p_k``
   (the supplementary's grade weights (n−1)/(K−1)); ``ŷ = w·out_AV + (1 − w)·out_V``, ``w`` learnable, init 0.5
   (the official code; the reading notes' "2-layer MLPs" and α are the paper's prose, the code is one
   ``Linear`` per branch and an unconstrained ``w``).
6. **Loss (Eqs. 16–18; :mod:`aqa_lib.losses`).** ``10·MSE + α·Σ L_TL + 0.01·Σ L_CE``: hard triplet loss with
   cosine distance and margin δ = 1 (labels = query / prompt index, α = 1) over grade_AV, grade_V and the four
   projected text sets (the supplementary's "L_TL between projected text features"); cross-entropy with label
   smoothing 0.1 on ``cos(grade query k, grade text j)`` logits, no temperature, target k, for both branches.

What is the paper's / the code's and what is ours
-------------------------------------------------
Paper + code: everything above, the frozen text embeddings (ViFi-CLIP, shipped as package data:
:func:`aqa_lib.data.text.load_prompts`), dropout 0.3 (the README's command), the optimiser. Ours:

- **Masks.** The official code feeds fixed 95-clip crops without masks. Here padded clips (mask False) are
  zeroed before every projection, excluded from the BatchNorm statistics (:class:`MaskedBatchNorm1d`), masked
  as keys in every attention (S²CE, AVCF decoder self- and cross-attention, grade decoder), excluded as
  senders in the graphs, and from the clip-wise conv's BN statistics: a video's score does not depend on the
  padding of its batch (tested).
- **Visual-only** (LOGO; the released Fis-V RGB-only features): when ``"audio"`` is not among the model's
  modalities, the audio graph, AVCF and the audio-visual DPG branch are not built and ``ŷ = out_V`` (the
  paper's Table 4 uses only the action-visual graph on LOGO). ``modalities=None`` (default) reads RGB, plus
  audio when the data has it.
- **Grade prompts for N ≠ 6** (supplementary Table 2): only the N = 6 prompt embeddings are released. For
  other N we interpolate the released embeddings linearly along the grade order (bad … perfect) at N evenly
  spaced positions, separately for the "without" / "with fitting music" halves of the 12 audio-visual
  prompts (:func:`resample_grades`). An approximation of the paper's re-written prompts, not them.
- **Ablation readings** (the paper describes them in one line each): see the variant descriptions below and
  the options ``knowledge``, ``fusion``, ``head``, ``prompts``, ``positional``.
- **aux for figures.** The MAG² aggregation is a *uniform* mean (every text node weighs 1/(T−1+N) on every
  clip): ``graph_weights`` exposes that text → clip block as it is, so a figure can show it carries no
  localisation; ``text_clip_similarity`` (cosine between each S²CE clip feature and each projected action
  text, a diagnostic of ours, not part of the model) is what can show whether clips resemble the action they
  contain.

Parameter count and FLOPs vs the official configuration
-------------------------------------------------------
With the official configuration (8 heads, d = 256, 1 encoder + 3 grade-decoder layers, 2-layer AV decoder,
6 grades, dropout 0.3, frozen text) this implementation has **6,724,627 parameters with 768-d video features
and 6,987,155 with 1024-d**, exactly the official counts (``shared/design/models.md``), part by part: shared
encoder 658,944, grade decoder 2,766,848, AV decoder 1,844,736, each graph 131,456, visual projection 395,136
(768-d) / 657,664 (1024-d), audio 395,136, text 198,144, clip-wise conv 198,144, regressors 3,084 + 1,542, w 1.
The paper's Table 2 reports **3.82 M parameters and 0.778 GFLOPs**, which no configuration of the official
flags builds; we pin the official count and show the paper's figure beside it. Forward FLOPs at T = 95
(batch 1, :func:`aqa_lib.efficiency.count_flops`, 2 per multiply-add) are pinned in ``tests/test_mlavl.py``:
ours count the dense graph aggregation as matrix products (the official scatter-mean counts none) and skip
nothing under ``no_grad`` (our attention is written out, no fused kernel).

Ablation variants (registered names)
------------------------------------
``create_model("mlavl", in_dims=...)`` is the paper's model (Table 1's row). Rows that *are* the full model
in other tables are registered under their own names so each table's comparison finds them.

- ``mlavl/table2/mlavl``, ``mlavl/table3/mlavl``: the full model (Fis-V and RG comparison rows).
- ``mlavl/table5/*``: components and losses (Table 5): ``baseline`` (projections → cross-attention decoder
  fusion → 2-layer MLP on the clip mean; MSE only, no text), ``s2ce``, ``mag2``, ``avcf`` (cumulative, all
  without DPG), ``dpg`` (full), ``no_s2ce``, ``no_mag2``, ``no_avcf`` (decoder fusion), ``no_tl``, ``no_ce``,
  ``no_tl_ce``.
- ``mlavl/supp_table1/{mlp, shared_transformer, dual_transformer, graph}``: ways of adding action knowledge.
- ``mlavl/supp_table2/n{3..8}``: number of grade prompts N (2N audio-visual).
- ``mlavl/supp_table3/{decoder, dual_decoder, shared_ca, avcf}``: fusion modules of supplementary Fig. 1.
- ``mlavl/supp_table4/{mlavl, lv, lv_pe}``: grade texts vs learnable vectors (+ positional embeddings).
- ``mlavl/supp_table5/{video_template, music_template}``: the paper's templates (= the full model).

Reported-only rows (not variants), and why:

- Tables 1–3: every other method (C3D-LSTM, MSCADC, MS-LSTM, CoRe, GDLT, TPT, T2CR, CoFInAl, QTD, M-BERT,
  Skating-Mixer, SGN, PAMFN, C3D+SVR, ACTION-NET, VST): other papers' models (GDLT and PAMFN exist in this
  project as their own variants, registered by their own papers).
- Table 4 (LOGO): the nine visual-only methods, native and "+MAG2": other methods with MAG² plugged in.
  Plugging :class:`ActionGraph` into e.g. the project's GDLT would be a change to ``baselines.py``.
- Supplementary Table 4 rows (1)–(9): CoFInAl / QTD / PAMFN with the MLAVL texts or MAG² (other methods).
- Supplementary Table 5: the templates 'a photo of', 'human action of', 'a music of', 'a musical rhythm of'
  need prompt embeddings nobody released (re-embed with :func:`aqa_lib.data.text.embed_prompts` and pass the
  folder as ``prompt_dir`` to run them); "Trainable Text Encoder" and "Trainable Prompt Learning" need the
  ViFi-CLIP text encoder itself.
- Supplementary Table 6: other backbones (C3D+VGGish, BERT text) and other methods; its TF+AST+CLIP MLAVL row
  is the full model (``mlavl`` on FS1000).

Training recipe (:data:`MLAVL_RECIPE`)
--------------------------------------
Official code: Adam, lr 1e-2, weight decay 1e-4, cosine to lr·0.01 (per step here), batch 64. Epochs at
``paper`` scale from the supplementary ("Epoch of training"): FS1000 TES/PCS/SS/TR/PE/CO/IN
510/540/390/380/400/450/450, Fis-V TES/PCS 420/440, RG Ball/Clubs/Hoop/Ribbon 620/340/450/710; other datasets
(LOGO, where the paper follows each host method) 400, the code's default — our choice. The model's prompt
set per dataset: ``fs1000`` / ``fisv`` → FS, ``rg`` → RG, ``logo`` → LOGO (visual-only). Training crops are
the paper's (95 / 124 / 68 / 48 clips for FS1000 / Fis-V / RG / LOGO, the recipe's ``window``); evaluation
uses whole sequences, the companion's protocol (ours: the official code evaluates a centre crop). Checkpoints in the official code are
selected on the test split; the engine reports that protocol and the honest one.

Scales: ``smoke`` d = 16, 2 heads, 2 epochs (runs, says nothing); ``quick`` d = 64, 4 heads, 12 epochs,
**batch 8**, **lr 1e-3** (ours); ``paper`` the official configuration. Why 12 epochs at ``quick`` (measured
2026-12-03; 40 until then): over the 27 runs of 40 epochs on the quick FS1000 data then cached (Table 5, seven
targets), test Spearman at epoch 10 was within 0.03 of the last epoch's in 23 and at most 0.12 from it, and
two 12-epoch runs at batch 32 (seed 0) ranked where the 40-epoch ones did (papers / last: CO 0.876 / 0.870
against 0.884 / 0.856, TR 0.847 / 0.844 against 0.861 / 0.854), in 76 s instead of about 4 minutes. Why
batch 8 (measured the same day; batch 32 in between): the grade head's expected grade (Eq. 15) needs
optimiser steps to move away from the middle grade, and 12 epochs at batch 32 (about 80 steps on the 200
quick training videos) left the predictions nearly constant. Seed 0, last epoch, test ρ / MSE / slope of
prediction on truth / seconds (one thread, beside one other run):

=================  ==============================  ==============================  ======================
run                12 epochs, batch 32             12 epochs, batch 8 (preset)     40 epochs, batch 32
=================  ==============================  ==============================  ======================
FS1000 TES         0.69 / 343 / 0.09 / 79 s        0.73 / 237 / 0.67 / 90 s        (Table 5: MSE 173–316)
FS1000 PCS         0.89 / 44.0 / 0.19 / 77 s       0.90 / 14.5 / 0.76 / 91 s       (Table 5: MSE 14–30)
Fis-V TES          0.62 / 42.1 / 0.04 / 105 s      0.59 / 29.3 / 0.28 / 122 s      0.66 / 24.1 / 0.35 / 289 s*
=================  ==============================  ==============================  ======================

(* alone on the machine.) On Fis-V TES, 24 epochs at batch 32 gave 0.59 / 33.7 / 0.16 (209 s) and lr
3e-3 at batch 32 × 12 gave 0.62 / 35.2 / 0.14; batch 8 fits the scale best per second. Why 1e-3 at
``quick`` (measured once, seed 0, synthetic Fis-V TES quick data, d = 64, batch 32 × 40 epochs (the quick
schedule then), about 4.6 minutes per run on the shared 2-core CPU): with the paper's 1e-2 the training
MSE falls to 0.002 while test Spearman drifts down from 0.61 (epoch 0) to 0.41–0.52 and test MSE swings
between 31 and 71 (epochs 5–35); with 1e-3 test Spearman stays at 0.55–0.61 and test MSE falls steadily
from 55 to 26. One seed, one target: a sanity check, not a tuning.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..data.text import load_prompts
from ..losses import mse_loss, prompt_alignment_loss, query_triplet_loss
from ..recipes import ANY_DATASET, Optimiser, Recipe
from .base import ModelOutput, check_inputs, register, registrar
from .baselines import GDLT, GDLT_RECIPE, build_gdlt
from .blocks import additive_mask

KNOWLEDGE = ("graph", "mlp", "shared_transformer", "dual_transformer", "none")
FUSIONS = ("avcf", "decoder", "dual_decoder", "shared_ca")
HEADS = ("dpg", "mlp")
PROMPTS = ("text", "learnable")
SPORTS = ("FS", "RG", "LOGO")


def _check_option(name: str, value: Any, valid: Sequence[str]) -> None:
    if value not in valid:
        raise ValueError(f"Unknown {name}={value!r}; valid values: {', '.join(map(str, valid))}.")


# ----- building blocks -----

class MaskedBatchNorm1d(nn.BatchNorm1d):
    """BatchNorm over the channel axis of ``[B, T, C]`` whose training statistics use real clips only.

    Padded clips (mask False) neither enter the batch statistics nor the running averages, and come out as
    zeros. In eval mode every position is normalised with the running statistics, as ``nn.BatchNorm1d``.
    """

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:  # type: ignore[override]
        if mask is None:
            mask = torch.ones(x.shape[:-1], dtype=torch.bool, device=x.device)
        if not self.training:
            out = F.batch_norm(x.reshape(-1, x.shape[-1]), self.running_mean, self.running_var, self.weight,
                               self.bias, False, 0.0, self.eps).reshape(x.shape)
            return out.masked_fill(~mask[..., None], 0.0)
        valid = F.batch_norm(x[mask], self.running_mean, self.running_var, self.weight, self.bias, True,
                             self.momentum, self.eps)
        out = x.new_zeros(x.shape)
        out[mask] = valid
        return out


class Projection(nn.Module):
    """``Conv1×1(D → hidden)-BN-ReLU-Conv1×1(hidden → d)-BN`` per clip (hidden = D/2 in the code), masked."""

    def __init__(self, in_dim: int, d_model: int, hidden: int | None = None) -> None:
        super().__init__()
        hidden = hidden or in_dim // 2
        self.fc1, self.bn1 = nn.Linear(in_dim, hidden), MaskedBatchNorm1d(hidden)
        self.fc2, self.bn2 = nn.Linear(hidden, d_model), MaskedBatchNorm1d(d_model)

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        if mask is not None:
            x = x.masked_fill(~mask[..., None], 0.0)
        x = F.relu(self.bn1(self.fc1(x), mask))
        return self.bn2(self.fc2(x), mask)


class Attention(nn.Module):
    """Multi-head scaled dot-product attention, written out (4·(d² + d) parameters, as ``nn.MultiheadAttention``).

    ``key_padding`` ``[B, S]`` True = ignore that key. Returns the output ``[B, L, d]`` and the head-averaged
    weights ``[B, L, S]`` (every matrix product visible to the FLOP counter, no fused kernel).
    """

    def __init__(self, d_model: int, n_heads: int, dropout: float) -> None:
        super().__init__()
        if d_model % n_heads:
            raise ValueError(f"d_model={d_model} must be divisible by n_heads={n_heads}.")
        self.n_heads = n_heads
        self.q, self.k, self.v, self.o = (nn.Linear(d_model, d_model) for _ in range(4))
        self.drop = nn.Dropout(dropout)

    def forward(self, query: Tensor, key: Tensor, key_padding: Tensor | None = None) -> tuple[Tensor, Tensor]:
        b, lq, d = query.shape
        h = self.n_heads
        q = self.q(query).view(b, lq, h, d // h).transpose(1, 2)
        k = self.k(key).view(b, key.shape[1], h, d // h).transpose(1, 2)
        v = self.v(key).view(b, key.shape[1], h, d // h).transpose(1, 2)
        logits = (q @ k.transpose(-1, -2)).div_(math.sqrt(d // h))  # [B, h, L, S], in place on the product
        if key_padding is not None:  # −inf added where padded (one pass, nothing kept for the backward)
            logits.add_(additive_mask(key_padding, logits.dtype)[:, None, None, :])
        weights = logits.softmax(dim=-1)
        out = (self.drop(weights) @ v).transpose(1, 2).reshape(b, lq, d)
        return self.o(out), weights.mean(dim=1)


class FeedForward(nn.Module):
    def __init__(self, d_model: int, d_ffn: int, dropout: float) -> None:
        super().__init__()
        self.fc1, self.fc2, self.drop = nn.Linear(d_model, d_ffn), nn.Linear(d_ffn, d_model), nn.Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc2(self.drop(F.relu(self.fc1(x))))


class EncoderLayer(nn.Module):
    """Post-norm Transformer encoder layer (``nn.TransformerEncoderLayer``'s structure, ReLU FFN)."""

    def __init__(self, d_model: int, n_heads: int, d_ffn: int, dropout: float) -> None:
        super().__init__()
        self.attn, self.ffn = Attention(d_model, n_heads, dropout), FeedForward(d_model, d_ffn, dropout)
        self.norm1, self.norm2 = nn.LayerNorm(d_model), nn.LayerNorm(d_model)
        self.drop1, self.drop2 = nn.Dropout(dropout), nn.Dropout(dropout)

    def forward(self, x: Tensor, pad: Tensor | None = None) -> Tensor:
        x = self.norm1(x + self.drop1(self.attn(x, x, pad)[0]))
        return self.norm2(x + self.drop2(self.ffn(x)))


class DecoderLayer(nn.Module):
    """Post-norm Transformer decoder layer: self-attention, cross-attention, FFN (no causal mask)."""

    def __init__(self, d_model: int, n_heads: int, d_ffn: int, dropout: float) -> None:
        super().__init__()
        self.self_attn = Attention(d_model, n_heads, dropout)
        self.cross_attn = Attention(d_model, n_heads, dropout)
        self.ffn = FeedForward(d_model, d_ffn, dropout)
        self.norm1, self.norm2, self.norm3 = (nn.LayerNorm(d_model) for _ in range(3))
        self.drop1, self.drop2, self.drop3 = (nn.Dropout(dropout) for _ in range(3))

    def forward(self, tgt: Tensor, memory: Tensor, tgt_pad: Tensor | None, memory_pad: Tensor | None
                ) -> tuple[Tensor, Tensor]:
        tgt = self.norm1(tgt + self.drop1(self.self_attn(tgt, tgt, tgt_pad)[0]))
        attended, weights = self.cross_attn(tgt, memory, memory_pad)
        tgt = self.norm2(tgt + self.drop2(attended))
        return self.norm3(tgt + self.drop3(self.ffn(tgt))), weights


class Encoder(nn.Module):
    """Stack of encoder layers + final LayerNorm (the official ``Transformer.encoder``)."""

    def __init__(self, n_layers: int, d_model: int, n_heads: int, d_ffn: int, dropout: float) -> None:
        super().__init__()
        self.layers = nn.ModuleList(EncoderLayer(d_model, n_heads, d_ffn, dropout) for _ in range(n_layers))
        self.norm = nn.LayerNorm(d_model)

    def forward(self, x: Tensor, pad: Tensor | None = None) -> Tensor:
        for layer in self.layers:
            x = layer(x, pad)
        return self.norm(x)


class Decoder(nn.Module):
    """Stack of decoder layers + final LayerNorm; returns the output and the last layer's cross-attention."""

    def __init__(self, n_layers: int, d_model: int, n_heads: int, d_ffn: int, dropout: float) -> None:
        super().__init__()
        self.layers = nn.ModuleList(DecoderLayer(d_model, n_heads, d_ffn, dropout) for _ in range(n_layers))
        self.norm = nn.LayerNorm(d_model)

    def forward(self, tgt: Tensor, memory: Tensor, tgt_pad: Tensor | None = None,
                memory_pad: Tensor | None = None) -> tuple[Tensor, Tensor]:
        weights = tgt.new_zeros(())
        for layer in self.layers:
            tgt, weights = layer(tgt, memory, tgt_pad, memory_pad)
        return self.norm(tgt), weights


# ----- MAG²: multidimensional action graph guidance (§3.3, Eqs. 8–9) -----

def action_graph_adjacency(mask: Tensor, text_block: Tensor) -> Tensor:
    """Row-normalised receiver adjacency ``[B, T + N, T + N]`` of the clip + action-text graph.

    Row i lists whom node i receives from (the official edge list read as receiver ← sender): a clip receives
    from every other *real* clip and from every text node; a text node receives from every other text node
    only (text → clip edges, never clip → text). Each row is divided by its number of senders (mean
    aggregation). ``text_block`` is the ``[N, N]`` text ← text block (``1 − I``), a buffer of the model.
    """
    b, t = mask.shape
    n = text_block.shape[0]
    eye = torch.eye(t, dtype=torch.bool, device=mask.device)
    clip_clip = (mask[:, None, :] & ~eye).to(text_block.dtype)  # [B, T, T]: senders must be real clips
    clip_text = text_block.new_ones(b, t, n)
    text_clip = text_block.new_zeros(b, n, t)
    adj = torch.cat([torch.cat([clip_clip, clip_text], dim=2),
                     torch.cat([text_clip, text_block.expand(b, n, n)], dim=2)], dim=1)
    return adj / adj.sum(dim=2, keepdim=True).clamp(min=1.0)


class SageLayer(nn.Module):
    """GraphSAGE mean layer (PyG ``SAGEConv`` defaults): ``h' = W_l · (A h) + b + W_r · h``."""

    def __init__(self, in_dim: int, out_dim: int) -> None:
        super().__init__()
        self.lin_neigh = nn.Linear(in_dim, out_dim)
        self.lin_root = nn.Linear(in_dim, out_dim, bias=False)

    def forward(self, h: Tensor, adj: Tensor) -> Tensor:
        return self.lin_neigh(adj @ h) + self.lin_root(h)


class ActionGraph(nn.Module):
    """Two SAGE layers (d → d/2 → ReLU → dropout → d) on the clip + text graph; returns the clip nodes."""

    def __init__(self, d_model: int, dropout: float) -> None:
        super().__init__()
        self.conv1, self.conv2 = SageLayer(d_model, d_model // 2), SageLayer(d_model // 2, d_model)
        self.drop = nn.Dropout(dropout)

    def forward(self, clips: Tensor, texts: Tensor, adj: Tensor, mask: Tensor) -> Tensor:
        h = torch.cat([clips, texts.expand(clips.shape[0], -1, -1)], dim=1)
        h = self.conv2(self.drop(F.relu(self.conv1(h, adj))), adj)
        return h[:, : clips.shape[1]]


class MAG2PlugIn(nn.Module):
    """MAG² as a plug-in for another model (paper Table 4: the action–visual graph added to host methods on
    LOGO). The sport's "a video of <action>" prompt embeddings (frozen buffers) are projected to the host's
    width and the clips are replaced by the graph's clip-node outputs, as MLAVL does with its own clips (ours:
    where in the host it goes; for GDLT, right after its input projection)."""

    def __init__(self, d_model: int, sport: str, prompt_dir: str = "", dropout: float = 0.3) -> None:
        super().__init__()
        ps = load_prompts(sport, prompt_dir or None)
        self.register_buffer("actions", torch.from_numpy(np.ascontiguousarray(ps.video_actions)),
                             persistent=False)
        self.register_buffer("text_block", 1.0 - torch.eye(ps.n_actions), persistent=False)
        self.proj_text = Projection(ps.dim, d_model)
        self.graph = ActionGraph(d_model, dropout)

    def forward(self, clips: Tensor, mask: Tensor) -> Tensor:
        texts = self.proj_text(self.actions[None].to(clips.dtype))
        return self.graph(clips, texts, action_graph_adjacency(mask, self.text_block), mask)


class KnowledgeMLP(nn.Module):
    """Supplementary Table 1 "MLP" (our reading): each clip with the mean action text, ``[e_t; mean(x)]``,
    through ``Linear(2d → d/2)-ReLU-Dropout-Linear(d/2 → d)`` (the graph's widths)."""

    def __init__(self, d_model: int, dropout: float) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(2 * d_model, d_model // 2), nn.ReLU(), nn.Dropout(dropout),
                                 nn.Linear(d_model // 2, d_model))

    def forward(self, clips: Tensor, texts: Tensor, adj: Tensor, mask: Tensor) -> Tensor:
        pooled = texts.mean(dim=0).expand(clips.shape[0], clips.shape[1], -1)
        return self.net(torch.cat([clips, pooled], dim=-1))


class KnowledgeTransformer(nn.Module):
    """Supplementary Table 1 "Shared-/Dual-Transformer" (our reading): one encoder layer (8 heads, FFN 3d)
    over ``[clips; texts]`` with padded clips masked as keys; the text outputs are discarded."""

    def __init__(self, d_model: int, n_heads: int, d_ffn: int, dropout: float) -> None:
        super().__init__()
        self.layer = EncoderLayer(d_model, n_heads, d_ffn, dropout)

    def forward(self, clips: Tensor, texts: Tensor, adj: Tensor, mask: Tensor) -> Tensor:
        b, t, _ = clips.shape
        tokens = torch.cat([clips, texts.expand(b, -1, -1)], dim=1)
        pad = torch.cat([~mask, mask.new_zeros(b, texts.shape[0])], dim=1)
        return self.layer(tokens, pad)[:, :t]


# ----- AVCF and the alternative fusions (§3.4, supplementary Fig. 1) -----

class Fusion(nn.Module):
    """Audio-visual fusion ``[B, T, d] × 2 → [B, T, d]``.

    - ``avcf`` (the paper's): ``Decoder_{v←a}(v, a) + ClipConv([v; a])``.
    - ``decoder`` (Fig. 1a): the 2-layer decoder alone (visual queries, audio keys/values).
    - ``dual_decoder`` (Fig. 1b): ``Decoder_{v←a}(v, a) + Decoder_{a←v}(a, v)`` (summed: ours).
    - ``shared_ca`` (Fig. 1c): as ``dual_decoder`` with the two decoders' cross-attention blocks shared.
    """

    def __init__(self, kind: str, d_model: int, n_heads: int, d_ffn: int, dropout: float, n_layers: int) -> None:
        super().__init__()
        _check_option("fusion", kind, FUSIONS)
        self.kind = kind
        self.decoder = Decoder(n_layers, d_model, n_heads, d_ffn, dropout)
        self.decoder_av: Decoder | None = None
        self.clip_fc1 = self.clip_bn1 = self.clip_fc2 = self.clip_bn2 = None
        if kind in ("dual_decoder", "shared_ca"):
            self.decoder_av = Decoder(n_layers, d_model, n_heads, d_ffn, dropout)
            if kind == "shared_ca":
                for mine, theirs in zip(self.decoder_av.layers, self.decoder.layers, strict=True):
                    mine.cross_attn = theirs.cross_attn
        if kind == "avcf":
            self.clip_fc1, self.clip_bn1 = nn.Linear(2 * d_model, d_model), MaskedBatchNorm1d(d_model)
            self.clip_fc2, self.clip_bn2 = nn.Linear(d_model, d_model), MaskedBatchNorm1d(d_model)

    def forward(self, v: Tensor, a: Tensor, mask: Tensor) -> Tensor:
        pad = ~mask
        fused = self.decoder(v, a, pad, pad)[0]  # global action–music consistency (Eq. 10)
        if self.decoder_av is not None:
            fused = fused + self.decoder_av(a, v, pad, pad)[0]
        if self.kind == "avcf":  # clip-wise match (Eqs. 11–12)
            clip = torch.cat([v, a], dim=-1).masked_fill(pad[..., None], 0.0)
            clip = F.relu(self.clip_bn1(self.clip_fc1(clip), mask))
            fused = fused + self.clip_bn2(self.clip_fc2(clip), mask)
        return fused


# ----- DPG: dual-branch prompt-guided grading (§3.5, Eqs. 13–15) -----

def grade_score(query_scores: Tensor) -> tuple[Tensor, Tensor]:
    """Expected grade: ``p = σ(s) / Σ σ(s)``, ``out = Σ_k linspace(0, 1, K)_k p_k`` (``[B, K] → [B]``, p)."""
    p = torch.sigmoid(query_scores)
    p = p / p.sum(dim=-1, keepdim=True)
    grades = torch.linspace(0, 1, query_scores.shape[-1], device=p.device, dtype=p.dtype)
    return (p * grades).sum(dim=-1), p


def resample_grades(embeddings: np.ndarray, n: int) -> np.ndarray:
    """``n`` embeddings interpolated linearly along the grade order of ``embeddings`` ``[K, D]`` (ours:
    the prompts for N ≠ 6 were not released). ``n == K`` returns them unchanged."""
    k = embeddings.shape[0]
    if n == k:
        return embeddings
    pos = np.linspace(0.0, k - 1.0, n)
    lo = np.floor(pos).astype(int).clip(0, k - 1)
    hi = np.minimum(lo + 1, k - 1)
    frac = (pos - lo)[:, None]
    return ((1 - frac) * embeddings[lo] + frac * embeddings[hi]).astype(np.float32)


def sinusoidal_positions(length: int, d_model: int) -> Tensor:
    """The Transformer's sinusoidal position code ``[length, d]`` (the official ``PositionalEncoding``)."""
    pos = torch.arange(length, dtype=torch.float32)[:, None]
    div = torch.exp(torch.arange(0, d_model, 2, dtype=torch.float32) * (-math.log(10000.0) / d_model))
    pe = torch.zeros(length, d_model)
    pe[:, 0::2] = torch.sin(pos * div)
    pe[:, 1::2] = torch.cos(pos * div)[:, : d_model // 2]
    return pe


class PerQueryScore(nn.Module):
    """``s_k = diag(Linear(d, K)(g))_k`` — the code's form (only the diagonal of a full Linear is used, so the
    parameter count is the full ``d·K + K``)."""

    def __init__(self, d_model: int, n_queries: int) -> None:
        super().__init__()
        self.linear = nn.Linear(d_model, n_queries)

    def forward(self, g: Tensor) -> Tensor:
        return torch.diagonal(self.linear(g), dim1=-2, dim2=-1)


# ----- the model -----

class MLAVL(nn.Module):
    """MLAVL (module docstring). ``in_dims``: modality → feature dim; reads ``rgb`` (+ ``audio``).

    Args:
        sport: the prompt set (``FS``, ``RG``, ``LOGO``); the recipe sets it per dataset.
        prompt_dir: a folder with the released file names (``""`` = the shipped package data).
        modalities: ``("rgb", "audio")`` or ``("rgb",)`` (visual-only); None = RGB, plus audio when present.
        d_model, n_heads, dropout: width (256), heads (8), dropout (0.3).
        n_encoder_layers, n_grade_layers, n_fusion_layers: S²CE (1), DPG decoder (3), AV decoder (2).
        ffn_mult: FFN width as a multiple of d (3, the code's).
        proj_hidden: hidden width of the token projections (:class:`Projection`); None = half the input
            dimension, the official code's (512 for 1024-d RGB whatever d is). Ours, a switch for small widths,
            used by no preset yet: at d = 64, ``proj_hidden=128`` makes a quick Fis-V training step 1.25×
            faster (1161 → 930 ms, batch 32 × 124 clips, one thread, loaded machine; 1.39 M → 0.69 M
            parameters).
        n_grades: N visual grade prompts (2N audio-visual); 6 in the paper.
        use_encoder: S²CE on/off. knowledge: how action texts enter (``graph`` = MAG², the paper's; ``mlp``,
            ``shared_transformer``, ``dual_transformer``; ``none``). fusion: ``avcf`` or the alternatives.
        head: ``dpg`` (grade prompts) or ``mlp`` (w/o DPG: 2-layer MLP on the clip mean of the fused features).
        prompts: grade queries from the ``text`` prompts or ``learnable`` vectors; positional: add the
            sinusoidal code to the grade queries.
        lambda_mse, lambda_triplet, lambda_ce: loss weights (10, 1, 0.01); margin δ (1); label_smoothing (0.1).
    """

    def __init__(self, in_dims: Mapping[str, int], *, sport: str = "FS", prompt_dir: str = "",
                 modalities: Sequence[str] | str | None = None, d_model: int = 256, n_heads: int = 8,
                 n_encoder_layers: int = 1, n_grade_layers: int = 3, n_fusion_layers: int = 2,
                 ffn_mult: int = 3, dropout: float = 0.3, proj_hidden: int | None = None, n_grades: int = 6,
                 use_encoder: bool = True,
                 knowledge: str = "graph", fusion: str = "avcf", head: str = "dpg", prompts: str = "text",
                 positional: bool = False, lambda_mse: float = 10.0, lambda_triplet: float = 1.0,
                 lambda_ce: float = 0.01, margin: float = 1.0, label_smoothing: float = 0.1) -> None:
        super().__init__()
        _check_option("sport", sport, SPORTS)
        _check_option("knowledge", knowledge, KNOWLEDGE)
        _check_option("fusion", fusion, FUSIONS)
        _check_option("head", head, HEADS)
        _check_option("prompts", prompts, PROMPTS)
        if n_grades < 2:
            raise ValueError(f"n_grades={n_grades}: DPG needs at least 2 grade prompts per branch.")
        if isinstance(modalities, str):
            modalities = (modalities,)
        if modalities is None:
            modalities = ("rgb", "audio") if "audio" in in_dims else ("rgb",)
        modalities = tuple(modalities)
        if modalities not in (("rgb", "audio"), ("rgb",)):
            raise ValueError(f"MLAVL reads ('rgb', 'audio') or ('rgb',) (visual-only), got modalities={modalities}.")
        missing = [m for m in modalities if m not in in_dims]
        if missing:
            raise ValueError(f"MLAVL reads {missing} but in_dims has {sorted(in_dims)}; build it with "
                             "modalities=('rgb',) for visual-only data.")
        self.modalities = modalities
        self.in_dims = {m: int(in_dims[m]) for m in modalities}
        self.audio = "audio" in modalities
        self.sport, self.knowledge, self.head_kind, self.prompt_kind = sport, knowledge, head, prompts
        self.fusion_kind = fusion if self.audio else None
        self.n_grades = n_grades
        self.lambdas = {"mse": float(lambda_mse), "triplet": float(lambda_triplet), "ce": float(lambda_ce)}
        self.margin, self.label_smoothing = float(margin), float(label_smoothing)
        d_ffn = ffn_mult * d_model

        # frozen text (buffers): N video prompts, N music prompts, 2n AV grades, n visual grades
        ps = load_prompts(sport, prompt_dir or None)
        av = ps.av_grades
        av = np.stack([resample_grades(av[0::2], n_grades), resample_grades(av[1::2], n_grades)], axis=1)
        text = np.concatenate([ps.video_actions, ps.music_actions, av.reshape(2 * n_grades, -1),
                               resample_grades(ps.v_grades, n_grades)])
        self.register_buffer("text", torch.from_numpy(np.ascontiguousarray(text)), persistent=False)
        self.n_actions = ps.n_actions
        self.register_buffer("text_block", 1.0 - torch.eye(ps.n_actions), persistent=False)

        # 1. token projections
        if proj_hidden is not None and proj_hidden < 1:
            raise ValueError(f"proj_hidden={proj_hidden!r}: give a positive width, or None for the official D/2.")
        self.proj_visual = Projection(self.in_dims["rgb"], d_model, proj_hidden)
        self.proj_audio = Projection(self.in_dims["audio"], d_model, proj_hidden) if self.audio else None
        # the text projection exists only when some text is read (not in the baseline / w/o-text rows)
        self.uses_text = knowledge != "none" or (head == "dpg" and prompts == "text")
        self.proj_text = Projection(ps.dim, d_model, proj_hidden) if self.uses_text else None
        # 2. S²CE
        self.encoder = Encoder(n_encoder_layers, d_model, n_heads, d_ffn, dropout) if use_encoder else None
        # 3. MAG² (or an alternative way of adding the action texts)
        self.knowledge_visual = self._knowledge(knowledge, d_model, n_heads, d_ffn, dropout)
        self.knowledge_audio = None
        if self.audio:
            self.knowledge_audio = (self.knowledge_visual if knowledge == "shared_transformer"
                                    else self._knowledge(knowledge, d_model, n_heads, d_ffn, dropout))
        # 4. AVCF
        self.fusion = Fusion(fusion, d_model, n_heads, d_ffn, dropout, n_fusion_layers) if self.audio else None
        # 5. DPG (or the MLP head of the "w/o DPG" rows)
        self.grade_decoder = self.regressor_av = self.regressor_v = self.branch_weight = None
        self.learnable_av = self.learnable_v = None
        self.mlp_head = None
        if head == "dpg":
            self.grade_decoder = Decoder(n_grade_layers, d_model, n_heads, d_ffn, dropout)
            self.regressor_v = PerQueryScore(d_model, n_grades)
            if self.audio:
                self.regressor_av = PerQueryScore(d_model, 2 * n_grades)
                self.branch_weight = nn.Parameter(torch.tensor(0.5))
            if prompts == "learnable":
                self.learnable_v = nn.Parameter(torch.randn(n_grades, d_model))
                if self.audio:
                    self.learnable_av = nn.Parameter(torch.randn(2 * n_grades, d_model))
            self.register_buffer("positions", sinusoidal_positions(2 * n_grades, d_model) if positional
                                 else torch.zeros(2 * n_grades, d_model), persistent=False)
        else:
            self.mlp_head = nn.Sequential(nn.Linear(d_model, d_model), nn.ReLU(), nn.Dropout(dropout),
                                          nn.Linear(d_model, 1))

    @staticmethod
    def _knowledge(kind: str, d_model: int, n_heads: int, d_ffn: int, dropout: float) -> nn.Module | None:
        if kind == "graph":
            return ActionGraph(d_model, dropout)
        if kind == "mlp":
            return KnowledgeMLP(d_model, dropout)
        if kind in ("shared_transformer", "dual_transformer"):
            return KnowledgeTransformer(d_model, n_heads, d_ffn, dropout)
        return None

    # ----- forward -----

    def _texts(self) -> dict[str, Tensor]:
        """The four projected text groups (all rows through the shared projection at once, as the code)."""
        if self.proj_text is None:
            return {}
        t = self.proj_text(self.text[None])[0]
        n, g = self.n_actions, self.n_grades
        return {"video": t[:n], "music": t[n: 2 * n], "av": t[2 * n: 2 * n + 2 * g], "v": t[2 * n + 2 * g:]}

    def forward(self, features: Mapping[str, Tensor], mask: Tensor | None = None) -> ModelOutput:
        """``features[m]`` ``[B, T, D_m]``, ``mask`` ``[B, T]`` → :class:`ModelOutput`.

        ``aux``: ``grade_features`` (``av`` ``[B, 2N, d]``, ``v`` ``[B, N, d]``), ``grade_texts`` (the grade
        queries before the positional code, ``[2N, d]`` / ``[N, d]``), ``action_texts`` (projected ``video`` /
        ``music`` prompts ``[M, d]``), ``query_weights`` (p per branch, ``[B, K]``), ``branch_scores``
        (``out_AV`` / ``out_V``), ``branch_weight`` (w), ``grade_attention`` (last grade-decoder layer's
        head-averaged cross-attention ``[B, K, T]`` per branch), ``graph_weights`` (the visual graph's text →
        clip aggregation weights ``[B, T, M]``), ``text_clip_similarity`` (cosine of S²CE clip features and
        projected video prompts ``[B, T, M]``, a diagnostic), ``lengths``. Missing branches are absent.
        """
        xs, mask = check_inputs(features, mask, self.in_dims, model="MLAVL")
        pad = ~mask
        texts = self._texts()
        # 1–2. projections and S²CE (Eq. 7)
        v = self.proj_visual(xs["rgb"], mask)
        a = self.proj_audio(xs["audio"], mask) if self.audio else None
        if self.encoder is not None:
            v = self.encoder(v, pad) + v
            a = self.encoder(a, pad) + a if a is not None else None
        aux: dict[str, Any] = {"lengths": mask.sum(dim=1)}
        if texts:
            with torch.no_grad():
                aux["text_clip_similarity"] = F.normalize(v, dim=-1) @ F.normalize(texts["video"], dim=-1).T
        # 3. MAG² (Eqs. 8–9)
        adj = action_graph_adjacency(mask, self.text_block) if self.knowledge == "graph" else mask.new_zeros(())
        if self.knowledge == "graph":
            aux["graph_weights"] = adj[:, : mask.shape[1], mask.shape[1]:]
        if self.knowledge_visual is not None:
            v = self.knowledge_visual(v, texts["video"], adj, mask)
        if a is not None and self.knowledge_audio is not None:
            a = self.knowledge_audio(a, texts["music"], adj, mask)
        aux["action_texts"] = {}  # the action-text sets in use (triplet terms)
        if self.knowledge != "none":
            aux["action_texts"] = {"video": texts["video"], **({"music": texts["music"]} if self.audio else {})}
        # 4. AVCF (Eqs. 10–12)
        fused = self.fusion(v, a, mask) if a is not None else None
        # 5. DPG (Eqs. 13–15) or the MLP head
        if self.mlp_head is not None:
            memory = fused if fused is not None else v
            pooled = memory.masked_fill(pad[..., None], 0.0).sum(dim=1) / aux["lengths"][:, None].to(memory.dtype)
            return ModelOutput(score=self.mlp_head(pooled).squeeze(-1), aux=aux)
        queries = {"v": texts["v"] if self.learnable_v is None else self.learnable_v}
        if fused is not None:
            queries["av"] = texts["av"] if self.learnable_av is None else self.learnable_av
        memories = {"v": v, "av": fused}
        regressors = {"v": self.regressor_v, "av": self.regressor_av}
        aux.update(grade_features={}, grade_texts={}, query_weights={}, branch_scores={}, grade_attention={})
        for branch, q in queries.items():
            k = q.shape[0]
            tgt = (q + self.positions[:k]).expand(mask.shape[0], -1, -1)
            grade, attn = self.grade_decoder(tgt, memories[branch], None, pad)
            out, p = grade_score(regressors[branch](grade))
            aux["grade_features"][branch], aux["grade_texts"][branch] = grade, q
            aux["query_weights"][branch], aux["branch_scores"][branch] = p, out
            aux["grade_attention"][branch] = attn
        if fused is None:
            score = aux["branch_scores"]["v"]
        else:
            w = self.branch_weight
            score = w * aux["branch_scores"]["av"] + (1 - w) * aux["branch_scores"]["v"]
            aux["branch_weight"] = w
        return ModelOutput(score=score, aux=aux)

    # ----- loss (Eqs. 16–18) -----

    def loss(self, output: ModelOutput, labels: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        """``λ_mse·MSE + λ_TL·Σ L_TL + λ_CE·Σ L_CE`` (10, 1, 0.01). ``parts`` are unweighted; ``total`` adds
        the terms with a non-zero λ.

        L_TL (hard triplet, cosine distance, margin δ, labels = index) over each branch's grade features and
        each projected text set the model uses (action texts of the graphs, grade texts or learnable vectors);
        L_CE (label smoothing) on ``cos(grade k, grade text j)`` per branch.
        """
        aux = output.aux
        score = output.score.float()
        zero = score.new_zeros(())
        parts = {"mse": mse_loss(score, labels.to(score.dtype)), "triplet": zero, "ce": zero}
        sets = [*aux.get("grade_features", {}).values(), *(t[None] for t in aux.get("action_texts", {}).values()),
                *(t[None] for t in aux.get("grade_texts", {}).values())]
        if sets:
            parts["triplet"] = sum(query_triplet_loss(s, self.margin) for s in sets)
        grades = aux.get("grade_features", {})
        if grades:
            parts["ce"] = sum(prompt_alignment_loss(grades[b], aux["grade_texts"][b],
                                                    label_smoothing=self.label_smoothing) for b in grades)
        total = sum(self.lambdas[k] * v for k, v in parts.items() if self.lambdas[k] != 0)
        return total, parts


def build_mlavl(in_dims: Mapping[str, int], **cfg: Any) -> MLAVL:
    """Build MLAVL for ``in_dims`` (modality → input dimension); ``cfg`` are :class:`MLAVL` arguments."""
    return MLAVL(in_dims, **cfg)


class GDLTWithMAG2(GDLT):
    """GDLT with MLAVL's action–visual graph plugged in after its input projection (Table 4, "GDLT +MAG2").

    Everything else is GDLT's (:class:`aqa_lib.models.baselines.GDLT`, its official settings and loss);
    ``sport`` picks the prompt set (LOGO for the paper's table) and ``graph_dropout`` the graph's dropout.
    """

    def __init__(self, in_dims: Mapping[str, int], *, sport: str = "LOGO", prompt_dir: str = "",
                 graph_dropout: float = 0.3, **gdlt: Any) -> None:
        super().__init__(in_dims, **gdlt)
        self.mag2 = MAG2PlugIn(self.in_proj[-1].num_features, sport, prompt_dir, graph_dropout)

    def guide(self, h: Tensor, mask: Tensor) -> Tensor:
        return self.mag2(h, mask)


def build_gdlt_mag2(in_dims: Mapping[str, int], **cfg: Any) -> GDLTWithMAG2:
    return GDLTWithMAG2(in_dims, **cfg)


# ----- the training recipe (module docstring, "Training recipe") -----

MLAVL_RECIPE = Recipe(
    family="mlavl", source="MLAVL official code + supplementary §3",
    optimiser={ANY_DATASET: Optimiser("adam", lr=1e-2, weight_decay=1e-4, min_lr_ratio=0.01)},
    scale_optimiser={"quick": {"lr": 1e-3}},
    epochs={"quick": 12, "paper": 400},
    paper_epochs={"fs1000": {"TES": 510, "PCS": 540, "SS": 390, "TR": 380, "PE": 400, "CO": 450, "IN": 450},
                  "fisv": {"TES": 420, "PCS": 440},
                  "rg": {"Ball": 620, "Clubs": 340, "Hoop": 450, "Ribbon": 710}},
    batch_size={"quick": 8, "paper": 64},
    window={"fs1000": 95, "fisv": 124, "rg": 68, "logo": 48},  # the official training crops (clips)
    width={"smoke": {"d_model": 16, "n_heads": 2}, "quick": {"d_model": 64, "n_heads": 4}, "paper": {}},
    model_kwargs={"fs1000": {"sport": "FS"}, "fisv": {"sport": "FS"}, "finefs": {"sport": "FS"},
                  "rg": {"sport": "RG"}, "logo": {"sport": "LOGO", "modalities": ("rgb",)}},
    datasets=("fs1000", "fisv", "finefs", "rg", "logo"),
    datasets_why="MLAVL's graphs and grade prompts need a sport's action vocabulary and prompt embeddings "
                 "(FS, RG, LOGO); MTL-AQA has none (its text is per-dive commentary: use VATP-Net, 'vatp').",
)
"""MLAVL's training settings per dataset and scale."""


# ----- registered variants: the paper model and every expressible ablation row -----

_NO_DPG = {"head": "mlp"}


def _register_all() -> None:
    reg = registrar(build_mlavl, paper="mlavl", recipe=MLAVL_RECIPE)

    reg("mlavl", "table1", "MLAVL", "MLAVL as in the paper and official code: projections, S²CE, MAG² (visual "
        "+ audio action graphs), AVCF, DPG (12 + 6 grade prompts), 10·MSE + triplet + 0.01·CE.")
    reg("mlavl/table2/mlavl", "table2", "MLAVL", "Table 2 (Fis-V): the full model.")
    reg("mlavl/table3/mlavl", "table3", "MLAVL", "Table 3 (RG): the full model.")

    table5 = [
        ("baseline", "baseline", "projections, cross-attention fusion (the 2-layer decoder, visual queries over "
         "audio; our reading), 2-layer MLP on the clip mean; no text, so MSE only.",
         {"use_encoder": False, "knowledge": "none", "fusion": "decoder", **_NO_DPG}),
        ("s2ce", "+S2CE", "baseline + S²CE.", {"knowledge": "none", "fusion": "decoder", **_NO_DPG}),
        ("mag2", "+MAG2", "baseline + S²CE + MAG² (triplet loss on the projected action texts).",
         {"fusion": "decoder", **_NO_DPG}),
        ("avcf", "+AVCF (w/o DPG)", "+ AVCF instead of the decoder fusion, still the MLP head.", {**_NO_DPG}),
        ("dpg", "+DPG (Ours)", "+ DPG: the full model.", {}),
        ("no_s2ce", "w/o S2CE", "the full model without S²CE.", {"use_encoder": False}),
        ("no_mag2", "w/o MAG2", "the full model without the action graphs (and their text triplet terms).",
         {"knowledge": "none"}),
        ("no_avcf", "w/o AVCF", "the full model with the decoder fusion instead of AVCF (equals supp. Table 3 "
         "(a), digit for digit in the paper).", {"fusion": "decoder"}),
        ("no_tl", "w/o L_TL", "the full model without the triplet loss.", {"lambda_triplet": 0.0}),
        ("no_ce", "w/o L_CE", "the full model without the cross-entropy loss.", {"lambda_ce": 0.0}),
        ("no_tl_ce", "w/o L_TL + L_CE", "the full model trained with 10·MSE only.",
         {"lambda_triplet": 0.0, "lambda_ce": 0.0}),
    ]
    for slug, method, text, overrides in table5:
        reg(f"mlavl/table5/{slug}", "table5", method, f"Table 5: {text}", **overrides)

    supp1 = [
        ("mlp", "MLP", "each clip with the mean action text through a 2-layer MLP (our reading)."),
        ("shared_transformer", "Shared-Transformer",
         "one encoder layer over [clips; action texts], shared by the visual and audio streams (our reading)."),
        ("dual_transformer", "Dual-Transformer",
         "one encoder layer over [clips; action texts] per stream (our reading; 1.32 M parameters at d = 256 "
         "against the paper's 1.20 M)."),
        ("graph", "Action Graph (Ours)", "MAG² (the full model)."),
    ]
    for slug, method, text in supp1:
        reg(f"mlavl/supp_table1/{slug}", "supp_table1", method, f"Supp. Table 1 action knowledge: {text}",
            knowledge=slug)

    for n in range(3, 9):
        reg(f"mlavl/supp_table2/n{n}", "supp_table2", f"N={n}",
            f"Supp. Table 2: {n} visual and {2 * n} audio-visual grade prompts"
            + (" (the full model)." if n == 6 else " (released embeddings interpolated along the grades: ours)."),
            n_grades=n)

    supp3 = [
        ("decoder", "(a) Decoder", "the 2-layer decoder alone (visual queries, audio keys/values)."),
        ("dual_decoder", "(b) Dual-Decoder", "decoders v←a and a←v, summed (the sum is ours)."),
        ("shared_ca", "(c) Shared-CA", "as (b) with the two decoders' cross-attention blocks shared."),
        ("avcf", "(d) AVCF (Ours)", "decoder + clip-wise conv on [v; a], summed (the full model)."),
    ]
    for slug, method, text in supp3:
        reg(f"mlavl/supp_table3/{slug}", "supp_table3", method, f"Supp. Table 3 fusion (Fig. 1): {text}",
            fusion=slug)

    reg("mlavl/supp_table4/mlavl", "supp_table4", "MLAVL", "Supp. Table 4 (10): the full model.")
    reg("mlavl/supp_table4/lv", "supp_table4", "Texts->LV",
        "Supp. Table 4 (11): learnable vectors instead of the grade texts (they also serve as the CE targets "
        "and a triplet set: our reading).", prompts="learnable")
    reg("mlavl/supp_table4/lv_pe", "supp_table4", "Texts->LV+PE",
        "Supp. Table 4 (12): learnable vectors + sinusoidal positional embeddings as grade queries.",
        prompts="learnable", positional=True)

    reg("mlavl/visual", "", "",
        "MLAVL's visual branch with the action and grade texts, no audio (no audio graph, AVCF or AV branch): "
        "what runs on RGB-only data such as the released Fis-V features (not a row of the paper).",
        modalities=("rgb",))
    # Table 4 (LOGO): host methods with and without MAG²; the project has GDLT, the other hosts are reported only.
    sports = {"logo": {"sport": "LOGO"}, "rg": {"sport": "RG"}, "fisv": {"sport": "FS"}, "fs1000": {"sport": "FS"}}
    gdlt_mag2_recipe = dataclasses.replace(GDLT_RECIPE, model_kwargs=sports,
                                           source=GDLT_RECIPE.source + "; MAG² prompt set per dataset")
    register("mlavl/table4/gdlt", build_gdlt, paper="mlavl", table="table4", reported_method="GDLT: Native",
             recipe=GDLT_RECIPE, modalities=("rgb",),
             description="Table 4: GDLT as in its official code (the host without MAG²).")
    register("mlavl/table4/gdlt_mag2", build_gdlt_mag2, paper="mlavl", table="table4",
             reported_method="GDLT: +MAG2", recipe=gdlt_mag2_recipe, modalities=("rgb",),
             description="Table 4: GDLT with MLAVL's action–visual graph (MAG²) after its input projection; "
                         "the prompt set follows the dataset (LOGO in the paper).")

    reg("mlavl/supp_table5/video_template", "supp_table5", "visual template 'a video of' (Ours)",
        "Supp. Table 5: the released visual template (the full model).")
    reg("mlavl/supp_table5/music_template", "supp_table5", "audio template 'a music suitable for' (Ours)",
        "Supp. Table 5: the released audio template (the full model).")


_register_all()
