"""aqa_lib.experiments.vatp, the table notebooks' helpers: which rows and targets each table trains (at smoke
and above), the fine-tuning protocol per dataset, the comparison plans and their row labels, the
reported-vs-reproduced frame (every printed column, per-program averages, the ``here`` column and its
reasons), and the size measurements (parameters at the paper configuration, FLOPs of a model that reads
commentary)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from aqa_lib.experiments import config_for, table_variants
from aqa_lib.experiments.vatp import (
    ABLATION_TABLES,
    COMPARISON_TABLES,
    FIG5_ROWS,
    SMOKE_ROWS,
    comparison_plan,
    competitor_label,
    finetune_config,
    measure_vatp,
    parameter_counts,
    parse_rows,
    plan_table,
    printed_targets,
    reported_only_reason,
    row_label,
    run_plan,
    table_dataset,
    train_targets,
    uses_finetuning,
    vatp_comparison,
    vatp_config,
)
from aqa_lib.models.base import count_parameters, create_model


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


class _Run:
    """The parts of a RunResult the comparison reads."""

    def __init__(self, model: str, dataset: str, target: str, seed: int, papers: float, last: float) -> None:
        self.config = config_for(model, dataset, target, scale="smoke", seed=seed)
        self.summary = {"papers_spearman": papers, "last_spearman": last}
        self.meta = {"provenance": "SYNTHETIC data (test)", "n_params": 1000}


# ----- plans -----

def test_every_table_has_its_dataset_and_rows():
    for table in ABLATION_TABLES:
        plan = plan_table(table, scale="quick")
        assert plan.dataset == ("rg" if table in ("tableII", "fig5") else "mtl_aqa")
        assert plan.run == plan.rows and not plan.not_run
        assert plan.rows == (FIG5_ROWS if table == "fig5" else table_variants("vatp", table))
    assert table_dataset("tableII") == table_dataset("tableII", "rg") == "rg"
    with pytest.raises(ValueError, match="on rg, not mtl_aqa"):
        table_dataset("tableII", "mtl_aqa")
    with pytest.raises(ValueError, match="Unknown VATP-Net table"):
        table_dataset("tableXX")


def test_smoke_trains_a_baseline_and_the_full_model_on_the_first_target():
    for table in ABLATION_TABLES:
        plan = plan_table(table, scale="smoke")
        assert [n.rsplit("/", 1)[-1] for n in plan.run] == list(SMOKE_ROWS[table]), table
        assert len(plan.targets) == 1
        assert set(plan.not_run) == set(plan.rows.values()) - set(plan.run.values())
        assert all(why.startswith("not run at smoke") for why in plan.not_run.values())
    assert plan_table("tableII", scale="smoke").targets == ["Ball"]
    assert plan_table("tableII", scale="quick").targets == ["Ball", "Clubs", "Hoop", "Ribbon"]
    assert plan_table("tableII", scale="smoke", rows="all").targets == ["Ball", "Clubs", "Hoop", "Ribbon"]
    assert plan_table("tableII", scale="quick", target="Hoop").targets == ["Hoop"]


def test_rows_parameter_by_slug_name_or_label_and_as_papermill_text():
    assert parse_rows("[i3d_mlp, vatp]") == parse_rows("i3d_mlp vatp") == ["i3d_mlp", "vatp"]
    assert parse_rows("all") == "all" and parse_rows(["s2"]) == ["s2"]
    plan = plan_table("tableI", rows=["i3d_te", "vatp/tableI/i3d_pd", "I3D+TE+PD"], scale="smoke")
    assert list(plan.run) == ["vatp/tableI/i3d_te", "vatp/tableI/i3d_pd", "vatp/tableI/i3d_te_pd"]
    assert plan.not_run == {"I3D+MLP (baseline)": "not run: not in -p rows",
                            "I3D+TE+PD+CD (full)": "not run: not in -p rows"}
    with pytest.raises(ValueError, match=r"not a row of VATP-Net tableIII; its rows: s2, s3"):
        plan_table("tableIII", rows=["s9"])
    with pytest.raises(ValueError, match="rows must be"):
        parse_rows(3)


def test_printed_targets_and_training_targets():
    assert printed_targets("tableII") == ["Ball", "Clubs", "Hoop", "Ribbon", "Avg."]
    assert printed_targets("fig5") == printed_targets("tableX")
    assert printed_targets("tableXII") == ["SP-PCS", "SP-TES", "SP-Avg.", "FS-PCS", "FS-TES", "FS-Avg."]
    assert train_targets("tableXII", "finefs") == ["SP-TES", "SP-PCS", "FS-TES", "FS-PCS"]
    assert train_targets("tableI", "mtl_aqa") == ["score"]
    with pytest.raises(ValueError, match="Unknown target"):
        train_targets("tableII", "rg", "Rope")


# ----- fine-tuning -----

def test_finetuning_where_the_paper_does():
    assert uses_finetuning("vatp", "rg") and uses_finetuning("vatp/tableII/vst_te_pd", "fisv")
    assert uses_finetuning("vatp/tableVI/rgb", "finefs")
    assert not uses_finetuning("vatp/tableII/vst_te", "rg")  # no ParseFormer
    assert not uses_finetuning("vatp", "mtl_aqa") and not uses_finetuning("gdlt", "rg")
    tuned = vatp_config("vatp/tableII/vatp", "rg", "Ball", scale="smoke", seed=1)
    assert tuned == finetune_config("vatp/tableII/vatp", "rg", "Ball", scale="smoke", seed=1)
    plain = vatp_config("vatp/tableII/vatp", "rg", "Ball", finetune=False, scale="smoke", seed=1)
    assert plain == config_for("vatp/tableII/vatp", "rg", "Ball", scale="smoke", seed=1) and not plain.init_from
    assert vatp_config("vatp/tableII/vst_te", "rg", "Ball", scale="smoke") == config_for(
        "vatp/tableII/vst_te", "rg", "Ball", scale="smoke")
    assert not vatp_config("vatp/tableIX/w_dd", "mtl_aqa", "score", scale="smoke").init_from


def test_finetune_config_still_builds_the_mtl_aqa_source():
    cfg = finetune_config("vatp", "fisv", "TES", scale="smoke")
    (spec,) = cfg.init_from
    assert spec["into"] == "parse" and spec["run"]["dataset"] == "mtl_aqa" and spec["run"]["save_weights"]


# ----- comparison plans and labels -----

def test_row_labels_follow_the_papers_features():
    assert row_label("tableX", "rg", "GDLT") == "GDLT (VST)"  # printed on I3D and VST; our RG stands in for VST
    assert row_label("tableXI", "fisv", "VATP-Net") == "VATP-Net"
    assert row_label("tableXII", "finefs", "GDLT") == "GDLT"
    assert row_label("tableIX", "mtl_aqa", "GDLT") is None
    assert competitor_label("gdlt", "mtl_aqa", "tableIX") == "GDLT (ours; not in Table IX)"
    assert competitor_label("pamfn", "mtl_aqa", "tableIX") == "PAMFN, RGB only (ours; not in Table IX)"
    assert competitor_label("mlavl", "finefs", "tableXII") == "MLAVL, visual only (ours; not in Table XII)"
    assert competitor_label("lmac", "rg", "tableX") == "LMAC-Net (ours; not in Table X)"
    assert competitor_label("pamfn/branch/rgb", "fisv", "tableXI") == "PAMFN, RGB branch (ours; not in Table XI)"


def test_comparison_plans():
    mtl = comparison_plan("mtl_aqa", scale="quick")
    assert mtl.table == "tableIX" and mtl.vatp == {"vatp/tableIX/w_dd": "VATP-Net: w/ DD",
                                                   "vatp/tableIX/wo_dd": "VATP-Net: w/o DD"}
    assert mtl.competitors == ["gdlt", "pamfn", "lmac"] and not mtl.svr
    assert "no diving vocabulary" in mtl.not_run["MLAVL, visual only (ours; not in Table IX)"]
    rg = comparison_plan("rg", scale="quick")
    assert rg.vatp == {"vatp": "VATP-Net (VST)"} and rg.svr and rg.competitors == ["gdlt", "pamfn", "lmac", "mlavl"]
    assert rg.labels["gdlt"] == "GDLT (VST)" and rg.targets == ["Ball", "Clubs", "Hoop", "Ribbon"]
    smoke = comparison_plan("fisv", scale="smoke")
    assert smoke.competitors == ["gdlt"] and smoke.svr
    assert smoke.not_run["PAMFN (ours; not in Table XI)"].startswith("not run at smoke")
    alone = comparison_plan("fisv", baselines=False)
    assert alone.competitors == [] and not alone.svr and alone.not_run["C3D+SVR"] == "baselines False"
    assert {d: comparison_plan(d).table for d in COMPARISON_TABLES} == COMPARISON_TABLES
    with pytest.raises(ValueError, match="no comparison table on fs1000"):
        comparison_plan("fs1000")


# ----- reported vs reproduced -----

def test_reported_only_reasons():
    assert reported_only_reason("VATP-Net", "VST", "mtl_aqa") == "needs VST features of MTL-AQA (ours stand in for I3D)"
    assert reported_only_reason("GDLT", "I3D", "rg").startswith("needs I3D features of RG")
    assert reported_only_reason("CoFInAl", "VST", "rg") == "not re-implemented (another paper's method)"


def test_comparison_shows_every_printed_column_and_says_why_rows_are_empty():
    runs = [_Run("vatp/tableVII/i3d_bert", "mtl_aqa", "score", s, 0.5 + 0.1 * s, 0.4) for s in (0, 1)]
    frame = vatp_comparison(runs, "tableVII", not_run={"VATP-Net (I3D)": "not run at smoke (-p rows all trains it)"})
    assert list(frame.index) == ["I3D+MLP (baseline)", "GDLT", "VATP-Net (I3D)", "VATP-Net (VST)",
                                 "VATP-Net (VST+BERT)", "VATP-Net (I3D+BERT)"]
    here = frame[("here", "")]
    assert here["VATP-Net (I3D+BERT)"] == "trained" and here["VATP-Net (I3D)"].startswith("not run at smoke")
    assert here["VATP-Net (VST)"] == "reported only: needs VST features of MTL-AQA (ours stand in for I3D)"
    assert frame.loc["VATP-Net (I3D+BERT)", ("score", "papers")] == "0.550 ± 0.071"
    assert frame.loc["VATP-Net (I3D+BERT)", ("features", "")] == "I3D+BERT"
    assert frame.loc["VATP-Net (VST)", ("score", "last")] == "—"
    assert "features" not in vatp_comparison(runs, "tableI").columns.get_level_values(0)


def test_averages_only_over_every_target_they_average():
    per = {"SP-TES": 0.5, "SP-PCS": 0.7, "FS-TES": 0.3}
    runs = [_Run("vatp", "finefs", t, 0, v, v) for t, v in per.items()]
    numeric = vatp_comparison(runs, "tableXII", labels={"vatp": "VATP-Net"}, numeric=True)
    z = np.tanh(np.mean(np.arctanh([0.5, 0.7])))
    assert numeric.loc["VATP-Net", ("SP-Avg.", "last")] == pytest.approx(z)
    assert np.isnan(numeric.loc["VATP-Net", ("FS-Avg.", "last")])  # FS-PCS did not run
    assert numeric.loc["VATP-Net", ("SP-Avg.", "reported")] == pytest.approx(0.750)
    rg = [_Run("vatp", "rg", t, 0, 0.5, 0.5) for t in ("Ball", "Clubs")]
    assert np.isnan(vatp_comparison(rg, "tableX", labels={"vatp": "VATP-Net (VST)"}, numeric=True).loc[
        "VATP-Net (VST)", ("Avg.", "last")])


def test_fits_fill_the_svr_row_and_fig5_shows_table_x_reference():
    fits = [{"dataset": "rg", "target": "Ball", "seed": 0, "spearman": 0.42, "provenance": "SYNTHETIC"}]
    frame = vatp_comparison([], "tableX", "rg", fits=fits)
    assert frame.loc["C3D+SVR", ("Ball", "last")] == "0.420" and frame.loc["C3D+SVR", ("here", "")] == "trained"
    runs = [_Run("vatp/tableVI/rgb", "rg", "Ball", 0, 0.3, 0.2)]
    fig5 = vatp_comparison(runs, "fig5", labels=FIG5_ROWS)
    assert list(fig5.index) == ["VATP-Net (I3D)", "VATP-Net (VST)", "VATP-Net (VST), no semantic branch"]
    assert fig5.loc["VATP-Net (VST), no semantic branch", ("here", "")] == "trained"


# ----- size -----

def test_parameter_counts_at_the_paper_configuration():
    counts = parameter_counts(["vatp", "vatp/tableIV/blocks4", "vatp/tableVII/gdlt"])
    assert counts == {"vatp": 1_808_454, "vatp/tableIV/blocks4": 2_271_816, "vatp/tableVII/gdlt": 3_163_396}
    assert parameter_counts(["vatp"], paper_text=False) == {"vatp": 1_759_302}
    assert parameter_counts(["vatp", "vatp/tableII/vst_te"], "rg")["vatp"] == 1_775_686  # RG vocabulary, 512-d


def test_measure_a_model_that_reads_commentary_and_dd():
    dims = {"rgb": 24}
    model = create_model("vatp", in_dims=dims, d_model=16, n_heads=2, text_dim=12, use_dd=True)
    out = measure_vatp(model, dims, 6, text_length=5, repeats=1)
    assert out["params_m"] * 1e6 == pytest.approx(count_parameters(model))
    assert out["gflops"] > 0 and out["gmacs"] == pytest.approx(out["gflops"] / 2) and out["latency_ms"] > 0
    no_text = create_model("vatp/tableVI/rgb", in_dims=dims, d_model=16, n_heads=2)
    assert measure_vatp(no_text, dims, 6, repeats=1)["gflops"] < out["gflops"]
    gdlt = measure_vatp(create_model("gdlt", in_dims=dims, d_model=16, n_heads=2), dims, 6, repeats=1)
    assert gdlt["gflops"] > 0  # counted with gradients on: efficiency.measure's no_grad count fails on GDLT


# ----- the driver -----

def test_run_plan_fine_tunes_the_parseformer_rows_on_rg(monkeypatch):
    """run_plan builds one config per row × target × seed (fine-tuned where the paper fine-tunes) and hands
    them to the engine in one call (training itself: test_vatp.py and the notebooks under nbval)."""
    from aqa_lib import sweep

    seen = []

    def fake_run_many(configs, progress=True):
        seen.extend(configs)
        return [type("R", (), {"config": c, "cached": True, "summary": {"papers_spearman": 0.1, "last_spearman": 0.1},
                               "meta": {"provenance": "SYNTHETIC data (test)"}})() for c in configs]

    monkeypatch.setattr(sweep, "run_local", fake_run_many)  # what run_plan calls
    plan = plan_table("tableII", scale="smoke")
    params = {"scale": "smoke", "seeds": [0, 1], "source": "synthetic", "data_root": "", "device": "cpu", "epochs": 0}
    study = run_plan(plan, params, progress=False)
    assert [(c.model, c.target, c.seed) for c in seen] == [
        ("vatp/tableII/vst_te", "Ball", 0), ("vatp/tableII/vst_te", "Ball", 1),
        ("vatp/tableII/vatp", "Ball", 0), ("vatp/tableII/vatp", "Ball", 1)]
    assert [bool(c.init_from) for c in seen] == [False, False, True, True]
    assert seen[2] == finetune_config("vatp/tableII/vatp", "rg", "Ball", scale="smoke", seed=0)
    assert study.rows == plan.rows and study.targets == ["Ball"] and study.seeds == [0, 1]
    assert study.provenance == "SYNTHETIC data (test)"
    seen.clear()
    run_plan(plan, params, finetune=False, progress=False)
    assert not any(c.init_from for c in seen)
    frame = vatp_comparison(study.results, "tableII", labels=plan.run, not_run=plan.not_run)
    assert list(frame[("here", "")]) == ["trained", "not run at smoke (-p rows all trains it)", "trained"]
