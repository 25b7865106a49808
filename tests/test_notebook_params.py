"""aqa_lib.notebook: parameter checks (misspelt names, list parameters given as text), thread policy, figure
file names, the smoke mark, the manifest, readable tables, and the RGB-only guidance."""

import csv
import json

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd
import pytest
import torch

from aqa_lib import notebook
from aqa_lib.notebook import (
    apply_thread_policy,
    check_params,
    figure_stem,
    injected_parameters,
    modality_guide,
    parse_list,
    readable,
    require_modalities,
    runnable_rows,
    save_figure,
    table_slug,
)

BASE = {"dataset": "fisv", "target": "all", "source": "synthetic", "data_root": "", "scale": "smoke",
        "seeds": [0], "epochs": 0, "device": "cpu"}


@pytest.fixture(autouse=True)
def _restore_context():
    saved = dict(notebook._CONTEXT)
    threads = torch.get_num_threads()
    yield
    notebook._CONTEXT.clear()
    notebook._CONTEXT.update(saved)
    torch.set_num_threads(threads)


@pytest.mark.parametrize("text,expected", [("[0, 1, 2]", [0, 1, 2]), ("(3, 4)", [3, 4]), ("0, 1", [0, 1]),
                                           ("0 1 2", [0, 1, 2]), (2, [2]), ([5], [5]), ((1, 2), [1, 2])])
def test_list_parameters_accept_what_papermill_passes(text, expected):
    assert parse_list("seeds", text) == expected


@pytest.mark.parametrize("bad", ["[0, 1", "[-1]", "[]", "abc", "[0.5]", True, None])
def test_bad_list_parameter_names_the_parameter_and_the_fix(bad):
    with pytest.raises(ValueError, match=r"seeds must be .*list of non-negative integers.*-p seeds"):
        parse_list("seeds", bad)


def test_check_params_reads_seeds_given_as_text_and_writes_resolved_values_back():
    namespace = {**BASE, "seeds": "[0, 1, 2]", "scale": "auto", "In": []}
    out = check_params({k: namespace[k] for k in BASE}, namespace=namespace)
    assert out["seeds"] == [0, 1, 2] and namespace["seeds"] == [0, 1, 2]
    assert namespace["scale"] == "smoke"  # AQA_SCALE=smoke in the test environment, or CI
    assert namespace["device"] == "cpu"


def test_papermill_injected_cell_is_found_in_the_kernel_history():
    history = ["", 'dataset = "fisv"\nseeds = [0]\n', '# Parameters\ndatset = "rg"\nseeds = "[0, 1]"\n',
               "params = check_params(...)"]
    assert injected_parameters({"In": history}) == ["datset", "seeds"]
    assert injected_parameters({}) == []


def test_misspelt_parameter_stops_naming_the_closest_one():
    namespace = {**BASE, "In": ["", "dataset = 'fisv'", '# Parameters\ndatset = "rg"\n'], "datset": "rg"}
    with pytest.raises(ValueError, match=r"Unknown parameter 'datset' \(did you mean 'dataset'\?\).*papermill"):
        check_params({k: namespace[k] for k in BASE}, namespace=namespace)
    # Without a papermill cell (an interactive re-run, or plain Python) leftovers are not parameters.
    namespace["In"] = ["", "dataset = 'fisv'", "results = []"]
    check_params({k: namespace[k] for k in BASE}, namespace=namespace)


def test_unknown_values_and_integers_fail_clearly():
    with pytest.raises(ValueError, match=r"Unknown source 'rael' \(did you mean 'real'\?\)"):
        check_params({**BASE, "source": "rael"})
    with pytest.raises(ValueError, match="epochs must be a non-negative integer"):
        check_params({**BASE, "epochs": -1})
    with pytest.raises(ValueError, match="data_root '/nowhere' does not exist"):
        check_params({**BASE, "source": "real", "data_root": "/nowhere"})


def test_thread_policy_is_one_thread_unless_aqa_threads(monkeypatch):
    monkeypatch.delenv("AQA_THREADS", raising=False)
    assert apply_thread_policy() == 1 and torch.get_num_threads() == 1
    monkeypatch.setenv("AQA_THREADS", "2")
    check_params(dict(BASE))
    assert torch.get_num_threads() == 2
    monkeypatch.setenv("AQA_THREADS", "many")
    with pytest.raises(ValueError, match="AQA_THREADS must be a positive integer"):
        apply_thread_policy()


def test_figure_stem_names_source_scale_seeds_only_when_not_default():
    assert figure_stem("t", {"source": "synthetic", "scale": "quick", "seeds": [0], "epochs": 0}) == "t"
    assert figure_stem("t", {"source": "real", "scale": "smoke", "seeds": [0, 1]}) == "t_real_smoke_seeds0-1"
    assert figure_stem("t", {"scale": "paper", "seed": 3, "epochs": 5}) == "t_paper_seed3_5ep"
    # Two runs that differ in source, scale or seeds never share a file.
    variants = [{"source": s, "scale": c, "seeds": d} for s in ("synthetic", "real") for c in ("smoke", "quick")
                for d in ([0], [0, 1])]
    assert len({figure_stem("t", v) for v in variants}) == len(variants)


def _figure():
    fig, ax = plt.subplots(figsize=(4, 2))
    ax.plot([0, 1], [0, 1])
    return fig


def test_save_figure_marks_smoke_stamps_scale_and_writes_the_manifest(tmp_path, monkeypatch):
    from aqa_lib.cache import code_version

    params = {**BASE, "seeds": [0, 1]}
    fig = _figure()
    path = save_figure(fig, "demo", provenance="SYNTHETIC data (test)", directory=tmp_path, params=params,
                       notebook="nb")
    assert path.name == "demo_smoke_seeds0-1.png" and path.stat().st_size > 0
    texts = [t.get_text() for t in fig.texts]
    assert any("numbers meaningless" in t for t in texts)
    assert any("SYNTHETIC data (test)" in t and "smoke scale" in t and "seeds 0, 1" in t for t in texts)
    quick = _figure()
    save_figure(quick, "demo", provenance="REAL features", directory=tmp_path, params={**params, "scale": "quick"},
                notebook="nb")
    assert not any("meaningless" in t.get_text() for t in quick.texts)
    save_figure(_figure(), "demo", provenance="SYNTHETIC data (test)", directory=tmp_path, params=params,
                notebook="nb")  # a re-run replaces its manifest row
    with (tmp_path / "manifest.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [r["figure"] for r in rows] == ["demo_seeds0-1.png", "demo_smoke_seeds0-1.png"]
    assert set(rows[0]) == {"figure", "notebook", "parameters", "code_version", "date"}
    assert rows[1]["notebook"] == "nb" and json.loads(rows[1]["parameters"])["seeds"] == [0, 1]
    assert rows[1]["code_version"] == code_version() and rows[1]["date"][:2] == "20"
    plt.close("all")


def test_save_figure_uses_what_check_params_resolved(tmp_path):
    check_params({**BASE, "seeds": "[0, 1]"}, notebook="demo_notebook")
    path = save_figure(_figure(), "ctx", provenance="SYNTHETIC data (test)", directory=tmp_path)
    assert path.name == "ctx_smoke_seeds0-1.png"
    assert "demo_notebook" in (tmp_path / "manifest.csv").read_text()
    with pytest.raises(ValueError, match="provenance"):
        save_figure(_figure(), "ctx", provenance=" ", directory=tmp_path)
    plt.close("all")


def test_readable_columns_for_display():
    frame = pd.DataFrame({"variant": ["a"], "distance_s": [1.0], "uniform_inside": [0.2], "other": [1]})
    assert list(readable(frame).columns) == ["variant", "distance to nearest element (s)",
                                             "share inside, evenly spread centres", "other"]


def test_rgb_only_guidance_names_the_notebooks_and_rows_that_run():
    rows = runnable_rows(["rgb"], "fisv")
    assert rows["ablation_modalities"] == ["LMAC-Net Table 7 row 'RGB'"]
    assert rows["pamfn_baselines"] == ["PAMFN Table IV row 'RGB'"]
    assert "GDLT" in rows["pamfn_main_results"] and "ablation_fusion" not in rows
    guide = modality_guide(["rgb"], "fisv")
    assert "lmac_main_results" in guide and "synthetic" in guide
    with pytest.raises(ValueError, match=r"(?s)needs the modalities \['rgb', 'flow', 'audio'\].*ablation_modalities"):
        require_modalities(["rgb", "flow", "audio"], ["rgb"], what="case_study")
    require_modalities(2, ["rgb", "flow"], what="x")


def test_table_slug_converts_roman_numerals():
    assert [table_slug(t) for t in ("tableIV", "tableVIII", "tableIX", "table5", "fig6")] == [
        "table4", "table8", "table9", "table5", "fig6"]


@pytest.mark.real_data
def test_three_modality_table_on_real_rgb_only_features_says_what_runs():
    import os
    from pathlib import Path

    shared = os.environ.get("AQA_SHARED_DATA")
    if not shared:
        pytest.skip("AQA_SHARED_DATA is not set")
    params = check_params({**BASE, "source": "real", "data_root": str(Path(shared) / "fisv" / "vst_fp16")})
    with pytest.raises(ValueError, match=r"(?s)No row of PAMFN Table V can run on this data.*"
                                         r"ablation_modalities: LMAC-Net Table 7 row 'RGB'.*pamfn_baselines"):
        notebook.run_paper_table("pamfn", "tableV", params)


def test_targets_parameter_and_the_targets_a_paper_table_prints():
    from aqa_lib.notebook import parse_targets, table_targets

    assert parse_targets("fs1000", "paper") == "paper"
    assert parse_targets("fs1000", "[TES, PCS]") == parse_targets("fs1000", ["TES", "PCS"]) == ["TES", "PCS"]
    assert parse_targets("rg", "all") == ["Ball", "Clubs", "Hoop", "Ribbon"]
    with pytest.raises(ValueError, match="Unknown target"):
        parse_targets("fs1000", "TES, XX")
    assert check_params({**BASE, "dataset": "fs1000", "targets": "TES PCS"})["targets"] == ["TES", "PCS"]
    assert table_targets("mlavl", "table5", "fs1000") == ["TES", "PCS"]
    assert table_targets("mlavl", "table5", "rg") == ["Ball", "Clubs", "Hoop", "Ribbon"]  # only RG-Avg. printed
    assert table_targets("mlavl", "supp_table4", "fs1000", ["PCS"]) == ["PCS"]


# ----- check_quoted: the numbers a notebook's text quotes from its default run -----

QUICK = {"scale": "quick", "seeds": [0], "source": "synthetic", "dataset": "mtl_aqa"}


def _at_params(monkeypatch, params):
    monkeypatch.setitem(notebook._CONTEXT, "params", dict(params))
    monkeypatch.setitem(notebook._CONTEXT, "notebook", "nb")


def test_check_quoted_holds_within_half_a_unit_of_the_last_printed_decimal(monkeypatch, capsys):
    _at_params(monkeypatch, {**QUICK, "device": "cpu"})
    table = notebook.check_quoted({"ρ": ("0.74", 0.7352), "error": ("\u22125.2", -5.23), "share (%)": ("26", 25.8)},
                                  at=QUICK)
    assert table["holds"].all()
    assert "are this run's" in capsys.readouterr().out


def test_check_quoted_names_each_stale_quote_and_warns(monkeypatch, capsys):
    _at_params(monkeypatch, QUICK)
    with pytest.warns(notebook.StaleTextWarning, match="1 of the 2 numbers"):
        table = notebook.check_quoted({"ρ": ("0.73", 0.7352), "MSE": ("292", 291.9)}, at=QUICK)
    assert list(table["holds"]) == [False, True]
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith(notebook.STALE_MARK)]
    assert lines == [f"{notebook.STALE_MARK} (nb): ρ: the text says 0.73, this run gives 0.7352"]


def test_check_quoted_checks_nothing_under_other_parameters(monkeypatch, capsys):
    _at_params(monkeypatch, {**QUICK, "scale": "smoke"})
    assert notebook.check_quoted({"ρ": ("0.73", 0.1)}, at=QUICK) is None
    assert "not checked" in capsys.readouterr().out
    with pytest.raises(ValueError, match="as the text prints it"):  # the quotes' form is checked at any scale
        notebook.check_quoted(lambda: {"ρ": ("0.7x", 0.1)}, at=QUICK)
    assert notebook.check_quoted(lambda: {"ρ": ("0.73", {}["missing"])}, at=QUICK) is None


def test_check_quoted_calls_a_function_of_the_quotes_and_reports_its_errors_as_stale_text(monkeypatch, capsys):
    _at_params(monkeypatch, QUICK)
    assert notebook.check_quoted(lambda: {"ρ": ("0.74", 0.7352)}, at=QUICK)["holds"].all()
    with pytest.warns(notebook.StaleTextWarning, match="could not be computed"):
        assert notebook.check_quoted(lambda: {"ρ": ("0.73", {}["missing"])}, at=QUICK) is None
    last = capsys.readouterr().out.splitlines()[-1]
    assert last.startswith(f"{notebook.STALE_MARK} (nb): the quoted numbers could not be computed: KeyError")


def test_check_quoted_rejects_quotes_that_are_not_numbers_and_non_finite_values(monkeypatch):
    _at_params(monkeypatch, QUICK)
    with pytest.raises(ValueError, match="as the text prints it"):
        notebook.check_quoted({"ρ": ("about 0.7", 0.7)}, at=QUICK)
    with pytest.raises(ValueError, match="not finite"):
        notebook.check_quoted({"ρ": ("0.7", float("nan"))}, at=QUICK)


def test_runner_lists_the_stale_lines_an_executed_notebook_printed(tmp_path):
    import nbformat

    from aqa_lib.runner import stale_quotes

    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("")
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout",
                                           text=f"ok\n{notebook.STALE_MARK} (nb): ρ: the text says 0.73\n")]
    nb.cells = [cell, nbformat.v4.new_markdown_cell(f"{notebook.STALE_MARK} in prose is not output")]
    nbformat.write(nb, tmp_path / "x.ipynb")
    assert stale_quotes(tmp_path / "x.ipynb") == [f"{notebook.STALE_MARK} (nb): ρ: the text says 0.73"]


def test_check_quoted_says_when_the_text_quotes_nothing_from_this_configuration(monkeypatch, capsys):
    _at_params(monkeypatch, QUICK)
    assert notebook.check_quoted(lambda: {}, at=QUICK) is None
    assert "quotes no number" in capsys.readouterr().out
