"""Building blocks shared by several papers' models.

:class:`QueryDecoder` is the learnable-query temporal decoder of TPT (Bai et al., ECCV 2022), which LMAC-Net
uses once per modality (LMAC-Net §3.2, Eqs. 4–7) and whose attention maps define the *attention centre*
(LMAC-Net Eq. 14; :func:`aqa_lib.centres.attention_center`, re-exported here). Facts from TPT's official code (``shared/design/models.md``):

- K learnable atomic patterns P (K × d). The query state starts at zero; P is added to it at every layer
  (DETR-style): ``q = W_q(state + P)`` (LMAC-Net Eq. 4–5).
- Cross-attention is single-head, over **time**: ``A = softmax_t((k · qᵀ / d) / τ)`` with keys and values
  projected from the input dimension of the modality to d, the dot product scaled by d (not √d), and τ a
  learnable scalar per layer initialised to 0.07 (Eq. 6). Each query's weights sum to 1 over the T segments.
- ``state = LN(state + Dropout(Aᵀ v))`` (Eq. 7), then an FFN with residual + LN; in the first layer only, an
  8-head self-attention among the K queries (q = k = state + P, v = state), residual + LN.
- The decoder returns the attention maps of every layer (``[B, T, K]`` each).

Padded segments (mask False) get zero attention: their logits are set to −inf before the softmax.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..centres import attention_center as attention_center  # the centre of Eq. 14 (a loss-side quantity)


class QueryDecoderLayer(nn.Module):
    """One TPT decoder layer (cross-attention over time, FFN, optional query self-attention)."""

    def __init__(self, in_dim: int, d_model: int, d_ffn: int, *, self_attention: bool, n_heads: int = 8,
                 dropout: float = 0.1, tau_init: float = 0.07) -> None:
        super().__init__()
        self.d_model = d_model
        self.w_q = nn.Linear(d_model, d_model)
        self.w_k = nn.Linear(in_dim, d_model)
        self.w_v = nn.Linear(in_dim, d_model)
        self.log_tau = nn.Parameter(torch.tensor(float(tau_init)).log())
        self.drop_ca = nn.Dropout(dropout)
        self.norm_ca = nn.LayerNorm(d_model)
        self.ffn = nn.Sequential(nn.Linear(d_model, d_ffn), nn.ReLU(), nn.Dropout(dropout), nn.Linear(d_ffn, d_model))
        self.drop_ffn = nn.Dropout(dropout)
        self.norm_ffn = nn.LayerNorm(d_model)
        self.self_attn = (
            nn.MultiheadAttention(d_model, n_heads, dropout=dropout, batch_first=True) if self_attention else None
        )
        self.norm_sa = nn.LayerNorm(d_model) if self_attention else None

    @property
    def tau(self) -> Tensor:
        """The learnable temperature τ (kept positive through its logarithm)."""
        return self.log_tau.exp()

    def forward(self, x: Tensor, state: Tensor, patterns: Tensor, mask: Tensor | None,
                key_position: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """x ``[B, T, D_in]``, state ``[B, K, d]``, patterns ``[K, d]``, mask ``[B, T]``, optional position
        code added to the keys ``[B, T, d]`` → state, attention ``[B, T, K]``."""
        q = self.w_q(state + patterns)  # [B, K, d]
        k = self.w_k(x)  # [B, T, d]
        if key_position is not None:
            k = k + key_position
        v = self.w_v(x)
        logits = torch.einsum("btd,bkd->btk", k, q) / self.d_model / self.tau
        if mask is not None:
            logits = logits.masked_fill(~mask[:, :, None], float("-inf"))
        attn = logits.softmax(dim=1)  # over time: each query's weights sum to 1
        state = self.norm_ca(state + self.drop_ca(torch.einsum("btk,btd->bkd", attn, v)))
        state = self.norm_ffn(state + self.drop_ffn(self.ffn(state)))
        if self.self_attn is not None:
            qk = state + patterns
            sa, _ = self.self_attn(qk, qk, state, need_weights=False)
            state = self.norm_sa(state + sa)
        return state, attn


KEY_POSITIONS = ("none", "sine")
"""Position codes the decoder can add to its keys (:func:`relative_position_code`)."""


def relative_position_code(mask: Tensor, d_model: int) -> Tensor:
    """Sinusoidal code of each segment's *relative* position ``(t + 0.5) / length`` in its video: ``[B, T, d]``.

    Frequencies grow geometrically from 1/2 to 32 cycles per sequence, a sine and a cosine each. Positions
    are relative to the sequence the model is given (a training crop or a whole routine), so the code spans
    the same range at every length; padded steps (beyond ``length``) get codes past 1, and the mask hides them.
    """
    lengths = mask.sum(dim=1, keepdim=True).clamp(min=1).to(torch.float32)  # [B, 1]
    t = torch.arange(mask.shape[1], device=mask.device, dtype=torch.float32)[None]
    pos = (t + 0.5) / lengths  # [B, T]
    n_freq = (d_model + 1) // 2
    freqs = torch.logspace(-1.0, 5.0, n_freq, base=2.0, device=mask.device)  # 0.5 .. 32 cycles per video
    angles = 2 * torch.pi * pos[..., None] * freqs  # [B, T, n_freq]
    return torch.cat([angles.sin(), angles.cos()], dim=-1)[..., :d_model]


class QueryDecoder(nn.Module):
    """K learnable queries attending over a ``[B, T, D_in]`` sequence through ``n_layers`` TPT layers.

    Returns the final query features ``[B, K, d]`` and the list of per-layer attention maps ``[B, T, K]``.
    Stacking two such decoders with two layers each (LMAC-Net §4.3) is ``n_layers=4`` with self-attention in
    the first layer of each stacked decoder: pass ``self_attention_every=2``.

    ``key_position``: ``"none"`` (TPT's official decoder and LMAC-Net's text: attention is content-only) or
    ``"sine"`` (ours, a switch: :func:`relative_position_code` is added to every layer's keys). Content-only
    attention can order its queries in time only where the features themselves change over a routine; on
    features whose statistics do not depend on the time (such as the synthetic backgrounds) the ranking loss
    then cannot be met, and the queries' centres collapse onto one point.
    """

    def __init__(self, in_dim: int, *, n_queries: int = 5, d_model: int = 512, d_ffn: int = 512,
                 n_layers: int = 2, n_heads: int = 8, dropout: float = 0.1, tau_init: float = 0.07,
                 self_attention_every: int | None = None, key_position: str = "none") -> None:
        super().__init__()
        if n_layers < 1 or n_queries < 1:
            raise ValueError("QueryDecoder needs at least one layer and one query.")
        if key_position not in KEY_POSITIONS:
            raise ValueError(f"Unknown key_position={key_position!r}; valid values: {', '.join(KEY_POSITIONS)}.")
        self.key_position = key_position
        every = self_attention_every or n_layers
        self.patterns = nn.Parameter(torch.randn(n_queries, d_model) * 0.02)
        self.layers = nn.ModuleList(
            QueryDecoderLayer(in_dim, d_model, d_ffn, self_attention=(i % every == 0), n_heads=n_heads,
                              dropout=dropout, tau_init=tau_init)
            for i in range(n_layers)
        )
        self.n_queries = n_queries
        self.d_model = d_model

    def forward(self, x: Tensor, mask: Tensor | None = None) -> tuple[Tensor, list[Tensor]]:
        state = x.new_zeros(x.shape[0], self.n_queries, self.d_model)
        code = None
        if self.key_position == "sine":
            valid = mask if mask is not None else x.new_ones(x.shape[:2], dtype=torch.bool)
            code = relative_position_code(valid, self.d_model).to(x.dtype)
        maps = []
        for layer in self.layers:
            state, attn = layer(x, state, self.patterns, mask, code)
            maps.append(attn)
        return state, maps

