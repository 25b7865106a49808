"""Run configurations of the papers' experiments at each scale, and the drivers the notebooks call.

A notebook says *what* (paper, table, dataset, targets, seeds, scale, source); the variant's registered
recipe says *how* (the paper's optimiser settings, model width at each scale, epochs, pretraining stages:
:mod:`aqa_lib.recipes`, declared in each model file), so notebooks stay a parameters cell, one call and the
tables/plots. By concern:

- :mod:`~aqa_lib.experiments.configs`: :func:`config_for`, any registered variant → its
  :class:`~aqa_lib.train.RunConfig` at ``smoke`` / ``quick`` / ``paper`` scale (:data:`TRAINING_SCALES`),
  and the compatibility wrappers of earlier versions (:func:`lmac_config`, :func:`pamfn_config`,
  :func:`stage1_config`, :func:`baseline_config`, :func:`builder_for`, :func:`config_builder`);
- :mod:`~aqa_lib.experiments.tables`: an ablation table's variants trained and set beside the paper's
  numbers (:func:`run_table`, :func:`compare_table`, :func:`table_variants`, :func:`describe_variants`);
- :mod:`~aqa_lib.experiments.comparison`: the main comparison tables' runs (:func:`comparison_runs`);
- :mod:`~aqa_lib.experiments.alignment`: attention centres against the synthetic ground truth
  (:func:`alignment_to_truth`).

The modules :mod:`~aqa_lib.experiments.lmac`, :mod:`~aqa_lib.experiments.pamfn` and
:mod:`~aqa_lib.experiments.baselines` only re-export the compatibility wrappers under their old paths.
"""

from __future__ import annotations

from .alignment import alignment_to_truth
from .comparison import COMPARISON_BASELINES, RGB_ONLY, Comparison, comparison_runs
from .configs import (
    CONFIG_BUILDERS,
    TRAINING_SCALES,
    baseline_config,
    builder_for,
    config_builder,
    config_for,
    lmac_config,
    pamfn_config,
    recipe_of,
    stage1_config,
    targets_for,
    variant_modalities,
)
from .tables import compare_table, describe_variants, rows_from_tables, run_table, table_variants

__all__ = ["COMPARISON_BASELINES", "CONFIG_BUILDERS", "RGB_ONLY", "TRAINING_SCALES", "Comparison",
           "alignment_to_truth", "baseline_config", "builder_for", "compare_table", "comparison_runs",
           "config_builder", "config_for", "describe_variants", "lmac_config", "pamfn_config", "recipe_of",
           "rows_from_tables", "run_table", "stage1_config", "table_variants", "targets_for", "variant_modalities"]
