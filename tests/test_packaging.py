"""Packaging stays honest: environment.yml lists exactly pyproject's dependencies; layout is as promised."""

import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _pyproject_deps() -> list[str]:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return data["project"]["dependencies"]


def _conda_pip_deps() -> list[str]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip = [d for d in env["dependencies"] if isinstance(d, dict) and "pip" in d]
    assert len(pip) == 1, "environment.yml needs exactly one pip: section"
    return [d for d in pip[0]["pip"] if not d.startswith("-e")]


def test_environment_yml_matches_pyproject():
    assert _conda_pip_deps() == _pyproject_deps(), (
        "environment.yml's pip list and pyproject.toml's dependencies drifted apart; make them identical."
    )


def test_environment_yml_python_311_and_installs_package():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert "python=3.11" in env["dependencies"]
    pip = next(d for d in env["dependencies"] if isinstance(d, dict))["pip"]
    assert "-e ." in pip


def test_torch_pinned_to_served_cpu_wheel_version():
    assert "torch==2.13.0" in _pyproject_deps()


def test_top_level_layout():
    for name in ["README.md", "environment.yml", "notebooks", "aqa_lib", "figures", "papers_tables", "tests"]:
        assert (ROOT / name).exists(), f"missing top-level {name}"


def test_license_file_matches_the_declared_license():
    """pyproject declares an SPDX license string (setuptools >= 77; the table form is deprecated and slated to
    stop building) and ships the LICENSE file it names."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert project["project"]["license"] == "MIT"
    assert project["project"]["license-files"] == ["LICENSE"]
    assert (ROOT / "LICENSE").read_text().startswith("MIT License")
    assert any(r.startswith("setuptools>=77") for r in project["build-system"]["requires"])


def test_readme_opens_with_the_two_commands():
    lines = (ROOT / "README.md").read_text().splitlines()[:25]
    fence = [i for i, line in enumerate(lines) if line.startswith("```")]
    assert len(fence) >= 2, "README must open with a code block holding the two commands"
    commands = [line.split("#")[0].strip() for line in lines[fence[0] + 1 : fence[1]]]
    assert commands == ["make", "make test"]


def test_ci_runs_exactly_the_readme_test_command():
    assert (ROOT / ".ci" / "run").read_text().strip().splitlines()[-1] == "make test"
