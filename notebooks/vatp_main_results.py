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
# # VATP-Net Tables IX–XII: the full model against earlier methods
#
# VATP-Net's comparison tables, one per dataset, Spearman's ρ per target (`dataset` picks the table):
# **Table IX** MTL-AQA (diving; one score, printed twice: methods trained **w/o DD**, which regress the final
# score, and **w/ DD**, which regress the execution score and multiply it by the dive's difficulty degree),
# **Table X** Rhythmic Gymnastics (four apparatus and their Fisher-z average; most methods on I3D and on
# Video Swin (VST) features), **Table XI** Fis-V (TES, PCS, average), **Table XII** FineFS (PCS, TES and their
# average for the short program SP and the free skating FS). The paper's claim: VATP-Net is first among
# methods that score one video alone ("exemplar free"), and close to the exemplar-based ones, which compare
# the video with others.
#
# **What this notebook trains.** VATP-Net with its paper recipe at the chosen scale: on MTL-AQA the two rows
# of Table IX (`vatp/tableIX/w_dd`, `wo_dd`), elsewhere `vatp` **fine-tuned** from the ParseFormer of
# VATP-Net trained on MTL-AQA (§IV-A2: RG, Fis-V and FineFS "are fine-tuned with our trained visual
# ParseFormer decoder module"; `finetune = False` trains from scratch), its context-aware decoder reading
# the sport's action vocabulary (ours: the paper does not say what it reads there), with L_alg and L_gc off
# (ours, the recipe's: with a vocabulary every video shares, Eq. 10's negatives are its positives; on the real
# Fis-V features the two terms cost 0.44 of TES ρ, `benchmarks/real_fisv_rgb.py`). With `baselines` on (the
# default), the methods this project re-implements: **GDLT** (the only one the tables print; on RG and Fis-V
# in its VST row, the backbone our features stand in for), the pooled-feature **SVR** in the C3D+SVR row (RG,
# Fis-V; on our features, not C3D), and, as extra rows the tables do not print, **PAMFN**, **LMAC-Net** and
# **MLAVL**. MTL-AQA and FineFS have RGB features only, so PAMFN and LMAC-Net run on RGB alone there and MLAVL
# visual-only (as `mlavl_main_results` does on RGB-only data); MLAVL does not run on MTL-AQA, whose diving has
# no action vocabulary for its action graph. Every other row is the paper's number only: `here` says
# *reported only* and why (another paper's method, or features of a backbone we do not have).
#
# **How to read the tables.** `reported` is the paper's number on its real features; `papers` (best test
# epoch: the papers' protocol, which selects the epoch on the test set and is optimistic) and `last` (last
# epoch, no selection) are our runs on this notebook's data: the embedded synthetic default unless
# `source = real` (MTL-AQA: real labels, split and commentary, synthetic visual features). Synthetic numbers
# are never a reproduction: they show whether the methods learn the structure the paper assumes and how they
# rank on it.

# %% tags=["parameters"]
dataset = "mtl_aqa"  # mtl_aqa (Table IX) | rg (Table X) | fisv (Table XI) | finefs (Table XII)
target = "all"  # all (every target the table prints) or one target of the dataset
source = "synthetic"  # synthetic | real (needs data_root with the released features of the dataset)
data_root = ""  # folder of the released features (used only when source is real)
scale = "auto"  # smoke | quick | paper | auto (smoke under CI, else quick)
seeds = [0]  # training seeds; mean ± std over them
epochs = 0  # 0 means the default of the scale
device = "auto"  # auto | cpu | cuda
baselines = True  # also train GDLT, PAMFN, LMAC-Net, MLAVL and the SVR (at smoke only GDLT and the SVR)
finetune = True  # RG, Fis-V, FineFS: VATP-Net starts from the MTL-AQA-trained ParseFormer (the paper)

# %%
import matplotlib.pyplot as plt
import numpy as np

from aqa_lib.experiments import comparison_runs, describe_variants
from aqa_lib.experiments.vatp import COMPARISON_TABLES, comparison_plan, vatp_comparison, vatp_config
from aqa_lib.notebook import check_params, check_quoted, save_figure, show_table, table_label, table_slug
from aqa_lib.report import plot_overview
from aqa_lib.train import run_many

params = check_params(  # validates every parameter and writes the resolved scale, device, seeds back
    {"dataset": dataset, "target": target, "source": source, "data_root": data_root, "scale": scale,
     "seeds": seeds, "epochs": epochs, "device": device, "baselines": baselines, "finetune": finetune},
    choices={"dataset": list(COMPARISON_TABLES), "baselines": [True, False], "finetune": [True, False]},
    namespace=globals(), notebook="vatp_main_results",
)
plan = comparison_plan(dataset, baselines=baselines, scale=scale, target=target)
title = f"VATP-Net {table_label(plan.table)}"
common = dict(scale=scale, source=source, data_root=data_root, device=device, epochs=epochs or None)
print(f"{title} on {dataset}: VATP-Net and {', '.join(plan.competitors) or 'no competitors'} on "
      f"{', '.join(plan.targets)}" + (" (and the SVR)" if plan.svr else ""))

# %% [markdown]
# ## Train VATP-Net and the re-implemented competitors
# One run per model, target and seed, cached per configuration, data and code (a re-run trains nothing; the
# GDLT, PAMFN, LMAC-Net and MLAVL runs are shared with those papers' notebooks, VATP-Net's with
# `vatp_ablations` and `vatp_efficiency`). Each method trains with its own paper's recipe. At `smoke` scale
# (tiny models, two epochs) the numbers only show that everything runs, and only VATP-Net, GDLT and the SVR
# run. At `quick` from an empty cache, measured once on a shared 2-core CPU: MTL-AQA about 3 minutes (five
# runs; a VATP-Net run reading the commentary about 50 s), RG about 27 minutes (24 runs and the MTL-AQA run
# VATP-Net is fine-tuned from; MLAVL about 100 s per apparatus, VATP-Net about 50 s, LMAC-Net 100 s then and
# 41–57 s since its quick input projection), Fis-V and FineFS about 20 minutes each. These times were measured
# with the earlier quick presets of LMAC-Net (batch 32 × 50 epochs), MLAVL (batch 32 × 40 epochs) and PAMFN
# (20 + 40 epochs on every dataset) and not re-measured since; the quick presets now in force are LMAC-Net
# batch 8 × 12 epochs (36 on MTL-AQA), MLAVL batch 8 × 12 epochs, and PAMFN 10 + 20 epochs (20 + 40 on RG
# and MTL-AQA).

# %%
vatp_runs = run_many([vatp_config(v, dataset, t, seed=s, finetune=finetune, **common)
                      for v in plan.vatp for t in plan.targets for s in seeds])
comparison = (comparison_runs(plan.competitors, dataset=dataset, targets=plan.targets, seeds=seeds, svr=plan.svr,
                              **common) if plan.competitors else None)
results = vatp_runs + (comparison.results if comparison else [])
fits = comparison.fits if comparison else []
provenance = vatp_runs[0].meta["provenance"]
print(provenance)
print(f"{len(results)} runs, {sum(r.cached for r in results)} from the cache"
      + (f"; substituted on this data: {comparison.substituted}" if comparison and comparison.substituted else ""))
describe_variants({m: plan.labels[m] for m in dict.fromkeys(r.config.model for r in results)})

# %% [markdown]
# ## Reported vs reproduced: Spearman's ρ
# The paper's rows in its order (`features`: the backbone each was run on), then our rows the table does not
# print. An average column is the Fisher-z mean of the targets it averages, ours only when every one of them
# ran. On MTL-AQA the table is split as the paper prints it: every method of ours regresses the final score,
# so our competitors belong beside the w/o DD rows.

# %%
spearman = vatp_comparison(results, plan.table, dataset, labels=plan.labels, fits=fits, not_run=plan.not_run)
groups = ({"w/o DD (the final score regressed)": [m for m in spearman.index if not m.endswith(": w/ DD")],
           "w/ DD (execution × difficulty degree)": [m for m in spearman.index if m.endswith(": w/ DD")]}
          if dataset == "mtl_aqa" else {"": list(spearman.index)})
for name, members in groups.items():
    show_table(spearman.loc[members], title=f"{title}, Spearman ρ ({dataset}{', ' + name if name else ''})",
               provenance=f"reported: VATP-Net paper; ours: {provenance}")

# %% [markdown]
# ## Overview
# One bar group per method at the table's summary column (MTL-AQA: the score; RG and Fis-V: the average;
# FineFS: one panel per program average): grey the printed number, blue / orange ours under the two
# protocols. Methods are grouped top to bottom: the paper's other methods, VATP-Net, then our extra rows;
# dotted lines separate the groups. Rows with no number at all (competitors not run) are left out.

# %%
numeric = vatp_comparison(results, plan.table, dataset, labels=plan.labels, fits=fits, not_run=plan.not_run,
                          numeric=True)
top = numeric.columns.get_level_values(0)
averages = [c for c in dict.fromkeys(top) if c.endswith("Avg.") and np.isfinite(numeric[(c, "last")]).any()]
columns = averages or [plan.targets[0]]
shown = [m for m in numeric.index if np.isfinite(numeric.loc[m, columns].to_numpy(dtype=float)).any()]
vatp_rows = [m for m in shown if m.startswith("VATP-Net")]
extra_rows = [m for m in shown if "(ours;" in m]
others = [m for m in shown if m not in vatp_rows + extra_rows]
fig, axes = plt.subplots(1, len(columns), figsize=(5.6 * len(columns) + 3.4, 0.3 * len(shown) + 1.8),
                         squeeze=False)
for ax, column in zip(axes[0], columns, strict=True):
    overview = plot_overview(ax, [numeric.loc[g, column] for g in (others, vatp_rows, extra_rows) if g])
    ax.set_xlabel(f"Spearman ρ ({column})")
    ax.set_title(f"{column}", fontsize=9)
    if ax is not axes[0][-1]:
        ax.get_legend().remove()
    if ax is not axes[0][0]:
        ax.set_yticklabels([])
fig.suptitle(f"{title} on {dataset}: other methods | VATP-Net | our extra rows (dotted lines)", fontsize=10)
fig.tight_layout()
save_figure(fig, f"vatp_{table_slug(plan.table)}_{dataset}", provenance=f"grey: reported (paper's data); ours: "
            f"{provenance}")

# %% [markdown]
# **Reading the figure.** On the synthetic default our bars answer "does VATP-Net learn the structure the
# paper assumes, and does it rank above GDLT and the other re-implementations?", not "do we reproduce the
# printed number": the data differ. On MTL-AQA compare VATP-Net's two rows: multiplying by DD helps only as
# far as the difficulty degree explains the score (here it does, as in the real labels: the synthetic
# execution is conditioned on the real score / DD). Look at `quick` scale and above; at `smoke` the bars are
# noise.
#
# **What we measured** at `quick` (seed 0, last epoch, synthetic data). MTL-AQA: LMAC-Net (RGB) 0.75,
# VATP-Net 0.73 with DD and 0.37 without, PAMFN (RGB) 0.63, GDLT 0.11. DD carries much of VATP-Net's score, as
# in the paper's two halves of Table IX (0.9452 → 0.9588), yet VATP-Net with DD is second, 0.02 below
# LMAC-Net on RGB alone, once LMAC-Net trains long enough on these short clips (36 quick epochs; 0.46 at
# its earlier 12). The paper's claim that VATP-Net is first does not hold on the synthetic MTL-AQA at quick
# scale, and more seeds widen the gap: over seeds 0–2 (`-p seeds "[0, 1, 2]"`, measured once on 2026-12-03;
# the check below covers seed 0 only) LMAC-Net 0.75 ± 0.03, VATP-Net with DD 0.62 ± 0.11 (seed 0 is its
# best), PAMFN 0.62 ± 0.06, GDLT 0.22 ± 0.14. RG average (`-p dataset
# rg`): the pooled SVR 0.75, MLAVL 0.75, LMAC-Net 0.74, VATP-Net 0.72 (0.68 with L_alg and L_gc on, before the
# recipe turned them off for vocabulary text), PAMFN 0.63, GDLT 0.53 (GDLT's best test epoch is 0.71: it
# over-fits after it); VATP-Net leads GDLT by 0.04 at the best test epoch and by 0.19 at the last, and a
# pooled-feature SVR is a strong baseline on the synthetic RG. GDLT on MTL-AQA under-fits: its training MSE stays at the labels' variance (0.39 with
# 100 epochs or without dropout; ridge on pooled features reaches 0.74), so its row says little there.

# %% [markdown]
# ## The numbers the text quotes
# "What we measured" quotes the default configuration on MTL-AQA and on RG (`quick`, seed 0, baselines on,
# CPU; last epoch). This cell checks the quotes of the dataset this run trained: at those parameters a quote
# that no longer holds is printed as `STALE TEXT` (the tables are right, the text is not); under any other
# parameters nothing is checked.

# %%
measured_text = {  # dataset → (row, protocol) → ρ as the text prints it (RG: the Fisher-z average)
    "mtl_aqa": {("VATP-Net: w/ DD", "last"): "0.73", ("VATP-Net: w/o DD", "last"): "0.37",
                ("PAMFN, RGB only (ours; not in Table IX)", "last"): "0.63",
                ("LMAC-Net, RGB only (ours; not in Table IX)", "last"): "0.75",
                ("GDLT (ours; not in Table IX)", "last"): "0.11"},
    "rg": {("C3D+SVR", "last"): "0.75", ("LMAC-Net (ours; not in Table X)", "last"): "0.74",
           ("MLAVL (ours; not in Table X)", "last"): "0.75", ("VATP-Net (VST)", "last"): "0.72",
           ("VATP-Net (VST)", "papers"): "0.75", ("PAMFN (ours; not in Table X)", "last"): "0.63",
           ("GDLT (VST)", "last"): "0.53", ("GDLT (VST)", "papers"): "0.71"},
}
quoted = check_quoted(
    lambda: {f"{row}, {protocol}": (text, numeric.loc[row, (columns[0], protocol)])
             for (row, protocol), text in measured_text.get(dataset, {}).items()},
    at={"target": "all", "source": "synthetic", "scale": "quick", "seeds": [0], "epochs": 0, "device": "cpu",
        "baselines": True, "finetune": True},
)

# %%
# Checks that hold at every scale and for both sources (nbval runs this notebook at smoke scale in CI).
assert len(vatp_runs) == len(plan.vatp) * len(plan.targets) * len(seeds)
assert all(np.isfinite(r.summary["last_spearman"]) and np.isfinite(r.summary["papers_spearman"]) for r in results)
assert (spearman.loc[list(plan.vatp.values()), ("here", "")] == "trained").all()
assert spearman[("here", "")].str.startswith(("trained", "not run", "reported only")).all()
assert set(plan.not_run) <= set(spearman.index)
assert sum(len(g) for g in groups.values()) == len(spearman)
if baselines:
    assert spearman.loc[plan.labels["gdlt"], ("here", "")] == "trained"
print("vatp_main_results complete")
