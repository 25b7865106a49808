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


def test_render_jobs_is_one_per_core_capped_by_the_notebooks_and_rejects_bad_values():
    assert runner.render_jobs(4, 2) == 2 and runner.render_jobs(1, 5) == 1 and runner.render_jobs("3", 9) == 3
    assert 1 <= runner.render_jobs("auto", 64) == runner.render_jobs(None, 64) <= 64
    for bad in (0, -2, "two"):
        with pytest.raises(SystemExit, match="--jobs must be a positive integer or 'auto'"):
            runner.render_jobs(bad, 3)


def _notebook(path, source: str, *, alone: bool = False) -> None:
    import nbformat

    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell("name = 'x'\nscale = 'smoke'")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell(source)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    if alone:
        nb.metadata["aqa"] = {"runs_alone": True}
    nbformat.write(nb, path)


def test_notebooks_run_side_by_side_timing_ones_alone_and_failures_are_reported(tmp_path, capsys):
    # a and b each wait for the other's flag file: they finish only if they run at the same time (one after
    # the other, the first would time out and fail). d measures time (runs_alone): it must start only after
    # a and b have ended.
    wait = ("import pathlib, time\n"
            "me, other = pathlib.Path({me!r}), pathlib.Path({other!r})\n"
            "me.write_text(name)\n"
            "t0 = time.time()\n"
            "while not other.exists():\n"
            "    assert time.time() - t0 < 60, 'the other notebook never started'\n"
            "    time.sleep(0.05)\n"
            "pathlib.Path({me!r} + '.done').write_text('')\n")
    flags = str(tmp_path / "a.flag"), str(tmp_path / "b.flag")
    books = [tmp_path / f"{stem}.ipynb" for stem in "abcd"]
    _notebook(books[0], wait.format(me=flags[0], other=flags[1]))
    _notebook(books[1], wait.format(me=flags[1], other=flags[0])
              + "import warnings\nwarnings.warn('this API goes away', DeprecationWarning)")
    _notebook(books[2], "raise ValueError('broken on purpose: ' + name)")
    _notebook(books[3], f"import pathlib\nassert all(pathlib.Path(f + '.done').exists() for f in {flags!r})",
              alone=True)
    assert runner.runs_alone(books[3]) and not runner.runs_alone(books[0])
    out = tmp_path / "out"
    rc = runner.run(books, scale="smoke", params={"name": "n1"}, out_dir=out, jobs=3)
    text = capsys.readouterr().out
    assert rc == 1
    assert open(flags[0]).read() == open(flags[1]).read() == "n1"  # parameters reached every kernel
    assert all((out / f"{stem}.ipynb").exists() for stem in "abcd")
    assert "3 notebooks, 3 at a time, then d alone" in text and "3 passed, 1 failed" in text
    assert "1 warning(s) in the notebooks' output" in text and "b: " in text and "DeprecationWarning: this API" in text
    assert "c: ValueError: broken on purpose: n1" in text
    assert "ok a in" in text and "ok b in" in text and "ok d in" in text and "FAILED c after" in text


def test_the_notebooks_that_measure_latency_run_alone():
    import re

    timing = re.compile(r"from aqa_lib\.efficiency import|measure_vatp\(")
    for path in runner.discover():
        source = path.with_suffix(".py").read_text()
        assert runner.runs_alone(path) == bool(timing.search(source)), path.stem


def test_figure_manifest_keeps_every_row_when_processes_write_it_at_once(tmp_path):
    # Notebooks rendered side by side update one figures/manifest.csv: without the lock, a read-modify-write
    # loses the rows another process wrote in between.
    import csv
    from multiprocessing import get_context

    ctx = get_context("spawn")
    procs = [ctx.Process(target=_write_rows, args=(tmp_path, w, 40)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    with (tmp_path / "manifest.csv").open(newline="") as f:
        figures = [row["figure"] for row in csv.DictReader(f)]
    assert sorted(figures) == sorted(f"w{w}_{i:02d}.png" for w in range(4) for i in range(40))


def _write_rows(directory, worker: int, n: int) -> None:
    from aqa_lib.notebook import _write_manifest

    for i in range(n):
        _write_manifest(directory, {"figure": f"w{worker}_{i:02d}.png", "notebook": "demo"})


def test_a_notebook_whose_worker_dies_is_reported_and_the_runner_goes_on(tmp_path, capsys):
    # The kernel's parent is the worker process: killing it breaks the pool, as running out of memory would.
    books = [tmp_path / "killer.ipynb", tmp_path / "fine.ipynb"]
    _notebook(books[0], "import os, signal, time\ntime.sleep(0.5)\nos.kill(os.getppid(), signal.SIGKILL)")
    _notebook(books[1], "x = 1")
    rc = runner.run(books, scale="smoke", params={}, out_dir=tmp_path / "out", jobs=2)
    text = capsys.readouterr().out
    assert rc == 1 and "killer: its worker process died (BrokenProcessPool" in text


def test_kernels_shut_down_without_an_interrupt_signal(monkeypatch):
    import asyncio

    from jupyter_client.manager import AsyncKernelManager

    sent = []

    async def interrupt(self):
        sent.append(self.shutting_down)

    monkeypatch.setattr(AsyncKernelManager, "_async_interrupt_kernel", interrupt)
    manager = runner.kernel_manager_class()()
    manager.shutting_down = False
    asyncio.run(manager._async_interrupt_kernel())  # a user's interrupt still reaches the kernel
    manager.shutting_down = True
    asyncio.run(manager._async_interrupt_kernel())  # the one jupyter_client sends before a shutdown does not
    assert sent == [False]
