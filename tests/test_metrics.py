"""Metrics on hand-made cases (values worked out by hand in the comments)."""

import math

import numpy as np
import pytest

from aqa_lib import metrics


def test_rankdata_ties_get_average_rank():
    # values 10, 20, 20, 5 -> ranks 2, 3.5, 3.5, 1
    assert metrics.rankdata([10, 20, 20, 5]).tolist() == [2.0, 3.5, 3.5, 1.0]


def test_spearman_perfect_and_reversed():
    assert metrics.spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert metrics.spearman([1, 2, 3, 4], [40, 30, 20, 10]) == pytest.approx(-1.0)


def test_spearman_monotone_invariance():
    x = np.array([0.1, 0.5, 0.2, 0.9, 0.3])
    y = np.array([1.0, 3.0, 2.0, 5.0, 4.0])
    assert metrics.spearman(np.exp(x), y) == pytest.approx(metrics.spearman(x, y))


def test_spearman_hand_computed():
    # ranks of pred: 1,2,3,4,5; ranks of true: 2,1,4,3,5; d = -1,1,-1,1,0; sum d^2 = 4
    # rho = 1 - 6*4/(5*(25-1)) = 1 - 24/120 = 0.8
    assert metrics.spearman([1, 2, 3, 4, 5], [2, 1, 4, 3, 5]) == pytest.approx(0.8)


def test_spearman_with_ties_matches_pearson_of_average_ranks():
    # pred ranks 1.5,1.5,3,4 ; true ranks 1,2,3,4 -> pearson of these
    rp = np.array([1.5, 1.5, 3, 4]) - 2.5
    rt = np.array([1, 2, 3, 4]) - 2.5
    expected = (rp * rt).sum() / math.sqrt((rp**2).sum() * (rt**2).sum())
    assert metrics.spearman([7, 7, 8, 9], [1, 2, 3, 4]) == pytest.approx(expected)


def test_spearman_constant_prediction_is_nan():
    assert math.isnan(metrics.spearman([1, 1, 1], [1, 2, 3]))


@pytest.mark.parametrize(
    "pred,true,match",
    [([1, 2], [1, 2, 3], "2 values but targets have 3"), ([1], [1], "at least 2"),
     ([1, float("nan")], [1, 2], "NaN")],
)
def test_spearman_bad_input(pred, true, match):
    with pytest.raises(ValueError, match=match):
        metrics.spearman(pred, true)


def test_fisher_z_mean_hand_computed():
    # arctanh(0.5) = 0.549306, arctanh(0.8) = 1.098612; mean = 0.823959; tanh = 0.677219
    assert metrics.fisher_z_mean([0.5, 0.8]) == pytest.approx(0.677219, abs=1e-6)
    # differs from the arithmetic mean 0.65: the z-average weights high correlations more
    assert metrics.fisher_z_mean([0.5, 0.8]) > 0.65


def test_fisher_z_mean_symmetric_and_identity():
    assert metrics.fisher_z_mean([0.3, -0.3]) == pytest.approx(0.0)
    assert metrics.fisher_z_mean([0.42]) == pytest.approx(0.42)
    assert metrics.fisher_z_mean([1.0, 1.0]) == pytest.approx(1.0, abs=1e-6)


def test_fisher_z_mean_bad_input():
    with pytest.raises(ValueError, match="no correlations"):
        metrics.fisher_z_mean([])
    with pytest.raises(ValueError, match=r"\[-1, 1\]"):
        metrics.fisher_z_mean([1.5])
    with pytest.raises(ValueError, match="NaN"):
        metrics.fisher_z_mean([0.2, float("nan")])


def test_mse_on_original_scale():
    # normalised errors 0.1 and -0.2 with norm 25 -> errors 2.5 and -5 -> (6.25 + 25) / 2 = 15.625
    assert metrics.mse([0.5, 0.3], [0.4, 0.5], norm=25) == pytest.approx(15.625)
    with pytest.raises(ValueError, match="positive"):
        metrics.mse([0.1], [0.1], norm=0)


def test_relative_l2():
    # errors 1 and 3 over range 10 -> (0.01 + 0.09)/2 = 0.05
    assert metrics.relative_l2([1, 3], [2, 6], score_min=0, score_max=10) == pytest.approx(0.05)
    with pytest.raises(ValueError, match="must exceed"):
        metrics.relative_l2([1], [1], score_min=5, score_max=5)


def test_cumulative_score_curve():
    pred, true = [1.0, 2.0, 5.0, 9.0], [1.0, 3.0, 2.0, 10.0]  # abs errors 0, 1, 3, 1
    curve = metrics.cumulative_score(pred, true, [0, 0.5, 1, 2, 3])
    assert curve.tolist() == [0.25, 0.25, 0.75, 0.75, 1.0]
    with pytest.raises(ValueError, match="non-negative"):
        metrics.cumulative_score(pred, true, [-1])


def test_evaluate_returns_both():
    out = metrics.evaluate([0.1, 0.2, 0.3], [0.1, 0.3, 0.2], norm=10)
    assert set(out) == {"spearman", "mse"}
    assert out["mse"] == pytest.approx(((0.1 * 10) ** 2 * 2) / 3)
