"""Training settings of the comparison baselines (:mod:`aqa_lib.models.baselines`) at each scale.

GDLT (official code, ``shared/design/models.md``): SGD, lr 1e-2, momentum 0.9, weight decay 1e-4, batch 32,
cosine decay to lr · 0.01, dropout 0.3; epochs per RG apparatus Ball 250 / Clubs 400 / Hoop 500 / Ribbon 150.
The official README gives no Fis-V epoch count: we use **250** for both Fis-V targets (our choice: Fis-V has
about twice as many training videos per target as an RG apparatus, so 250 epochs are about as many steps as
RG's 400 / 500). Training crops are the dataset's ``train_window`` (70 RG / 130 Fis-V segments; the
official RG code used 68).

Joint-VA-, MSAF-, UMT-style, weighted and early fusion: PAMFN re-implemented the first three without giving
their training settings, so these are **ours**: AdamW, lr 5e-4 (PAMFN's own stage-2 learning rate on RG),
weight decay 1e-4, cosine decay to lr · 0.01, batch 32, dropout 0.3 (the builders' default), and the scale's
epoch count (200 at ``paper`` scale).

Model width per scale: ``smoke`` d = 32, ``quick`` d = 64, ``paper`` the builders' defaults (d = 256; GDLT's
``in_proj`` hidden width stays half the input dimension at every scale, as in the official code).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..data.registry import get_spec
from ..models.base import get_variant
from ..models.baselines import BASELINE_VARIANTS
from ..train import RunConfig
from . import CONFIG_BUILDERS, TRAINING_SCALES

BASELINE_WIDTH = {"smoke": {"d_model": 32}, "quick": {"d_model": 64}, "paper": {}}
"""Model width per scale (``paper`` = the builders' defaults)."""

GDLT_EPOCHS = {"rg": {"Ball": 250, "Clubs": 400, "Hoop": 500, "Ribbon": 150}, "fisv": {"TES": 250, "PCS": 250}}
"""GDLT's epochs at ``paper`` scale (RG: official README; Fis-V: our choice). Other datasets: 250."""
GDLT_DEFAULT_EPOCHS = 250

GDLT_OPTIM = {"optimizer": "sgd", "lr": 1e-2, "momentum": 0.9, "weight_decay": 1e-4, "min_lr_ratio": 0.01}
"""GDLT's official optimisation (every scale)."""
FUSION_OPTIM = {"optimizer": "adamw", "lr": 5e-4, "weight_decay": 1e-4, "min_lr_ratio": 0.01}
"""Our optimisation of the multimodal re-implementations and the simple fusions (every scale)."""


def gdlt_epochs(dataset: str, target: str) -> int:
    """GDLT's paper-scale epoch count for ``dataset`` / ``target``."""
    return GDLT_EPOCHS.get(get_spec(dataset).name, {}).get(target, GDLT_DEFAULT_EPOCHS)


def baseline_config(variant: str, dataset: str, target: str, *, scale: str = "quick", seed: int = 0,
                    source: str = "synthetic", data_root: str = "", device: str = "cpu", epochs: int | None = None,
                    record_keys: Sequence[str] = (), final_keys: Sequence[str] = (), data_seed: int = 0,
                    **model_overrides: Any) -> RunConfig:
    """The :class:`~aqa_lib.train.RunConfig` of one baseline variant (``gdlt``, ``joint_va``, ``msaf``, ``umt``,
    ``weighted_fusion``, ``early_fusion``) on one target at ``scale``."""
    if scale not in TRAINING_SCALES:
        raise ValueError(f"Unknown scale {scale!r}; valid: {', '.join(TRAINING_SCALES)}.")
    if variant not in BASELINE_VARIANTS:
        raise ValueError(f"{variant!r} is not a baseline variant; baselines: {', '.join(BASELINE_VARIANTS)} "
                         "(papers' own models have their own config builders).")
    get_variant(variant)
    spec = get_spec(dataset)
    target = spec.check_target(target)
    preset = TRAINING_SCALES[scale]
    is_gdlt = variant == "gdlt"
    if epochs is None:
        epochs = gdlt_epochs(spec.name, target) if (is_gdlt and scale == "paper") else preset["epochs"]
    optim = GDLT_OPTIM if is_gdlt else FUSION_OPTIM
    model_kwargs = {**BASELINE_WIDTH[scale], **model_overrides}
    return RunConfig(
        model=variant, dataset=spec.name, target=target, model_kwargs=model_kwargs, source=source,
        data_root=data_root, scale=scale if source == "synthetic" else "paper", data_seed=data_seed, seed=seed,
        epochs=epochs, batch_size=preset["batch_size"], device=device, record_keys=tuple(record_keys),
        final_keys=tuple(final_keys), **optim,
    )


CONFIG_BUILDERS["baselines"] = baseline_config
