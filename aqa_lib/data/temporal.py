"""How segment features change over a routine: the temporal-structure measures the generator is calibrated on.

Content-only attention (LMAC-Net's and TPT's decoders) can put its queries in temporal order only if a
segment's content says *where in the routine* it is. These measures compare real and synthetic features on
exactly that, per modality (issue 9 of the companion; the data tour's calibration table shows them):

- :func:`position_probe`: R² of a ridge regression predicting a segment's relative position ``t / T`` from
  that one segment's feature (PCA to 128 dimensions fitted on the training folds, every ``stride``-th
  segment, folds grouped by video so no video is in both the fit and the test). 0 = the features carry no
  position; 1 = position is readable from a single segment.
- :func:`autocorrelation`: the correlation of feature vectors ``lag`` segments apart (features centred by
  the mean over all segments of all videos, so a per-video offset counts as slow structure), pooled over
  videos, for lags 1, 4, 16 and 64 segments (1.3 s to 82 s).
- :func:`quarter_similarity`: the cosine similarity of a routine's mean feature over its first quarter and
  over its last quarter (centred as above), averaged over videos: 1 = a routine ends as it began.

Each returns its value with a spread (across folds or across videos), so a table can say whether synthetic
lands inside the real values' spread.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

LAGS = (1, 4, 16, 64)


def _check(videos: Sequence[np.ndarray], *, need: int = 2) -> list[np.ndarray]:
    out = [np.asarray(v, dtype=np.float32) for v in videos]
    if len(out) < need or any(v.ndim != 2 or len(v) == 0 for v in out):
        raise ValueError(f"Need at least {need} videos of [T, D] features, got {len(out)} "
                         f"with shapes {[v.shape for v in out[:3]]}...")
    return out


def position_probe(videos: Sequence[np.ndarray], *, folds: int = 5, stride: int = 3, n_components: int = 128,
                   alpha: float = 10.0, max_videos: int = 200, seed: int = 0) -> tuple[float, float]:
    """Mean and std over folds of the held-out R² of predicting ``t / T`` from one segment (module docstring)."""
    from sklearn.decomposition import PCA
    from sklearn.linear_model import Ridge
    from sklearn.metrics import r2_score

    vids = _check(videos, need=folds)
    rng = np.random.default_rng(seed)
    if len(vids) > max_videos:
        vids = [vids[i] for i in np.sort(rng.choice(len(vids), max_videos, replace=False))]
    xs, ys, groups = [], [], []
    for g, v in enumerate(vids):
        t = np.arange(0, len(v), stride)
        xs.append(v[t])
        ys.append((t + 0.5) / len(v))
        groups.append(np.full(len(t), g))
    x, y, group = np.concatenate(xs), np.concatenate(ys), np.concatenate(groups)
    order = rng.permutation(len(vids))
    scores = []
    for k in range(folds):
        test_videos = order[k::folds]
        test = np.isin(group, test_videos)
        pca = PCA(n_components=min(n_components, x.shape[1], int((~test).sum()) - 1), random_state=seed)
        z_train = pca.fit_transform(x[~test])
        model = Ridge(alpha=alpha).fit(z_train, y[~test])
        scores.append(r2_score(y[test], model.predict(pca.transform(x[test]))))
    return float(np.mean(scores)), float(np.std(scores))


def _centred(vids: list[np.ndarray]) -> list[np.ndarray]:
    mean = np.concatenate(vids).mean(axis=0)
    return [v - mean for v in vids]


def autocorrelation(videos: Sequence[np.ndarray], lags: Sequence[int] = LAGS) -> pd.DataFrame:
    """Per lag: the pooled correlation of centred features ``lag`` segments apart, and its std over videos."""
    vids = _centred(_check(videos))
    rows = []
    for lag in lags:
        per_video, num, den_a, den_b = [], 0.0, 0.0, 0.0
        for v in vids:
            if len(v) <= lag:
                continue
            a, b = v[:-lag], v[lag:]
            s_ab, s_aa, s_bb = float((a * b).sum()), float((a * a).sum()), float((b * b).sum())
            num, den_a, den_b = num + s_ab, den_a + s_aa, den_b + s_bb
            per_video.append(s_ab / np.sqrt(s_aa * s_bb))
        value = num / np.sqrt(den_a * den_b) if per_video else float("nan")
        rows.append({"lag": lag, "value": value, "spread": float(np.std(per_video)) if per_video else np.nan,
                     "videos": len(per_video)})
    return pd.DataFrame(rows)


def quarter_similarity(videos: Sequence[np.ndarray]) -> tuple[float, float]:
    """Mean and std over videos of cos(mean of the first quarter, mean of the last quarter), centred features."""
    sims = []
    for v in _centred(_check(videos)):
        q = max(1, len(v) // 4)
        a, b = v[:q].mean(axis=0), v[-q:].mean(axis=0)
        sims.append(float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-12)))
    return float(np.mean(sims)), float(np.std(sims))


def temporal_profile(videos: Sequence[np.ndarray], *, seed: int = 0) -> dict[str, tuple[float, float]]:
    """Every measure of this module for one modality: name -> (value, spread)."""
    out = {"position probe R²": position_probe(videos, seed=seed)}
    for row in autocorrelation(videos).itertuples():
        out[f"autocorrelation, lag {row.lag}"] = (float(row.value), float(row.spread))
    out["first vs last quarter cosine"] = quarter_similarity(videos)
    return out


REAL_FISV_VST: dict[str, tuple[float, float]] = {
    "position probe R²": (0.146, 0.035),
    "autocorrelation, lag 1": (0.715, 0.034),
    "autocorrelation, lag 4": (0.376, 0.067),
    "autocorrelation, lag 16": (0.205, 0.072),
    "autocorrelation, lag 64": (0.196, 0.081),
    "first vs last quarter cosine": (0.598, 0.176),
}
""":func:`temporal_profile` of the real Fis-V VST RGB features (all 500 released videos, seed 0): the values
the synthetic RGB is calibrated to (value, spread). A real-data test recomputes them from the release."""


def calibration_table(profiles: dict[str, dict[str, tuple[float, float]]],
                      reference: dict[str, tuple[float, float]] = REAL_FISV_VST,
                      reference_label: str = "real Fis-V VST RGB") -> pd.DataFrame:
    """Measured temporal profiles (column label -> :func:`temporal_profile`) beside a real reference, one row
    per measure; ``within real spread`` says, per column, whether the value lies within reference ± spread."""
    rows = []
    for measure, (ref, ref_spread) in reference.items():
        row: dict[str, object] = {"measure": measure, reference_label: f"{ref:.3f} ± {ref_spread:.3f}"}
        for label, profile in profiles.items():
            value, spread = profile[measure]
            inside = abs(value - ref) <= ref_spread
            row[label] = f"{value:.3f} ± {spread:.3f}" + ("" if inside else " (outside)")
        rows.append(row)
    return pd.DataFrame(rows).set_index("measure")
