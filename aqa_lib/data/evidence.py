"""Modality evidence: how much each modality tells a *simple* model, as a yardstick for real and synthetic data.

The tool fits a ridge regression on mean+std pooled segment features (the cheapest sequence model there is)
for each single modality and for all modalities together, trains it on the train split and reports
Spearman's rank correlation on the test split. On real Fis-V VST RGB features this gives about 0.63 (TES) /
0.81 (PCS) (``shared/data/README.md``); the synthetic default (:mod:`aqa_lib.data.synthetic`) is calibrated
against exactly this number, not against any paper's method.

For synthetic data an extra ``oracle`` row fits the same ridge on the generator's latent variables
(``truth[i]["latents"]``: sums of element difficulty × quality, synchrony, athlete level, ...). The oracle is
what a perfect perception model could reach; the gap between it and the feature rows is the room methods
have to differ. Its ceiling below 1 is the judges' noise.

Nothing here needs scipy: ranks come from :meth:`pandas.Series.rank` (average ranks for ties).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.linear_model import RidgeCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from .core import AQAData, DataError, Split

ALPHAS = np.logspace(-2, 5, 29)
"""Ridge penalties tried by :class:`~sklearn.linear_model.RidgeCV` (efficient leave-one-out on train)."""
TEXT = "text"
"""Name of the per-video text 'modality' (MTL-AQA commentary tokens) in the evidence table."""


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman's ρ = Pearson correlation of the (average-tie) ranks; NaN when either side is constant."""
    ra = pd.Series(np.asarray(a, dtype=np.float64)).rank().to_numpy()
    rb = pd.Series(np.asarray(b, dtype=np.float64)).rank().to_numpy()
    if ra.std() == 0 or rb.std() == 0:
        return float("nan")
    return float(np.corrcoef(ra, rb)[0, 1])


def _pool(arrays: Sequence[np.ndarray]) -> np.ndarray:
    return np.stack(
        [np.concatenate([a.mean(axis=0), a.std(axis=0)]) for a in (np.asarray(x, np.float32) for x in arrays)]
    ).astype(np.float32)


def pooled_features(split: Split, modality: str) -> np.ndarray:
    """Mean and standard deviation over time of every video's ``[T_i, D]`` features → ``[N, 2D]``.

    ``modality`` may also be ``"text"`` for per-video token features (pooled over tokens).
    """
    if modality == TEXT:
        if split.text is None:
            raise DataError("This split has no per-video text features.")
        return _pool(split.text)
    if modality not in split.features:
        raise DataError(f"Modality {modality!r} is not loaded; available: {list(split.features)}.")
    return _pool(split.features[modality])


def oracle_features(split: Split) -> np.ndarray:
    """The generator's per-video latent variables ``truth[i]["latents"]`` as an ``[N, K]`` matrix."""
    if split.truth is None:
        raise DataError("The oracle needs synthetic ground truth (split.truth is None for real data).")
    keys = sorted(split.truth[0]["latents"])
    return np.array([[float(t["latents"][k]) for k in keys] for t in split.truth], dtype=np.float64)


def _fit_ridge(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray) -> tuple[np.ndarray, float]:
    model = make_pipeline(StandardScaler(), RidgeCV(alphas=ALPHAS))
    model.fit(x_train, y_train)
    return model.predict(x_test), float(model[-1].alpha_)


def modality_evidence(
    data: AQAData, modality_sets: dict[str, Sequence[str]] | None = None, seed: int = 0
) -> pd.DataFrame:
    """Test Spearman of a pooled-feature ridge for each modality set (+ ``oracle`` for synthetic data).

    Args:
        data: a loaded dataset (one target).
        modality_sets: row name -> modalities whose pooled features are concatenated. Default: one row per
            loaded modality (plus ``text`` when the data has per-video text), and ``all`` (everything
            together) when there is more than one.
        seed: recorded in the table; the fit itself is deterministic (RidgeCV's leave-one-out over
            :data:`ALPHAS`, standardised features).

    Returns:
        DataFrame with columns ``features, spearman, alpha, dim, n_train, n_test, seed``.
    """
    if modality_sets is None:
        singles = list(data.train.modalities)
        if data.train.text is not None and data.test.text is not None:
            singles.append(TEXT)
        modality_sets = {m: [m] for m in singles}
        if len(singles) > 1:
            modality_sets["all"] = singles
    rows = []
    y_train = np.asarray(data.train.labels, dtype=np.float64)
    for name, mods in modality_sets.items():
        x_train = np.concatenate([pooled_features(data.train, m) for m in mods], axis=1)
        x_test = np.concatenate([pooled_features(data.test, m) for m in mods], axis=1)
        pred, alpha = _fit_ridge(x_train, y_train, x_test)
        rows.append({"features": name, "spearman": spearman(pred, data.test.labels), "alpha": alpha,
                     "dim": x_train.shape[1]})
    if data.train.truth is not None and data.test.truth is not None:
        pred, alpha = _fit_ridge(oracle_features(data.train), y_train, oracle_features(data.test))
        rows.append({"features": "oracle", "spearman": spearman(pred, data.test.labels), "alpha": alpha,
                     "dim": len(data.train.truth[0]["latents"])})
    table = pd.DataFrame(rows)
    table["n_train"], table["n_test"], table["seed"] = len(data.train), len(data.test), seed
    return table
