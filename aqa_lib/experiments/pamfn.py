"""PAMFN's experiment settings (paper §III-F, §IV-C; the official configs) at each scale, two-stage training.

Which scheme a variant needs is its ``training`` setting (:mod:`aqa_lib.models.pamfn`; overridable as a
keyword, e.g. ``pamfn_config("pamfn", ..., training="one_stage")``):

- ``branch`` (``pamfn/branch/<m>``, Table IV's unimodal rows): **stage 1**, one branch and its head alone:
  SGD lr 1e-2, momentum 0.9, weight decay 1e-4, cosine to 5e-6 (``min_lr_ratio = 5e-4``), 250 epochs,
  dropout 0.5, gradient-norm clip 2, batch 32, ``save_weights=True``. The table rows
  ``pamfn/tableIV/{rgb,flow,audio}`` are configured as the very same runs (model ``pamfn/branch/<m>``), so
  a Table IV sweep reuses the stage-1 runs of the two-stage models from the cache.
- ``two_stage`` (the paper's model and most ablations): **stage 2**. ``init_from`` holds the stage-1
  :class:`~aqa_lib.train.RunConfig` of every branch the variant uses (same data, seed, device and branch
  width), so the run's fingerprint covers them and each is trained once and cached; the RGB and flow
  branches are frozen (kept in eval mode by the engine), audio stays trainable; AdamW lr 5e-4 (RG) /
  8e-4 (Fis-V), the regression head at 0.1× (``lr_multipliers={"head.": 0.1}``: the mixed head only, as the
  official ``reduce_fc_lr``), gradient clip 2, K = 10 (RG) / 6 (Fis-V), d = 256, batch 32; epochs Ball 400,
  Clubs 500, Hoop 300, Ribbon 500, TES 500, PCS 500 at ``paper`` scale.
- ``one_stage`` (Table IV's Weighted Fusion, Table V's one-stage rows): the stage-2 settings, but the branches
  start from random weights and nothing is frozen (our reading: the paper gives no optimiser for these).

Training crops (70 RG / 130 Fis-V segments) are the datasets' ``train_window``; test uses whole sequences.

Settings taken from the official code where the paper is silent or differs (each a documented choice):

- Stage-2 weight decay 1e-2: the official config says 1e-4, but its code builds ``AdamW(params, lr)`` and so
  runs with PyTorch's default 1e-2.
- Stage-2 schedule: cosine to 5e-6 on RG (``min_lr_ratio = 0.01``) but a **constant** learning rate on Fis-V
  (the official Fis-V config has ``lr_scheduler: none``; the paper's text says cosine for both).
- Gradient clipping at norm 2 in both stages (``clip_grad: True`` in both official configs).
- The schedule is per step here (the engine's), per epoch in the official code (timm); the 0.1× head follows
  the same cosine scaled by 0.1 (timm would decay it to the same 5e-6 floor).
- Each seed trains its own stage-1 branches (seed-for-seed two-stage runs); the official code pretrains once.

Scales (the data scales of :mod:`aqa_lib.data.synthetic`; the optimiser settings above at every scale):

- ``smoke``: d = 16, embedding width 32, K = 2; 2 epochs per stage, batch 16 (seconds, checks only).
- ``quick``: d = 32, embedding width 64, K = 3; 20 epochs stage 1, 40 epochs stage 2, batch 32. Measured on
  two shared, busy CPU cores with ``torch.set_num_threads(1)`` (two threads were ~10× slower there), data
  already generated: the complete two-stage PAMFN (three branches, then the full model) took ≈ 80 s on the
  quick RG data (100 training videos; stage 1 ≈ 3 × 5 s, stage 2 ≈ 50 s at 1.2 s/epoch) and ≈ 3.5 min on the
  quick Fis-V data (200 longer videos; stage 1 ≈ 3 × 11 s, stage 2 ≈ 160 s at 4 s/epoch).
- ``paper``: the paper's width (d = 256, embedding 512, K = 10 RG / 6 Fis-V) and epochs; meant for a GPU.

Other datasets (e.g. FS1000) get the Fis-V settings.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..data.registry import get_spec
from ..models.base import get_variant
from ..models.pamfn import TRAININGS, build_branch, build_fusion_baseline, build_pamfn
from ..train import RunConfig
from . import CONFIG_BUILDERS, TRAINING_SCALES

PAMFN_WIDTH: dict[str, dict[str, Any]] = {
    "smoke": {"d_model": 16, "hidden_dim": 32, "n_fusion": 2},
    "quick": {"d_model": 32, "hidden_dim": 64, "n_fusion": 3},
    "paper": {},
}
"""Model width per scale (``paper``: the builders' defaults, plus K per dataset from :data:`PAMFN_PAPER`)."""

PAMFN_EPOCHS: dict[str, tuple[int, int | None]] = {"smoke": (2, 2), "quick": (20, 40), "paper": (250, None)}
"""(stage-1 epochs, stage-2 epochs) per scale; ``None`` = the paper's per-target epochs."""

PAPER_EPOCHS = {"Ball": 400, "Clubs": 500, "Hoop": 300, "Ribbon": 500, "TES": 500, "PCS": 500}
"""Stage-2 epochs per target at ``paper`` scale (§IV-C); other targets get 500."""

PAMFN_PAPER = {
    "rg": {"lr": 5e-4, "n_fusion": 10, "min_lr_ratio": 5e-6 / 5e-4},
    "fisv": {"lr": 8e-4, "n_fusion": 6, "min_lr_ratio": 1.0},
}
"""Stage-2 settings per dataset: learning rate, K, and the cosine floor (1.0 = constant, official Fis-V)."""

STAGE1 = {"optimizer": "sgd", "lr": 1e-2, "momentum": 0.9, "weight_decay": 1e-4, "min_lr_ratio": 5e-6 / 1e-2,
          "grad_clip": 2.0}
"""Stage-1 optimisation (each branch alone)."""
STAGE1_DROPOUT = 0.5
"""The branch head's dropout in stage 1 (the official ``drop_rate``)."""

STAGE2 = {"optimizer": "adamw", "weight_decay": 1e-2, "grad_clip": 2.0, "lr_multipliers": {"head.": 0.1}}
"""Stage-2 (and one-stage) optimisation besides the per-dataset learning rate."""

FROZEN_IN_STAGE_2 = ("rgb", "flow")
"""Branches kept frozen in stage 2 (audio is fine-tuned: alone it can hardly assess an action, §IV-E)."""

BRANCH_KEYS = ("d_model", "hidden_dim")
"""Model settings stage 1 must share with stage 2 so that the branch weights fit."""

BRANCH_ALIASES = {f"pamfn/tableIV/{m}": f"pamfn/branch/{m}" for m in ("rgb", "flow", "audio")}
"""Table IV's unimodal rows are the stage-1 runs themselves."""


def training_scheme(variant: str, overrides: dict[str, Any] | None = None) -> str:
    """``"branch"``, ``"one_stage"`` or ``"two_stage"``: how ``variant`` is trained (``overrides`` first)."""
    v = get_variant(variant)
    if v.builder not in (build_pamfn, build_branch, build_fusion_baseline):
        raise ValueError(f"{variant!r} is not a PAMFN variant (its builder is {v.builder.__name__}).")
    valid = ("branch",) if v.builder is build_branch else ("two_stage", "one_stage")
    scheme = (overrides or {}).get("training", v.overrides.get("training", valid[0]))
    if scheme not in valid:
        raise ValueError(f"training={scheme!r} does not apply to {variant!r}; valid values: {', '.join(valid)} "
                         f"(all schemes: {', '.join(TRAININGS)}).")
    return scheme


def _data_fields(dataset: str, target: str, scale: str, seed: int, source: str, data_root: str, device: str,
                 data_seed: int, batch_size: int) -> dict[str, Any]:
    return {"dataset": dataset, "target": target, "source": source, "data_root": data_root,
            "scale": scale if source == "synthetic" else "paper", "data_seed": data_seed, "seed": seed,
            "device": device, "batch_size": batch_size}


def stage1_config(modality: str, dataset: str, target: str, *, scale: str = "quick", seed: int = 0,
                  source: str = "synthetic", data_root: str = "", device: str = "cpu", epochs: int | None = None,
                  data_seed: int = 0, record_keys: Sequence[str] = (), final_keys: Sequence[str] = (),
                  **branch_overrides: Any) -> RunConfig:
    """The stage-1 run of one branch (``pamfn/branch/<modality>``) on one target at ``scale``."""
    if scale not in TRAINING_SCALES:
        raise ValueError(f"Unknown scale {scale!r}; valid: {', '.join(TRAINING_SCALES)}.")
    name = f"pamfn/branch/{modality}"
    get_variant(name)
    ds = get_spec(dataset).name
    width = {k: v for k, v in PAMFN_WIDTH[scale].items() if k in BRANCH_KEYS}
    model_kwargs = {**width, "head_dropout": STAGE1_DROPOUT, **branch_overrides}
    model_kwargs.pop("training", None)
    return RunConfig(
        model=name, model_kwargs=model_kwargs,
        **_data_fields(ds, target, scale, seed, source, data_root, device, data_seed,
                       TRAINING_SCALES[scale]["batch_size"]),
        epochs=epochs or PAMFN_EPOCHS[scale][0], **STAGE1, save_weights=True,
        record_keys=tuple(record_keys), final_keys=tuple(final_keys),
    )


def pamfn_config(variant: str, dataset: str, target: str, *, scale: str = "quick", seed: int = 0,
                 source: str = "synthetic", data_root: str = "", device: str = "cpu", epochs: int | None = None,
                 record_keys: Sequence[str] = (), final_keys: Sequence[str] = (), data_seed: int = 0,
                 stage1_epochs: int | None = None, **model_overrides: Any) -> RunConfig:
    """The :class:`~aqa_lib.train.RunConfig` of one PAMFN variant on one target at ``scale``.

    ``epochs`` sets the epochs of the run itself (stage 2, or stage 1 for a branch variant);
    ``stage1_epochs`` those of the embedded stage-1 runs. ``model_overrides`` go to the model builder
    (``training=`` changes the scheme; ``d_model`` / ``hidden_dim`` reach the stage-1 branches too).
    """
    if scale not in TRAINING_SCALES:
        raise ValueError(f"Unknown scale {scale!r}; valid: {', '.join(TRAINING_SCALES)}.")
    variant = BRANCH_ALIASES.get(variant, variant)
    v = get_variant(variant)
    scheme = training_scheme(variant, model_overrides)
    overrides = dict(model_overrides)
    ds = get_spec(dataset).name
    common = dict(scale=scale, seed=seed, source=source, data_root=data_root, device=device, data_seed=data_seed)

    if scheme == "branch":
        modality = v.overrides["modalities"][0]
        branch = {k: val for k, val in overrides.items() if k != "modalities"}
        return stage1_config(modality, ds, target, epochs=epochs, record_keys=record_keys, final_keys=final_keys,
                             **common, **branch)

    paper = PAMFN_PAPER.get(ds, PAMFN_PAPER["fisv"])
    defaults = dict(PAMFN_WIDTH[scale])
    if v.builder is build_pamfn:
        defaults.setdefault("n_fusion", paper["n_fusion"])
    else:
        defaults.pop("n_fusion", None)
    # The variant's own settings (e.g. Fig. 6's K) win over the scale's defaults; the caller's win over both.
    defaults = {k: val for k, val in defaults.items() if k not in v.overrides}
    model_kwargs = {**defaults, **overrides}

    init_from: tuple[dict[str, Any], ...] = ()
    freeze: tuple[str, ...] = ()
    if scheme == "two_stage":
        mods = tuple(model_kwargs.get("modalities") or v.overrides.get("modalities") or get_spec(ds).modalities)
        branch_kwargs = {k: val for k, val in model_kwargs.items() if k in BRANCH_KEYS}
        init_from = tuple(
            {"into": f"branches.{m}", "from": "branch",
             "run": stage1_config(m, ds, target, epochs=stage1_epochs, **common, **branch_kwargs).to_dict()}
            for m in mods
        )
        freeze = tuple(f"branches.{m}" for m in mods if m in FROZEN_IN_STAGE_2)

    stage2_epochs = PAMFN_EPOCHS[scale][1] or PAPER_EPOCHS.get(target, 500)
    return RunConfig(
        model=variant, model_kwargs=model_kwargs,
        **_data_fields(ds, target, scale, seed, source, data_root, device, data_seed,
                       TRAINING_SCALES[scale]["batch_size"]),
        epochs=epochs or stage2_epochs, lr=paper["lr"], min_lr_ratio=paper["min_lr_ratio"], **STAGE2,
        init_from=init_from, freeze=freeze, record_keys=tuple(record_keys), final_keys=tuple(final_keys),
    )


CONFIG_BUILDERS["pamfn"] = pamfn_config
