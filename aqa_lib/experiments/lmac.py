"""LMAC-Net's experiment settings (paper §4.2) at each scale.

Paper: AdamW, lr 9e-4 (RG) / 9e-5 (Fis-V), cosine decay, batch 32, dropout 0.1 (RG) / 0.2 (Fis-V). The paper
gives no epoch count or weight decay: we use 200 epochs and weight decay 1e-4 (TPT's official setting) at
``paper`` scale — our choice. Training crops are the dataset's ``train_window`` (70 RG / 130 Fis-V segments,
the PAMFN / GDLT protocol). At ``smoke`` / ``quick`` scale the learning rate is 9e-4 for both datasets (the
small models and short schedules learn nothing at 9e-5).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..data.registry import get_spec
from ..models.base import get_variant
from ..train import RunConfig
from . import CONFIG_BUILDERS, TRAINING_SCALES

LMAC_WIDTH = {"smoke": {"d_model": 32, "d_ffn": 32, "n_heads": 4}, "quick": {"d_model": 64, "d_ffn": 64},
              "paper": {}}
"""Model width per scale (``paper`` = the text's configuration, the builder's defaults)."""

LMAC_PAPER = {
    "rg": {"lr": 9e-4, "dropout": 0.1},
    "fisv": {"lr": 9e-5, "dropout": 0.2},
}


def lmac_config(variant: str, dataset: str, target: str, *, scale: str = "quick", seed: int = 0,
                source: str = "synthetic", data_root: str = "", device: str = "cpu", epochs: int | None = None,
                record_keys: Sequence[str] = (), final_keys: Sequence[str] = (), data_seed: int = 0,
                **model_overrides: Any) -> RunConfig:
    """The :class:`~aqa_lib.train.RunConfig` of one LMAC-Net variant on one target at ``scale``."""
    if scale not in TRAINING_SCALES:
        raise ValueError(f"Unknown scale {scale!r}; valid: {', '.join(TRAINING_SCALES)}.")
    get_variant(variant)
    ds = get_spec(dataset).name
    paper = LMAC_PAPER.get(ds, LMAC_PAPER["fisv"])  # datasets the paper did not use: its Fis-V settings
    preset = TRAINING_SCALES[scale]
    lr = paper["lr"] if scale == "paper" else 9e-4
    model_kwargs = {"dropout": paper["dropout"], **LMAC_WIDTH[scale], **model_overrides}
    return RunConfig(
        model=variant, dataset=ds, target=target, model_kwargs=model_kwargs, source=source,
        data_root=data_root, scale=scale if source == "synthetic" else "paper", data_seed=data_seed, seed=seed,
        epochs=epochs or preset["epochs"], batch_size=preset["batch_size"], optimizer="adamw", lr=lr,
        weight_decay=1e-4, device=device, record_keys=tuple(record_keys), final_keys=tuple(final_keys),
    )


CONFIG_BUILDERS["lmac"] = lmac_config
