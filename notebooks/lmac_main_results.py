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
# # LMAC-Net Tables 2–3: the full model against earlier methods
#
# LMAC-Net's main results (§4.4) are two comparison tables, each covering both datasets (RG and Fis-V):
#
# - **Table 2**, unimodal AQA methods: C3D+SVR, MS-LSTM, ACTION-NET (VST + ResNet) and GDLT, all on visual
#   features only;
# - **Table 3**, multimodal methods: PAMFN (the only multimodal method designed for AQA and tested on these
#   datasets) and three methods from other tasks (Joint-VA, MSAF, UMT). LMAC-Net did not run these itself: its
#   Table 3 numbers are the re-implementations published by PAMFN's authors.
#
# The paper's claims: LMAC-Net beats every unimodal method on every target (RG average 0.840 vs GDLT's 0.765)
# and every multimodal one on average (RG 0.840 / Fis-V 0.850 vs PAMFN's 0.819 / 0.822), losing only RG Clubs
# to PAMFN.
#
# **What this notebook trains**: LMAC-Net (the registered `lmac` variant: the full model with the paper's
# settings at the chosen scale) on every target, and, with `baselines` on (the default), the competitors this
# companion re-implements, each with its own paper's settings: GDLT, a pooled-feature SVR for the C3D+SVR row,
# PAMFN (two-stage), and Joint-VA-, MSAF- and UMT-style models (`aqa_lib/models/baselines.py` says what each
# simplifies). MS-LSTM and ACTION-NET are not re-implemented: their rows are the numbers LMAC-Net printed,
# marked *reported only* ("—" in our columns). The runs are cached and shared with the PAMFN notebooks.
# Protocols: **papers** = best test Spearman over epochs (test-selected, optimistic, what the papers print),
# **last** = last epoch (no selection).
#
# **Real data.** The released Fis-V features available here are RGB (VST) only. When the data lacks flow or
# audio, the notebook trains the RGB-only model of Table 7 (`lmac/table7/rgb`) instead of the full one (and
# PAMFN's RGB branch instead of PAMFN; the other multimodal methods are skipped) and sets them beside the
# papers' RGB-only numbers: GDLT, the SVR, PAMFN's RGB branch and LMAC-Net's RGB row all see the same VST
# features, so that last table is the like-for-like comparison on real data.

# %% tags=["parameters"]
dataset = "fisv"  # fisv | rg
target = "all"  # all, or one target (TES / PCS for fisv; Ball / Clubs / Hoop / Ribbon for rg)
source = "synthetic"  # synthetic | real (RGB-only real features train the RGB-only model)
data_root = ""  # folder of the released features (used only when source is real)
scale = "auto"  # smoke | quick | paper | auto (smoke under CI, else quick)
seeds = [0]  # training seeds; mean ± std over them
epochs = 0  # 0 means the default of the scale
device = "auto"  # auto | cpu | cuda
baselines = True  # also train the re-implemented competitors (GDLT, SVR, PAMFN, Joint-VA, MSAF, UMT)

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from aqa_lib.experiments import (
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
     "seeds": seeds, "epochs": epochs, "device": device, "baselines": baselines},
    choices={"dataset": ["fisv", "rg"], "baselines": [True, False]}, namespace=globals(),
    notebook="lmac_main_results",
)
targets = targets_for(dataset, target)

# %% [markdown]
# ## Train LMAC-Net (and the competitors) on every target
# One run per model, target and seed, cached per configuration, data and code (a re-run trains nothing). At
# `smoke` scale (tiny models, two epochs) the numbers only show that everything runs. On RGB-only data
# LMAC-Net's RGB-only variant replaces it, and the multimodal competitors are skipped.

# %%
models = ["lmac", *(("gdlt", "pamfn", "joint_va", "msaf", "umt") if baselines else ())]
comparison = comparison_runs(models, dataset=dataset, targets=targets, seeds=seeds, scale=scale, source=source,
                             data_root=data_root, device=device, epochs=epochs or None, svr=bool(baselines))
results, fits, provenance = comparison.results, comparison.fits, comparison.provenance
full_model = "lmac" in comparison.trained
model = "lmac" if full_model else "lmac/table7/rgb"
print(provenance)
print(f"trained {comparison.trained}; {len(results)} runs, {sum(r.cached for r in results)} from the cache")
if comparison.skipped:
    print(f"skipped (need modalities this data lacks): {comparison.skipped}")
describe_variants({n: variants()[n].reported_method for n in comparison.trained})

# %% [markdown]
# ## Table 2: unimodal methods (reported) and LMAC-Net (reported and ours)
# Spearman's ρ per target and the Fisher-z average. `features` are the backbones each method used. Only the
# rows the paper prints are shown here; our extra rows come further down.

# %%
table2 = paper_rows(compare_table(results, "lmac", "table2", dataset, fits=fits), "lmac", "table2", dataset,
                    features=True)
show_table(table2, title=f"LMAC-Net Table 2, unimodal comparison ({dataset})",
           provenance=f"reported: LMAC-Net paper; ours (MS-LSTM and ACTION-NET reported only): {provenance}")

# %% [markdown]
# ## Table 3: multimodal methods (reported) and LMAC-Net (reported and ours)

# %%
table3 = paper_rows(compare_table(results, "lmac", "table3", dataset), "lmac", "table3", dataset, features=True)
show_table(table3, title=f"LMAC-Net Table 3, multimodal comparison ({dataset})",
           provenance=f"reported: LMAC-Net paper (cited from PAMFN); ours: {provenance}")

# %% [markdown]
# ## RGB only: the like-for-like comparison on the same VST features
# The paper's number for LMAC-Net on RGB features alone (Table 7's first row) beside the RGB-only methods:
# GDLT and the SVR (Table 2) and PAMFN's RGB branch (PAMFN's Table IV, reported by the PAMFN paper). Ours for
# LMAC-Net and PAMFN when their RGB-only variants ran (RGB-only data); with all three modalities those two
# rows are reported only. In the paper, RGB-only LMAC-Net scores below GDLT on both datasets, so its lead in
# Table 2 comes from the added modalities.

# %%
rgb_rows = {"GDLT": ("lmac", "table2", "GDLT"), "C3D+SVR": ("lmac", "table2", "C3D+SVR"),
            "PAMFN, RGB branch": ("pamfn", "tableIV", "RGB"), "LMAC-Net, RGB only": ("lmac", "table7", "RGB")}
rgb_only = rows_from_tables(results, dataset, rgb_rows, fits=fits)
show_table(rgb_only, title=f"RGB-only methods on the same features ({dataset})",
           provenance=f"reported: LMAC-Net paper (PAMFN's RGB branch: PAMFN paper); ours: {provenance}")

# %% [markdown]
# **Transcription notes.** Two slips in the paper's prose (the tables are taken as printed): §4.4 calls
# GDLT's Fis-V average 0.820, which is GDLT's PCS in Table 2 (its average is 0.761); and the Table 3 paragraph
# gives LMAC-Net's averages as "0.850 and 0.840" for RG and Fis-V, the reverse of the tables. Where LMAC-Net's
# copy of a competitor's number differs from other papers' copies, `papers_tables/lmac/` notes it:

# %%
notes = pd.concat([reported("lmac", t).assign(table=t) for t in ("table2", "table3")])
notes = notes[(notes["dataset"] == dataset) & (notes["note"] != "")]
if len(notes):
    show_table(notes.set_index(["table", "method", "target"])[["value", "note"]],
               title=f"Notes on the reported {dataset} rows", provenance="reported: LMAC-Net paper")
else:
    print(f"No notes on the reported {dataset} rows.")

# %%
avg = summary_column(targets)
num2 = paper_rows(compare_table(results, "lmac", "table2", dataset, numeric=True, fits=fits), "lmac", "table2",
                  dataset)
num3 = paper_rows(compare_table(results, "lmac", "table3", dataset, numeric=True), "lmac", "table3", dataset)
num_rgb = rows_from_tables(results, dataset, rgb_rows, fits=fits, numeric=True)
groups = [num2.drop(index=["LMAC-Net"]),  # unimodal competitors
          num3.drop(index=["LMAC-Net"]),  # multimodal competitors
          pd.concat([num3.loc[["LMAC-Net"]], num_rgb.loc[["PAMFN, RGB branch", "LMAC-Net, RGB only"]]])]
fig, ax = plt.subplots(figsize=(9.5, 4.4))
overview = plot_overview(ax, [g[avg] for g in groups])
ax.set_xlabel(f"Spearman ρ ({avg})")
ax.set_title(f"Tables 2–3 on {dataset}: unimodal methods | multimodal methods | LMAC-Net (dotted lines "
             "separate the groups)", fontsize=9)
fig.tight_layout()
save_figure(fig, f"lmac_tables2_3_{dataset}", provenance=f"grey: reported (papers' data); ours: {provenance}")

# %% [markdown]
# **Reading the figure.** Grey bars are the printed numbers (the papers' real features), coloured bars our
# runs (missing where a method is reported only or needs modalities the data lacks). The dotted lines
# separate, top to bottom, the unimodal methods of Table 2, the multimodal methods of Table 3, and LMAC-Net
# with the RGB-only models. On the synthetic default our bars answer "do the methods learn the structure the
# paper assumes, and in which order do they rank?", not "do we reproduce 0.840 / 0.850": the data differ.
# Only on the real features does a coloured bar next to a grey one make a like-for-like comparison. Things to
# look for at `quick` scale and above: does LMAC-Net lead the multimodal methods, and do the multimodal
# models beat the RGB-only ones?

# %%
# Checks that hold at every scale and for both sources (nbval runs this notebook at smoke scale in CI).
assert len(results) == len(comparison.trained) * len(targets) * len(seeds)
assert model in comparison.trained and (not baselines or "gdlt" in comparison.trained)
assert len(fits) == (len(targets) * len(seeds) if baselines else 0)
assert all(np.isfinite(r.summary["last_spearman"]) for r in results)
for frame, table_id in ((table2, "table2"), (table3, "table3")):
    rep = reported("lmac", table_id)
    assert set(frame.index) == set(rep.loc[rep["dataset"] == dataset, "method"]), table_id
ours_row = "LMAC-Net" if full_model else "LMAC-Net, RGB only"
assert np.isfinite(overview.loc[ours_row, "last"]) and np.isfinite(overview["reported"]).all()
if baselines:
    assert np.isfinite(overview.loc[["GDLT", "C3D+SVR"], "last"]).all()
print("lmac_main_results complete")
