"""What every model of the companion looks like to the training engine, and the registry of named variants.

A model is an ``nn.Module`` with

- ``modalities``: the tuple of feature modalities it reads (``"rgb"``, ``"flow"``, ``"audio"``, ...);
- ``forward(features, mask) -> ModelOutput`` with ``features[m]`` of shape ``[B, T, D_m]`` and ``mask``
  ``[B, T]`` (True = real segment); ``ModelOutput.score`` is the predicted *normalised* label ``[B]``;
- ``loss(output, labels) -> (total, parts)``: the paper's training objective on normalised labels, with
  ``parts`` a dict of named scalar tensors (``mse``, ``ranking``, ...) the engine logs per epoch. The engine
  calls it in float32 outside autocast, with every floating tensor of ``output`` cast to float32;
- optionally ``batch_inputs`` / ``loss_inputs``: tuples naming per-video extras the model reads, passed as
  keywords to ``forward`` / ``loss`` (:mod:`aqa_lib.data.batching`): any numeric column of
  ``Split.extras`` (``dd`` for MTL-AQA's difficulty degree, the other score types of a video, prompt ids)
  and ``text`` / ``text_mask`` (padded per-video text). A model that names an extra the data lacks stops
  before training with the list of what the data has.

Every row of every ablation table is a **named variant** (the timm pattern): ``create_model("lmac",
in_dims=..., **overrides)`` builds the paper's configuration and ``create_model("lmac/table5/mlqe", ...)``
one ablation row. A variant is a base builder plus keyword overrides, so the full configuration of a run is
plain data (the training engine fingerprints it for its results cache).

A variant is registered with its paper's training recipe (``register(name, builder, recipe=...)``, a plain-data
:class:`~aqa_lib.recipes.Recipe` declared in the model file): :func:`aqa_lib.experiments.config_for` reads
it to build the variant's run configuration at any scale.

Every model checks its inputs with :func:`check_inputs`, so a wrong feature dimension, a missing modality or
a wrong mask shape gives the same error, naming the model, in every paper's model.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from ..recipes import Recipe


@dataclass
class ModelOutput:
    """What a forward pass returns.

    Attributes:
        score: predicted normalised label ``[B]``.
        aux: anything the losses or the figures need, by name (e.g. ``attention`` = modality -> list of
            per-layer ``[B, T, K]`` maps, ``centres`` = modality -> ``[B, K]``, ``query_scores`` ``[B, K]``,
            ``query_weights`` ``[K]``). Tensors stay attached to the graph; the engine detaches what it records.
    """

    score: Tensor
    aux: dict[str, Any] = field(default_factory=dict)


Builder = Callable[..., nn.Module]


@dataclass(frozen=True)
class Variant:
    """A registered model: a base builder plus keyword overrides, with a one-line description.

    ``paper`` and ``table`` name the paper table the variant reproduces (e.g. ``"lmac"``, ``"table5"``) and
    ``reported_method`` the row label it corresponds to there: the ``variant`` column of
    ``papers_tables/<paper>/<table>.csv`` for ablation rows, the ``method`` column for a comparison-table row
    without a variant, and for tables that are images the name the paper's prose uses.

    ``recipe`` is how the variant is trained (:class:`~aqa_lib.recipes.Recipe`; None: no run configuration
    can be built for it, :func:`aqa_lib.experiments.config_for` says how to add one).
    """

    name: str
    builder: Builder
    overrides: dict[str, Any]
    description: str
    paper: str = ""
    table: str = ""
    reported_method: str = ""
    recipe: Recipe | None = None


_REGISTRY: dict[str, Variant] = {}


def register(name: str, builder: Builder, *, description: str, paper: str = "", table: str = "",
             reported_method: str = "", recipe: Recipe | None = None, **overrides: Any) -> Variant:
    """Register ``name`` (e.g. ``"lmac/table5/mlqe"``) as ``builder(**overrides, **user_kwargs)``, trained
    by ``recipe`` (its paper's training settings)."""
    if name in _REGISTRY:
        raise ValueError(f"Model variant {name!r} is registered twice.")
    if recipe is not None and not isinstance(recipe, Recipe):
        raise TypeError(f"recipe of {name!r} must be an aqa_lib.recipes.Recipe, got {type(recipe).__name__}.")
    variant = Variant(name, builder, dict(overrides), description, paper, table, reported_method, recipe)
    _REGISTRY[name] = variant
    return variant


def registrar(builder: Builder, *, paper: str, recipe: Recipe) -> Callable[..., Variant]:
    """A short ``reg(name, table, reported_method, description, **overrides)`` for one paper's variants: every
    row of that paper is built by ``builder`` and trained by ``recipe`` (used by ``mlavl.py``, ``vatp.py``)."""

    def reg(name: str, table: str, method: str, text: str, **overrides: Any) -> Variant:
        return register(name, builder, paper=paper, table=table, reported_method=method, recipe=recipe,
                        description=text, **overrides)

    return reg


PAPER_MODULES = ("lmac", "baselines", "pamfn", "mlavl", "vatp")
"""Modules whose import registers their variants (one per paper, plus baselines as they are added)."""


def _load_all() -> None:
    for module in PAPER_MODULES:
        importlib.import_module(f"{__package__}.{module}")


def variants(prefix: str = "") -> dict[str, Variant]:
    """Registered variants whose name starts with ``prefix`` (all of them by default), in registration order."""
    _load_all()
    return {k: v for k, v in _REGISTRY.items() if k.startswith(prefix)}


def get_variant(name: str) -> Variant:
    """The variant called ``name``; a ValueError lists close names when it is unknown."""
    _load_all()
    if name not in _REGISTRY:
        head = name.split("/")[0]
        close = [k for k in _REGISTRY if k.startswith(head)] or list(_REGISTRY)
        raise ValueError(f"Unknown model variant {name!r}; registered: {', '.join(close)}.")
    return _REGISTRY[name]


def model_config(name: str, **kwargs: Any) -> dict[str, Any]:
    """The keyword arguments ``create_model(name, **kwargs)`` passes to the builder (overrides + kwargs)."""
    return {**get_variant(name).overrides, **kwargs}


def create_model(name: str, **kwargs: Any) -> nn.Module:
    """Build the registered variant ``name``; ``kwargs`` override the variant's own settings."""
    variant = get_variant(name)
    return variant.builder(**{**variant.overrides, **kwargs})


_BUILT_MODALITIES: dict[str, tuple[str, ...]] = {}
"""Memo of :func:`built_modalities` (a cache key and a plan look it up for every run: building even a meta copy
of a model takes about 0.1 s, most of a notebook's planning time before this memo)."""


def built_modalities(name: str, in_dims: dict[str, int], **kwargs: Any) -> tuple[str, ...]:
    """The modalities variant ``name`` reads when given ``in_dims``: the model decides (all of them for most
    models, MLAVL RGB plus audio), read from a copy built on the meta device (no memory, no initialisation).
    A builder that cannot run on the meta device gets the contract's default, every modality it is given.
    Remembered per variant (name, builder, settings), ``in_dims`` and keywords."""
    import json

    import torch

    variant = get_variant(name)  # its builder and settings too: a test may register a name again
    memo = json.dumps([name, repr(variant.builder), variant.overrides, in_dims, kwargs], sort_keys=True,
                      default=repr)
    if memo not in _BUILT_MODALITIES:
        try:
            with torch.device("meta"):
                found = tuple(create_model(name, in_dims=in_dims, **kwargs).modalities)
        except Exception:  # noqa: BLE001 - see the docstring
            found = tuple(in_dims)
        _BUILT_MODALITIES[memo] = found
    return _BUILT_MODALITIES[memo]


def count_parameters(model: nn.Module, *, trainable_only: bool = False) -> int:
    """Number of parameters (all, or only those with ``requires_grad``)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def check_inputs(features: Mapping[str, Tensor], mask: Tensor | None, in_dims: Mapping[str, int], *,
                 model: str, min_segments: int = 1) -> tuple[dict[str, Tensor], Tensor]:
    """Check one forward pass's inputs; return the model's modalities and a boolean mask.

    ``features[m]`` must be ``[B, T, in_dims[m]]`` for every modality ``m`` of ``in_dims`` (the ones the
    model was built for; extra modalities in ``features`` are ignored), all with the same ``[B, T]``;
    ``mask`` ``[B, T]`` (True = real segment; None = all real), every video with at least ``min_segments``
    real segments. A ValueError names ``model``, the modality, the expected and the actual shape, and the fix.

    Returns ``{m: features[m]}`` in the order of ``in_dims`` and the mask as ``bool``.
    """
    xs: dict[str, Tensor] = {}
    shape: tuple[int, ...] | None = None
    first = ""
    for m, dim in in_dims.items():
        if m not in features:
            raise ValueError(f"Missing modality {m!r}: {model} reads features[{m!r}] of shape [B, T, {dim}]; got "
                             f"modalities {sorted(features)}. Pass every modality the model was built for "
                             f"({', '.join(in_dims)}), or build it with modalities=... naming only those you have.")
        x = features[m]
        if not isinstance(x, Tensor) or x.ndim != 3 or x.shape[-1] != dim:
            got = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
            raise ValueError(f"features[{m!r}] has shape {got}; {model} expected [B, T, {dim}] (it was built with "
                             f"in_dims[{m!r}] = {dim}). Pass [batch, segments, {dim}] features, or build the model "
                             f"with the data's dimension (in_dims=data.modalities).")
        if shape is None:
            shape, first = tuple(x.shape[:2]), m
        elif tuple(x.shape[:2]) != shape:
            raise ValueError(f"features[{m!r}] has [B, T] = {tuple(x.shape[:2])} but features[{first!r}] has "
                             f"{shape}: {model}'s modalities must share batch size and number of segments (crop or "
                             "pad them to a common length, with a mask).")
        xs[m] = x
    if shape is None:
        raise ValueError(f"{model} was built for no modality (empty in_dims); build it with in_dims=data.modalities.")
    if mask is None:
        mask = torch.ones(shape, dtype=torch.bool, device=xs[first].device)
    if not isinstance(mask, Tensor) or tuple(mask.shape) != shape:
        got = tuple(mask.shape) if isinstance(mask, Tensor) else type(mask).__name__
        raise ValueError(f"mask has shape {got}; {model} expected [B, T] = {shape}, the features' batch size and "
                         "number of segments (True = real segment). Pass mask=None if every segment is real.")
    mask = mask.bool()
    if torch._C._functorch.is_batchedtensor(mask):
        # Inside torch.func.vmap (runs trained together, aqa_lib.group) a value cannot steer Python: the
        # per-video checks below are skipped there; the same batches pass them when each run trains alone.
        return xs, mask
    real = mask.sum(dim=1)
    if not bool((real > 0).all()):
        raise ValueError(f"mask has a video with no real segment (a row of all False); {model} needs at least one "
                         "real segment per video. Drop empty videos from the batch.")
    short = int(real.min())
    if short < min_segments:
        raise ValueError(f"A video has {short} real segments; {model} needs at least {min_segments} per video. "
                         "Drop shorter videos or pad them with real segments.")
    return xs, mask
