"""Training engine: determinism, both protocols, records, results cache (hits, atomicity, resume, corruption)."""

import json

import numpy as np
import pytest
import torch
from torch import nn

from aqa_lib import cache
from aqa_lib.models.base import _REGISTRY, ModelOutput, register
from aqa_lib.train import RunConfig, TrainingError, main, run, summarise, train


class MeanLinear(nn.Module):
    """Masked mean pooling per modality, concatenated, then a linear score (a tiny engine test model)."""

    def __init__(self, in_dims, modalities=("rgb",), scale=1.0, dropout=0.1):
        super().__init__()
        self.modalities = tuple(modalities)
        self.head = nn.Linear(sum(in_dims[m] for m in self.modalities), 1)
        self.drop = nn.Dropout(dropout)
        self.other = nn.Linear(1, 1)  # a second submodule, trainable while ``head`` is frozen
        self.scale = scale

    def forward(self, features, mask):
        w = mask.float()[..., None]
        pooled = [(features[m] * w).sum(1) / w.sum(1) for m in self.modalities]
        h = self.drop(torch.cat(pooled, dim=-1))
        score = self.head(h).squeeze(-1) * self.scale + 0.0 * self.other.bias
        return ModelOutput(score, {"centres": {"rgb": [score[:, None].repeat(1, 3)]}, "pooled": h})

    def loss(self, out, labels):
        m = ((out.score - labels) ** 2).mean()
        return m, {"mse": m}


if "test/mean_linear" not in _REGISTRY:
    register("test/mean_linear", MeanLinear, description="engine test model")


@pytest.fixture(autouse=True)
def _tmp_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("AQA_CACHE_DIR", str(tmp_path / "cache"))


def _config(**kw):
    base = dict(model="test/mean_linear", dataset="fisv", target="TES", scale="smoke", epochs=3, batch_size=8,
                lr=1e-2, record_keys=("centres",), record_train=(0, 1), record_test=(0,))
    return RunConfig(**{**base, **kw})


def test_train_is_deterministic_and_records():
    a = train(_config())
    b = train(_config())
    assert a.history.drop(columns="seconds").equals(b.history.drop(columns="seconds"))
    assert np.array_equal(a.arrays["test_pred_last"], b.arrays["test_pred_last"])
    assert len(a.history) == 3
    assert a.arrays["epoch/centres/rgb/0"].shape == (3, 2, 3)  # [epochs, recorded videos, K]
    assert a.arrays["final_test/pooled"].shape == (1, 1024)
    assert "test/centres/rgb/0" not in a.arrays
    d = train(_config(final_keys=("centres/rgb/0", "missing/path"), eval_batch_size=5))
    assert d.arrays["test/centres/rgb/0"].shape == (16, 3)  # every smoke test video, batched by 5
    assert np.allclose(d.arrays["test/centres/rgb/0"][:, 0] * 45.0, d.arrays["test_pred_last"], atol=1e-4)
    c = train(_config(seed=1))
    assert not np.array_equal(a.arrays["test_pred_last"], c.arrays["test_pred_last"])


def test_protocols():
    r = train(_config(holdout=0.25))
    hist = r.history
    assert r.summary["papers_spearman"] == pytest.approx(hist["test_spearman"].max())
    assert r.summary["last_spearman"] == pytest.approx(hist["test_spearman"].iloc[-1])
    e = r.summary["holdout_epoch"]
    assert e == int(hist["holdout_spearman"].idxmax()) + 1
    assert r.summary["holdout_spearman"] == pytest.approx(hist["test_spearman"].iloc[e - 1])
    assert len(r.meta["train_names"]) + 8 == 32  # 25 % of the 32 smoke training videos held out
    assert set(r.meta["train_names"]).isdisjoint(set(r.meta["test_names"]))


def test_cache_hit_trains_nothing(monkeypatch):
    first = run(_config())
    assert not first.cached
    import aqa_lib.train as engine

    monkeypatch.setattr(engine, "train", lambda *a, **k: pytest.fail("a cached run was retrained"))
    again = run(_config())
    assert again.cached and again.key == first.key
    assert again.summary == first.summary
    assert np.array_equal(again.arrays["epoch/centres/rgb/0"], first.arrays["epoch/centres/rgb/0"])
    with pytest.raises(BaseException, match="retrained"):
        run(_config(seed=5))  # a different config is a different key


def test_killed_run_leaves_no_entry_and_resumes_identically():
    reference = train(_config(epochs=4), key="reference")
    cfg = _config(epochs=4)

    class Killed(Exception):
        pass

    def kill_after_two(epoch, row):
        if epoch == 2:
            raise Killed

    from aqa_lib.train import load_data, run_key

    key = run_key(cfg, load_data(cfg))
    with pytest.raises(Killed):
        train(cfg, key=key, checkpoint_every_s=0.0, on_epoch_end=kill_after_two)
    assert cache.checkpoint_path(key).exists() and not cache.exists(key)
    epochs_seen = []
    resumed = train(cfg, key=key, on_epoch_end=lambda e, r: epochs_seen.append(e))
    assert epochs_seen == [2, 3, 4]  # killed during epoch 2, before its checkpoint: epoch 2 is redone
    assert np.allclose(resumed.history["test_spearman"], reference.history["test_spearman"])
    assert np.array_equal(resumed.arrays["test_pred_last"], reference.arrays["test_pred_last"])
    assert not cache.checkpoint_path(key).exists()  # a finished train() leaves no checkpoint to resume from


def test_run_keeps_the_checkpoint_until_cached(monkeypatch):
    cfg = _config(epochs=3)
    seen = {}
    real_save = cache.save

    def save(key, *args, **kwargs):
        seen["checkpoint_at_save"] = cache.checkpoint_path(key).exists()
        return real_save(key, *args, **kwargs)

    import aqa_lib.train as engine

    real_train = engine.train
    monkeypatch.setattr(cache, "save", save)
    monkeypatch.setattr(engine, "train", lambda *a, **k: real_train(*a, **{**k, "checkpoint_every_s": 0.0}))
    result = run(cfg)
    assert seen["checkpoint_at_save"] is True  # a kill before the cache write still finds the checkpoint
    assert not cache.checkpoint_path(result.key).exists()


def test_corrupt_entry_is_recomputed():
    first = run(_config())
    (cache.entry_dir(first.key) / cache.ARRAYS_FILE).write_bytes(b"not an npz")
    with pytest.warns(UserWarning, match="unreadable"):
        again = run(_config())
    assert not again.cached
    assert again.summary["last_spearman"] == pytest.approx(first.summary["last_spearman"])


def test_nan_loss_stops_with_advice():
    with pytest.raises(TrainingError, match="Lower lr"):
        train(_config(model_kwargs={"scale": float("nan")}, epochs=1))


@pytest.mark.parametrize(
    "kw,match",
    [({"model": "nope"}, "Unknown model variant"), ({"optimizer": "rmsprop"}, "Unknown optimizer"),
     ({"epochs": 0}, "epochs"), ({"device": "auto"}, "resolve 'auto'"), ({"lr": -1.0}, "lr"),
     ({"model_kwargs": {"x": object()}}, "JSON")],
)
def test_bad_config(kw, match):
    with pytest.raises((ValueError, TypeError), match=match):
        _config(**kw)


def test_from_dict_rejects_unknown_fields():
    d = _config().to_dict()
    assert RunConfig.from_dict(d) == _config()
    with pytest.raises(ValueError, match="Unknown RunConfig fields"):
        RunConfig.from_dict({**d, "epoch": 3})


def test_summarise_over_seeds():
    results = [run(_config(seed=s)) for s in (0, 1)]
    table = summarise(results)
    assert len(table) == 1 and table["last_spearman_count"].iloc[0] == 2
    values = [r.summary["last_spearman"] for r in results]
    assert table["last_spearman_mean"].iloc[0] == pytest.approx(np.mean(values))
    assert table["last_spearman_std"].iloc[0] == pytest.approx(np.std(values, ddof=1))


def test_cli_runs_one_job(tmp_path, capsys):
    path = tmp_path / "job.json"
    path.write_text(json.dumps(_config(epochs=1).to_dict()))
    assert main([str(path)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["cached"] is False and "papers_spearman" in out
    assert main([str(path)]) == 0
    assert json.loads(capsys.readouterr().out)["cached"] is True


def test_two_stage_init_and_freeze():
    stage1 = _config(save_weights=True, epochs=2)
    first = run(stage1)
    weights = cache.load_weights(first.key)
    stage2 = _config(seed=3, epochs=2, freeze=("head",),
                     init_from=({"into": "head", "from": "head", "run": stage1.to_dict()},))
    result = train(stage2)
    assert result.meta["n_trainable"] == 2 < result.meta["n_params"]
    # The frozen head kept the stage-1 weights: its predictions equal stage 1's final ones.
    assert np.allclose(result.arrays["test_pred_last"], first.arrays["test_pred_last"], atol=1e-5)
    assert set(weights) == {"head.weight", "head.bias", "other.weight", "other.bias"}


def test_init_from_errors():
    stage1 = _config(epochs=1)
    with pytest.raises(ValueError, match="save_weights=True"):
        _config(init_from=({"into": "head", "from": "head", "run": stage1.to_dict()},))
    good = _config(save_weights=True, epochs=1).to_dict()
    with pytest.raises(TrainingError, match="do not fit"):
        train(_config(init_from=({"into": "head", "from": "nothing", "run": good},)))
    with pytest.raises(ValueError, match="freeze names"):
        train(_config(freeze=("encoder",)))


def test_concat_padded_pads_time_axis_by_dtype():
    from aqa_lib.train import _concat_padded

    floats = _concat_padded([np.ones((2, 3)), np.ones((1, 5))])
    assert floats.shape == (3, 5) and floats[0, 3:].tolist() == [0, 0]
    ints = _concat_padded([np.zeros((1, 2), dtype=np.int64), np.zeros((1, 4), dtype=np.int64)])
    assert ints.dtype == np.int64 and ints[0].tolist() == [0, 0, -1, -1]
