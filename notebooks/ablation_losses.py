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
# # LMAC-Net Table 5: what each loss adds
#
# LMAC-Net (§4.4, Table 5) builds its model in steps: a **baseline** that pools each modality over time,
# concatenates and regresses; **+ MLQE**, one learnable-query decoder per modality; **+ ranking loss**, which
# keeps each modality's K attention centres in temporal order; **+ sparsity loss**, which concentrates each
# query's attention around its centre; **+ consistency loss**, which pulls the centres of the same query
# together across RGB, flow and audio. This notebook trains every row and shows it beside the paper's number.
#
# Two protocols are reported for every run: **papers** = the best test Spearman over epochs (what the papers
# print; it selects the epoch on the test set, so it is optimistic) and **last** = the last epoch (no
# selection). On the embedded synthetic data we can also measure what no paper can: how close each query's
# attention centre lands to the true element times.
#
# **`key_position`.** The paper's decoder (TPT's) attends by content only, so its queries can be put in
# temporal order only where a segment's feature says where in the routine it lies. The embedded synthetic data
# does (generator v3, calibrated on the real Fis-V features: `data_tour`, section 5): measured at `quick`
# (batch 8 × 12 epochs) on Fis-V TES (seed 0), the full model's ranking loss falls from 4.0 in the first epoch
# to 0.63 in the last and its RGB centres are in temporal order in 86 % of the test videos (flow 82 %, audio
# 72 %). Without the ranking loss (the "+ MLQE" row) the five centres coincide (spread 0.000 of the routine).
# On features whose statistics do not depend on the time the ranking loss cannot be met and the centres
# collapse onto one point (as they did on the earlier generator, v2). `-p key_position sine` adds a
# relative-position code to the attention keys (ours, not the paper's): the same full model's ranking loss
# then falls from 3.9 to 0.11 and its centres are in order in 100 % of the test videos, in every modality. The
# cell before the checks holds these numbers against this notebook's runs.

# %% tags=["parameters"]
dataset = "fisv"  # fisv | rg
target = "all"  # all, or one target (TES / PCS for fisv; Ball / Clubs / Hoop / Ribbon for rg)
source = "synthetic"  # synthetic | real (real needs data_root with RGB, flow and audio features)
data_root = ""  # folder of the real released features, for source real
scale = "auto"  # smoke | quick | paper | auto (smoke under CI, else quick)
seeds = [0]  # training seeds; mean ± std over them
epochs = 0  # 0 means the default of the scale
device = "auto"  # auto | cpu | cuda
key_position = "none"  # none (the paper) | sine (ours: a relative-position code on the attention keys)

# %%
import numpy as np

from aqa_lib.analysis import query_specialisation
from aqa_lib.experiments import alignment_to_truth, describe_variants, table_variants
from aqa_lib.notebook import check_params, check_quoted, run_paper_table, show_table

params = check_params(  # validates every parameter and writes the resolved scale, device, seeds back
    {"dataset": dataset, "target": target, "source": source, "data_root": data_root, "scale": scale,
     "seeds": seeds, "epochs": epochs, "device": device, "key_position": key_position},
    choices={"dataset": ["fisv", "rg"], "key_position": ["none", "sine"]},
    namespace=globals(), notebook="ablation_losses",
)
describe_variants(table_variants("lmac", "table5"))

# %% [markdown]
# ## Train every row
# Each run is cached under a fingerprint of its configuration, data and code: re-running this notebook with
# the same parameters trains nothing. At `smoke` scale the models are tiny and train for two epochs — the
# numbers only show that everything runs.

# %%
study = run_paper_table("lmac", "table5", params, final_keys=("centres",),
                        model_kwargs={"key_position": key_position} if key_position != "none" else None)

# %% [markdown]
# ## Reported vs reproduced
# Spearman's ρ per target and the Fisher-z average (`Avg.`), the paper's number beside ours. Our numbers are
# mean ± std over the seeds.

# %%
table = study.show()

# %% [markdown]
# The same numbers as bars (`Avg.`, or the single target): grey is the paper's number on its real features,
# blue ours at the best test epoch (the papers' protocol, optimistic), orange ours at the last epoch. Read
# the steps from left to right: each bar adds one component to the one before.

# %%
steps = {"Baseline (concatenation + linear regression)": "baseline", "Baseline + MLQE": "+ MLQE",
         "Baseline + MLQE + ranking loss": "+ ranking", "Baseline + MLQE + ranking loss + sparsity loss": "+ sparsity",
         "Full: MLQE + ranking + sparsity + consistency losses (Ours)": "+ consistency (Ours)"}
name = f"lmac_table5_{dataset}" if key_position == "none" else f"lmac_table5_{dataset}_keys_{key_position}"
fig = study.bar_chart(short=steps, name=name)

# %% [markdown]
# ## Do the attention centres find the elements? (synthetic ground truth only)
# For every test video, each query's final-layer attention centre is compared with the true element
# midpoints the generator drew: the table gives the mean distance to the nearest element (in seconds) and the
# share of centres that fall inside an element, per modality, with the **uniform** reference (K centres
# evenly spread, what an untrained model's centres look like). The ranking and sparsity losses should move
# centres onto elements; the consistency loss should make the modalities agree.

# %%
if study.provenance.startswith("SYNTHETIC"):
    alignment = alignment_to_truth(study.results)
    show_table(alignment.set_index(["variant", "modality"]),
               title="Attention centres vs ground-truth element times (test videos)",
               provenance=study.provenance)
else:
    print("Real data has no element ground truth: this analysis needs the synthetic default.")

# %% [markdown]
# ## The numbers the text quotes
# The `key_position` paragraph at the top quotes the full model and the "+ MLQE" row on Fis-V TES at `quick`
# (synthetic, seed 0, CPU), with the paper's decoder and with `-p key_position sine`. Under either of those
# configurations (the quotes of the decoder this run uses) this cell checks every quote against this run and prints a `STALE TEXT` line for one that no
# longer holds; under any other parameters nothing is checked.

# %%
run_of = {(r.config.model, r.config.target, r.config.seed): r for r in study.results}
full, mlqe = run_of.get(("lmac/table5/ours", "TES", 0)), run_of.get(("lmac/table5/mlqe", "TES", 0))
specialisation = {name: query_specialisation(r).set_index("modality") for name, r in (("full", full), ("mlqe", mlqe))
                  if r is not None and study.provenance.startswith("SYNTHETIC")}
quoted_text = {  # key_position → what the paragraph prints for it
    "none": {"loss first": "4.0", "loss last": "0.63", "rgb": "86", "flow": "82", "audio": "72", "mlqe": "0.000"},
    "sine": {"loss first": "3.9", "loss last": "0.11", "rgb": "100", "flow": "100", "audio": "100"},
}[key_position]
quoted = check_quoted(lambda: {
    "full model's ranking loss, first epoch": (quoted_text["loss first"], full.history["train_ranking"].iloc[0]),
    "full model's ranking loss, last epoch": (quoted_text["loss last"], full.history["train_ranking"].iloc[-1]),
    **{f"% of test videos with {m} centres in order": (quoted_text[m], 100 * specialisation["full"].loc[m, "ordered"])
       for m in ("rgb", "flow", "audio")},
    **({"+ MLQE: spread of the RGB centres": (quoted_text["mlqe"], specialisation["mlqe"].loc["rgb", "spread"])}
       if "mlqe" in quoted_text else {}),
}, at={"dataset": "fisv", "target": "all", "source": "synthetic", "scale": "quick", "seeds": [0], "epochs": 0,
       "device": "cpu", "key_position": key_position})

# %%
# Checks that hold at every scale (nbval runs this notebook at smoke scale in CI).
assert len(study.results) == len(study.rows) * len(study.targets) * len(seeds)
assert all(np.isfinite(r.summary["last_spearman"]) for r in study.results)
assert set(table.index) >= set(study.rows.values())
assert set(steps) == set(study.rows.values())  # every row has a short label in the figure
print("ablation_losses complete")
