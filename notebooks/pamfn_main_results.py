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
# # PAMFN Tables I–III: the full model against earlier methods
#
# PAMFN's main results (§IV-D) are three comparison tables, each covering both datasets (RG and Fis-V):
#
# - **Table I**, AQA methods: C3D+SVR, MS-LSTM, ACTION-NET and GDLT, all on visual features only, against
#   PAMFN on RGB (VST), optical flow (I3D) and audio (AST). The paper's claim: PAMFN has the best average on
#   both datasets, +0.054 (RG) and +0.061 (Fis-V) over GDLT, at the cost of more parameters (18.06 M vs
#   1.84 M) and a slower network (33 ms vs 5 ms per video).
# - **Table II**, multimodal methods from other tasks that PAMFN's authors re-implemented: Joint-VA
#   (audio-visual highlight detection, RGB + audio), MSAF (multimodal emotion recognition, all three) and UMT
#   (video highlight detection, RGB + audio). The paper's reading: all three beat every unimodal AQA method of
#   Table I (audio helps even without an AQA-specific design), MSAF is the strongest of them, and PAMFN beats
#   all three on average.
# - **Table III**, the same comparison with stronger feature extractors (UNMT for RGB, MAST for audio):
#   every method improves and PAMFN stays first (0.835 RG / 0.832 Fis-V).
#
# **What this notebook trains.** `pamfn` (the paper's model with two-stage training: each branch alone, then
# the full model on frozen RGB / flow branches), and our re-implementations of the baselines: `gdlt` (GDLT's
# official design), `joint_va`, `msaf`, `umt` (Joint-VA-, MSAF- and UMT-style models: PAMFN's own
# re-implementations are not public, so these are ours, simplified; see `aqa_lib/models/baselines.py`), and
# a pooled-feature SVR for the C3D+SVR row (mean and standard deviation of the segment features, RBF SVR,
# C and γ by cross-validation; it pools whatever RGB features the data holds, not C3D). MS-LSTM and
# ACTION-NET are not re-implemented: their rows are reported only ("—" in our columns). Table III needs
# features we do not have and is reported only.
#
# Protocols: **papers** = best test Spearman over epochs (test-selected, optimistic, what the papers print),
# **last** = last epoch (no selection). The SVR has no epochs: both columns hold its one test Spearman.
#
# **Real data.** The released Fis-V features available here are RGB (VST) only. With RGB-only data the
# notebook trains only the RGB models, GDLT and PAMFN's RGB branch alone (`pamfn/branch/rgb`, Table IV's
# RGB-only row), plus the SVR, and sets them beside the paper's GDLT (0.685 / 0.820) and RGB-only PAMFN
# (0.665 / 0.823) numbers: the only reported numbers that RGB features can reproduce.

# %% tags=["parameters"]
dataset = "fisv"  # fisv | rg
target = "all"  # all, or one target (TES / PCS for fisv; Ball / Clubs / Hoop / Ribbon for rg)
source = "synthetic"  # synthetic | real (RGB-only real features train only the RGB models)
data_root = ""  # folder of the released features (used only when source is real)
scale = "auto"  # smoke | quick | paper | auto (smoke under CI, else quick)
seeds = [0]  # training seeds; mean ± std over them
epochs = 0  # 0 means the default of the scale
device = "auto"  # auto | cpu | cuda

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from aqa_lib.experiments import (
    COMPARISON_BASELINES,
    compare_table,
    comparison_runs,
    describe_variants,
    rows_from_tables,
    targets_for,
)
from aqa_lib.models.base import variants
from aqa_lib.notebook import check_params, save_figure, show_table
from aqa_lib.report import paper_rows, plot_overview, summary_column
from aqa_lib.tables import reported

params = check_params(  # validates every parameter and writes the resolved scale, device, seeds back
    {"dataset": dataset, "target": target, "source": source, "data_root": data_root, "scale": scale,
     "seeds": seeds, "epochs": epochs, "device": device},
    choices={"dataset": ["fisv", "rg"]}, namespace=globals(), notebook="pamfn_main_results",
)
targets = targets_for(dataset, target)

# %% [markdown]
# ## Train every model on every target
# One run per model, target and seed, cached per configuration, data and code (a re-run trains nothing; the
# two-stage PAMFN caches its stage-1 branches too). On RGB-only data PAMFN's RGB branch replaces PAMFN, and
# the multimodal methods that need flow or audio are skipped. At `smoke` scale (tiny models, two epochs per
# stage) the numbers only show that everything runs.

# %%
comparison = comparison_runs(["pamfn", *COMPARISON_BASELINES], dataset=dataset, targets=targets, seeds=seeds,
                             scale=scale, source=source, data_root=data_root, device=device, epochs=epochs or None)
results, svr, provenance = comparison.results, comparison.fits, comparison.provenance
full_model = "pamfn" in comparison.trained
print(provenance)
print(f"trained {comparison.trained}; {len(results)} runs, {sum(r.cached for r in results)} from the cache")
if comparison.skipped:
    print(f"skipped (need modalities this data lacks): {comparison.skipped}")
describe_variants({n: variants()[n].reported_method for n in comparison.trained})

# %% [markdown]
# ## The C3D+SVR row: a pooled-feature SVR
# Per target and seed (the seed shuffles the cross-validation folds), the SVR's test Spearman and the C and γ
# the cross-validation picked.

# %%
svr_frame = pd.DataFrame([{"target": r["target"], "seed": r["seed"], "spearman": r["spearman"],
                           "C": r["best_params"]["C"], "gamma × n_features": r["best_params"]["gamma"] * r["n_features"]}
                          for r in svr])
show_table(svr_frame.set_index(["target", "seed"]), title=f"Pooled-feature SVR on RGB ({dataset})",
           provenance=svr[0]["provenance"])


# %% [markdown]
# ## Table I: AQA methods (reported) and PAMFN (reported and ours)
# Spearman's ρ per target and the Fisher-z average; `features` are the backbones each method used in the
# paper. Ours: GDLT and the SVR on the data's RGB features, PAMFN on all three modalities (with RGB-only data,
# PAMFN's own row stays reported only: its RGB-only number is in the last table below).

# %%
table1 = paper_rows(compare_table(results, "pamfn", "tableI", dataset, fits=svr), "pamfn", "tableI", dataset,
                    features=True)
show_table(table1, title=f"PAMFN Table I, AQA methods ({dataset})",
           provenance=f"MS-LSTM, ACTION-NET: reported only (PAMFN paper); ours: {provenance}")

# %% [markdown]
# The paper's Table I also gives each method's size and speed (one number per method for both datasets;
# inference time per video, feature extraction excluded). Our models' parameter counts are at this scale's
# width, so they say nothing about the paper's sizes (at the paper's width our PAMFN is pinned in
# `tests/test_pamfn.py`).

# %%
cost_rows = pd.concat([reported("pamfn", t) for t in ("tableI", "tableII")])
cost_rows = cost_rows[(cost_rows["dataset"] == dataset) & cost_rows["metric"].isin(["params_m", "latency_ms"])]
cost = cost_rows.pivot_table(index="method", columns="metric", values="value", sort=False)
cost = cost.rename(columns={"params_m": "#Params (M), reported", "latency_ms": "inference (ms), reported"})
label_of = {n: v.reported_method for n, v in variants().items()}
ours_params = {label_of[r.config.model]: r.meta["n_params"] / 1e6 for r in results}
cost[f"#Params (M), ours at {scale} width"] = [ours_params.get(m, np.nan) for m in cost.index]
show_table(cost, title="Model size and inference time (Tables I and II)", provenance=f"reported: PAMFN paper; "
           f"ours: {provenance}")

# %% [markdown]
# ## Table II: multimodal methods from other tasks (reported and ours)
# Our Joint-VA, MSAF and UMT are re-implementations of the same three papers, not PAMFN's (unpublished)
# code: a gap to the reported number may come from either re-implementation.

# %%
table2 = paper_rows(compare_table(results, "pamfn", "tableII", dataset), "pamfn", "tableII", dataset, features=True)
show_table(table2, title=f"PAMFN Table II, multimodal methods from other tasks ({dataset})",
           provenance=f"reported: PAMFN paper; ours: {provenance}")

# %% [markdown]
# ## Table III: stronger features (reported only)
# UNMT (RGB, Kinetics-600) and MAST (audio, AudioSet) features are not available here, so Table III is
# reported only. What it adds is how much each method gains from the better features: the `gain` column is
# the Table III average minus the same method's Table I / II average. The gains are small (about 0.01–0.02
# on average; UMT gains 0.04 on RG and nothing on Fis-V), the ranking hardly moves and PAMFN stays first on
# both datasets: its lead in Tables I–II is not an artefact of weak features.

# %%
rep3 = reported("pamfn", "tableIII")
rep3 = rep3[(rep3["dataset"] == dataset) & (rep3["metric"] == "spearman")]
table3 = rep3.pivot_table(index="method", columns="target", values="value", sort=False).rename_axis(columns=None)
table3.insert(0, "features", rep3.drop_duplicates("method").set_index("method")["features"])
old = pd.concat([reported("pamfn", t) for t in ("tableI", "tableII")])
old = old[(old["dataset"] == dataset) & (old["target"] == "Avg.") & (old["metric"] == "spearman")]
old_avg = old.drop_duplicates("method").set_index("method")["value"]
table3["Avg. in Tables I/II"] = [old_avg.get(m, np.nan) for m in table3.index]
table3["gain"] = table3["Avg."] - table3["Avg. in Tables I/II"]
show_table(table3, title=f"PAMFN Table III, UNMT / MAST features ({dataset})", provenance="reported: PAMFN paper")

# %% [markdown]
# ## RGB only: GDLT and PAMFN's RGB branch
# The fair comparison on the same VST features: the paper's GDLT (Table I) and PAMFN's RGB branch trained
# alone (Table IV's RGB row; §IV-E notes it is competitive with GDLT on Fis-V, 0.755 vs 0.761, although it
# is only three convolution blocks). Ours when the RGB-only models ran (real RGB-only data); with all three
# modalities the PAMFN row is reported only.

# %%
rgb_rows = {"GDLT": ("pamfn", "tableI", "GDLT"), "PAMFN, RGB only": ("pamfn", "tableIV", "RGB")}
rgb_only = rows_from_tables(results, dataset, rgb_rows)
show_table(rgb_only, title=f"RGB-only models: GDLT (Table I) and PAMFN's RGB branch (Table IV), {dataset}",
           provenance=f"reported: PAMFN paper; ours: {provenance}")

# %%
avg = summary_column(targets)
num1 = paper_rows(compare_table(results, "pamfn", "tableI", dataset, numeric=True, fits=svr), "pamfn", "tableI",
                  dataset)
num2 = paper_rows(compare_table(results, "pamfn", "tableII", dataset, numeric=True), "pamfn", "tableII", dataset)
num_rgb = rows_from_tables(results, dataset, rgb_rows, numeric=True)
groups = [num1.drop(index=["PAMFN"]),  # AQA methods
          num2.drop(index=["PAMFN"]),  # multimodal methods from other tasks
          pd.concat([num1.loc[["PAMFN"]], num_rgb.loc[["PAMFN, RGB only"]]])]
fig, ax = plt.subplots(figsize=(9.5, 4.6))
overview = plot_overview(ax, [g[avg] for g in groups])
ax.set_xlabel(f"Spearman ρ ({avg})")
ax.set_title(f"Tables I–II on {dataset}: AQA methods | multimodal methods | PAMFN (dotted lines separate the "
             "groups)", fontsize=9)
fig.tight_layout()
save_figure(fig, f"pamfn_tables1_2_{dataset}", provenance=f"grey: reported (paper's data); ours: {provenance}")

# %% [markdown]
# **Reading the figure.** Grey bars are the printed numbers (the paper's real features), coloured bars our
# runs; the dotted lines separate, top to bottom, Table I's AQA methods, Table II's multimodal methods from
# other tasks, and PAMFN with its RGB branch. On the synthetic default our bars answer "do the methods learn the structure the paper assumes, and
# in which order do they rank?", not "do we reproduce 0.819 / 0.822": the data differ. Only on the real
# features does a coloured bar next to a grey one make a like-for-like comparison. Things to look for at
# `quick` scale and above: does PAMFN lead the re-implemented multimodal methods, do the multimodal methods
# beat the RGB-only GDLT and SVR, and is PAMFN's RGB branch alone close to GDLT?

# %% [markdown]
# **Transcription notes.** Table I's footnote says the MS-LSTM and ACTION-NET numbers are copied from the GDLT
# paper. #Params and inference time are printed once per method for both datasets.

# %%
# Checks that hold at every scale and for both sources (nbval runs this notebook at smoke scale in CI).
assert len(results) == len(comparison.trained) * len(targets) * len(seeds)
assert "gdlt" in comparison.trained and all(np.isfinite(r.summary["last_spearman"]) for r in results)
assert len(svr) == len(targets) * len(seeds) and all(np.isfinite(r["spearman"]) for r in svr)
for frame, table_id in ((table1, "tableI"), (table2, "tableII")):
    rep = reported("pamfn", table_id)
    assert set(frame.index) == set(rep.loc[rep["dataset"] == dataset, "method"]), table_id
assert np.isfinite(overview.loc["GDLT", "last"]) and np.isfinite(overview.loc["C3D+SVR", "last"])
assert np.isfinite(overview.loc["PAMFN" if full_model else "PAMFN, RGB only", "last"])
assert np.isfinite(overview["reported"]).all()
print("pamfn_main_results complete")
