# ---
# jupyter:
#   aqa:
#     runs_alone: true
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
# # VATP-Net Table VIII: Spearman's ρ against trainable parameters
#
# Table VIII sets VATP-Net (0.9588 with **1.81 M** trainable parameters, backbone excluded) beside eight
# MTL-AQA methods from 0.50 M (H-GCN) to 15.76 M (TAP): the paper's point is that VATP-Net's parameter count
# is "at a middle level" while its ρ is among the best, and the best of the methods that need no exemplar
# videos. This notebook
#
# 1. shows the printed table (reported only: none of these numbers can be re-run here on the paper's data);
# 2. **measures** VATP-Net and GDLT (the one other method of the table the project implements) at the paper
#    configuration: parameters, FLOPs and latency of one dive (T = 10 clips, as our MTL-AQA reads "103
#    clips"; the commentary at its median length in this data). The width (d = 128, FFN 3d, 8 heads) is
#    ours: the text gives none, and this is the one natural width at which Table IV's per-block increments
#    (0.23 M) and the full 1.81 M both come out (`aqa_lib/models/vatp.py`, "Parameter count");
# 3. **trains** VATP-Net (with DD, Table VIII's row) and GDLT on MTL-AQA at the chosen scale and puts their ρ
#    beside the printed points, at the parameter count of the model actually trained.
#
# `gflops` counts a multiply-add twice, `gmacs` once (most AQA tables' "FLOPs"); neither is printed in
# Table VIII. FLOPs cover the network's matrix products, not Drop-DTW's dynamic programme (no gradient, run
# on detached costs). Latency is measured on `device` and only comparable with numbers taken on the same
# device. Our MTL-AQA data has real labels, split and commentary but synthetic visual features: our ρ is
# never a reproduction of the printed one.

# %% tags=["parameters"]
dataset = "mtl_aqa"  # mtl_aqa (Table VIII is MTL-AQA only)
target = "score"  # the one MTL-AQA target
source = "synthetic"  # synthetic (the embedded MTL-AQA); real needs data_root with MTL-AQA features
data_root = ""  # folder of real MTL-AQA features, for source real
scale = "auto"  # smoke | quick | paper | auto (smoke under CI, else quick); also sets latency repeats
seeds = [0]  # training seeds; mean over them
epochs = 0  # 0 means the default of the scale
device = "auto"  # auto | cpu | cuda: where the runs train and latency is measured
baselines = True  # also train GDLT (Table VIII prints it)

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

from aqa_lib.data import get_spec
from aqa_lib.experiments import config_for
from aqa_lib.experiments.vatp import PAPER_TEXT_DIM, measure_vatp, trained_size
from aqa_lib.models.base import create_model
from aqa_lib.notebook import check_params, save_figure, show_table
from aqa_lib.report import NUMBER_COLOURS, NUMBER_LABELS, legend_outside
from aqa_lib.tables import reported
from aqa_lib.train import load_data, run_many

params = check_params(  # validates every parameter and writes the resolved scale, device, seeds back
    {"dataset": dataset, "target": target, "source": source, "data_root": data_root, "scale": scale,
     "seeds": seeds, "epochs": epochs, "device": device, "baselines": baselines},
    choices={"dataset": ["mtl_aqa"], "baselines": [True, False]}, namespace=globals(), notebook="vatp_efficiency",
)
repeats = {"smoke": 2, "quick": 20, "paper": 50}[scale]

# %% [markdown]
# ## Table VIII as printed (reported only)

# %%
rep8 = reported("vatp", "tableVIII")
table8 = rep8.pivot_table(index="method", columns="metric", values="value", sort=False)
table8 = table8.rename(columns={"spearman": "Spearman ρ, reported", "params_m": "#Params (M), reported"})
show_table(table8, title="VATP-Net Table VIII (MTL-AQA, w/ DD)", provenance="reported only: VATP-Net paper "
           "(trainable parameters, backbone excluded)")

# %% [markdown]
# ## Size and cost at the paper configuration
# VATP-Net with the paper's inputs (1024-d I3D clips, 768-d BERT tokens), with the project's 384-d commentary
# tokens, and with its semantic branch removed (Table VI's RGB row: no text decoder); GDLT with its official
# configuration on 1024-d I3D. Random inputs of these shapes; nothing is trained here.

# %%
spec = get_spec(dataset)
data = load_data(config_for("vatp", dataset, target, scale=scale, source=source, data_root=data_root))
text_length = int(np.median([len(t) for t in data.train.text])) if data.train.text else 78
length = spec.train_window
in_dims = dict(spec.modalities)
models = {
    "VATP-Net, paper inputs (768-d BERT text)": create_model("vatp", in_dims=in_dims, use_dd=True,
                                                             text_dim=PAPER_TEXT_DIM),
    "VATP-Net, our 384-d commentary tokens": create_model("vatp", in_dims=in_dims, use_dd=True,
                                                          text_dim=spec.text_dim),
    "VATP-Net without the semantic branch (Table VI, RGB)": create_model("vatp/tableVI/rgb", in_dims=in_dims),
    "GDLT, official configuration": create_model("gdlt", in_dims=in_dims),
}
measured = pd.DataFrame([{"model": name, **measure_vatp(model, in_dims, length, text_length=text_length,
                                                        device=device, repeats=repeats)}
                         for name, model in models.items()]).set_index("model")
printed = {"VATP-Net, paper inputs (768-d BERT text)": 1.81, "GDLT, official configuration": 3.20}
measured.insert(0, "#Params (M), reported", [printed.get(m, np.nan) for m in measured.index])
efficiency_provenance = (f"random inputs (T = {length} clips, {text_length} text tokens); latency on {device} "
                         f"({torch.get_num_threads()} CPU threads); reported: VATP-Net paper, Table VIII")
show_table(measured, title="VATP-Net and GDLT at the paper configuration: reported vs measured",
           provenance=efficiency_provenance)

# %% [markdown]
# **Reading it.** Our VATP-Net has 1,808,454 parameters with the paper's inputs (printed: 1.81 M) and
# 1,759,302 with our 384-d text; the semantic branch (text projection + context-aware decoder) is about a
# third of it. GDLT's official configuration has 3.16 M parameters on 1024-d features, the figure Tables X–XI
# print (Table VIII prints 3.20 M). About four fifths of VATP-Net's FLOPs are its semantic branch (the
# context-aware decoder over the commentary tokens), so its cost grows with the commentary's length, GDLT's
# does not.

# %% [markdown]
# ## Train VATP-Net and GDLT on MTL-AQA
# VATP-Net with DD (Table VIII's row is the w/ DD model of Table IX; the run is shared with `vatp_ablations`
# and `vatp_main_results`) and GDLT with its own recipe, at this scale's width: `smoke` d = 16, `quick`
# d = 32, `paper` the configuration measured above. Cached per configuration, data and code.

# %%
common = dict(scale=scale, source=source, data_root=data_root, device=device, epochs=epochs or None)
names = {"vatp/tableVIII/vatp": "VATP-Net (ours)", **({"gdlt": "GDLT (ours)"} if baselines else {})}
results = run_many([config_for(n, dataset, target, seed=s, **common) for n in names for s in seeds])
provenance = results[0].meta["provenance"]
ours = trained_size(results, names)
show_table(ours.rename(columns={"params_m": f"#Params (M), as trained at {scale}", "papers": "ρ, best test epoch",
                                "last": "ρ, last epoch", "n_seeds": "seeds"}),
           title=f"Our runs on MTL-AQA at {scale} scale", provenance=provenance)

# %% [markdown]
# ## Spearman's ρ against parameters
# Left: every method of Table VIII at its printed parameter count and ρ (grey, one marker shape per method,
# on the paper's data), and our
# two runs at the parameter count of the model we trained (blue: best test epoch, the papers' protocol;
# orange: last epoch), on a log scale. At `quick` and `smoke` our models are narrower than the paper's, so
# they sit far left of the printed points; at `paper` scale they sit at the counts measured above. Right: the
# printed parameter counts of VATP-Net and GDLT beside ours at the paper configuration.

# %%
fig, (ax, ax_params) = plt.subplots(1, 2, figsize=(12.5, 5.0), gridspec_kw={"width_ratios": [2.3, 1]})
shapes = dict(zip(table8.index, ["o", "s", "^", "v", "<", ">", "p", "h", "P"], strict=False))
for method, row in table8.iterrows():
    ax.scatter(row["#Params (M), reported"], row["Spearman ρ, reported"], marker=shapes.get(method, "o"), s=40,
               color=NUMBER_COLOURS["reported"], edgecolor="0.25", linewidth=0.5, zorder=3, label=f"{method}, reported")
markers = {"VATP-Net (ours)": "*", "GDLT (ours)": "D"}
for method, row in ours.iterrows():
    for protocol in ("papers", "last"):
        ax.scatter(row["params_m"], row[protocol], marker=markers.get(method, "o"), s=90 if method.startswith(
            "VATP") else 40, color=NUMBER_COLOURS[protocol], edgecolor="k", linewidth=0.4, zorder=4,
                   label=f"{method}, {NUMBER_LABELS[protocol]}")
ax.set_xscale("log")
ax.set_xlabel("trainable parameters (M, log scale; backbone excluded)")
ax.set_ylabel("test Spearman ρ (MTL-AQA)")
ax.set_title("Table VIII: reported (grey) and our runs at the width trained (colour)", fontsize=9)
ax.grid(alpha=0.3, which="both")
compare = pd.DataFrame({"reported": [1.81, 3.20], "measured at the paper configuration": [
    measured.loc["VATP-Net, paper inputs (768-d BERT text)", "params_m"],
    measured.loc["GDLT, official configuration", "params_m"]]}, index=["VATP-Net", "GDLT"])
compare.plot.barh(ax=ax_params, color=[NUMBER_COLOURS["reported"], "tab:purple"], legend=False)
ax_params.invert_yaxis()
ax_params.set_xlabel("parameters (M)")
ax_params.set_title("parameter counts", fontsize=9)
handles, labels = ax.get_legend_handles_labels()
handles2, labels2 = ax_params.get_legend_handles_labels()
legend_outside(ax_params, title=None, handles=handles + handles2[1:], labels=labels + ["ours, paper configuration"])
fig.suptitle("VATP-Net Table VIII: Spearman ρ vs trainable parameters", fontsize=10)
fig.tight_layout()
save_figure(fig, "vatp_table8_mtl_aqa", provenance=f"grey: reported (VATP-Net paper, its data); ours: {provenance}")

# %% [markdown]
# **What to look for.** In the paper ρ barely depends on size among the exemplar-free methods (0.92–0.96 from
# 0.5 to 3.2 M): the printed differences are in the third decimal, where the choice of features and training
# protocol matter as much as the architecture. Our points say how VATP-Net and GDLT rank on the synthetic
# MTL-AQA at this scale, not where they would sit on the paper's data.

# %%
# Checks that hold at every scale (nbval runs this notebook at smoke scale in CI).
assert round(measured.loc["VATP-Net, paper inputs (768-d BERT text)", "params_m"], 2) == 1.81
assert (measured["gflops"] > 0).all() and (measured["latency_ms"] > 0).all()
assert len(results) == len(names) * len(seeds) and np.isfinite(ours[["papers", "last"]].to_numpy()).all()
assert len(table8) == rep8["method"].nunique()
print("vatp_efficiency complete")
