"""MLAVL's figures from recorded runs (main Fig. 3, supplementary Figs. 3–4), and one measure no paper can take:
on synthetic data, do the action-text nodes of MAG² point at the clips where their action really happens?

What a run records (no change to the model or the engine): :func:`visualisation_config` asks the engine for
``final_keys`` = :data:`FINAL_KEYS`, entries that MLAVL's forward already returns in ``aux``
(:class:`aqa_lib.models.mlavl.MLAVL`), for every test video after the last epoch:

- ``grade_features/{av,v}``: the grade decoder's output for each grade query ``[N, K, d]`` (the paper's
  "grade patterns": 2N = 12 audio-visual queries, N = 6 visual ones);
- ``query_weights/{av,v}``: the grade weights ``p = σ(s) / Σ σ(s)`` over the K grade prompts ``[N, K]``
  (supplementary Fig. 3);
- ``branch_scores/{av,v}``: each branch's expected grade ``Σ_k p_k (k − 1)/(K − 1)`` (normalised score);
- ``text_clip_similarity``: the cosine of each S²CE clip feature with each projected "a video of <action>"
  text ``[N, T, M]`` (a diagnostic the model computes without gradient; not part of its numerics).

**Why the similarity and not the graph.** MAG²'s aggregation is the official uniform mean: every text node
sends ``1 / (T − 1 + M)`` to every clip, whatever the clip shows (``shared/design/models.md``;
:func:`aqa_lib.models.mlavl.action_graph_adjacency`). The graph's own text → clip weights therefore carry no
localisation by construction (:func:`graph_weight_deviation` checks it on recorded videos). Whether a clip
*resembles* an action's text is what the cosine similarity can show.

**Ground truth.** The synthetic generator (:mod:`aqa_lib.data.synthetic`) draws element types from the
sport's action vocabulary in prompt order (:func:`aqa_lib.data.text.action_vocabulary`), so element type k
*is* text node k. Its RGB renders each type with a random direction unrelated to the ViFi-CLIP text
embeddings: any alignment between a text and the clips of its action must be learnt from the scores.
A clip (segment t, covering ``[t, t + 1)``) is *inside* action k when its midpoint ``t + 0.5`` lies in an
element of type k (element spans end-exclusive, as :func:`aqa_lib.analysis.element_spans`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import rankdata, spearmanr

from .analysis import element_spans
from .data.text import GRADES
from .experiments.configs import config_for
from .train import RunConfig, load_data

FINAL_KEYS = ("grade_features", "query_weights", "branch_scores", "text_clip_similarity")
"""``aux`` entries recorded for every test video (:class:`~aqa_lib.train.RunConfig` ``final_keys``)."""
FULL, NO_MAG2, NO_AVCF = "mlavl", "mlavl/table5/no_mag2", "mlavl/table5/no_avcf"
"""The registered variants compared: the full model, Table 5's "w/o MAG2" and "w/o AVCF" rows."""
BRANCH_NAMES = {"av": "audio-visual", "v": "visual"}


def visualisation_variants(*, visual_only: bool = False) -> dict[str, str]:
    """Registered variant → label of the models the figures compare (no "w/o AVCF" without audio)."""
    rows = {FULL: "MLAVL", NO_MAG2: "w/o MAG²"}
    if not visual_only:
        rows[NO_AVCF] = "w/o AVCF"
    return rows


def visualisation_config(variant: str, dataset: str, target: str, *, visual_only: bool = False,
                         **kwargs: Any) -> RunConfig:
    """:func:`~aqa_lib.experiments.config_for` of ``variant`` recording :data:`FINAL_KEYS` for every test video.

    ``visual_only`` builds MLAVL's visual-only mode (``modalities=("rgb",)``: no audio graph, AVCF or
    audio-visual branch), as the ``mlavl_main_results`` notebook does on the RGB-only real Fis-V features;
    ``kwargs`` (scale, seed, source, data_root, device, epochs) go to ``config_for``. What is recorded is not
    part of the cache key, so the run is the one the other MLAVL notebooks train (once widened to record these).
    """
    overrides: dict[str, Any] = {"modalities": ("rgb",)} if visual_only else {}
    return config_for(variant, dataset, target, final_keys=FINAL_KEYS, **overrides, **kwargs)


# ---------------------------------------------------------------------------------------------------------
# Recorded test videos
# ---------------------------------------------------------------------------------------------------------


@dataclass
class MLAVLRecords:
    """What one MLAVL run recorded about every test video (split order).

    Attributes:
        variant: the run's registered variant; ``names`` the test videos.
        true, prediction: judges' score and the last-epoch prediction, original scale ``[N]``.
        norm: the score normaliser ξ (scores are divided by it for training).
        lengths: real lengths in segments ``[N]``.
        grade_features: branch (``"av"``, ``"v"``) → grade-query outputs ``[N, K, d]``.
        grade_weights: branch → grade weights p ``[N, K]`` (each row sums to 1).
        branch_scores: branch → that branch's score alone, original scale ``[N]``.
        branch_weight: w of ``ŷ = w·out_AV + (1 − w)·out_V`` (None without the audio-visual branch).
        similarity: ``[N, T, M]`` clip–action-text cosine (padded clips beyond ``lengths``), or None.
        truth: synthetic ground truth per video (None for real data).
    """

    variant: str
    names: list[str]
    true: np.ndarray
    prediction: np.ndarray
    norm: float
    lengths: np.ndarray
    grade_features: dict[str, np.ndarray]
    grade_weights: dict[str, np.ndarray]
    branch_scores: dict[str, np.ndarray]
    branch_weight: float | None
    similarity: np.ndarray | None
    truth: list[dict[str, Any]] | None

    @property
    def branches(self) -> list[str]:
        """The grade branches the model has: ``["av", "v"]``, or ``["v"]`` visual only."""
        return [b for b in ("av", "v") if b in self.grade_features]

    @property
    def error(self) -> np.ndarray:
        """Prediction minus true score (original scale)."""
        return self.prediction - self.true


def mlavl_records(result: Any) -> MLAVLRecords:
    """The :class:`MLAVLRecords` of a run made with :func:`visualisation_config`."""
    records = result.records("test")
    if not any(k.startswith("grade_features/") for k in records):
        raise ValueError(f"Run {result.config.model!r} recorded no grade features of its test videos: build it "
                         "with aqa_lib.mlavl_analysis.visualisation_config (final_keys=FINAL_KEYS) and an MLAVL "
                         "variant with the DPG head.")
    data = load_data(result.config)
    norm = float(data.norm)

    def per_branch(name: str, scale: float = 1.0) -> dict[str, np.ndarray]:
        return {b: np.asarray(records[f"{name}/{b}"], dtype=np.float64) * scale for b in ("av", "v")
                if f"{name}/{b}" in records}

    weight = result.arrays.get("final_test/branch_weight")
    similarity = records.get("text_clip_similarity")
    return MLAVLRecords(
        variant=result.config.model, names=list(result.meta["test_names"]),
        true=np.asarray(result.arrays["test_true"], dtype=np.float64),
        prediction=np.asarray(result.arrays["test_pred_last"], dtype=np.float64), norm=norm,
        lengths=np.asarray(records["lengths"]).astype(int), grade_features=per_branch("grade_features"),
        grade_weights=per_branch("query_weights"), branch_scores=per_branch("branch_scores", norm),
        branch_weight=None if weight is None else float(weight),
        similarity=None if similarity is None else np.asarray(similarity, dtype=np.float64),
        truth=data.test.truth,
    )


# ---------------------------------------------------------------------------------------------------------
# Grade patterns (main Fig. 3 b, c, e, f; supplementary Figs. 3 and 5)
# ---------------------------------------------------------------------------------------------------------


def grade_labels(k: int) -> list[str]:
    """Names of K grade prompts: the six grades (visual branch), the twelve ``<grade> −♪`` / ``<grade> +♪``
    (audio-visual: without / with fitting music, interleaved as the released prompts), else ``g1 … gK``."""
    if k == len(GRADES):
        return list(GRADES)
    if k == 2 * len(GRADES):
        return [f"{g} {m}" for g in GRADES for m in ("−♪", "+♪")]
    return [f"g{i + 1}" for i in range(k)]


def grade_positions(k: int) -> np.ndarray:
    """The grade of each of K prompts on the normalised score axis: ``(k − 1)/(K − 1)`` (DPG's weights)."""
    return np.linspace(0.0, 1.0, k)


def expected_grade(weights: np.ndarray) -> np.ndarray:
    """``Σ_k p_k (k − 1)/(K − 1)``: the branch's normalised score from its grade weights ``[..., K]``."""
    w = np.asarray(weights, dtype=np.float64)
    return w @ grade_positions(w.shape[-1])


def pattern_points(features: np.ndarray, *, per: str) -> tuple[np.ndarray, np.ndarray]:
    """Grade-query outputs ``[N, K, d]`` as points: ``per="video"`` → ``[N, K·d]`` (one video's outputs side
    by side) with the video index; ``per="query"`` → ``[N·K, d]`` with each point's grade index."""
    f = np.asarray(features, dtype=np.float64)
    if f.ndim != 3:
        raise ValueError(f"grade features must be [videos, queries, d], got shape {f.shape}.")
    n, k, d = f.shape
    if per == "video":
        return f.reshape(n, k * d), np.arange(n)
    if per == "query":
        return f.reshape(n * k, d), np.tile(np.arange(k), n)
    raise ValueError(f"per must be 'video' or 'query', got {per!r}.")


def embed_2d(points: np.ndarray, *, seed: int = 0, perplexity: float | None = None) -> np.ndarray:
    """2-D t-SNE of ``points`` ``[n, D]`` (scikit-learn, PCA initialisation, seeded). ``perplexity`` defaults
    to ``min(30, (n − 1)/3)`` so small test splits (smoke scale) work; fewer than 4 points are returned on their
    first two principal axes."""
    from sklearn.manifold import TSNE

    x = np.asarray(points, dtype=np.float64)
    n = x.shape[0]
    if n < 4:
        centred = x - x.mean(axis=0)
        _, _, vt = np.linalg.svd(centred, full_matrices=False)
        out = centred @ vt[:2].T
        return np.pad(out, [(0, 0), (0, 2 - out.shape[1])])
    perplexity = perplexity if perplexity is not None else float(min(30.0, max(1.0, (n - 1) / 3)))
    return TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(x)


def neighbour_score_agreement(points: np.ndarray, scores: np.ndarray, *, k: int = 5) -> float:
    """Spearman's ρ between each point's score and the mean score of its ``k`` nearest other points
    (Euclidean, in the original feature space, not the 2-D map): 1 when neighbours in feature space have
    similar scores, about 0 when the features are unrelated to the score."""
    x = np.asarray(points, dtype=np.float64)
    s = np.asarray(scores, dtype=np.float64)
    if x.shape[0] != s.shape[0]:
        raise ValueError(f"{x.shape[0]} points but {s.shape[0]} scores.")
    k = min(k, x.shape[0] - 1)
    if k < 1:
        raise ValueError("neighbour_score_agreement needs at least two points.")
    d = ((x[:, None, :] - x[None, :, :]) ** 2).sum(-1)
    np.fill_diagonal(d, np.inf)
    nearest = np.argsort(d, axis=1, kind="stable")[:, :k]
    return float(spearmanr(s, s[nearest].mean(axis=1)).statistic)


def grade_separation(points: np.ndarray, labels: np.ndarray) -> float:
    """Silhouette coefficient of ``points`` grouped by grade index (scikit-learn): 1 = each grade's outputs
    form a tight cluster far from the other grades' (the paper's "clear boundaries"), 0 = overlapping."""
    from sklearn.metrics import silhouette_score

    return float(silhouette_score(np.asarray(points, dtype=np.float64), np.asarray(labels)))


def pattern_measures(records: MLAVLRecords, branch: str, *, k: int = 5) -> dict[str, float]:
    """The two numbers behind the t-SNE maps of one branch: ``grade separation`` (:func:`grade_separation` of
    every video's grade-query outputs by grade) and ``neighbour score agreement``
    (:func:`neighbour_score_agreement` of the videos' concatenated outputs with their true scores)."""
    features = records.grade_features[branch]
    by_query, grades = pattern_points(features, per="query")
    by_video, _ = pattern_points(features, per="video")
    return {"grade separation (silhouette)": grade_separation(by_query, grades),
            "neighbour score agreement (ρ)": neighbour_score_agreement(by_video, records.true, k=k)}


def grade_weight_summary(records: MLAVLRecords) -> pd.DataFrame:
    """Per branch: Spearman's ρ between the true score and the expected grade of the weights (the branch's
    own score), the mean weight on the lower and upper half of the grades for the lowest- and highest-scored
    third of the test videos (supplementary Fig. 3's reading: low scores weigh low grades)."""
    rows = []
    third = max(1, len(records.true) // 3)
    order = np.argsort(records.true, kind="stable")
    for b in records.branches:
        p = records.grade_weights[b]
        half = p.shape[1] // 2
        low, high = order[:third], order[-third:]
        rows.append({"branch": BRANCH_NAMES[b], "grades": p.shape[1],
                     "ρ(true, expected grade)": float(spearmanr(records.true, expected_grade(p)).statistic),
                     "low third: weight on lower grades": float(p[low, :half].sum(axis=1).mean()),
                     "high third: weight on upper grades": float(p[high, half:].sum(axis=1).mean()),
                     "largest weight (mean)": float(p.max(axis=1).mean())})
    return pd.DataFrame(rows).set_index("branch")


# ---------------------------------------------------------------------------------------------------------
# Errors: score ranges (supplementary Fig. 4c), case study and failure case (Fig. 4a, b)
# ---------------------------------------------------------------------------------------------------------


def score_range_edges(scores: np.ndarray, bins: int) -> np.ndarray:
    """``bins + 1`` equal-width edges spanning ``scores`` (the last range includes its upper edge)."""
    s = np.asarray(scores, dtype=np.float64)
    if bins < 1:
        raise ValueError(f"bins must be at least 1, got {bins}.")
    return np.linspace(s.min(), s.max(), bins + 1)


def _range_index(scores: np.ndarray, edges: np.ndarray) -> np.ndarray:
    return np.clip(np.searchsorted(edges, scores, side="right") - 1, 0, len(edges) - 2)


def error_by_range(true: np.ndarray, predictions: Mapping[str, np.ndarray], *, bins: int = 4,
                   train_scores: np.ndarray | None = None) -> pd.DataFrame:
    """Error by true-score range (supplementary Fig. 4c): equal-width ranges over the test scores (and the
    training scores, when given, so every video falls in one); per range the number of test (and training)
    videos and, per method in ``predictions``, the mean absolute and the mean signed error (original scale).
    Ranges without test videos show NaN errors."""
    t = np.asarray(true, dtype=np.float64)
    every = t if train_scores is None else np.concatenate([t, np.asarray(train_scores, dtype=np.float64)])
    edges = score_range_edges(every, bins)
    where = _range_index(t, edges)
    rows = []
    for i in range(bins):
        inside = where == i
        close = "]" if i == bins - 1 else ")"
        row: dict[str, Any] = {"score range": f"[{edges[i]:.1f}, {edges[i + 1]:.1f}{close}",
                               "test videos": int(inside.sum())}
        if train_scores is not None:
            row["training videos"] = int((_range_index(np.asarray(train_scores, float), edges) == i).sum())
        for name, pred in predictions.items():
            err = np.asarray(pred, dtype=np.float64)[inside] - t[inside]
            row[f"mean |error|: {name}"] = float(np.abs(err).mean()) if inside.any() else np.nan
            row[f"mean error: {name}"] = float(err.mean()) if inside.any() else np.nan
        rows.append(row)
    return pd.DataFrame(rows).set_index("score range")


def pick_cases(records: MLAVLRecords) -> dict[str, int]:
    """Test positions of the two videos supplementary Fig. 4 shows: the **failure case** (largest absolute
    error) and the **case study**: with both branches, the video where fusing the audio-visual branch helps
    most (``|out_V − y| − |ŷ − y|`` largest, the paper's reading of its Fig. 4a; a best case *by
    construction*), else the best-predicted video. The two are always different videos."""
    err = np.abs(records.error)
    failure = int(np.argmax(err))
    if "av" in records.branch_scores and "v" in records.branch_scores:
        gain = np.abs(records.branch_scores["v"] - records.true) - err
    else:
        gain = -err
    gain = gain.astype(np.float64).copy()
    gain[failure] = -np.inf
    return {"case study": int(np.argmax(gain)), "failure case": failure}


def branch_table(records: MLAVLRecords) -> pd.DataFrame:
    """Each branch alone against the fused score, over the test videos: Spearman's ρ and mean absolute error
    (original scale), and for the fused score the share of videos it predicts better than the visual branch."""
    rows = []
    for b in records.branches:
        s = records.branch_scores[b]
        rows.append({"score": f"{BRANCH_NAMES[b]} branch alone", "ρ": float(spearmanr(records.true, s).statistic),
                     "mean |error|": float(np.abs(s - records.true).mean())})
    fused = {"score": "fused (the prediction)" if len(records.branches) > 1 else "prediction",
             "ρ": float(spearmanr(records.true, records.prediction).statistic),
             "mean |error|": float(np.abs(records.error).mean())}
    if len(records.branches) > 1:
        v_err = np.abs(records.branch_scores["v"] - records.true)
        fused["better than visual alone"] = float((np.abs(records.error) < v_err).mean())
    rows.append(fused)
    return pd.DataFrame(rows).set_index("score")


def case_table(records: MLAVLRecords, cases: Mapping[str, int]) -> pd.DataFrame:
    """One row per chosen video: true score, prediction, error, each branch's score (original scale) and, on
    synthetic data, what the generator knows: athlete level, synchrony with the music, mean element quality,
    number of elements and of faults."""
    rows = []
    for label, i in cases.items():
        row: dict[str, Any] = {"video": f"{label}: {records.names[i]}", "true": records.true[i],
                               "prediction": records.prediction[i], "error": records.error[i]}
        for b in records.branches:
            row[f"{BRANCH_NAMES[b]} branch"] = records.branch_scores[b][i]
        if records.truth is not None:
            t = records.truth[i]
            row.update({"level": float(t["level"]), "sync": float(t["sync"]),
                        "mean element quality": float(np.mean(t["element_quality"])),
                        "elements": len(t["element_start"]), "faults": len(t["fault_times"])})
        rows.append(row)
    return pd.DataFrame(rows).set_index("video")


# ---------------------------------------------------------------------------------------------------------
# Do the action-text nodes point at their action? (synthetic data only)
# ---------------------------------------------------------------------------------------------------------


def action_masks(truth: Mapping[str, Any], length: int) -> dict[int, np.ndarray]:
    """Action type → ``[length]`` boolean: clips whose midpoint ``t + 0.5`` lies in an element of that type."""
    mid = np.arange(length) + 0.5
    spans = element_spans(truth)
    types = np.asarray(truth["element_type"], dtype=np.int64)
    out: dict[int, np.ndarray] = {}
    for (start, end), k in zip(spans, types, strict=True):
        inside = (mid >= start) & (mid < end)
        out[int(k)] = out.get(int(k), np.zeros(length, dtype=bool)) | inside
    return out


def column_auc(values: np.ndarray, inside: np.ndarray) -> np.ndarray:
    """Per column of ``values`` ``[T, M]``: the probability that a clip inside (``inside`` ``[T]``) scores
    higher than a clip outside (ties count one half; Mann–Whitney). 0.5 = no preference, 1 = every inside clip
    above every outside one."""
    v = np.asarray(values, dtype=np.float64)
    m = np.asarray(inside, dtype=bool)
    n_in, n_out = int(m.sum()), int((~m).sum())
    if n_in == 0 or n_out == 0:
        raise ValueError("column_auc needs clips both inside and outside.")
    ranks = rankdata(v, axis=0)
    return (ranks[m].sum(axis=0) - n_in * (n_in + 1) / 2) / (n_in * n_out)


def localisation_table(similarity: np.ndarray, lengths: np.ndarray,
                       truths: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """One row per (test video, action type present in it), from clip–text affinities ``[N, T, M]``:

    - ``inside`` / ``outside``: the action's text's mean affinity on the clips inside / outside its elements,
      and ``gap`` = inside − outside;
    - ``auc``: :func:`column_auc` of the action's own text (0.5 = it does not prefer its action's clips);
    - ``auc other texts``: the same clips scored by every *other* action text, averaged: a text that prefers
      these clips no more than the others do is not pointing at *its* action (element clips may simply
      resemble every text more);
    - ``top hit``: whether the action text's most similar clip lies inside its action (ties share), and
      ``uniform``: the share of the video's clips inside the action, the hit rate of a text that points at
      random.

    Actions whose elements cover no clip midpoint (or every clip) are left out.
    """
    s = np.asarray(similarity, dtype=np.float64)
    if s.ndim != 3 or len(truths) != s.shape[0]:
        raise ValueError(f"similarity must be [videos, T, M] with one truth per video; got {s.shape} and "
                         f"{len(truths)} truths.")
    n_texts = s.shape[2]
    rows = []
    for i, truth in enumerate(truths):
        length = int(lengths[i])
        values = s[i, :length]
        for k, inside in sorted(action_masks(truth, length).items()):
            if k >= n_texts:
                raise ValueError(f"element type {k} of video {i} has no text node (the model has {n_texts}): the "
                                 "data's action vocabulary is not the model's prompt set.")
            if not inside.any() or inside.all():
                continue
            auc = column_auc(values, inside)
            own = values[:, k]
            top = own == own.max()
            rows.append({"video": i, "action": k, "clips inside": int(inside.sum()),
                         "inside": float(own[inside].mean()), "outside": float(own[~inside].mean()),
                         "gap": float(own[inside].mean() - own[~inside].mean()), "auc": float(auc[k]),
                         "auc other texts": float(np.delete(auc, k).mean()),
                         "top hit": float((top & inside).sum() / top.sum()), "uniform": float(inside.mean())})
    return pd.DataFrame(rows)


def localisation_summary(table: pd.DataFrame) -> dict[str, float]:
    """Means over the (video, action) rows of :func:`localisation_table`, with the references beside each."""
    if table.empty:
        raise ValueError("localisation_summary got no (video, action) pairs.")
    return {"pairs": float(len(table)), "inside": float(table["inside"].mean()),
            "outside": float(table["outside"].mean()), "gap": float(table["gap"].mean()),
            "AUC own text": float(table["auc"].mean()), "AUC other texts": float(table["auc other texts"].mean()),
            "top-clip hit rate": float(table["top hit"].mean()),
            "uniform reference": float(table["uniform"].mean())}


def graph_weight_deviation(weights: np.ndarray, lengths: np.ndarray) -> float:
    """Largest ``|w − 1/(L − 1 + M)|`` over the real clips of recorded MAG² text → clip weights
    ``[N, T, M]`` (the model's ``graph_weights``): 0 means every text node weighs the same on every clip, the
    uniform mean aggregation, so the graph itself localises nothing."""
    w = np.asarray(weights, dtype=np.float64)
    n_texts = w.shape[2]
    worst = 0.0
    for i, length in enumerate(np.asarray(lengths).astype(int)):
        uniform = 1.0 / (length - 1 + n_texts)
        worst = max(worst, float(np.abs(w[i, :length] - uniform).max()))
    return worst
