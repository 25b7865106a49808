"""AQA 101, the course in ``notebooks/course/``: exercise checks, a small trainer, and the student-copy exporter.

The five lessons (:data:`LESSONS`) each hold a few exercises. An exercise is three cells in the lesson's
``py:percent`` source:

1. the **student cell**: a function (or value) to write, whose body is a stub (``raise NotImplementedError``
   or ``...``);
2. the **solution cell**, tagged ``solution`` (``# %% tags=["solution"]``), right after it: the worked answer;
3. the **check cell**: ``course.check_<name>(answer)``, which runs the answer on hidden cases, compares it
   with the library's reference implementation and either prints ``✓ Exercise n.m ...`` or raises
   :class:`ExerciseError` (an ``AssertionError``) saying what is wrong and how to fix it. An unsolved stub
   fails with "not written yet".

``python -m aqa_lib.course export --out DIR`` writes the student notebooks (:func:`export`): every solution
cell removed, the parameter ``solutions = False``, outputs cleared, the jupytext pairing dropped (so a
student's Jupyter does not write ``.py`` files beside them). ``--solutions`` keeps the solution cells (a
teacher's copy, ``solutions = True``). The sources in ``notebooks/course/`` keep the solutions so CI executes
solved lessons.

What ``solutions`` changes when a lesson runs: the banner says which copy it is, and the lesson's last
cell (:func:`lesson_complete`) asserts, for a copy with solutions, that every exercise of the lesson was
checked and passed (so CI notices an exercise whose check was removed or renamed); a student copy prints
the student's score instead.

:func:`train_small` is the course's small training loop (random crops, AdamW, cosine schedule, test
Spearman every epoch) for the models written inside the lessons; the library's own models are trained by
:mod:`aqa_lib.train`.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

LESSONS = ("01_what_is_aqa", "02_simple_baselines", "03_query_decoders", "04_fusion", "05_evaluation_honesty")
"""The lessons, in teaching order (file stems in ``notebooks/course/``)."""
SOLUTION_TAG = "solution"
"""Cell tag of a worked solution (removed from the student copy)."""
STUB_MARKERS = ("raise NotImplementedError", "...")
"""What a student cell's stub contains (at least one of these)."""

EXERCISES: dict[str, dict[str, str]] = {}
"""lesson → {exercise number → title}, filled by the check functions' registration below."""
_PASSED: dict[str, set[str]] = {}


class ExerciseError(AssertionError):
    """An exercise's answer failed its check; the message says what went wrong and how to fix it."""


# --------------------------------------------------------------------------------------------------------------
# Check machinery
# --------------------------------------------------------------------------------------------------------------


def _exercise(lesson: str, number: str, title: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a check function as exercise ``number`` of ``lesson`` and record when it passes."""
    if lesson not in LESSONS:  # pragma: no cover - a programming error in this module
        raise ValueError(f"unknown lesson {lesson!r}")
    EXERCISES.setdefault(lesson, {})[number] = title

    def wrap(check: Callable[..., Any]) -> Callable[..., Any]:
        def run(answer: Any, *args: Any, **kwargs: Any) -> None:
            cases = check(answer, *args, **kwargs)
            _PASSED.setdefault(lesson, set()).add(number)
            print(f"✓ Exercise {number} ({title}): correct on {cases} hidden cases.")

        run.__name__, run.__qualname__, run.__doc__ = check.__name__, check.__qualname__, check.__doc__
        run.exercise = (lesson, number, title)  # type: ignore[attr-defined]
        return run

    return wrap


def _fail(number: str, message: str) -> ExerciseError:
    return ExerciseError(f"Exercise {number}: {message}")


def _call(number: str, fn: Any, *args: Any, shown: str = "") -> Any:
    """``fn(*args)`` with the student's usual slips turned into clear messages."""
    if fn is Ellipsis or fn is None:
        raise _fail(number, "there is no answer yet: replace the `...` with your code.")
    if not callable(fn):
        raise _fail(number, f"expected a function, got {type(fn).__name__}. Pass the function itself, "
                            "without calling it (check(my_function), not check(my_function(...))).")
    try:
        out = fn(*args)
    except NotImplementedError:
        raise _fail(number, f"{getattr(fn, '__name__', 'the function')} is not written yet: replace the "
                            "`raise NotImplementedError(...)` line with your code, run that cell, then this "
                            "one.") from None
    except Exception as exc:
        raise _fail(number, f"{getattr(fn, '__name__', 'the function')}({shown or '...'}) raised "
                            f"{type(exc).__name__}: {exc}") from exc
    if out is None or out is Ellipsis:
        raise _fail(number, f"{getattr(fn, '__name__', 'the function')} returned {out!r}: did you forget "
                            "the `return` line, or leave a `...` in it?")
    return out


def _scalar(number: str, value: Any, what: str) -> float:
    try:
        import torch

        if isinstance(value, torch.Tensor):
            if value.numel() != 1:
                raise _fail(number, f"{what} should be one number, got a tensor of shape {tuple(value.shape)}.")
            return float(value.detach())
    except ImportError:  # pragma: no cover - torch is a dependency
        pass
    arr = np.asarray(value, dtype=np.float64)
    if arr.size != 1:
        raise _fail(number, f"{what} should be one number, got shape {arr.shape}.")
    return float(arr.reshape(-1)[0])


def _array(number: str, value: Any, shape: tuple[int, ...], what: str) -> np.ndarray:
    try:
        import torch

        if isinstance(value, torch.Tensor):
            value = value.detach().cpu().numpy()
    except ImportError:  # pragma: no cover
        pass
    arr = np.asarray(value, dtype=np.float64)
    if arr.shape != shape:
        raise _fail(number, f"{what} should have shape {shape}, got {arr.shape}.")
    return arr


def _close(a: float, b: float, tol: float = 1e-6) -> bool:
    return bool(np.isfinite(a) and abs(a - b) <= tol * max(1.0, abs(b)))


def passed(lesson: str) -> set[str]:
    """The exercises of ``lesson`` checked and passed in this kernel."""
    return set(_PASSED.get(lesson, set()))


def reset(lesson: str | None = None) -> None:
    """Forget the passed exercises (of one lesson, or all)."""
    if lesson is None:
        _PASSED.clear()
    else:
        _PASSED.pop(lesson, None)


def banner(lesson: str, solutions: bool) -> str:
    """One line saying which lesson and which copy this is; printed by the lesson's first code cell."""
    if lesson not in LESSONS:
        raise ValueError(f"Unknown lesson {lesson!r}; lessons: {', '.join(LESSONS)}.")
    n = len(EXERCISES.get(lesson, {}))
    copy = ("copy with solutions (solution cells run after each exercise)" if solutions else
            "student copy: write each exercise's answer in its cell, then run the check below it")
    line = f"AQA 101, lesson {lesson}: {n} exercises; {copy}."
    print(line)
    return line


def lesson_complete(lesson: str, solutions: bool) -> list[str]:
    """End of a lesson: with solutions, assert every exercise was checked and passed; else print the score.

    Returns the exercises not passed (sorted).
    """
    expected = EXERCISES.get(lesson, {})
    missing = sorted(set(expected) - passed(lesson))
    if solutions and missing:
        raise AssertionError(f"Lesson {lesson}: exercises {missing} were not checked or did not pass; every "
                             "exercise cell needs its check cell (course.check_...).")
    print(f"Lesson {lesson}: {len(expected) - len(missing)} of {len(expected)} exercises passed"
          + ("." if not missing else f"; still to do: {', '.join(missing)}."))
    return missing


# --------------------------------------------------------------------------------------------------------------
# Lesson 1: what judges score, Spearman, the Fisher-z average
# --------------------------------------------------------------------------------------------------------------


def _dive_reference(judges: Sequence[float], dd: float) -> float:
    return float(dd) * float(np.sum(np.sort(np.asarray(judges, dtype=np.float64))[2:5]))


@_exercise("01_what_is_aqa", "1.1", "a dive's score from seven judges")
def check_dive_score(fn: Callable[[Sequence[float], float], float]) -> int:
    """``fn(judges, dd)``: drop the two highest and the two lowest of seven judge marks, sum the middle three,
    multiply by the difficulty degree ``dd`` (the diving rule behind MTL-AQA's final scores)."""
    rng = np.random.default_rng(101)
    cases = [([7.5, 8.0, 8.0, 7.0, 8.5, 9.0, 6.5], 3.2), ([6.0] * 7, 2.0), ([9.5, 9.0, 10.0, 9.5, 9.5, 8.5, 9.0], 3.8)]
    cases += [(list(np.round(rng.uniform(3, 10, 7) * 2) / 2), float(np.round(rng.uniform(1.2, 3.8), 1)))
              for _ in range(12)]
    for judges, dd in cases:
        got = _scalar("1.1", _call("1.1", fn, list(judges), dd, shown=f"{judges}, {dd}"), "the dive's score")
        want = _dive_reference(judges, dd)
        if _close(got, want):
            continue
        s = np.sort(judges)
        hint = ""
        if _close(got, dd * float(np.sum(judges))):
            hint = " You summed all seven marks: drop the two highest and the two lowest first."
        elif _close(got, float(np.sum(s[2:5]))):
            hint = " You forgot to multiply by the difficulty degree dd."
        elif _close(got, dd * float(np.sum(s[1:6]))):
            hint = " You dropped one mark at each end; diving drops two highest and two lowest."
        elif _close(got, dd * float(np.mean(judges)) * 3):
            hint = " You used 3 × the mean of all seven; use the middle three marks."
        raise _fail("1.1", f"for judges {judges} and dd {dd} the score is {want:.2f}, your function gave "
                           f"{got:.2f}.{hint}")
    return len(cases)


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a - a.mean(), b - b.mean()
    d = math.sqrt(float((a * a).sum() * (b * b).sum()))
    return float((a * b).sum() / d) if d else float("nan")


@_exercise("01_what_is_aqa", "1.2", "Spearman's rank correlation")
def check_spearman(fn: Callable[[np.ndarray, np.ndarray], float]) -> int:
    """``fn(pred, true)``: Spearman's ρ, the Pearson correlation of the ranks, tied values sharing their
    average rank (:func:`aqa_lib.metrics.spearman`)."""
    from .metrics import rankdata, spearman

    rng = np.random.default_rng(102)
    x = np.arange(8.0)
    cases: list[tuple[str, np.ndarray, np.ndarray]] = [
        ("a perfect ranking", x * 2 + 1, x), ("a reversed ranking", -x ** 3, x),
        ("ties", np.array([1.0, 2, 2, 3, 5, 5, 5, 9]), np.array([1.0, 3, 2, 4, 6, 5, 8, 7])),
        ("one outlier", np.r_[x[:-1], 1000.0], x),
    ]
    for n in (10, 25, 60):
        t = rng.normal(size=n)
        cases.append((f"{n} random videos", t + rng.normal(scale=1.0, size=n), t))
    t = np.round(rng.uniform(0, 10, 40))
    cases.append(("rounded scores with many ties", np.round(t + rng.normal(scale=3, size=40)), t))
    for name, pred, true in cases:
        got = _scalar("1.2", _call("1.2", fn, pred.copy(), true.copy(), shown="pred, true"), "ρ")
        want = spearman(pred, true)
        if _close(got, want, 1e-6):
            continue
        hint = ""
        if _close(got, _pearson(pred, true)):
            hint = " That is Pearson's r of the values: rank both arrays first."
        elif _close(got, _pearson(np.argsort(np.argsort(pred)) * 1.0, np.argsort(np.argsort(true)) * 1.0)):
            hint = " Close: tied values must share their average rank (e.g. two values tied for 2nd and 3rd both get rank 2.5)."
        elif _close(got, -want):
            hint = " The sign is flipped."
        elif _close(got, _pearson(rankdata(pred), rankdata(true)) ** 2):
            hint = " That is ρ², not ρ."
        raise _fail("1.2", f"on {name} (pred {np.round(pred[:8], 2).tolist()}{'...' if len(pred) > 8 else ''}) "
                           f"ρ = {want:.4f}, your function gave {got:.4f}.{hint}")
    return len(cases)


@_exercise("01_what_is_aqa", "1.3", "the Fisher-z average of correlations")
def check_fisher_z(fn: Callable[[Sequence[float]], float]) -> int:
    """``fn(rhos)``: ``tanh(mean(arctanh(ρ_i)))`` (:func:`aqa_lib.metrics.fisher_z_mean`)."""
    from .metrics import fisher_z_mean

    cases = [[0.5, 0.5], [0.9, 0.5, 0.7, 0.3], [0.95, 0.2], [-0.3, 0.6, 0.1], [0.99, 0.98, 0.1, 0.0],
             [0.746, 0.802, 0.765, 0.741]]
    for rhos in cases:
        got = _scalar("1.3", _call("1.3", fn, list(rhos), shown=str(rhos)), "the average")
        want = fisher_z_mean(rhos)
        if _close(got, want, 1e-6):
            continue
        hint = ""
        if _close(got, float(np.mean(rhos))):
            hint = " That is the arithmetic mean: transform with arctanh, average, transform back with tanh."
        elif _close(got, float(np.mean(np.arctanh(rhos)))):
            hint = " You averaged the z values but did not transform back with tanh."
        raise _fail("1.3", f"for ρ = {rhos} the Fisher-z average is {want:.4f}, your function gave {got:.4f}.{hint}")
    return len(cases)


# --------------------------------------------------------------------------------------------------------------
# Lesson 2: pooled features and a ridge regression
# --------------------------------------------------------------------------------------------------------------


@_exercise("02_simple_baselines", "2.1", "mean + std pooling over time")
def check_pool(fn: Callable[[np.ndarray], np.ndarray]) -> int:
    """``fn(x)`` for one video's ``[T, D]`` features: ``[mean over time ; standard deviation over time]``,
    shape ``[2D]`` (population std, ``ddof = 0``: :func:`aqa_lib.data.evidence.pooled_features`)."""
    rng = np.random.default_rng(201)
    cases = [rng.normal(size=(t, d)).astype(np.float32) * rng.uniform(0.5, 3, d) + rng.normal(size=d)
             for t, d in ((5, 3), (40, 8), (137, 16), (1, 4))]
    for x in cases:
        t, d = x.shape
        got = _array("2.1", _call("2.1", fn, x.copy(), shown=f"x of shape {x.shape}"), (2 * d,),
                     f"the pooled vector of a [{t}, {d}] video")
        want = np.concatenate([x.mean(0), x.std(0)])
        if np.allclose(got, want, atol=1e-4):
            continue
        hint = ""
        if np.allclose(got, np.concatenate([x.std(0), x.mean(0)]), atol=1e-4):
            hint = " Put the mean first, then the standard deviation."
        elif t > 1 and np.allclose(got, np.concatenate([x.mean(0), x.std(0, ddof=1)]), atol=1e-4):
            hint = " Use the population standard deviation (numpy's default ddof=0)."
        elif np.allclose(got[:d], x.mean(0), atol=1e-4):
            hint = " The mean is right; the second half should be the standard deviation over time (axis 0)."
        else:
            hint = " Pool over time, i.e. axis 0 of the [T, D] array."
        raise _fail("2.1", f"wrong pooled vector for a video of shape {x.shape}.{hint}")
    return len(cases)


def _ridge_problem(seed: int, n_train: int, n_test: int, dim: int, scaled: bool) -> tuple[np.ndarray, ...]:
    """Features driven by 5 latent factors plus noise (as pooled video features are: many correlated
    dimensions); the score depends on the factors. ``scaled``: half the features are pure noise on a scale
    1000× larger (raw features differ in scale like this)."""
    rng = np.random.default_rng(seed)
    n = n_train + n_test
    z = rng.normal(size=(n, 5))
    x = z @ rng.normal(size=(5, dim)) + 3.0 * rng.normal(size=(n, dim))
    y = z @ rng.normal(size=5) + 0.5 * rng.normal(size=n)
    if scaled:
        x[:, : dim // 2] = 1000.0 * rng.normal(size=(n, dim // 2))
    return x[:n_train], y[:n_train], x[n_train:], y[n_train:]


def ridge_reference(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray) -> np.ndarray:
    """Standardised features, ridge penalty chosen by leave-one-out CV over ``logspace(-2, 5, 29)``."""
    from sklearn.linear_model import RidgeCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    model = make_pipeline(StandardScaler(), RidgeCV(alphas=np.logspace(-2, 5, 29)))
    return model.fit(x_train, y_train).predict(x_test)


@_exercise("02_simple_baselines", "2.2", "a standardised, cross-validated ridge regression")
def check_ridge(fn: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]) -> int:
    """``fn(x_train, y_train, x_test)`` → predictions for ``x_test``: standardise the features (statistics of
    the training set), fit a ridge regression whose penalty is chosen by cross-validation on the training set,
    predict. Checked on hidden problems with about as many features as videos (where an unregularised fit
    interpolates noise) and with features on scales 1000× apart: its test Spearman must come within 0.05 of
    :func:`ridge_reference`'s."""
    from .metrics import spearman

    problems = [("60 videos, 55 features", 21, 60, 200, 55, False),
                ("60 videos, 58 features", 22, 60, 200, 58, False),
                ("80 videos, 150 features, half of them noise on a 1000x larger scale", 13, 80, 200, 150, True)]
    for name, seed, n_train, n_test, dim, scaled in problems:
        x_tr, y_tr, x_te, y_te = _ridge_problem(seed, n_train, n_test, dim, scaled)
        got = _array("2.2", _call("2.2", fn, x_tr.copy(), y_tr.copy(), x_te.copy(),
                                  shown=f"x_train [{n_train}, {dim}], y_train, x_test [{n_test}, {dim}]"),
                     (n_test,), "the predictions")
        rho = spearman(got, y_te) if np.isfinite(got).all() and np.ptp(got) > 0 else float("nan")
        want = spearman(ridge_reference(x_tr, y_tr, x_te), y_te)
        if rho >= want - 0.05:
            continue
        hint = (" Standardise the features first (e.g. sklearn's StandardScaler, fitted on x_train): a penalty "
                "on unscaled features favours the large-scale ones." if scaled
                else " Choose the penalty α by cross-validation on the training set (e.g. RidgeCV over "
                     "np.logspace(-2, 5, 29)): with about as many features as videos a weakly penalised fit "
                     "interpolates noise.")
        raise _fail("2.2", f"on {name} your predictions reach ρ = {rho:.3f} on the hidden test set, the reference "
                           f"ridge {want:.3f}.{hint}")
    return len(problems)


# --------------------------------------------------------------------------------------------------------------
# Lesson 3: attention centres, ranking and sparsity losses
# --------------------------------------------------------------------------------------------------------------


def _attention_cases(seed: int) -> list[tuple[Any, Any]]:
    import torch

    g = torch.Generator().manual_seed(seed)
    out = []
    for b, t, k in ((1, 6, 1), (3, 20, 4), (4, 50, 5)):
        lengths = torch.randint(max(2, t // 2), t + 1, (b,), generator=g)
        lengths[0] = t
        logits = torch.randn(b, t, k, generator=g) * 2
        mask = torch.arange(t)[None, :] < lengths[:, None]
        attn = logits.masked_fill(~mask[:, :, None], float("-inf")).softmax(dim=1)
        out.append((attn, lengths))
    return out


@_exercise("03_query_decoders", "3.1", "attention centres")
def check_centres(fn: Callable[[Any, Any], Any]) -> int:
    """``fn(attn, lengths)``: ``attn`` ``[B, T, K]`` (each query's attention over time sums to 1; padded
    segments have 0), ``lengths`` ``[B]`` → centres ``[B, K]`` as fractions of each video,
    ``c_k = Σ_{t=1..T} t · a_{t,k} / T_b`` (:func:`aqa_lib.centres.attention_center` with ``normalise=True``)."""
    import torch

    from .centres import attention_center

    cases = _attention_cases(301)
    for attn, lengths in cases:
        b, t, k = attn.shape
        got = _array("3.1", _call("3.1", fn, attn.clone(), lengths.clone(), shown=f"attn [{b}, {t}, {k}], lengths"),
                     (b, k), f"the centres of attention [{b}, {t}, {k}]")
        want = attention_center(attn, normalise=True, lengths=lengths).numpy()
        if np.allclose(got, want, atol=1e-5):
            continue
        pos0 = torch.einsum("btk,t->bk", attn, torch.arange(t, dtype=attn.dtype)).numpy() / lengths.numpy()[:, None]
        raw = attention_center(attn).numpy()
        hint = ""
        if np.allclose(got, pos0, atol=1e-5):
            hint = " Positions start at 1 (t = 1..T), not 0."
        elif np.allclose(got, raw, atol=1e-5):
            hint = " Divide by each video's length T_b so the centres are fractions of the video."
        elif np.allclose(got, raw / t, atol=1e-5):
            hint = " Divide by each video's own length (lengths[b]), not the padded T."
        raise _fail("3.1", f"wrong centres for attention of shape [{b}, {t}, {k}].{hint}")
    return len(cases)


@_exercise("03_query_decoders", "3.2", "the ranking loss on centres")
def check_ranking_loss(fn: Callable[[Any, float], Any]) -> int:
    """``fn(centres, margin)``: centres ``[B, K]`` as fractions of each video → the mean over videos of
    ``Σ_{k<K} max(0, c_k − c_{k+1} + m) + max(0, m − c_1) + max(0, c_K − 1 + m)`` (keep the queries in
    temporal order, ``m`` apart, inside the video; :func:`aqa_lib.losses.ranking_loss` with length 1 and first
    position 0). Must stay differentiable (a torch expression)."""
    import torch

    from .losses import ranking_loss

    g = torch.Generator().manual_seed(302)
    cases = [(torch.tensor([[0.1, 0.3, 0.5, 0.7, 0.9]]), 0.05), (torch.tensor([[0.9, 0.7, 0.5, 0.3, 0.1]]), 0.05),
             (torch.tensor([[0.02, 0.5, 0.98]]), 0.1), (torch.rand(6, 5, generator=g), 0.08),
             (torch.rand(3, 4, generator=g), 0.0)]
    for centres, margin in cases:
        c = centres.clone().requires_grad_(True)
        out = _call("3.2", fn, c, margin, shown=f"centres [{tuple(c.shape)}], margin {margin}")
        if not isinstance(out, torch.Tensor) or not out.requires_grad:
            raise _fail("3.2", "return a torch tensor computed from `centres` with torch operations (e.g. "
                               "torch.relu or .clamp(min=0)), so the loss can be back-propagated.")
        got = _scalar("3.2", out, "the loss")
        want = float(ranking_loss(centres, 1.0, margin, first_index=0.0))
        if _close(got, want, 1e-5):
            continue
        order = float((centres[:, :-1] - centres[:, 1:] + margin).clamp(min=0).sum(1).mean())
        hint = ""
        if _close(got, order, 1e-5):
            hint = " Add the two boundary terms: max(0, m − c_1) and max(0, c_K − 1 + m)."
        elif _close(got, want * centres.shape[0], 1e-5):
            hint = " Average over the videos of the batch, do not sum."
        raise _fail("3.2", f"centres {np.round(centres.double().numpy(), 3).tolist()[:2]}..., margin {margin}: the loss is "
                           f"{want:.5f}, your function gave {got:.5f}.{hint}")
    return len(cases)


@_exercise("03_query_decoders", "3.3", "the sparsity loss")
def check_sparsity_loss(fn: Callable[[Any, Any], Any]) -> int:
    """``fn(attn, lengths)``: the mean over videos and queries of ``Σ_t |t − c_k| a_{t,k} / T_b``, with t = 1..T
    and the *raw* centre ``c_k = Σ_t t a_{t,k}`` (an L1 spread around the centre, as a fraction of the video;
    :func:`aqa_lib.losses.sparsity_loss` with ``lengths``)."""
    from .losses import sparsity_loss

    cases = _attention_cases(303)
    for attn, lengths in cases:
        b, t, k = attn.shape
        got = _scalar("3.3", _call("3.3", fn, attn.clone(), lengths.clone(), shown=f"attn [{b}, {t}, {k}], lengths"),
                      "the loss")
        want = float(sparsity_loss(attn, lengths=lengths))
        if _close(got, want, 1e-5):
            continue
        hint = ""
        if _close(got, float(sparsity_loss(attn)), 1e-5):
            hint = " Divide each video's spread by its length T_b."
        raise _fail("3.3", f"for attention of shape [{b}, {t}, {k}] the loss is {want:.5f}, your function gave "
                           f"{got:.5f}.{hint}")
    return len(cases)


# --------------------------------------------------------------------------------------------------------------
# Lesson 4: weighted fusion, synchrony
# --------------------------------------------------------------------------------------------------------------


@_exercise("04_fusion", "4.1", "weighted late fusion")
def check_weighted_fusion(fn: Callable[[Any, Any], Any]) -> int:
    """``fn(scores, logits)``: per-modality scores ``[B, M]`` and learnable logits ``[M]`` → ``[B]``,
    ``Σ_m softmax(logits)_m · scores[:, m]`` (positive weights that sum to 1; PAMFN Table IV's weighted
    fusion, :class:`aqa_lib.models.baselines.WeightedFusion`)."""
    import torch

    g = torch.Generator().manual_seed(401)
    cases = [(torch.tensor([[0.2, 0.8], [0.5, 0.5]]), torch.zeros(2)),
             (torch.rand(5, 3, generator=g), torch.tensor([2.0, -1.0, 0.5])),
             (torch.rand(4, 2, generator=g), torch.tensor([0.0, 3.0]))]
    for scores, logits in cases:
        b, m = scores.shape
        got = _array("4.1", _call("4.1", fn, scores.clone(), logits.clone(), shown=f"scores [{b}, {m}], logits [{m}]"),
                     (b,), "the fused scores")
        want = (scores * logits.softmax(-1)).sum(-1).numpy()
        if np.allclose(got, want, atol=1e-5):
            continue
        hint = ""
        if np.allclose(got, (scores * logits).sum(-1).numpy(), atol=1e-5):
            hint = " Turn the logits into weights with a softmax first."
        elif np.allclose(got, scores.mean(-1).numpy(), atol=1e-5):
            hint = " That is the plain average: weight each modality by softmax(logits)."
        raise _fail("4.1", f"scores {np.round(scores.double().numpy(), 3).tolist()[:2]}..., logits {logits.tolist()}: expected "
                           f"{np.round(want, 4).tolist()}, got {np.round(got, 4).tolist()}.{hint}")
    return len(cases)


@_exercise("04_fusion", "4.2", "timing offsets between element onsets and music accents")
def check_mean_abs_offset(fn: Callable[[np.ndarray, np.ndarray], float]) -> int:
    """``fn(onsets, accents)``: for every element onset (segments), the distance to the *nearest* music accent;
    return their mean (small = the skater moves with the music)."""
    rng = np.random.default_rng(402)
    cases = [(np.array([2.0, 6.1]), np.array([0.5, 2.0, 3.5, 5.0, 6.5])),
             (np.array([1.2, 4.0]), np.array([1.0, 1.5, 4.2]))]
    for _ in range(5):
        acc = np.sort(rng.uniform(0, 100, 60))
        cases.append((np.sort(rng.choice(acc, 12, replace=False) + rng.normal(0, 0.3, 12)), acc))
    for onsets, accents in cases:
        got = _scalar("4.2", _call("4.2", fn, onsets.copy(), accents.copy(), shown="onsets, accents"), "the mean offset")
        want = float(np.abs(onsets[:, None] - accents[None, :]).min(axis=1).mean())
        if _close(got, want, 1e-6):
            continue
        hint = ""
        if _close(got, float(np.abs((onsets[:, None] - accents[None, :]).min(axis=1)).mean())):
            hint = " Take the absolute value before the minimum: the nearest accent may come after the onset."
        elif _close(got, float(np.abs(onsets[:, None] - accents[None, :]).mean())):
            hint = " Use only the nearest accent of each onset (min over accents), not all of them."
        raise _fail("4.2", f"onsets {np.round(onsets[:4], 2).tolist()}..., accents {np.round(accents[:5], 2).tolist()}...: "
                           f"expected {want:.4f}, got {got:.4f}.{hint}")
    return len(cases)


# --------------------------------------------------------------------------------------------------------------
# Lesson 5: epoch selection, bootstrap intervals
# --------------------------------------------------------------------------------------------------------------


@_exercise("05_evaluation_honesty", "5.1", "selecting the epoch on a validation split")
def check_select_epoch(fn: Callable[[Sequence[float], Sequence[float]], float]) -> int:
    """``fn(val_rho, test_rho)``: per-epoch Spearman on the validation (held-out) split and on the test split →
    the test ρ at the epoch with the best *validation* ρ (the first such epoch on ties)."""
    rng = np.random.default_rng(501)
    cases = [([0.1, 0.5, 0.4], [0.2, 0.3, 0.6]), ([0.3, 0.3, 0.2], [0.5, 0.1, 0.9])]
    for n in (10, 40):
        cases.append((list(np.round(rng.uniform(0, 1, n), 2)), list(rng.uniform(0, 1, n))))
    for val, test in cases:
        got = _scalar("5.1", _call("5.1", fn, list(val), list(test), shown="val_rho, test_rho"), "the selected test ρ")
        want = float(test[int(np.argmax(val))])
        if _close(got, want, 1e-9):
            continue
        hint = ""
        if _close(got, max(test)):
            hint = " That is the best *test* epoch, the papers' protocol: select on the validation curve."
        elif _close(got, test[-1]):
            hint = " That is the last epoch: pick the epoch where val_rho is highest."
        elif _close(got, max(val)):
            hint = " Return the test ρ at that epoch, not the validation ρ."
        raise _fail("5.1", f"val {np.round(val[:5], 2).tolist()}..., test {np.round(test[:5], 2).tolist()}...: "
                           f"expected {want:.4f}, got {got:.4f}.{hint}")
    return len(cases)


def bootstrap_reference(pred: np.ndarray, true: np.ndarray, *, n_boot: int = 1000, level: float = 0.95,
                        seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of Spearman's ρ: resample *videos* (pairs) with replacement."""
    from .metrics import rankdata

    p, t = np.asarray(pred, dtype=np.float64), np.asarray(true, dtype=np.float64)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(p), size=(n_boot, len(p)))
    rhos = []
    for row in idx:
        rp, rt = rankdata(p[row]), rankdata(t[row])
        rhos.append(_pearson(rp, rt))
    rhos = np.asarray(rhos)
    rhos = rhos[np.isfinite(rhos)]
    alpha = (1 - level) / 2
    return float(np.quantile(rhos, alpha)), float(np.quantile(rhos, 1 - alpha))


@_exercise("05_evaluation_honesty", "5.2", "a bootstrap confidence interval for ρ")
def check_bootstrap_ci(fn: Callable[..., tuple[float, float]]) -> int:
    """``fn(pred, true, n_boot=1000, level=0.95, seed=0)`` → ``(low, high)``: resample the test videos with
    replacement ``n_boot`` times, compute ρ on each resample, return the ``(1 − level)/2`` and
    ``(1 + level)/2`` quantiles. Checked against :func:`bootstrap_reference`: each bound within 0.04 and the width within 12 % (both
    are random, so they differ a little)."""
    from .metrics import spearman

    rng = np.random.default_rng(502)
    cases = []
    for n, noise in ((50, 1.0), (200, 1.0), (30, 0.3)):
        t = rng.normal(size=n)
        cases.append((t + rng.normal(scale=noise, size=n), t))
    widths = []
    for pred, true in cases:
        out = _call("5.2", fn, pred.copy(), true.copy(), 1000, 0.95, 0, shown="pred, true, 1000, 0.95, 0")
        low, high = _array("5.2", out, (2,), "the interval (low, high)")
        want = bootstrap_reference(pred, true)
        rho = spearman(pred, true)
        if not low < high:
            raise _fail("5.2", f"the interval ({low:.3f}, {high:.3f}) is empty or reversed; return (low, high).")
        ratio = (high - low) / (want[1] - want[0])
        if abs(low - want[0]) <= 0.04 and abs(high - want[1]) <= 0.04 and 0.88 <= ratio <= 1.12:
            widths.append(high - low)
            continue
        hint = ""
        if abs(0.5 * (low + high)) < 0.15 < abs(rho):
            hint = (" Your interval sits near 0: resample pairs (the same video indices for pred and true), not "
                    "predictions and labels separately.")
        elif ratio < 0.88:
            hint = (" Too narrow: for a 95 % interval take the 2.5 % and 97.5 % quantiles of the resampled ρ "
                    "(and resample the whole test set, n videos, each time).")
        elif ratio > 1.12:
            hint = " Too wide: check the quantiles ((1 − level)/2 and (1 + level)/2) and the resample size (n)."
        raise _fail("5.2", f"for {len(pred)} test videos with ρ = {rho:.3f} the reference interval is "
                           f"({want[0]:.3f}, {want[1]:.3f}); yours is ({low:.3f}, {high:.3f}).{hint}")
    if not widths[1] < widths[0]:
        raise _fail("5.2", "the interval for 200 videos should be narrower than for 50: resample n = len(pred) "
                           "videos each time.")
    return len(cases)


# --------------------------------------------------------------------------------------------------------------
# The course's small trainer (lessons 3 and 4) and helpers
# --------------------------------------------------------------------------------------------------------------


@dataclass
class SmallRun:
    """What :func:`train_small` returns: the trained model, per-epoch history, test predictions."""

    model: Any
    history: Any  # pandas DataFrame: epoch, train_loss, test_spearman (+ the extra loss parts)
    test_pred: np.ndarray  # original score scale, last epoch
    test_true: np.ndarray
    seconds: float
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def last(self) -> float:
        return float(self.history["test_spearman"].iloc[-1])

    @property
    def best(self) -> float:
        return float(self.history["test_spearman"].max())


def _forward(model: Any, batch: Any) -> tuple[Any, Any]:
    out = model(batch.features, batch.mask)
    return (out[0], out[1]) if isinstance(out, tuple) else (out, None)


def predict_small(model: Any, split: Any, *, modalities: Sequence[str] | None = None, batch_size: int = 16,
                  device: str = "cpu", bank: Any = None) -> np.ndarray:
    """Normalised predictions of a lesson model on a split's whole sequences (eval mode, no gradients).
    ``bank``: the split already as a :class:`~aqa_lib.data.batching.FeatureBank` (then ``split`` is unused)."""
    import torch

    from .data.batching import FeatureBank

    if bank is None:
        bank = FeatureBank(split.select_modalities(tuple(modalities or split.modalities)), device)
    model.eval()
    out = []
    with torch.no_grad():
        for batch in bank.eval_batches(batch_size):
            out.append(_forward(model, batch)[0].float().reshape(-1))
    return torch.cat(out).cpu().numpy()


def train_small(make_model: Callable[[], Any], data: Any, *, epochs: int, modalities: Sequence[str] | None = None,
                lr: float = 1e-3, weight_decay: float = 1e-4, batch_size: int = 32, window: int | None = None,
                seed: int = 0, extra_loss: Callable[[Any, Any], Mapping[str, Any]] | None = None,
                device: str = "cpu") -> SmallRun:
    """Train a model written in a lesson on ``data`` (an :class:`aqa_lib.data.AQAData`) and return a
    :class:`SmallRun`.

    ``make_model()`` builds the model (called after ``torch.manual_seed(seed)``, so runs are reproducible);
    its ``forward(features, mask)`` gets ``features[m]`` ``[B, L, D_m]`` for ``modalities`` (default: all of
    the data's) and ``mask`` ``[B, L]`` (True = real segment) and returns the normalised score ``[B]``, or
    ``(score, aux)``. The loss is the MSE on normalised labels plus, when given, the sum of the terms
    ``extra_loss(aux, mask)`` returns (a dict of weighted scalar tensors; their unweighted logs are up to
    the caller). Each epoch trains on random crops of ``window`` consecutive segments (default: the dataset's
    ``train_window``, the papers' protocol), AdamW with a cosine schedule, then evaluates Spearman's ρ on the
    whole test sequences.
    """
    import pandas as pd
    import torch

    from .data.batching import FeatureBank
    from .data.registry import get_spec
    from .metrics import spearman

    if epochs < 1:
        raise ValueError(f"epochs must be at least 1, got {epochs}.")
    mods = tuple(modalities or data.train.modalities)
    torch.manual_seed(seed)
    model = make_model().to(device)
    bank = FeatureBank(data.train.select_modalities(mods), device)
    test_bank = FeatureBank(data.test.select_modalities(mods), device)
    window = int(window or get_spec(data.dataset).train_window)
    steps = max(1, math.ceil(len(bank) / batch_size))
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs * steps)
    gen = torch.Generator().manual_seed(seed)
    rows = []
    t0 = time.perf_counter()
    for epoch in range(1, epochs + 1):
        model.train()
        perm = torch.randperm(len(bank), generator=gen)
        sums: dict[str, float] = {}
        for s in range(steps):
            batch = bank.train_batch(perm[s * batch_size:(s + 1) * batch_size], window, gen)
            score, aux = _forward(model, batch)
            parts = {"mse": torch.mean((score.reshape(-1) - batch.labels) ** 2)}
            if extra_loss is not None:
                parts.update(extra_loss(aux, batch.mask))
            loss = sum(parts.values())
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            for k, v in {"loss": loss, **parts}.items():
                sums[k] = sums.get(k, 0.0) + float(v.detach())
        pred = predict_small(model, data.test, bank=test_bank)
        rows.append({"epoch": epoch, **{f"train_{k}": v / steps for k, v in sums.items()},
                     "test_spearman": spearman(pred, data.test.labels)})
        if not math.isfinite(rows[-1]["train_loss"]):
            raise RuntimeError(f"the training loss became {rows[-1]['train_loss']} in epoch {epoch}; lower lr "
                               f"(now {lr}).")
    return SmallRun(model, pd.DataFrame(rows), pred.astype(np.float64) * data.norm,
                    np.asarray(data.test.scores, dtype=np.float64), time.perf_counter() - t0)


def shuffled_in_time(split: Any, seed: int = 0) -> Any:
    """A copy of ``split`` whose every video has its segments in a random order (the same order for all its
    modalities): what is left when a video's temporal order is destroyed."""
    from .data.core import Split

    rng = np.random.default_rng(seed)
    orders = [rng.permutation(n) for n in split.lengths]
    features = {m: [x[o] for x, o in zip(feats, orders, strict=True)] for m, feats in split.features.items()}
    return Split(names=list(split.names), features=features, scores=split.scores, labels=split.labels,
                 extras=dict(split.extras), text=split.text, truth=split.truth)


def trained_library_model(result: Any, data: Any) -> Any:
    """The trained model of a library run (:func:`aqa_lib.train.run` with ``save_weights=True``), in eval mode."""
    from . import cache
    from .models.base import create_model

    if not cache.has_weights(result.key):
        raise ValueError(f"run {result.config.model!r} kept no weights: run it with config.replace(save_weights=True).")
    model = create_model(result.config.model, in_dims=dict(data.modalities), **result.config.model_kwargs)
    model.load_state_dict(cache.load_weights(result.key))
    return model.eval()


def library_predict(model: Any, split: Any, *, batch_size: int = 16) -> np.ndarray:
    """Normalised predictions of a library model (:class:`~aqa_lib.models.base.ModelOutput`) on a split."""
    from .data.batching import FeatureBank
    from .train import predict

    bank = FeatureBank(split.select_modalities(tuple(model.modalities)), "cpu")
    return predict(model, bank, batch_size=batch_size, amp=False)


def segment_targets(split: Any) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Per-segment ground truth of a synthetic split, for probes: element coverage ``[T]`` (the share of each
    segment inside an element) and music accents ``[T, 3]`` (an accent in the segment, and the cosine and sine
    of its phase within the segment), each as one array per video."""
    if split.truth is None:
        raise ValueError("segment_targets needs synthetic data (real data has no ground truth).")
    coverage, accents = [], []
    for n, truth in zip(split.lengths, split.truth, strict=True):
        start = np.asarray(truth["element_start"], dtype=np.float64)
        end = start + np.asarray(truth["element_duration"], dtype=np.float64)
        j = np.arange(n, dtype=np.float64)[:, None]
        coverage.append(np.clip(np.minimum(end[None], j + 1) - np.maximum(start[None], j), 0, 1).sum(axis=1))
        times = np.asarray(truth["accent_times"], dtype=np.float64)
        times = times[(times >= 0) & (times < n)]
        seg = np.floor(times).astype(int)
        phase = 2 * np.pi * (times - seg)
        acc = np.zeros((n, 3))
        np.add.at(acc, seg, np.stack([np.ones_like(phase), np.cos(phase), np.sin(phase)], axis=1))
        accents.append(acc)
    return coverage, accents


def partial_correlation(x: np.ndarray, y: np.ndarray, controls: np.ndarray) -> float:
    """Pearson correlation of ``x`` and ``y`` after regressing both on ``controls`` ``[N, C]`` (plus an
    intercept): how much ``x`` follows ``y`` beyond what the controls explain."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    z = np.column_stack([np.ones(len(x)), np.asarray(controls, dtype=np.float64)])
    rx = x - z @ np.linalg.lstsq(z, x, rcond=None)[0]
    ry = y - z @ np.linalg.lstsq(z, y, rcond=None)[0]
    return _pearson(rx, ry)


# --------------------------------------------------------------------------------------------------------------
# Export: the student notebooks
# --------------------------------------------------------------------------------------------------------------


def course_dir() -> Path:
    """``notebooks/course`` of this checkout."""
    from .paths import repo_root

    root = repo_root()
    if root is None or not (root / "notebooks" / "course").is_dir():
        raise SystemExit("The course notebooks live in a checkout of aqa-companion (notebooks/course/).")
    return root / "notebooks" / "course"


_SOLUTIONS_LINE = re.compile(r"^solutions\s*=\s*(True|False)\b.*$", re.MULTILINE)


def student_notebook(nb: Any, *, solutions: bool = False) -> Any:
    """A copy of the lesson notebook ``nb`` (nbformat) as handed out: outputs cleared, jupytext pairing
    dropped, and, unless ``solutions``, every cell tagged ``solution`` removed and ``solutions = False`` set
    in the parameters cell."""
    import copy

    out = copy.deepcopy(nb)
    if not solutions:
        out.cells = [c for c in out.cells if SOLUTION_TAG not in c.get("metadata", {}).get("tags", [])]
    params = [c for c in out.cells if c.cell_type == "code" and "parameters" in c.metadata.get("tags", [])]
    if len(params) != 1 or not _SOLUTIONS_LINE.search(params[0].source):
        raise ValueError("a lesson needs one cell tagged parameters with a line `solutions = True`.")
    value = "True  # this copy keeps the worked solutions" if solutions else \
        "False  # student copy, the solution cells are removed"
    params[0].source = _SOLUTIONS_LINE.sub(f"solutions = {value}", params[0].source)
    for cell in out.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        cell.get("metadata", {}).pop("execution", None)
    jt = out.metadata.get("jupytext")
    if isinstance(jt, dict):
        jt.pop("formats", None)
        if not jt:
            out.metadata.pop("jupytext")
    return out


def export(out_dir: str | Path, *, solutions: bool = False, lessons: Iterable[str] | None = None,
           source: str | Path | None = None) -> list[Path]:
    """Write the lessons as handed out (:func:`student_notebook`) into ``out_dir``, with the course README.

    ``lessons``: stems to export (default all of :data:`LESSONS`); ``source``: the folder holding the
    lessons' ``.ipynb`` (default ``notebooks/course``). Returns the written notebook paths.
    """
    import shutil

    import nbformat

    src = Path(source) if source else course_dir()
    chosen = list(lessons) if lessons else list(LESSONS)
    unknown = [s for s in chosen if s not in LESSONS]
    if unknown:
        raise ValueError(f"Unknown lessons {unknown}; lessons: {', '.join(LESSONS)}.")
    out = Path(out_dir)
    if out.resolve() == src.resolve():
        raise ValueError("--out must not be the course's source folder (the export would overwrite the lessons).")
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for stem in chosen:
        path = src / f"{stem}.ipynb"
        if not path.exists():
            raise FileNotFoundError(f"{path} is missing; run `jupytext --sync notebooks/course/{stem}.py`.")
        nb = student_notebook(nbformat.read(path, as_version=4), solutions=solutions)
        nbformat.validate(nb)
        target = out / path.name
        nbformat.write(nb, target)
        written.append(target)
    if (src / "README.md").exists():
        shutil.copyfile(src / "README.md", out / "README.md")
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m aqa_lib.course",
                                     description="AQA 101: write the course's notebooks as handed out.")
    sub = parser.add_subparsers(dest="command", required=True)
    exp = sub.add_parser("export", help="write the student notebooks (solution cells removed, outputs cleared)")
    exp.add_argument("--out", required=True, help="folder to write the notebooks into")
    exp.add_argument("--solutions", action="store_true", help="keep the solution cells (a teacher's copy)")
    exp.add_argument("--only", nargs="+", metavar="LESSON", help=f"lessons to export (default all: {' '.join(LESSONS)})")
    sub.add_parser("list", help="list the lessons and their exercises")
    args = parser.parse_args(argv)
    if args.command == "list":
        for stem in LESSONS:
            print(stem)
            for number, title in EXERCISES.get(stem, {}).items():
                print(f"  {number}  {title}")
        return 0
    try:
        written = export(args.out, solutions=args.solutions, lessons=args.only)
    except (ValueError, FileNotFoundError) as exc:
        parser.error(str(exc))
    kind = "with solutions" if args.solutions else "student copies (solutions removed)"
    print(json.dumps({"written": [str(p) for p in written], "kind": kind}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

