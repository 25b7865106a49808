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
# # LMAC-Net Table 8: one score from the whole routine, or one per query?
#
# LMAC-Net's K queries each describe one part of the routine. Table 8 (§4.5, "Two-Level Score Evaluation")
# compares two ways of turning them into a score:
#
# - **one-stage**: average the K fused query features, then regress the score with an **MLP** or a **linear**
#   layer (what most AQA models do with a global representation);
# - **two-level** (the paper's): a linear head scores every query on its own (first level), then the K query
#   scores are fused (second level) by a plain **average**, an **MLP**, a **linear** layer, **attention**
#   (self-attention importances), or the paper's **weight**: a learnable K-vector, `Σ_k softmax(w)_k s_k`.
#
# The paper's claims to check: linear beats MLP in one stage; every two-level fusion except attention beats
# one-stage scoring (pooling first throws information away); the learned weight vector is best everywhere and
# gives the full model's 0.840 (RG) / 0.850 (Fis-V). A detail that matters for reading the table: our query
# heads are separate per query (see `aqa_lib.models.lmac`), otherwise "two-level / Average" would be exactly
# "one-stage / Linear". All other parts are the full model. Protocols: **papers** = best test epoch
# (test-selected, optimistic), **last** = last epoch.

# %% tags=["parameters"]
dataset = "fisv"  # fisv | rg
target = "all"  # all, or one target (TES / PCS for fisv; Ball / Clubs / Hoop / Ribbon for rg)
source = "synthetic"  # synthetic | real (real needs data_root with RGB, flow and audio features)
data_root = ""  # folder of the released features (used only when source is real)
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
    choices={"dataset": ["fisv", "rg"]}, namespace=globals(), notebook="ablation_scoring",
)
rows = table_variants("lmac", "table8")
describe_variants(rows)

# %% [markdown]
# ## Train every row
# Cached per configuration, data and code: a re-run trains nothing. At `smoke` scale (tiny model, two epochs)
# the numbers only show that everything runs.

# %%
study = run_paper_table("lmac", "table8", params)

# %% [markdown]
# ## Reported vs reproduced
# Spearman's ρ per target and the Fisher-z average, the paper's number beside ours (mean ± std over seeds).

# %%
table = study.show()

# %% [markdown]
# ## Two-level against one-stage
# Each two-level row minus the better one-stage row of the paper ("one-stage / Linear"), on `Avg.` (or the
# single target): positive = scoring every query first helped. In the paper all are positive except attention.

# %%
numeric = study.compare(numeric=True)
avg = study.summary
one_stage = rows["lmac/table8/one_stage_linear"]
two_level = [label for name, label in rows.items() if "one_stage" not in name]
delta = pd.DataFrame({col: numeric.loc[two_level, (avg, col)] - numeric.loc[one_stage, (avg, col)]
                      for col in ["reported", "papers", "last"]})
show_table(delta, title=f"Table 8 ({dataset}): two-level minus one-stage / Linear ({avg})",
           provenance=f"reported: paper; papers / last: {study.provenance}")

# %% [markdown]
# ## What the learned weights say
# The paper's fusion learns one weight per query, shared by all videos. Since the ranking loss keeps the
# queries in temporal order (Q1 attends earliest), the weights say which part of the routine the score leans
# on. Uniform weights are 1/K = 0.2 (where `w` starts); at `smoke` scale they have barely moved.

# %%
weighted = [r for r in study.results if r.config.model == "lmac/table8/weight"]
weights = pd.DataFrame(
    [np.asarray(r.arrays["final_test/query_weights"], dtype=float) for r in weighted],
    index=pd.MultiIndex.from_tuples([(r.config.target, r.config.seed) for r in weighted], names=["target", "seed"]),
)
weights.columns = [f"Q{k + 1}" for k in weights.columns]
show_table(weights, title="Two-level / Weight: learned softmax(w) per query", provenance=study.provenance)

# %%
groups = [("one-stage", [rows["lmac/table8/one_stage_mlp"], one_stage]), ("two-level", two_level)]
fig = study.bar_chart(groups=groups, short=lambda m: m.split(" / ", 1)[-1],
                      title=f"Table 8 on {dataset}: one-stage vs two-level scoring heads")

# %% [markdown]
# **Reading the figure.** In the paper the two one-stage rows sit below four of the five two-level rows, and
# the attention fusion is the clear outlier at the bottom; the weight fusion (rightmost) is highest. The rows
# differ only in the scoring head, a tiny part of the model, so with few seeds our order among the two-level
# rows is mostly noise — several `seeds` are needed before reading a ranking into it.

# %%
# Checks that hold at every scale (nbval runs this notebook at smoke scale in CI).
assert len(study.results) == len(rows) * len(study.targets) * len(seeds)
assert set(study.ran) == set(rows)
assert all(np.isfinite(r.summary["last_spearman"]) for r in study.results)
assert set(table.index) >= set(rows.values())
assert len(weights) == len(study.targets) * len(seeds) and np.allclose(weights.sum(axis=1), 1.0, atol=1e-3)
print("ablation_scoring complete")
