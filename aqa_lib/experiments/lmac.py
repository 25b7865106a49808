"""Compatibility module: :func:`lmac_config` under its old path.

LMAC-Net's training recipe (paper §4.2) now lives with its registration: ``LMAC_RECIPE`` and the module
docstring section "Training recipe" in :mod:`aqa_lib.models.lmac`; :func:`aqa_lib.experiments.config_for`
builds the run configuration of any variant.
"""

from __future__ import annotations

from ..models.lmac import LMAC_RECIPE
from .configs import lmac_config

__all__ = ["LMAC_RECIPE", "lmac_config"]
