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
# # AQA 101 · Lesson 2: Simple baselines, and why they are hard to beat
#
# Before a temporal attention model, try the cheapest model there is: **pool** each video's segment features
# over time into one fixed-length vector, and fit a **linear** regression to the scores. On long routines this
# baseline is strong: on the real Fis-V RGB features this project measured a pooled ridge at about 0.61–0.63
# (TES) and 0.80–0.81 (PCS) Spearman ρ (README, `benchmarks/real_fisv_rgb.py`), while the papers print 0.685 /
# 0.820 for GDLT and 0.559 / 0.677 for LMAC-Net's RGB-only row on the same features.
#
# In this lesson you will
#
# 1. pool a video's features into `[mean ; std]` over time (**exercise 2.1**);
# 2. fit a standardised, cross-validated ridge regression (**exercise 2.2**) and an RBF support-vector
#    regression (scikit-learn) on the pooled features;
# 3. train small attention models from the library (LMAC-Net's RGB-only variant, a short schedule, with and
#    without a position code) on the same videos and compare;
# 4. shuffle every test video's segments in time and see what each model loses, which says how much of the
#    order it uses.
#
# Default: Fis-V TES and PCS on the embedded synthetic data (real labels and lengths, generated features).
# `-p source real -p data_root /path/to/fisv/vst_fp16` runs everything on the real released Fis-V features.
# Running time at the default (`quick`) scale: about two minutes on one CPU thread (four short training runs of
# 10 epochs; `epochs` changes that).

# %% tags=["parameters"]
dataset = "fisv"  # fisv | rg
targets = "all"  # all, or a list of the dataset targets, e.g. [TES]
source = "synthetic"  # synthetic | real (the real Fis-V release is RGB only, all this lesson needs)
data_root = ""  # folder of the real released features, for source real
scale = "auto"  # smoke | quick | paper | auto (smoke under CI, else quick)
seed = 0  # training seed of the attention model
epochs = 0  # epochs of the attention models; 0 means 10 (2 at smoke scale)
device = "auto"  # auto | cpu | cuda
solutions = True  # True in the teacher source; the exported student copy says False

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from aqa_lib import course
from aqa_lib.data import get_spec, load
from aqa_lib.data.evidence import pooled_features
from aqa_lib.experiments import config_for
from aqa_lib.metrics import spearman
from aqa_lib.models.baselines import pooled_svr
from aqa_lib.notebook import check_params, save_figure, show_table
from aqa_lib.report import legend_outside
from aqa_lib.tables import reported
from aqa_lib.train import load_data, run

params = check_params(  # validates every parameter and writes the resolved values back
    {"dataset": dataset, "targets": targets, "source": source, "data_root": data_root, "scale": scale,
     "seed": seed, "epochs": epochs, "device": device, "solutions": solutions},
    choices={"dataset": ["fisv", "rg"], "solutions": [True, False]},
    namespace=globals(), notebook="course/02_simple_baselines",
)
course.banner("02_simple_baselines", solutions)
train_epochs = epochs or (2 if scale == "smoke" else 10)
data = {t: load(dataset, t, source=source, data_root=data_root or None, scale=scale, seed=seed,
                modalities=["rgb"]) for t in targets}
provenance = data[targets[0]].provenance
print(provenance)
print({t: (len(d.train), len(d.test)) for t, d in data.items()}, "train / test videos")

# %% [markdown]
# ## 1. Pooling: one vector per video
#
# A routine is a `[T, D]` matrix whose T differs from video to video (here D = 1024 RGB features per 1.28 s
# segment). A linear model needs one fixed-length vector per video. The simplest summary keeps, for every
# feature dimension, its **mean over time** (what the routine shows on average) and its **standard deviation
# over time** (how much it varies): a `[2D]` vector, whatever T is. The order of the segments is thrown away.

# %% [markdown]
# ### Exercise 2.1: mean + std pooling
# Write `pool(x)` for one video's `[T, D]` array: return the mean over time followed by the standard deviation
# over time (numpy's default, `ddof=0`), a 1-D array of length `2D`.

# %%
def pool(x):
    """[T, D] segment features of one video -> [2D]: mean over time, then standard deviation over time."""
    raise NotImplementedError("Exercise 2.1: write pool")


# %% tags=["solution"]
def pool(x):  # noqa: F811 - the solution replaces the exercise's stub
    """[T, D] segment features of one video -> [2D]: mean over time, then standard deviation over time."""
    return np.concatenate([x.mean(axis=0), x.std(axis=0)])


# %%
course.check_pool(pool)

# %% [markdown]
# From here on the lesson uses the library's `aqa_lib.data.evidence.pooled_features`, which computes the same
# vector for every video of a split.

# %%
pooled = {t: (pooled_features(d.train, "rgb"), pooled_features(d.test, "rgb")) for t, d in data.items()}
x_train, x_test = pooled[targets[0]]
print(f"{targets[0]}: train matrix {x_train.shape}, test matrix {x_test.shape} (videos × pooled features)")

# %% [markdown]
# ## 2. A ridge regression on pooled features
#
# With a few hundred training videos and 2048 pooled features there are more unknowns than equations: an
# ordinary least-squares fit would reproduce the training scores exactly and predict noise. **Ridge
# regression** adds a penalty α‖w‖² that shrinks the weights; α is chosen by cross-validation on the training
# videos only. Because the penalty treats all weights alike, the features must first be **standardised**
# (zero mean, unit variance, with the training set's statistics), or the penalty would depend on each
# feature's arbitrary unit.

# %% [markdown]
# ### Exercise 2.2: a standardised, cross-validated ridge
# Write `fit_ridge(x_train, y_train, x_test)` that returns predictions for `x_test`. Use scikit-learn:
# `make_pipeline(StandardScaler(), RidgeCV(alphas=np.logspace(-2, 5, 29)))` (from `sklearn.pipeline`,
# `sklearn.preprocessing`, `sklearn.linear_model`), `.fit(x_train, y_train)`, `.predict(x_test)`. The check
# runs it on hidden problems built to punish a missing standardisation or a missing penalty.

# %%
def fit_ridge(x_train, y_train, x_test):
    """Standardise with the training statistics, fit a ridge with a cross-validated penalty, predict x_test."""
    raise NotImplementedError("Exercise 2.2: write fit_ridge")


# %% tags=["solution"]
def fit_ridge(x_train, y_train, x_test):  # noqa: F811 - the solution replaces the exercise's stub
    """Standardise with the training statistics, fit a ridge with a cross-validated penalty, predict x_test."""
    from sklearn.linear_model import RidgeCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    model = make_pipeline(StandardScaler(), RidgeCV(alphas=np.logspace(-2, 5, 29)))
    return model.fit(x_train, y_train).predict(x_test)


# %%
course.check_ridge(fit_ridge)

# %% [markdown]
# Now the two classic pooled baselines on every target: the ridge (the library's reference,
# `course.ridge_reference`, is the same pipeline as the exercise's solution) and an RBF support-vector
# regression with C and γ chosen by 5-fold cross-validation (`aqa_lib.models.baselines.pooled_svr`, the
# "C3D + SVR" row of the papers' tables, here on whatever features the data has).

# %%
rows, predictions = [], {}
for t, d in data.items():
    x_tr, x_te = pooled[t]
    ridge_pred = course.ridge_reference(x_tr, d.train.labels, x_te)
    svr = pooled_svr(d, "rgb", seed=seed)
    predictions[t] = {"pooled ridge": ridge_pred * d.norm, "pooled SVR": svr["test_pred"]}
    rows.append({"target": t, "model": "pooled ridge", "test ρ": spearman(ridge_pred, d.test.labels)})
    rows.append({"target": t, "model": "pooled SVR", "test ρ": svr["spearman"]})
baselines = pd.DataFrame(rows)
show_table(baselines.pivot(index="model", columns="target", values="test ρ"),
           title="Pooled baselines, test Spearman ρ", provenance=provenance)

# %% [markdown]
# ## 3. Small attention models from the library
#
# LMAC-Net's RGB-only variant (`lmac/table7/rgb`): five learnable queries attend over the segments (lesson 3
# builds one from scratch), trained with MSE plus the paper's ranking and sparsity losses on random crops of
# 130 segments (Fis-V; 70 on RG). Its recipe comes from the library (`aqa_lib.experiments.config_for`: the
# paper's optimiser, the `quick` width d = 64); the lesson shortens the schedule to `train_epochs` epochs.
# We train it twice: as the paper describes it, with **content-only** attention (a query compares its vector
# with each segment's content, nothing else), and with a **position code** added to the attention keys
# (`key_position="sine"`, the library's switch, not the paper's), so that a query can also prefer a place in
# the routine. Each run is cached: a second run of the lesson reads it back.
#
# Every run reports two numbers: **last**, the test ρ after the last epoch, and **best test epoch**, the
# highest test ρ over the epochs, which is what the papers print. The second one picks the epoch on the test
# set (lesson 5 measures how much that flatters a model).

# %%
variants = {"LMAC-Net RGB-only": "none", "LMAC-Net RGB-only + position code": "sine"}
runs = {}
for label, key_position in variants.items():
    for t in targets:
        extra = {"key_position": key_position} if key_position != "none" else {}
        config = config_for("lmac/table7/rgb", dataset, t, scale=scale, seed=seed, source=source,
                            data_root=data_root, device=device, epochs=train_epochs, **extra)
        runs[label, t] = run(config.replace(save_weights=True))
        r = runs[label, t]
        print(f"{label}, {t}: {'read from the cache' if r.cached else 'trained'}, {r.meta['n_params']:,} parameters, "
              f"{r.summary['seconds_per_epoch']:.1f} s per epoch")
        predictions[t][f"{label} (last epoch)"] = r.arrays["test_pred_last"]
        rows.append({"target": t, "model": f"{label} (last epoch)", "test ρ": r.summary["last_spearman"]})
        rows.append({"target": t, "model": f"{label} (best test epoch)", "test ρ": r.summary["papers_spearman"]})
order = ["pooled ridge", "pooled SVR"] + [f"{label} ({p})" for label in variants for p in ("last epoch", "best test epoch")]
comparison = pd.DataFrame(rows).pivot(index="model", columns="target", values="test ρ").loc[order, list(targets)]
show_table(comparison, title=f"Pooled baselines vs small attention models ({train_epochs} epochs), test ρ",
           provenance=provenance)

# %%
fig, ax = plt.subplots(figsize=(9, 3.6))
width = 0.8 / len(order)
colours = ["0.45", "0.7", "C0", "#9ecae1", "C1", "#fdd0a2"]
for i, model in enumerate(order):
    bars = ax.bar(np.arange(len(targets)) + (i - (len(order) - 1) / 2) * width, comparison.loc[model], width,
                  label=model, color=colours[i])
    ax.bar_label(bars, fmt="%.2f", fontsize=6, padding=1)
ax.set_xticks(np.arange(len(targets)), [f"{get_spec(dataset).title} {t}" for t in targets])
ax.set_ylabel("test Spearman ρ")
ax.set_ylim(min(0.0, float(np.nanmin(comparison.to_numpy())) - 0.05), 1.0)
ax.axhline(0, color="0.5", lw=0.6)
ax.set_title("Pooled features + a linear or kernel regression vs trained attention models", fontsize=10)
legend_outside(ax, title="model")
fig.tight_layout()
save_figure(fig, f"course_02_baselines_{dataset}", provenance=f"{provenance}; LMAC-Net {train_epochs} epochs")

# %% [markdown]
# **Reading the figure.** Compare the dark bars (last epoch, no selection) with the grey pooled ones: on this
# data the attention models, trained for a short schedule, land in the range of the pooled regressions, not
# clearly above them; their light bars (best test epoch) are higher by construction. (At `smoke` scale, 2
# epochs on 32 videos, the numbers mean nothing.) For context, the papers' numbers on the real features, from
# their tables (the features are not those of this lesson unless you ran it with `source = "real"`):

# %%
printed = pd.concat([reported("pamfn", "tableI"), reported("lmac", "table7")])
printed = printed[(printed["metric"] == "spearman") & (printed["dataset"] == dataset)
                  & printed["target"].isin(targets)
                  & (printed["method"].isin(["GDLT", "C3D+SVR"])
                     | ((printed["method"] == "LMAC-Net") & (printed["variant"] == "RGB")))]
printed = printed.assign(row=[f"{m} {v}".strip() + (f" ({f})" if f else "")
                              for m, v, f in printed[["method", "variant", "features"]].fillna("").to_numpy()])
show_table(printed.pivot_table(index="row", columns="target", values="value"),
           title="Reported by the papers (their real features; C3D+SVR used older C3D features)",
           provenance="PAMFN Table I (GDLT, C3D+SVR) and LMAC-Net Table 7 (RGB-only row)")

# %% [markdown]
# ## 4. Does a model use the order of the segments?
#
# Pooling ignores the order of the segments by construction. Shuffle every test video's segments in time
# (the same shuffle for every modality, `course.shuffled_in_time`) and predict again with each trained model:
# what a model loses is what it had learnt from the order (where something happens, what comes before what).

# %%
shuffle_rows = []
for t, d in data.items():
    x_shuffled = pooled_features(course.shuffled_in_time(d.test, seed=seed), "rgb")
    shuffle_rows.append({"target": t, "model": "pooled ridge",
                         "ρ, segments in order": spearman(predictions[t]["pooled ridge"], d.test.scores),
                         "ρ, segments shuffled": spearman(course.ridge_reference(pooled[t][0], d.train.labels,
                                                                                  x_shuffled), d.test.labels)})
    for label in variants:
        r = runs[label, t]
        run_data = load_data(r.config)
        model = course.trained_library_model(r, run_data)
        in_order = course.library_predict(model, run_data.test)
        assert np.allclose(in_order * d.norm, r.arrays["test_pred_last"], atol=1e-3 * d.norm)  # the same model
        shuffled = course.library_predict(model, course.shuffled_in_time(run_data.test, seed=seed))
        shuffle_rows.append({"target": t, "model": f"{label} (last epoch)",
                             "ρ, segments in order": spearman(in_order, run_data.test.labels),
                             "ρ, segments shuffled": spearman(shuffled, run_data.test.labels),
                             "largest change of a prediction (points)": float(np.abs(shuffled - in_order).max()
                                                                              * d.norm)})
shuffle_table = pd.DataFrame(shuffle_rows)
shuffle_table["lost to the shuffle"] = shuffle_table["ρ, segments in order"] - shuffle_table["ρ, segments shuffled"]
show_table(shuffle_table, title="Test ρ with each video's segments in order and shuffled in time",
           provenance=provenance, precision=4)

# %% [markdown]
# **What the shuffle shows.** The pooled ridge cannot notice the shuffle (its inputs are a mean and a standard
# deviation). Neither can the paper's LMAC-Net decoder: every prediction is the same to the last digit. That
# is not a bug of the shuffle: attention with learnable queries and content-only keys computes a *weighted
# average of the segments*, with weights that depend on each segment's content and not on its place, so it is
# a set function, a learnt pooling. (The ranking loss uses positions during training, to choose which content
# each query attends to, but the prediction cannot.) GDLT's decoder has no position code either. Only the
# variant with a position code reacts to the shuffle, and what it loses is the most any use of the order has
# bought it here.
#
# **Why pooled baselines are hard to beat on long routines.**
#
# - **Scores are sums over many elements.** TES adds up the value of every element; PCS grades the whole
#   program. Over a two- to four-minute routine the mean of the segment features is, up to the length, the sum
#   of what every element contributed: a linear read-out of the mean is already a weighted count of "what was
#   done, and how well". The order of the elements changes little in such a sum.
# - **The attention models are poolings too**, as the shuffle shows, with many more weights to fit: a few
#   hundred training videos per target (200 here at `quick` scale, 400 in real Fis-V) against the hundreds of
#   thousands of parameters printed above, where the ridge has one strongly shrunk weight per pooled feature.
# - **What is left for temporal models** is what pooling destroys: timing (lesson 4: whether elements land on
#   the music) and the order of events. A model only gets it with a position code, convolutions over time
#   (PAMFN's branches) or recurrence, and only if the data rewards it.
#
# Always report a pooled ridge next to a new model on the same features: it costs a second and says whether
# the model learnt anything that pooling does not give for free.

# %%
assert all(np.isfinite(comparison.to_numpy()).ravel()), comparison
invariant = shuffle_table["model"].isin(["pooled ridge", "LMAC-Net RGB-only (last epoch)"])
assert (shuffle_table.loc[invariant, "lost to the shuffle"].abs() < 1e-6).all()  # set functions: order-blind
course.lesson_complete("02_simple_baselines", solutions)
