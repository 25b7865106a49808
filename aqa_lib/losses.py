"""Losses of the four papers, on attention centres and on scores.

Attention-centre losses (TPT, used by LMAC-Net §3.4, Eqs. 15–17; exact forms in ``shared/design/models.md``),
all computed per layer on ``[B, T, K]`` attention maps and their centres ``c ∈ [B, K]``:

- :func:`ranking_loss` keeps the K centres in temporal order, inside the sequence, with margin m:
  ``Σ_{k<K} max(0, c_k − c_{k+1} + m) + max(0, 1 + m − c_1) + max(0, c_K − T + m)``, mean over the batch.
- :func:`sparsity_loss` concentrates each query's attention around its centre:
  ``mean_{b,k} Σ_t |t − c_k| · a_{t,k}`` (an L1 spread, not a variance).
- :func:`consistency_loss` aligns the centres of the same query across modalities:
  ``Σ_k Σ_{i<j} (c_k^{m_i} − c_k^{m_j})²``, mean over the batch.

Feature-alignment alternative compared in LMAC-Net Table 9: :func:`temporal_infonce_loss` (the "MTC loss",
InfoNCE between the modalities' query features, positives = same video and query).

Centres are on the 1-based segment scale by default; with ``normalise=True`` (a switch, see
:func:`aqa_lib.centres.attention_center`) they are divided by T and the margin is interpreted in the
same unit (fractions of the sequence). The centre itself is a loss-side quantity and lives in
:mod:`aqa_lib.centres` (re-exported here), always computed in float32: this module depends on no model
block. Callers that train under bf16 autocast should pass float32 centres and attention (LMAC-Net's loss
casts them).
"""

from __future__ import annotations

from itertools import combinations

import torch
import torch.nn.functional as F
from torch import Tensor

from .centres import attention_center as attention_center


def ranking_loss(centres: Tensor, length: float | Tensor, margin: float | Tensor, *,
                 first_index: float | Tensor = 1.0) -> Tensor:
    """Ordering + boundary hinge on centres ``[B, K]`` for sequences of ``length`` (scalar or ``[B]``).

    ``first_index`` is the position of the first segment: 1 on the raw index scale (TPT), 0 for centres
    normalised by T (then pass ``length=1`` and a fractional margin). ``margin`` and ``first_index`` may also be
    ``[B]`` tensors (one value per video, e.g. a margin that grows with each video's real length, or the first
    segment at ``1/T_b`` for centres normalised by each video's length).
    """
    length = torch.as_tensor(length, dtype=centres.dtype, device=centres.device)
    if length.ndim == 0:
        length = length.expand(centres.shape[0])
    margin = torch.as_tensor(margin, dtype=centres.dtype, device=centres.device)
    per_pair_margin = margin[:, None] if margin.ndim == 1 else margin  # [B] -> [B, 1] against [B, K-1]
    order = (centres[:, :-1] - centres[:, 1:] + per_pair_margin).clamp(min=0).sum(dim=1)
    first = (first_index + margin - centres[:, 0]).clamp(min=0)
    last = (centres[:, -1] - length + margin).clamp(min=0)
    return (order + first + last).mean()


def sparsity_loss(attn: Tensor, centres: Tensor | None = None, *, lengths: Tensor | None = None) -> Tensor:
    """``mean_{b,k} Σ_t |t − c_k| a_{t,k}`` on the 1-based index scale (centres recomputed if not given).

    ``centres`` must be on the raw index scale. With ``lengths`` (``[B]``), each video's spread is divided by its
    real length, i.e. measured in the unit of centres normalised by length (a fraction of the sequence).
    """
    if centres is None:
        centres = attention_center(attn)
    t = torch.arange(1, attn.shape[1] + 1, device=attn.device, dtype=attn.dtype)
    spread = ((t[None, :, None] - centres[:, None, :]).abs() * attn).sum(dim=1)  # [B, K]
    if lengths is not None:
        spread = spread / lengths.to(spread.dtype)[:, None]
    return spread.mean()


def consistency_loss(centres_by_modality: dict[str, Tensor] | list[Tensor]) -> Tensor:
    """``Σ_k Σ_{i<j} (c_k^i − c_k^j)²`` averaged over the batch, for two or more modalities' ``[B, K]``."""
    cs = list(centres_by_modality.values()) if isinstance(centres_by_modality, dict) else list(centres_by_modality)
    if len(cs) < 2:
        return cs[0].new_zeros(()) if cs else torch.zeros(())
    total = sum(((a - b) ** 2).sum(dim=1) for a, b in combinations(cs, 2))
    return total.mean()


def mse_loss(pred: Tensor, target: Tensor) -> Tensor:
    """Mean squared error on normalised labels (the decision-level loss, LMAC-Net Eq. 12)."""
    return torch.mean((pred.reshape(-1) - target.reshape(-1)) ** 2)


def temporal_infonce_loss(features_by_modality: dict[str, Tensor] | list[Tensor], temperature: float = 0.07, *,
                          negatives: str = "all") -> Tensor:
    """Multimodal temporal contrastive (MTC) loss: InfoNCE between modalities' query features.

    LMAC-Net §4.5 (Table 9, "MTC Loss") compares its consistency loss with "an InfoNCE-style contrastive loss
    across modalities at each temporal segment (query)". The paper gives no formula; our reading: every
    modality has query features ``[B, K, d]``; the token (video b, query k) of modality i and the same token
    of modality j are a positive pair. With cosine similarities ``s = z_i · z_jᵀ / τ`` (L2-normalised
    features), the loss of a pair of modalities is the symmetric cross-entropy of picking the positive,
    ``½ [CE(s, diag) + CE(sᵀ, diag)]``, averaged over the tokens and over the modality pairs ``i < j``.

    Args:
        features_by_modality: two or more ``[B, K, d]`` tensors (fewer give a zero loss).
        temperature: τ (0.07, the CLIP/MoCo value, is our choice).
        negatives: ``"all"`` (default): the negatives of a token are all other (video, query) tokens of the
            other modality, including the other queries of the same video, so the loss also separates
            moments in time; ``"same_query"``: one InfoNCE per query k over the videos of the batch only.
    """
    if negatives not in ("all", "same_query"):
        raise ValueError(f"Unknown negatives={negatives!r}; valid: all, same_query.")
    feats = list(features_by_modality.values()) if isinstance(features_by_modality, dict) else list(features_by_modality)
    if len(feats) < 2:
        return feats[0].new_zeros(()) if feats else torch.zeros(())
    z = [F.normalize(f, dim=-1) for f in feats]  # [B, K, d]
    if negatives == "all":
        z = [f.reshape(1, -1, f.shape[-1]) for f in z]  # one group of B·K tokens
    else:
        z = [f.transpose(0, 1) for f in z]  # K groups of B tokens
    total = feats[0].new_zeros(())
    pairs = list(combinations(z, 2))
    for a, b in pairs:
        logits = torch.einsum("gnd,gmd->gnm", a, b) / temperature  # [groups, N, N]
        target = torch.arange(logits.shape[1], device=logits.device).expand(logits.shape[0], -1)
        forward = F.cross_entropy(logits.flatten(0, 1), target.flatten())
        backward = F.cross_entropy(logits.transpose(1, 2).flatten(0, 1), target.flatten())
        total = total + 0.5 * (forward + backward)
    return total / len(pairs)


def hard_triplet_loss(embeddings: Tensor, labels: Tensor, margin: float = 1.0) -> Tensor:
    """Batch-hard triplet loss with cosine distance (MLAVL Eq. 16, as in its official code; from GDLT).

    For every anchor i of ``embeddings`` ``[M, D]``: the hardest positive is the largest cosine distance
    ``1 − cos`` to another row with the same label (0 when there is none), the hardest negative the smallest
    distance to a row with a different label; the loss is ``mean_i max(0, d⁺_i − d⁻_i + margin)``. Anchors
    without a negative (a single label) contribute 0.
    """
    z = F.normalize(embeddings, dim=-1)
    dist = 1.0 - z @ z.T
    same = labels[:, None] == labels[None, :]
    eye = torch.eye(len(labels), dtype=torch.bool, device=labels.device)
    positive = dist.masked_fill(~same | eye, 0.0).max(dim=1).values
    negative = dist.masked_fill(same, float("inf")).min(dim=1).values
    return (positive - negative + margin).clamp(min=0).nan_to_num(posinf=0.0).mean()


def query_triplet_loss(features: Tensor, margin: float = 1.0) -> Tensor:
    """:func:`hard_triplet_loss` on ``[B, K, D]`` query features with labels = query index (MLAVL L_TL: the
    K grade features of the B videos; a projected text set is passed as ``[1, K, D]``)."""
    b, k, d = features.shape
    labels = torch.arange(k, device=features.device).repeat(b)
    return hard_triplet_loss(features.reshape(b * k, d), labels, margin)


def prompt_alignment_loss(grade_features: Tensor, grade_texts: Tensor, *, label_smoothing: float = 0.1) -> Tensor:
    """MLAVL L_CE (Eq. 17, official form): cross-entropy with label smoothing on the logits
    ``cos(grade feature k, grade text j)`` (``[B, K, D]`` against ``[K, D]``; no temperature), target k,
    averaged over the B·K grade features."""
    logits = F.normalize(grade_features, dim=-1) @ F.normalize(grade_texts, dim=-1).T  # [B, K, K]
    b, k, _ = logits.shape
    target = torch.arange(k, device=logits.device).repeat(b)
    return F.cross_entropy(logits.reshape(b * k, k), target, label_smoothing=label_smoothing)
