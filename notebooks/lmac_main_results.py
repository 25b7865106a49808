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
# **This notebook re-trains LMAC-Net only** (the registered `lmac` variant: the full model with the paper's
# settings at the chosen scale) on every target. The other methods are not re-implemented here: their rows
# are the numbers LMAC-Net printed, marked *reported only* ("—" in our columns). GDLT, PAMFN and the unimodal
# baselines get their own notebooks. Protocols: **papers** = best test Spearman over epochs (test-selected,
# optimistic, what the papers print), **last** = last epoch (no selection).
#
# **Real data.** The released Fis-V features available here are RGB (VST) only. When the data lacks flow or
# audio, the notebook trains the RGB-only model of Table 7 (`lmac/table7/rgb`) instead of the full one and
# sets it beside the paper's RGB-only LMAC-Net number (Table 7) — the only reported LMAC-Net number that RGB
# features can reproduce.

# %% tags=["parameters"]
dataset = "fisv"  # fisv | rg
target = "all"  # all, or one target (TES / PCS for fisv; Ball / Clubs / Hoop / Ribbon for rg)
source = "synthetic"  # synthetic | real (RGB-only real features train the RGB-only model)
data_root = ""  # folder of the released features (used only when source is real)
scale = "auto"  # smoke | quick | paper | auto (smoke under CI, else quick)
seeds = [0]  # training seeds; mean ± std over them
epochs = 0  # 0 means the default of the scale
device = "auto"  # auto | cpu | cuda

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from aqa_lib.experiments import compare_table, lmac_config, targets_for, variant_modalities
from aqa_lib.notebook import check_params, save_figure, show_table
from aqa_lib.tables import reported
from aqa_lib.train import load_data, run

params = check_params(
    {"dataset": dataset, "target": target, "source": source, "data_root": data_root, "scale": scale,
     "seeds": seeds, "device": device},
    choices={"dataset": ["fisv", "rg"]},
)
scale, device, dataset = params["scale"], params["device"], params["dataset"]
suffix = "_real" if source == "real" else ""  # figures of real-data runs never overwrite the synthetic ones
targets = targets_for(dataset, target)
available = load_data(lmac_config("lmac", dataset, targets[0], scale=scale, source=source,
                                  data_root=data_root)).modalities
full_model = set(variant_modalities("lmac", dataset)) <= set(available)
if not full_model and "rgb" not in available:
    raise ValueError(f"This data has modalities {sorted(available)}: neither the full model (RGB, flow, audio) "
                     "nor the RGB-only model can run on it.")
model = "lmac" if full_model else "lmac/table7/rgb"
print(f"modalities in the data: {sorted(available)} → training {model!r}")

# %% [markdown]
# ## Train LMAC-Net on every target
# One run per target and seed, cached per configuration, data and code (a re-run trains nothing). At
# `smoke` scale (tiny model, two epochs) the numbers only show that everything runs.

# %%
results = [run(lmac_config(model, dataset, t, scale=scale, seed=s, source=source, data_root=data_root,
                           device=device, epochs=epochs or None), progress=True)
           for t in targets for s in seeds]
provenance = results[0].meta["provenance"]
print(provenance)
print(f"{len(results)} runs, {sum(r.cached for r in results)} from the cache")


# %% [markdown]
# ## Table 2: unimodal methods (reported) and LMAC-Net (reported and ours)
# Spearman's ρ per target and the Fisher-z average. `features` are the backbones each method used.

# %%
def with_features(frame, table_id):
    """``frame`` with the paper's feature column in front (methods not in the table get "")."""
    rep = reported("lmac", table_id)
    feats = rep[rep["dataset"] == dataset].drop_duplicates("method").set_index("method")["features"]
    out = frame.copy()
    out.insert(0, ("features", ""), [feats.get(m, "") for m in out.index])
    return out


table2 = compare_table(results, "lmac", "table2", dataset).drop(index="RGB", errors="ignore")
show_table(with_features(table2, "table2"), title=f"LMAC-Net Table 2, unimodal comparison ({dataset})",
           provenance=f"other methods: reported only (LMAC-Net paper); LMAC-Net ours: {provenance}")

# %% [markdown]
# ## Table 3: multimodal methods (reported) and LMAC-Net (reported and ours)

# %%
table3 = compare_table(results, "lmac", "table3", dataset).drop(index="RGB", errors="ignore")
show_table(with_features(table3, "table3"), title=f"LMAC-Net Table 3, multimodal comparison ({dataset})",
           provenance=f"other methods: reported only (cited from PAMFN by LMAC-Net); LMAC-Net ours: {provenance}")

# %% [markdown]
# ## RGB-only LMAC-Net (Table 7's first row)
# The paper's number for LMAC-Net on RGB features alone, beside ours when the RGB-only model ran (real
# RGB-only data); with all three modalities this row is reported only. It is also the fair comparison for
# the unimodal methods of Table 2, which see the same VST features: in the paper, RGB-only LMAC-Net scores
# below MS-LSTM, ACTION-NET and GDLT on both datasets, so its lead in Table 2 comes from the added modalities.

# %%
rgb_only = compare_table(results, "lmac", "table7", dataset).loc[["RGB"]].rename(index={"RGB": "LMAC-Net, RGB only"})
show_table(rgb_only, title=f"LMAC-Net on RGB only, paper Table 7 ({dataset})",
           provenance=f"reported: LMAC-Net paper; ours: {provenance}")

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
avg = "Avg." if len(targets) > 1 else targets[0]
num2 = compare_table(results, "lmac", "table2", dataset, numeric=True)
num3 = compare_table(results, "lmac", "table3", dataset, numeric=True)
num7 = compare_table(results, "lmac", "table7", dataset, numeric=True)
groups = [num2.drop(index=["LMAC-Net", "RGB"], errors="ignore"),  # unimodal competitors
          num3.drop(index=["LMAC-Net", "RGB"], errors="ignore"),  # multimodal competitors
          pd.concat([num3.loc[["LMAC-Net"]], num7.loc[["RGB"]].rename(index={"RGB": "LMAC-Net, RGB only"})])]
overview = pd.concat(groups)[avg]
fig, ax = plt.subplots(figsize=(8.5, 4.2))
y = np.arange(len(overview))[::-1]
colours = {"reported": "0.65", "papers": "tab:blue", "last": "tab:orange"}
for i, col in enumerate(["reported", "papers", "last"]):
    ax.barh(y + (1 - i) * 0.27, overview[col].to_numpy(dtype=float), 0.27, label=col, color=colours[col])
for boundary in np.cumsum([len(g) for g in groups[:-1]]):
    ax.axhline(len(overview) - boundary - 0.5, color="0.3", lw=0.7, ls=":")
ax.set_yticks(y, list(overview.index), fontsize=8)
ax.axvline(0, color="0.5", lw=0.6)
ax.set_xlabel(f"Spearman ρ ({avg})")
ax.legend(title="number", fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))
ax.set_title(f"Tables 2–3 on {dataset}: unimodal methods, multimodal methods, LMAC-Net", fontsize=10)
fig.tight_layout()
save_figure(fig, f"lmac_tables2_3_{dataset}{suffix}", provenance=f"grey: reported (papers' data); ours: {provenance}")
plt.show()

# %% [markdown]
# **Reading the figure.** Grey bars are the printed numbers (the papers' real features), coloured bars our
# runs of LMAC-Net (full model, or RGB only on RGB-only data). On the synthetic default our bars answer "does
# the model learn the structure the paper assumes?", not "do we reproduce 0.840 / 0.850": the data differ.
# Only on the real features does a coloured bar next to a grey one make a like-for-like comparison.

# %%
# Checks that hold at every scale and for both sources (nbval runs this notebook at smoke scale in CI).
assert len(results) == len(targets) * len(seeds)
assert all(r.config.model == model for r in results)
assert all(np.isfinite(r.summary["last_spearman"]) for r in results)
for frame, table_id in ((table2, "table2"), (table3, "table3")):
    rep = reported("lmac", table_id)
    assert set(frame.index) == set(rep.loc[rep["dataset"] == dataset, "method"]), table_id
ours_row = "LMAC-Net" if full_model else "LMAC-Net, RGB only"
assert np.isfinite(overview.loc[ours_row, "last"]) and np.isfinite(overview["reported"]).all()
print("lmac_main_results complete")
