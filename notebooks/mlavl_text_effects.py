# ---
# jupyter:
#   jupytext:
#     cell_metadata_filter: tags,-all
#     formats: ipynb,py:percent
#     notebook_metadata_filter: aqa,kernelspec,jupytext
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # MLAVL supplementary Table 4: what the texts do
#
# Supplementary Table 4 (FS1000, all seven scores, Spearman's ρ and MSE) asks two questions:
#
# - **Rows (1)–(9): do MLAVL's texts help other methods?** CoFInAl, QTD and PAMFN, each natively, with the
#   MLAVL texts added ("+ Texts") and with MAG² plugged in ("+ MAG2"). These are other methods modified by
#   the MLAVL authors: this project has no CoFInAl or QTD, and its PAMFN has no text input, so these rows are
#   **reported only** (the `here` column says so, and they have no bars below).
# - **Rows (10)–(12): do the grade texts matter inside MLAVL?** The full model (10), the grade texts replaced
#   by learnable vectors, "Texts->LV" (11), and learnable vectors plus sinusoidal positional embeddings,
#   "Texts->LV+PE" (12). This notebook trains these three (`mlavl/supp_table4/{mlavl, lv, lv_pe}`).
#
# **How to read the tables.** `reported` is the paper's number on its real features (TimeSformer video, AST
# audio, ViFi-CLIP text); `papers` (best test epoch, the papers' protocol: selected on the test set,
# optimistic) and `last` (last epoch, no selection) are our runs on this notebook's data, the embedded
# synthetic FS1000 default unless `source = real`. Synthetic numbers are not a reproduction. `Avg.` is shown
# only when we ran all seven scores (`-p targets paper`); by default we run TES and PCS to keep the notebook
# fast.
#
# **Choices the paper left open** (`aqa_lib/models/mlavl.py`): the learnable vectors of (11)–(12) also stand
# in for the grade texts as the cross-entropy targets and as a triplet set (our reading); the positional
# embeddings are sinusoidal (ours); padded clips are masked, evaluation uses whole sequences, and `quick`
# scale trains with lr 1e-3.

# %% tags=["parameters"]
dataset = "fs1000"  # fs1000 (the table is FS1000 only)
targets = ["TES", "PCS"]  # paper (all seven scores), all, or a list of FS1000 scores
source = "synthetic"  # synthetic | real (real needs data_root with FS1000 visual and audio features)
data_root = ""  # folder of the real released features, for source real
scale = "auto"  # smoke | quick | paper | auto (smoke under CI, else quick)
seeds = [0]  # training seeds; mean ± std over them
epochs = 0  # 0 means the default of the scale
device = "auto"  # auto | cpu | cuda

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from aqa_lib.experiments import describe_variants, table_variants
from aqa_lib.notebook import check_params, run_paper_table, save_figure, show_table, table_targets
from aqa_lib.report import paper_comparison, plot_table_bars
from aqa_lib.tables import reported

params = check_params(  # validates every parameter and writes the resolved scale, device, seeds back
    {"dataset": dataset, "targets": targets, "source": source, "data_root": data_root, "scale": scale,
     "seeds": seeds, "epochs": epochs, "device": device},
    choices={"dataset": ["fs1000"]}, namespace=globals(), notebook="mlavl_text_effects",
)
train_targets = table_targets("mlavl", "supp_table4", dataset, targets)
describe_variants(table_variants("mlavl", "supp_table4"))

# %% [markdown]
# ## Train rows (10)–(12)
# Cached per configuration, data and code; row (10) is the full model, shared with `mlavl_ablations` and
# `mlavl_main_results -p dataset fs1000`. At `smoke` scale the numbers only show that everything runs.

# %%
study = run_paper_table("mlavl", "supp_table4", params, targets=train_targets)

# %% [markdown]
# ## Spearman's ρ and MSE: the paper's table beside our runs

# %%
spearman = paper_comparison(study.results, "mlavl", "supp_table4", dataset, status=True)
show_table(spearman, title="MLAVL supplementary Table 4, Spearman ρ (FS1000)",
           provenance=f"reported: MLAVL paper (rows (1)–(9) reported only); ours: {study.provenance}")
mse = paper_comparison(study.results, "mlavl", "supp_table4", dataset, metric="mse", status=True)
show_table(mse, title="MLAVL supplementary Table 4, MSE (FS1000)",
           provenance=f"reported: MLAVL paper (rows (1)–(9) reported only); ours: {study.provenance}")

# %% [markdown]
# ## What the texts gave the other methods (reported only)
# For rows (1)–(9), the paper's average ρ over the seven scores natively, with the texts and with MAG², and
# the gains. In the paper both additions help all three methods, MAG² more than the texts alone.

# %%
rep = reported("mlavl", "supp_table4")
rep = rep[(rep["metric"] == "spearman") & (rep["target"] == "Avg.") & (rep["method"] != "MLAVL")]
gains = rep.assign(variant=rep["variant"].replace("", "native")).pivot_table(
    index="method", columns="variant", values="value", sort=False)[["native", "+ Texts", "+ MAG2"]]
gains["gain from texts"] = gains["+ Texts"] - gains["native"]
gains["gain from MAG2"] = gains["+ MAG2"] - gains["native"]
show_table(gains.rename_axis(columns=None), title="Supplementary Table 4 rows (1)–(9): Avg. Spearman ρ",
           provenance="reported: MLAVL paper (other methods modified by the MLAVL authors; not trained here)")

# %%
numeric = paper_comparison(study.results, "mlavl", "supp_table4", dataset, numeric=True)
columns = [c for c in numeric.columns.get_level_values(0).unique() if c != "Avg."][:2]
fig, axes = plt.subplots(1, len(columns), figsize=(4.2 * len(columns) + 2.2, 3.6), squeeze=False)
for ax, column in zip(axes[0], columns, strict=True):
    plot_table_bars(ax, numeric, column)
    ax.set_title(f"FS1000 {column}", fontsize=9)
    if ax is not axes[0][-1]:
        ax.get_legend().remove()
fig.suptitle("Supp. Table 4 rows (10)–(12): grade texts vs learnable vectors", fontsize=10)
fig.tight_layout()
save_figure(fig, f"mlavl_supp_table4_{dataset}", provenance=f"reported: MLAVL paper; reproduced: {study.provenance}")

# %% [markdown]
# **Reading the figure.** Grey: the paper's number; blue / orange: ours at the best test epoch and at the
# last epoch. The paper's claim is that MLAVL (10) beats both learnable-vector rows: the grade texts carry
# an order (bad … perfect) that learnable vectors must learn, and positional embeddings (12) recover only part
# of it. On synthetic data the grade texts are the released embeddings, so the question this notebook can
# answer at `quick` scale is whether their order helps a model whose scores follow grades by construction.

# %%
# Checks that hold at every scale (nbval runs this notebook at smoke scale in CI).
assert len(study.results) == 3 * len(train_targets) * len(seeds)
assert all(np.isfinite(r.summary["last_spearman"]) for r in study.results)
assert set(spearman.index) >= set(pd.Index(rep["method"]).unique()) | set(study.rows.values())
assert (spearman.loc[["MLAVL", "Texts->LV", "Texts->LV+PE"], ("here", "")] == "trained").all()
assert (spearman[("here", "")] == "reported only").sum() == 9
print("mlavl_text_effects complete")
