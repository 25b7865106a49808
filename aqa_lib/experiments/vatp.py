"""VATP-Net's fine-tuning runs (paper §IV-A2): RG, Fis-V and FineFS "fine-tuned with our trained visual
ParseFormer decoder module", i.e. the ParseFormer of a run on another dataset (MTL-AQA, with commentary).

:class:`aqa_lib.recipes.Pretraining` cannot say this (its stage-1 runs are on the run's own dataset and
target), but the engine's ``init_from`` can (a source run on any dataset): :func:`finetune_config` is
:func:`~aqa_lib.experiments.config_for` of the variant, plus one ``init_from`` entry that copies the
``parse`` submodule of ``vatp`` trained on MTL-AQA (``save_weights=True``) into the run's ``parse``. The two
runs share the ParseFormer's shape (``d_model``, ``n_heads``, ``ffn_mult``, ``n_queries``, ``n_blocks``),
taken from the run's resolved keywords. Nothing is frozen ("fine-tuned"). See ``aqa_lib/models/vatp.py``.
"""

from __future__ import annotations

from typing import Any

from ..models.base import model_config
from ..train import RunConfig
from .configs import config_for

PARSEFORMER_KEYS = ("d_model", "n_heads", "ffn_mult", "n_queries", "n_blocks")
"""Model keywords the source run takes from the fine-tuned run, so that their ParseFormers fit."""


def finetune_config(variant: str, dataset: str, target: str, *, scale: str = "quick", seed: int = 0,
                    source: str = "synthetic", data_root: str = "", device: str = "cpu", epochs: int | None = None,
                    source_variant: str = "vatp", source_dataset: str = "mtl_aqa", source_target: str = "score",
                    source_data: str = "synthetic", source_data_root: str = "", source_epochs: int | None = None,
                    data_seed: int = 0, **model_overrides: Any) -> RunConfig:
    """The run of ``variant`` on ``dataset`` / ``target`` whose ParseFormer starts from ``source_variant``
    trained on ``source_dataset`` / ``source_target`` (MTL-AQA's VATP-Net by default).

    ``source_data`` / ``source_data_root`` say where the source run's data come from (``"synthetic"`` or
    ``"real"`` under a root), ``source_epochs`` its epochs (None: its recipe's). A ValueError says so when
    either model has no ParseFormer (``use_pd=False``).
    """
    cfg = config_for(variant, dataset, target, scale=scale, seed=seed, source=source, data_root=data_root,
                     device=device, epochs=epochs, data_seed=data_seed, **model_overrides)
    resolved = model_config(variant, **cfg.model_kwargs)
    shared = {k: resolved[k] for k in PARSEFORMER_KEYS if k in resolved}
    src = config_for(source_variant, source_dataset, source_target, scale=scale, seed=seed, source=source_data,
                     data_root=source_data_root, device=device, epochs=source_epochs, data_seed=data_seed, **shared)
    for name, kwargs in ((variant, resolved), (source_variant, model_config(source_variant, **src.model_kwargs))):
        if kwargs.get("use_pd", True) is False:
            raise ValueError(f"{name!r} has no ParseFormer (use_pd=False): there is nothing to fine-tune from or "
                             "into. Fine-tune a variant with the ParseFormer (e.g. 'vatp', 'vatp/tableII/vst_te_pd').")
    return cfg.replace(init_from=({"into": "parse", "from": "parse", "run": src.replace(save_weights=True).to_dict()},))
