"""aqa_lib.runner (``make``'s main job): notebook discovery, parameter names, quiet kernels."""

import pytest

from aqa_lib import runner


def test_discover_filters_by_stem_and_rejects_unknown_names():
    books = runner.discover(["data_tour", "ablation_losses"])
    assert [p.stem for p in books] == ["data_tour", "ablation_losses"]
    with pytest.raises(SystemExit, match="Unknown notebooks"):
        runner.discover(["data_tuor"])


def test_accepted_parameters_reads_the_parameters_cell():
    names = runner.accepted_parameters(runner.discover(["ablation_losses"])[0])
    assert {"dataset", "seeds", "key_position", "scale"} <= names


def test_misspelt_parameter_stops_before_any_notebook_runs():
    books = runner.discover(["data_tour", "ablation_losses"])
    with pytest.raises(SystemExit, match=r"Unknown parameter 'datset' \(did you mean 'dataset'\?\)"):
        runner.check_names(books, {"datset": "rg"})
    runner.check_names(books, {"dataset": "rg", "seeds": [0, 1]})  # declared by at least one notebook


def test_main_parses_list_values_and_rejects_unknown_names_early(capsys):
    with pytest.raises(SystemExit, match="did you mean 'seeds'"):
        runner.main(["--only", "ablation_losses", "-p", "seedz", "[0, 1]"])
    assert runner._literal("[0, 1, 2]") == [0, 1, 2] and runner._literal("rg") == "rg"


def test_kernels_start_with_transport_encryption_so_ipykernel_does_not_warn():
    config = runner.quiet_kernel_config()
    assert config.KernelManager.transport_encryption == "auto"
