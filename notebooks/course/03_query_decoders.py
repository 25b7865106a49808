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
# # AQA 101 · Lesson 3: Learnable-query temporal decoders
#
# GDLT, TPT, LMAC-Net, MLAVL and VATP-Net all read a routine the same way: a small set of **K learnable query
# vectors** attends over the T segments, each query gathering the segments it finds relevant into one feature,
# and the score is computed from the K query features. Where a query looks is its **attention map** over
# time; its **attention centre** is the attention-weighted mean position. TPT and LMAC-Net add two losses on
# the centres: a **ranking** loss that keeps the K centres in temporal order (query 1 early, query K late) and
# a **sparsity** loss that keeps each query's attention concentrated around its centre.
#
# In this lesson you will
#
# 1. read a query decoder written in about forty lines of PyTorch;
# 2. compute attention centres (**exercise 3.1**), the ranking loss (**exercise 3.2**) and the sparsity loss
#    (**exercise 3.3**);
# 3. train the decoder with and without the two losses and see where its queries look, against the true
#    element times the synthetic data keeps;
# 4. meet the library's version (`aqa_lib.models.lmac`, `aqa_lib.centres`, `aqa_lib.losses`) and train it.
#
# Default: Fis-V TES (RGB features) on the embedded synthetic data. Running time at `quick` scale: one to one
# and a half minutes on one CPU thread.

# %% tags=["parameters"]
dataset = "fisv"  # fisv | rg
target = "TES"  # a target of the dataset (TES / PCS for fisv; Ball / Clubs / Hoop / Ribbon for rg)
source = "synthetic"  # synthetic only: the lesson compares attention with the true element times
data_root = ""  # unused here, kept for the shared parameter convention
scale = "auto"  # smoke | quick | paper | auto (smoke under CI, else quick)
seed = 0  # training seed
epochs = 0  # epochs of every model; 0 means 15 (2 at smoke scale)
device = "auto"  # unused here: the lesson trains on the CPU
solutions = True  # True in the teacher source; the exported student copy says False

# %%
import math

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from torch import nn

from aqa_lib import course
from aqa_lib.centres import (
    attention_center,
    centre_segments,
    element_hit_rate,
    nearest_element_distance,
    uniform_times,
)
from aqa_lib.data import load
from aqa_lib.data.batching import FeatureBank
from aqa_lib.data.registry import SEGMENT_SECONDS
from aqa_lib.experiments import alignment_to_truth, config_for
from aqa_lib.losses import ranking_loss, sparsity_loss
from aqa_lib.models.base import count_parameters, create_model
from aqa_lib.models.blocks import relative_position_code
from aqa_lib.notebook import check_params, save_figure, show_table
from aqa_lib.report import legend_outside
from aqa_lib.train import run

params = check_params(  # validates every parameter and writes the resolved values back
    {"dataset": dataset, "target": target, "source": source, "data_root": data_root, "scale": scale,
     "seed": seed, "epochs": epochs, "device": device, "solutions": solutions},
    choices={"dataset": ["fisv", "rg"], "source": ["synthetic"], "solutions": [True, False]},
    namespace=globals(), notebook="course/03_query_decoders",
)
course.banner("03_query_decoders", solutions)
train_epochs = epochs or (2 if scale == "smoke" else 15)
data = load(dataset, target, scale=scale, seed=seed, modalities=["rgb"])
print(data.provenance)
print(f"{len(data.train)} training and {len(data.test)} test videos, RGB features of dimension {data.modalities['rgb']}")

# %% [markdown]
# ## 1. A query decoder in forty lines
#
# Read the class below top to bottom. Each segment is projected to width `d`; K learnable vectors (the
# queries) are compared with every segment's key; a softmax **over time** turns each query's comparisons into
# an attention map that sums to 1 over the video's real segments (padding gets 0); each query's feature is the
# attention-weighted average of the segments' values; one linear layer scores each query, and the video's
# score is the average of the K query scores. This is one layer of the TPT decoder LMAC-Net stacks four of,
# without its query self-attention and with a fixed temperature. The `position` switch adds a code of each
# segment's place in the video (`aqa_lib.models.blocks.relative_position_code`) to the keys, so that a query
# can prefer a place as well as a content; the papers' decoders have no such code.

# %%
class TinyQueryDecoder(nn.Module):
    """K learnable queries attend over time; the score is the mean of the K query scores."""

    def __init__(self, in_dim: int, d: int = 32, n_queries: int = 5, temperature: float = 0.2, position: bool = False):
        super().__init__()
        self.embed = nn.Sequential(nn.Linear(in_dim, d), nn.LayerNorm(d))  # each segment -> width d
        self.queries = nn.Parameter(torch.randn(n_queries, d))  # the K learnable queries
        self.key, self.value = nn.Linear(d, d), nn.Linear(d, d)
        self.ffn = nn.Sequential(nn.Linear(d, 2 * d), nn.ReLU(), nn.Linear(2 * d, d))
        self.norm = nn.LayerNorm(d)
        self.score = nn.Linear(d, 1)  # one scorer shared by the queries
        self.temperature, self.position = temperature, position

    def forward(self, features, mask):
        x = self.embed(features["rgb"])  # [B, T, d]
        keys = self.key(x)
        if self.position:  # where each segment lies in its video, as a code added to the keys
            keys = keys + relative_position_code(mask, x.shape[-1])
        logits = torch.einsum("btd,kd->btk", keys, self.queries) / math.sqrt(x.shape[-1])
        logits = logits.masked_fill(~mask[:, :, None], float("-inf"))  # padding gets no attention
        attn = (logits / self.temperature).softmax(dim=1)  # [B, T, K], softmax over time
        q = torch.einsum("btk,btd->bkd", attn, self.value(x))  # each query's attention-weighted segments
        q = self.norm(q + self.ffn(q))
        query_scores = self.score(q).squeeze(-1)  # [B, K]
        return query_scores.mean(dim=1), {"attention": attn, "query_scores": query_scores}


model = TinyQueryDecoder(data.modalities["rgb"])
print(f"{count_parameters(model):,} parameters, {model.queries.shape[0]} queries")

# %% [markdown]
# One forward pass on two training videos (whole sequences, padded to the longer one) shows the shapes.

# %%
batch = FeatureBank(data.train, "cpu").full_batch(torch.tensor([0, 1]))
score, aux = model(batch.features, batch.mask)
print("features", tuple(batch.features["rgb"].shape), "mask", tuple(batch.mask.shape), "lengths",
      batch.lengths.tolist())
print("score", tuple(score.shape), "attention", tuple(aux["attention"].shape),
      "attention sums over time", aux["attention"].sum(dim=1)[0].detach().numpy().round(3))

# %% [markdown]
# ## 2. Attention centres
#
# The centre of query k is `c_k = Σ_{t=1..T} t · a_{t,k}`, the mean position of its attention. Divided by the
# video's length T_b it becomes a fraction of the routine (0 = start, 1 = end), comparable across videos of
# different lengths. The library's LMAC-Net divides by the length too, so that its losses do not depend on T
# (its choice: the paper does not say).

# %% [markdown]
# ### Exercise 3.1: attention centres
# Write `attention_centres(attn, lengths)` for `attn` of shape `[B, T, K]` and `lengths` `[B]`: positions run
# from 1 to T; return `[B, K]` centres divided by each video's own length. `torch.arange(1, T + 1)` and
# `torch.einsum("btk,t->bk", ...)` do it in two lines.

# %%
def attention_centres(attn, lengths):
    """[B, T, K] attention, [B] lengths -> [B, K] centres as fractions of each video."""
    raise NotImplementedError("Exercise 3.1: write attention_centres")


# %% tags=["solution"]
def attention_centres(attn, lengths):  # noqa: F811 - the solution replaces the exercise's stub
    """[B, T, K] attention, [B] lengths -> [B, K] centres as fractions of each video."""
    positions = torch.arange(1, attn.shape[1] + 1, dtype=attn.dtype)
    return torch.einsum("btk,t->bk", attn, positions) / lengths[:, None].to(attn.dtype)


# %%
course.check_centres(attention_centres)

# %% [markdown]
# ## 3. The ranking loss
#
# Nothing in the decoder tells query 1 to look earlier than query 2. TPT's ranking loss asks for it: each
# centre should come at least a margin m before the next, the first at least m after the start and the last at
# least m before the end. With centres as fractions of the video:
#
# `L_rank = Σ_{k<K} max(0, c_k − c_{k+1} + m) + max(0, m − c_1) + max(0, c_K − 1 + m)`, averaged over videos.
#
# It is zero once the centres are ordered and spaced; it can only be met if `m ≤ 1/(K+1)`. LMAC-Net (our
# reading, `aqa_lib.models.lmac`) uses half of that bound.

# %% [markdown]
# ### Exercise 3.2: the ranking loss
# Write `ranking_loss_fn(centres, margin)` for centres `[B, K]` (fractions of each video) with torch
# operations (`torch.relu` or `.clamp(min=0)`), so that it can be back-propagated; return the mean over the
# videos.

# %%
def ranking_loss_fn(centres, margin):
    """[B, K] centres (fractions of the video), a margin -> the ranking loss, averaged over videos."""
    raise NotImplementedError("Exercise 3.2: write ranking_loss_fn")


# %% tags=["solution"]
def ranking_loss_fn(centres, margin):  # noqa: F811 - the solution replaces the exercise's stub
    """[B, K] centres (fractions of the video), a margin -> the ranking loss, averaged over videos."""
    order = torch.relu(centres[:, :-1] - centres[:, 1:] + margin).sum(dim=1)
    first = torch.relu(margin - centres[:, 0])
    last = torch.relu(centres[:, -1] - 1 + margin)
    return (order + first + last).mean()


# %%
course.check_ranking_loss(ranking_loss_fn)

# %% [markdown]
# ## 4. The sparsity loss
#
# A query could satisfy the ranking loss with its attention spread over the whole routine and its centre
# placed by a slight tilt. The sparsity loss penalises the attention's spread around its centre, an L1 spread
# `Σ_t |t − c_k| · a_{t,k}` (here divided by the video's length), averaged over queries and videos: it pulls
# each query onto a few segments, a *moment*.

# %% [markdown]
# ### Exercise 3.3: the sparsity loss
# Write `sparsity_loss_fn(attn, lengths)`: with positions t = 1..T and the raw centres `c_k = Σ_t t a_{t,k}`
# (not divided by T), compute `Σ_t |t − c_k| a_{t,k} / T_b` per video and query, and return its mean.

# %%
def sparsity_loss_fn(attn, lengths):
    """[B, T, K] attention, [B] lengths -> the mean L1 spread of each query around its centre, per unit length."""
    raise NotImplementedError("Exercise 3.3: write sparsity_loss_fn")


# %% tags=["solution"]
def sparsity_loss_fn(attn, lengths):  # noqa: F811 - the solution replaces the exercise's stub
    """[B, T, K] attention, [B] lengths -> the mean L1 spread of each query around its centre, per unit length."""
    positions = torch.arange(1, attn.shape[1] + 1, dtype=attn.dtype)
    centres = torch.einsum("btk,t->bk", attn, positions)  # raw centres [B, K]
    spread = ((positions[None, :, None] - centres[:, None, :]).abs() * attn).sum(dim=1)  # [B, K]
    return (spread / lengths[:, None].to(attn.dtype)).mean()


# %%
course.check_sparsity_loss(sparsity_loss_fn)

# %% [markdown]
# ## 5. Train the decoder, with and without the losses
#
# Three runs from the same initialisation: **MSE only**; **MSE + ranking + sparsity** with the library
# LMAC-Net's weights (λ_rank = 1, λ_sparsity = 0.05 as in TPT, margin = half the feasible bound; the paper
# gives none of them); and the same with the **position code**
# on the keys. The losses are the library's (`aqa_lib.losses`, `aqa_lib.centres`), which your functions above
# match. The course's small trainer (`course.train_small`) trains on random crops of the dataset's training
# window, as the papers do, and evaluates whole test routines (AdamW, learning rate 3·10⁻³, batches of 16).

# %%
n_queries = 5
margin = 0.5 / (n_queries + 1)


def centre_losses(aux, mask):
    """The extra loss terms for course.train_small: ranking + sparsity on the decoder's attention."""
    lengths = mask.sum(dim=1)
    centres = attention_center(aux["attention"], normalise=True, lengths=lengths)
    return {"ranking": 1.0 * ranking_loss(centres, 1.0, margin, first_index=0.0),
            "sparsity": 0.05 * sparsity_loss(aux["attention"], lengths=lengths)}


tiny = {}
for name, extra, position in (("MSE only", None, False), ("MSE + ranking + sparsity", centre_losses, False),
                              ("+ position code", centre_losses, True)):
    tiny[name] = course.train_small(
        lambda position=position: TinyQueryDecoder(data.modalities["rgb"], n_queries=n_queries, position=position),
        data, epochs=train_epochs, seed=seed, extra_loss=extra, lr=3e-3, batch_size=16)
    print(f"{name}: {tiny[name].seconds:.0f} s, test ρ last epoch {tiny[name].last:.3f}")

# %% [markdown]
# Where do the trained queries look on the test routines? For every test video, the centre of each query
# (a fraction of the routine) and three summaries: the share of videos whose five centres are in order, the
# spread from the first to the last centre, and how close the centres land to the true elements the generator
# drew (distance to the nearest element's midpoint, and the share of centres inside an element), next to
# five evenly spaced centres (what the ranking loss alone would be content with).

# %%
bank = FeatureBank(data.test, "cpu")
truths = data.test.truth
centres_by_model, rows = {}, []
for name, result in tiny.items():
    result.model.eval()
    with torch.no_grad():
        parts = [attention_center(result.model(b.features, b.mask)[1]["attention"], normalise=True,
                                  lengths=b.lengths) for b in bank.eval_batches(16)]
    centres = torch.cat(parts).numpy()
    centres_by_model[name] = centres
    times = centre_segments(centres, data.test.lengths)
    rows.append({"model": name, "test ρ (last epoch)": result.last,
                 "videos with ordered centres": float(np.mean(np.all(np.diff(centres, axis=1) > 0, axis=1))),
                 "first-to-last spread (share of routine)": float(np.mean(centres[:, -1] - centres[:, 0])),
                 "distance to nearest element (s)": float(np.nanmean(nearest_element_distance(times, truths)))
                 * SEGMENT_SECONDS,
                 "centres inside an element": float(element_hit_rate(times, truths).mean())})
even = uniform_times(data.test.lengths, n_queries)
rows.append({"model": "evenly spaced centres (reference)",
             "distance to nearest element (s)": float(np.nanmean(nearest_element_distance(even, truths)))
             * SEGMENT_SECONDS,
             "centres inside an element": float(element_hit_rate(even, truths).mean())})
centre_table = pd.DataFrame(rows)
show_table(centre_table, title=f"{dataset} {target}: the tiny decoder's attention centres on the test routines",
           provenance=data.provenance)

# %%
fig, axes = plt.subplots(1, 3, figsize=(12, 3.4), sharey=True)
for ax, (name, centres) in zip(axes, centres_by_model.items(), strict=True):
    ax.boxplot([centres[:, k] for k in range(n_queries)], showfliers=False)
    jitter = np.random.default_rng(seed).uniform(-0.15, 0.15, size=centres.shape)
    for k in range(n_queries):
        ax.scatter(k + 1 + jitter[:, k], centres[:, k], s=5, alpha=0.35, color=f"C{k}")
    ax.set_title(name, fontsize=10)
    ax.set_xlabel("query k")
axes[0].set_ylabel("attention centre (share of the routine)")
axes[0].set_ylim(0, 1)
fig.suptitle(f"Where the five queries look on the {len(data.test)} test routines ({train_epochs} epochs)", fontsize=10)
fig.tight_layout()
save_figure(fig, f"course_03_centres_{dataset}_{target}", provenance=data.provenance)

# %% [markdown]
# **Reading the figure.** Each box is one query's centres over the test routines. Without the losses nothing
# orders the queries: they sit together near the middle of the routine (the mean position of an attention
# spread over the whole video is the middle). With the ranking loss the boxes climb from query 1 to query 5:
# the queries have divided the routine among themselves, using only what the *content* of the segments says
# about their place (the features drift over a routine, as real broadcasts do). With the position code the
# ordering is easy and almost every video has its five centres in order. Whether the queries also found the
# *elements* is the table's last two columns against the evenly spaced reference: ordering is easy, finding
# moments is harder. Test ρ hardly changes: the losses organise *where* the model looks more than how well it
# scores.
#
# The attention of one test routine, with the true elements shaded:

# %%
video = 0
ranked = tiny["MSE + ranking + sparsity"].model
with torch.no_grad():
    one = bank.full_batch(torch.tensor([video]))
    attn = ranked(one.features, one.mask)[1]["attention"][0].numpy()  # [T, K]
truth = truths[video]
fig, ax = plt.subplots(figsize=(10, 3.2))
for s, dur in zip(truth["element_start"], truth["element_duration"], strict=True):
    ax.axvspan(s * SEGMENT_SECONDS, (s + dur) * SEGMENT_SECONDS, color="0.85", lw=0)
seconds = (np.arange(attn.shape[0]) + 0.5) * SEGMENT_SECONDS
for k in range(n_queries):
    ax.plot(seconds, attn[:, k], color=f"C{k}", lw=1.2, label=f"query {k + 1}")
ax.set_xlabel("time in the routine (s)")
ax.set_ylabel("attention weight")
ax.set_title(f"Test routine {data.test.names[video]}: attention of each query (grey: true elements)", fontsize=10)
legend_outside(ax, title="MSE + ranking + sparsity")
fig.tight_layout()
save_figure(fig, f"course_03_attention_{dataset}_{target}", provenance=data.provenance)

# %% [markdown]
# ## 6. The library's version: LMAC-Net
#
# `aqa_lib.models.lmac.LMACNet` is the same idea at full size, one decoder per modality: the decoder
# (`aqa_lib.models.blocks.QueryDecoder`, TPT's layer) has a learnable temperature, query self-attention, four
# layers; the centres come from `aqa_lib.centres.attention_center`; the ranking, sparsity and cross-modal
# consistency losses from `aqa_lib.losses`, summed over the layers; and the score is a learnt weighting of
# per-query scores. Its RGB-only variant, trained by the library's engine for the same number of epochs at
# the `quick` width, records every test video's centres (`final_keys=("centres",)`), and
# `aqa_lib.experiments.alignment_to_truth` scores them against the true elements as above.

# %%
library_model = create_model("lmac/table7/rgb", in_dims=dict(data.modalities), d_model=64, d_ffn=64)
print(f"LMAC-Net RGB-only at the quick width: {count_parameters(library_model):,} parameters "
      f"(the tiny decoder: {count_parameters(tiny['MSE only'].model):,})")
config = config_for("lmac/table7/rgb", dataset, target, scale=scale, seed=seed, epochs=train_epochs,
                    final_keys=("centres",))
lmac_run = run(config)
print(f"{'read from the cache' if lmac_run.cached else 'trained'}: test ρ last epoch "
      f"{lmac_run.summary['last_spearman']:.3f}, best test epoch {lmac_run.summary['papers_spearman']:.3f}")
alignment = alignment_to_truth([lmac_run])
show_table(alignment.drop(columns=["variant"]).set_index("modality"),
           title=f"LMAC-Net RGB-only ({train_epochs} epochs): final-layer centres vs the true elements",
           provenance=lmac_run.meta["provenance"])

# %% [markdown]
# **What to take away.** A query decoder turns "which moments matter" into something you can look at: K
# attention maps and their centres. The ranking loss makes the queries divide the routine in time, the
# sparsity loss makes each one look at a moment; whether the moments are the elements judges score is an
# empirical question this synthetic data can answer (the LMAC-Net notebooks `ablation_losses` and
# `alignment_trajectories` answer it for the full schedule). The papers' position-free attention can only
# order its queries because the features themselves change over a routine (the `data_tour` notebook, section
# 5, measures how much).
#
# Next: **lesson 4**, fusing RGB with audio, and when the music helps.

# %%
assert all(np.isfinite(r.history["test_spearman"]).all() for r in tiny.values())
assert centre_table["videos with ordered centres"].iloc[:3].between(0, 1).all()
assert np.allclose(attention_centres(torch.tensor(attn)[None], torch.tensor([attn.shape[0]])).numpy(),
                   attention_center(torch.tensor(attn)[None], normalise=True).numpy(), atol=1e-5)
assert len(alignment) == 1 and np.isfinite(alignment["distance_s"]).all()
course.lesson_complete("03_query_decoders", solutions)
