"""Losses of the four papers, on attention centres and on scores.

Attention-centre losses (TPT, used by LMAC-Net §3.4, Eqs. 15–17; exact forms in ``shared/design/models.md``),
all computed per layer on ``[B, T, K]`` attention maps and their centres ``c ∈ [B, K]``:

- :func:`ranking_loss` keeps the K centres in temporal order, inside the sequence, with margin m:
  ``Σ_{k<K} max(0, c_k − c_{k+1} + m) + max(0, 1 + m − c_1) + max(0, c_K − T + m)``, mean over the batch.
- :func:`sparsity_loss` concentrates each query's attention around its centre:
  ``mean_{b,k} Σ_t |t − c_k| · a_{t,k}`` (an L1 spread, not a variance).
- :func:`consistency_loss` aligns the centres of the same query across modalities:
  ``Σ_k Σ_{i<j} (c_k^{m_i} − c_k^{m_j})²``, mean over the batch.

Centres are on the 1-based segment scale by default; with ``normalise=True`` (a switch, see
:func:`aqa_lib.models.blocks.attention_center`) they are divided by T and the margin is interpreted in the
same unit (fractions of the sequence).
"""

from __future__ import annotations

from itertools import combinations

import torch
from torch import Tensor

from .models.blocks import attention_center


def ranking_loss(centres: Tensor, length: float | Tensor, margin: float, *, first_index: float = 1.0) -> Tensor:
    """Ordering + boundary hinge on centres ``[B, K]`` for sequences of ``length`` (scalar or ``[B]``).

    ``first_index`` is the position of the first segment: 1 on the raw index scale (TPT), 0 for centres
    normalised by T (then pass ``length=1`` and a fractional margin).
    """
    length = torch.as_tensor(length, dtype=centres.dtype, device=centres.device)
    if length.ndim == 0:
        length = length.expand(centres.shape[0])
    order = (centres[:, :-1] - centres[:, 1:] + margin).clamp(min=0).sum(dim=1)
    first = (first_index + margin - centres[:, 0]).clamp(min=0)
    last = (centres[:, -1] - length + margin).clamp(min=0)
    return (order + first + last).mean()


def sparsity_loss(attn: Tensor, centres: Tensor | None = None) -> Tensor:
    """``mean_{b,k} Σ_t |t − c_k| a_{t,k}`` on the 1-based index scale (centres recomputed if not given)."""
    if centres is None:
        centres = attention_center(attn)
    t = torch.arange(1, attn.shape[1] + 1, device=attn.device, dtype=attn.dtype)
    spread = ((t[None, :, None] - centres[:, None, :]).abs() * attn).sum(dim=1)  # [B, K]
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
