"""Reported vs reproduced: seed aggregation, Fisher-z averages, joining with the paper's rows, bar plots."""

from types import SimpleNamespace

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from aqa_lib.metrics import fisher_z_mean
from aqa_lib.report import plot_bars, reproduced_rows, side_by_side, summary_column


def _run(model, target, seed, papers, last):
    return SimpleNamespace(
        config=SimpleNamespace(model=model, dataset="fisv", target=target, seed=seed),
        summary={"papers_spearman": papers, "last_spearman": last},
        meta={"provenance": "SYNTHETIC data (test): details"},
    )


RUNS = [_run("m", "TES", 0, 0.7, 0.6), _run("m", "PCS", 0, 0.8, 0.7),
        _run("m", "TES", 1, 0.5, 0.4), _run("m", "PCS", 1, 0.9, 0.8)]


def test_reproduced_rows_mean_std_and_fisher_z_average_per_seed():
    rows = reproduced_rows(RUNS).set_index(["target", "protocol"])
    assert rows.loc[("TES", "last"), "mean"] == pytest.approx(0.5)
    assert rows.loc[("TES", "last"), "std"] == pytest.approx(np.std([0.6, 0.4], ddof=1))
    per_seed = [fisher_z_mean([0.6, 0.7]), fisher_z_mean([0.4, 0.8])]
    assert rows.loc[("Avg.", "last"), "mean"] == pytest.approx(np.mean(per_seed))
    assert rows.loc[("Avg.", "last"), "n_seeds"] == 2
    assert set(rows["provenance"]) == {"SYNTHETIC data (test)"}


def test_side_by_side_keeps_reported_only_methods():
    reported = pd.DataFrame({"method": ["m", "other"], "target": ["TES", "TES"], "value": [0.75, 0.66],
                             "metric": ["spearman", "spearman"]})
    table = side_by_side(reported, reproduced_rows(RUNS), targets=["TES"], methods=["m", "other"])
    assert table.loc["m", ("TES", "reported")] == "0.750"
    assert table.loc["m", ("TES", "last")] == "0.500 ± 0.141"
    assert table.loc["other", ("TES", "last")] == "—"
    numeric = side_by_side(reported, reproduced_rows(RUNS), targets=["TES"], methods=["m", "other"], numeric=True)
    assert numeric.loc["m", ("TES", "papers")] == pytest.approx(0.6)
    assert np.isnan(numeric.loc["other", ("TES", "papers")])


def test_summary_column_and_bars():
    assert summary_column(["TES", "PCS"]) == "Avg." and summary_column(["Ball"]) == "Ball"
    fig, ax = plt.subplots()
    frame = pd.DataFrame({"reported": [0.7, np.nan], "papers": [0.6, 0.5], "last": [0.55, 0.45]})
    plot_bars(ax, frame)
    heights = [p.get_height() for p in ax.patches]
    assert len(heights) == 6 and heights[2:] == [0.6, 0.5, 0.55, 0.45]
    plt.close(fig)
