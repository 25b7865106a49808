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
# removing one from the full model lower it (the paper, FS1000: +MAG² and +DPG add most, about 0.03 TES
# each; w/o L_TL + L_CE costs 0.04 TES and 0.025 PCS)? On the synthetic default the action–music synchrony that AVCF and MAG² exploit exists by
# construction, so a component that does not help here is unlikely to help on real data for the reason the
# paper gives; one that helps here may still not help there.
#
# **What we measured** for Table 5 at `quick` (FS1000 synthetic, seed 0, ρ papers / last; the paper in
# brackets): baseline TES 0.721 / 0.719 (0.835), PCS 0.868 / 0.853 (0.825); +S²CE 0.746 / 0.739, 0.868 / 0.851;
# +MAG² 0.757 / 0.725, 0.887 / 0.876; +AVCF 0.730 / 0.729, 0.870 / 0.844; +DPG (the full model) 0.732 / 0.725
# (0.917), 0.900 / 0.896 (0.892); w/o S²CE 0.741 / 0.711, 0.907 / 0.900; w/o MAG² 0.728 / 0.696, 0.915 / 0.911;
# w/o AVCF 0.741 / 0.693, 0.919 / 0.913; w/o L_TL 0.761 / 0.745, 0.879 / 0.832; w/o L_CE 0.723 / 0.723,
# 0.907 / 0.905; w/o both 0.759 / 0.742, 0.881 / 0.835. So on this data at this scale the paper's cumulative
# gains appear only in part. On TES every row that adds a component is above the baseline under both protocols
# (by 0.01–0.04, papers; 0.01–0.02, last), but the gains do not accumulate: they peak at +MAG² (0.04, papers)
# and the full model keeps 0.01 of them (both protocols), which one seed does not separate from the baseline.
# On PCS +S²CE and +AVCF move ρ by at most 0.01 and the full model is the highest of the group, 0.03 above the
# baseline (0.04 at the last epoch). Removing one piece from the full model does not cost consistently: on TES
# the w/o rows lie from 0.01 below to 0.03 above the full model (papers); at the last epoch removing S²CE, MAG²
# or AVCF lowers TES by 0.01–0.03, as in the paper, while on PCS the same three removals raise ρ by 0.01–0.02
# (papers). The triplet loss trades one target for the other: w/o L_TL is 0.03 above the full model on TES and
# 0.02 below it on PCS (papers; 0.02 above and 0.06 below at the last epoch), and w/o L_TL + L_CE does the
# same, while w/o L_CE alone stays within 0.01 of the full model in all four cells. On PCS every row sits at
# 0.87–0.92 (papers), near or above the paper (the synthetic artistic scores are easy). With one seed, rows
# 0.02 apart are not ranked.

# %% [markdown]
# ## The numbers the text quotes
# "What we measured" quotes Table 5 in its default configuration (FS1000 synthetic, `quick`, seed 0, CPU).
# This cell checks every quote against this run: at those parameters a quote that no longer holds is printed
# as `STALE TEXT` (the tables are right, the text is not); under any other parameters nothing is checked.

# %%
measured_text = {  # Table 5 row → ρ (TES papers, TES last, PCS papers, PCS last) as the text prints them
    "baseline": ("0.721", "0.719", "0.868", "0.853"),
    "+S2CE": ("0.746", "0.739", "0.868", "0.851"),
    "+MAG2": ("0.757", "0.725", "0.887", "0.876"),
    "+AVCF (w/o DPG)": ("0.730", "0.729", "0.870", "0.844"),
    "+DPG (Ours)": ("0.732", "0.725", "0.900", "0.896"),
    "w/o S2CE": ("0.741", "0.711", "0.907", "0.900"),
    "w/o MAG2": ("0.728", "0.696", "0.915", "0.911"),
    "w/o AVCF": ("0.741", "0.693", "0.919", "0.913"),
    "w/o L_TL": ("0.761", "0.745", "0.879", "0.832"),
    "w/o L_CE": ("0.723", "0.723", "0.907", "0.905"),
    "w/o L_TL + L_CE": ("0.759", "0.742", "0.881", "0.835"),
}
cells = [("TES", "papers"), ("TES", "last"), ("PCS", "papers"), ("PCS", "last")]
added = ["+S2CE", "+MAG2", "+AVCF (w/o DPG)", "+DPG (Ours)"]
removed = [row for row in measured_text if row.startswith("w/o")]
parts = ["w/o S2CE", "w/o MAG2", "w/o AVCF"]
full = "+DPG (Ours)"
over_baseline = numeric.sub(numeric.loc["baseline"], axis=1)  # every row's ρ minus the baseline's, per cell
over_full = numeric.sub(numeric.loc[full], axis=1)  # ... minus the full model's
quoted = check_quoted(
    lambda: {**{f"{row}, {target} {protocol}": (text, numeric.loc[row, (target, protocol)])
                for row, texts in measured_text.items()
                for (target, protocol), text in zip(cells, texts, strict=True)},
             **{f"smallest TES gain of an added row over the baseline ({protocol})":
                    (text, over_baseline.loc[added, ("TES", protocol)].min())
                for protocol, text in [("papers", "0.01"), ("last", "0.01")]},
             **{f"largest TES gain of an added row over the baseline ({protocol})":
                    (text, over_baseline.loc[added, ("TES", protocol)].max())
                for protocol, text in [("papers", "0.04"), ("last", "0.02")]},
             "+MAG2's TES gain over the baseline (papers)": ("0.04", over_baseline.loc["+MAG2", ("TES", "papers")]),
             **{f"full model's {target} gain over the baseline ({protocol})":
                    (text, over_baseline.loc[full, (target, protocol)])
                for target, protocol, text in [("TES", "papers", "0.01"), ("TES", "last", "0.01"),
                                               ("PCS", "papers", "0.03"), ("PCS", "last", "0.04")]},
             "largest PCS change of +S2CE or +AVCF from the baseline (either protocol)":
                 ("0.01", max(over_baseline.loc[["+S2CE", "+AVCF (w/o DPG)"], ("PCS", protocol)].abs().max()
                              for protocol in ["papers", "last"])),
             "largest TES drop of a w/o row below the full model (papers)":
                 ("0.01", -over_full.loc[removed, ("TES", "papers")].min()),
             "largest TES gain of a w/o row over the full model (papers)":
                 ("0.03", over_full.loc[removed, ("TES", "papers")].max()),
             "smallest TES cost of removing S2CE, MAG2 or AVCF (last)":
                 ("0.01", -over_full.loc[parts, ("TES", "last")].max()),
             "largest TES cost of removing S2CE, MAG2 or AVCF (last)":
                 ("0.03", -over_full.loc[parts, ("TES", "last")].min()),
             "smallest PCS gain from removing S2CE, MAG2 or AVCF (papers)":
                 ("0.01", over_full.loc[parts, ("PCS", "papers")].min()),
             "largest PCS gain from removing S2CE, MAG2 or AVCF (papers)":
                 ("0.02", over_full.loc[parts, ("PCS", "papers")].max()),
             **{f"{row}'s TES gain over the full model ({protocol})": (text, over_full.loc[row, ("TES", protocol)])
                for row in ["w/o L_TL", "w/o L_TL + L_CE"]
                for protocol, text in [("papers", "0.03"), ("last", "0.02")]},
             **{f"{row}'s PCS drop below the full model ({protocol})": (text, -over_full.loc[row, ("PCS", protocol)])
                for row in ["w/o L_TL", "w/o L_TL + L_CE"]
                for protocol, text in [("papers", "0.02"), ("last", "0.06")]},
             "largest change of w/o L_CE from the full model (any cell)":
                 ("0.01", max(abs(over_full.loc["w/o L_CE", (target, protocol)]) for target, protocol in cells)),
             "lowest PCS row (papers)": ("0.87", numeric.loc[list(measured_text), ("PCS", "papers")].min()),
             "highest PCS row (papers)": ("0.92", numeric.loc[list(measured_text), ("PCS", "papers")].max())},
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
