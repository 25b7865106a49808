"""Comparison baselines: every variant runs forward / loss / backward and ignores padding, GDLT's grade score,
triplet loss and pinned parameter count, the weighted fusion, the pooled SVR, option errors, the training
settings, and one smoke-scale GDLT training run."""

import math

import numpy as np
import pytest
import torch

from aqa_lib.data import load
from aqa_lib.experiments import config_builder
from aqa_lib.experiments.baselines import baseline_config
from aqa_lib.models.base import ModelOutput, count_parameters, create_model, get_variant
from aqa_lib.models.baselines import BASELINE_VARIANTS, grade_score, hard_triplet_loss, pooled_svr
from aqa_lib.tables import reported
from aqa_lib.train import train

DIMS = {"rgb": 24, "flow": 20, "audio": 12}
SMALL = {"d_model": 16}
B, T = 3, 12
LENGTHS = (12, 8, 5)
PAPER_DIMS = {"rgb": 1024, "flow": 1024, "audio": 768}


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Tiny models run fastest on one thread (restored after the module)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def smoke_data():
    return load("fisv", "TES", scale="smoke")


def _batch(seed: int = 0, dims: dict[str, int] = DIMS) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    mask = torch.arange(T)[None, :] < torch.tensor(LENGTHS)[:, None]
    feats = {m: torch.randn(B, T, d, generator=g).masked_fill(~mask[:, :, None], 0.0) for m, d in dims.items()}
    return feats, mask


def _small(name: str, **kwargs):
    torch.manual_seed(0)
    return create_model(name, in_dims=DIMS, **{**SMALL, **kwargs})


@pytest.mark.parametrize("name", BASELINE_VARIANTS)
def test_every_variant_forward_loss_backward(name):
    model = _small(name)
    assert model.modalities == tuple(get_variant(name).overrides["modalities"])
    feats, mask = _batch()
    out = model(feats, mask)
    assert isinstance(out, ModelOutput) and out.score.shape == (B,)
    assert out.aux["lengths"].tolist() == list(LENGTHS)
    total, parts = model.loss(out, torch.rand(B))
    assert "mse" in parts and all(v.ndim == 0 and torch.isfinite(v) for v in parts.values())
    assert torch.isfinite(total)
    total.backward()
    for pname, p in model.named_parameters():
        assert p.grad is not None, f"{name}: no gradient reaches {pname}"
        assert torch.isfinite(p.grad).all(), f"{name}: non-finite gradient in {pname}"


@pytest.mark.parametrize("name", BASELINE_VARIANTS)
def test_padded_segments_do_not_change_the_score(name):
    model = _small(name).eval()
    feats, mask = _batch()
    noisy = {m: torch.where(mask[:, :, None], x, torch.randn_like(x) * 5) for m, x in feats.items()}
    with torch.no_grad():
        assert torch.allclose(model(feats, mask).score, model(noisy, mask).score, atol=1e-5)


def test_gdlt_parameter_count_is_pinned():
    model = create_model("gdlt", in_dims=PAPER_DIMS)
    assert model.modalities == ("rgb",)
    assert count_parameters(model) == 3_163_396
    # PAMFN Table I's "1.84 M" for GDLT is the two decoder layers alone.
    assert sum(count_parameters(layer) for layer in model.decoder.layers) == 1_844_224


def test_multimodal_parameter_counts_are_pinned():
    counts = {name: count_parameters(create_model(name, in_dims=PAPER_DIMS)) for name in BASELINE_VARIANTS[1:]}
    assert counts == {"joint_va": 2_174_465, "msaf": 2_131_297, "umt": 3_888_641, "weighted_fusion": 1_443_334,
                      "early_fusion": 852_737}


def test_grade_score_hand_made():
    logits = torch.tensor([[0.0, math.log(3.0), -math.log(3.0), 0.0]])  # sigmoid: 1/2, 3/4, 1/4, 1/2 (sum 2)
    score, probs = grade_score(logits)
    assert torch.allclose(probs, torch.tensor([[0.25, 0.375, 0.125, 0.25]]))
    assert score.item() == pytest.approx(0.375 / 3 + 0.125 * 2 / 3 + 0.25)


def test_gdlt_score_is_the_grade_expectation():
    model = _small("gdlt").eval()
    feats, mask = _batch()
    out = model(feats, mask)
    probs, grades = out.aux["grade_probs"], out.aux["grades"]
    assert torch.allclose(grades, torch.linspace(0, 1, 4))
    assert torch.allclose(probs.sum(-1), torch.ones(B), atol=1e-6)
    assert torch.allclose(out.score, (probs * grades).sum(-1), atol=1e-6)
    assert ((out.score >= 0) & (out.score <= 1)).all()
    with torch.no_grad():  # a regressor that ignores its input: logits = its bias
        model.regressor.weight.zero_()
        model.regressor.bias.copy_(torch.tensor([0.0, math.log(3.0), -math.log(3.0), 0.0]))
    assert torch.allclose(model(feats, mask).score, torch.full((B,), 0.375 / 3 + 0.125 * 2 / 3 + 0.25))


def test_hard_triplet_loss_hand_made():
    # labels 0,1,0,1; cosine distances: d01 = d12 = 1, d02 = 0, d03 = d13 = d23 = 1 - 1/sqrt(2)
    emb = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    labels = torch.tensor([0, 1, 0, 1])
    r = 1 - 1 / math.sqrt(2)

    def expected(m):  # per anchor: hardest positive, hardest negative
        return (max(0, 0 - r + m) + max(0, r - 1 + m) + max(0, 0 - r + m) + max(0, r - r + m)) / 4

    assert expected(1.0) == pytest.approx(0.5 + 1 / (4 * math.sqrt(2)))
    for margin in (1.0, 0.5, 0.0):
        assert hard_triplet_loss(emb, labels, margin=margin).item() == pytest.approx(expected(margin), abs=1e-6)
    with pytest.raises(ValueError, match="embeddings"):
        hard_triplet_loss(emb, labels[:3])


def test_gdlt_loss_is_mse_plus_alpha_triplet_on_query_features():
    model = _small("gdlt", alpha=0.5)
    out = model(*_batch())
    labels = torch.rand(B)
    total, parts = model.loss(out, labels)
    feats = out.aux["query_features"]
    triplet = hard_triplet_loss(feats.reshape(B * 4, -1), torch.arange(4).repeat(B), margin=1.0)
    assert parts["triplet"].item() == pytest.approx(triplet.item(), abs=1e-6)
    assert total.item() == pytest.approx(parts["mse"].item() + 0.5 * triplet.item(), abs=1e-6)


def test_weighted_fusion_weights_sum_to_one():
    model = _small("weighted_fusion").eval()
    with torch.no_grad():
        model.weight_logits.copy_(torch.tensor([0.0, 1.0, -2.0]))
    out = model(*_batch())
    w, s = out.aux["modality_weights"], out.aux["modality_scores"]
    assert w.shape == (3,) and s.shape == (B, 3)
    assert w.sum().item() == pytest.approx(1.0) and (w > 0).all()
    assert torch.allclose(out.score, (s * w).sum(-1), atol=1e-6)
    assert torch.allclose(w, torch.tensor([0.0, 1.0, -2.0]).softmax(0))


def test_modalities_override_and_extra_inputs_are_ignored():
    gdlt2 = _small("gdlt", modalities=("rgb", "audio"))
    assert gdlt2.in_proj[0].in_channels == 24 + 12
    assert gdlt2(*_batch()).score.shape == (B,)
    late = _small("weighted_fusion", modalities=["audio"])
    assert late.modalities == ("audio",) and late(*_batch()).aux["modality_weights"].tolist() == [1.0]


@pytest.mark.parametrize(("name", "kwargs", "match"), [
    ("gdlt", {"n_queries": 1}, "n_queries"),
    ("gdlt", {"dropout": 1.5}, "dropout"),
    ("gdlt", {"modalities": ("rgb", "depth")}, "lacks \\['depth'\\]"),
    ("gdlt", {"modalities": ()}, "non-empty"),
    ("joint_va", {"modalities": ("rgb",)}, "at least 2"),
    ("joint_va", {"d_model": 10}, "divisible"),
    ("umt", {"n_tokens": 0}, "n_tokens"),
    ("msaf", {"block_channel": 5}, "divide"),
    ("weighted_fusion", {"d_model": 0}, "d_model"),
])
def test_bad_options_raise(name, kwargs, match):
    with pytest.raises(ValueError, match=match):
        create_model(name, in_dims=DIMS, **{**SMALL, **kwargs})


def test_bad_inputs_raise():
    model = _small("joint_va")
    feats, mask = _batch()
    with pytest.raises(ValueError, match="Missing modality 'audio'"):
        model({"rgb": feats["rgb"]}, mask)
    with pytest.raises(ValueError, match="expected \\[B, T, 12\\]"):
        model({**feats, "audio": feats["flow"]}, mask)
    with pytest.raises(ValueError, match="no real segment"):
        model(feats, torch.zeros(B, T, dtype=torch.bool))


def test_registry_rows_exist_in_the_paper_tables():
    for name in BASELINE_VARIANTS:
        v = get_variant(name)
        if v.table:
            assert v.reported_method in set(reported(v.paper, v.table)["method"]), name
    assert get_variant("gdlt").reported_method == "GDLT"
    assert {get_variant(n).reported_method for n in ("joint_va", "msaf", "umt")} == {"Joint-VA", "MSAF", "UMT"}


def test_baseline_config_settings():
    assert config_builder("baselines") is baseline_config
    hoop = baseline_config("gdlt", "rg", "Hoop", scale="paper")
    assert (hoop.epochs, hoop.optimizer, hoop.lr, hoop.momentum, hoop.weight_decay, hoop.min_lr_ratio,
            hoop.batch_size) == (500, "sgd", 1e-2, 0.9, 1e-4, 0.01, 32)
    assert hoop.model_kwargs == {}
    assert [baseline_config("gdlt", "rg", a, scale="paper").epochs for a in ("Ball", "Clubs", "Ribbon")] == [250, 400, 150]
    assert baseline_config("gdlt", "fisv", "PCS", scale="paper").epochs == 250
    fused = baseline_config("msaf", "fisv", "TES", scale="smoke", dropout=0.1)
    assert fused.optimizer == "adamw" and fused.epochs == 2 and fused.model_kwargs == {"d_model": 32, "dropout": 0.1}
    with pytest.raises(ValueError, match="not a baseline variant"):
        baseline_config("lmac", "fisv", "TES")
    with pytest.raises(ValueError, match="Unknown scale"):
        baseline_config("gdlt", "fisv", "TES", scale="huge")
    with pytest.raises(ValueError, match="Unknown target"):
        baseline_config("gdlt", "fisv", "Ball")


def test_pooled_svr_on_smoke_data(smoke_data):
    result = pooled_svr(smoke_data, ("rgb", "audio"), seed=0, c_grid=(1.0, 10.0), gamma_factors=(1.0,), n_folds=3)
    assert math.isfinite(result["spearman"]) and math.isfinite(result["mse"])
    assert result["test_pred"].shape == (len(smoke_data.test),)
    assert np.allclose(result["test_true"], smoke_data.test.scores)
    assert result["n_features"] == 2 * (1024 + 768)
    assert result["best_params"]["C"] in (1.0, 10.0)
    assert result["seed"] == 0 and result["target"] == smoke_data.target
    with pytest.raises(ValueError, match="not loaded"):
        pooled_svr(smoke_data, ("depth",))
    with pytest.raises(ValueError, match="n_folds"):
        pooled_svr(smoke_data, "rgb", n_folds=1)


def test_gdlt_trains_at_smoke_scale(smoke_data, tmp_path, monkeypatch):
    monkeypatch.setenv("AQA_CACHE_DIR", str(tmp_path / "cache"))
    config = baseline_config("gdlt", "fisv", "TES", scale="smoke", epochs=2)
    result = train(config, data=smoke_data)
    assert len(result.history) == 2 and result.meta["modalities"] == ["rgb"]
    for key in ("papers_spearman", "last_spearman", "last_mse", "papers_mse"):
        assert math.isfinite(result.summary[key]), key
    assert {"train_mse", "train_triplet"} <= set(result.history.columns)


@pytest.mark.parametrize("use_mask", [True, False])
def test_gdlt_evaluation_ignores_padding_like_one_video_at_a_time(use_mask):
    """Official GDLT evaluates one unpadded video at a time: our batched evaluation must give the same score
    whatever padding the batch adds; only use_mask=False attends to padding, and only in training."""
    torch.manual_seed(0)
    model = create_model("gdlt", in_dims={"rgb": 64}, d_model=32, dropout=0.0, use_mask=use_mask)
    x = torch.randn(1, 10, 64)
    padded = torch.cat([x, torch.zeros(1, 6, 64)], dim=1)
    mask = torch.cat([torch.ones(1, 10, dtype=torch.bool), torch.zeros(1, 6, dtype=torch.bool)], dim=1)
    model.eval()
    with torch.no_grad():
        alone = model({"rgb": x}).score
        batched = model({"rgb": padded}, mask).score
    assert torch.allclose(alone, batched, atol=1e-5)
    model.train()
    for module in model.modules():  # BatchNorm in eval keeps the comparison about attention alone
        if isinstance(module, torch.nn.BatchNorm1d):
            module.eval()
    with torch.no_grad():
        alone = model({"rgb": x}).score
        batched = model({"rgb": padded}, mask).score
    assert torch.allclose(alone, batched, atol=1e-5) == use_mask
