"""Training engine: determinism, both protocols, records, results cache (hits, atomicity, resume, corruption)."""

import json
import os

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


def test_meta_records_the_thread_count_the_run_trained_with():
    """Threads are not in the key (a cached result serves any thread count) but the meta says which count
    produced it: CPU GEMMs split their sums by thread count, so numbers agree only to float precision."""
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        two = run(_config(epochs=1))
        torch.set_num_threads(1)
        again = run(_config(epochs=1))  # from the cache
        alone = train(_config(epochs=1))
    finally:
        torch.set_num_threads(before)
    assert two.meta["threads"] == again.meta["threads"] == 2 and alone.meta["threads"] == 1


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


# ---------------------------------------------------------------------------------------------------------
# Cache keys: what decides the numbers, and nothing else
# ---------------------------------------------------------------------------------------------------------

if "test/mean_linear_alias" not in _REGISTRY:
    register("test/mean_linear_alias", MeanLinear, description="the same model under another name")
    register("test/mean_linear_wide", MeanLinear, description="another model", scale=2.0)


def test_same_model_under_other_names_trains_once(monkeypatch):
    first = run(_config())
    import aqa_lib.train as engine

    real_train = engine.train
    monkeypatch.setattr(engine, "train", lambda *a, **k: pytest.fail("the same model was trained twice"))
    alias = run(_config(model="test/mean_linear_alias"))
    assert alias.cached and alias.key == first.key and alias.summary == first.summary
    assert alias.config.model == "test/mean_linear_alias"  # labels follow the name that was asked for
    # The resolved architecture decides: an override equal to the variant's own setting is the same model,
    # another override is another model.
    assert engine.run_key(_config(model_kwargs={"scale": 1.0})) == first.key
    assert engine.run_key(_config(model="test/mean_linear_wide")) != first.key
    monkeypatch.setattr(engine, "train", real_train)


def test_recording_more_retrains_once_and_keeps_both_records(monkeypatch):
    plain = run(_config(record_keys=(), final_keys=()))
    richer = run(_config(final_keys=("centres",)))  # asks for what the entry lacks: retrained, entry replaced
    assert not richer.cached and richer.key == plain.key
    assert np.array_equal(richer.arrays["test_pred_last"], plain.arrays["test_pred_last"])
    import aqa_lib.train as engine

    monkeypatch.setattr(engine, "train", lambda *a, **k: pytest.fail("retrained although recorded"))
    for cfg in (_config(final_keys=("centres",)), _config(record_keys=(), final_keys=()), _config()):
        assert run(cfg).cached
    assert "test/centres/rgb/0" in run(_config()).arrays


def test_tracking_more_videos_is_trained_once_and_serves_fewer(monkeypatch, tmp_path):
    """A notebook tracking 3 training videos and one tracking those and 2 more share one entry, whichever asks
    first: no ping-pong of retrains between them. Each gets the videos it asked for."""
    import aqa_lib.train as engine

    few = run(_config(record_train=(0, 1), record_test=(0,)))
    many = run(_config(record_train=(0, 1, 2, 3), record_test=(0, 1)))  # not covered: retrained once, widened
    assert not many.cached and many.arrays["epoch/centres/rgb/0"].shape[1] == 4
    assert many.arrays["final_test/pooled"].shape[0] == 2
    # monkeypatch.context, not undo(): undo() would also drop the fixture's AQA_CACHE_DIR, and the runs below
    # would then read and write the user's own cache
    with monkeypatch.context() as patched:
        patched.setattr(engine, "train", lambda *a, **k: pytest.fail("retrained although recorded"))
        again = run(_config(record_train=(0, 1), record_test=(0,)))
        assert again.cached and again.meta["record_train_index"] == [0, 1] and len(again.meta["record_test"]) == 1
        assert np.array_equal(again.arrays["epoch/centres/rgb/0"], many.arrays["epoch/centres/rgb/0"][:, :2])
        # the same videos' records as the smaller run's (recorded in a batch of another size: float rounding)
        np.testing.assert_allclose(again.arrays["epoch/centres/rgb/0"], few.arrays["epoch/centres/rgb/0"], atol=1e-5)
        np.testing.assert_allclose(again.arrays["final_test/pooled"], few.arrays["final_test/pooled"], atol=1e-5)
        assert run(_config(record_train=(0, 1, 2, 3), record_test=(0, 1))).cached
        # an entry without a per-video axis (one vector per model, like LMAC-Net's query weights) is kept whole
        stored = {"final_test/weights": np.ones(5), "final_test/score": np.ones(4), "epoch/weights": np.ones((3, 5)),
                  "epoch/score": np.ones((3, 6))}
        cut, meta = engine._recorded_as_asked(
            _config(record_train=(0, 1), record_test=(0,)), stored,
            {"record_train_index": list(range(6)), "record_test_index": list(range(4))})
        assert {k: v.shape for k, v in cut.items()} == {"final_test/weights": (5,), "final_test/score": (1,),
                                                        "epoch/weights": (3, 5), "epoch/score": (3, 2)}
        assert meta["record_train_index"] == [0, 1] and meta["record_test_index"] == [0]
    assert os.environ["AQA_CACHE_DIR"].startswith(str(tmp_path))
    other = run(_config(record_train=(3, 2), record_test=(0,)))  # other videos first: retrained, not a prefix
    assert not other.cached and other.meta["record_train_index"] == [3, 2]


def test_key_covers_code_torch_and_data(monkeypatch):
    import aqa_lib.train as engine

    cfg = _config()
    key = engine.run_key(cfg)
    assert engine.run_identity(cfg)["torch"] == torch.__version__
    with monkeypatch.context() as patched:
        patched.setattr(torch, "__version__", "0.0.1")
        assert engine.run_key(cfg) != key
    monkeypatch.setenv("AQA_CODE_VERSION", "pinned-release")
    assert engine.run_identity(cfg)["code"] == "pinned-release" and engine.run_key(cfg) != key
    monkeypatch.delenv("AQA_CODE_VERSION")
    assert engine.run_key(cfg.replace(data_seed=1)) != key
    assert engine.run_key(cfg.replace(record_keys=(), metrics=("spearman",), save_weights=True)) == key


# ---------------------------------------------------------------------------------------------------------
# Multi-stage runs do not depend on the cache state
# ---------------------------------------------------------------------------------------------------------


def _stage2():
    stage1 = _config(save_weights=True, epochs=2, seed=7)
    return _config(epochs=2, model_kwargs={"dropout": 0.5},
                   init_from=({"into": "head", "from": "head", "run": stage1.to_dict()},))


def test_nested_run_leaves_the_rng_alone():
    cold = train(_stage2())  # trains stage 1 in-process first
    warm = train(_stage2())  # stage 1 now comes from the cache
    assert np.array_equal(cold.arrays["test_pred_last"], warm.arrays["test_pred_last"])
    assert cold.history.drop(columns="seconds").equals(warm.history.drop(columns="seconds"))


def test_pamfn_two_stage_cold_equals_warm(tmp_path, monkeypatch):
    from aqa_lib.experiments import pamfn_config

    cfg = pamfn_config("pamfn", "rg", "Ball", scale="smoke")
    cold = run(cfg)
    monkeypatch.setenv("AQA_CACHE_DIR", str(tmp_path / "other"))
    for spec in cfg.init_from:  # warm: the stage-1 runs are cached before stage 2 starts
        run(RunConfig.from_dict(spec["run"]))
    warm = run(cfg)
    assert not warm.cached
    assert warm.summary["last_spearman"] == cold.summary["last_spearman"]
    assert np.array_equal(warm.arrays["test_pred_last"], cold.arrays["test_pred_last"])


# ---------------------------------------------------------------------------------------------------------
# No cache means no resume; a resume is announced
# ---------------------------------------------------------------------------------------------------------


def test_no_cache_never_resumes_and_resume_is_announced(monkeypatch, capsys):
    cfg = _config(epochs=4)
    from aqa_lib.train import run_key

    key = run_key(cfg)

    def kill_at_three(epoch, row):
        if epoch == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(cfg, key=key, checkpoint_every_s=0.0, on_epoch_end=kill_at_three)
    assert cache.checkpoint_path(key).exists()
    seen = []
    train(cfg, key=key, resume=False, keep_checkpoint=True, on_epoch_end=lambda e, r: seen.append(e))
    assert seen == [1, 2, 3, 4]
    import aqa_lib.train as engine

    asked = {}
    real_train = engine.train
    monkeypatch.setattr(engine, "train", lambda *a, **k: asked.update(k) or real_train(*a, **k))
    fresh = run(cfg, use_cache=False)
    assert asked["resume"] is False and not cache.exists(key) and fresh.meta["resumed_from_epoch"] == 0
    with pytest.raises(KeyboardInterrupt):
        real_train(cfg, key=key, checkpoint_every_s=0.0, on_epoch_end=kill_at_three)
    capsys.readouterr()
    resumed = run(cfg)
    assert resumed.meta["resumed_from_epoch"] == 2
    assert "resumed from epoch 2" in capsys.readouterr().out
    assert np.allclose(resumed.history["test_spearman"], fresh.history["test_spearman"])


def test_cli_no_cache_trains_again(tmp_path, capsys):
    path = tmp_path / "job.json"
    path.write_text(json.dumps(_config(epochs=1).to_dict()))
    assert main([str(path)]) == 0
    capsys.readouterr()
    assert main([str(path), "--no-cache"]) == 0
    assert json.loads(capsys.readouterr().out)["cached"] is False
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(SystemExit):
        main([str(tmp_path / "bad.json")])
    assert "cannot read a RunConfig" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------------------
# Losses in float32 outside autocast
# ---------------------------------------------------------------------------------------------------------


class Bf16Probe(MeanLinear):
    """Emits a bf16 aux tensor and checks, in its loss, what the engine hands over."""

    seen: dict = {}

    def forward(self, features, mask):
        out = super().forward(features, mask)
        out.aux["attn"] = torch.softmax(torch.randn(features["rgb"].shape[0], 136, 5), 1).to(torch.bfloat16)
        return out

    def loss(self, out, labels):
        Bf16Probe.seen = {"dtype": out.aux["attn"].dtype, "score": out.score.dtype,
                          "autocast": torch.is_autocast_enabled("cpu")}
        return super().loss(out, labels)


def test_loss_is_computed_in_fp32_outside_autocast():
    from aqa_lib.data import load
    from aqa_lib.data.batching import FeatureBank
    from aqa_lib.train import _forward, _loss

    model = Bf16Probe({"rgb": 1024})
    bank = FeatureBank(load("fisv", "TES", scale="smoke").train.select_modalities(("rgb",)))
    batch = bank.full_batch(torch.arange(4))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = _forward(model, batch)
        total, _ = _loss(model, out, batch)
    assert out.aux["attn"].dtype == torch.bfloat16  # what the forward pass produced
    assert Bf16Probe.seen == {"dtype": torch.float32, "score": torch.float32, "autocast": False}
    assert total.dtype == torch.float32


# ---------------------------------------------------------------------------------------------------------
# Extras, text and per-epoch metrics through the engine
# ---------------------------------------------------------------------------------------------------------


class ReadsExtras(MeanLinear):
    """Uses a per-video value and the text in forward, another per-video value in its loss."""

    batch_inputs = ("deductions", "text", "text_mask")
    loss_inputs = ("PCS",)

    def __init__(self, in_dims, **kw):
        super().__init__(in_dims, **kw)
        self.text_head = nn.Linear(6, 1)

    def forward(self, features, mask, *, deductions, text, text_mask):
        out = super().forward(features, mask)
        pooled = (text * text_mask[..., None]).sum(1) / text_mask.sum(1, keepdim=True).clamp(min=1)
        out.score = out.score + self.text_head(pooled).squeeze(-1) + 0.0 * deductions
        return out

    def loss(self, out, labels, *, PCS):
        m = ((out.score - labels) ** 2).mean()
        aux = 1e-3 * ((out.score - PCS / 45) ** 2).mean()
        return m + aux, {"mse": m, "pcs": aux}


if "test/reads_extras" not in _REGISTRY:
    register("test/reads_extras", ReadsExtras, description="engine test model reading extras and text")


def _with_text(data):
    import dataclasses

    rng = np.random.default_rng(0)

    def texts(split):
        return [rng.normal(size=(int(rng.integers(1, 9)), 6)).astype(np.float32) for _ in range(len(split))]

    return dataclasses.replace(data, train=dataclasses.replace(data.train, text=texts(data.train)),
                               test=dataclasses.replace(data.test, text=texts(data.test)))


def test_engine_carries_extras_text_and_metrics():
    from aqa_lib.metrics import relative_l2
    from aqa_lib.train import load_data

    cfg = _config(model="test/reads_extras", metrics=("spearman", "mse", "rl2"))
    data = _with_text(load_data(cfg))
    result = train(cfg, data=data)
    assert {"train_pcs", "test_spearman", "test_mse", "test_rl2"} <= set(result.history.columns)
    scores = np.r_[data.train.scores, data.test.scores]
    expected = relative_l2(result.arrays["test_pred_last"], result.arrays["test_true"],
                           score_min=scores.min(), score_max=scores.max())
    assert result.summary["last_rl2"] == pytest.approx(expected, rel=1e-5)
    assert "papers_rl2" in result.summary
    with pytest.raises(TrainingError, match=r"reads per-video \['text', 'text_mask'\].*Load data"):
        train(cfg)  # the synthetic default has no text


@pytest.mark.parametrize("metrics,match", [(("mse",), "must include 'spearman'"), (("spearman", "mae"), "mae")])
def test_bad_metrics(metrics, match):
    with pytest.raises(ValueError, match=match):
        _config(metrics=metrics)


def test_table_rows_that_are_one_model_share_one_key():
    from aqa_lib.experiments import builder_for
    from aqa_lib.train import run_key

    def key(name):
        return run_key(builder_for(name)(name, "fisv", "TES", scale="quick"))

    same = [["lmac", "lmac/table7/all", "lmac/table8/weight", "lmac/table9/ours"],
            ["pamfn", "pamfn/tableV/two_stage/ours", "pamfn/tableVI/full", "pamfn/tableVII/ranked",
             "pamfn/tableVIII/all", "pamfn/fig6/k3"],
            ["pamfn/branch/rgb", "pamfn/tableIV/rgb"]]
    keys = [{key(n) for n in group} for group in same]
    assert all(len(k) == 1 for k in keys)
    assert len(set.union(*keys)) == len(same)
    assert key("lmac/table7/rgb") not in keys[0] and key("pamfn/fig6/k4") not in keys[1]


def test_resolved_modalities_are_what_the_model_reads():
    """The key's ``modalities`` (None resolved to the data's) equals what every variant actually builds."""
    from aqa_lib.experiments import builder_for
    from aqa_lib.models.base import create_model, variants
    from aqa_lib.train import load_data, resolved_model_kwargs

    for name in variants():
        if name.startswith("test/"):
            continue
        cfg = builder_for(name)(name, "fisv", "TES", scale="smoke")
        data = load_data(cfg)
        with torch.device("meta"):
            model = create_model(name, in_dims=dict(data.modalities), **cfg.model_kwargs)
        resolved = resolved_model_kwargs(cfg, data).get("modalities")
        if resolved is not None:
            assert tuple(resolved) == tuple(model.modalities), name


def test_key_follows_the_content_of_files_a_model_keyword_names(tmp_path):
    from aqa_lib.train import run_key

    folder = tmp_path / "prompts"
    folder.mkdir()
    (folder / "a.npy").write_bytes(b"one")
    cfg = _config(model_kwargs={"scale": 1.0, "dropout": 0.1})
    with_dir = cfg.replace(model_kwargs={**cfg.model_kwargs, "note": str(folder)})
    key = run_key(with_dir)
    assert run_key(with_dir) == key
    (folder / "a.npy").write_bytes(b"two")  # same path, same size, other content
    assert run_key(with_dir) != key
