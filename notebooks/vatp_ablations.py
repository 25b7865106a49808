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
# # VATP-Net ablations: Tables I–VII and Fig. 5
#
# VATP-Net (visual-semantic alignment temporal parsing) scores a dive from its clip features and the TV
# commentary: a **temporal enhancement** encoder (TE) over the clips, a **ParseFormer** decoder (PD) whose S
# learnable queries parse the video into sub-actions, a **context-aware decoder** (CD) that refines the
# commentary tokens against the video, and a **score distribution** head (μ, σ, with the re-parameterisation
# trick, "Rep."). Training adds to the MSE (L_reg) a diversity loss on the sub-actions (l_div), an alignment
# loss whose positives come from Drop-DTW between sub-actions and words (L_alg) and a global contrastive loss
# against the other videos' words (L_gc). Its ablations ask what each piece adds:
#
# | `table` | data | rows | the paper's answer (Spearman ρ) |
# |---|---|---|---|
# | `tableI` | MTL-AQA | components: I3D+MLP, +TE, PD alone, TE+PD, full | 0.9450 → 0.9516 (TE) → 0.9531 (TE+PD) → 0.9588 (full); PD without TE 0.9454 |
# | `tableII` | RG (fine-tuned) | VST+TE, VST+TE+PD, full | average 0.754 → 0.783 → 0.800 |
# | `tableIII` | MTL-AQA | S = 2 … 6 ParseFormer queries | best at S = 4 (0.9588); S = 2 and 6 lose 0.009 |
# | `tableIV` | MTL-AQA | 2 … 10 ParseFormer blocks (and parameters) | best at 2 blocks (1.81 M); more blocks 0.952–0.956 |
# | `tableV` | MTL-AQA | the four losses switched on and off | 0.9522 (L_reg only) … 0.9588 (all four) |
# | `tableVI` | MTL-AQA | RGB only vs RGB + semantics, beside GDLT | 0.9547 without the semantic branch, 0.9588 with it; GDLT 0.9531 |
# | `tableVII` | MTL-AQA | backbones: I3D / VST video, with or without BERT text | I3D+BERT best (0.9588); VST+BERT 0.9543 |
# | `fig5` | RG (fine-tuned) | backbones on RG | an image; the prose says VST beats I3D there (see below) |
#
# **How to read the tables.** `reported` is the paper's number on its features (I3D video and BERT text on
# MTL-AQA, Video Swin on RG). `papers` (best test epoch: the papers' protocol, which selects the epoch on the
# test set and is optimistic) and `last` (last epoch, no selection) are this notebook's runs on *this
# notebook's data*: by default the embedded MTL-AQA with its real labels, split and commentary but
# **synthetic visual features**, and the synthetic RG. Synthetic numbers are never a reproduction of the
# paper's: they say whether a component helps where the paper's premise (a dive is an ordered sequence of
# sub-actions that the commentary names) holds by construction. `here` says which rows ran, which were left
# out (and why), and which are reported only (and why). The paper's differences are small (0.001–0.01):
# read ours over several seeds (`-p seeds "[0, 1, 2]"`) before ranking two rows.
#
# **Choices the paper left open** (`aqa_lib/models/vatp.py` documents each): the widths (d = 128 fits the
# printed 1.81 M; `quick` trains d = 32), τ, γ and β; which configuration a component row is (without PD the
# pooled feature is the mean over time); the ablation rows of Tables I–IV train with L_reg only where the
# table says so; Table V's rows 6 and 7 print the same check-marks, and we read row 7 as L_reg + l_div +
# L_alg; our MTL-AQA commentary is embedded by a 384-d sentence encoder, not BERT (768-d). On RG the paper
# does not say what the context-aware decoder reads: ours reads RG's action vocabulary ("a video of
# <action>"), with L_alg and L_gc off (the recipe's default for vocabulary text: its negatives would be its
# positives; Table II has no loss column). RG rows with a ParseFormer are **fine-tuned** from the ParseFormer of VATP-Net trained on
# MTL-AQA (§IV-A2; that source run is the synthetic MTL-AQA one at the same scale), `finetune = False` trains
# them from scratch.

# %% tags=["parameters"]
table = "tableI"  # tableI … tableVII, or fig5 (backbones on RG)
dataset = "auto"  # auto (the dataset of the table: mtl_aqa, or rg for Table II and Fig. 5)
target = "all"  # all (every target the table prints; on RG the four apparatus and their average) or one target
rows = "auto"  # auto (every row; at smoke a baseline and the full model on the first target), all, or a list
finetune = True  # RG rows with a ParseFormer start from the MTL-AQA-trained one (the paper); False from scratch
source = "synthetic"  # synthetic | real (real needs data_root with features of the table dataset)
data_root = ""  # folder of the real released features, for source real
scale = "auto"  # smoke | quick | paper | auto (smoke under CI, else quick)
seeds = [0]  # training seeds; mean ± std over them
epochs = 0  # 0 means the default of the scale
device = "auto"  # auto | cpu | cuda

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from aqa_lib.experiments import describe_variants
from aqa_lib.experiments.vatp import (
    ABLATION_TABLES,
    parameter_counts,
    parse_rows,
    plan_table,
    run_plan,
    table_dataset,
    uses_finetuning,
    vatp_comparison,
)
from aqa_lib.notebook import check_params, check_quoted, save_figure, show_table, table_slug
from aqa_lib.report import legend_outside, plot_table_bars
from aqa_lib.tables import reported

params = check_params(  # validates every parameter and writes the resolved scale, device, seeds back
    {"table": table, "dataset": table_dataset(table, dataset), "target": target, "rows": parse_rows(rows),
     "finetune": finetune, "source": source, "data_root": data_root, "scale": scale, "seeds": seeds,
     "epochs": epochs, "device": device},
    choices={"table": list(ABLATION_TABLES), "finetune": [True, False]}, namespace=globals(),
    notebook="vatp_ablations",
)
plan = plan_table(table, dataset=dataset, rows=rows, target=target, scale=scale)
print(f"{plan.title} on {plan.dataset}: training {len(plan.run)} of {len(plan.rows)} rows on "
      f"{', '.join(plan.targets)}" + (f" ({plan.note})" if plan.note else ""))
variants = describe_variants(plan.rows)
variants["this run"] = ["fine-tuned from MTL-AQA" if finetune and uses_finetuning(n, plan.dataset) else "trained"
                        if n in plan.run else "not run" for n in plan.rows]
variants

# %% [markdown]
# ## Train the rows
# One run per row, target and seed, each with VATP-Net's recipe at this scale (Adam, lr 1e-3; `smoke`:
# width 16, two epochs, 32 training videos — the numbers only show that everything runs; `quick`: width 32,
# 15 epochs on MTL-AQA and 20 on RG). Runs are cached under a fingerprint of the resolved model, the training
# settings, the data and the code, so rows that are the same model (every table's full model, the I3D+MLP
# baseline of Tables I and V–VII) train once, and so does the MTL-AQA run the RG rows are fine-tuned from.
# At `quick` from an empty cache, measured once on a shared 2-core CPU under a load of 6–9: Table I about
# 1 minute, VI and VII 1.5 each, V 4, III and IV 4–5, II 9 (twelve RG runs and the MTL-AQA source run) and
# Fig. 5 7 (2.5 after Table II, whose full-model runs it shares); a full-model MTL-AQA run about 50 s.

# %%
study = run_plan(plan, params, finetune=finetune)

# %% [markdown]
# ## Reported vs reproduced: Spearman's ρ
# Every column the paper prints (on RG the four apparatus and their Fisher-z average; ours fills the average
# only when every apparatus ran). Rows in the paper's order; `features` is the paper's backbone for the row.
# For `fig5` the reported rows are Table X's VATP-Net on I3D and on VST features of RG (Fig. 5 itself is an
# image whose bars are not transcribed; its prose says VST beats I3D on RG, which Table X prints: 0.709 vs
# 0.800 average), beside our two VST rows: the full model and the same model without its semantic branch.

# %%
spearman = vatp_comparison(study.results, table, plan.dataset, labels=plan.run, not_run=plan.not_run)
show_table(spearman, title=f"{plan.title}, Spearman ρ ({plan.dataset})",
           provenance=f"reported: VATP-Net paper; ours: {study.provenance}")

# %% [markdown]
# ## Size of each row
# Parameters at the paper configuration (d = 128, 8 heads, 1024-d video; on MTL-AQA the paper's 768-d BERT
# text; on RG the 512-d action vocabulary) and at the width this notebook trained. Only Table IV prints
# sizes (`reported`); the full model's 1,808,454 parameters match the paper's 1.81 M, and the four deeper
# ParseFormers match 2.27 … 3.66 M, because d = 128 with a 3d feed-forward layer is the one width at which a
# ParseFormer block adds the printed 0.23 M (`aqa_lib/models/vatp.py`, "Parameter count").

# %%
printed = reported("vatp", "tableIV")
printed = printed[printed["metric"] == "params_m"].set_index("variant")["value"]
trained_params = {r.config.model: r.meta["n_params"] / 1e6 for r in study.results}
sizes = pd.DataFrame({
    "#Params (M), reported": [printed.get(label, np.nan) for label in plan.rows.values()],
    "ours, paper configuration (M)": [n / 1e6 for n in parameter_counts(plan.rows, plan.dataset).values()],
    f"ours, as trained at {scale} (M)": [trained_params.get(n, np.nan) for n in plan.rows],
}, index=pd.Index(list(plan.rows.values()), name="row"))
show_table(sizes, title=f"{plan.title}: parameters", provenance="counted from the models (no data); reported: "
           "VATP-Net paper, Table IV")

# %% [markdown]
# ## The rows as bars
# Grey is the paper's number on its features, blue ours at the best test epoch (the papers' protocol),
# orange ours at the last epoch, at the average on RG when every apparatus ran (else the first one) and at
# the one MTL-AQA score otherwise. Only the rows this notebook trained are drawn; for Fig. 5 the dashed line
# is the printed VATP-Net on I3D features of RG, the backbone we cannot train on.

# %%
numeric = vatp_comparison(study.results, table, plan.dataset, labels=plan.run, numeric=True)
trained_rows = list(plan.run.values())
column = next(c for c in ("Avg.", *plan.targets) if c in numeric.columns.get_level_values(0)
              and np.isfinite(numeric.loc[trained_rows, (c, "last")]).all())
groups = {"tableV": [("I3D ablations", ["I3D+MLP (baseline); L_reg", "I3D+TE; L_reg", "I3D+TE+PD; L_reg",
                                        "I3D+TE+PD; L_reg + l_div"]),
                     ("full architecture, losses", [m for m in numeric.index if m.startswith("VATP-Net;")])]}
short = {"I3D+TE+PD+CD (full)": "full", "VST+TE+PD+CD (full)": "full",
         "VATP-Net (VST), no semantic branch": "VST, no text", "VATP-Net (VST)": "VST (full)"}
fig, ax = plt.subplots(figsize=(max(5.5, 0.85 * len(trained_rows) + 3.2), 4.0))
drawn = plot_table_bars(ax, numeric, column, short=lambda m: short.get(m, m.replace("VATP-Net; ", "")),
                        rotation=30, groups=groups.get(table))
if table == "fig5":  # Fig. 5 compares backbones: the printed I3D row as a reference line
    ax.axhline(numeric.loc["VATP-Net (I3D)", (column, "reported")], color="0.35", ls="--", lw=1,
               label="VATP-Net on I3D, reported (Table X)")
    legend_outside(ax)
ax.set_title(f"{plan.title} on {plan.dataset} ({column})\nreported (paper's data) vs reproduced (this notebook's "
             "data)", fontsize=9, pad=16 if table in groups else 6)
fig.tight_layout()
save_figure(fig, f"vatp_{table_slug(table)}_{plan.dataset}",
            provenance=f"reported: VATP-Net paper; reproduced: {study.provenance}")

# %% [markdown]
# **What to look for** at `quick` scale and above, over several seeds. Table I: does each component raise ρ
# in the paper's order (TE, then PD on top of TE, then CD)? Table II: the same on RG, where the semantic
# branch reads a fixed action vocabulary instead of per-video commentary, so CD has less to add. Tables III
# and IV: is there a peak at S = 4 and two blocks, or is the curve flat within the seed spread? Table V: do
# the auxiliary losses (l_div, L_alg, L_gc) help the full architecture beyond L_reg? Tables VI–VII: what does
# the semantic branch add to the same video model? On the synthetic MTL-AQA the commentary tokens that name a
# sub-action have visual evidence by construction, so a semantic branch that does not help here is unlikely
# to help on real data for the paper's reason. At `smoke` the bars are noise.
#
# **What we measured** at `quick` (seed 0, last epoch, the synthetic default; one seed cannot rank rows
# 0.01 apart, these are further apart):
#
# | table | ours (Spearman ρ) | against the paper's reading |
# |---|---|---|
# | I | I3D+MLP 0.38, +TE 0.86, PD alone 0.89, TE+PD 0.69, full 0.73 | TE and PD each lift the baseline; together, and with the semantic branch, they do not add up |
# | II | average VST+TE 0.74, +PD 0.73, full 0.72 (0.68 with L_alg and L_gc on, measured before the recipe turned them off for vocabulary text) | PD adds nothing; the vocabulary-reading semantic branch adds nothing either, and costs with the alignment losses |
# | III | S = 2 … 6: 0.72, 0.62, 0.73, 0.56, 0.65 | highest at S = 4, as in the paper, but only 0.01 above S = 2: one seed cannot confirm the peak |
# | IV | 2 … 10 blocks: 0.73, 0.78, 0.72, 0.69, 0.64 | highest at 4 blocks, 0.04–0.05 above 2 and 6, lower at 8 and 10; the paper's best is 2 |
# | V | full architecture: L_reg only 0.92, + l_div 0.82, all four 0.73 | the auxiliary losses lower ρ here |
# | VI | RGB only 0.82, RGB + semantics 0.73, GDLT 0.11 | the semantic branch does not help at this width |
#
# On this data the parsing and alignment machinery is not yet what makes VATP-Net score well at `quick`:
# the plain regression objective on the full architecture is its best row. Whether that holds at `paper`
# scale (d = 128, 200 epochs) is the question to run on a GPU.

# %% [markdown]
# ## The numbers the text quotes
# The "What we measured" table above quotes the default configuration of each table (its dataset, `quick`,
# seed 0, every row, CPU; last epoch). This cell checks the quotes of the table this run trained: at those
# parameters a quote that no longer holds is printed as `STALE TEXT` (the tables are right, the text is not);
# under any other parameters nothing is checked.

# %%
measured_text = {  # table → row → ρ as the text prints it (the table's average on RG)
    "tableI": {"I3D+MLP (baseline)": "0.38", "I3D+TE": "0.86", "I3D+PD": "0.89", "I3D+TE+PD": "0.69",
               "I3D+TE+PD+CD (full)": "0.73"},
    "tableII": {"VST+TE": "0.74", "VST+TE+PD": "0.73", "VST+TE+PD+CD (full)": "0.72"},
    "tableIII": {"S=2": "0.72", "S=3": "0.62", "S=4": "0.73", "S=5": "0.56", "S=6": "0.65"},
    "tableIV": {"blocks=2": "0.73", "blocks=4": "0.78", "blocks=6": "0.72", "blocks=8": "0.69", "blocks=10": "0.64"},
    "tableV": {"VATP-Net; L_reg": "0.92", "VATP-Net; L_reg + l_div (row 6)": "0.82",
               "VATP-Net; L_reg + l_div + L_gc + L_alg": "0.73"},
    "tableVI": {"VATP-Net: RGB": "0.82", "RGB+Semantics": "0.73", "GDLT: RGB": "0.11"},
}
quoted = check_quoted(lambda: {f"{table}, {row}": (text, numeric.loc[row, (column, "last")])
                               for row, text in measured_text.get(table, {}).items()},
                      at={"dataset": table_dataset(table, "auto"), "target": "all", "rows": "auto",
                          "finetune": True, "source": "synthetic", "scale": "quick", "seeds": [0], "epochs": 0,
                          "device": "cpu"})

# %%
# Checks that hold at every scale (nbval runs this notebook at smoke scale in CI).
assert len(study.results) == len(plan.run) * len(plan.targets) * len(seeds)
assert all(np.isfinite(r.summary["last_spearman"]) and np.isfinite(r.summary["papers_spearman"])
           for r in study.results)
assert (spearman.loc[trained_rows, ("here", "")] == "trained").all()
assert spearman.loc[list(plan.not_run), ("here", "")].str.startswith("not run").all()
assert spearman[("here", "")].str.startswith(("trained", "not run", "reported only")).all()
assert drawn == [m for m in numeric.index if m in trained_rows] or set(drawn) == set(trained_rows)
assert (sizes["ours, paper configuration (M)"] > 0).all()
print("vatp_ablations complete")
