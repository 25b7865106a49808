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
# # LMAC-Net Figs. 5–8: do the modalities' attention centres converge?
#
# LMAC-Net's **consistency loss** (Eq. 17) pulls the attention centre of query k in RGB, flow and audio
# towards one another. The paper (§4.6) shows its effect by tracking a few training videos over training:
#
# - **Fig. 5**: each query's attention centre per modality against the epoch, without (a–b) and with (c–d)
#   the consistency loss;
# - **Fig. 6**: the mean cosine similarity between the modalities' attention maps, epochs × tracked videos;
# - **Figs. 7–8**: the distance between the centres of each modality pair over training, and how small it ends.
#
# This notebook trains the full model twice per target, once as published and once with
# `lambda_consistency = 0` (everything else identical, same seed), and records the last decoder layer's
# centres and attention maps of the first `n_tracked` training videos after every epoch. On the embedded
# synthetic data we also know where the routine's elements really are, which the paper could not show.

# %% tags=["parameters"]
dataset = "fisv"  # fisv | rg
target = "all"  # all, or one target (TES / PCS for fisv; Ball / Clubs / Hoop / Ribbon for rg)
source = "synthetic"  # synthetic | real (real needs data_root with RGB, flow and audio features)
data_root = ""  # folder of the real released features when source is real
scale = "auto"  # smoke | quick | paper | auto (smoke under CI, else quick)
seed = 0  # training seed (one run per variant and target)
epochs = 0  # 0: default of the scale
device = "auto"  # auto | cpu | cuda
n_tracked = 8  # training videos whose attention is recorded after every epoch

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from aqa_lib.analysis import (
    element_midpoints,
    lmac_figure_config,
    query_specialisation,
    trajectories,
    trajectory_summary,
)
from aqa_lib.data.registry import SEGMENT_SECONDS, get_spec
from aqa_lib.experiments import targets_for, variant_modalities
from aqa_lib.notebook import check_params, require_modalities, save_figure, show_table
from aqa_lib.report import legend_outside
from aqa_lib.train import load_data, run

params = check_params(  # validates every parameter and writes the resolved scale and device back
    {"dataset": dataset, "target": target, "source": source, "data_root": data_root, "scale": scale,
     "seed": seed, "epochs": epochs, "device": device, "n_tracked": n_tracked},
    choices={"dataset": ["fisv", "rg"]}, namespace=globals(), notebook="alignment_trajectories",
)
targets = targets_for(dataset, target)
VARIANTS = {"without consistency loss": {"lambda_consistency": 0.0}, "with consistency loss": {}}
modalities = get_spec(dataset).modalities
configs = {(v, t): lmac_figure_config("lmac", dataset, t, n_tracked=n_tracked, scale=scale, seed=seed, source=source,
                                      data_root=data_root, device=device, epochs=epochs or None, **overrides)
           for v, overrides in VARIANTS.items() for t in targets}
require_modalities(variant_modalities("lmac", dataset), load_data(next(iter(configs.values()))).modalities, dataset=dataset,
                   what="alignment_trajectories (alignment between modalities)")
pd.DataFrame({"λ_consistency": [o.get("lambda_consistency", 1.0) for o in VARIANTS.values()]}, index=list(VARIANTS))

# %% [markdown]
# ## Train (or fetch from the cache)
# Two runs per target. Recording costs one extra forward pass of the tracked videos per epoch. The run with the
# consistency loss is the one `case_study.ipynb` opens (same parameters → no second training). At `smoke` scale
# (two epochs, tiny model) the curves have two points and only show that everything runs; `quick` (25 epochs)
# is the smallest scale where trends mean anything.

# %%
results = {key: run(cfg, progress=True) for key, cfg in configs.items()}
traj = {k: trajectories(r) for k, r in results.items()}
provenance = next(iter(results.values())).meta["provenance"]
synthetic = next(iter(traj.values())).truth is not None
print(provenance)
print(f"{len(results)} runs, {sum(r.cached for r in results.values())} from the cache; tracking "
      f"{len(next(iter(traj.values())).names)} training videos over {len(next(iter(traj.values())).epochs)} epochs")

# %% [markdown]
# ## Fig. 5: attention-centre trajectories of one tracked video
# Colour = query, line style = modality; the centre is the last decoder layer's attention-weighted mean time.
# **What to look for:** with the consistency loss the three line styles of each colour should run together
# (one trajectory per query), without it they may drift apart; the ranking loss should keep the colours in
# order (Q1 earliest) and spread over the routine. On synthetic data the thin grey lines are the true element
# midpoints of this video: centres that settle on or near them have found the elements.

# %%
QUERY_COLOURS = plt.get_cmap("tab10").colors
STYLES = {m: s for m, s in zip(modalities, ["-", "--", ":", "-."], strict=False)}
video = 0
fig, axes = plt.subplots(len(VARIANTS), len(targets), figsize=(max(4.3 * len(targets), 7), 7), sharex=True,
                         squeeze=False)
for col, t in enumerate(targets):
    for row, v in enumerate(VARIANTS):
        ax, tr = axes[row, col], traj[(v, t)]
        if tr.truth is not None:
            for mid in element_midpoints(tr.truth[video]):
                ax.axhline(mid * SEGMENT_SECONDS, color="0.82", lw=0.7, zorder=0)
        for m, times in tr.times.items():
            for k in range(times.shape[-1]):
                ax.plot(tr.epochs, times[:, video, k] * SEGMENT_SECONDS, STYLES.get(m, "-"), color=QUERY_COLOURS[k],
                        lw=1.3, marker="." if len(tr.epochs) < 6 else None)
        ax.set_ylim(0, tr.lengths[video] * SEGMENT_SECONDS)
        ax.set_title(f"{t}, {v}\n(video {tr.names[video]})", fontsize=9)
        if col == 0:
            ax.set_ylabel("attention centre (s)")
        if row == len(VARIANTS) - 1:
            ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
handles = [Line2D([], [], color=QUERY_COLOURS[k], label=f"Q{k + 1}") for k in range(times.shape[-1])]
handles += [Line2D([], [], color="k", ls=STYLES[m], label=m) for m in tr.times]
if synthetic:
    handles.append(Line2D([], [], color="0.75", lw=0.7, label="true element midpoint"))
ncol = len(handles) if len(targets) > 1 else (len(handles) + 1) // 2
fig.legend(handles=handles, loc="upper center", ncol=ncol, fontsize=8, frameon=False)
fig.tight_layout(rect=(0, 0, 1, 0.95 if len(targets) > 1 else 0.92))
save_figure(fig, f"lmac_fig5_{dataset}", provenance=provenance)

# %% [markdown]
# ## Fig. 6: how similar are the modalities' attention maps?
# For each tracked video and epoch: the cosine similarity between two modalities' last-layer attention maps
# (T × K, flattened), averaged over the pairs RGB–flow, RGB–audio and flow–audio. 1 = the modalities attend
# identically. **What to look for:** the paper reports low, fluctuating values without the loss and values near
# 1 with it. Attention is non-negative, so even unrelated maps score above 0; broad, flat maps score high too,
# so read this beside Fig. 5 (are the maps also sharp?).

# %%
cos_all = np.concatenate([tr.cosine.ravel() for tr in traj.values()])
vmin = float(np.floor(cos_all.min() * 10) / 10)
fig, axes = plt.subplots(len(VARIANTS), len(targets), figsize=(max(4.3 * len(targets), 7), 5.6), squeeze=False,
                         layout="constrained")
for col, t in enumerate(targets):
    for row, v in enumerate(VARIANTS):
        ax, tr = axes[row, col], traj[(v, t)]
        im = ax.imshow(tr.cosine.T, aspect="auto", origin="lower", cmap="viridis", vmin=vmin, vmax=1.0,
                       extent=(tr.epochs[0] - 0.5, tr.epochs[-1] + 0.5, -0.5, len(tr.names) - 0.5))
        ax.set_title(f"{t}, {v}", fontsize=9)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_yticks(range(len(tr.names)), tr.names, fontsize=7)
        if col == 0:
            ax.set_ylabel("tracked training video")
fig.colorbar(im, ax=axes, label="mean cosine similarity between modalities", shrink=0.8)
save_figure(fig, f"lmac_fig6_{dataset}", provenance=provenance)

# %% [markdown]
# ## Fig. 7: distance between the modalities' centres over training
# Per modality pair, the distance between the centres of the same query, averaged over the K queries; the line
# is the mean over the tracked videos and the band their spread (± one standard deviation, cut at 0). **What to look
# for:** with the consistency loss the distances should fall towards 0 and stay there; without it they stay
# large or wander.

# %%
PAIR_COLOURS = dict(zip(next(iter(traj.values())).distance, ["C0", "C1", "C2", "C3", "C4", "C5"], strict=False))
fig, axes = plt.subplots(len(targets), len(VARIANTS), figsize=(9, 2.5 * len(targets) + 0.6), sharex=True,
                         sharey="row", squeeze=False)
for row, t in enumerate(targets):
    for col, v in enumerate(VARIANTS):
        ax, tr = axes[row, col], traj[(v, t)]
        for pair, d in tr.distance.items():
            d = d * SEGMENT_SECONDS
            mean, std = d.mean(axis=1), d.std(axis=1)
            ax.plot(tr.epochs, mean, color=PAIR_COLOURS[pair], label=pair, marker="." if len(tr.epochs) < 6 else None)
            ax.fill_between(tr.epochs, np.maximum(mean - std, 0), mean + std, color=PAIR_COLOURS[pair], alpha=0.15,
                            lw=0)
        ax.set_ylim(bottom=0)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_title(f"{t}, {v}", fontsize=9)
        if col == 0:
            ax.set_ylabel("centre distance (s)")
        if row == len(targets) - 1:
            ax.set_xlabel("epoch")
legend_outside(axes[0, -1], title="modality pair")
fig.tight_layout()
save_figure(fig, f"lmac_fig7_{dataset}", provenance=provenance)

# %% [markdown]
# ## Fig. 8: where the distances end
# The centre distance per modality pair after the last epoch (mean over the tracked videos, bars = ± one
# standard deviation), without and with the consistency loss. The paper finds RGB–flow the closest pair and
# the audio pairs slightly further apart but still well aligned. In our synthetic world audio carries no
# element timing (it follows the music), so the audio pairs are the ones the loss has to pull hardest.

# %%
pairs = list(next(iter(traj.values())).distance)
fig, axes = plt.subplots(1, len(targets), figsize=(max(3.6 * len(targets), 6), 3.4), sharey=True, squeeze=False)
x = np.arange(len(pairs))
for col, t in enumerate(targets):
    ax = axes[0, col]
    for i, v in enumerate(VARIANTS):
        final = np.stack([traj[(v, t)].distance[p][-1] * SEGMENT_SECONDS for p in pairs])  # [pairs, videos]
        mean, std = final.mean(axis=1), final.std(axis=1)
        ax.bar(x + (i - 0.5) * 0.38, mean, 0.38, yerr=[np.minimum(std, mean), std], capsize=2, label=v,
               color=["0.6", "C3"][i])
    ax.set_xticks(x, pairs, fontsize=8)
    ax.set_title(t, fontsize=9)
axes[0, 0].set_ylabel("centre distance after training (s)")
legend_outside(axes[0, -1], title=None)
fig.suptitle(f"Fig. 8: centre distance per modality pair after the last epoch, {dataset} (bars: ± one std "
             "over the tracked videos)", fontsize=10)
fig.tight_layout()
save_figure(fig, f"lmac_fig8_{dataset}", provenance=provenance)

# %% [markdown]
# ## In numbers (last epoch, mean over the tracked videos)
# `cosine` (Fig. 6), the centre distance per pair in seconds (Figs. 7–8), and on synthetic data how far the
# centres sit from the nearest true element midpoint (`to element (s)`) and the share inside an element. Test
# Spearman is that of the last epoch, for context only (Table 9 and the ablation notebook compare accuracy).

# %%
summary = pd.DataFrame([{"variant": v, "target": t, **trajectory_summary(traj[(v, t)]),
                         "test ρ (last)": results[(v, t)].summary["last_spearman"]} for (v, t) in results])
show_table(summary.set_index(["variant", "target"]), title="Attention alignment of the tracked training videos",
           provenance=provenance)

# %% [markdown]
# ## Do the queries specialise? (every test video, last layer)
# The same runs measured on the whole test split (`aqa_lib.analysis.query_specialisation`): the share of
# videos whose K centres are in temporal order, their spread (fraction of the routine), the share of centres
# inside a true element against evenly spread centres, and the gap between the modalities' centres (fraction
# of the routine). **What to look for:** ordered centres spread over a good part of the routine (the paper's
# Fig. 5), and a smaller cross-modal gap with the consistency loss than without (Figs. 7–8).

# %%
specialisation = pd.concat([query_specialisation(r).assign(variant=v, target=t) for (v, t), r in results.items()])
show_table(specialisation.set_index(["variant", "target", "modality"]),
           title="Query specialisation on the test videos", provenance=provenance)

# %%
# Checks that hold at every scale (nbval runs this notebook at smoke scale in CI).
assert len(results) == len(VARIANTS) * len(targets)
for (v, t), tr in traj.items():
    n_epochs = results[(v, t)].config.epochs
    assert tr.cosine.shape == (n_epochs, len(tr.names)) and 1 <= len(tr.names) <= n_tracked
    assert np.all((tr.cosine > -1e-6) & (tr.cosine < 1 + 1e-6))  # non-negative attention: cosine in [0, 1]
    for times in tr.times.values():
        assert times.shape[:2] == (n_epochs, len(tr.names))
        assert np.all(np.isfinite(times)) and np.all((times >= -0.5 - 1e-3) & (times <= tr.lengths[:, None] + 1e-3))
    assert all(np.all(d >= 0) for d in tr.distance.values())
    assert len(tr.distance) == len(tr.times) * (len(tr.times) - 1) // 2 >= 1
    assert (tr.truth is not None) == synthetic
assert np.isfinite(summary.drop(columns=["variant", "target"]).to_numpy(dtype=float)).all()
assert specialisation["ordered"].between(0, 1).all() and len(specialisation) == len(results) * len(modalities)
print("alignment_trajectories complete")
