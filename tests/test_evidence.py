"""Modality-evidence tool, and the synthetic default's calibration premises (ordering, not exact numbers)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from aqa_lib.data import get_spec
from aqa_lib.data.evidence import modality_evidence, pooled_features, spearman
from aqa_lib.data.synthetic import load_synthetic


@pytest.fixture(autouse=True)
def _cache(monkeypatch, tmp_path):
    monkeypatch.setenv("AQA_CACHE_DIR", str(tmp_path))


def test_spearman_matches_rank_correlation():
    a = np.array([1.0, 2.0, 2.0, 5.0, 7.0])
    b = np.array([3.0, 1.0, 4.0, 9.0, 8.0])
    ra, rb = pd.Series(a).rank(), pd.Series(b).rank()
    assert spearman(a, b) == pytest.approx(np.corrcoef(ra, rb)[0, 1])
    assert spearman(a, np.exp(a)) == pytest.approx(1.0)
    assert spearman(a, -a) == pytest.approx(-1.0)
    assert np.isnan(spearman(a, np.ones(5)))


def test_pooled_features_are_mean_and_std():
    data = load_synthetic(get_spec("fisv"), "TES", scale="smoke")
    pooled = pooled_features(data.train, "audio")
    assert pooled.shape == (len(data.train), 2 * 768)
    x = data.train.features["audio"][2]
    np.testing.assert_allclose(pooled[2], np.r_[x.mean(0), x.std(0)], rtol=1e-5, atol=1e-5)


def test_evidence_table_rows_and_real_data_has_no_oracle():
    data = load_synthetic(get_spec("fisv"), "PCS", scale="smoke")
    table = modality_evidence(data)
    assert list(table["features"]) == ["rgb", "flow", "audio", "all", "oracle"]
    assert np.isfinite(table["spearman"]).all()
    assert set(table.columns) >= {"features", "spearman", "alpha", "dim", "n_train", "n_test"}
    real_like = dataclasses.replace(
        data, source="real",
        train=dataclasses.replace(data.train, truth=None), test=dataclasses.replace(data.test, truth=None),
    )
    table = modality_evidence(real_like, modality_sets={"rgb+audio": ["rgb", "audio"]})
    assert list(table["features"]) == ["rgb+audio"]


def test_mtl_aqa_evidence_includes_text():
    data = load_synthetic(get_spec("mtl_aqa"), "score", scale="smoke")
    table = modality_evidence(data).set_index("features")
    assert {"rgb", "text", "all", "oracle"} <= set(table.index)
    assert table.loc["oracle", "spearman"] > 0.8


def test_calibration_ordering_premises():
    """Fis-V at quick scale (200 / 50 videos): the ordering the synthetic default is built to have."""
    spec = get_spec("fisv")
    for target in ("TES", "PCS"):
        data = load_synthetic(spec, target, scale="quick")
        table = modality_evidence(data).set_index("features")["spearman"]
        best_single = table[["rgb", "flow", "audio"]].max()
        assert table["oracle"] > table["all"] + 0.1, table
        assert table["oracle"] > 0.85, table
        assert table["all"] >= best_single - 0.05, table
        assert table["rgb"] > table["audio"], table
        assert table["audio"] < 0.6, table
        assert table["rgb"] > 0.4, table
