"""Compatibility module: :func:`pamfn_config`, :func:`stage1_config` and :func:`training_scheme` under their
old paths.

PAMFN's training recipes (paper §III-F, §IV-C and the official configs: two-stage training, per-dataset
optimiser, epochs per target, widths per scale) now live with its registration: ``STAGE1_RECIPE``,
``PAMFN_RECIPE`` and the module docstring section "Training recipes" in :mod:`aqa_lib.models.pamfn`;
:func:`aqa_lib.experiments.config_for` builds the run configuration of any variant.
"""

from __future__ import annotations

from ..models.pamfn import BRANCH_KEYS, FROZEN_IN_STAGE_2, PAMFN_RECIPE, PAMFN_WIDTH, STAGE1_RECIPE
from .configs import pamfn_config, stage1_config, training_scheme

__all__ = ["BRANCH_KEYS", "FROZEN_IN_STAGE_2", "PAMFN_RECIPE", "PAMFN_WIDTH", "STAGE1_RECIPE", "pamfn_config",
           "stage1_config", "training_scheme"]
