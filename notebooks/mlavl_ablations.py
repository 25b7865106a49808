# ---
# jupyter:
#   jupytext:
#     cell_metadata_filter: tags,-all
#     formats: ipynb,py:percent
#     notebook_metadata_filter: kernelspec,jupytext
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
# # MLAVL ablations: main Table 5 and supplementary Tables 1, 2, 3 and 5
#
# MLAVL (language-guided audio-visual learning) scores a routine from visual and audio clip features plus
# frozen text embeddings: token projections, **S²CE** (one Transformer encoder shared by both modalities),
# **MAG²** (per-modality graphs joining clips to action texts such as "a video of <action>"), **AVCF**
# (audio-visual fusion: a cross-attention decoder plus a clip-wise convolution) and **DPG** (grade prompts
# "bad … perfect" as decoder queries whose expected grade is the score), trained with 10·MSE + a triplet
# loss + 0.01·cross-entropy. Its ablations ask what each piece adds:
#
# | `table` | paper table | rows |
# |---|---|---|
# | `table5` | main Table 5 | the baseline, components added one by one (+S²CE, +MAG², +AVCF, +DPG), then the full model without one component or loss |
# | `supp_table1` | supp. Table 1 | ways of adding action knowledge: MLP, shared / dual Transformer, action graph (ours = MAG²) |
# | `supp_table2` | supp. Table 2 | number of grade prompts N = 3 … 8 (2N audio-visual prompts) |
# | `supp_table3` | supp. Table 3 | fusion modules: decoder, dual decoder, shared cross-attention, AVCF |
# | `supp_table5` | supp. Table 5 | text templates for the action prompts; trainable text encoder or prompts |
#
# The paper reports each on **FS1000 (TES and PCS)** and as the **RG average** over the four apparatus,
# Spearman's ρ and MSE. `dataset` picks which of the two this notebook trains; `targets = paper` trains the
# targets the paper prints (TES and PCS, or all four apparatus for the RG average).
#
# **How to read the tables.** `reported` is the paper's number on its real features (TimeSformer / VST video,
# AST audio, ViFi-CLIP text). `papers` (best test epoch, the papers' protocol: it selects the epoch on the
# test set, so it is optimistic) and `last` (last epoch, no selection) are this notebook's runs on *this
# notebook's data*: the embedded synthetic default unless `source = real`. Synthetic numbers are never a
# reproduction of the paper's: they say whether a component helps on data where the paper's premises hold by
# construction. `here` says which rows this notebook trains and which are reported only.
#
# **Choices the paper left open** (see `aqa_lib/models/mlavl.py`; the variant table below names each row's
# reading):
#
# - Table 5's *baseline* is one line in the paper ("cross-attention fusion + 2-layer MLP regressor"): ours
#   is the projections, the 2-layer AVCF decoder alone (visual queries over audio) and a 2-layer MLP on the
#   clip mean, trained with MSE only. "w/o AVCF" swaps AVCF for that decoder, which is supp. Table 3's row
#   (a): the paper prints the same digits for both.
# - Supp. Table 1's MLP and Transformer alternatives are our readings (our Dual-Transformer has 1.32 M
#   parameters at d = 256, the paper says 1.20 M).
# - Supp. Table 2: only the N = 6 grade-prompt embeddings are released; for other N we interpolate them along
#   the grade order, an approximation of the paper's re-written prompts.
# - Supp. Table 3's dual decoder sums its two directions (ours).
# - Supp. Table 5: only the released templates ("a video of", "a music suitable for": both are the full
#   model) can run; the other templates need prompt embeddings nobody released (re-embed them with
#   `aqa_lib.data.text.embed_prompts` and pass `prompt_dir`), and the trainable text encoder / prompt
#   learning rows need the ViFi-CLIP text encoder itself: those rows are reported only.
# - Everywhere: padded clips are masked (the official code feeds fixed crops without masks), evaluation
#   uses whole sequences (the official code a centre crop), and `quick` scale uses lr 1e-3 instead of the
#   paper's 1e-2 (measured: 1e-2 over-fits the small quick model).

# %% tags=["parameters"]
table = "table5"  # table5 | supp_table1 | supp_table2 | supp_table3 | supp_table5
dataset = "fs1000"  # fs1000 | rg (the paper ablates on FS1000 TES and PCS and on the RG average)
targets = "paper"  # paper (the targets the table prints), all, or a list of targets such as [TES]
source = "synthetic"  # synthetic | real (real needs data_root with visual and audio features)
data_root = ""  # folder of the real released features, for source real
scale = "auto"  # smoke | quick | paper | auto (smoke under CI, else quick)
seeds = [0]  # training seeds; mean ± std over them
epochs = 0  # 0 means the default of the scale
device = "auto"  # auto | cpu | cuda

# %%
import matplotlib.pyplot as plt
import numpy as np

from aqa_lib.experiments import describe_variants, table_variants
from aqa_lib.notebook import (
    check_params,
    check_quoted,
    run_paper_table,
    save_figure,
    show_table,
    table_label,
    table_targets,
)
from aqa_lib.report import paper_comparison, plot_table_bars
from aqa_lib.tables import reported

params = check_params(  # validates every parameter and writes the resolved scale, device, seeds back
    {"table": table, "dataset": dataset, "targets": targets, "source": source, "data_root": data_root,
     "scale": scale, "seeds": seeds, "epochs": epochs, "device": device},
    choices={"table": ["table5", "supp_table1", "supp_table2", "supp_table3", "supp_table5"],
             "dataset": ["fs1000", "rg"]},
    namespace=globals(), notebook="mlavl_ablations",
)
train_targets = table_targets("mlavl", table, dataset, targets)
title = "MLAVL " + ("supplementary " + table_label(table[5:]) if table.startswith("supp_") else table_label(table))
print(f"{title} on {dataset}: training {', '.join(train_targets)}")
describe_variants(table_variants("mlavl", table))

# %% [markdown]
# ## Train every row
# One run per row, target and seed, each with MLAVL's recipe at this scale (`smoke`: width 16, two epochs —
# the numbers only show that everything runs). Runs are cached under a fingerprint of configuration, data
# and code; rows that are the same model (Table 5's "+DPG (Ours)", supp. Table 1's action graph, N = 6,
# AVCF, both templates) train once.

# %%
study = run_paper_table("mlavl", table, params, targets=train_targets)

# %% [markdown]
# ## Reported vs reproduced: Spearman's ρ
# Per target, the paper's number beside ours under both protocols (mean ± std over the seeds). `Avg.` is
# shown only when it averages the same targets as the paper's (on RG: all four apparatus; the paper prints
# only the RG average, so the per-apparatus `reported` cells are empty). Rows marked *reported only* cannot
# run here (see the choices above).

# %%
spearman = paper_comparison(study.results, "mlavl", table, dataset, status=True)
show_table(spearman, title=f"{title}, Spearman ρ ({dataset})",
           provenance=f"reported: MLAVL paper; ours: {study.provenance}")

# %% [markdown]
# ## Reported vs reproduced: MSE
# The paper also prints the mean squared error on the original score scale (lower is better); ours is the
# test MSE at the same two epochs (for `papers`, the epoch with the best test Spearman). On synthetic data the
# scores follow the real labels' scale (RG) or a synthetic one (FS1000), so MSE says less than ρ across data.

# %%
mse = paper_comparison(study.results, "mlavl", table, dataset, metric="mse", status=True)
show_table(mse, title=f"{title}, MSE ({dataset})", provenance=f"reported: MLAVL paper; ours: {study.provenance}")

# %% [markdown]
# ## The rows as bars
# Grey is the paper's number on its real features, blue ours at the best test epoch (the papers' protocol),
# orange ours at the last epoch; one panel per column the paper prints for this dataset (TES and PCS on
# FS1000, the average on RG). Only the rows this notebook trains are drawn. In Table 5, read the first group
# left to right (each bar adds a component) and the second against "+DPG (Ours)", the full model.

# %%
numeric = paper_comparison(study.results, "mlavl", table, dataset, numeric=True)
rep = reported("mlavl", table)
columns = [c for c in dict.fromkeys(rep.loc[rep["dataset"] == dataset, "target"]) if (c, "last") in numeric]
groups = {"table5": [("adding components", ["baseline", "+S2CE", "+MAG2", "+AVCF (w/o DPG)", "+DPG (Ours)"]),
                     ("removing one from the full model", ["+DPG (Ours)", "w/o S2CE", "w/o MAG2", "w/o AVCF",
                                                            "w/o L_TL", "w/o L_CE", "w/o L_TL + L_CE"])]}
short = {"visual template 'a video of' (Ours)": "video template (Ours)",
         "audio template 'a music suitable for' (Ours)": "music template (Ours)"}
fig, axes = plt.subplots(1, len(columns), figsize=(4.6 * len(columns) + 2.2, 3.8), squeeze=False)
for ax, column in zip(axes[0], columns, strict=True):
    drawn = plot_table_bars(ax, numeric, column, short=lambda m: short.get(m, m), rotation=30,
                            groups=groups.get(table))
    ax.set_title(f"{dataset} {column}", fontsize=9, pad=16 if table in groups else 6)
    if ax is not axes[0][-1]:
        ax.get_legend().remove()
fig.suptitle(f"{title}: reported (paper's data) vs reproduced (this notebook's data)", fontsize=10)
fig.tight_layout()
save_figure(fig, f"mlavl_{table}_{dataset}", provenance=f"reported: MLAVL paper; reproduced: {study.provenance}")

# %% [markdown]
# **What to look for** at `quick` scale and above: in Table 5, does each added component raise ρ, and does
# removing one from the full model lower it (the paper: +S²CE and +MAG² help most, w/o L_TL + L_CE costs
# 0.01–0.02)? On the synthetic default the action–music synchrony that AVCF and MAG² exploit exists by
# construction, so a component that does not help here is unlikely to help on real data for the reason the
# paper gives; one that helps here may still not help there.
#
# **What we measured** for Table 5 at `quick` (FS1000 synthetic, seed 0, ρ papers / last; the paper in
# brackets): baseline TES 0.727 / 0.727 (0.835), PCS 0.876 / 0.863 (0.825); +S²CE 0.713 / 0.667, 0.854 / 0.838;
# +MAG² 0.695 / 0.695, 0.878 / 0.871; +AVCF 0.685 / 0.619, 0.863 / 0.846; +DPG (the full model) 0.690 / 0.686
# (0.917), 0.889 / 0.886 (0.892); w/o S²CE 0.733 / 0.719, 0.911 / 0.911; w/o MAG² 0.724 / 0.710, 0.909 / 0.904;
# w/o AVCF 0.743 / 0.714, 0.910 / 0.897; w/o L_TL 0.748 / 0.724, 0.902 / 0.872; w/o L_CE 0.702 / 0.702,
# 0.892 / 0.890; w/o both 0.745 / 0.732, 0.901 / 0.872. So on this data at this scale the paper's cumulative
# gains do not appear and its removals do not cost: on TES every row that adds a component is below the
# baseline under both protocols (the full model by 0.04), every row that removes a component or loss from the
# full model is above it (by 0.01–0.06, papers; above it at the last epoch too), and the best TES rows (w/o
# L_TL, w/o L_TL + L_CE, w/o AVCF) are at most 0.02 above the baseline (papers). On PCS every row sits at
# 0.85–0.91, near or above the paper (the synthetic artistic scores are easy). With one seed, rows 0.02 apart
# are not ranked.

# %% [markdown]
# ## The numbers the text quotes
# "What we measured" quotes Table 5 in its default configuration (FS1000 synthetic, `quick`, seed 0, CPU).
# This cell checks every quote against this run: at those parameters a quote that no longer holds is printed
# as `STALE TEXT` (the tables are right, the text is not); under any other parameters nothing is checked.

# %%
measured_text = {  # Table 5 row → ρ (TES papers, TES last, PCS papers, PCS last) as the text prints them
    "baseline": ("0.727", "0.727", "0.876", "0.863"),
    "+S2CE": ("0.713", "0.667", "0.854", "0.838"),
    "+MAG2": ("0.695", "0.695", "0.878", "0.871"),
    "+AVCF (w/o DPG)": ("0.685", "0.619", "0.863", "0.846"),
    "+DPG (Ours)": ("0.690", "0.686", "0.889", "0.886"),
    "w/o S2CE": ("0.733", "0.719", "0.911", "0.911"),
    "w/o MAG2": ("0.724", "0.710", "0.909", "0.904"),
    "w/o AVCF": ("0.743", "0.714", "0.910", "0.897"),
    "w/o L_TL": ("0.748", "0.724", "0.902", "0.872"),
    "w/o L_CE": ("0.702", "0.702", "0.892", "0.890"),
    "w/o L_TL + L_CE": ("0.745", "0.732", "0.901", "0.872"),
}
cells = [("TES", "papers"), ("TES", "last"), ("PCS", "papers"), ("PCS", "last")]
others = [row for row in measured_text if row != "baseline"]
removed = [row for row in measured_text if row.startswith("w/o")]
quoted = check_quoted(
    lambda: {**{f"{row}, {target} {protocol}": (text, numeric.loc[row, (target, protocol)])
                for row, texts in measured_text.items()
                for (target, protocol), text in zip(cells, texts, strict=True)},
             "full model's TES gap below the baseline (papers)":
                 ("0.04", numeric.loc["baseline", ("TES", "papers")] - numeric.loc["+DPG (Ours)", ("TES", "papers")]),
             "smallest TES gain of a w/o row over the full model (papers)":
                 ("0.01", numeric.loc[removed, ("TES", "papers")].min()
                          - numeric.loc["+DPG (Ours)", ("TES", "papers")]),
             "largest TES gain of a w/o row over the full model (papers)":
                 ("0.06", numeric.loc[removed, ("TES", "papers")].max()
                          - numeric.loc["+DPG (Ours)", ("TES", "papers")]),
             "largest TES gap above the baseline (papers)":
                 ("0.02", numeric.loc[others, ("TES", "papers")].max() - numeric.loc["baseline", ("TES", "papers")]),
             "lowest PCS row (papers)": ("0.85", numeric.loc[list(measured_text), ("PCS", "papers")].min()),
             "highest PCS row (papers)": ("0.91", numeric.loc[list(measured_text), ("PCS", "papers")].max())},
    at={"table": "table5", "dataset": "fs1000", "targets": "paper", "source": "synthetic", "scale": "quick",
        "seeds": [0], "epochs": 0, "device": "cpu"},
)

# %%
# Checks that hold at every scale (nbval runs this notebook at smoke scale in CI).
assert len(study.results) == len(study.ran) * len(train_targets) * len(seeds)
assert all(np.isfinite(r.summary["last_spearman"]) for r in study.results)
assert set(study.rows.values()) <= set(spearman.index) and set(study.rows.values()) <= set(mse.index)
assert (spearman.loc[list(study.rows.values()), ("here", "")] == "trained").all()
assert columns and all(np.isfinite(numeric.loc[list(study.rows.values()), (c, "last")]).all() for c in columns)
print("mlavl_ablations complete")
