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

Run-seeded dropout (ours, for the training engine): :class:`DropoutNoise`, :class:`RunDropout` and
:class:`RunMultiheadAttention` let every dropout mask of a run come from that run's own generator instead of
the global random state (:func:`use_run_noise` switches a built model over, keeping its parameters), so that
runs trained together as one stacked model (:mod:`aqa_lib.group`) see the masks they would see alone.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import torch
import torch.nn.functional as F
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
    features whose statistics do not depend on the time (the synthetic generator v2's backgrounds) the ranking
    loss then cannot be met, and the queries' centres collapse onto one point. The v3 generator's segments say
    where in the routine they lie, as real broadcasts do, and the content-only decoder orders its centres there
    (``notebooks/ablation_losses.py`` quotes both decoders at ``quick``).

    ``input_projection`` (ours, a switch; off in TPT and in the papers' configurations): ``False`` lets every
    layer project the raw ``D_in``-wide input to its keys and values, as TPT does; ``True`` projects the input
    once, by a learned ``Linear(D_in, d)`` shared by the layers, and the layers' key and value projections read
    that ``d``-wide sequence. Each layer's keys still come from a rank-``d`` map of the input; what changes is
    that all layers share one ``d``-dimensional subspace of it. For 1024-d inputs and d = 64 the per-layer
    products of the raw input are most of a step's arithmetic, so this cuts a 4-layer decoder's FLOPs about
    fourfold (LMAC-Net's ``quick`` preset uses it; see :mod:`aqa_lib.models.lmac`, "Scales").
    """

    def __init__(self, in_dim: int, *, n_queries: int = 5, d_model: int = 512, d_ffn: int = 512,
                 n_layers: int = 2, n_heads: int = 8, dropout: float = 0.1, tau_init: float = 0.07,
                 self_attention_every: int | None = None, key_position: str = "none",
                 input_projection: bool = False) -> None:
        super().__init__()
        if n_layers < 1 or n_queries < 1:
            raise ValueError("QueryDecoder needs at least one layer and one query.")
        if key_position not in KEY_POSITIONS:
            raise ValueError(f"Unknown key_position={key_position!r}; valid values: {', '.join(KEY_POSITIONS)}.")
        self.key_position = key_position
        every = self_attention_every or n_layers
        self.patterns = nn.Parameter(torch.randn(n_queries, d_model) * 0.02)
        self.input_projection = nn.Linear(in_dim, d_model) if input_projection else None
        layer_in = d_model if input_projection else in_dim
        self.layers = nn.ModuleList(
            QueryDecoderLayer(layer_in, d_model, d_ffn, self_attention=(i % every == 0), n_heads=n_heads,
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
        if self.input_projection is not None:
            x = self.input_projection(x)
        maps = []
        for layer in self.layers:
            state, attn = layer(x, state, self.patterns, mask, code)
            maps.append(attn)
        return state, maps


# ---------------------------------------------------------------------------------------------------------
# Run-seeded dropout (ours): the training engine's source of dropout masks
# ---------------------------------------------------------------------------------------------------------


class DropoutNoise:
    """Where the dropout masks of one training run come from: the run's own generator (ours).

    ``torch.nn.Dropout`` and the attention dropout of ``nn.MultiheadAttention`` draw their masks from the
    global random state, which one process can only advance for one model at a time. The training engine
    (:func:`aqa_lib.train._setup`) therefore replaces them in every model it builds by :class:`RunDropout` and
    :class:`RunMultiheadAttention` (:func:`use_run_noise`: same parameters, same names), which ask this object
    for uniform noise ``u`` and keep the units where ``u >= p``. Three modes:

    - **draw** (the default): ``u`` is drawn, when a dropout layer asks, from ``generator`` — a run trained
      alone;
    - **record** (:meth:`recording`): nothing is dropped; the shapes asked for are listed, in call order.
      The shapes of a step's dropout layers follow from the shapes of its inputs;
    - **replay** (:meth:`replaying`): ``u`` comes from a list drawn beforehand. Runs trained together as one
      stacked model (:mod:`aqa_lib.group`) cannot draw inside ``torch.func.vmap``; each member draws, before
      the step, what its dropout layers will ask for (:meth:`draw`: the recorded shapes, in order, from its own
      generator), so a member sees exactly the masks it would have seen trained alone.

    A model used outside the engine (no noise attached) keeps PyTorch's own dropout.
    """

    def __init__(self, generator: torch.Generator | None) -> None:
        self.generator = generator  # None: only records and replays (a stacked model's, whose members draw)
        self._recorded: list[tuple[int, ...]] | None = None
        self._queue: list[Tensor] | None = None

    def uniform(self, shape: torch.Size | tuple[int, ...], device: torch.device) -> Tensor | None:
        """Noise in [0, 1) of ``shape`` for one dropout call, or None (recording: keep every unit)."""
        if self._recorded is not None:
            self._recorded.append(tuple(shape))
            return None
        if self._queue is not None:
            if not self._queue:
                raise RuntimeError("A dropout layer asked for more noise than was drawn for this step: the model's "
                                   "dropout calls depend on more than its inputs' shapes.")
            u = self._queue.pop(0)
            if tuple(u.shape) != tuple(shape):
                raise RuntimeError(f"Dropout noise of shape {tuple(u.shape)} was drawn for a call of shape "
                                   f"{tuple(shape)}: the model's dropout calls changed between steps of one shape.")
            return u
        return self._rand(shape).to(device)

    def draw(self, shapes: list[tuple[int, ...]], device: torch.device) -> list[Tensor]:
        """The noise a run trained alone would draw for dropout calls of ``shapes`` (in order)."""
        return [self._rand(s).to(device) for s in shapes]

    def _rand(self, shape: torch.Size | tuple[int, ...]) -> Tensor:
        if self.generator is None:
            raise RuntimeError("This DropoutNoise has no generator: it only records and replays noise.")
        return torch.rand(tuple(shape), generator=self.generator, device=self.generator.device)

    @contextmanager
    def recording(self) -> Iterator[list[tuple[int, ...]]]:
        """Inside: dropout keeps everything, and the shapes it was asked for are appended to the yielded list."""
        self._recorded = []
        try:
            yield self._recorded
        finally:
            self._recorded = None

    @contextmanager
    def replaying(self, noise: Sequence[Tensor]) -> Iterator[None]:
        """Inside: dropout calls take ``noise`` in order; all of it must be used."""
        self._queue = list(noise)
        try:
            yield
            if self._queue:
                raise RuntimeError(f"{len(self._queue)} dropout noise tensors were drawn but not used in this step.")
        finally:
            self._queue = None


def _keep(x: Tensor, p: float, noise: DropoutNoise) -> Tensor:
    """Inverted dropout of ``x`` with rate ``p``, masks from ``noise``."""
    if p >= 1.0:
        return x * 0.0
    u = noise.uniform(x.shape, x.device)
    if u is None:
        return x
    return x * ((u >= p) * (1.0 / (1.0 - p)))  # bool * float: the scaled mask in one pass


class RunDropout(nn.Dropout):
    """``nn.Dropout`` whose masks come from a run's :class:`DropoutNoise` (``noise``; PyTorch's when None)."""

    noise: DropoutNoise | None = None

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.p == 0:
            return x
        if self.noise is None:
            return super().forward(x)
        return _keep(x, self.p, self.noise)


class RunMultiheadAttention(nn.MultiheadAttention):
    """``nn.MultiheadAttention`` whose attention dropout draws from a run's :class:`DropoutNoise` (ours).

    With ``noise`` attached, the attention is computed here (:func:`multihead_attention`, in training and in
    evaluation alike, so a run's numbers do not depend on which kernel PyTorch picks), from the module's own
    parameters; without it the module is PyTorch's.
    """

    noise: DropoutNoise | None = None

    def forward(self, query: Tensor, key: Tensor, value: Tensor, key_padding_mask: Tensor | None = None,
                need_weights: bool = True, attn_mask: Tensor | None = None, average_attn_weights: bool = True,
                is_causal: bool = False) -> tuple[Tensor, Tensor | None]:
        if self.noise is None:
            return super().forward(query, key, value, key_padding_mask=key_padding_mask, need_weights=need_weights,
                                   attn_mask=attn_mask, average_attn_weights=average_attn_weights,
                                   is_causal=is_causal)
        if is_causal and attn_mask is None:
            raise ValueError("is_causal=True needs attn_mask (as for nn.MultiheadAttention).")
        return multihead_attention(self, query, key, value, key_padding_mask=key_padding_mask,
                                   need_weights=need_weights, attn_mask=attn_mask,
                                   average_attn_weights=average_attn_weights)


def additive_mask(mask: Tensor | None, dtype: torch.dtype) -> Tensor | None:
    """An attention mask as a float to add to the logits (boolean True = not allowed → −inf)."""
    if mask is None:
        return None
    if mask.dtype == torch.bool:
        return torch.zeros(mask.shape, dtype=dtype, device=mask.device).masked_fill(mask, float("-inf"))
    return mask.to(dtype)


def multihead_attention(mha: nn.MultiheadAttention, query: Tensor, key: Tensor, value: Tensor, *,
                        key_padding_mask: Tensor | None = None, need_weights: bool = True,
                        attn_mask: Tensor | None = None,
                        average_attn_weights: bool = True) -> tuple[Tensor, Tensor | None]:
    """What ``mha(query, key, value, ...)`` computes, with the attention dropout drawn from ``mha.noise``.

    Our implementation of the standard multi-head attention: projections from ``in_proj_weight`` (or the
    separate ``q/k/v_proj_weight`` when key and value widths differ), optional ``bias_k``/``bias_v`` and zero
    attention appended to the keys, ``softmax(q kᵀ / √d_head + masks)``, dropout on those weights, the
    weighted values through ``out_proj``. Masks follow ``nn.MultiheadAttention``: ``attn_mask`` ``[L, S]`` or
    ``[B·H, L, S]``, ``key_padding_mask`` ``[B, S]``, boolean (True = not allowed) or additive. The weights
    returned are the ones applied (after dropout), averaged over heads unless ``average_attn_weights=False``.
    """
    unbatched = query.dim() == 2
    if unbatched:
        query, key, value = query.unsqueeze(0), key.unsqueeze(0), value.unsqueeze(0)
        key_padding_mask = key_padding_mask.unsqueeze(0) if key_padding_mask is not None else None
    elif not mha.batch_first:
        query, key, value = query.transpose(0, 1), key.transpose(0, 1), value.transpose(0, 1)
    b, n_q, width = query.shape
    heads = mha.num_heads
    d_head = width // heads
    if mha._qkv_same_embed_dim:
        w_q, w_k, w_v = mha.in_proj_weight.chunk(3)
    else:
        w_q, w_k, w_v = mha.q_proj_weight, mha.k_proj_weight, mha.v_proj_weight
    b_q, b_k, b_v = mha.in_proj_bias.chunk(3) if mha.in_proj_bias is not None else (None, None, None)
    q = F.linear(query, w_q, b_q)
    k = F.linear(key, w_k, b_k)
    v = F.linear(value, w_v, b_v)
    logit_mask = additive_mask(attn_mask, q.dtype)
    pad_mask = additive_mask(key_padding_mask, q.dtype)
    extra = []
    if mha.bias_k is not None and mha.bias_v is not None:
        k = torch.cat([k, mha.bias_k.reshape(1, 1, width).expand(b, 1, width)], dim=1)
        v = torch.cat([v, mha.bias_v.reshape(1, 1, width).expand(b, 1, width)], dim=1)
        extra.append(1)
    if mha.add_zero_attn:
        k = torch.cat([k, k.new_zeros(b, 1, width)], dim=1)
        v = torch.cat([v, v.new_zeros(b, 1, width)], dim=1)
        extra.append(1)
    if extra:  # the appended keys are always allowed
        n = sum(extra)
        logit_mask = F.pad(logit_mask, (0, n)) if logit_mask is not None else None
        pad_mask = F.pad(pad_mask, (0, n)) if pad_mask is not None else None
    n_k = k.shape[1]
    q = q.reshape(b, n_q, heads, d_head).transpose(1, 2)  # [B, H, L, d_head]
    k = k.reshape(b, n_k, heads, d_head).transpose(1, 2)
    v = v.reshape(b, n_k, heads, d_head).transpose(1, 2)
    # in place on the product's own buffer (autograd needs neither it nor the masks): two passes fewer
    logits = (q @ k.transpose(-2, -1)).mul_(1.0 / math.sqrt(d_head))  # [B, H, L, S]
    if logit_mask is not None:
        logits.add_(logit_mask.reshape(b, heads, n_q, n_k) if logit_mask.dim() == 3 else logit_mask)
    if pad_mask is not None:
        logits.add_(pad_mask[:, None, None, :])
    weights = logits.softmax(dim=-1)
    if mha.training and mha.dropout > 0:
        weights = _keep(weights, mha.dropout, mha.noise)
    out = (weights @ v).transpose(1, 2).reshape(b, n_q, width)
    out = F.linear(out, mha.out_proj.weight, mha.out_proj.bias)
    if unbatched:
        out, weights = out.squeeze(0), weights.squeeze(0)
    elif not mha.batch_first:
        out = out.transpose(0, 1)
    if not need_weights:
        return out, None
    return out, weights.mean(dim=-3) if average_attn_weights else weights


def use_run_noise(model: nn.Module, noise: DropoutNoise | None) -> int:
    """Make every ``nn.Dropout`` and ``nn.MultiheadAttention`` of ``model`` draw from ``noise``.

    The modules change class in place (to :class:`RunDropout` / :class:`RunMultiheadAttention`, subclasses
    that add no parameter or buffer), so parameter names, counts and state dicts stay as they were. Returns
    how many modules now draw from ``noise``. Other dropout kinds (``nn.Dropout1d``, ``AlphaDropout``, ...) are
    left alone: a run trained alone still trains, and :mod:`aqa_lib.group` finds them (random operations
    inside a stacked step are an error there) and trains such a model alone.
    """
    count = 0
    for module in model.modules():
        if type(module) is nn.Dropout or isinstance(module, RunDropout):
            module.__class__ = RunDropout
        elif type(module) is nn.MultiheadAttention or isinstance(module, RunMultiheadAttention):
            module.__class__ = RunMultiheadAttention
        else:
            continue
        module.noise = noise
        count += 1
    return count
