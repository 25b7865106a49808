"""Training recipes: how a registered model variant is trained, kept with its registration.

A model file registers each variant with its architecture *and* its paper's training recipe
(``register(name, builder, recipe=...)``, :mod:`aqa_lib.models.base`), as timm keeps a model's default
config with its registration. A :class:`Recipe` is plain data: the optimiser settings per dataset, epochs
and batch size per scale (and per target at ``paper`` scale), the model width per scale, model settings per
dataset, and, for a multi-stage model, the runs it starts from (:class:`Pretraining`). One generic function,
:func:`aqa_lib.experiments.config_for`, turns any variant with a recipe into its
:class:`~aqa_lib.train.RunConfig`, so adding a paper touches its model file (architecture, variants, recipe)
and nothing else. Each paper's recipe, with the paper sections it follows and the choices that are ours, is
documented in its model file (section "Training recipe").

This module imports nothing from the library: model files can declare recipes without importing the engine.

How :func:`~aqa_lib.experiments.config_for` reads a recipe (``ds`` the dataset, ``scale`` the scale):

- optimiser: ``optimiser[ds]`` (else ``optimiser["*"]``), with ``scale_optimiser[scale]`` replacing fields;
- epochs: ``paper_epochs[ds][target]`` (or ``paper_epochs["*"][target]``) at ``paper`` scale, else
  ``epochs[scale]`` (a number, or dataset → number with :data:`ANY_DATASET` for the others), else
  :data:`TRAINING_SCALES`; a caller's ``epochs`` wins;
- batch size: ``batch_size[scale]``, else :data:`TRAINING_SCALES`;
- training crop: ``window[ds]`` (else ``window["*"]``) segments, else the dataset's ``train_window``;
- model keywords: ``{**model_kwargs[ds or "*"], **width[scale]}``, minus the keys the variant itself sets
  (its registered overrides win), then the caller's overrides, minus ``drop_kwargs``;
- ``choices``: allowed values of a model keyword under this recipe (the first is the builder's default),
  checked on the variant's resolved keywords;
- ``pretraining``: the stage-1 runs put in ``init_from`` and the submodules to ``freeze``;
- ``same_run_as``: the variant is configured as that other variant's very run (a table row that *is* another
  run, e.g. PAMFN Table IV's unimodal rows are the stage-1 branch runs).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

SCALES = ("smoke", "quick", "paper")
"""The training scales (the same names as the data scales, :mod:`aqa_lib.data.synthetic`)."""

TRAINING_SCALES: dict[str, dict[str, Any]] = {
    "smoke": {"epochs": 2, "batch_size": 16},
    "quick": {"epochs": 25, "batch_size": 32},
    "paper": {"epochs": 200, "batch_size": 32},
}
"""Epochs and batch size per scale, for recipes that do not set their own.

- ``smoke``: seconds per run on CPU (what CI runs): tiny widths, 2 epochs. Checks that everything runs,
  says nothing about the methods.
- ``quick``: minutes per notebook on CPU: small widths and a few tens of epochs, on the ``quick`` data.
- ``paper``: the paper's configuration and full data; meant for a GPU.
"""

ANY_DATASET = "*"
"""Key of the per-dataset tables that applies to every dataset not listed (e.g. the Fis-V settings)."""


@dataclass(frozen=True)
class Optimiser:
    """Optimisation settings of a run (the :class:`~aqa_lib.train.RunConfig` fields of the same names).

    The defaults are the RunConfig defaults (``tests/test_recipes.py`` pins that), so a recipe states only
    what its paper sets.
    """

    optimizer: str = "adamw"
    lr: float = 1e-4
    weight_decay: float = 1e-2
    momentum: float = 0.9
    min_lr_ratio: float = 0.0
    grad_clip: float = 0.0
    lr_multipliers: Mapping[str, float] = field(default_factory=dict)

    def run_fields(self) -> dict[str, Any]:
        """The RunConfig keywords."""
        return {"optimizer": self.optimizer, "lr": self.lr, "weight_decay": self.weight_decay,
                "momentum": self.momentum, "min_lr_ratio": self.min_lr_ratio, "grad_clip": self.grad_clip,
                "lr_multipliers": dict(self.lr_multipliers)}


@dataclass(frozen=True)
class Pretraining:
    """The stage-1 runs a multi-stage variant starts from: one run per modality the variant reads.

    Attributes:
        variant: the stage-1 variant, ``{modality}`` filled in (PAMFN: ``"pamfn/branch/{modality}"``).
        into: the submodule of this model the stage-1 weights go to (``"branches.{modality}"``).
        source: the submodule of the stage-1 model they come from (``"branch"``).
        shared_keys: model keywords of this run the stage-1 runs take too, so their weights fit
            (PAMFN: the widths ``d_model`` and ``hidden_dim``).
        frozen: modalities whose pretrained submodule is frozen in this run (PAMFN: RGB and flow).
        when: model keyword → value for which the pretraining applies (PAMFN: ``{"training":
            "two_stage"}``; a ``one_stage`` run of the same variant starts from random weights).
    """

    variant: str
    into: str
    source: str
    shared_keys: tuple[str, ...] = ()
    frozen: tuple[str, ...] = ()
    when: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Recipe:
    """How a variant is trained: a paper's settings, as plain data (read by ``config_for``; module docstring).

    Attributes:
        family: whose settings these are: the paper id (``"lmac"``, ``"pamfn"``) or ``"baselines"``.
        source: where the settings come from, in a few words (e.g. ``"LMAC-Net §4.2"``).
        optimiser: dataset name → :class:`Optimiser`; :data:`ANY_DATASET` for the others.
        scale_optimiser: scale → optimiser fields replaced at that scale (e.g. a larger lr at small scales).
        epochs: scale → epochs, or scale → dataset (or :data:`ANY_DATASET`) → epochs (scales not listed:
            :data:`TRAINING_SCALES`).
        paper_epochs: dataset (or :data:`ANY_DATASET`) → target → epochs at ``paper`` scale.
        batch_size: scale → batch size (scales not listed: :data:`TRAINING_SCALES`).
        window: dataset (or :data:`ANY_DATASET`) → training crop length in segments (datasets not listed:
            the dataset's ``train_window``, 70 RG / 130 Fis-V).
        width: scale → model keywords (the model's width at that scale; ``{}`` = the builder's defaults).
        model_kwargs: dataset (or :data:`ANY_DATASET`) → model keywords the paper sets per dataset.
        drop_kwargs: caller keywords that select how the variant is trained but are not passed to its
            builder (they are removed from the run's ``model_kwargs``).
        choices: model keyword → its allowed values under this recipe (the first is the builder's default).
        save_weights: keep the final weights (runs that later runs start from).
        pretraining: the stage-1 runs of a multi-stage variant (:class:`Pretraining`), or None.
        same_run_as: configure the variant as this other variant's run ("" = itself).
        datasets: the datasets the recipe can train (empty = any): e.g. MLAVL needs a sport's action
            vocabulary and grade prompts, which MTL-AQA does not have.
        datasets_why: one line saying why the others cannot run and what to use instead.
    """

    family: str
    source: str
    optimiser: Mapping[str, Optimiser]
    scale_optimiser: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    epochs: Mapping[str, int | Mapping[str, int]] = field(default_factory=dict)
    paper_epochs: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    batch_size: Mapping[str, int] = field(default_factory=dict)
    window: Mapping[str, int] = field(default_factory=dict)
    width: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    model_kwargs: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    drop_kwargs: tuple[str, ...] = ()
    choices: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)
    save_weights: bool = False
    pretraining: Pretraining | None = None
    same_run_as: str = ""
    datasets: tuple[str, ...] = ()
    datasets_why: str = ""

    def __post_init__(self) -> None:
        if not self.optimiser:
            raise ValueError(f"Recipe {self.source!r} has no optimiser settings; give at least "
                             f"optimiser={{{ANY_DATASET!r}: Optimiser(...)}}.")
        for name in ("scale_optimiser", "epochs", "batch_size", "width"):
            unknown = sorted(set(getattr(self, name)) - set(SCALES))
            if unknown:
                raise ValueError(f"Recipe {self.source!r}: {name} names unknown scales {unknown}; "
                                 f"scales: {', '.join(SCALES)}.")

    def check_dataset(self, dataset: str, variant: str) -> None:
        """Raise a ValueError naming the datasets ``variant`` can train when ``dataset`` is not one of them."""
        if self.datasets and dataset not in self.datasets:
            raise ValueError(f"{variant!r} cannot train on {dataset!r}: its recipe ({self.source}) trains only on "
                             f"{', '.join(self.datasets)}. {self.datasets_why}".rstrip())

    def optimiser_for(self, dataset: str, scale: str) -> Optimiser:
        """The optimiser settings on ``dataset`` at ``scale``."""
        opt = self.optimiser.get(dataset) or self.optimiser.get(ANY_DATASET)
        if opt is None:
            raise ValueError(f"Recipe {self.source!r} has no optimiser for dataset {dataset!r} and no "
                             f"{ANY_DATASET!r} entry; known: {', '.join(self.optimiser)}.")
        changes = dict(self.scale_optimiser.get(scale, {}))
        if not changes:
            return opt
        fields = opt.run_fields()
        unknown = sorted(set(changes) - set(fields))
        if unknown:
            raise ValueError(f"Recipe {self.source!r}: scale_optimiser[{scale!r}] sets unknown fields {unknown}; "
                             f"fields: {', '.join(fields)}.")
        return Optimiser(**{**fields, **changes})

    def epochs_for(self, dataset: str, target: str, scale: str) -> int:
        """Epochs on ``dataset`` / ``target`` at ``scale``."""
        if scale == "paper":
            per_target = {**self.paper_epochs.get(ANY_DATASET, {}), **self.paper_epochs.get(dataset, {})}
            if target in per_target:
                return int(per_target[target])
        default = TRAINING_SCALES[scale]["epochs"]
        value = self.epochs.get(scale, default)
        if isinstance(value, Mapping):
            value = value.get(dataset, value.get(ANY_DATASET, default))
        return int(value)

    def window_for(self, dataset: str) -> int:
        """Training crop length on ``dataset`` (0 = the dataset's own ``train_window``)."""
        return int(self.window.get(dataset, self.window.get(ANY_DATASET, 0)))

    def batch_size_for(self, scale: str) -> int:
        return int(self.batch_size.get(scale, TRAINING_SCALES[scale]["batch_size"]))

    def default_model_kwargs(self, dataset: str, scale: str) -> dict[str, Any]:
        """The recipe's model keywords on ``dataset`` at ``scale`` (before the variant's and caller's)."""
        per_dataset = self.model_kwargs.get(dataset, self.model_kwargs.get(ANY_DATASET, {}))
        return {**per_dataset, **self.width.get(scale, {})}
