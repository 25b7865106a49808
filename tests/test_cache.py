"""Results cache: code fingerprint (prose does not count, statements do), quarantine, the cache command."""

import json
import textwrap

import numpy as np
import pytest

from aqa_lib import cache


@pytest.fixture(autouse=True)
def _tmp_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("AQA_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("AQA_CODE_VERSION", raising=False)


def _digest(tmp_path, name, source):
    path = tmp_path / name
    path.write_text(textwrap.dedent(source))
    return cache._module_digest(path, path.stat().st_mtime_ns)[0]


def test_comments_and_docstrings_do_not_count_statements_do(tmp_path):
    base = _digest(tmp_path, "a.py", '''
        """Module docstring."""
        WIDTH = 64
        """Attribute docstring."""

        def f(x):
            """Say what f does."""
            return x * WIDTH  # a comment
        ''')
    reworded = _digest(tmp_path, "b.py", '''
        """Another module docstring, longer."""
        # a new comment line moves every line down
        WIDTH = 64

        def f(x):
            """Say it differently."""

            return x * WIDTH
        ''')
    changed = _digest(tmp_path, "c.py", '''
        """Module docstring."""
        WIDTH = 65

        def f(x):
            return x * WIDTH
        ''')
    assert base == reworded
    assert changed != base


def test_recipe_assignments_do_not_count_other_constants_do(tmp_path):
    source = '''
        from aqa_lib.recipes import Optimiser, Recipe
        WIDTH = {width}
        TOY_RECIPE = Recipe(family="toy", source="here", optimiser={{"any": Optimiser("adamw", lr=1e-3)}},
                            epochs={{"quick": {epochs}}})
        OTHER_RECIPE: Recipe = TOY_RECIPE

        def f(x):
            return x * WIDTH
        '''
    base = _digest(tmp_path, "r1.py", source.format(width=64, epochs=12))
    assert _digest(tmp_path, "r2.py", source.format(width=64, epochs=36)) == base  # a preset: in each config
    assert _digest(tmp_path, "r3.py", source.format(width=65, epochs=12)) != base  # other statements count
    assert _digest(tmp_path, "r4.py", source.format(width=64, epochs=12).replace("TOY_RECIPE", "TOY")) != base


def test_recipe_values_reach_the_key_through_the_config():
    from aqa_lib.experiments import config_for
    from aqa_lib.train import run_identity

    a = config_for("lmac", "fisv", "TES", scale="smoke")
    b = config_for("lmac", "fisv", "TES", scale="smoke", epochs=a.epochs + 1)
    ida, idb = run_identity(a), run_identity(b)
    assert ida["code"] == idb["code"] and ida["settings"]["epochs"] != idb["settings"]["epochs"]
    assert cache.fingerprint(ida) != cache.fingerprint(idb)


def test_closure_follows_imports_and_leaves_presentation_out():
    closure = cache.code_closure(("aqa_lib.train",))
    for needed in ("aqa_lib.train", "aqa_lib.data.synthetic", "aqa_lib.data.batching",
                   "aqa_lib.metrics", "aqa_lib.models.base", "aqa_lib.data"):
        assert needed in closure
    for presentation in ("aqa_lib.notebook", "aqa_lib.report", "aqa_lib.runner", "aqa_lib.cache"):
        assert presentation not in closure  # the cache decides where results are kept, not what they are
    assert "aqa_lib.models.lmac" in cache.code_closure(("aqa_lib.train", "aqa_lib.models.lmac"))
    assert cache.code_version(("aqa_lib.train",)) != cache.code_version(("aqa_lib.train", "aqa_lib.models.lmac"))


def test_sampled_file_digest(tmp_path):
    path = tmp_path / "x.bin"
    data = np.arange(300_000, dtype=np.uint8).tobytes()
    path.write_bytes(data)
    a = cache.sampled_file_digest(path)
    path.write_bytes(data[:-1] + b"\x07")  # same size, last byte differs
    assert cache.sampled_file_digest(path) != a
    path.write_bytes(data)
    assert cache.sampled_file_digest(path) == a


def _entry(key, *, model="m", torch_version=None, roots=("aqa_lib.train",)):
    import torch

    meta = {"config": {"model": model, "dataset": "fisv", "target": "TES", "source": "synthetic",
                       "scale": "smoke", "seed": 0, "epochs": 2},
            "summary": {"last_spearman": 0.5}, "history": {"epoch": [1, 2]},
            "meta": {"torch": torch_version or torch.__version__, "code_roots": list(roots),
                     "code_version": cache.code_version(roots)}}
    cache.save(key, meta, {"x": np.zeros(3)})


def test_unreadable_entries_are_quarantined_and_do_not_pile_up():
    for i in range(cache.QUARANTINE_KEEP + 3):
        key = f"k{i}"
        _entry(key)
        (cache.entry_dir(key) / cache.ARRAYS_FILE).write_bytes(b"broken")
        with pytest.warns(UserWarning, match="unreadable.*prune --quarantine"):
            assert cache.load(key) is None
        assert not cache.entry_dir(key).exists()
    kept = list((cache.runs_dir() / cache.QUARANTINE).iterdir())
    assert len(kept) == cache.QUARANTINE_KEEP
    assert all((p / "REASON.txt").read_text().startswith("unreadable") for p in kept)


def test_save_keeps_or_replaces():
    _entry("k")
    cache.save("k", {"config": {}, "v": 2}, {"x": np.ones(1)})
    assert "v" not in cache.read_meta("k")  # a concurrent worker's entry is kept
    cache.save("k", {"config": {}, "v": 2}, {"x": np.ones(1)}, replace=True)
    assert cache.read_meta("k")["v"] == 2
    assert [p.name for p in cache.runs_dir().iterdir()] == ["k"]  # no temporary directories left


def test_cache_command_list_verify_prune(capsys):
    _entry("good")
    _entry("old_torch", torch_version="1.0.0")
    _entry("old_code", roots=("aqa_lib.train",))
    meta = cache.read_meta("old_code")
    meta["meta"]["code_version"] = "0000"
    (cache.entry_dir("old_code") / cache.RESULT_FILE).write_text(json.dumps(meta))
    _entry("broken")
    (cache.entry_dir("broken") / cache.ARRAYS_FILE).write_bytes(b"broken")
    cache.checkpoint_path("good").write_bytes(b"a checkpoint of a run that has finished")

    assert cache.main(["list"]) == 0
    out = capsys.readouterr().out
    assert "4 entries" in out and "stale: torch" in out and "stale: code" in out and "current" in out
    assert cache.main(["list", "--stale"]) == 0
    assert "2 entries" in capsys.readouterr().out

    assert cache.main(["verify"]) == 1
    assert "UNREADABLE broken" in capsys.readouterr().out
    assert cache.main(["verify", "--fix"]) == 0
    assert not cache.exists("broken")

    with pytest.raises(SystemExit):
        cache.main(["prune"])  # no selector: refuses
    assert "needs a selector" in capsys.readouterr().err
    assert cache.main(["prune", "--stale", "--checkpoints", "--quarantine", "--dry-run"]) == 0
    assert "4 would be deleted" in capsys.readouterr().out
    assert cache.exists("old_torch")
    assert cache.main(["prune", "--stale", "--checkpoints", "--quarantine"]) == 0
    assert cache.keys() == ["good"]
    assert not cache.checkpoint_path("good").exists()
    assert not (cache.runs_dir() / cache.QUARANTINE).exists()
