"""Notebook conventions: paired with jupytext, output-free, parameters cell, clear errors on bad parameters.

Execution itself is tested by nbval (``make test`` runs ``pytest --nbval-lax notebooks``).
"""

import ast
from pathlib import Path

import jupytext
import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
SCRIPTS = sorted((ROOT / "notebooks").glob("*.py"))
REQUIRED_PARAMETERS = {"dataset", "source", "data_root", "scale", "device"}


def _cells(nb):
    return [(c.cell_type, c.source.strip()) for c in nb.cells]


def test_there_are_notebooks():
    assert NOTEBOOKS, "notebooks/ holds no .ipynb"


def test_every_notebook_is_paired():
    assert {p.stem for p in NOTEBOOKS} == {p.stem for p in SCRIPTS}, (
        "every notebooks/X.ipynb needs notebooks/X.py (py:percent) and vice versa; run `make sync-notebooks`"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_pair_in_sync(path):
    ipynb = jupytext.read(path)
    script = jupytext.read(path.with_suffix(".py"))
    assert _cells(ipynb) == _cells(script), f"{path.name} and its .py drifted apart; run `make sync-notebooks`"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_notebook_has_no_outputs(path):
    nb = nbformat.read(path, as_version=4)
    dirty = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and (c.outputs or c.execution_count)]
    assert not dirty, f"{path.name}: cells {dirty} carry outputs; commit sources only"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_parameters_cell(path):
    nb = nbformat.read(path, as_version=4)
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3"
    code = [c for c in nb.cells if c.cell_type == "code"]
    tagged = [c for c in code if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1 and tagged[0] is code[0], "the first code cell must be the only one tagged parameters"
    tree = ast.parse(tagged[0].source)
    names = set()
    for node in tree.body:
        assert isinstance(node, ast.Assign), "the parameters cell holds only assignments"
        ast.literal_eval(node.value)  # papermill needs literal defaults
        names |= {t.id for t in node.targets}
    missing = REQUIRED_PARAMETERS - names
    assert not missing, f"{path.name}: parameters cell lacks {sorted(missing)}"
    assert {"seed", "seeds"} & names


def test_unknown_parameter_value_fails_clearly(tmp_path):
    papermill = pytest.importorskip("papermill")
    with pytest.raises(papermill.PapermillExecutionError, match="Unknown dataset 'nope'"):
        papermill.execute_notebook(
            str(ROOT / "notebooks" / "data_tour.ipynb"), str(tmp_path / "out.ipynb"),
            parameters={"dataset": "nope", "scale": "smoke"}, kernel_name="python3", progress_bar=False,
        )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_parameter_comments_are_papermill_safe(path):
    """papermill cannot parse a parameter line whose comment holds '=' or quotes (it then warns the parameter
    is unknown); keep the comments plain."""
    nb = nbformat.read(path, as_version=4)
    cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    bad = [line for line in cell.source.splitlines() if "#" in line and any(ch in line.split("#", 1)[1]
                                                                             for ch in "='\"")]
    assert not bad, f"{path.name}: parameter comments with = or quotes: {bad}"


def test_misspelt_parameter_name_stops_the_notebook_naming_the_closest(tmp_path):
    """papermill only warns about ``-p datset rg`` and would run Fis-V; the notebook's check stops it."""
    papermill = pytest.importorskip("papermill")
    with pytest.raises(papermill.PapermillExecutionError,
                       match=r"Unknown parameter 'datset' \(did you mean 'dataset'\?\)"):
        papermill.execute_notebook(
            str(ROOT / "notebooks" / "data_tour.ipynb"), str(tmp_path / "out.ipynb"),
            parameters={"datset": "rg", "scale": "smoke"}, kernel_name="python3", progress_bar=False,
        )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_validates_every_parameter_and_its_names(path):
    """The cell after the parameters passes every declared parameter to check_params with namespace=globals(),
    so misspelt names are caught and list parameters given as text are read."""
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    declared = {t.id for node in ast.parse(code[0].source).body for t in node.targets}
    call = next(node for node in ast.walk(ast.parse(code[1].source))
                if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "check_params")
    passed = {ast.literal_eval(k) for k in call.args[0].keys}
    assert passed == declared, f"{path.name}: check_params misses {sorted(declared - passed)}"
    keywords = {kw.arg: kw.value for kw in call.keywords}
    assert ast.unparse(keywords["namespace"]) == "globals()"
    assert ast.literal_eval(keywords["notebook"]) == path.stem


def test_no_notebook_defines_functions_or_sets_threads():
    """Helpers live in aqa_lib (tested there); the thread policy lives in aqa_lib.notebook.apply_thread_policy."""
    for script in SCRIPTS:
        text = script.read_text()
        assert not [line for line in text.splitlines() if line.startswith("def ")], script.name
        assert "set_num_threads" not in text, script.name
