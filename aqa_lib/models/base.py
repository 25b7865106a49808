"""What every model of the companion looks like to the training engine, and the registry of named variants.

A model is an ``nn.Module`` with

- ``modalities``: the tuple of feature modalities it reads (``"rgb"``, ``"flow"``, ``"audio"``, ...);
- ``forward(features, mask) -> ModelOutput`` with ``features[m]`` of shape ``[B, T, D_m]`` and ``mask``
  ``[B, T]`` (True = real segment); ``ModelOutput.score`` is the predicted *normalised* label ``[B]``;
- ``loss(output, labels) -> (total, parts)``: the paper's training objective on normalised labels, with
  ``parts`` a dict of named scalar tensors (``mse``, ``ranking``, ...) the engine logs per epoch.

Every row of every ablation table is a **named variant** (the timm pattern): ``create_model("lmac",
in_dims=..., **overrides)`` builds the paper's configuration and ``create_model("lmac/table5/mlqe", ...)``
one ablation row. A variant is a base builder plus keyword overrides, so the full configuration of a run is
plain data (the training engine fingerprints it for its results cache).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from torch import Tensor, nn


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
    """

    name: str
    builder: Builder
    overrides: dict[str, Any]
    description: str
    paper: str = ""
    table: str = ""
    reported_method: str = ""


_REGISTRY: dict[str, Variant] = {}


def register(name: str, builder: Builder, *, description: str, paper: str = "", table: str = "",
             reported_method: str = "", **overrides: Any) -> Variant:
    """Register ``name`` (e.g. ``"lmac/table5/mlqe"``) as ``builder(**overrides, **user_kwargs)``."""
    if name in _REGISTRY:
        raise ValueError(f"Model variant {name!r} is registered twice.")
    variant = Variant(name, builder, dict(overrides), description, paper, table, reported_method)
    _REGISTRY[name] = variant
    return variant


PAPER_MODULES = ("lmac", "baselines", "pamfn")
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


def count_parameters(model: nn.Module, *, trainable_only: bool = False) -> int:
    """Number of parameters (all, or only those with ``requires_grad``)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)
