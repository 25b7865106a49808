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
# # AQA 101 · Lesson 1: What is action quality assessment?
#
# **Action quality assessment (AQA)** predicts the score that judges give a performance, from its video. The
# four papers this companion follows (LMAC-Net, PAMFN, MLAVL, VATP-Net) score *long* performances: rhythmic
# gymnastics and figure-skating routines of one and a half to four and a half minutes, and, for contrast,
# four-second dives. None of them works on pixels directly: a frozen video network turns every 32 frames
# (1.28 s) into one feature vector, so a routine arrives as a matrix of **T segments × D features** per
# modality (RGB, optical flow, audio).
#
# In this lesson you will
#
# 1. see what judges score, and compute a dive's score from seven judges' marks (**exercise 1.1**);
# 2. load the four datasets through the library and compare their sizes, lengths and score ranges;
# 3. see why scores are divided by a constant before training;
# 4. compute Spearman's rank correlation ρ, the papers' main metric (**exercise 1.2**), and see how it differs
#    from an error measure;
# 5. average ρ over apparatus or score types the way the papers do, through Fisher's z (**exercise 1.3**);
# 6. compute MSE on the original score scale and the relative ℓ2 distance (R-ℓ2).
#
# Every number here comes from the companion's **embedded synthetic data** (generated features; real labels and
# lengths where the datasets' authors published them) or from the papers' printed tables, and says which. Nothing here is a
# reproduction of a paper's result. Running time: under a minute the first time (it generates the synthetic data
# of four datasets), a few seconds after that (nothing is trained).

# %% tags=["parameters"]
dataset = "fisv"  # dataset of sections 3, 4 and 6: rg | fisv | fs1000 | mtl_aqa
source = "synthetic"  # this lesson uses the embedded synthetic data only
data_root = ""  # unused here, kept for the shared parameter convention
scale = "auto"  # smoke | quick | paper | auto (smoke under CI, else quick)
seed = 0  # seed of the synthetic data and of the simulated predictions
device = "auto"  # unused here (nothing is trained)
solutions = True  # True in the teacher source; the exported student copy says False

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from aqa_lib import course
from aqa_lib.data import get_spec, load
from aqa_lib.metrics import fisher_z_mean, mse, relative_l2, spearman
from aqa_lib.notebook import check_params, save_figure, show_table
from aqa_lib.report import legend_outside
from aqa_lib.tables import reported

params = check_params(  # validates every parameter and writes the resolved scale and device back
    {"dataset": dataset, "source": source, "data_root": data_root, "scale": scale, "seed": seed,
     "device": device, "solutions": solutions},
    choices={"dataset": ["rg", "fisv", "fs1000", "mtl_aqa"], "source": ["synthetic"], "solutions": [True, False]},
    namespace=globals(), notebook="course/01_what_is_aqa",
)
course.banner("01_what_is_aqa", solutions)

# %% [markdown]
# ## 1. What judges score
#
# Each sport has its own rule, and the papers train one model per score:
#
# | dataset | what the judges give | what the papers predict |
# |---|---|---|
# | **RG** (rhythmic gymnastics, ball / clubs / hoop / ribbon) | a Difficulty score (the value of the elements performed) and an Execution score (deductions for faults), minus Penalties | the Total, one model per apparatus |
# | **Fis-V** (figure skating, ladies' short programs) | **TES**, the technical element score: each jump, spin and step sequence has a base value plus a grade of execution (GOE); **PCS**, the program components: skating skills, transitions, performance, composition, interpretation of the music | TES and PCS, one model each |
# | **FS1000** (figure skating, eight competition categories) | TES, PCS and PCS's five components (SS, TR, PE, CO, IN) | each of the seven |
# | **MTL-AQA** (diving) | seven judges mark 0–10 in half points; the two highest and the two lowest marks are dropped, the middle three summed and multiplied by the dive's **difficulty degree** (DD) | the final score |
#
# TES is *technical* (what was done, and how cleanly); PCS is *artistic* (how it was done, including moving
# with the music). Lesson 4 uses that difference: music can only help a model with the artistic score.

# %% [markdown]
# ### Exercise 1.1: a dive's score
# Write `dive_score(judges, dd)`: `judges` holds the seven marks (any order), `dd` the difficulty degree.
# Drop the two highest and the two lowest marks, sum the remaining three, multiply by `dd`. For example, marks
# 7.5, 8, 8, 7, 8.5, 9, 6.5 with DD 3.2 keep 7.5, 8, 8 and score 3.2 × 23.5 = 75.2.

# %%
def dive_score(judges, dd):
    """The final score of a dive from its seven judges' marks and its difficulty degree."""
    raise NotImplementedError("Exercise 1.1: write dive_score")


# %% tags=["solution"]
def dive_score(judges, dd):  # noqa: F811 - the solution replaces the exercise's stub
    """The final score of a dive from its seven judges' marks and its difficulty degree."""
    middle_three = sorted(judges)[2:5]
    return dd * sum(middle_three)


# %%
course.check_dive_score(dive_score)

# %% [markdown]
# ## 2. The four datasets, as the library loads them
#
# `aqa_lib.data.load(dataset, target, scale=...)` returns one target of one dataset as a train and a test
# split; every split holds, per video, a `[T, D]` feature array per modality, the raw score and the normalised
# label. Below, one target per dataset. At `smoke` scale every split is cut to 32 / 16 videos (to test that
# everything runs), at `quick` scale to at most 200 training videos; `paper` is the full size. Each loaded
# dataset carries a `provenance` line: here it says *synthetic features*, and whether the labels are real (the
# `labels` column).

# %%
targets = {"rg": "Ball", "fisv": "TES", "fs1000": "TES", "mtl_aqa": "score"}
loaded, failed = {}, {}
for name, target in targets.items():
    try:
        loaded[name] = load(name, target, scale=scale, seed=seed)
    except Exception as exc:  # one dataset that cannot load (e.g. while its data is rebuilt) should not stop the lesson
        failed[name] = f"{type(exc).__name__}: {exc}"
        print(f"{get_spec(name).title} could not be loaded ({failed[name]}); the lesson goes on without it.")

rows = []
for name, d in loaded.items():
    spec = get_spec(name)
    lengths = np.r_[d.train.lengths, d.test.lengths]
    scores = np.r_[d.train.scores, d.test.scores]
    rows.append({"dataset": spec.title, "target": d.target, "train videos": len(d.train), "test videos": len(d.test),
                 "modalities (dim)": ", ".join(f"{m} ({k})" for m, k in d.modalities.items()),
                 "length, segments (median)": int(np.median(lengths)),
                 "length, minutes (median)": np.median(lengths) * 1.28 / 60,
                 "score min": scores.min(), "score max": scores.max(), "norm": d.norm,
                 "labels": "real" if spec.real_labels_shipped else "synthetic"})
overview = pd.DataFrame(rows)
provenance = (f"embedded synthetic features, {scale} scale, seed {seed}; labels real for "
              f"{', '.join(get_spec(n).title for n in loaded if get_spec(n).real_labels_shipped) or 'none'}")
show_table(overview, title="The datasets, one target each", provenance=provenance, precision=2)

# %% [markdown]
# **Reading the table.** RG and Fis-V routines last about 1.5 and 2.8 minutes (70–140 segments), FS1000
# programs up to 4.5 minutes; an MTL-AQA dive is ten segments. That is why the papers call their task
# *long-term* AQA: a score summarises dozens of elements spread over minutes, and a model must decide which
# moments matter. The score ranges differ by an order of magnitude (an RG Total near 15, a diving score near
# 70), which is the next section's subject.

# %% [markdown]
# ## 3. Score normalisation
#
# The papers train on `label = score / norm` with a constant per dataset and target (RG 25, Fis-V 45, FS1000
# TES 130: the table's `norm` column): labels then lie in [0, 1] whatever the sport, so one network head and one
# learning rate suit every dataset. The constant is a convention, not a statistic of the data (MLAVL divides
# Fis-V PCS by 40, PAMFN by 45), and it matters for one number only: the MSE, which the papers compute after
# multiplying predictions and labels back by it (section 6). Spearman's ρ is unchanged by any such scaling.

# %%
fig, axes = plt.subplots(1, 2, figsize=(11, 3.3))
for i, (name, d) in enumerate(loaded.items()):
    scores = np.r_[d.train.scores, d.test.scores]
    label = f"{get_spec(name).title} {d.target}"
    axes[0].hist(scores, bins=25, histtype="step", lw=1.5, color=f"C{i}", label=label)
    axes[1].hist(scores / d.norm, bins=25, histtype="step", lw=1.5, color=f"C{i}", label=label)
axes[0].set_xlabel("score (each sport's own scale, points)")
axes[1].set_xlabel("normalised label = score / norm (no unit)")
for ax in axes:
    ax.set_ylabel("videos")
axes[0].set_title("raw scores")
axes[1].set_title("after dividing by each dataset's constant")
legend_outside(axes[1], title="dataset, target")
fig.tight_layout()
save_figure(fig, "course_01_normalisation", provenance=provenance)

# %% [markdown]
# Left, the raw scores sit on scales an order of magnitude apart; right, every dataset lies in [0, 1]. The
# shapes do not change: normalising is a change of unit.

# %% [markdown]
# ## 4. Spearman's rank correlation ρ
#
# Judging ranks athletes, so the papers ask whether a model *orders* the test videos as the judges did:
# Spearman's ρ is the Pearson correlation of the **ranks** of the predictions and of the true scores. It is 1
# for the judges' order, −1 for the reverse, about 0 for a random order, and it ignores how far off the
# predicted values are, as long as the order is right. Tied values share their average rank (two values
# tied for 2nd and 3rd place both get 2.5).
#
# A worked example you can change: five skaters, the judges' scores, and two models.

# %%
judges = np.array([35.2, 28.9, 31.4, 24.0, 30.1])
model_a = judges - 6.0  # every score 6 points too low, the order exactly right
model_b = np.array([34.0, 30.5, 30.0, 24.5, 30.2])  # close values, skaters 2, 3 and 5 out of order
for name, pred in (("model A", model_a), ("model B", model_b)):
    print(f"{name}: ranks {pd.Series(pred).rank().tolist()} (judges {pd.Series(judges).rank().tolist()}), "
          f"ρ = {spearman(pred, judges):.3f}, mean squared error = {np.mean((pred - judges) ** 2):.2f} points²")

# %% [markdown]
# Model A has a perfect ρ of 1 and a large error; model B is closer in value but swaps three skaters, so its
# ρ is lower. Which is better depends on the question: ρ answers "who won?", the error answers "by how much?".
# The papers print ρ first, and MLAVL and VATP-Net add an error measure (section 6).

# %% [markdown]
# ### Exercise 1.2: Spearman's ρ
# Write `spearman_rho(pred, true)` for two 1-D arrays of equal length. Rank each array (1 = smallest; tied
# values get the average of the ranks they span: `pandas.Series(x).rank()` does this, or write it yourself
# with `np.argsort`), then return the Pearson correlation of the two rank arrays (`np.corrcoef`). The check
# compares your function with `aqa_lib.metrics.spearman` on hidden cases, including ties.

# %%
def spearman_rho(pred, true):
    """Spearman's rank correlation of two equally long 1-D arrays (average ranks for ties)."""
    raise NotImplementedError("Exercise 1.2: write spearman_rho")


# %% tags=["solution"]
def spearman_rho(pred, true):  # noqa: F811 - the solution replaces the exercise's stub
    """Spearman's rank correlation of two equally long 1-D arrays (average ranks for ties)."""
    rank_pred = pd.Series(np.asarray(pred, dtype=float)).rank().to_numpy()
    rank_true = pd.Series(np.asarray(true, dtype=float)).rank().to_numpy()
    return float(np.corrcoef(rank_pred, rank_true)[0, 1])


# %%
course.check_spearman(spearman_rho)

# %% [markdown]
# The same contrast on the test split of the chosen dataset. We *simulate* three predictors from the true test
# scores (nothing is trained): one that keeps the order but compresses and shifts every score, one that is
# unbiased but noisy, one that predicts almost the training mean for everybody.

# %%
d = loaded[dataset]
true = d.test.scores
rng = np.random.default_rng(seed)
spread = float(np.std(d.train.scores))
predictors = {
    "order kept, scale wrong": float(np.mean(d.train.scores)) + 0.4 * (true - float(np.mean(d.train.scores))) + spread,
    "unbiased, noisy": true + rng.normal(scale=0.6 * spread, size=len(true)),
    "almost the mean": float(np.mean(d.train.scores)) + rng.normal(scale=0.05 * spread, size=len(true)),
}
fig, axes = plt.subplots(1, 3, figsize=(12, 3.6), sharex=True, sharey=True)
low, high = float(true.min()), float(true.max())
for ax, (name, pred) in zip(axes, predictors.items(), strict=True):
    ax.scatter(true, pred, s=14, alpha=0.7)
    ax.plot([low, high], [low, high], color="0.5", lw=0.8, ls="--", label="prediction = truth")
    ax.set_title(f"{name}\nρ = {spearman(pred, true):.2f}, MSE = {np.mean((pred - true) ** 2):.1f} points²",
                 fontsize=9)
    ax.set_xlabel(f"true {d.target} (points)")
axes[0].set_ylabel(f"predicted {d.target} (points)")
legend_outside(axes[-1], title=None)
fig.suptitle(f"{get_spec(dataset).title} {d.target}, {len(true)} test videos: simulated predictors", fontsize=10)
fig.tight_layout()
save_figure(fig, f"course_01_metrics_{dataset}",
            provenance=f"{d.provenance}; predictions simulated from the true scores")

# %% [markdown]
# The first predictor is ranked perfectly (ρ = 1) with a large error; the third has a small error only because
# the scores cluster around the mean, and a ρ that says it ranks nobody. Read ρ and an error measure together.

# %% [markdown]
# ## 5. Averaging ρ over classes: the Fisher-z mean
#
# The papers train one model per apparatus (RG) or score (Fis-V, FS1000) and print an **Avg.** column. They
# do not average the ρ values directly: correlations are squeezed near ±1, so they first map each one through
# Fisher's z-transform `z = arctanh(ρ)`, average the z values, and map back with `tanh`. Below, GDLT's four RG
# values as PAMFN's Table I prints them (reported numbers, the paper's real features).

# %%
gdlt = reported("pamfn", "tableI")
gdlt = gdlt[(gdlt["method"] == "GDLT") & (gdlt["dataset"] == "rg") & (gdlt["metric"] == "spearman")]
per_apparatus = gdlt[gdlt["target"] != "Avg."].set_index("target")["value"]
printed_avg = float(gdlt.loc[gdlt["target"] == "Avg.", "value"].iloc[0])
print(per_apparatus.to_dict())
print(f"arithmetic mean {per_apparatus.mean():.4f}, Fisher-z mean {fisher_z_mean(per_apparatus):.4f}, "
      f"the paper's Avg. {printed_avg:.3f}")

# %% [markdown]
# The printed Avg. (0.765) is the Fisher-z mean; the arithmetic mean rounds to 0.764. The difference is small
# when the values are close and grows when one class is much better predicted than another.

# %% [markdown]
# ### Exercise 1.3: the Fisher-z average
# Write `fisher_z_average(rhos)`: `tanh` of the mean of `arctanh` of the values (numpy has both). The check
# compares it with `aqa_lib.metrics.fisher_z_mean`.

# %%
def fisher_z_average(rhos):
    """Average correlations through Fisher's z-transform."""
    raise NotImplementedError("Exercise 1.3: write fisher_z_average")


# %% tags=["solution"]
def fisher_z_average(rhos):  # noqa: F811 - the solution replaces the exercise's stub
    """Average correlations through Fisher's z-transform."""
    return float(np.tanh(np.mean(np.arctanh(np.asarray(rhos, dtype=float)))))


# %%
course.check_fisher_z(fisher_z_average)

# %% [markdown]
# How far apart the two averages can be: the average of 0.95 and a second correlation, as the second one
# varies. The Fisher-z mean leans towards the higher value, because near 1 a small change in ρ is a large
# change in z.

# %%
second = np.linspace(-0.2, 0.95, 47)
fig, ax = plt.subplots(figsize=(7, 3.2))
ax.plot(second, [(0.95 + r) / 2 for r in second], label="arithmetic mean")
ax.plot(second, [fisher_z_mean([0.95, r]) for r in second], label="Fisher-z mean (the papers')")
ax.set_xlabel("second correlation ρ₂ (the first is 0.95)")
ax.set_ylabel("average of the two ρ")
ax.set_title("Averaging two correlations", fontsize=10)
legend_outside(ax, title=None)
fig.tight_layout()
save_figure(fig, "course_01_fisher_z", provenance="formula only (no data)")

# %% [markdown]
# ## 6. Errors on the original scale: MSE and R-ℓ2
#
# MLAVL reports the **MSE on the original score scale**: predictions and labels are normalised during
# training, so both are multiplied back by the normalising constant before the squared error is taken
# (`aqa_lib.metrics.mse(pred, true, norm=...)` on normalised values). LOGO tables (MLAVL's Table 4) print the
# **relative ℓ2 distance** ×100, `mean(((y − ŷ) / (y_max − y_min))²)`, where the range is that of the
# dataset's scores: it divides the error by the score range, so datasets with different scales can be
# compared. For the "unbiased, noisy" predictor of section 4:

# %%
pred = predictors["unbiased, noisy"]
score_min = float(min(d.train.scores.min(), d.test.scores.min()))
score_max = float(max(d.train.scores.max(), d.test.scores.max()))
errors = pd.DataFrame([{
    "MSE from normalised values × norm²": mse(pred / d.norm, true / d.norm, norm=d.norm),
    "MSE on raw scores": float(np.mean((pred - true) ** 2)),
    "R-ℓ2 × 100": 100 * relative_l2(pred, true, score_min=score_min, score_max=score_max),
    "score range (points)": score_max - score_min,
}])
show_table(errors, title=f"{get_spec(dataset).title} {d.target}: errors of the simulated noisy predictor",
           provenance=f"{d.provenance}; predictions simulated from the true scores")

# %% [markdown]
# The first two columns agree: normalising and multiplying back changes nothing. Change `dataset` in the
# parameters cell (e.g. `rg`) and rerun: the MSE moves with the sport's scale, R-ℓ2 much less.
#
# ## What to remember
# - AQA regresses the judges' score from segment features; one model per score type.
# - Labels are `score / norm`; MSE is reported back on the original scale.
# - ρ measures the order, an error measure the distance; class averages of ρ go through Fisher's z.
#
# Next: **lesson 2**, pooled features and a ridge regression, the baseline every paper has to beat.

# %%
assert set(loaded) >= {"rg", "fisv"}, f"RG and Fis-V must load; failures: {failed}"
assert dataset in loaded, f"the chosen dataset {dataset} did not load: {failed.get(dataset)}"
assert abs(fisher_z_mean(per_apparatus) - printed_avg) < 5e-4  # the paper's Avg. is the Fisher-z mean
course.lesson_complete("01_what_is_aqa", solutions)
