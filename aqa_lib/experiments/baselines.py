"""Compatibility module: :func:`baseline_config` under its old path.

The baselines' training recipes (GDLT's official settings; ours for the re-implementations) now live with
their registration: ``GDLT_RECIPE``, ``FUSION_RECIPE`` and the module docstring section "Training recipes" in
:mod:`aqa_lib.models.baselines`; :func:`aqa_lib.experiments.config_for` builds the run configuration of any
variant.
"""

from __future__ import annotations

from ..models.baselines import BASELINE_WIDTH, FUSION_RECIPE, GDLT_RECIPE
from .configs import baseline_config

__all__ = ["BASELINE_WIDTH", "FUSION_RECIPE", "GDLT_RECIPE", "baseline_config"]
