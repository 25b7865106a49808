"""Run configurations: any registered variant → its :class:`~aqa_lib.train.RunConfig`, read from its recipe.

:func:`config_for` is the one builder: it reads the :class:`~aqa_lib.recipes.Recipe` the variant was
registered with (its paper's optimiser, epochs, widths and pretraining, declared in the model file) and
fills in the data, the scale and the caller's overrides. The per-paper names of earlier versions
(:func:`lmac_config`, :func:`pamfn_config`, :func:`stage1_config`, :func:`baseline_config`,
:func:`builder_for`, :func:`config_builder`) are thin compatibility wrappers over it: they check that the
variant belongs to their family and call :func:`config_for`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

from ..data.registry import get_spec
from ..models.base import Variant, built_modalities, get_variant, variants
from ..recipes import TRAINING_SCALES, Recipe
from ..train import RunConfig


def recipe_of(variant: str) -> Recipe:
    """The training recipe ``variant`` was registered with (a ValueError naming the fix when it has none)."""
    v = get_variant(variant)
    if v.recipe is None:
        raise ValueError(
            f"Model variant {variant!r} has no training recipe, so no run configuration can be built for it. "
            f"Register it with one: register({variant!r}, builder, recipe=Recipe(...), ...) in its model file "
            "(aqa_lib.recipes.Recipe holds the optimiser, epochs and widths; see LMAC_RECIPE in "
            "aqa_lib/models/lmac.py for an example)."
        )
    return v.recipe


def _check_choices(v: Variant, recipe: Recipe, kwargs: dict[str, Any]) -> dict[str, Any]:
    """The variant's resolved keywords (its overrides, then ``kwargs``), the recipe's ``choices`` checked."""
    resolved = {**v.overrides, **kwargs}
    for key, allowed in recipe.choices.items():
        value = resolved.get(key, allowed[0])
        if value not in allowed:
            raise ValueError(f"{key}={value!r} does not apply to {v.name!r}; valid values: "
                             f"{', '.join(map(str, allowed))}.")
        resolved.setdefault(key, allowed[0])
    return resolved


def config_for(variant: str, dataset: str, target: str, *, scale: str = "quick", seed: int = 0,
               source: str = "synthetic", data_root: str = "", device: str = "cpu", epochs: int | None = None,
               record_keys: Sequence[str] = (), final_keys: Sequence[str] = (), data_seed: int = 0,
               pretrain_epochs: int | None = None, **model_overrides: Any) -> RunConfig:
    """The :class:`~aqa_lib.train.RunConfig` of one registered variant on one target at ``scale``.

    Everything the paper decides comes from the variant's recipe (:mod:`aqa_lib.recipes` says how each
    field is read): optimiser settings for the dataset, epochs for the scale (per target at ``paper``
    scale), batch size, model width, the paper's per-dataset model settings, and for a multi-stage variant
    its stage-1 runs (``init_from``) and frozen submodules. The variant's own registered settings win over
    the recipe's width and dataset settings; ``model_overrides`` (builder keywords) win over both.

    Args:
        epochs: epochs of this run (None or 0: the recipe's). ``pretrain_epochs``: those of its stage-1 runs.
        source, data_root: ``"synthetic"`` (the embedded default, at ``scale``) or ``"real"`` features under
            ``data_root`` (the config's data scale is then ``"paper"``: all of the data).
        seed, data_seed: training seed and the synthetic world's seed.
        record_keys, final_keys: what the engine records for the figures (:class:`~aqa_lib.train.RunConfig`).

    ``$AQA_CPU_BF16=1`` sets ``cpu_bf16`` (bf16 autocast on CPU too) in every config, its stage-1 runs' too.
    """
    if scale not in TRAINING_SCALES:
        raise ValueError(f"Unknown scale {scale!r}; valid: {', '.join(TRAINING_SCALES)}.")
    recipe = recipe_of(variant)
    if recipe.same_run_as:  # e.g. a table row that *is* another variant's run
        return config_for(recipe.same_run_as, dataset, target, scale=scale, seed=seed, source=source,
                          data_root=data_root, device=device, epochs=epochs, record_keys=record_keys,
                          final_keys=final_keys, data_seed=data_seed, pretrain_epochs=pretrain_epochs,
                          **model_overrides)
    v = get_variant(variant)
    spec = get_spec(dataset)
    ds, target = spec.name, spec.check_target(target)
    recipe.check_dataset(ds, variant)
    resolved = _check_choices(v, recipe, model_overrides)

    defaults = recipe.default_model_kwargs(ds, scale)
    model_kwargs = {**{k: val for k, val in defaults.items() if k not in v.overrides}, **model_overrides}
    for key in recipe.drop_kwargs:
        model_kwargs.pop(key, None)

    common = dict(scale=scale, seed=seed, source=source, data_root=data_root, device=device, data_seed=data_seed)
    init_from: tuple[dict[str, Any], ...] = ()
    freeze: tuple[str, ...] = ()
    pre = recipe.pretraining
    if pre is not None and all(resolved.get(k) == val for k, val in pre.when.items()):
        mods = tuple(resolved.get("modalities") or spec.modalities)
        shared = {k: val for k, val in model_kwargs.items() if k in pre.shared_keys}
        init_from = tuple(
            {"into": pre.into.format(modality=m), "from": pre.source,
             "run": config_for(pre.variant.format(modality=m), ds, target, epochs=pretrain_epochs, **common,
                               **shared).to_dict()}
            for m in mods
        )
        freeze = tuple(pre.into.format(modality=m) for m in mods if m in pre.frozen)

    return RunConfig(
        cpu_bf16=cpu_bf16_requested(),
        model=variant, dataset=ds, target=target, model_kwargs=model_kwargs, source=source, data_root=data_root,
        scale=scale if source == "synthetic" else "paper", data_seed=data_seed, seed=seed,
        epochs=epochs or recipe.epochs_for(ds, target, scale), batch_size=recipe.batch_size_for(scale),
        window=recipe.window_for(ds),
        **recipe.optimiser_for(ds, scale).run_fields(), device=device, record_keys=tuple(record_keys),
        final_keys=tuple(final_keys), save_weights=recipe.save_weights, init_from=init_from, freeze=freeze,
    )


CPU_BF16_ENV = "AQA_CPU_BF16"
"""``AQA_CPU_BF16=1`` makes every config built here a ``cpu_bf16`` one (bf16 autocast on CPU too; README)."""


def cpu_bf16_requested() -> bool:
    """Whether ``$AQA_CPU_BF16`` asks for bf16 autocast on CPU (``1`` / ``0``; unset = no)."""
    raw = os.environ.get(CPU_BF16_ENV, "0").strip()
    if raw not in ("0", "1"):
        raise ValueError(f"{CPU_BF16_ENV} must be 1 (bf16 autocast on CPU) or 0, got {raw!r}.")
    return raw == "1"


def recipe_families() -> dict[str, list[str]]:
    """Recipe family (``"lmac"``, ``"pamfn"``, ``"baselines"``, ...) → the variants it trains."""
    out: dict[str, list[str]] = {}
    for name, v in variants().items():
        if v.recipe is not None:
            out.setdefault(v.recipe.family, []).append(name)
    return out


def targets_for(dataset: str, target: str) -> list[str]:
    """``"all"`` (or empty) → every target of the dataset; else the one target, validated."""
    spec = get_spec(dataset)
    if target in ("", "all", None):
        return list(spec.targets)
    return [spec.check_target(target)]


def variant_modalities(name: str, dataset: str) -> tuple[str, ...]:
    """The modalities a registered variant reads on ``dataset``: its ``modalities`` override, else what the
    model builds for the dataset's modalities (:func:`aqa_lib.models.base.built_modalities`)."""
    override = get_variant(name).overrides.get("modalities")
    return tuple(override) if override else built_modalities(name, dict(get_spec(dataset).modalities))


# ---------------------------------------------------------------------------------------------------------
# Compatibility wrappers (the per-paper builders of earlier versions): each checks the family, then config_for
# ---------------------------------------------------------------------------------------------------------


def _check_family(variant: str, family: str, what: str) -> None:
    recipe = recipe_of(variant)
    if recipe.family != family:
        raise ValueError(f"{variant!r} is not {what} (its recipe is the {recipe.family!r} family's); "
                         f"{family} variants: {', '.join(recipe_families().get(family, []))}. "
                         "aqa_lib.experiments.config_for builds the run of any registered variant.")


def lmac_config(variant: str, dataset: str, target: str, *, scale: str = "quick", seed: int = 0,
                source: str = "synthetic", data_root: str = "", device: str = "cpu", epochs: int | None = None,
                record_keys: Sequence[str] = (), final_keys: Sequence[str] = (), data_seed: int = 0,
                **model_overrides: Any) -> RunConfig:
    """Compatibility wrapper: :func:`config_for` for an LMAC-Net variant (recipe: ``LMAC_RECIPE`` in
    :mod:`aqa_lib.models.lmac`)."""
    _check_family(variant, "lmac", "an LMAC-Net variant")
    return config_for(variant, dataset, target, scale=scale, seed=seed, source=source, data_root=data_root,
                      device=device, epochs=epochs, record_keys=record_keys, final_keys=final_keys,
                      data_seed=data_seed, **model_overrides)


def pamfn_config(variant: str, dataset: str, target: str, *, scale: str = "quick", seed: int = 0,
                 source: str = "synthetic", data_root: str = "", device: str = "cpu", epochs: int | None = None,
                 record_keys: Sequence[str] = (), final_keys: Sequence[str] = (), data_seed: int = 0,
                 stage1_epochs: int | None = None, **model_overrides: Any) -> RunConfig:
    """Compatibility wrapper: :func:`config_for` for a PAMFN variant (recipes: ``PAMFN_RECIPE`` and
    ``STAGE1_RECIPE`` in :mod:`aqa_lib.models.pamfn`).

    ``epochs`` sets the epochs of the run itself (stage 2, or stage 1 for a branch variant);
    ``stage1_epochs`` those of the embedded stage-1 runs. ``model_overrides`` go to the model builder
    (``training=`` changes the scheme; ``d_model`` / ``hidden_dim`` reach the stage-1 branches too).
    """
    _check_family(variant, "pamfn", "a PAMFN variant")
    return config_for(variant, dataset, target, scale=scale, seed=seed, source=source, data_root=data_root,
                      device=device, epochs=epochs, record_keys=record_keys, final_keys=final_keys,
                      data_seed=data_seed, pretrain_epochs=stage1_epochs, **model_overrides)


def stage1_config(modality: str, dataset: str, target: str, *, scale: str = "quick", seed: int = 0,
                  source: str = "synthetic", data_root: str = "", device: str = "cpu", epochs: int | None = None,
                  data_seed: int = 0, record_keys: Sequence[str] = (), final_keys: Sequence[str] = (),
                  **branch_overrides: Any) -> RunConfig:
    """Compatibility wrapper: the stage-1 run of one PAMFN branch, :func:`config_for` of
    ``pamfn/branch/<modality>``."""
    return config_for(f"pamfn/branch/{modality}", dataset, target, scale=scale, seed=seed, source=source,
                      data_root=data_root, device=device, epochs=epochs, record_keys=record_keys,
                      final_keys=final_keys, data_seed=data_seed, **branch_overrides)


def baseline_config(variant: str, dataset: str, target: str, *, scale: str = "quick", seed: int = 0,
                    source: str = "synthetic", data_root: str = "", device: str = "cpu", epochs: int | None = None,
                    record_keys: Sequence[str] = (), final_keys: Sequence[str] = (), data_seed: int = 0,
                    **model_overrides: Any) -> RunConfig:
    """Compatibility wrapper: :func:`config_for` for a baseline (``gdlt``, ``joint_va``, ``msaf``, ``umt``,
    ``weighted_fusion``, ``early_fusion``; recipes ``GDLT_RECIPE`` / ``FUSION_RECIPE`` in
    :mod:`aqa_lib.models.baselines`)."""
    _check_family(variant, "baselines", "a baseline variant")
    return config_for(variant, dataset, target, scale=scale, seed=seed, source=source, data_root=data_root,
                      device=device, epochs=epochs, record_keys=record_keys, final_keys=final_keys,
                      data_seed=data_seed, **model_overrides)


def training_scheme(variant: str, overrides: dict[str, Any] | None = None) -> str:
    """Compatibility: ``"branch"``, ``"one_stage"`` or ``"two_stage"``, how a PAMFN variant is trained
    (``overrides`` first; the recipe's ``choices`` say which schemes apply)."""
    _check_family(variant, "pamfn", "a PAMFN variant")
    v = get_variant(variant)
    return str(_check_choices(v, recipe_of(variant), dict(overrides or {}))["training"])


CONFIG_BUILDERS: dict[str, Callable[..., RunConfig]] = {
    "lmac": lmac_config, "pamfn": pamfn_config, "baselines": baseline_config,
}
"""Compatibility: recipe family → its named wrapper (families without one use :func:`config_for`)."""


def config_builder(paper: str) -> Callable[..., RunConfig]:
    """Compatibility: the run-configuration builder of one recipe family (``"lmac"``, ``"pamfn"``,
    ``"baselines"``): its named wrapper, or :func:`config_for` (a ValueError lists the known families)."""
    families = recipe_families()
    if paper not in families:
        raise ValueError(f"No training recipes for paper {paper!r}; known: {', '.join(families)}.")
    return CONFIG_BUILDERS.get(paper, config_for)


def builder_for(variant: str) -> Callable[..., RunConfig]:
    """Compatibility: the builder that trains ``variant``, i.e. :func:`config_for` once its recipe is known
    (unknown names get the registry's error listing the known ones; a variant without a recipe says how to
    add one)."""
    recipe_of(variant)
    return config_for
