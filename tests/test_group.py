"""Runs trained together (aqa_lib.group): a member is the run trained alone; planning, fallbacks, resume."""

import copy

import numpy as np
import pytest
import torch
from torch import nn

from aqa_lib import cache
from aqa_lib import group as grouping
from aqa_lib.experiments import config_for
from aqa_lib.group import Grouping, group_key, plan_groups, supports_grouping, train_group
from aqa_lib.models.base import _REGISTRY, ModelOutput, check_inputs, register
from aqa_lib.models.blocks import DropoutNoise, RunDropout, RunMultiheadAttention, use_run_noise
from aqa_lib.train import RunConfig, RunResult, run, run_key, run_many, train

TOL = 1e-4
"""Relative and absolute tolerance of member == alone (batched kernels sum in another order)."""


class TinyNet(nn.Module):
    """Conv1×1-BatchNorm-ReLU-Dropout per segment, a masked self-attention with attention dropout, masked mean,
    linear score: BatchNorm statistics and both kinds of dropout, at a size that trains in a second.

    The convolution has no bias: before a BatchNorm its true gradient is zero, and AdamW turns the float noise
    of a zero gradient into steps of the learning rate's size, which reach the evaluation through the running
    mean — a member and its run alone would then differ by more than float rounding (module docstring of
    :mod:`aqa_lib.group`)."""

    def __init__(self, in_dims, modalities=("rgb",), width=8, dropout=0.3):
        super().__init__()
        self.modalities = tuple(modalities)
        self.in_dims = {m: in_dims[m] for m in self.modalities}
        self.proj = nn.Sequential(nn.Conv1d(in_dims["rgb"], width, 1, bias=False), nn.BatchNorm1d(width), nn.ReLU(),
                                  nn.Dropout(dropout))
        self.attn = nn.MultiheadAttention(width, 2, dropout=dropout, batch_first=True)
        self.head = nn.Linear(width, 1)
        self.other = nn.Linear(1, 1)  # trainable while ``head`` is frozen (two-stage test)

    def forward(self, features, mask):
        xs, mask = check_inputs(features, mask, self.in_dims, model="TinyNet")
        h = self.proj(xs["rgb"].transpose(1, 2)).transpose(1, 2)
        a, _ = self.attn(h, h, h, key_padding_mask=~mask, need_weights=False)
        w = mask.float()[..., None]
        pooled = ((h + a) * w).sum(1) / w.sum(1)
        score = self.head(pooled).squeeze(-1) + self.other(pooled[:, :1]).squeeze(-1) * 0.1
        return ModelOutput(score, {"pooled": pooled, "centres": {"rgb": [score[:, None].repeat(1, 3)]}})

    def loss(self, out, labels):
        m = ((out.score - labels) ** 2).mean()
        return m, {"mse": m}


class Noisy(TinyNet):
    """Draws Gaussian noise in its forward pass (a random operation other than dropout)."""

    def forward(self, features, mask):
        out = super().forward(features, mask)
        out.score = out.score + 0.01 * torch.randn_like(out.score)
        return out


class ReadsDegree(TinyNet):
    """Reads a per-video extra in its forward pass."""

    batch_inputs = ("PCS",)

    def forward(self, features, mask, *, PCS):
        out = super().forward(features, mask)
        out.score = out.score + 0.0 * PCS
        return out


for _name, _cls in (("test/tiny", TinyNet), ("test/tiny_noisy", Noisy), ("test/tiny_extras", ReadsDegree)):
    if _name not in _REGISTRY:
        register(_name, _cls, description="group test model")


@pytest.fixture(autouse=True)
def _tmp_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("AQA_CACHE_DIR", str(tmp_path / "cache"))


def _tiny(**kw):
    base = dict(model="test/tiny", dataset="fisv", target="TES", scale="smoke", epochs=3, batch_size=8, lr=1e-2,
                record_keys=("centres",), record_train=(0, 1), record_test=(0,), final_keys=("pooled",))
    return RunConfig(**{**base, **kw})


def assert_same_run(member: RunResult, alone: RunResult, *, same_key: bool = True,
                    ignore_meta: tuple[str, ...] = ()) -> None:
    """A member of a group is the run trained alone: key, history, arrays, summary and metadata (but timings)."""
    tol = TOL
    assert member.key == alone.key or not same_key
    hm, ha = member.history.drop(columns="seconds"), alone.history.drop(columns="seconds")
    assert list(hm.columns) == list(ha.columns)
    np.testing.assert_allclose(hm.to_numpy(float), ha.to_numpy(float), rtol=tol, atol=tol)
    assert set(member.arrays) == set(alone.arrays)
    for k, v in alone.arrays.items():
        assert member.arrays[k].shape == v.shape, k
        np.testing.assert_allclose(member.arrays[k], v, rtol=tol, atol=tol, err_msg=k)
    assert set(member.summary) == set(alone.summary)
    for k, v in alone.summary.items():
        if k == "seconds_per_epoch":
            continue
        if k.endswith("_epoch"):
            assert member.summary[k] == v, k
        else:
            assert member.summary[k] == pytest.approx(v, rel=tol, abs=tol), k
    timing = {"wall_seconds", "group_size", *ignore_meta}
    assert {k: v for k, v in member.meta.items() if k not in timing} == \
           {k: v for k, v in alone.meta.items() if k not in timing}


# ---------------------------------------------------------------------------------------------------------
# A member equals the run trained alone (the papers' models, smoke scale)
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("model", ["lmac", "gdlt", "pamfn/branch/rgb"])
def test_member_equals_the_run_trained_alone(model):
    configs = [config_for(model, "fisv", target, scale="smoke", seed=seed, epochs=2)
               for target, seed in (("TES", 0), ("TES", 1), ("PCS", 0))]
    assert supports_grouping(configs[0])
    members = train_group(configs)
    assert [m.meta["group_size"] for m in members] == [3, 3, 3]
    for member, config in zip(members, configs, strict=True):
        assert_same_run(member, train(config))
    # the members really are different runs (seed, target), each with its dropout active
    assert not np.allclose(members[0].arrays["test_pred_last"], members[1].arrays["test_pred_last"], atol=TOL)
    assert not np.allclose(members[0].arrays["test_true"], members[2].arrays["test_true"])


def test_two_stage_members_and_grad_clip_and_holdout_equal_the_runs_alone():
    stage1 = [_tiny(seed=s, epochs=2, save_weights=True) for s in (4, 5)]
    configs = [_tiny(seed=s, epochs=3, grad_clip=0.05, holdout=0.25, freeze=("head",),
                     init_from=({"into": "head", "from": "head", "run": src.to_dict()},))
               for s, src in zip((4, 5), stage1, strict=True)]
    members = train_group(configs)
    assert [m.meta["group_size"] for m in members] == [2, 2]
    for member, config in zip(members, configs, strict=True):
        assert_same_run(member, train(config))
    assert members[0].meta["train_names"] != members[1].meta["train_names"]  # each seed holds its own videos out


# ---------------------------------------------------------------------------------------------------------
# Dropout from the run's own generator
# ---------------------------------------------------------------------------------------------------------


def test_a_run_alone_draws_nothing_from_the_global_random_state():
    reference = train(_tiny())
    disturbed = train(_tiny(), on_epoch_end=lambda epoch, row: torch.rand(1000))  # advances the global state
    assert np.array_equal(reference.arrays["test_pred_last"], disturbed.arrays["test_pred_last"])
    assert reference.history.drop(columns="seconds").equals(disturbed.history.drop(columns="seconds"))


def test_run_dropout_and_attention_draw_from_the_noise_and_keep_pytorch_numbers_otherwise():
    torch.manual_seed(0)
    mha = nn.MultiheadAttention(8, 2, dropout=0.5, batch_first=True, kdim=6, vdim=5, add_bias_kv=True)
    model = nn.Sequential(nn.Dropout(0.5))
    ours = copy.deepcopy(mha)
    assert use_run_noise(ours, DropoutNoise(torch.Generator().manual_seed(1))) == 1
    assert use_run_noise(model, DropoutNoise(torch.Generator().manual_seed(1))) == 1
    assert isinstance(ours, RunMultiheadAttention) and isinstance(model[0], RunDropout)
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in mha.named_parameters()]
    q, k, v = torch.randn(3, 4, 8), torch.randn(3, 7, 6), torch.randn(3, 7, 5)
    pad = torch.zeros(3, 7, dtype=torch.bool)
    pad[0, 4:] = True
    mha.eval(), ours.eval()
    for kw in ({}, {"key_padding_mask": pad, "average_attn_weights": False}):
        expected, got = mha(q, k, v, **kw), ours(q, k, v, **kw)
        assert torch.allclose(expected[0], got[0], atol=1e-6) and torch.allclose(expected[1], got[1], atol=1e-6)
    ours.train()
    first = ours(q, k, v)[1]
    ours.noise.generator.manual_seed(1)
    assert torch.equal(first, ours(q, k, v)[1])  # the masks follow the run's generator
    dropped = model.train()(torch.ones(10_000))
    assert set(dropped.unique().tolist()) == {0.0, 2.0} and abs(float((dropped == 0).float().mean()) - 0.5) < 0.03
    noise = DropoutNoise(torch.Generator().manual_seed(2))
    with noise.recording() as shapes:
        model[0].noise = noise
        assert torch.equal(model(torch.ones(4, 3)), torch.ones(4, 3))  # recording drops nothing
    assert shapes == [(4, 3)]
    with pytest.raises(RuntimeError, match="drawn but not used"), noise.replaying([torch.rand(2), torch.rand(2)]):
        model(torch.ones(2))


def test_members_reading_the_same_videos_share_one_copy_of_the_features():
    from aqa_lib.data.core import DataError
    from aqa_lib.train import load_data

    tes, pcs = load_data(_tiny()), load_data(_tiny(target="PCS"))
    pool = grouping._BankPool()
    a, b = pool.bank(tes.train, torch.device("cpu")), pool.bank(pcs.train, torch.device("cpu"))
    assert b.flat is a.flat  # one copy of the features on the device
    assert torch.equal(b.labels, torch.as_tensor(pcs.train.labels, dtype=torch.float32))
    assert not torch.equal(a.labels, b.labels)
    test = pool.bank(tes.test, torch.device("cpu"))
    assert test.flat is not a.flat and len(test) == len(tes.test)
    with pytest.raises(DataError, match="videos differ"):
        a.relabelled(tes.test)


# ---------------------------------------------------------------------------------------------------------
# Planning and fallbacks
# ---------------------------------------------------------------------------------------------------------


def test_group_key_says_what_must_be_equal():
    base = _tiny()
    same = [base.replace(seed=3), base.replace(target="PCS"), base.replace(record_keys=()), base.replace(data_seed=1)]
    assert all(group_key(c) == group_key(base) for c in same)
    other = [base.replace(lr=1e-3), base.replace(window=50), base.replace(epochs=4), base.replace(grad_clip=1.0),
             base.replace(model_kwargs={"width": 4}), base.replace(dataset="rg", target="Ball"),
             base.replace(batch_size=4)]
    assert len({group_key(c) for c in [base, *other]}) == len(other) + 1
    with pytest.raises(ValueError, match=r"differ in \['settings'\]"):
        train_group([base, base.replace(lr=1e-3)])
    plan = plan_groups([base, base.replace(lr=1e-3), base.replace(seed=1), base.replace(seed=2), base.replace(seed=3)],
                       max_group=2)
    assert plan == [[0, 2], [1], [3, 4]]
    assert plan_groups([base, base.replace(seed=1)], on_cpu=False) == [[0], [1]]  # run_many's "auto" on a CPU


def test_models_that_cannot_be_stacked_say_why_and_train_alone(monkeypatch):
    extras = supports_grouping(_tiny(model="test/tiny_extras"))
    assert not extras and "extras ['PCS']" in extras.reason
    noisy = supports_grouping(_tiny(model="test/tiny_noisy"))
    assert not noisy and "random operation" in noisy.reason
    pamfn = supports_grouping(config_for("pamfn", "rg", "Ball", scale="smoke"))  # its Gumbel decisions
    assert not pamfn and "PAMFN" in pamfn.reason
    assert supports_grouping(_tiny()) == Grouping(True)
    calls = []
    real = grouping.train
    monkeypatch.setattr(grouping, "train", lambda c, **kw: calls.append(c.seed) or real(c, **kw))
    results = train_group([_tiny(model="test/tiny_noisy", seed=s, epochs=1) for s in (0, 1)])
    assert calls == [0, 1] and [r.meta["group_size"] for r in results] == [1, 1]


# ---------------------------------------------------------------------------------------------------------
# run_many: cache first, misses grouped, each cached as if trained alone
# ---------------------------------------------------------------------------------------------------------


def test_run_many_groups_the_misses_and_caches_each_as_alone(monkeypatch):
    configs = [_tiny(seed=s) for s in range(3)] + [_tiny(model="test/tiny_extras", seed=0)]
    first = run(configs[0])
    groups = []
    real = grouping.train_group
    monkeypatch.setattr(grouping, "train_group", lambda cs, **kw: groups.append([c.seed for c in cs]) or real(cs, **kw))
    assert [r.meta["group_size"] for r in run_many(configs[1:3], use_cache=False)] == [1, 1]  # "auto": CPU alone
    results = run_many(configs, group=True)
    assert groups == [[1, 2]]  # the cached run is looked up; the run reading extras trains alone
    assert results[0].cached and results[0].summary == first.summary
    assert [r.meta["group_size"] for r in results[1:]] == [2, 2, 1]
    assert [r.key for r in results] == [run_key(c) for c in configs]
    again = run_many(configs, group=True)  # every member was cached under its own key
    assert all(r.cached for r in again) and groups == [[1, 2]]
    assert_same_run(again[1], train(configs[1]))
    alone = run_many(configs[1:3], use_cache=False, group=False)
    assert groups == [[1, 2]] and [r.meta["group_size"] for r in alone] == [1, 1]


def test_run_many_trains_stage_one_runs_first_and_groups_them(monkeypatch):
    stage2 = [_tiny(seed=s, epochs=2, init_from=({"into": "head", "from": "head",
                                                 "run": _tiny(seed=s, epochs=2, save_weights=True).to_dict()},))
              for s in (0, 1)]
    groups = []
    real = grouping.train_group
    monkeypatch.setattr(grouping, "train_group", lambda cs, **kw: groups.append([c.save_weights for c in cs])
                        or real(cs, **kw))
    results = run_many(stage2, group=True)
    assert groups == [[True, True], [False, False]]  # the stage-1 runs as one group, then stage 2
    for result, config in zip(results, stage2, strict=True):
        assert_same_run(result, train(config))


# ---------------------------------------------------------------------------------------------------------
# Checkpoints: a killed group resumes, as a group or alone
# ---------------------------------------------------------------------------------------------------------


def test_a_killed_group_resumes_as_a_group_or_alone(capsys):
    configs = [_tiny(seed=s, epochs=4) for s in (0, 1)]
    keys = [run_key(c) for c in configs]
    reference = [train(c, key=f"reference{i}") for i, c in enumerate(configs)]

    class Killed(Exception):
        pass

    def kill_at_two(epoch, rows):
        if epoch == 2:
            raise Killed

    with pytest.raises(Killed):
        train_group(configs, keys=keys, checkpoint_every_s=0.0, on_epoch_end=kill_at_two)
    assert all(cache.checkpoint_path(k).exists() for k in keys)
    epochs_seen = []
    resumed = train_group(configs, keys=keys, on_epoch_end=lambda e, rows: epochs_seen.append(e))
    assert epochs_seen == [2, 3, 4] and "resumed from epoch 1" in capsys.readouterr().out
    for member, alone in zip(resumed, reference, strict=True):
        assert_same_run(member, alone, same_key=False, ignore_meta=("resumed_from_epoch",))
        assert member.meta["resumed_from_epoch"] == 1
    assert not any(cache.checkpoint_path(k).exists() for k in keys)
    with pytest.raises(Killed):
        train_group(configs, keys=keys, checkpoint_every_s=0.0, on_epoch_end=kill_at_two)
    alone = train(configs[1], key=keys[1])  # a member's checkpoint is a solo checkpoint
    assert alone.meta["resumed_from_epoch"] == 1
    np.testing.assert_allclose(alone.arrays["test_pred_last"], reference[1].arrays["test_pred_last"],
                               rtol=TOL, atol=TOL)


def test_per_member_gradient_clipping_is_clip_grad_norm_of_each_member():
    torch.manual_seed(0)
    grads = [torch.randn(3, 4, 5), torch.randn(3, 7), torch.randn(3)]
    grads[1][2] *= 1e-3  # member 2's norm is below the threshold for one tensor's scale
    expected = []
    for i in range(3):
        params = [nn.Parameter(torch.zeros_like(g[i])) for g in grads]
        for p, g in zip(params, grads, strict=True):
            p.grad = g[i].clone()
        nn.utils.clip_grad_norm_(params, 2.0)
        expected.append([p.grad for p in params])
    grouping._clip_per_member(grads, 2.0)
    for i in range(3):
        for g, e in zip(grads, expected[i], strict=True):
            assert torch.allclose(g[i], e, atol=1e-6)


def test_a_table_shows_a_bar_over_its_runs(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("AQA_CACHE_DIR", str(tmp_path))
    configs = [config_for("vatp/i3d_mlp", "rg", "Ball", scale="smoke", seed=s, epochs=1) for s in (0, 1)]
    run_many(configs, progress=True)  # "auto": on CPU every run trains alone, under one bar over the runs
    assert "runs: 100%" in capsys.readouterr().err  # the bar over runs reached its end
    run_many([*configs, configs[0].replace(seed=2)], progress=True)
    err = capsys.readouterr().err
    assert "runs:" not in err  # one run left to train: no bar over runs, only its bar over epochs
