"""PAMFN: every registered variant runs forward / loss / backward, pinned parameter counts, deterministic eval,
the straight-through decision, the ranked mask, the negated attention, padding, the registry against the paper
tables, two-stage run configurations and frozen branches under the engine, option errors."""

import pytest
import torch

from aqa_lib import cache
from aqa_lib.experiments import CONFIG_BUILDERS, pamfn_config, variant_modalities
from aqa_lib.experiments.pamfn import training_scheme
from aqa_lib.models.base import ModelOutput, count_parameters, create_model, get_variant, variants
from aqa_lib.models.pamfn import (
    PAMFN,
    BranchModel,
    FusionBaseline,
    NegatedAttention,
    build_pamfn,
    fusionnet_mask,
    gumbel_decision,
    pool_mask,
)
from aqa_lib.tables import reported, row_labels
from aqa_lib.train import RunConfig, load_data, run, train

DIMS = {"rgb": 24, "flow": 20, "audio": 12}
SMALL = {"d_model": 16, "hidden_dim": 16}
B, T = 3, 13
LENGTHS = (13, 8, 5)
OFFICIAL = {"rgb": 1024, "flow": 1024, "audio": 768}


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Tiny models run fastest on one thread (restored after)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _batch(seed: int = 0) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    mask = torch.arange(T)[None, :] < torch.tensor(LENGTHS)[:, None]
    feats = {m: torch.randn(B, T, d, generator=g).masked_fill(~mask[:, :, None], 0.0) for m, d in DIMS.items()}
    return feats, mask


def _small(name: str, **kwargs):
    torch.manual_seed(0)
    v = get_variant(name)
    extra = dict(SMALL)
    if v.builder is build_pamfn and "n_fusion" not in v.overrides:
        extra["n_fusion"] = 3
    return create_model(name, in_dims=DIMS, **{**extra, **kwargs})


def _may_lack_gradient(model, pname: str) -> bool:
    """Parameters no forward path uses: the official unused LayerNorms, the branches' own heads inside a
    fusion model, and branch levels a variant never reads (e.g. level 3 without MSFD)."""
    if "unused_norm" in pname:
        return True
    return not isinstance(model, BranchModel) and pname.startswith("branches.")


PAMFN_VARIANTS = list(variants("pamfn"))


@pytest.mark.parametrize("name", PAMFN_VARIANTS)
def test_every_variant_forward_loss_backward(name):
    model = _small(name)
    feats, mask = _batch()
    out = model(feats, mask)
    assert isinstance(out, ModelOutput) and out.score.shape == (B,)
    assert ((out.score > 0) & (out.score < 1)).all()  # sigmoid heads (or a convex mix of them)
    aux = out.aux
    assert aux["lengths"].tolist() == list(LENGTHS)
    assert set(aux["branch_scores"]) == set(model.modalities)
    if isinstance(model, PAMFN):
        lengths = [T // 2, T // 4, 1]
        assert [tuple(m.shape) for m in aux["stage_masks"]] == [(B, n) for n in lengths]
        for i, stage in enumerate(model.stages):
            d = aux["decisions"][i]
            assert (d is None) == (not stage.has_policy)
            if d is not None:
                assert d.shape == (B, lengths[i])
                assert ((d >= 0) & (d < model.n_fusion) | ~aux["stage_masks"][i]).all()
                assert (d[~aux["stage_masks"][i]] == -1).all()
            if aux["msfd_attention"][i] is not None:
                total = sum(aux["msfd_attention"][i].values())
                assert torch.allclose(total, torch.ones_like(total), atol=1e-5)
    total, parts = model.loss(out, torch.rand(B))
    assert "mse" in parts and all(v.ndim == 0 and torch.isfinite(v) for v in parts.values())
    total.backward()
    for pname, p in model.named_parameters():
        if p.grad is None:
            assert _may_lack_gradient(model, pname), f"{name}: no gradient reaches {pname}"
        else:
            assert torch.isfinite(p.grad).all(), f"{name}: non-finite gradient in {pname}"
    if isinstance(model, PAMFN) and model.tau is not None:
        assert model.tau.grad is not None  # the straight-through path reaches the temperature


def _branch_gradients(model) -> dict[str, bool]:
    """Modality → whether a loss on the fused score (branch_loss_weight 0) gives its branch any gradient."""
    feats, mask = _batch()
    total, _ = model.loss(model(feats, mask), torch.rand(B))
    total.backward()
    return {m: any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.branches[m].parameters())
            for m in model.modalities}


def test_full_model_gradients_reach_every_used_branch_layer_end_to_end():
    model = _small("pamfn", branch_gradient="end_to_end")
    assert _branch_gradients(model) == {"rgb": True, "flow": True, "audio": True}
    missing = [n for n, p in model.named_parameters() if p.grad is None]
    assert all("unused_norm" in n or (n.startswith("branches.") and ".head." in n) for n in missing), missing
    assert all(model.stages[i].afm.policy.weight.grad.abs().sum() > 0 for i in range(3))


@pytest.mark.parametrize("name", ["pamfn", "pamfn/tableV/one_stage/ours", "pamfn/tableV/two_stage/weighted",
                                  "pamfn/tableV/one_stage/cat"])
def test_branch_gradient_official_detach_vs_end_to_end(name):
    """The official forward detaches the RGB and flow branch features: no gradient reaches those branches
    through the fused score (audio's still trains). End to end, every branch gets one. Table V's two-stage
    rows default to the official reading, its one-stage rows to end to end (module docstring)."""
    one_stage = get_variant(name).overrides.get("training") == "one_stage"
    default = _small(name)
    assert default.detached == (() if one_stage else ("rgb", "flow"))
    detached = _small(name, branch_gradient="official_detach")
    assert _branch_gradients(detached) == {"rgb": False, "flow": False, "audio": True}
    end_to_end = _small(name, branch_gradient="end_to_end")
    assert _branch_gradients(end_to_end) == {"rgb": True, "flow": True, "audio": True}
    # the same weights give the same scores either way: detaching changes gradients only
    end_to_end.load_state_dict(detached.state_dict())
    feats, mask = _batch()
    detached.eval()
    end_to_end.eval()
    with torch.no_grad():
        assert torch.equal(detached(feats, mask).score, end_to_end(feats, mask).score)
    # a training-scheme override switches the default reading with it
    assert _small(name, training="two_stage" if one_stage else "one_stage").detached == (
        ("rgb", "flow") if one_stage else ())
    with pytest.raises(ValueError, match="branch_gradient"):
        _small(name, branch_gradient="frozen")


def test_official_parameter_counts():
    assert count_parameters(create_model("pamfn", in_dims=OFFICIAL, n_fusion=6, fc_r=1)) == 18_057_805
    assert count_parameters(create_model("pamfn", in_dims=OFFICIAL, n_fusion=6)) == 17_958_989
    assert count_parameters(create_model("pamfn", in_dims=OFFICIAL, n_fusion=10)) == 22_714_493
    assert count_parameters(create_model("pamfn/branch/rgb", in_dims=OFFICIAL)) == 1_842_177
    assert count_parameters(create_model("pamfn/branch/flow", in_dims=OFFICIAL)) == 1_842_177
    assert count_parameters(create_model("pamfn/branch/audio", in_dims=OFFICIAL)) == 1_711_105


def test_eval_is_deterministic_and_train_samples_noise():
    model = _small("pamfn")
    feats, mask = _batch()
    model.train()
    model(feats, mask)  # move the BatchNorm statistics away from their initial values
    model.eval()
    with torch.no_grad():
        a, b = model(feats, mask), model(feats, mask)
    assert torch.equal(a.score, b.score)
    assert all(torch.equal(x, y) for x, y in zip(a.aux["decisions"], b.aux["decisions"], strict=True))
    # Train mode draws Gumbel noise: over a few draws the decisions change (dropout is off to isolate it).
    model.train()
    for mod in model.modules():
        if isinstance(mod, (torch.nn.Dropout, torch.nn.BatchNorm1d)):
            mod.eval()
    torch.manual_seed(1)
    draws = [torch.cat([d.flatten() for d in model(feats, mask).aux["decisions"]]) for _ in range(5)]
    assert any(not torch.equal(draws[0], d) for d in draws[1:])


def test_padded_batch_equals_each_video_alone():
    for model in (_small("pamfn"), _small("pamfn/tableVII/unranked"), _small("pamfn/tableV/one_stage/attention")):
        feats, mask = _batch()
        model.train()
        model(feats, mask)
        model.eval()
        with torch.no_grad():
            batched = model(feats, mask).score
            alone = torch.cat([model({m: x[i:i + 1, :n] for m, x in feats.items()}).score
                               for i, n in enumerate(LENGTHS)])
        assert torch.allclose(batched, alone, atol=1e-5)


def test_straight_through_decision():
    torch.manual_seed(0)
    logits = torch.randn(2, 5, 4, requires_grad=True)
    tau = torch.tensor(10.0, requires_grad=True)
    y = gumbel_decision(logits, tau, training=True)
    assert torch.equal(y.detach().sum(dim=1), torch.ones(2, 4))  # hard one-hot forward
    assert set(y.detach().unique().tolist()) == {0.0, 1.0}
    (y * torch.randn_like(y)).sum().backward()
    assert logits.grad is not None and logits.grad.abs().sum() > 0  # gradient through the soft sample
    assert tau.grad is not None and tau.grad != 0
    # Eval: no noise, the argmax of the logits.
    y_eval = gumbel_decision(logits, tau, training=False)
    assert torch.equal(y_eval.argmax(dim=1), logits.argmax(dim=1))


def test_ranked_and_unranked_masks_hand_made():
    decision = torch.zeros(1, 5, 2)
    decision[0, 2, 0] = 1.0  # step 0 chooses k* = 2
    decision[0, 0, 1] = 1.0  # step 1 chooses k* = 0
    decision.requires_grad_(True)
    ranked = fusionnet_mask(decision, "ranked")
    big = -1e9
    assert ranked[0, :, 0].tolist() == [0.0, 0.0, 0.0, big, big]  # FusionNets 0..k* enabled
    assert ranked[0, :, 1].tolist() == [0.0, big, big, big, big]
    unranked = fusionnet_mask(decision, "unranked")
    assert unranked[0, :, 0].tolist() == [big, big, 0.0, big, big]  # only k* enabled
    ranked.sum().backward()
    assert torch.equal(decision.grad, torch.ones_like(decision))  # mask + y − stop_grad(y): identity gradient


def test_negated_attention_hand_made():
    attn = NegatedAttention(2, n_heads=1, dropout=0.0)
    with torch.no_grad():
        for lin in (attn.q_proj, attn.k_proj, attn.v_proj):
            lin.weight.copy_(torch.eye(2))
            lin.bias.zero_()
    query = torch.tensor([[1.0, 0.0]])
    tokens = torch.tensor([[[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]]])
    out, weights = attn(query, tokens)
    expected = torch.softmax(-torch.tensor([1.0, 0.0, -1.0]) / 2 ** 0.5, dim=0)
    assert torch.allclose(weights[0], expected, atol=1e-6)
    assert weights[0].argmax() == 2  # the least similar token gets the most weight
    assert torch.allclose(out[0], expected @ tokens[0], atol=1e-6)
    _, masked = attn(query, tokens, torch.tensor([[0.0, 0.0, -1e9]]))
    assert masked[0, 2] < 1e-6 and torch.allclose(masked.sum(), torch.tensor(1.0))


def test_pool_mask_drops_odd_tail_and_padding():
    mask = torch.tensor([[True] * 5 + [False] * 2])
    assert pool_mask(mask).tolist() == [[True, True, False]]


def test_registry_matches_paper_tables():
    for table in ("tableIV", "tableV", "tableVI", "tableVII", "tableVIII"):
        rows = reported("pamfn", table)
        labels = set(row_labels(rows))  # "Weighted Fusion: RGB+Flow" vs "PAMFN: RGB+Flow" in Table IV
        ours = {v.reported_method for v in variants(f"pamfn/{table}/").values()}
        assert ours == labels, (table, labels ^ ours)
    assert get_variant("pamfn").reported_method in set(reported("pamfn", "tableI")["method"])
    assert {f"pamfn/fig6/k{k}" for k in range(1, 13)} <= set(variants("pamfn/fig6/"))
    assert CONFIG_BUILDERS["pamfn"] is pamfn_config
    assert variant_modalities("pamfn/tableIV/audio", "rg") == ("audio",)  # run_table's modality check


def test_training_schemes_and_configs():
    assert training_scheme("pamfn") == "two_stage"
    assert training_scheme("pamfn/branch/audio") == "branch"
    assert training_scheme("pamfn/tableV/one_stage/ours") == "one_stage"
    assert training_scheme("pamfn/tableIV/weighted/rgb+flow") == "one_stage"
    rg = pamfn_config("pamfn", "rg", "Hoop", scale="paper")
    assert (rg.optimizer, rg.lr, rg.epochs, rg.batch_size) == ("adamw", 5e-4, 300, 32)
    assert rg.model_kwargs["n_fusion"] == 10 and rg.lr_multipliers == {"head.": 0.1} and rg.grad_clip == 2.0
    assert rg.freeze == ("branches.rgb", "branches.flow")
    assert [s["into"] for s in rg.init_from] == ["branches.rgb", "branches.flow", "branches.audio"]
    s1 = RunConfig.from_dict(rg.init_from[0]["run"])
    assert (s1.model, s1.optimizer, s1.lr, s1.momentum, s1.weight_decay, s1.epochs) == (
        "pamfn/branch/rgb", "sgd", 1e-2, 0.9, 1e-4, 250)
    assert s1.save_weights and s1.grad_clip == 2.0 and s1.lr * s1.min_lr_ratio == pytest.approx(5e-6)
    assert s1.model_kwargs["head_dropout"] == 0.5
    fisv = pamfn_config("pamfn", "fisv", "PCS", scale="paper")
    assert (fisv.lr, fisv.epochs, fisv.model_kwargs["n_fusion"]) == (8e-4, 500, 6)
    # Fig. 6's K wins over the dataset's; Table IV's unimodal rows are the stage-1 runs themselves.
    assert "n_fusion" not in pamfn_config("pamfn/fig6/k4", "rg", "Ball", scale="paper").model_kwargs
    assert pamfn_config("pamfn/tableIV/flow", "rg", "Ball") == pamfn_config("pamfn/branch/flow", "rg", "Ball")
    sub = pamfn_config("pamfn/tableIV/flow+audio", "rg", "Ball", scale="smoke")
    assert sub.freeze == ("branches.flow",) and len(sub.init_from) == 2
    one = pamfn_config("pamfn/tableV/one_stage/ours", "rg", "Ball", scale="smoke")
    assert one.init_from == () and one.freeze == ()
    # A width override reaches the stage-1 branches, so their weights fit.
    wide = pamfn_config("pamfn", "rg", "Ball", scale="smoke", d_model=24)
    assert all(s["run"]["model_kwargs"]["d_model"] == 24 for s in wide.init_from)


def test_two_stage_under_the_engine_keeps_frozen_branches(tmp_path, monkeypatch):
    cfg = pamfn_config("pamfn", "rg", "Ball", scale="smoke", epochs=1, stage1_epochs=1).replace(
        save_weights=True, record_train=(0,), record_test=(0,))
    load_data(cfg)  # memoised in-process: generated (or read) once, from the usual data cache
    monkeypatch.setenv("AQA_CACHE_DIR", str(tmp_path / "cache"))  # fresh results cache: stage 1 trains here
    result = train(cfg)
    after = result.state_dict
    for spec in cfg.init_from:
        stage1 = cache.load_weights(run(RunConfig.from_dict(spec["run"])).key)
        m = spec["into"].split(".")[1]
        same = all(torch.equal(stage1[k], after[f"branches.{m}.{k[len('branch.'):]}"]) for k in stage1)
        assert same == (m in ("rgb", "flow")), m  # weights *and* BatchNorm statistics of frozen branches kept
    assert result.meta["n_trainable"] < result.meta["n_params"]
    assert result.arrays["final_test/decisions/0"].shape[0] == 1


def test_option_errors():
    with pytest.raises(ValueError, match="policy"):
        PAMFN(DIMS, policy="sorted")
    with pytest.raises(ValueError, match="msfd"):
        PAMFN(DIMS, msfd="sum")
    with pytest.raises(ValueError, match="fusion_stages"):
        PAMFN(DIMS, fusion_stages=0)
    with pytest.raises(ValueError, match="n_fusion"):
        PAMFN(DIMS, n_fusion=0)
    with pytest.raises(ValueError, match="n_heads"):
        PAMFN(DIMS, d_model=16, msfd_heads=3)
    with pytest.raises(ValueError, match="not in the data"):
        PAMFN(DIMS, modalities=("rgb", "depth"))
    with pytest.raises(ValueError, match="exactly one modality"):
        BranchModel(DIMS, modalities=("rgb", "flow"))
    with pytest.raises(ValueError, match="fusion must be"):
        FusionBaseline(DIMS, fusion="cat", level="scores")
    with pytest.raises(ValueError, match="training"):
        create_model("pamfn", in_dims=DIMS, training="branch")
    with pytest.raises(ValueError, match="does not apply"):
        pamfn_config("pamfn/branch/rgb", "rg", "Ball", training="two_stage")
    with pytest.raises(ValueError, match="scale"):
        pamfn_config("pamfn", "rg", "Ball", scale="huge")
    model = _small("pamfn")
    feats, mask = _batch()
    with pytest.raises(ValueError, match="at least 4"):
        model({m: x[:, :3] for m, x in feats.items()})
    with pytest.raises(ValueError, match="Missing modality"):
        model({"rgb": feats["rgb"]}, mask)
    with pytest.raises(ValueError, match="expected"):
        model({**feats, "audio": feats["audio"][..., :5]}, mask)


def test_zero_stream_refinement_matches_training_in_eval_despite_lagging_running_stats():
    """The first stage refines a video-independent zero stream. After a weight update the BatchNorm running
    statistics lag; with their near-zero variance, plain eval-mode BN would blow up. Ours equals training."""
    model = _small("pamfn")
    stage = model.stages[0]
    assert stage.zero_input and not model.stages[1].zero_input
    length = 6
    c = torch.zeros(4, model.init_dim, length)
    mask = torch.ones(4, length, dtype=torch.bool)
    model.train()
    stage.refine(c, mask)  # a training step's forward: running stats updated, length recorded
    assert int(stage.zero_stream_length) == length
    with torch.no_grad():  # an optimizer step moves the conv biases: the running statistics now lag
        for block in (stage.conv1, stage.conv2, stage.shortcut):
            block[0].bias.add_(0.05)
            block[1].bias.normal_()
    with torch.no_grad():
        trained = stage.refine(c, mask)  # what training computes for these weights (batch statistics)
        model.eval()
        ours = stage.refine(c, mask)
        plain = stage.conv2(stage.conv1(c)) + stage.shortcut(c)  # the official eval: running statistics
    assert torch.allclose(ours, trained, atol=1e-4)
    assert (plain - trained).abs().max() > 1.0
    # a longer video, alone or padded in a batch, gets the same (video-independent) stream at real steps
    long_c = torch.zeros(2, model.init_dim, 9)
    long_mask = torch.tensor([[True] * 9, [True] * 7 + [False] * 2])
    with torch.no_grad():
        batched = stage.refine(long_c, long_mask)
        alone = stage.refine(long_c[1:, :, :7], long_mask[1:, :7])
    assert torch.allclose(batched[1, :, :7], alone[0], atol=1e-5)
