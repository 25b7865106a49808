"""AQA 101 (``notebooks/course/``, :mod:`aqa_lib.course`): lesson conventions, the student-copy exporter, the
exercise checks (a right answer passes, a wrong one fails with a message that says why), the small trainer.

The lessons themselves are executed by nbval (``make test`` runs ``pytest --nbval-lax notebooks``).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import jupytext
import nbformat
import numpy as np
import pytest
import torch

from aqa_lib import course
from aqa_lib.centres import attention_center
from aqa_lib.losses import ranking_loss, sparsity_loss
from aqa_lib.metrics import fisher_z_mean, spearman

ROOT = Path(__file__).resolve().parents[1]
COURSE = ROOT / "notebooks" / "course"
REQUIRED_PARAMETERS = {"dataset", "source", "data_root", "scale", "device", "solutions"}


def _code(nb):
    return [c for c in nb.cells if c.cell_type == "code"]


def _tags(cell):
    return cell.get("metadata", {}).get("tags", [])


def _lesson(stem):
    return nbformat.read(COURSE / f"{stem}.ipynb", as_version=4)


# ---------------------------------------------------------------------------------------------------------
# The lessons as committed
# ---------------------------------------------------------------------------------------------------------


def test_the_course_folder_holds_exactly_the_lessons_paired():
    assert {p.stem for p in COURSE.glob("*.ipynb")} == set(course.LESSONS)
    assert {p.stem for p in COURSE.glob("*.py")} == set(course.LESSONS)
    assert (COURSE / "README.md").exists()


@pytest.mark.parametrize("stem", course.LESSONS)
def test_lesson_pair_in_sync(stem):
    ipynb = jupytext.read(COURSE / f"{stem}.ipynb")
    script = jupytext.read(COURSE / f"{stem}.py")
    cells = lambda nb: [(c.cell_type, c.source.strip(), tuple(_tags(c))) for c in nb.cells]  # noqa: E731
    assert cells(ipynb) == cells(script), f"{stem}: run `jupytext --sync notebooks/course/{stem}.py`"


@pytest.mark.parametrize("stem", course.LESSONS)
def test_lesson_has_no_outputs(stem):
    dirty = [i for i, c in enumerate(_code(_lesson(stem))) if c.outputs or c.execution_count]
    assert not dirty, f"{stem}: code cells {dirty} carry outputs"


@pytest.mark.parametrize("stem", course.LESSONS)
def test_lesson_parameters_and_their_check(stem):
    nb = _lesson(stem)
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3"
    code = _code(nb)
    assert "parameters" in _tags(code[0]) and not any("parameters" in _tags(c) for c in code[1:])
    declared = {}
    for node in ast.parse(code[0].source).body:
        assert isinstance(node, ast.Assign), "the parameters cell holds only assignments"
        declared[node.targets[0].id] = ast.literal_eval(node.value)
        comment = code[0].source.splitlines()[node.lineno - 1].partition("#")[2]
        assert not set(comment) & set("='\""), f"{stem}: papermill cannot parse the comment {comment!r}"
    assert REQUIRED_PARAMETERS <= set(declared) and {"seed", "seeds"} & set(declared)
    assert declared["solutions"] is True, "the source keeps solutions = True (CI runs the solved lessons)"
    call = next(n for n in ast.walk(ast.parse(code[1].source))
                if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "check_params")
    assert {ast.literal_eval(k) for k in call.args[0].keys} == set(declared)
    keywords = {kw.arg: kw.value for kw in call.keywords}
    assert ast.unparse(keywords["namespace"]) == "globals()"
    assert ast.literal_eval(keywords["notebook"]) == f"course/{stem}"
    assert f'course.banner("{stem}", solutions)' in code[1].source
    assert code[-1].source.rstrip().endswith(f'course.lesson_complete("{stem}", solutions)')


def _defined(source):
    return {n.name for n in ast.parse(source).body if isinstance(n, ast.FunctionDef)}


@pytest.mark.parametrize("stem", course.LESSONS)
def test_every_exercise_is_stub_solution_check(stem):
    code = _code(_lesson(stem))
    solution_at = [i for i, c in enumerate(code) if course.SOLUTION_TAG in _tags(c)]
    assert len(solution_at) == len(course.EXERCISES[stem]), f"{stem}: one solution cell per exercise"
    checked = []
    for i in solution_at:
        stub, solution, check = code[i - 1], code[i], code[i + 1]
        assert any(m in stub.source for m in course.STUB_MARKERS) and course.SOLUTION_TAG not in _tags(stub)
        assert _defined(stub.source) == _defined(solution.source) != set(), "the solution replaces the stub's function"
        calls = re.findall(r"course\.(check_\w+)\((\w+)\)", check.source)
        assert calls and calls[0][1] in _defined(solution.source), f"{stem}: a check cell follows each solution"
        checked.append(getattr(course, calls[0][0]).exercise)
    assert [(lesson, number) for lesson, number, _ in checked] == [(stem, n) for n in course.EXERCISES[stem]]


# ---------------------------------------------------------------------------------------------------------
# The exporter
# ---------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    out = tmp_path_factory.mktemp("student")
    return out, course.export(out)


def test_export_writes_every_lesson_without_solutions(exported):
    out, written = exported
    assert sorted(p.name for p in written) == sorted(f"{s}.ipynb" for s in course.LESSONS)
    assert (out / "README.md").read_text() == (COURSE / "README.md").read_text()
    for path in written:
        nb = nbformat.read(path, as_version=4)
        nbformat.validate(nb)
        source = _lesson(path.stem)
        n_solutions = sum(course.SOLUTION_TAG in _tags(c) for c in source.cells)
        assert n_solutions > 0 and len(nb.cells) == len(source.cells) - n_solutions
        assert not [c for c in nb.cells if course.SOLUTION_TAG in _tags(c)]
        assert "formats" not in nb.metadata.get("jupytext", {}), "no jupytext pairing in a student's copy"
        params = _code(nb)[0]
        assert re.search(r"^solutions = False\b", params.source, re.M) and "solutions = True" not in params.source
        for cell in _code(nb):
            assert not cell.outputs and cell.execution_count is None
            ast.parse(cell.source)  # every code cell is still valid Python
        stubs = [c for c in _code(nb) if "raise NotImplementedError" in c.source]
        assert len(stubs) == len(course.EXERCISES[path.stem])


def test_export_with_solutions_keeps_them(tmp_path):
    (path,) = course.export(tmp_path, solutions=True, lessons=["04_fusion"])
    nb = nbformat.read(path, as_version=4)
    assert len(nb.cells) == len(_lesson("04_fusion").cells)
    assert re.search(r"^solutions = True\b", _code(nb)[0].source, re.M)


def test_export_refuses_unknown_lessons_and_the_source_folder(tmp_path):
    with pytest.raises(ValueError, match="Unknown lessons"):
        course.export(tmp_path, lessons=["06_nope"])
    with pytest.raises(ValueError, match="must not be the course's source folder"):
        course.export(COURSE)


def test_command_line_export(tmp_path, capsys):
    assert course.main(["export", "--out", str(tmp_path / "s"), "--only", "01_what_is_aqa"]) == 0
    assert (tmp_path / "s" / "01_what_is_aqa.ipynb").exists()
    assert "solutions removed" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        course.main(["export", "--out", str(tmp_path), "--only", "nope"])


def _run_until_first_check(nb, namespace):
    """Execute a lesson's code cells in order up to and including its first check cell."""
    for cell in _code(nb):
        exec(compile(cell.source, "<lesson cell>", "exec"), namespace)  # noqa: S102 - the lesson's own code
        if "course.check_" in cell.source:
            return
    raise AssertionError("no check cell")


def test_student_copy_fails_its_first_exercise_and_passes_once_solved(exported, monkeypatch, tmp_path):
    """Execute the exported lesson 1 (which trains nothing) up to its first check: the stub fails with the
    exercise's message; with the teacher's solution pasted into the student cell, the same cells pass."""
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("AQA_SCALE", "smoke")
    monkeypatch.setenv("AQA_FIGURES_DIR", str(tmp_path))
    out, _ = exported
    student = nbformat.read(out / "01_what_is_aqa.ipynb", as_version=4)
    course.reset("01_what_is_aqa")
    with pytest.raises(course.ExerciseError, match=r"Exercise 1\.1: dive_score is not written yet"):
        _run_until_first_check(student, {"__name__": "__main__"})
    assert course.passed("01_what_is_aqa") == set()
    solved = nbformat.from_dict(student)
    stub = next(c for c in _code(solved) if "raise NotImplementedError" in c.source)
    stub.source = next(c.source for c in _lesson("01_what_is_aqa").cells if course.SOLUTION_TAG in _tags(c))
    namespace = {"__name__": "__main__"}
    _run_until_first_check(solved, namespace)
    assert namespace["solutions"] is False and course.passed("01_what_is_aqa") == {"1.1"}


# ---------------------------------------------------------------------------------------------------------
# The checks: a right answer passes, a wrong one fails and says why
# ---------------------------------------------------------------------------------------------------------


def _np_spearman_without_ties(p, t):
    return float(np.corrcoef(np.argsort(np.argsort(p)), np.argsort(np.argsort(t)))[0, 1])


def _boot(pred, true, n_boot, level, seed, *, paired=True, quantiles=None):
    rng = np.random.default_rng(seed + 1)
    rhos = []
    for _ in range(n_boot):
        i = rng.integers(0, len(pred), len(pred))
        j = i if paired else rng.integers(0, len(pred), len(pred))
        rhos.append(spearman(pred[i], true[j]))
    q = quantiles or ((1 - level) / 2, (1 + level) / 2)
    return tuple(np.quantile(np.asarray(rhos)[np.isfinite(rhos)], q))


def _ridge(scale, alphas):
    from sklearn.linear_model import RidgeCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    def fit(x_train, y_train, x_test):
        steps = [StandardScaler()] if scale else []
        return make_pipeline(*steps, RidgeCV(alphas=alphas)).fit(x_train, y_train).predict(x_test)

    return fit


CASES = {  # check: (a right answer, a wrong answer, what the message must say)
    "check_dive_score": (lambda j, dd: dd * sum(sorted(j)[2:5]), lambda j, dd: dd * sum(j), "summed all seven"),
    "check_spearman": (spearman, _np_spearman_without_ties, "average rank"),
    "check_fisher_z": (fisher_z_mean, lambda r: float(np.mean(r)), "arithmetic mean"),
    "check_pool": (lambda x: np.r_[x.mean(0), x.std(0)], lambda x: np.r_[x.mean(0), x.std(0, ddof=1)], "ddof=0"),
    "check_ridge": (_ridge(True, np.logspace(-2, 5, 29)), _ridge(False, np.logspace(-2, 5, 29)), "Standardise"),
    "check_centres": (lambda a, n: attention_center(a, normalise=True, lengths=n),
                      lambda a, n: attention_center(a), "Divide by each video's length"),
    "check_ranking_loss": (lambda c, m: ranking_loss(c, 1.0, m, first_index=0.0),
                           lambda c, m: (c[:, :-1] - c[:, 1:] + m).clamp(min=0).sum(1).mean(), "boundary terms"),
    "check_sparsity_loss": (lambda a, n: sparsity_loss(a, lengths=n), lambda a, n: sparsity_loss(a), "length T_b"),
    "check_weighted_fusion": (lambda s, w: (s * w.softmax(-1)).sum(-1), lambda s, w: (s * w).sum(-1), "softmax"),
    "check_mean_abs_offset": (lambda o, a: np.abs(o[:, None] - a[None]).min(1).mean(),
                              lambda o, a: np.abs(o[:, None] - a[None]).mean(), "nearest accent"),
    "check_select_epoch": (lambda v, t: t[int(np.argmax(v))], lambda v, t: max(t), "best *test* epoch"),
    "check_bootstrap_ci": (lambda p, t, n, lv, s: _boot(p, t, n, lv, s),
                           lambda p, t, n, lv, s: _boot(p, t, n, lv, s, paired=False), "resample pairs"),
}


def test_every_exercise_has_a_tested_check():
    checks = {name for name in dir(course) if name.startswith("check_")}
    assert checks == set(CASES)
    assert sum(len(v) for v in course.EXERCISES.values()) == len(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_check_accepts_a_right_answer(name, capsys):
    right, _, _ = CASES[name]
    getattr(course, name)(right)
    assert "✓ Exercise" in capsys.readouterr().out


@pytest.mark.parametrize("name", sorted(CASES))
def test_check_rejects_a_wrong_answer_saying_why(name):
    _, wrong, hint = CASES[name]
    with pytest.raises(course.ExerciseError, match=re.escape(hint)) as info:
        getattr(course, name)(wrong)
    number = getattr(course, name).exercise[1]
    assert str(info.value).startswith(f"Exercise {number}:")


def test_bootstrap_check_rejects_a_90_percent_interval():
    with pytest.raises(course.ExerciseError, match="Too narrow"):
        course.check_bootstrap_ci(lambda p, t, n, lv, s: _boot(p, t, n, lv, s, quantiles=(0.05, 0.95)))


def test_checks_explain_stubs_missing_returns_and_non_functions():
    def stub(pred, true):
        raise NotImplementedError

    with pytest.raises(course.ExerciseError, match="not written yet"):
        course.check_spearman(stub)
    with pytest.raises(course.ExerciseError, match="forget the `return`"):
        course.check_spearman(lambda p, t: None)
    with pytest.raises(course.ExerciseError, match="replace the `...`"):
        course.check_spearman(...)
    with pytest.raises(course.ExerciseError, match="expected a function"):
        course.check_spearman(0.5)
    with pytest.raises(course.ExerciseError, match="raised ZeroDivisionError"):
        course.check_spearman(lambda p, t: 1 / 0)
    with pytest.raises(course.ExerciseError, match="torch tensor"):
        course.check_ranking_loss(lambda c, m: ranking_loss(c, 1.0, m, first_index=0.0).detach().item())


def test_lesson_complete_requires_every_exercise_with_solutions(capsys):
    course.reset("04_fusion")
    with pytest.raises(AssertionError, match=r"exercises \['4\.1', '4\.2'\]"):
        course.lesson_complete("04_fusion", True)
    assert course.lesson_complete("04_fusion", False) == ["4.1", "4.2"]
    course.check_weighted_fusion(CASES["check_weighted_fusion"][0])
    course.check_mean_abs_offset(CASES["check_mean_abs_offset"][0])
    assert course.lesson_complete("04_fusion", True) == []
    assert "2 of 2 exercises passed" in capsys.readouterr().out
    with pytest.raises(ValueError, match="Unknown lesson"):
        course.banner("06_nope", True)


# ---------------------------------------------------------------------------------------------------------
# The small trainer and the helpers
# ---------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def smoke_fisv():
    from aqa_lib.data import load

    return load("fisv", "TES", scale="smoke", modalities=["rgb", "audio"])


class _Pooled(torch.nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.linear = torch.nn.Linear(dim, 1)

    def forward(self, features, mask):
        x = features["rgb"] * mask[..., None]
        return self.linear(x.sum(1) / mask.sum(1, keepdim=True)).squeeze(-1), {"mask": mask}


def test_train_small_is_reproducible_and_adds_extra_losses(smoke_fisv):
    make = lambda: _Pooled(smoke_fisv.modalities["rgb"])  # noqa: E731
    a = course.train_small(make, smoke_fisv, epochs=2, modalities=["rgb"], seed=3)
    b = course.train_small(make, smoke_fisv, epochs=2, modalities=["rgb"], seed=3,
                           extra_loss=lambda aux, mask: {"zero": aux["mask"].float().sum() * 0.0})
    assert list(a.history["epoch"]) == [1, 2] and {"train_loss", "train_mse", "test_spearman"} <= set(a.history)
    assert "train_zero" in b.history and np.allclose(a.test_pred, b.test_pred)
    assert a.test_pred.shape == a.test_true.shape == (len(smoke_fisv.test),)
    assert np.isfinite(a.last) and a.best >= a.last
    with pytest.raises(ValueError, match="epochs"):
        course.train_small(make, smoke_fisv, epochs=0)


def test_shuffled_in_time_permutes_every_modality_alike(smoke_fisv):
    split = smoke_fisv.test
    shuffled = course.shuffled_in_time(split, seed=1)
    for i in range(len(split)):
        a, b = split.features["rgb"][i], shuffled.features["rgb"][i]
        assert not np.array_equal(a, b) and np.allclose(np.sort(a, axis=0), np.sort(b, axis=0))
        order = [int(np.flatnonzero((a == row).all(axis=1))[0]) for row in b]
        assert np.array_equal(shuffled.features["audio"][i], split.features["audio"][i][order])
    assert np.array_equal(shuffled.labels, split.labels)


def test_segment_targets_match_the_ground_truth(smoke_fisv):
    coverage, accents = course.segment_targets(smoke_fisv.train)
    truth, n = smoke_fisv.train.truth[0], smoke_fisv.train.lengths[0]
    assert coverage[0].shape == (n,) and accents[0].shape == (n, 3)
    assert np.isclose(coverage[0].sum(), np.minimum(np.asarray(truth["element_start"]) + truth["element_duration"],
                                                    n).sum() - np.asarray(truth["element_start"]).sum())
    times = np.asarray(truth["accent_times"])
    assert accents[0][:, 0].sum() == ((times >= 0) & (times < n)).sum()
    assert np.allclose(accents[0][:, 1] ** 2 + accents[0][:, 2] ** 2, accents[0][:, 0] ** 2)  # one accent per segment


def test_partial_correlation_removes_the_controls():
    rng = np.random.default_rng(0)
    z = rng.normal(size=(500, 1))
    noise = rng.normal(size=500)
    x, y = z[:, 0] + 0.1 * rng.normal(size=500), z[:, 0] + noise
    assert np.corrcoef(x, y)[0, 1] > 0.5 and abs(course.partial_correlation(x, y, z)) < 0.15
    assert course.partial_correlation(noise + z[:, 0], y, z) > 0.9
