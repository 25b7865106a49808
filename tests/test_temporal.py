"""Temporal-structure measures (hand-made cases) and the v3 generator's calibration against them."""

import numpy as np
import pytest

from aqa_lib.data import load
from aqa_lib.data.temporal import autocorrelation, position_probe, quarter_similarity, temporal_profile


def _videos(rng, n=40, lengths=(80, 140), dim=16):
    return [rng.standard_normal((int(rng.integers(*lengths)), dim)).astype(np.float32) for _ in range(n)]


def test_position_probe_sees_position_only_when_it_is_there():
    rng = np.random.default_rng(0)
    noise = _videos(rng)
    assert abs(position_probe(noise, n_components=8)[0]) < 0.05
    ramp = [v + 3 * ((np.arange(len(v))[:, None] + 0.5) / len(v)) for v in noise]  # position in every dim
    assert position_probe(ramp, n_components=8)[0] > 0.8


def test_autocorrelation_of_an_ar1_process():
    rng = np.random.default_rng(1)
    phi, vids = 0.8, []
    for _ in range(30):
        x = np.zeros((300, 8), dtype=np.float32)
        x[0] = rng.standard_normal(8)
        for t in range(1, 300):
            x[t] = phi * x[t - 1] + np.sqrt(1 - phi**2) * rng.standard_normal(8)
        vids.append(x)
    table = autocorrelation(vids, lags=(1, 4, 16))
    assert table["value"].tolist() == pytest.approx([phi, phi**4, phi**16], abs=0.04)


def test_quarter_similarity_constant_vs_reversing_routines():
    rng = np.random.default_rng(2)
    offsets = rng.standard_normal((20, 8))
    constant = [np.tile(o, (100, 1)) + 0.01 * rng.standard_normal((100, 8)) for o in offsets]
    assert quarter_similarity(constant)[0] > 0.99
    flip = [np.outer(np.linspace(1, -1, 100), o) for o in offsets]
    assert quarter_similarity(flip)[0] < -0.99
    with pytest.raises(ValueError, match="at least 2 videos"):
        quarter_similarity(constant[:1])


def test_synthetic_rgb_knows_where_in_the_routine_it_is():
    """Generator v3: a segment's RGB feature tells its place in the routine about as much as real VST features
    do (real Fis-V: probe R² 0.15 ± 0.04, lag-1 / lag-64 autocorrelation 0.72 / 0.20); v2's gave R² ≈ 0."""
    data = load("fisv", "TES", scale="smoke")
    profile = temporal_profile(data.train.features["rgb"] + data.test.features["rgb"])
    assert 0.05 < profile["position probe R²"][0] < 0.35
    assert 0.62 < profile["autocorrelation, lag 1"][0] < 0.8
    assert profile["autocorrelation, lag 64"][0] < 0.33


def test_element_order_conventions_in_figure_skating():
    data = load("fisv", "TES", scale="smoke")
    where: dict[str, list[float]] = {"jump": [], "spin": []}
    for video, truth in zip(data.train.features["rgb"], data.train.truth, strict=True):
        for name, start in zip(truth["element_name"], truth["element_start"], strict=True):
            for word in where:
                if word in name.lower():
                    where[word].append(start / len(video))
    assert len(where["jump"]) > 20 and len(where["spin"]) > 20
    assert np.mean(where["jump"]) + 0.15 < np.mean(where["spin"])


def test_calibration_table_marks_values_outside_the_real_spread():
    from aqa_lib.data.temporal import REAL_FISV_VST, calibration_table

    inside = {k: (v, 0.01) for k, (v, _) in REAL_FISV_VST.items()}
    outside = {k: (v + 2 * s + 0.01, 0.01) for k, (v, s) in REAL_FISV_VST.items()}
    table = calibration_table({"a": inside, "b": outside})
    assert list(table.index) == list(REAL_FISV_VST)
    assert not table["a"].str.contains("outside").any() and table["b"].str.contains("outside").all()


@pytest.mark.real_data
def test_real_reference_values_are_what_the_release_gives():
    import os
    from pathlib import Path

    from aqa_lib.data.temporal import REAL_FISV_VST

    root = os.environ.get("AQA_SHARED_DATA")
    if not root:
        pytest.skip("AQA_SHARED_DATA is not set")
    data = load("fisv", "TES", source="real", data_root=str(Path(root) / "fisv" / "vst_fp16"))
    measured = temporal_profile(data.train.features["rgb"] + data.test.features["rgb"])
    for name, (value, spread) in REAL_FISV_VST.items():
        assert measured[name][0] == pytest.approx(value, abs=0.002), name
        assert measured[name][1] == pytest.approx(spread, abs=0.002), name
