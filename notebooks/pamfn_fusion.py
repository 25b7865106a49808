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
# # PAMFN Table V: fusion strategies, trained in one stage or two
#
# PAMFN (§IV-F, Table V) crosses two choices on all three modalities (RGB, flow, audio):
#
# - **how to fuse**: four simple strategies applied to the outputs of the branches' last convolution block,
#   followed by a two-layer regressor (**AVG**, the mean of the modality features; **CAT**, their
#   concatenation; **Weighted**, a learned softmax-weighted sum; **Attention**, attention weights computed
#   from the features), against **Ours**, the full PAMFN;
# - **how to train**: **one-stage** (branches and fusion from scratch, together) or **two-stage** (each
#   branch trained alone first, then the fusion on top, RGB and flow branches frozen).
#
# What the paper reads from it: every strategy is better trained in two stages; PAMFN is the best strategy
# in both schemes, by a wide margin in two stages (RG 0.819 vs 0.768 for CAT, the next best); trained in one
# stage it loses 0.027 (RG) and 0.020 (Fis-V), which the authors attribute to branches that cannot learn
# good modality-specific features when trained jointly. On RG the one-stage models are all below the RGB
# branch alone (Table IV: 0.711). Things to look for: the two-stage minus one-stage gap per strategy, and
# the margin of `Ours` over the best simple fusion in each scheme.
#
# Two protocols are reported for every run: **papers** = the best test Spearman over epochs (what the papers
# print; it selects the epoch on the test set, so it is optimistic) and **last** = the last epoch (no
# selection).

# %% tags=["parameters"]
dataset = "fisv"  # fisv | rg
target = "all"  # all, or one target (TES / PCS for fisv; Ball / Clubs / Hoop / Ribbon for rg)
source = "synthetic"  # synthetic | real (real data needs RGB, flow and audio features)
data_root = ""  # folder of the real released features when source is real
scale = "auto"  # smoke | quick | paper | auto (smoke under CI, else quick)
seeds = [0]  # training seeds; mean ± std over them
epochs = 0  # 0 means the default of the scale
device = "auto"  # auto | cpu | cuda

# %%
import numpy as np
import pandas as pd

from aqa_lib.experiments import describe_variants, table_variants
from aqa_lib.notebook import check_params, run_paper_table, show_table

params = check_params(  # validates every parameter and writes the resolved scale, device, seeds back
    {"dataset": dataset, "target": target, "source": source, "data_root": data_root, "scale": scale,
     "seeds": seeds, "epochs": epochs, "device": device},
    choices={"dataset": ["fisv", "rg"]}, namespace=globals(), notebook="pamfn_fusion",
)
rows = table_variants("pamfn", "tableV")
describe_variants(rows)

# %% [markdown]
# ## Train every row
# Each run is cached under a fingerprint of its configuration, data and code: re-running this notebook with
# the same parameters trains nothing. The five two-stage rows share their stage-1 branches (trained once per
# target and seed, and shared with the other PAMFN notebooks). At `smoke` scale the models are tiny and train
# for two epochs per stage: the numbers only show that everything runs.

# %%
study = run_paper_table("pamfn", "tableV", params)

# %% [markdown]
# ## Reported vs reproduced
# Spearman's ρ per target and the Fisher-z average (`Avg.`), the paper's number beside ours (mean ± std over
# the seeds).

# %%
table = study.show()

# %% [markdown]
# ## What two-stage training adds, strategy by strategy
# On the average over targets: one-stage, two-stage and the difference, reported and ours (last epoch).

# %%
numeric = study.compare(numeric=True)
avg = study.summary
strategies = ["AVG", "CAT", "Weighted", "Attention", "Ours"]
stages = pd.DataFrame({
    (scheme, col): [numeric.loc[f"{scheme} / {s}", (avg, col)] for s in strategies]
    for scheme in ("one-stage", "two-stage") for col in ("reported", "last")
}, index=pd.Index(strategies, name="fusion"))
for col in ("reported", "last"):
    stages[("two − one", col)] = stages[("two-stage", col)] - stages[("one-stage", col)]
show_table(stages, title=f"Table V, one-stage vs two-stage ({dataset}, {avg})",
           provenance=f"reported: PAMFN paper; ours: {study.provenance}")

# %%
groups = [(f"{scheme} training", [f"{scheme} / {s}" for s in strategies]) for scheme in ("one-stage", "two-stage")]
fig = study.bar_chart(groups=groups, short=lambda m: m.split(" / ", 1)[-1], rotation=0, figsize=(10, 3.6))

# %% [markdown]
# **Reading the figure.** In the paper every grey bar on the right (two-stage) is above its twin on the left
# (one-stage), and `Ours` is the tallest in each group. On the synthetic default the data differ from the
# paper's, so compare the pattern (does pretraining the branches help, does PAMFN beat the simple fusions)
# rather than the heights. The one-stage settings are our reading: the paper gives no optimiser for them, so
# they use the stage-2 settings with nothing frozen (`aqa_lib/models/pamfn.py`, "Training recipe"). One consistency check on
# the paper: the one-stage Weighted row is the same model as Table IV's Weighted Fusion on all three
# modalities, and the paper prints identical numbers for both (here they are two registered variants, trained
# separately). At `smoke` scale AVG and Weighted may print the same numbers: Weighted's softmax weights start
# uniform, which is AVG, and two epochs hardly move them.

# %%
# Checks that hold at every scale (nbval runs this notebook at smoke scale in CI).
assert len(study.results) == len(rows) * len(study.targets) * len(seeds)
assert all(np.isfinite(r.summary["last_spearman"]) for r in study.results)
assert set(table.index) >= set(rows.values())
assert np.isfinite(stages[("two − one", "last")]).all()
print("pamfn_fusion complete")
