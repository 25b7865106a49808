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
# # MLAVL Table 4: MAG² plugged into visual-only methods on LOGO
#
# LOGO (artistic swimming, long videos, visual features only) has no audio, so MLAVL's Table 4 tests only
# its **action-visual graph** (MAG² with the "a video of <action>" texts) as a plug-in: nine visual-only
# methods (MS-LSTM, USDL, GDLT, CoRe, TPT, HGCN, T2CR, CoFInAl, QTD), each natively and "+MAG2", by
# Spearman's ρ (higher is better) and the relative L2 distance **R-ℓ2 × 100** (lower is better: the mean
# squared error divided by the squared score range, ×100). The paper's claim: MAG² improves every method on
# both measures.
#
# **What runs here and what does not.** Of the nine hosts only GDLT is re-implemented here, so with
# `baselines` on this notebook trains **GDLT natively and GDLT "+MAG2"** (`mlavl/table4/gdlt_mag2`: MLAVL's
# action-visual graph inserted right after GDLT's input projection, with the LOGO action prompts; where
# exactly the paper inserted it is not said: our reading); every other row is **reported only**. Beside them this notebook trains MLAVL itself in its **visual-only** mode
# (no audio graph, no AVCF, only the visual grade branch: `ŷ = out_V`), which the paper does not report on
# LOGO, so it has no `reported` number.
#
# **How to read the tables.** `reported` is the paper's number on the real LOGO features; `papers` (best
# test epoch: the papers' protocol, selected on the test set, optimistic) and `last` (last epoch, no
# selection) are our runs on this notebook's data: the embedded synthetic LOGO default unless `source =
# real`. Synthetic numbers are not a reproduction. Our R-ℓ2 takes the score range from the target's scores
# over the train and test splits.
#
# **Choices the paper left open** (`aqa_lib/models/mlavl.py`): on LOGO the paper "follows each host
# method" for training, so MLAVL's own LOGO epochs (400, the official code's default) and the training crop
# of 48 clips are the recipe's; padded clips are masked; evaluation uses whole sequences.

# %% tags=["parameters"]
dataset = "logo"  # logo (the table is LOGO only)
source = "synthetic"  # synthetic | real (real needs data_root with the LOGO visual features)
data_root = ""  # folder of the real released features, for source real
scale = "auto"  # smoke | quick | paper | auto (smoke under CI, else quick)
seeds = [0]  # training seeds; mean ± std over them
epochs = 0  # 0 means the default of the scale
device = "auto"  # auto | cpu | cuda
baselines = True  # also train GDLT natively and with MAG² (the two GDLT rows)

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from aqa_lib.experiments import config_for
from aqa_lib.notebook import check_params, save_figure, show_table
from aqa_lib.report import paper_comparison, plot_bars
from aqa_lib.tables import reported
from aqa_lib.train import run

params = check_params(  # validates every parameter and writes the resolved scale, device, seeds back
    {"dataset": dataset, "source": source, "data_root": data_root, "scale": scale, "seeds": seeds,
     "epochs": epochs, "device": device, "baselines": baselines},
    choices={"dataset": ["logo"], "baselines": [True, False]}, namespace=globals(), notebook="mlavl_logo_plugin",
)
models = ["mlavl", *(["mlavl/table4/gdlt", "mlavl/table4/gdlt_mag2"] if baselines else [])]
labels = {"mlavl": "MLAVL, visual only (ours; not in the table)"}

# %% [markdown]
# ## Train MLAVL visual-only (and GDLT with and without MAG²)
# One run per model and seed, with Spearman, MSE and R-ℓ2 computed on the test split after every epoch.
# Cached per configuration, data and code. At `smoke` scale the numbers only show that everything runs.

# %%
results = [run(config_for(m, dataset, "score", scale=scale, seed=s, source=source, data_root=data_root,
                          device=device, epochs=epochs or None).replace(metrics=("spearman", "mse", "rl2")))
           for m in models for s in seeds]
provenance = results[0].meta["provenance"]
print(provenance)
print(f"{len(results)} runs, {sum(r.cached for r in results)} from the cache; MLAVL reads "
      f"{results[0].meta['modalities']}")

# %% [markdown]
# ## Table 4 beside our runs
# Spearman's ρ and R-ℓ2 × 100 per row; `here` says which rows train in this notebook.

# %%
spearman = paper_comparison(results, "mlavl", "table4", dataset, labels=labels, status=True)
rl2 = paper_comparison(results, "mlavl", "table4", dataset, labels=labels, metric="r_l2_x100", ours_metric="rl2",
                       factor=100)
table4 = pd.concat({"Spearman ρ": spearman.droplevel(0, axis=1).drop(columns=""),
                    "R-ℓ2 × 100": rl2.droplevel(0, axis=1)}, axis=1)
table4.insert(0, ("here", ""), spearman[("here", "")])  # a full-length key: the columns have two levels
show_table(table4, title="MLAVL Table 4 (LOGO)", provenance=f"reported: MLAVL paper; ours: {provenance}")

# %% [markdown]
# ## The gain MAG² brings each method (reported)
# Native → "+MAG2" per method, from the paper: the change in ρ (positive is better) and in R-ℓ2 × 100
# (negative is better).

# %%
rep = reported("mlavl", "table4")
wide = rep.pivot_table(index="method", columns=["metric", "variant"], values="value", sort=False)
gains = pd.DataFrame({"ρ native": wide[("spearman", "Native")], "ρ +MAG2": wide[("spearman", "+MAG2")],
                      "Δρ": wide[("spearman", "+MAG2")] - wide[("spearman", "Native")],
                      "R-ℓ2×100 native": wide[("r_l2_x100", "Native")], "R-ℓ2×100 +MAG2": wide[("r_l2_x100", "+MAG2")],
                      "ΔR-ℓ2×100": wide[("r_l2_x100", "+MAG2")] - wide[("r_l2_x100", "Native")]})
show_table(gains, title="MLAVL Table 4: what MAG² adds to each method", provenance="reported: MLAVL paper")

# %%
fig, axes = plt.subplots(1, 2, figsize=(12, 0.3 * len(spearman) + 1.8))
for ax, frame, label in ((axes[0], paper_comparison(results, "mlavl", "table4", dataset, labels=labels,
                                                    numeric=True), "Spearman ρ (higher is better)"),
                         (axes[1], paper_comparison(results, "mlavl", "table4", dataset, labels=labels,
                                                    metric="r_l2_x100", ours_metric="rl2", factor=100,
                                                    numeric=True), "R-ℓ2 × 100 (lower is better)")):
    plot_bars(ax, frame["score"].iloc[::-1], horizontal=True)
    ax.set_yticks(np.arange(len(frame)), list(frame.index[::-1]), fontsize=8)
    ax.set_xlabel(label)
axes[0].get_legend().remove()
axes[1].set_yticklabels([])
fig.suptitle("MLAVL Table 4 on LOGO: reported (paper's data) vs reproduced (this notebook's data)", fontsize=10)
fig.tight_layout()
save_figure(fig, "mlavl_table4_logo", provenance=f"reported: MLAVL paper; reproduced: {provenance}")

# %% [markdown]
# **Reading the figure.** Grey bars are the paper's numbers (every row), blue / orange ours at the best test
# epoch and the last epoch (only the rows that train here). Within each method, the "+MAG2" grey bar should
# be longer for ρ and shorter for R-ℓ2 than the native one. Our MLAVL bar has no grey partner: the paper
# reports MAG² only as a plug-in on LOGO.

# %%
# Checks that hold at every scale (nbval runs this notebook at smoke scale in CI).
assert len(results) == len(models) * len(seeds) and results[0].meta["modalities"] == ["rgb"]
assert all(np.isfinite(r.summary["last_rl2"]) and np.isfinite(r.summary["papers_rl2"]) for r in results)
assert (table4["here"] == "trained").sum() == len(models)
assert table4.loc[labels["mlavl"], ("R-ℓ2 × 100", "last")] != "—"
print("mlavl_logo_plugin complete")
