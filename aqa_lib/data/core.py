"""The data contract every source (real released features, embedded synthetic default) returns.

A loaded dataset is an :class:`AQAData`: a train and a test :class:`Split`, each holding variable-length
per-modality segment features (``[T_i, D]`` float32 arrays), raw scores, normalised labels and, for synthetic
data only, the latent ground truth the generator used. Everything downstream (models, training engine,
notebooks) reads only this structure, so swapping the synthetic default for real features changes nothing
but the numbers.

Length agreement between modalities: released feature sets of one video often differ by a segment or two
between extractors (different padding at the end of the video). :func:`align_lengths` truncates every
modality to the shortest when they differ by at most ``max(LENGTH_TOLERANCE_ABS, LENGTH_TOLERANCE_REL * T)``
segments (what the official PAMFN code does implicitly) and raises :class:`DataError` beyond that, since a
larger gap means the files belong to different videos or a different segmentation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

LENGTH_TOLERANCE_ABS = 2
LENGTH_TOLERANCE_REL = 0.02


class DataError(ValueError):
    """Bad input data: the message names the file or video and says how to fix it."""


@dataclass
class Split:
    """One split (train or test) of one target.

    Attributes:
        names: video identifiers, in label-file order.
        features: modality -> list of float32 arrays ``[T_i, D]`` (all modalities of a video share T_i).
        scores: raw scores on the dataset's original scale, shape ``[N]``.
        labels: normalised labels ``scores / norm``, shape ``[N]``.
        extras: further per-video columns (e.g. ``difficulty``, ``execution``, ``penalty`` for RG,
            ``dd`` for MTL-AQA, all other score columns), each shape ``[N]``.
        text: optional per-video text (commentary tokens) as token-feature arrays ``[L_i, D_text]``.
        truth: synthetic ground truth per video (None for real data); see
            :mod:`aqa_lib.data.synthetic` for its fields.
    """

    names: list[str]
    features: dict[str, list[np.ndarray]]
    scores: np.ndarray
    labels: np.ndarray
    extras: dict[str, np.ndarray] = field(default_factory=dict)
    text: list[np.ndarray] | None = None
    truth: list[dict[str, Any]] | None = None

    def __post_init__(self) -> None:
        n = len(self.names)
        if n == 0:
            raise DataError("Empty split: no videos were selected. Check the label file and the target.")
        for m, feats in self.features.items():
            if len(feats) != n:
                raise DataError(f"Modality {m!r} has {len(feats)} videos but the split has {n} names.")
        for key, arr in (("scores", self.scores), ("labels", self.labels), *self.extras.items()):
            if len(arr) != n:
                raise DataError(f"Column {key!r} has {len(arr)} entries but the split has {n} videos.")

    def __len__(self) -> int:
        return len(self.names)

    @property
    def modalities(self) -> tuple[str, ...]:
        return tuple(self.features)

    @property
    def lengths(self) -> np.ndarray:
        """Sequence length (segments) of every video, shape ``[N]``."""
        first = next(iter(self.features.values()))
        return np.array([len(x) for x in first], dtype=np.int64)

    def subset(self, index: np.ndarray | list[int]) -> Split:
        """A new Split with the videos at ``index`` (features are shared, not copied)."""
        idx = [int(i) for i in index]
        return Split(
            names=[self.names[i] for i in idx],
            features={m: [f[i] for i in idx] for m, f in self.features.items()},
            scores=self.scores[idx],
            labels=self.labels[idx],
            extras={k: v[idx] for k, v in self.extras.items()},
            text=None if self.text is None else [self.text[i] for i in idx],
            truth=None if self.truth is None else [self.truth[i] for i in idx],
        )

    def select_modalities(self, modalities: tuple[str, ...] | list[str]) -> Split:
        """A new Split keeping only ``modalities`` (raises DataError naming the missing ones)."""
        missing = [m for m in modalities if m not in self.features]
        if missing:
            raise DataError(
                f"Modalities {missing} are not loaded; available: {list(self.features)}."
            )
        return Split(
            names=self.names,
            features={m: self.features[m] for m in modalities},
            scores=self.scores,
            labels=self.labels,
            extras=self.extras,
            text=self.text,
            truth=self.truth,
        )


@dataclass
class AQAData:
    """A loaded dataset for one target: train/test splits plus what is needed to read results.

    Attributes:
        dataset, target: registry names.
        source: ``"synthetic"`` or ``"real"``.
        norm: normalisation constant (``labels = scores / norm``); predictions are multiplied back by it
            to compute MSE on the original scale, as all four papers do.
        modalities: modality -> feature dimension of what is loaded.
        train, test: the splits.
        prompts: MLAVL prompt set for the sport (names and embeddings) when requested, else None.
        provenance: a one-line label saying where the numbers come from; every table and figure built
            from this data must carry it.
        fingerprint: hash identifying the exact data (source files or generator config).
        meta: anything else (scale, seed, data_root, generator parameters).
    """

    dataset: str
    target: str
    source: str
    norm: float
    modalities: dict[str, int]
    train: Split
    test: Split
    provenance: str
    fingerprint: str
    prompts: Any = None
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def is_synthetic(self) -> bool:
        return self.source == "synthetic"


def check_features(array: np.ndarray, *, dim: int, what: str, fix: str) -> np.ndarray:
    """Validate one ``[T, D]`` feature array and return it as float32.

    Accepts any float dtype (released files are float32; our shipped copies may be float16). A 3-D
    ``[T, k, D]`` array (PAMFN's RGB with k crops) is averaged over k. Raises :class:`DataError` naming
    ``what`` and ``fix`` on a wrong rank or dimension, an empty sequence, or NaN/Inf values.
    """
    a = np.asarray(array)
    if a.dtype == object or not np.issubdtype(a.dtype, np.number):
        raise DataError(f"{what}: expected a numeric array, got dtype {a.dtype}. {fix}")
    if a.ndim == 3:
        a = a.astype(np.float32).mean(axis=1)
    if a.ndim != 2:
        raise DataError(f"{what}: expected shape [T, {dim}], got {tuple(a.shape)}. {fix}")
    if a.shape[1] != dim:
        raise DataError(
            f"{what}: feature dimension is {a.shape[1]}, expected {dim}. The file holds features of a "
            f"different backbone or modality. {fix}"
        )
    if a.shape[0] == 0:
        raise DataError(f"{what}: the sequence is empty (T = 0). {fix}")
    a = a.astype(np.float32, copy=False)
    if not np.isfinite(a).all():
        bad = int((~np.isfinite(a)).any(axis=1).sum())
        raise DataError(
            f"{what}: {bad} of {a.shape[0]} segments contain NaN or Inf. Re-extract the features or "
            f"remove the video from the label file. {fix}"
        )
    return a


def align_lengths(per_modality: dict[str, np.ndarray], *, video: str) -> dict[str, np.ndarray]:
    """Truncate a video's modalities to a common length within the documented tolerance.

    Raises :class:`DataError` when lengths differ by more than
    ``max(LENGTH_TOLERANCE_ABS, ceil(LENGTH_TOLERANCE_REL * max_len))`` segments.
    """
    lengths = {m: len(a) for m, a in per_modality.items()}
    lo, hi = min(lengths.values()), max(lengths.values())
    tol = max(LENGTH_TOLERANCE_ABS, math.ceil(LENGTH_TOLERANCE_REL * hi))
    if hi - lo > tol:
        raise DataError(
            f"Video {video!r}: modality lengths {lengths} differ by {hi - lo} segments (tolerance {tol}). "
            "The features were probably extracted with different segmentations or belong to different "
            "videos; re-extract them with one segment per 32 frames for every modality."
        )
    return {m: a[:lo] for m, a in per_modality.items()}


def normalise_labels(scores: np.ndarray, norm: float) -> np.ndarray:
    """Labels as the papers feed them: ``score / norm`` (float32)."""
    return (np.asarray(scores, dtype=np.float64) / norm).astype(np.float32)


def principal_subspace(data: AQAData, dim: int) -> AQAData:
    """``data`` with each modality's features replaced by their coordinates in the top-``dim`` principal
    subspace of that modality's **training** segments (ours: a ``quick``-scale economy, ``RunConfig.input_dim``).

    Per modality with ``D > dim``: the mean ``μ`` and the covariance of every training segment of every training
    video (products in float32, eigendecomposition in float64), its ``dim`` leading eigenvectors ``W`` ``[D, dim]`` (signs fixed so each column's largest
    entry is positive, for determinism across BLAS builds), and ``x ↦ (x − μ) W`` for train and test alike. ``W``
    is orthonormal and the features are not whitened: a linear layer on the new features is that layer on the
    raw features restricted to the subspace, which keeps most of the variance of correlated features (the
    synthetic ones and I3D / VST). Modalities with ``D ≤ dim`` are kept as they are. The test split never
    influences ``W`` or ``μ`` (a holdout carved out of the training split later does).
    """
    if not (isinstance(dim, int) and dim >= 1):
        raise ValueError(f"input_dim must be a positive integer (0 in RunConfig keeps the raw features), got {dim!r}.")
    features = {"train": dict(data.train.features), "test": dict(data.test.features)}
    dims, kept = dict(data.modalities), {}
    for m, d in data.modalities.items():
        if d <= dim:
            continue
        x = np.concatenate(data.train.features[m], axis=0)
        mean = x.mean(axis=0, dtype=np.float64)
        centred = x - mean.astype(np.float32)
        values, vectors = np.linalg.eigh((centred.T @ centred).astype(np.float64))  # float32 product, float64 eigh
        w = vectors[:, ::-1][:, :dim]
        w *= np.where(w[np.abs(w).argmax(axis=0), np.arange(dim)] < 0, -1.0, 1.0)
        kept[m] = float(values[::-1][:dim].sum() / max(values.sum(), 1e-12))
        for split in ("train", "test"):
            source = getattr(data, split).features[m]
            w32, mean32 = w.astype(np.float32), mean.astype(np.float32)
            features[split][m] = [(v - mean32) @ w32 for v in source]
        dims[m] = dim
    if not kept:
        return data
    from dataclasses import replace

    note = ", ".join(f"{m} {data.modalities[m]}→{dim} ({100 * v:.0f} % of the variance)" for m, v in kept.items())
    return replace(data, modalities=dims, train=replace(data.train, features=features["train"]),
                   test=replace(data.test, features=features["test"]),
                   provenance=f"{data.provenance}; features projected on their training principal subspace: {note}",
                   meta={**data.meta, "input_dim": dim, "variance_kept": kept})
