"""aqa_lib.sweep: planning mode, planning notebooks (waves, stage-1 runs first, errors), local workers (a killed
worker's runs retried) and a real local Ray cluster, all writing one cache; the README's sweep commands parse."""

from __future__ import annotations

import functools
import math
import os
import re
import runpy
import shlex
import signal
import sys
from pathlib import Path

import jupytext
import pytest
import torch

from aqa_lib import cache, sweep, train
from aqa_lib.experiments import config_for
from aqa_lib.group import run_grouped
from aqa_lib.train import PlanPending, RunConfig, planning

ROOT = Path(__file__).resolve().parents[1]
MODEL = "vatp/i3d_mlp"  # the cheapest registered variant: about 0.2 s per smoke epoch


@pytest.fixture(scope="module")
def _synthetic(tmp_path_factory):
    return tmp_path_factory.mktemp("synthetic")


@pytest.fixture(autouse=True)
def _tmp_cache(tmp_path, monkeypatch, _synthetic):
    """A fresh results cache per test; the generated synthetic data is shared by the module's tests."""
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "synthetic").symlink_to(_synthetic)
    monkeypatch.setenv("AQA_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("AQA_CODE_VERSION", raising=False)


def _config(seed: int = 0, epochs: int = 2, **kw) -> RunConfig:
    return config_for(MODEL, "fisv", "TES", scale="smoke", seed=seed, epochs=epochs, **kw)


HEADER = '''# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---
'''

TWO_STAGES = HEADER + '''
# %% tags=["parameters"]
seeds = [0, 1]
scale = "auto"

# %%
from aqa_lib.experiments import config_for
from aqa_lib.notebook import check_params
from aqa_lib.train import run, run_many

params = check_params({"seeds": seeds, "scale": scale}, namespace=globals())
print("this output is hidden while planning")
first = run_many([config_for("vatp/i3d_mlp", "fisv", "TES", scale=params["scale"], seed=s, epochs=2)
                  for s in params["seeds"]])

# %%
# The next run depends on the first ones' results: a planner learns of it only once they are cached.
best = max(first, key=lambda r: r.summary["last_spearman"])
second = run(config_for("vatp/i3d_mlp", "fisv", "PCS", scale=params["scale"], seed=10 + best.config.seed,
                        epochs=2))

# %%
loop = [run(config_for("vatp/i3d_mlp", "fisv", "TES", scale=params["scale"], seed=s, epochs=2)) for s in (20, 21)]
print("two_stages complete")
'''

SEEDS = HEADER + '''
# %% tags=["parameters"]
seeds = [0, 1]
scale = "auto"

# %%
from aqa_lib.experiments import config_for
from aqa_lib.notebook import resolve_scale
from aqa_lib.train import run_many

results = run_many([config_for("vatp/i3d_mlp", "fisv", "TES", scale=resolve_scale(scale), seed=s, epochs=2)
                    for s in seeds])
'''

BROKEN = HEADER + '''
# %% tags=["parameters"]
scale = "auto"

# %%
x = 1

# %%
raise ValueError("this notebook is broken on purpose")
'''


def _notebook(folder: Path, name: str, text: str) -> sweep.Notebook:
    """A py:percent script and its paired .ipynb (what the runner renders), as :func:`sweep.resolve_notebooks`
    finds them."""
    folder.mkdir(parents=True, exist_ok=True)
    script = folder / f"{name}.py"
    script.write_text(text)
    jupytext.write(jupytext.read(script), folder / f"{name}.ipynb")
    return sweep.resolve_notebooks([str(folder / f"{name}.ipynb")])[0]


class Inline:
    """An executor training every job in this process, in order (what the planner needs, without workers)."""

    workers = 1

    def __init__(self) -> None:
        self.batches: list[list[str]] = []

    def execute(self, jobs, desc=""):
        self.batches.append([j.key for j in jobs])
        return [sweep.Outcome(j, info=sweep.train_task(j.config.to_dict())) for j in jobs]

    def close(self) -> None:
        pass


# ---------------------------------------------------------------------------------------------------------
# Planning mode (aqa_lib.train.planning)
# ---------------------------------------------------------------------------------------------------------


def test_planning_names_exactly_the_uncached_runs_and_trains_nothing():
    cached = train.run(_config(seed=0))
    a, b = _config(seed=1), _config(seed=2)
    with planning() as log:
        assert train.run(_config(seed=0)).key == cached.key  # cached runs return their results as usual
        assert train.run_many([_config(seed=0)])[0].cached
        for call in (lambda: train.run_many([a, _config(seed=0), b, a]), lambda: run_grouped([a, b]),
                     lambda: train.run_many([a, b], group=False)):
            with pytest.raises(PlanPending) as stop:
                call()
            assert stop.value.configs == [a, b]  # every uncached config of the call, once each, in order
            assert stop.value.keys == [train.run_key(a), train.run_key(b)]
        with pytest.raises(PlanPending):
            try:
                train.run(a)
            except Exception:  # noqa: BLE001 - notebook code catching errors must not swallow a pending run
                pytest.fail("PlanPending was caught as an Exception")
        with pytest.raises(ValueError, match="use_cache=False"):
            train.run(a, use_cache=False)
    assert log.cached == {cached.key: _config(seed=0)}
    assert not cache.exists(train.run_key(a)) and not cache.exists(train.run_key(b))
    with planning(assumed=[train.run_key(a)]):  # a planner's placeholder for a run it already knows is pending
        placeholder = train.run(a)
    assert placeholder.meta == {"planned": True} and placeholder.summary == {}
    assert train.planning_log() is None and train.run(a).key == train.run_key(a)  # outside: trains as usual


# ---------------------------------------------------------------------------------------------------------
# Planning notebooks
# ---------------------------------------------------------------------------------------------------------


def test_waves_follow_the_results_of_earlier_cells(tmp_path, capsys):
    book = _notebook(tmp_path / "books", "two_stages", TWO_STAGES)
    plan = sweep.plan_notebook(book, {"seeds": [0, 1]}, "smoke")
    assert plan.error is None and plan.cell == 2 and not plan.cached
    assert list(plan.pending.values()) == [_config(seed=0), _config(seed=1)]
    assert "hidden" not in capsys.readouterr().out

    executor = Inline()
    report = sweep.sweep([book], params={"seeds": [0, 1]}, scale="smoke", executor=executor)
    assert report.ok and report.complete == ["two_stages"] and report.rounds == 4
    first = [train.run(_config(seed=s)) for s in (0, 1)]
    best = max(first, key=lambda r: r.summary["last_spearman"]).config.seed
    second = config_for(MODEL, "fisv", "PCS", scale="smoke", seed=10 + best, epochs=2)
    loop = [_config(seed=20), _config(seed=21)]
    # one batch per round: the dependent run after the first ones, then both runs of the loop at once
    assert executor.batches == [[r.key for r in first], [train.run_key(second)],
                                [train.run_key(c) for c in loop]]
    out = capsys.readouterr().out
    assert "2 runs to train (0 cached) in 1 wave, no estimate yet" in out
    assert re.search(r"round 2: 1 run to train \(2 cached\) in 1 wave, estimated ~[\d.]+ min on 1 worker \(", out)

    # everything is cached now: a second sweep trains nothing, and the plan lists the cached runs
    again = Inline()
    assert sweep.sweep([book], params={"seeds": [0, 1]}, scale="smoke", executor=again).ok
    assert again.batches == []
    assert sweep.sweep([book], params={"seeds": [0, 1]}, scale="smoke", executor=None, plan_only=True).ok
    assert capsys.readouterr().out.count(" cached") >= 5


def test_stage_one_runs_train_in_an_earlier_wave(tmp_path):
    source = _config(seed=3).replace(save_weights=True)
    stage2 = [_config(seed=s).replace(init_from=({"into": "", "from": "", "run": source.to_dict()},))
              for s in (0, 1)]
    jobs = sweep.merge([sweep.NotebookPlan("nb", pending={train.run_key(c): c for c in stage2})])
    waves = sweep.schedule(jobs)
    assert [[j.config for j in w] for w in waves] == [[source], stage2]
    assert waves[0][0].notebooks == {"nb"}

    executor = Inline()
    for wave in waves:
        assert all(sweep._check(o) is None for o in executor.execute(wave))
    assert executor.batches[0] == [train.run_key(source)]
    assert all(cache.exists(train.run_key(c)) for c in [source, *stage2])


def test_merge_trains_a_key_once_recording_what_every_notebook_asks():
    a, b = _config(seed=0, final_keys=("score",)), _config(seed=0).replace(metrics=("spearman", "mse", "rl2"))
    jobs = sweep.merge([sweep.NotebookPlan("one", pending={train.run_key(a): a}),
                        sweep.NotebookPlan("two", pending={train.run_key(b): b})])
    (job,) = jobs.values()
    assert job.notebooks == {"one", "two"}
    assert "score" in job.config.final_keys and "rl2" in job.config.metrics


def test_unknown_parameter_stops_like_the_runner(tmp_path):
    book = _notebook(tmp_path / "books", "two_stages", TWO_STAGES)
    with pytest.raises(SystemExit, match=r"Unknown parameter 'sedes' \(did you mean 'seeds'\?\)"):
        sweep.main([str(book.ipynb), "--plan-only", "-p", "sedes", "[0]"])
    with pytest.raises(SystemExit, match="Unknown notebooks"):
        sweep.main(["no_such_notebook", "--plan-only"])


def test_a_failing_notebook_is_reported_and_the_others_go_on(tmp_path, capsys):
    books = [_notebook(tmp_path / "books", "broken", BROKEN), _notebook(tmp_path / "books", "two_stages", TWO_STAGES)]
    report = sweep.sweep(books, params={}, scale="smoke", executor=Inline())
    assert not report.ok and report.complete == ["two_stages"]
    assert list(report.errors) == ["broken"]
    assert "cell 3" in report.errors["broken"] and "ValueError: this notebook is broken" in report.errors["broken"]
    assert "FAILED planning broken: cell 3" in capsys.readouterr().out
    rc = sweep.main([str(b.ipynb) for b in books] + ["--scale", "smoke", "--plan-only"])
    assert rc == 1 and "failed notebook broken" in capsys.readouterr().out


def test_readme_sweep_commands_parse():
    """The README's sweep commands (```sh blocks) name real notebooks and declared parameters."""
    readme = (ROOT / "README.md").read_text()
    lines = [line for block in re.findall(r"```sh\n(.*?)```", readme, flags=re.S)
             for line in block.replace("\\\n", " ").splitlines() if "aqa_lib.sweep" in line]
    assert len(lines) >= 3
    for line in lines:
        words = shlex.split(line, comments=True)
        args = sweep.build_parser().parse_args(words[words.index("aqa_lib.sweep") + 1:])
        books = sweep.resolve_notebooks(args.notebooks)
        from aqa_lib.runner import _literal, check_names

        check_names([b.ipynb for b in books], {k: _literal(v) for k, v in args.p})


# ---------------------------------------------------------------------------------------------------------
# Workers: local processes and a real local Ray cluster
# ---------------------------------------------------------------------------------------------------------


def kill_once(config: dict, *, marker: str, victim: int) -> dict:
    """A sweep task whose run of seed ``victim`` kills its own worker process (SIGKILL) during epoch 2, once
    (``marker`` remembers it), after checkpointing epoch 1; every other call is :func:`sweep.train_task`."""
    cfg = RunConfig.from_dict(config)
    if cfg.seed == victim and not Path(marker).exists():
        found = train.lookup(cfg)

        def die(epoch: int, row: dict) -> None:
            if epoch == 2:
                Path(marker).write_text(str(os.getpid()))
                os.kill(os.getpid(), signal.SIGKILL)

        train.train(found.to_train, data=found.data, key=found.key, keep_checkpoint=True, checkpoint_every_s=0,
                    on_epoch_end=die)
    return sweep.train_task(config)


def _jobs(configs: list[RunConfig]) -> list[sweep.Job]:
    return [sweep.Job(train.run_key(c), c) for c in configs]


def test_local_workers_sweep_a_notebook_end_to_end(tmp_path, capsys):
    book = _notebook(tmp_path / "books", "seeds", SEEDS)
    assert sweep.main([str(book.ipynb), "--scale", "smoke", "--workers", "2"]) == 0
    out = capsys.readouterr().out
    assert "2 runs to train (0 cached) in 1 wave" in out
    assert "trained 2 runs in 2 round(s)" in out and "1 notebook(s) render from the cache" in out
    keys = set(cache.keys())
    assert keys == {train.run_key(_config(seed=s)) for s in (0, 1)}
    assert sweep.plan_notebook(book, {}, "smoke").complete  # the notebook renders from the cache
    assert sweep.main([str(book.ipynb), "--scale", "smoke", "--workers", "2"]) == 0
    assert "trained 0 runs in 1 round(s)" in capsys.readouterr().out


def test_a_killed_local_worker_s_runs_are_retried_and_nothing_is_lost(tmp_path, capsys):
    configs = [_config(seed=s) for s in (0, 1)]
    marker = tmp_path / "killed"
    executor = sweep.LocalExecutor(2, retries=1, task=functools.partial(kill_once, marker=str(marker), victim=1))
    try:
        outcomes = executor.execute(_jobs(configs))
    finally:
        executor.close()
    assert marker.exists()  # a worker really died
    assert [sweep._check(o) for o in outcomes] == [None, None]
    assert "a worker died; restarting the pool" in capsys.readouterr().err
    victim = cache.read_meta(train.run_key(configs[1]))["meta"]
    assert victim["resumed_from_epoch"] == 1  # the retry resumed from the checkpoint of epoch 1
    assert not cache.checkpoint_path(train.run_key(configs[1])).exists()


def kill_always(config: dict) -> dict:
    os.kill(os.getpid(), signal.SIGKILL)
    raise AssertionError("unreachable")


def test_a_run_that_keeps_killing_its_worker_fails_after_its_retries():
    executor = sweep.LocalExecutor(1, retries=1, task=kill_always)
    try:
        (outcome,) = executor.execute(_jobs([_config(seed=5)]))
    finally:
        executor.close()
    assert outcome.error == "its worker died in each of its 2 attempt(s) (--retries 1)"
    assert sweep._check(outcome) == outcome.error


def test_ray_cluster_sweeps_with_a_killed_worker(tmp_path, monkeypatch):
    ray = pytest.importorskip("ray")
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    monkeypatch.setenv("RAY_USAGE_STATS_ENABLED", "0")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # Ray workers cannot import tests/
        marker = tmp_path / "killed"
        executor = sweep.RayExecutor(retries=2, task=functools.partial(kill_once, marker=str(marker), victim=1))
        assert executor.workers == 2
        book = _notebook(tmp_path / "books", "seeds", SEEDS)
        report = sweep.sweep([book], params={}, scale="smoke", executor=executor)
        executor.close()  # leaves alone the Ray instance it did not start
        assert ray.is_initialized()
    finally:
        ray.shutdown()
    assert report.ok, report
    assert marker.exists()  # the worker training seed 1 really died, and Ray ran the task again
    assert report.complete == ["seeds"] and len(report.trained) == 2
    assert cache.read_meta(train.run_key(_config(seed=1)))["meta"]["resumed_from_epoch"] == 1
    assert sweep.plan_notebook(book, {}, "smoke").complete


def test_estimate_line_before_a_table_uses_cached_timings():
    first, second = _config(seed=0), _config(seed=1)
    assert sweep.estimate_line([first, second]) == (
        "2 runs to train (0 cached), no estimate yet (no cached run of these models, datasets and scale)")
    train.run(first)
    per_epoch = cache.read_meta(train.run_key(first))["summary"]["seconds_per_epoch"]
    line = sweep.estimate_line([first, second, second])  # a key asked twice trains once
    minutes = max(per_epoch * second.epochs / 60, 0.1)
    assert line == f"1 run to train (1 cached), estimated ~{minutes:.1f} min one after another"
    assert sweep.estimate_line([first]) == "0 runs to train (1 cached): nothing trains"
    # another row of the same paper, never cached: estimated from its family's timings
    other = config_for("vatp/i3d_te", "fisv", "TES", scale="smoke", epochs=4)
    assert sweep.estimate_line([other]) == (
        f"1 run to train (0 cached), estimated ~{max(per_epoch * 4 / 60, 0.1):.1f} min one after another")
    # asked to probe (the default above smoke scale): a model without a cached run of its own is timed first
    third = config_for("vatp/tableI/i3d_pd", "fisv", "TES", scale="smoke", epochs=3)
    line = sweep.estimate_line([third], probe=True)
    assert line.startswith("1 run to train (0 cached), estimated ~") and line.endswith(
        "one after another; 1 model timed by a few training steps")
    assert not cache.exists(train.run_key(third))


# ----- run_local: a table's uncached runs on local workers (what a notebook does with two or more) -----


def test_local_workers_reads_the_environment(monkeypatch):
    monkeypatch.setenv("AQA_WORKERS", "3")
    assert sweep.local_workers() == 3
    assert sweep.local_workers(1) == 1
    monkeypatch.setenv("AQA_WORKERS", "auto")
    monkeypatch.setattr(sweep, "cores", lambda: 16)
    monkeypatch.setattr(sweep, "_memory_gb", lambda: 256.0)
    assert sweep.local_workers() == 16  # one per core
    monkeypatch.setattr(sweep, "_memory_gb", lambda: 10.0)
    assert sweep.local_workers() == 3  # at most one per 3 GB of memory
    monkeypatch.setenv("AQA_IN_WORKER", "1")
    assert sweep.local_workers() == 1  # a worker never starts workers of its own
    for bad in ("0", "two", "1.5", "-2"):
        monkeypatch.setenv("AQA_WORKERS", bad)
        with pytest.raises(ValueError, match="AQA_WORKERS"):
            sweep.local_workers()


def test_run_local_on_workers_gives_the_runs_trained_here(tmp_path, monkeypatch):
    """Uncached quick runs go to two local worker processes, then come back from the cache equal to the same
    runs trained one after another in this process; smoke runs and single runs never start workers."""
    configs = [config_for(MODEL, "mtl_aqa", "score", scale="quick", seed=s, epochs=1) for s in (0, 1)]
    assert len(sweep.runs_for_workers(configs, 2)) == 2
    assert sweep.runs_for_workers(configs, 1) == [] and sweep.runs_for_workers(configs[:1], 2) == []
    assert sweep.runs_for_workers([_config(0), _config(1)], 2) == []  # smoke
    assert "on 2 workers" in sweep.estimate_line(configs, workers=2)
    started = []
    original = sweep.LocalExecutor.execute
    monkeypatch.setattr(sweep.LocalExecutor, "execute",
                        lambda self, jobs, desc="runs": started.append(len(jobs)) or original(self, jobs, desc))
    remote = sweep.run_local(configs, workers=2)
    assert started == [2] and all(r.cached for r in remote)  # trained by the workers, read from the cache
    monkeypatch.setenv("AQA_CACHE_DIR", str(tmp_path / "other"))
    here = sweep.run_local(configs, workers=1)
    assert started == [2]
    for a, b in zip(remote, here, strict=True):
        assert a.key == b.key
        assert a.summary["last_spearman"] == pytest.approx(b.summary["last_spearman"], abs=1e-6)
        assert not b.cached and len(a.arrays["test_pred_last"]) > 10
        assert a.arrays["test_pred_last"] == pytest.approx(b.arrays["test_pred_last"], abs=1e-5)


def test_a_wave_runs_its_longest_runs_first(monkeypatch):
    """Within a wave, runs go longest first by their estimate (seconds per epoch × epochs); runs without an
    estimate count as long; ties keep their order."""
    configs = [_config(seed=0, epochs=2), _config(seed=1, epochs=9), _config(seed=2, epochs=4).replace(model="vatp/i3d_te"),
               _config(seed=3, epochs=4)]
    monkeypatch.setattr(sweep, "timings", lambda: {(MODEL, "fisv", "smoke"): 1.0})
    jobs = sweep.merge([sweep.NotebookPlan("nb", pending={train.run_key(c): c for c in configs})])
    (wave,) = sweep.schedule(jobs)
    assert [j.config.seed for j in wave] == [2, 1, 3, 0]  # i3d_te has no timing: first; then 9, 4, 2 epochs


# ----- probes: an estimate before anything of a model has trained -----


def test_a_probe_times_a_run_without_training_it_or_touching_this_process():
    threads, rng = torch.get_num_threads(), torch.get_rng_state()
    per_epoch = sweep.probe_seconds_per_epoch(_config(epochs=50), threads=1)
    assert 0 < per_epoch < 60 and math.isfinite(per_epoch)
    assert list(cache.keys()) == []  # nothing cached, no checkpoint
    assert torch.get_num_threads() == threads and torch.equal(torch.get_rng_state(), rng)
    with pytest.raises(ValueError, match="steps must be at least 1"):
        sweep.probe_seconds_per_epoch(_config(), steps=0)


def test_probes_fill_in_only_models_without_a_timing_of_their_own(monkeypatch):
    """One probe per model, dataset and scale; a sibling row's timing does not count; a failing probe leaves
    its runs without an estimate."""
    calls = []

    def fake(config, *, threads=1, steps=2):
        calls.append((config.model, threads))
        if config.model == "vatp/tableI/i3d_pd":
            raise RuntimeError("no GPU here")
        return 3.0

    monkeypatch.setattr(sweep, "probe_seconds_per_epoch", fake)
    configs = [_config(seed=0), _config(seed=1), _config(seed=0).replace(model="vatp/i3d_te"),
               _config(seed=1).replace(model="vatp/i3d_te"), _config(seed=0).replace(model="vatp/tableI/i3d_pd")]
    known = {(MODEL, "fisv", "smoke"): 1.0, ("vatp/*", "fisv", "smoke"): 1.0}
    probed = sweep.probe_timings(configs, known, threads=2)
    assert calls == [("vatp/i3d_te", 2), ("vatp/tableI/i3d_pd", 2)]
    assert probed == {**known, ("vatp/i3d_te", "fisv", "smoke"): 3.0}
    assert known == {(MODEL, "fisv", "smoke"): 1.0, ("vatp/*", "fisv", "smoke"): 1.0}  # not changed in place


def test_a_probing_sweep_estimates_from_an_empty_cache_and_the_cli_probes_above_smoke(tmp_path, capsys,
                                                                                     monkeypatch):
    book = _notebook(tmp_path / "books", "seeds", SEEDS)
    sweep.sweep([book], params={}, scale="smoke", executor=None, plan_only=True)
    assert "no estimate yet" in capsys.readouterr().out
    sweep.sweep([book], params={}, scale="smoke", executor=None, plan_only=True, probe=True)
    out = capsys.readouterr().out
    assert "timed 1 model / dataset pair(s) without a cached run" in out
    assert "2 runs to train (0 cached) in 1 wave, estimated ~" in out and "no estimate yet" not in out
    assert list(cache.keys()) == []
    seen = []
    monkeypatch.setattr(sweep, "sweep", lambda books, **kw: seen.append(kw["probe"]) or sweep.SweepReport())
    monkeypatch.setattr(sweep, "LocalExecutor", lambda *a, **k: Inline())
    for argv, probe in ((["--scale", "quick"], True), (["--scale", "smoke"], False),
                        (["--scale", "quick", "--plan-only"], False), (["--scale", "smoke", "--probe"], True),
                        (["--scale", "quick", "--no-probe"], False)):
        sweep.main([str(book.ipynb), *argv])
        assert seen.pop() is probe, argv


def _make_cost():
    return runpy.run_path(str(ROOT / "benchmarks" / "make_cost.py"), run_name="make_cost")


def test_make_cost_sums_the_cached_wall_seconds_of_a_notebook_s_runs(tmp_path, capsys):
    """benchmarks/make_cost.py: before training every run is listed as not cached (nothing trains); after a
    sweep, the total is the sum of the runs' recorded wall seconds, stage-1 runs included."""
    bench = _make_cost()
    book = _notebook(tmp_path / "books", "seeds", SEEDS)
    before = bench["measure"]([book], {}, "smoke")
    assert set(before["seconds"]) == {train.run_key(_config(seed=s)) for s in (0, 1)}
    assert all(v is None for v in before["seconds"].values()) and "seeds" in before["incomplete"]
    assert not cache.keys()

    assert sweep.sweep([book], params={}, scale="smoke", executor=Inline()).ok
    after = bench["measure"]([book], {}, "smoke")
    walls = {k: cache.read_meta(k)["meta"]["wall_seconds"] for k in cache.keys()}
    assert after["seconds"] == walls and not after["incomplete"]
    assert bench["main"]([str(book.ipynb), "--scale", "smoke", "--workers", "2"]) == 0
    out = capsys.readouterr().out
    assert "2 runs at smoke" in out and "2 measured, 0 not cached" in out
    assert f"{sum(walls.values()) / 60:.1f} CPU-min summed; / 2 workers" in out

    source = _config(seed=3).replace(save_weights=True)
    stage2 = _config(seed=0).replace(init_from=({"into": "", "from": "", "run": source.to_dict()},))
    runs: dict = {}
    bench["_with_stage1"](train.run_key(stage2), stage2, runs)
    assert set(runs) == {train.run_key(stage2), train.run_key(source)}
