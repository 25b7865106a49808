"""Every command the README shows works: each ```bash line is parsed and validated (the notebook exists,
every -p name is a declared parameter, the values pass the notebook's own check), the benchmark commands
build their jobs, the real-data data_tour command runs at smoke scale, and the ```python snippet runs.

Paths of the real data in the README (``/data/fisv/vst_fp16``) are replaced by the shared copy
(``$AQA_SHARED_DATA``); the PAMFN-format RG folder (``/data/rg_feat``) by a tiny copy of that format. Tests
that need the real data skip when ``AQA_SHARED_DATA`` is unset.
"""

from __future__ import annotations

import ast
import io
import json
import os
import re
import runpy
import shlex
import subprocess
import sys
from contextlib import redirect_stdout
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
SHARED = os.environ.get("AQA_SHARED_DATA")
README_FISV = "/data/fisv/vst_fp16"
README_RG = "/data/rg_feat"


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.S)


def bash_commands() -> list[list[str]]:
    """Every command line of the README's bash blocks, split like a shell would (comments dropped)."""
    commands = []
    for block in _blocks("bash"):
        for line in block.replace("\\\n", " ").splitlines():
            words = shlex.split(line, comments=True)
            if words:
                commands.append(words)
    return commands


COMMANDS = bash_commands()


def _fisv_root() -> str:
    if not SHARED:
        pytest.skip("AQA_SHARED_DATA is not set (the real Fis-V features are needed)")
    return str(Path(SHARED) / "fisv" / "vst_fp16")


def _substitute(words: list[str]) -> list[str]:
    return [_fisv_root() if w == README_FISV else w for w in words]


def test_readme_shows_commands_of_every_kind():
    kinds = {c[0].rsplit("/", 1)[-1] for c in COMMANDS}
    assert {"make", "papermill", "python"} <= kinds, kinds
    assert len(_blocks("python")) >= 1


def test_no_command_is_left_unchecked():
    unknown = [c for c in COMMANDS if not (c[0] == "make" or c[0].endswith("papermill") or c[1:3] == ["-m", "aqa_lib.cache"]
                                           or (c[0].endswith("python") and c[1].startswith("benchmarks/")))]
    assert not unknown, f"README commands this test does not know how to check: {unknown}"


# ------------------------------------------------------------------------------------------------------------
# make
# ------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("words", [c for c in COMMANDS if c[0] == "make"], ids=" ".join)
def test_make_targets_exist(words):
    done = subprocess.run(["make", "-n", *words[1:]], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


# ------------------------------------------------------------------------------------------------------------
# papermill
# ------------------------------------------------------------------------------------------------------------

def _parameters_cell(nb) -> dict[str, object]:
    cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    return {t.id: ast.literal_eval(node.value) for node in ast.parse(cell.source).body for t in node.targets}


def _choices(nb) -> dict[str, list]:
    """The ``choices=`` the notebook passes to check_params (a literal dict)."""
    for cell in nb.cells:
        if cell.cell_type != "code" or "check_params(" not in cell.source:
            continue
        for node in ast.walk(ast.parse(cell.source)):
            if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "check_params":
                for kw in node.keywords:
                    if kw.arg == "choices":
                        return ast.literal_eval(kw.value)
                return {}
    raise AssertionError("the notebook never calls check_params")


def parse_papermill(words: list[str]) -> tuple[Path, dict[str, object]]:
    """(notebook, parameters) of a papermill command line, values typed as papermill's CLI types them."""
    from papermill.cli import _resolve_type

    args = words[1:]
    book, params, i = None, {}, 0
    while i < len(args):
        if args[i] in ("-p", "--parameters"):
            params[args[i + 1]] = _resolve_type(args[i + 2])
            i += 3
        elif args[i].startswith("-"):
            raise AssertionError(f"option {args[i]} not checked by this test")
        else:
            book = book or args[i]
            i += 1
    return ROOT / book, params


@pytest.mark.parametrize("words", [c for c in COMMANDS if c[0].endswith("papermill")], ids=" ".join)
def test_papermill_command_is_valid(words):
    from aqa_lib.notebook import check_params

    if README_FISV in words:
        words = _substitute(words)
    path, given = parse_papermill(words)
    assert path.exists(), f"README runs {path.name}, which does not exist"
    nb = nbformat.read(path, as_version=4)
    declared = _parameters_cell(nb)
    unknown = set(given) - set(declared)
    assert not unknown, f"{path.name} does not declare {sorted(unknown)}"
    values = {**declared, **given}
    injected = "# Parameters\n" + "".join(f"{k} = {v!r}\n" for k, v in given.items())
    check_params(values, choices=_choices(nb), namespace={"In": ["", injected], **values})


def test_the_readme_seeds_command_passes_the_list_as_text_and_the_notebook_reads_it():
    words = next(c for c in COMMANDS if c[0].endswith("papermill") and "seeds" in c)
    _, given = parse_papermill(words)
    assert given["seeds"] == "[0, 1, 2]"  # what papermill injects: a string
    from aqa_lib.notebook import check_params

    assert check_params({"seeds": given["seeds"]})["seeds"] == [0, 1, 2]


def test_readme_real_data_command_runs(tmp_path, monkeypatch):
    """The data_tour command on the real Fis-V features, executed by papermill at smoke scale (it used to end
    in a bare AssertionError)."""
    papermill = pytest.importorskip("papermill")
    words = next(c for c in COMMANDS if c[0].endswith("papermill") and "data_tour.ipynb" in c[1]
                 and README_FISV in c)
    path, given = parse_papermill(_substitute(words))
    monkeypatch.setenv("AQA_FIGURES_DIR", str(tmp_path / "figures"))
    out = tmp_path / "out.ipynb"
    papermill.execute_notebook(str(path), str(out), parameters={**given, "scale": "smoke"}, kernel_name="python3",
                               progress_bar=False, cwd=str(ROOT))
    text = "".join(o.get("text", "") for c in nbformat.read(out, as_version=4).cells for o in c.get("outputs", []))
    assert "data tour complete" in text
    assert sorted(p.name for p in (tmp_path / "figures").glob("data_tour_fisv_evidence*.png")) == [
        "data_tour_fisv_evidence_real_smoke.png"]


# ------------------------------------------------------------------------------------------------------------
# benchmarks
# ------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("words", [c for c in COMMANDS if c[1:3] == ["-m", "aqa_lib.cache"]], ids=" ".join)
def test_cache_command_runs(words, tmp_path, monkeypatch, capsys):
    import numpy as np

    from aqa_lib import cache

    monkeypatch.setenv("AQA_CACHE_DIR", str(tmp_path))
    cache.save("k", {"config": {"model": "lmac"}, "summary": {}, "history": {}, "meta": {}}, {"x": np.zeros(1)})
    assert cache.main(words[3:]) == 0
    assert "cache:" in capsys.readouterr().out


BENCHMARKS = [c for c in COMMANDS if c[0].endswith("python") and c[1] != "-m"]
LISTING = ("benchmarks/specialisation.py", "benchmarks/real_fisv_rgb.py")  # --list prints the jobs to train


@pytest.mark.parametrize("words", [c for c in BENCHMARKS if c[1] in LISTING], ids=" ".join)
def test_benchmark_command_builds_its_jobs(words, monkeypatch):
    words = _substitute(words)
    script = ROOT / words[1]
    assert script.exists()
    monkeypatch.setattr(sys, "argv", [str(script), *words[2:], "--list"])
    buffer = io.StringIO()
    with redirect_stdout(buffer):
        runpy.run_path(str(script), run_name="__main__")
    jobs = [json.loads(line) for line in buffer.getvalue().splitlines() if line.startswith("{")]
    seeds = words[words.index("--seeds") + 1:]
    seeds = [s for s in seeds[:next((i for i, s in enumerate(seeds) if s.startswith("--")), len(seeds))]]
    assert jobs and {j["seed"] for j in jobs} == {int(s) for s in seeds}
    assert all(j["source"] == "real" for j in jobs)


@pytest.mark.parametrize("words", [c for c in BENCHMARKS if c[1] not in LISTING], ids=" ".join)
def test_benchmark_command_parses(words):
    """The other benchmark commands: the script exists and its own parser accepts the README's options (what
    they measure is run by tests/test_benchmarks.py's dry run)."""
    script = ROOT / words[1]
    assert script.exists(), f"README runs {words[1]}, which does not exist"
    module = runpy.run_path(str(script), run_name="readme_check")
    module["build_parser"]().parse_args(words[2:])


# ------------------------------------------------------------------------------------------------------------
# python
# ------------------------------------------------------------------------------------------------------------

def test_python_snippets_run(tmp_path, capsys):
    from format_fixtures import pamfn_rg_release

    fisv = _fisv_root()
    rg = pamfn_rg_release(tmp_path)
    for block in _blocks("python"):
        code = block.replace(README_FISV, fisv).replace(README_RG, str(rg))
        exec(compile(code, "README.md", "exec"), {})  # noqa: S102 - the README's own snippet
    assert "SYNTHETIC" in capsys.readouterr().out
