"""RunConfig.input_dim: features projected on the training split's principal subspace
(aqa_lib.data.core.principal_subspace) — by hand on a rank-2 example, fitted on the training split only,
deterministic, part of the cache key, and the model built on the projected width."""

from __future__ import annotations

import numpy as np
import pytest

from aqa_lib.data.core import AQAData, Split, principal_subspace


def _split(features: dict[str, list[np.ndarray]], n: int) -> Split:
    scores = np.linspace(1.0, 2.0, n)
    return Split(names=[f"v{i}" for i in range(n)], features=features, scores=scores, labels=scores / 2)


def _data(train: dict[str, list[np.ndarray]], test: dict[str, list[np.ndarray]]) -> AQAData:
    dims = {m: v[0].shape[1] for m, v in train.items()}
    return AQAData("fisv", "TES", "synthetic", 2.0, dims, _split(train, len(next(iter(train.values())))),
                   _split(test, len(next(iter(test.values())))), "toy data", "abc")


def test_rank_two_features_by_hand():
    rng = np.random.default_rng(0)
    basis = np.linalg.qr(rng.standard_normal((6, 2)))[0].T  # two orthonormal directions in 6-d
    mean = np.arange(6, dtype=np.float64)
    coords = [rng.standard_normal((5, 2)) * [3.0, 1.0] for _ in range(4)]  # more variance along basis[0]
    train = {"rgb": [(mean + c @ basis).astype(np.float32) for c in coords], "audio": [np.ones((5, 2), np.float32)] * 4}
    test = {"rgb": [(mean + basis[1] * 2.0)[None].astype(np.float32)], "audio": [np.ones((1, 2), np.float32)]}
    out = principal_subspace(_data(train, test), 2)
    assert out.modalities == {"rgb": 2, "audio": 2}
    assert out.train.features["audio"][0] is train["audio"][0]  # D <= dim: untouched
    x = np.concatenate(train["rgb"]).astype(np.float64)
    y = np.concatenate(out.train.features["rgb"]).astype(np.float64)
    # all the variance is kept (rank 2), distances are preserved and the first coordinate has the most variance
    assert out.meta["variance_kept"]["rgb"] == pytest.approx(1.0)
    d_raw = np.linalg.norm(x[:, None] - x[None], axis=-1)
    assert np.allclose(np.linalg.norm(y[:, None] - y[None], axis=-1), d_raw, atol=1e-4)
    assert y[:, 0].var() > y[:, 1].var() and np.allclose(y.mean(axis=0), 0, atol=1e-5)
    # the test video minus the training mean lies in the subspace: its length is kept
    t = out.test.features["rgb"][0][0]
    assert np.linalg.norm(t) == pytest.approx(np.linalg.norm(mean + 2 * basis[1] - x.mean(axis=0)), abs=1e-4)
    assert "rgb 6→2 (100 % of the variance)" in out.provenance and out.provenance.startswith("toy data")


def test_fitted_on_the_training_split_only_and_deterministic():
    rng = np.random.default_rng(1)
    train = {"rgb": [rng.standard_normal((7, 10)).astype(np.float32) for _ in range(5)]}
    test_a = {"rgb": [rng.standard_normal((3, 10)).astype(np.float32)]}
    test_b = {"rgb": [100 * rng.standard_normal((3, 10)).astype(np.float32)]}
    a, b = principal_subspace(_data(train, test_a), 4), principal_subspace(_data(train, test_b), 4)
    assert all(np.array_equal(u, v) for u, v in zip(a.train.features["rgb"], b.train.features["rgb"], strict=True))
    again = principal_subspace(_data(train, test_a), 4)
    assert np.array_equal(again.test.features["rgb"][0], a.test.features["rgb"][0])
    assert a.test.features["rgb"][0].dtype == np.float32 and a.test.features["rgb"][0].shape == (3, 4)


def test_bad_dimension_and_the_run_config_field(tmp_path, monkeypatch):
    rng = np.random.default_rng(2)
    data = _data({"rgb": [rng.standard_normal((4, 8)).astype(np.float32)] * 3},
                 {"rgb": [rng.standard_normal((4, 8)).astype(np.float32)]})
    for bad in (0, -3, 2.5):
        with pytest.raises(ValueError, match="input_dim must be a positive integer"):
            principal_subspace(data, bad)
    from aqa_lib.experiments import config_for
    from aqa_lib.train import load_data, run, run_identity, run_key

    cfg = config_for("lmac/table7/rgb", "fisv", "TES", scale="smoke")
    with pytest.raises(ValueError, match="input_dim must be a non-negative integer"):
        cfg.replace(input_dim=-1)
    small = cfg.replace(input_dim=16)
    assert run_key(small) != run_key(cfg)
    projected = load_data(small)
    assert projected.modalities["rgb"] == 16 and projected.train.features["rgb"][0].shape[1] == 16
    assert load_data(cfg).modalities["rgb"] == 1024
    assert run_identity(small)["settings"]["input_dim"] == 16
    monkeypatch.setenv("AQA_CACHE_DIR", str(tmp_path))
    result = run(small.replace(epochs=1))  # the engine builds the model on the projected width
    assert np.isfinite(result.summary["last_spearman"]) and "principal subspace" in result.meta["provenance"]
