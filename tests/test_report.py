"""Reported vs reproduced: seed aggregation, Fisher-z averages, joining with the paper's rows, bar plots."""

from types import SimpleNamespace

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from aqa_lib.experiments import compare_table
from aqa_lib.metrics import fisher_z_mean
from aqa_lib.report import (
    fit_rows,
    plot_bars,
    plot_overview,
    plot_table_bars,
    reproduced_rows,
    side_by_side,
    summary_column,
)


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


def _fit(target, seed, rho):
    return {"dataset": "fisv", "target": target, "seed": seed, "spearman": rho,
            "provenance": "REAL features: test"}


FITS = [_fit("TES", 0, 0.6), _fit("PCS", 0, 0.8), _fit("TES", 1, 0.4), _fit("PCS", 1, 0.7)]


def test_fit_rows_fill_both_protocols_with_the_one_test_number():
    rows = fit_rows(FITS, method="C3D+SVR").set_index(["target", "protocol"])
    for protocol in ("papers", "last"):
        assert rows.loc[("TES", protocol), "mean"] == pytest.approx(0.5)
        assert rows.loc[("Avg.", protocol), "mean"] == pytest.approx(
            np.mean([fisher_z_mean([0.6, 0.8]), fisher_z_mean([0.4, 0.7])]))
    assert set(rows["provenance"]) == {"REAL features"}
    with pytest.raises(ValueError, match="lacks"):
        fit_rows([{"target": "TES", "spearman": 0.5}], method="C3D+SVR")


def test_compare_table_puts_fits_in_the_papers_svr_row():
    table = compare_table(RUNS[:2], "pamfn", "tableI", "fisv", numeric=True, fits=FITS)
    assert table.loc["C3D+SVR", ("TES", "reported")] == pytest.approx(0.400)  # PAMFN Table I's C3D+SVR row
    assert table.loc["C3D+SVR", ("TES", "last")] == pytest.approx(0.5)
    assert table.loc["C3D+SVR", ("PCS", "papers")] == pytest.approx(0.75)
    without = compare_table(RUNS[:2], "pamfn", "tableI", "fisv", numeric=True)
    assert np.isnan(without.loc["C3D+SVR", ("TES", "last")])


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


def test_plot_overview_stacks_groups_top_down():
    fig, ax = plt.subplots()
    a = pd.DataFrame({"reported": [0.7, 0.6], "papers": [0.5, 0.4], "last": [0.45, 0.35]}, index=["A", "B"])
    b = pd.DataFrame({"reported": [0.8], "papers": [0.75], "last": [0.72]}, index=["Ours"])
    overview = plot_overview(ax, [a, b])
    assert list(overview.index) == ["A", "B", "Ours"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["Ours", "B", "A"]  # first row at the top
    widths = {round(p.get_width(), 2): p.get_y() + p.get_height() / 2 for p in ax.patches}
    assert widths[0.7] > widths[0.8]  # A's reported bar sits above Ours' reported bar
    separators = [line for line in ax.lines if line.get_linestyle() == ":"]
    assert len(separators) == 1
    plt.close(fig)


def test_plot_table_bars_draws_only_rows_we_ran():
    fig, ax = plt.subplots()
    numeric = pd.DataFrame({("Avg.", "reported"): [0.7, 0.8], ("Avg.", "papers"): [0.6, np.nan],
                            ("Avg.", "last"): [0.5, np.nan]}, index=["Ours row", "Reported-only row"])
    rows = plot_table_bars(ax, numeric, "Avg.", short=lambda m: m.split()[0], rotation=20)
    assert rows == ["Ours row"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["Ours"]
    assert ax.get_ylabel() == "Spearman ρ (Avg.)"
    plt.close(fig)


def test_announce_runs_prints_provenance_and_cache_hits(capsys):
    from aqa_lib.notebook import announce_runs

    runs = [SimpleNamespace(meta={"provenance": "SYNTHETIC data (test)"}, cached=c) for c in (True, False, True)]
    assert announce_runs(runs) == "SYNTHETIC data (test)"
    assert capsys.readouterr().out.splitlines() == ["SYNTHETIC data (test)", "3 runs, 2 from the cache"]
    with pytest.raises(ValueError, match="no runs"):
        announce_runs([])


def test_legends_name_the_protocols_and_sit_outside_the_axes():
    from aqa_lib.report import NUMBER_LABELS

    fig, ax = plt.subplots()
    plot_bars(ax, pd.DataFrame({"reported": [0.7], "papers": [0.6], "last": [0.5]}))
    legend = ax.get_legend()
    assert [t.get_text() for t in legend.get_texts()] == [
        NUMBER_LABELS["reported"], "best test epoch (papers' protocol)", "last epoch"]
    fig.canvas.draw()
    box, axes_box = legend.get_window_extent(), ax.get_window_extent()
    assert box.x0 >= axes_box.x1  # right of the axes: it cannot cover a bar
    plt.close(fig)


def test_near_zero_bars_are_labelled_so_they_do_not_look_missing():
    fig, ax = plt.subplots()
    plot_bars(ax, pd.DataFrame({"reported": [0.7, 0.6], "papers": [0.5, 0.001], "last": [0.4, np.nan]}))
    labels = [t.get_text() for t in ax.texts]
    assert labels == ["0.00"]  # the near-zero bar; a missing (NaN) number draws and labels nothing
    plt.close(fig)


def test_groups_order_rows_and_label_the_dotted_separators():
    fig, ax = plt.subplots()
    numeric = pd.DataFrame({("Avg.", "reported"): [0.6, 0.7, 0.8, 0.5], ("Avg.", "papers"): [0.5, 0.6, 0.7, np.nan],
                            ("Avg.", "last"): [0.4, 0.5, 0.6, np.nan]}, index=["b1", "a1", "a2", "not run"])
    rows = plot_table_bars(ax, numeric, "Avg.", groups=[("A", ["a1", "a2"]), ("B", ["b1", "not run"])])
    assert rows == ["a1", "a2", "b1"]
    separators = [line for line in ax.lines if line.get_linestyle() == ":"]
    assert len(separators) == 1 and separators[0].get_xdata()[0] == pytest.approx(1.5)
    assert {t.get_text() for t in ax.texts} == {"A", "B"}
    plt.close(fig)


def test_paper_rows_keep_the_papers_rows_with_their_features():
    from aqa_lib.experiments import rows_from_tables
    from aqa_lib.report import paper_rows

    table = compare_table(RUNS, "pamfn", "tableI", "fisv", fits=FITS)
    rows = paper_rows(table, "pamfn", "tableI", "fisv", features=True)
    assert "m" not in rows.index and "C3D+SVR" in rows.index
    assert rows.loc["C3D+SVR", ("features", "")] == "C3D"
    picked = rows_from_tables(RUNS, "fisv", {"SVR": ("pamfn", "tableI", "C3D+SVR"), "RGB branch":
                                             ("pamfn", "tableIV", "RGB")}, fits=FITS, numeric=True)
    assert list(picked.index) == ["SVR", "RGB branch"]
    assert picked.loc["RGB branch", ("TES", "reported")] == pytest.approx(0.665)
    with pytest.raises(ValueError, match="has no row 'nope'"):
        rows_from_tables(RUNS, "fisv", {"x": ("pamfn", "tableI", "nope")})


def test_table_study_bar_chart_is_saved_with_provenance_and_paper_name(tmp_path, monkeypatch):
    from aqa_lib.notebook import TableStudy

    monkeypatch.setenv("AQA_FIGURES_DIR", str(tmp_path))
    runs = [_run("pamfn/tableVII/ranked", t, 0, 0.5, 0.4) for t in ("TES", "PCS")]
    study = TableStudy("pamfn", "tableVII", "fisv", ["TES", "PCS"], [0],
                       {"pamfn/tableVII/ranked": "Ranked FusionNets (Ours)"}, runs, "SYNTHETIC data (test)")
    assert study.title == "PAMFN Table VII (fisv)" and study.summary == "Avg." and study.ran == ["pamfn/tableVII/ranked"]
    fig = study.bar_chart()
    assert (tmp_path / "manifest.csv").exists()
    saved = [p.name for p in tmp_path.glob("pamfn_table7_fisv*.png")]
    assert len(saved) == 1
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["Ranked FusionNets (Ours)"]
    assert any("SYNTHETIC data (test)" in t.get_text() for t in fig.texts)
    plt.close(fig)


def test_reproduced_rows_of_another_metric_average_arithmetically():
    runs = [SimpleNamespace(config=r.config, summary={**r.summary, "papers_mse": 10.0 * i, "last_mse": 20.0 * i},
                            meta=r.meta) for i, r in enumerate(RUNS, start=1)]
    rows = reproduced_rows(runs, metric="mse").set_index(["target", "protocol"])
    assert rows.loc[("TES", "last"), "mean"] == pytest.approx((20 + 60) / 2)
    assert rows.loc[("Avg.", "papers"), "mean"] == pytest.approx(np.mean([(10 + 20) / 2, (30 + 40) / 2]))


def test_paper_comparison_keeps_feature_sets_apart_and_marks_reported_only_rows():
    from aqa_lib.report import paper_comparison

    run = SimpleNamespace(config=SimpleNamespace(model="gdlt", dataset="rg", target="Ball", seed=0),
                          summary={"papers_spearman": 0.5, "last_spearman": 0.4, "papers_mse": 9.0, "last_mse": 8.0},
                          meta={"provenance": "SYNTHETIC data (test): details"})
    table = paper_comparison([run], "mlavl", "table3", "rg", status=True, features=True)
    assert {"MS-LSTM (I3D)", "MS-LSTM (VST)"} <= set(table.index) and "MS-LSTM" not in table.index
    assert list(table.columns.get_level_values(0).unique()) == ["here", "features", "Ball"]  # no Avg. of one target
    assert table.loc["GDLT", ("here", "")] == "trained" and table.loc["QTD", ("here", "")] == "reported only"
    assert table.loc["MS-LSTM (VST)", ("features", "")] == "VST"
    mse = paper_comparison([run], "mlavl", "table3", "rg", metric="mse", numeric=True)
    assert mse.loc["GDLT", ("Ball", "last")] == pytest.approx(8.0)
    rl2 = paper_comparison([], "mlavl", "table4", "logo", metric="r_l2_x100", numeric=True)
    assert rl2.loc["GDLT: Native", ("score", "reported")] > 0
