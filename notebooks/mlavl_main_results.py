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
# # MLAVL Tables 1–3: the full model against earlier methods
#
# MLAVL's main results are three comparison tables, one per dataset, each with Spearman's ρ and MSE per
# score type and their average: **Table 1** FS1000 (seven scores: TES, PCS and the five components SS, TR,
# PE, CO, IN), **Table 2** Fis-V (TES, PCS; also #Params and #FLOPs), **Table 3** Rhythmic Gymnastics (four
# apparatus). `dataset` picks the table. The paper's claim: MLAVL is first on average on all three.
#
# **What this notebook trains.** MLAVL with its paper recipe at the chosen scale (the registered variant of
# each table: `mlavl` for Table 1, `mlavl/table2/mlavl`, `mlavl/table3/mlavl`; the same model) and, with
# `baselines` on (the default), the table's methods this project re-implements: **GDLT** (its official
# design), **PAMFN** (two-stage; on FS1000, whose features have no optical flow, its RGB branch stands in and
# is labelled so) and, on RG, the pooled-feature **SVR** for the C3D+SVR row. Every other row is the paper's
# number only: the `here` column says *reported only*. (LMAC-Net, Joint-VA, MSAF and UMT are re-implemented
# here too, but MLAVL's tables do not list them: see `lmac_main_results`.)
#
# **How to read the tables.** `reported` is the paper's number on its real features; `papers` (best test
# epoch: the papers' protocol, which selects the epoch on the test set and is optimistic) and `last` (last
# epoch, no selection) are our runs on this notebook's data, the embedded synthetic default unless
# `source = real`. Synthetic numbers are never a reproduction: they show whether the methods learn the
# structure the paper assumes and how they rank.
#
# **Choices the paper left open** (`aqa_lib/models/mlavl.py`): we mask padded clips everywhere (the official
# code trains on fixed crops without masks), evaluate on whole sequences (the official code on a centre
# crop), train `quick` scale with lr 1e-3 (the paper's 1e-2 over-fits the small quick model) and batch 8, and
# at `paper` scale use the supplementary's epochs per target. Several competitors in Tables 1–2 are the MLAVL
# authors' re-implementations (marked in the transcription notes).
#
# **Real data.** On the released Fis-V features (RGB / VST only) MLAVL runs **visual only**: no audio graph,
# no AVCF, only the visual grade branch (the model's visual-only mode, as on LOGO); the paper has no such
# row, so ours stands apart from its MLAVL row. GDLT and PAMFN's RGB branch run beside it.

# %% tags=["parameters"]
dataset = "fisv"  # fisv (Table 2) | fs1000 (Table 1) | rg (Table 3)
target = "all"  # all, or one target of the dataset
source = "synthetic"  # synthetic | real (RGB-only real features train MLAVL visual only)
data_root = ""  # folder of the released features (used only when source is real)
scale = "auto"  # smoke | quick | paper | auto (smoke under CI, else quick)
seeds = [0]  # training seeds; mean ± std over them
epochs = 0  # 0 means the default of the scale
device = "auto"  # auto | cpu | cuda
baselines = True  # also train the re-implemented methods of the table (GDLT, PAMFN; the SVR on rg)

# %%
import matplotlib.pyplot as plt
import numpy as np

from aqa_lib.experiments import comparison_runs, config_for, describe_variants, targets_for
from aqa_lib.notebook import check_params, check_quoted, save_figure, show_table
from aqa_lib.report import paper_comparison, plot_overview, summary_column
from aqa_lib.tables import reported
from aqa_lib.train import load_data, run

params = check_params(  # validates every parameter and writes the resolved scale, device, seeds back
    {"dataset": dataset, "target": target, "source": source, "data_root": data_root, "scale": scale,
     "seeds": seeds, "epochs": epochs, "device": device, "baselines": baselines},
    choices={"dataset": ["fisv", "fs1000", "rg"], "baselines": [True, False]}, namespace=globals(),
    notebook="mlavl_main_results",
)
targets = targets_for(dataset, target)
table, variant = {"fs1000": ("table1", "mlavl"), "fisv": ("table2", "mlavl/table2/mlavl"),
                  "rg": ("table3", "mlavl/table3/mlavl")}[dataset]
common = dict(scale=scale, source=source, data_root=data_root, device=device, epochs=epochs or None)
available = load_data(config_for(variant, dataset, targets[0], **common)).modalities
visual_only = "audio" not in available
print(f"MLAVL {table.replace('table', 'Table ')} on {dataset}; data modalities {list(available)}"
      + ("; MLAVL runs visual only" if visual_only else ""))

# %% [markdown]
# ## Train MLAVL (and the re-implemented competitors) on every target
# One run per model, target and seed, cached per configuration, data and code (a re-run trains nothing; the
# GDLT and PAMFN runs are shared with the LMAC-Net and PAMFN notebooks). At `smoke` scale (tiny models, two
# epochs) the numbers only show that everything runs.

# %%
mlavl_runs = [run(config_for(variant, dataset, t, seed=s, **common, **({"modalities": ("rgb",)} if visual_only
                                                                         else {})))
              for t in targets for s in seeds]
comparison = (comparison_runs(["gdlt", "pamfn"], dataset=dataset, targets=targets, seeds=seeds, svr=dataset == "rg",
                              **common) if baselines else None)
results = mlavl_runs + (comparison.results if comparison else [])
fits = comparison.fits if comparison else []
provenance = mlavl_runs[0].meta["provenance"]
labels = {variant: "MLAVL, visual only (ours)" if visual_only else "MLAVL", "gdlt": "GDLT", "pamfn": "PAMFN",
          "pamfn/branch/rgb": "PAMFN, RGB branch (not in the table)"}
print(provenance)
print(f"{len(results)} runs, {sum(r.cached for r in results)} from the cache"
      + (f"; skipped (need modalities this data lacks): {comparison.skipped}" if comparison and comparison.skipped
         else ""))
describe_variants({n: labels[n] for n in dict.fromkeys(r.config.model for r in results)})

# %% [markdown]
# ## Spearman's ρ: the paper's table beside our runs
# Per target and the Fisher-z `Avg.` (shown when we ran every target the paper averages). `features` are the
# backbones each method used in the paper (TF = TimeSformer, AST audio, CLIP = ViFi-CLIP text, VST = Video
# Swin); a method printed with two feature sets keeps both rows.

# %%
spearman = paper_comparison(results, "mlavl", table, dataset, fits=fits, labels=labels, features=True,
                            status=True)
show_table(spearman, title=f"MLAVL {table.replace('table', 'Table ')}, Spearman ρ ({dataset})",
           provenance=f"reported: MLAVL paper; ours: {provenance}")

# %% [markdown]
# ## MSE: the paper's table beside our runs
# Mean squared error on the original score scale (lower is better; `Avg.` is the arithmetic mean, as
# printed). Ours at the same two epochs (`papers`: the epoch with the best test Spearman). The SVR row has
# no MSE here.

# %%
mse = paper_comparison(results, "mlavl", table, dataset, metric="mse", labels=labels, status=True)
show_table(mse, title=f"MLAVL {table.replace('table', 'Table ')}, MSE ({dataset})",
           provenance=f"reported: MLAVL paper; ours: {provenance}")

# %% [markdown]
# ## Size and cost (Table 2, Fis-V)
# Table 2 also prints #Params and #FLOPs per method (reported only; `mlavl_backbones` measures our MLAVL at
# the official configuration: 6.72 M / 6.99 M parameters, not the printed 3.82 M). Our parameter counts here
# are at this scale's width and say nothing about the paper's sizes.

# %%
cost = reported("mlavl", "table2")
cost = cost[cost["metric"].isin(["params_m", "flops_g"])].pivot_table(index="method", columns="metric",
                                                                       values="value", sort=False)
cost = cost.rename(columns={"params_m": "#Params (M), reported", "flops_g": "#FLOPs (G), reported"})
ours_params = {labels[r.config.model]: r.meta["n_params"] / 1e6 for r in results}
cost[f"#Params (M), ours at {scale} width"] = [ours_params.get(m, np.nan) for m in cost.index]
show_table(cost, title="MLAVL Table 2: model size and FLOPs", provenance=f"reported: MLAVL paper; ours: {provenance}")

# %%
avg = summary_column(targets)
numeric = paper_comparison(results, "mlavl", table, dataset, fits=fits, labels=labels, numeric=True)
column = avg if (avg, "reported") in numeric else targets[0]
ours_rows = [m for m in numeric.index if m.startswith("MLAVL")]
fig, ax = plt.subplots(figsize=(9.5, 0.28 * len(numeric) + 1.6))
overview = plot_overview(ax, [numeric.drop(index=ours_rows)[column], numeric.loc[ours_rows, column]])
ax.set_xlabel(f"Spearman ρ ({column})")
ax.set_title(f"MLAVL {table.replace('table', 'Table ')} on {dataset}: other methods | MLAVL (dotted line)",
             fontsize=9)
fig.tight_layout()
save_figure(fig, f"mlavl_{table}_{dataset}", provenance=f"grey: reported (paper's data); ours: {provenance}")

# %% [markdown]
# **Reading the figure.** Grey bars are the printed numbers (the paper's real features), coloured bars our
# runs (missing where a method is reported only). On the synthetic default our bars answer "does MLAVL learn
# the structure the paper assumes, and does it rank above GDLT and PAMFN?", not "do we reproduce the printed
# number": the data differ. Look at `quick` scale and above; at `smoke` the bars are noise.
#
# **What we measured** for MLAVL at `quick` (synthetic, seed 0, ρ papers / last; the paper's printed number in
# brackets). Table 1 (FS1000): TES 0.732 / 0.725 (0.92), PCS 0.900 / 0.896 (0.89), SS 0.945 / 0.932 (0.90), TR
# 0.848 / 0.833 (0.90), PE 0.891 / 0.866 (0.88), CO 0.882 / 0.872 (0.89), IN 0.761 / 0.691 (0.88), average
# 0.867 / 0.849 (0.90): the highest of the three methods trained here, above PAMFN (0.827 / 0.803) and GDLT
# (0.791 / 0.746). Table 2 (Fis-V): TES 0.642 / 0.589 (0.766), PCS 0.765 / 0.740 (0.863), average 0.709 /
# 0.672 (0.823): above GDLT (0.657 / 0.581) but below PAMFN (0.729 / 0.710), by 0.02 at the best test epoch
# and 0.04 at the last. Table 3 (RG): Ball 0.794 / 0.775 (0.826), Clubs 0.663 / 0.607 (0.829), Hoop 0.689 /
# 0.654 (0.871), Ribbon 0.870 / 0.870 (0.866), average 0.768 / 0.745 (0.849): the highest best-test-epoch
# average of the methods re-implemented here, above VATP-Net (0.753 / 0.716) by 0.015, LMAC-Net (0.748 /
# 0.743) and the pooled SVR (0.748 here) by 0.02, GDLT (0.712 / 0.530) and PAMFN (0.667 / 0.633); at the last
# epoch the SVR is 0.003 above it and LMAC-Net 0.002 below (VATP-Net and LMAC-Net are in `vatp_main_results`,
# which trains them all; one seed, too few to rank gaps this small).

# %% [markdown]
# ## The numbers the text quotes
# "What we measured" quotes MLAVL's runs in the default configuration of each table (its dataset, synthetic,
# `quick`, seed 0, CPU; with or without the baselines, which do not change MLAVL's runs), GDLT's and PAMFN's
# averages on every table and the SVR's on RG (with the baselines). This cell checks the quotes of the dataset
# this run trained: at those parameters a quote that no longer holds is printed as `STALE TEXT` (the tables
# are right, the text is not); under any other parameters nothing is checked.

# %%
measured_text = {  # dataset → row → target → ρ (papers, last) as the text prints them
    "fs1000": {"MLAVL": {"TES": ("0.732", "0.725"), "PCS": ("0.900", "0.896"), "SS": ("0.945", "0.932"),
                         "TR": ("0.848", "0.833"), "PE": ("0.891", "0.866"), "CO": ("0.882", "0.872"),
                         "IN": ("0.761", "0.691"), "Avg.": ("0.867", "0.849")},
               "GDLT": {"Avg.": ("0.791", "0.746")}, "PAMFN": {"Avg.": ("0.827", "0.803")}},
    "fisv": {"MLAVL": {"TES": ("0.642", "0.589"), "PCS": ("0.765", "0.740"), "Avg.": ("0.709", "0.672")},
             "GDLT": {"Avg.": ("0.657", "0.581")}, "PAMFN": {"Avg.": ("0.729", "0.710")}},
    "rg": {"MLAVL": {"Ball": ("0.794", "0.775"), "Clubs": ("0.663", "0.607"), "Hoop": ("0.689", "0.654"),
                     "Ribbon": ("0.870", "0.870"), "Avg.": ("0.768", "0.745")},
           "GDLT": {"Avg.": ("0.712", "0.530")}, "PAMFN": {"Avg.": ("0.667", "0.633")},
           "C3D+SVR": {"Avg.": ("0.748", "0.748")}},
}
quoted_rows = {row: columns for row, columns in measured_text.get(dataset, {}).items()
               if row == "MLAVL" or baselines}  # without the baselines only MLAVL's runs are here
quoted = check_quoted(
    lambda: {f"{row}, {column} {protocol}": (text, numeric.loc[row, (column, protocol)])
             for row, columns in quoted_rows.items() for column, texts in columns.items()
             for protocol, text in zip(("papers", "last"), texts, strict=True)},
    at={"target": "all", "source": "synthetic", "scale": "quick", "seeds": [0], "epochs": 0, "device": "cpu"},
)

# %%
# Checks that hold at every scale and for both sources (nbval runs this notebook at smoke scale in CI).
assert len(mlavl_runs) == len(targets) * len(seeds)
assert all(np.isfinite(r.summary["last_spearman"]) and np.isfinite(r.summary["last_mse"]) for r in results)
rep = reported("mlavl", table)
assert len(spearman) >= rep.loc[rep["metric"] == "spearman"].drop_duplicates(["method", "features"]).shape[0]
assert (spearman["here"] == "trained").sum() == len({labels[r.config.model] for r in results}) + bool(fits)
assert np.isfinite(overview.loc[labels[variant], "last"]) and np.isfinite(overview["reported"].dropna()).all()
if baselines:
    assert np.isfinite(overview.loc["GDLT", "last"])
print("mlavl_main_results complete")
