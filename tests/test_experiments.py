"""The experiment layer shared by the main-results notebooks: builders per variant and comparison runs."""

from __future__ import annotations

import math

import pytest
from format_fixtures import gdlt_fisv_release

from aqa_lib.experiments import (
    CONFIG_BUILDERS,
    baseline_config,
    builder_for,
    compare_table,
    comparison_runs,
    config_builder,
    config_for,
    lmac_config,
    pamfn_config,
)


@pytest.fixture(autouse=True)
def _fresh_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("AQA_CACHE_DIR", str(tmp_path / "cache"))


def test_builder_for_reads_the_recipe_and_rejects_unknown_names():
    """builder_for is config_for once the variant is known; the family wrappers give the same configs."""
    assert all(builder_for(n) is config_for for n in ("lmac/table7/rgb", "pamfn/branch/rgb", "gdlt", "umt"))
    assert builder_for("gdlt")("gdlt", "rg", "Hoop", scale="paper") == baseline_config("gdlt", "rg", "Hoop",
                                                                                         scale="paper")
    assert config_for("lmac/table7/rgb", "fisv", "TES") == lmac_config("lmac/table7/rgb", "fisv", "TES")
    assert config_for("pamfn", "rg", "Ball", scale="smoke", pretrain_epochs=1) == pamfn_config(
        "pamfn", "rg", "Ball", scale="smoke", stage1_epochs=1)
    assert CONFIG_BUILDERS["baselines"] is baseline_config and config_builder("pamfn") is pamfn_config
    with pytest.raises(ValueError, match="nope"):
        builder_for("nope")
    with pytest.raises(ValueError, match="No training recipes for paper 'nope'"):
        config_builder("nope")
    with pytest.raises(ValueError, match="not an LMAC-Net variant.*config_for"):
        lmac_config("gdlt", "fisv", "TES")


def test_comparison_on_rgb_only_data_substitutes_and_skips(tmp_path):
    """On an RGB-only release (GDLT format), PAMFN becomes its RGB branch and MSAF (RGB+flow+audio) is skipped."""
    feat = gdlt_fisv_release(tmp_path / "release")
    comp = comparison_runs(["pamfn", "gdlt", "msaf"], dataset="fisv", targets=["TES"], seeds=[0], scale="smoke",
                           source="real", data_root=str(feat), epochs=1, svr=False, progress=False)
    assert comp.trained == ["pamfn/branch/rgb", "gdlt"]
    assert comp.skipped == ["msaf"] and comp.substituted == {"pamfn": "pamfn/branch/rgb"}
    assert [r.config.model for r in comp.results] == ["pamfn/branch/rgb", "gdlt"]
    assert all(r.config.source == "real" for r in comp.results) and comp.fits == []
    assert comp.provenance.startswith("REAL features")


def test_comparison_fits_svr_per_target_and_seed_and_fills_the_table():
    comp = comparison_runs(["gdlt"], dataset="fisv", targets=["TES", "PCS"], seeds=[0, 1], scale="smoke",
                           epochs=1, progress=False)
    assert len(comp.results) == 4 and comp.skipped == []
    assert [(f["target"], f["seed"]) for f in comp.fits] == [("TES", 0), ("TES", 1), ("PCS", 0), ("PCS", 1)]
    table = compare_table(comp.results, "pamfn", "tableI", "fisv", numeric=True, fits=comp.fits)
    for method in ("GDLT", "C3D+SVR"):
        assert math.isfinite(table.loc[method, ("Avg.", "last")]), method
    assert table.loc["C3D+SVR", ("TES", "papers")] == table.loc["C3D+SVR", ("TES", "last")]


def test_comparison_with_nothing_runnable_names_the_modalities(tmp_path):
    feat = gdlt_fisv_release(tmp_path / "release")
    with pytest.raises(ValueError, match="at least one"):
        comparison_runs([], dataset="fisv", targets=["TES"], seeds=[0], scale="smoke")
    with pytest.raises(ValueError, match="rgb"):
        comparison_runs(["msaf"], dataset="fisv", targets=["TES"], seeds=[0], scale="smoke", source="real",
                        data_root=str(feat), svr=False, progress=False)


def test_compare_table_keeps_other_papers_ablation_rows_apart():
    """PAMFN's RGB branch and LMAC-Net's RGB-only variant are both labelled "RGB" in their own papers."""
    comp = comparison_runs(["lmac", "pamfn"], dataset="fisv", targets=["TES"], seeds=[0], scale="smoke",
                           epochs=1, svr=False, progress=False)
    lmac_rgb = comparison_runs(["lmac/table7/rgb", "pamfn/branch/rgb"], dataset="fisv", targets=["TES"],
                               seeds=[0], scale="smoke", epochs=1, svr=False, progress=False)
    results = comp.results + lmac_rgb.results
    table7 = compare_table(results, "lmac", "table7", "fisv", numeric=True)
    assert "pamfn/branch/rgb" in table7.index and "PAMFN" in table7.index
    ours = next(r for r in lmac_rgb.results if r.config.model == "lmac/table7/rgb")
    assert table7.loc["RGB", ("TES", "last")] == pytest.approx(ours.summary["last_spearman"])
    table4 = compare_table(results, "pamfn", "tableIV", "fisv", numeric=True)
    branch = next(r for r in lmac_rgb.results if r.config.model == "pamfn/branch/rgb")
    assert table4.loc["RGB", ("TES", "last")] == pytest.approx(branch.summary["last_spearman"])
    assert "lmac/table7/rgb" in table4.index


def test_variant_modalities_are_what_the_model_reads():
    from aqa_lib.experiments import RGB_ONLY, variant_modalities

    assert variant_modalities("mlavl", "fisv") == ("rgb", "audio")  # MLAVL reads no flow
    assert variant_modalities("lmac", "fisv") == ("rgb", "flow", "audio")
    assert variant_modalities("gdlt", "fisv") == ("rgb",)
    assert variant_modalities(RGB_ONLY["mlavl"], "fisv") == ("rgb",)
