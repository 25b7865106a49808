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
# # PAMFN Figs. 7–8: what the model looks at, and how many FusionNets it uses, over a routine
#
# The paper (§IV-H, "Qualitative Results") opens its model on single test videos:
#
# - **Fig. 7**: the attention of the Modality-specific Feature Decoder (MSFD, §III-C) over RGB, optical flow and
#   audio at every step of the **second stage**, along one video. The paper reads it as the model choosing the
#   modality that is most informative at each moment: flow at the start of RG routines (the gymnast waits for
#   the music, then starts moving), audio around the chorus or a verse-to-chorus transition, RGB while the
#   gymnast holds a posture. (MSFD's attention is *negated*: it favours the modality least represented in the
#   mixed stream so far.)
# - **Fig. 8**: the PolicyNet's decision at every step of the second stage on an RG Hoop video: how many of the
#   ranked FusionNets are enabled. The paper finds all FusionNets used during large movements (a turn with the
#   leg raised, a split leap) and a single one while the gymnast rotates the hoop in a pose.
#
# We train the full model on one target and record every `aux` output of a few test videos after training. We
# have no frames or music to show, but on the embedded synthetic data we know what is at each moment: the
# true elements (their spans are shaded, coloured by execution quality) and the music's phrase starts.

# %% tags=["parameters"]
dataset = "rg"  # rg | fisv
target = ""  # one target (Ball / Clubs / Hoop / Ribbon; TES / PCS); empty: Hoop on rg, TES on fisv
source = "synthetic"  # synthetic | real (real needs data_root with RGB, flow and audio features)
data_root = ""  # folder of the real released features when source is real
scale = "auto"  # smoke | quick | paper | auto (smoke under CI, else quick)
seed = 0  # training seed
epochs = 0  # 0 means the default of the scale
device = "auto"  # auto | cpu | cuda
videos = [0, 1, 2, 3]  # test videos (positions in the test split) to record; Fig. 7 shows the first
stage = 2  # the stage shown, 1 or 2 (the paper shows the second; the third has one step per video)

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.lines import Line2D

from aqa_lib.analysis import element_at, recorded_truth
from aqa_lib.data.registry import SEGMENT_SECONDS, get_spec
from aqa_lib.experiments import pamfn_config, variant_modalities
from aqa_lib.notebook import check_params, require_modalities, save_figure, show_table
from aqa_lib.report import legend_outside
from aqa_lib.train import load_data, run
from aqa_lib.views import shade_elements, stage_view

params = check_params(  # validates every parameter and writes the resolved scale, device, videos back
    {"dataset": dataset, "target": target, "source": source, "data_root": data_root, "scale": scale,
     "seed": seed, "epochs": epochs, "device": device, "videos": videos, "stage": stage},
    choices={"dataset": ["rg", "fisv"], "stage": [1, 2]}, namespace=globals(), notebook="pamfn_qualitative",
)
if target in ("", "all"):
    target = "Hoop" if "Hoop" in get_spec(dataset).targets else get_spec(dataset).targets[0]
cfg = pamfn_config("pamfn", dataset, target, scale=scale, seed=seed, source=source, data_root=data_root,
                   device=device, epochs=epochs or None).replace(record_test=tuple(videos))
require_modalities(variant_modalities("pamfn", dataset), load_data(cfg).modalities, dataset=dataset, what="pamfn_qualitative (the full PAMFN)")
print(f"PAMFN on {dataset} / {target}, scale={scale}, {cfg.epochs} epochs (stage 2 of training), seed {seed}")

# %% [markdown]
# ## Train (or fetch from the cache)
# Two-stage training: each modality branch alone (cached and shared with the other PAMFN notebooks), then the
# full model. At `smoke` scale (two epochs, tiny model, K = 2) the attention is still nearly uniform and the
# decisions nearly constant: the figures only show that everything runs. Run at `quick` scale or above to see
# the model specialise.

# %%
result = run(cfg, progress=True)
provenance = result.meta["provenance"]
index = list(result.meta["record_test_index"])
if not index:
    raise ValueError(f"None of videos={videos} is in the test split ({len(result.meta['test_names'])} videos).")
rec = result.records("final_test")
n_fusion = int(cfg.model_kwargs["n_fusion"])
modalities = list(result.meta["modalities"])
truths = recorded_truth(result, "test")
overview = pd.DataFrame([{"video": result.meta["record_test"][i], "test position": p,
                          "length (s)": rec["lengths"][i] * SEGMENT_SECONDS,
                          "true score": result.arrays["test_true"][p],
                          "prediction": result.arrays["test_pred_last"][p]}
                         for i, p in enumerate(index)]).set_index("video")
print(provenance)
print(f"cached: {result.cached}; last-epoch test Spearman {result.summary['last_spearman']:.3f}; "
      f"learned Gumbel temperature τ = {float(rec['tau']):.2f} (initialised to 10)")
show_table(overview, title=f"Recorded test videos ({dataset} {target})", provenance=provenance, precision=2)


# %% [markdown]
# ## Fig. 7: MSFD attention over the modalities along one routine
# Top: the attention weight of each modality at every step of stage `stage` (they sum to 1 at each step; the
# dashed line is 1/M, no preference). Bottom (synthetic data): the true elements coloured by execution
# quality, and the music's phrase starts (dotted). **What to look for:** long stretches where one modality
# dominates, and whether the switches line up with the routine's structure — the start, the elements, the
# music's phrases.

# %%
i0 = 0
view = stage_view(rec, i0, stage, modalities)
truth = truths[i0] if truths else None
duration = rec["lengths"][i0] * SEGMENT_SECONDS
colours = {"rgb": "tab:blue", "flow": "tab:orange", "audio": "tab:green"}
fig, axes = plt.subplots(2 if truth else 1, 1, figsize=(11, 4.2 if truth else 3.2), sharex=True, squeeze=False,
                         gridspec_kw={"height_ratios": [1.0, 0.25] if truth else [1.0]}, layout="constrained")
ax = axes[0, 0]
for j, m in enumerate(modalities):
    ax.stairs(view.attention[:, j], view.edges, baseline=None, color=colours.get(m), lw=1.4, label=m)
ax.axhline(1 / len(modalities), color="k", ls="--", lw=0.8, label="1/M (no preference)")
ax.set_ylim(0, 1)
ax.set_ylabel(f"MSFD attention\n(stage {stage})")
if truth:
    phrase_starts = np.asarray(truth.get("phrase_starts", []), dtype=float)
    for t in phrase_starts:
        for a in axes[:, 0]:
            a.axvline(t * SEGMENT_SECONDS, color="k", ls=":", lw=0.8)
    norm = shade_elements(axes[1, 0], truth, quality=True)
    axes[1, 0].set_yticks([])
    axes[1, 0].set_ylabel("true\nelements", rotation=0, ha="right", va="center", fontsize=8)
    fig.colorbar(plt.cm.ScalarMappable(norm=norm, cmap="RdYlGn"), ax=axes[1, 0],
                 label="execution\nquality", aspect=4, pad=0.01)
handles, _ = ax.get_legend_handles_labels()
if truth and len(phrase_starts):
    handles.append(Line2D([], [], color="k", ls=":", lw=0.8, label="music phrase start"))
legend_outside(ax, title=None, handles=handles)
axes[-1, 0].set_xlabel("time (s)")
axes[-1, 0].set_xlim(0, duration)
fig.suptitle(f"Fig. 7: MSFD attention, {dataset} {target} test video {result.meta['record_test'][i0]}", fontsize=10)
save_figure(fig, f"pamfn_fig7_{dataset}", provenance=provenance)

# %% [markdown]
# Over every recorded video: the mean attention of each modality over the whole video, in its first fifth
# (the paper: flow dominates the start of RG routines), and, on synthetic data, inside and between the true
# elements.

# %%
att_rows = []
for i in range(len(index)):
    view_i = stage_view(rec, i, stage, modalities)
    parts = {"whole video": np.ones(len(view_i.times), dtype=bool),
             "first fifth": view_i.times < rec["lengths"][i] / 5}
    if truths:
        inside = element_at(truths[i], view_i.times) >= 0
        parts.update({"inside elements": inside, "between elements": ~inside})
    for part, sel in parts.items():
        if sel.any():
            att_rows.append({"video": result.meta["record_test"][i], "part": part,
                             **{m: float(view_i.attention[sel, j].mean()) for j, m in enumerate(modalities)}})
attention_table = pd.DataFrame(att_rows).set_index(["video", "part"])
show_table(attention_table, title=f"Mean MSFD attention per modality, stage {stage}", provenance=provenance)

# %% [markdown]
# ## Fig. 8: the PolicyNet's decisions along each routine
# One row per recorded video: the number of ranked FusionNets enabled (decision k* enables FusionNets
# 1..k*+1) at every step of stage `stage`, over the true element spans (grey, synthetic data).
# **What to look for:** decisions that change along the routine (a constant line is the trivial policy the
# paper rules out with Fig. 5), and, as the paper finds, more FusionNets during large movements than while
# holding a pose.

# %%
n_rows = len(index)
fig, axes = plt.subplots(n_rows, 1, figsize=(10, 1.3 * n_rows + 1.0), sharex=True, squeeze=False)
for i, ax in enumerate(axes[:, 0]):
    view_i = stage_view(rec, i, stage, modalities)
    if truths:
        shade_elements(ax, truths[i], label="true element")
    ax.stairs(view_i.decisions + 1, view_i.edges, baseline=None, color="tab:purple", lw=1.5,
              label="FusionNets enabled")
    ax.set_ylim(0.5, n_fusion + 0.5)
    ax.set_yticks(range(1, n_fusion + 1))
    ax.set_title(f"test video {result.meta['record_test'][i]}", fontsize=8, loc="left", pad=2)
fig.supylabel("FusionNets enabled (1 to K)", fontsize=9)
legend_outside(axes[0, 0], title=None)
axes[-1, 0].set_xlabel("time (s)")
fig.suptitle(f"Fig. 8: FusionNets enabled by the PolicyNet at stage {stage} (K = {n_fusion}), {dataset} {target}",
             fontsize=10)
fig.tight_layout()
save_figure(fig, f"pamfn_fig8_{dataset}", provenance=provenance)

# %% [markdown]
# The same decisions in numbers: how often the decision changes from one step to the next, the mean number of
# FusionNets enabled, and (synthetic data) that mean inside vs between the true elements.

# %%
dec_rows = []
for i in range(len(index)):
    view_i = stage_view(rec, i, stage, modalities)
    dec_i = view_i.decisions
    row = {"video": result.meta["record_test"][i], "steps": len(dec_i),
           "changes per step": float(np.mean(np.diff(dec_i) != 0)) if len(dec_i) > 1 else 0.0,
           "FusionNets enabled": float(np.mean(dec_i + 1))}
    if truths:
        inside = element_at(truths[i], view_i.times) >= 0
        row["inside elements"] = float(np.mean(dec_i[inside] + 1)) if inside.any() else np.nan
        row["between elements"] = float(np.mean(dec_i[~inside] + 1)) if (~inside).any() else np.nan
    dec_rows.append(row)
decision_table = pd.DataFrame(dec_rows).set_index("video")
show_table(decision_table, title=f"PolicyNet decisions at stage {stage} (K = {n_fusion})", provenance=provenance,
           precision=2)

# %%
# Checks that hold at every scale (nbval runs this notebook at smoke scale in CI).
n_test = len(result.meta["test_names"])
assert index == [i for i in videos if i < n_test]
for i in range(len(index)):
    view_i = stage_view(rec, i, stage, modalities)
    assert len(view_i.times) == rec["lengths"][i] // 2 ** stage  # AvgPool(2) per stage drops odd tails
    assert np.allclose(view_i.attention.sum(axis=1), 1.0, atol=2e-2)  # attention over the modalities sums to 1
    assert view_i.decisions.min() >= 0 and view_i.decisions.max() < n_fusion
norm = load_data(cfg).norm  # predictions are recorded on the normalised scale
assert np.allclose(result.arrays["test_pred_last"][index], rec["score"] * norm, rtol=1e-2, atol=1e-2 * norm)
print("pamfn_qualitative complete")
