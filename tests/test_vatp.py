"""VATP-Net: the losses against hand computations (Eqs. 8–11, 14–16), the Drop-DTW positives (Eq. 7), every
registered variant forward / loss / backward, the components each variant builds, padding invariance, the
DD protocol, input and option errors, the registry against the paper tables, the recipe, the parameter
count against Table IV / VIII, fine-tuning configs, and training through the engine."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from aqa_lib.data.registry import get_spec
from aqa_lib.data.text import load_prompts
from aqa_lib.models.base import (
    ModelOutput,
    count_parameters,
    create_model,
    get_variant,
    model_config,
    variants,
)
from aqa_lib.models.vatp import (
    DD_SCALE,
    VATP_RECIPE,
    VATPNet,
    alignment_loss,
    build_vatp,
    diversity_loss,
    drop_dtw_positives,
    global_contrastive_loss,
    regression_loss,
    reparameterise,
    repeat_short_texts,
)
from aqa_lib.tables import reported, row_labels

DIMS = {"rgb": 24}
SMALL = {"d_model": 16, "n_heads": 2}
TEXT_DIM = 12
B, T, L = 3, 10, 6
LENGTHS, TEXT_LENGTHS = (10, 7, 4), (6, 2, 5)
VATP_VARIANTS = [n for n, v in variants("vatp").items() if v.builder is build_vatp]


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _batch(seed: int = 0, lengths=LENGTHS, text_lengths=TEXT_LENGTHS, t: int = T, l_max: int = L):
    g = torch.Generator().manual_seed(seed)
    mask = torch.arange(t)[None, :] < torch.tensor(lengths)[:, None]
    feats = {"rgb": torch.randn(len(lengths), t, DIMS["rgb"], generator=g).masked_fill(~mask[..., None], 0.0)}
    text_mask = torch.arange(l_max)[None, :] < torch.tensor(text_lengths)[:, None]
    text = torch.randn(len(lengths), l_max, TEXT_DIM, generator=g).masked_fill(~text_mask[..., None], 0.0)
    return feats, mask, {"text": text, "text_mask": text_mask, "dd": torch.tensor([2.0, 3.1, 1.6])[: len(lengths)]}


def _small(name: str = "vatp", **kwargs) -> VATPNet:
    torch.manual_seed(0)
    return create_model(name, in_dims=DIMS, **{**SMALL, "text_dim": TEXT_DIM, **kwargs})


def _extras(model: VATPNet, extras: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: extras[k] for k in model.batch_inputs}


# ----- the losses, by hand -----

def test_reparameterisation_samples_in_training_and_is_mu_in_evaluation():
    mu, sigma = torch.tensor([0.2, 0.5]), torch.tensor([0.1, 0.3], requires_grad=True)
    assert torch.equal(reparameterise(mu, sigma, sample=False), mu)
    torch.manual_seed(3)
    eps = torch.randn(2)
    torch.manual_seed(3)
    y = reparameterise(mu, sigma, sample=True)
    assert torch.allclose(y, mu + eps * sigma)
    y.sum().backward()
    assert torch.allclose(sigma.grad, eps)  # the trick: dŷ/dσ = ε
    assert torch.equal(reparameterise(mu, None, sample=True), mu)


def test_regression_loss_is_the_mse():
    assert float(regression_loss(torch.tensor([0.5, 0.0]), torch.tensor([0.1, 0.3]))) == pytest.approx(
        (0.4 ** 2 + 0.3 ** 2) / 2)


def test_diversity_loss_by_hand():
    """Eq. 11: three unit vectors 120° apart have pairwise cosine −1/2; identical ones 1."""
    angles = torch.tensor([0.0, 2 * math.pi / 3, 4 * math.pi / 3])
    spread = torch.stack([angles.cos(), angles.sin()], dim=-1)[None]  # [1, 3, 2]
    same = torch.ones(1, 3, 2) * torch.tensor([1.0, 2.0, 3.0])[None, :, None]  # parallel, different norms
    assert float(diversity_loss(spread)) == pytest.approx(-0.5, abs=1e-6)
    assert float(diversity_loss(same)) == pytest.approx(1.0, abs=1e-6)
    assert float(diversity_loss(torch.cat([spread, same]))) == pytest.approx(0.25, abs=1e-6)
    assert float(diversity_loss(torch.randn(2, 1, 4))) == 0.0  # S = 1: no pair


def _unit(*xs: float) -> list[float]:
    n = math.sqrt(sum(x * x for x in xs))
    return [x / n for x in xs]


def _cos(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(_unit(*a), _unit(*b), strict=True))


def test_alignment_loss_by_hand():
    """Eqs. 8–9 with γ = 0.5: v0 matched to t0, v1 to t1 and t2; a padded token that would be the best match
    of v0 and a second video without any match do not count."""
    gamma = 0.5
    v = [[1.0, 0.0], [0.0, 1.0]]
    t = [[1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]
    pos_v = {0: [0], 1: [1, 2]}
    f = [[math.exp(_cos(v[s], t[j]) / gamma) for j in range(3)] for s in range(2)]
    term_v = (-math.log(f[0][0] / sum(f[0]))
              - 0.5 * (math.log(f[1][1] / sum(f[1])) + math.log(f[1][2] / sum(f[1])))) / 2
    owner = {0: 0, 1: 1, 2: 1}
    term_t = sum(-math.log(f[owner[j]][j] / (f[0][j] + f[1][j])) for j in range(3)) / 3
    expected = term_v + term_t

    subactions = torch.tensor([v, [[0.3, 0.7], [0.9, 0.1]]])
    semantics = torch.tensor([[*t, [5.0, 0.0]], [[1.0, 2.0], [2.0, 1.0], [1.0, 1.0], [0.0, 1.0]]])
    text_mask = torch.tensor([[True, True, True, False], [True, True, True, True]])
    match = torch.zeros(2, 2, 4)
    for s, js in pos_v.items():
        match[0, s, js] = 1.0
    match[0, 0, 3] = 1.0  # a "match" on padding is ignored
    got = alignment_loss(subactions, semantics, match, text_mask, gamma=gamma)
    assert float(got) == pytest.approx(expected, rel=1e-5)
    assert float(alignment_loss(subactions, semantics, torch.zeros_like(match), text_mask)) == 0.0


def test_alignment_loss_gradient_reaches_both_sides():
    subactions = torch.randn(2, 3, 8, requires_grad=True)
    semantics = torch.randn(2, 5, 8, requires_grad=True)
    match = torch.zeros(2, 3, 5)
    match[:, 0, 0] = match[:, 1, 1:3] = match[:, 2, 4] = 1.0
    alignment_loss(subactions, semantics, match, torch.ones(2, 5, dtype=torch.bool)).backward()
    assert subactions.grad.abs().sum() > 0 and semantics.grad.abs().sum() > 0


def test_global_contrastive_loss_by_hand_with_the_log_outside_the_mean():
    """Eq. 10, γ = 1: two videos, one sub-action each; video 1 has one real token and one padded token."""
    v = [[1.0, 0.0], [0.0, 1.0]]
    own = [[[1.0, 0.0], [0.0, 1.0]], [[1.0, 1.0]]]
    ratios = []
    for i in range(2):
        pos = sum(math.exp(_cos(v[i], t)) for t in own[i])
        neg = sum(math.exp(_cos(v[i], t)) for t in own[1 - i])
        ratios.append(pos / (pos + neg))
    expected = -math.log(sum(ratios) / 2)
    subactions = torch.tensor(v)[:, None, :]
    semantics = torch.tensor([own[0], [own[1][0], [-1.0, 0.0]]])
    text_mask = torch.tensor([[True, True], [True, False]])
    got = global_contrastive_loss(subactions, semantics, text_mask, gamma=1.0)
    assert float(got) == pytest.approx(expected, rel=1e-6)
    mean_of_logs = -sum(math.log(r) for r in ratios) / 2
    assert abs(float(got) - mean_of_logs) > 1e-3  # the printed form, not the per-anchor InfoNCE
    assert float(global_contrastive_loss(subactions[:1], semantics[:1], text_mask[:1])) == pytest.approx(0.0)


def test_repeat_short_texts_by_hand():
    text = torch.arange(1.0, 7.0)[None, :, None].repeat(3, 1, 1)  # tokens 1..6
    mask = torch.tensor([[True] * 6, [True, True, False, False, False, False], [False, True, False, False, False,
                                                                                 False]])
    rows, rep_mask, source = repeat_short_texts(text, mask, 4)
    assert rows.shape == (3, 6, 1)
    assert source[0].tolist() == [0, 1, 2, 3, 4, 5]
    assert source[1].tolist() == [0, 0, 1, 1, -1, -1] and rows[1, :4, 0].tolist() == [1.0, 1.0, 2.0, 2.0]
    assert source[2].tolist() == [1, 1, 1, 1, -1, -1] and rows[2, :4, 0].tolist() == [2.0] * 4
    assert rep_mask.sum(dim=1).tolist() == [6, 4, 4] and float(rows[~rep_mask].abs().sum()) == 0.0


# ----- the model -----

@pytest.mark.parametrize("name", VATP_VARIANTS)
def test_every_variant_forward_loss_backward(name):
    model = _small(name)
    needs_alignment = model.parse is not None and model.context is not None
    feats, mask, extras = _batch()
    out = model(feats, mask, **_extras(model, extras))
    assert isinstance(out, ModelOutput) and out.score.shape == (B,)
    total, parts = model.loss(out, torch.rand(B))
    assert set(parts) == {"reg", "div", "alg", "gc"} and torch.isfinite(total)
    total.backward()
    assert model.head.mu.weight.grad is not None and model.proj.fc1.weight.grad.abs().sum() > 0
    if needs_alignment:
        assert out.aux["match"].shape == (B, L, model.parse.queries.shape[0])
        assert not out.aux["match"].requires_grad


def test_components_each_variant_builds():
    """Table I's check-marks: Rep. (σ head), TE, PD, CD; and the losses in effect."""
    def parts(name: str) -> tuple:
        m = _small(name)
        return (m.head.sigma is not None, m.encoder is not None, m.parse is not None, m.context is not None)
    assert parts("vatp/tableI/i3d_mlp") == (False, False, False, False)
    assert parts("vatp/tableI/i3d_te") == (True, True, False, False)
    assert parts("vatp/tableI/i3d_pd") == (True, False, True, False)
    assert parts("vatp/tableI/i3d_te_pd") == (True, True, True, False)
    assert parts("vatp/tableI/vatp") == (True, True, True, True)
    lam = {n.rsplit("/", 1)[-1]: {k for k, v in _small(n).lambdas.items() if v} for n in variants("vatp/tableV/")}
    assert lam == {"i3d_mlp": {"reg"}, "i3d_te": {"reg"}, "i3d_te_pd": {"reg"}, "i3d_te_pd_div": {"reg", "div"},
                   "reg": {"reg"}, "reg_div": {"reg", "div"}, "reg_div_alg": {"reg", "div", "alg"},
                   "reg_div_gc": {"reg", "div", "gc"}, "reg_gc_alg": {"reg", "gc", "alg"},
                   "full": {"reg", "div", "alg", "gc"}}
    assert _small("vatp/tableVI/rgb").context is None and _small("vatp/tableVI/rgb").lambdas["div"] == 1.0
    assert [_small(f"vatp/tableIII/s{s}").parse.queries.shape[0] for s in range(2, 7)] == [2, 3, 4, 5, 6]
    assert [len(_small(f"vatp/tableIV/blocks{n}").parse.decoder.layers) for n in (2, 4, 6, 8, 10)] == [2, 4, 6, 8, 10]


def test_rows_of_a_table_are_different_models():
    def signature(name: str) -> tuple:
        m = _small(name)
        shapes = tuple((k, tuple(p.shape)) for k, p in m.named_parameters())
        return shapes, tuple(sorted(m.lambdas.items())), m.text_source, m.use_dd
    for table in ("tableI", "tableII", "tableIII", "tableIV", "tableV", "tableVI", "tableVII", "tableIX"):
        names = [n for n in variants(f"vatp/{table}/") if get_variant(n).builder is build_vatp]
        sigs = [signature(n) for n in names]
        assert len(set(sigs)) == len(sigs), table


def test_total_is_eq16_and_parts_are_unweighted():
    model = _small("vatp/tableVI/rgb", lambda_div=0.5)  # no text: L_alg and L_gc off
    feats, mask, _ = _batch()
    out = model(feats, mask)
    labels = torch.rand(B)
    total, parts = model.loss(out, labels)
    total, parts = total.detach(), {k: v.detach() for k, v in parts.items()}
    assert float(parts["alg"]) == 0.0 and float(parts["gc"]) == 0.0 and model.lambdas["alg"] == 0.0
    assert float(total) == pytest.approx(float(parts["reg"] + 0.5 * parts["div"]), rel=1e-6)
    assert float(parts["reg"]) == pytest.approx(float(((out.aux["head_score"].detach() - labels) ** 2).mean()),
                                                rel=1e-6)
    assert float(parts["div"]) == pytest.approx(float(diversity_loss(out.aux["subactions"].detach())), rel=1e-6)


def test_full_model_total_adds_every_term():
    model = _small("vatp", lambda_div=0.3, lambda_alg=2.0, lambda_gc=0.7)
    feats, mask, extras = _batch()
    out = model(feats, mask, **_extras(model, extras))
    total, parts = model.loss(out, torch.rand(B))
    total, parts = total.detach(), {k: v.detach() for k, v in parts.items()}
    expected = parts["reg"] + 0.3 * parts["div"] + 2.0 * parts["alg"] + 0.7 * parts["gc"]
    assert float(total) == pytest.approx(float(expected), rel=1e-6)
    a = {k: v.detach() if isinstance(v, torch.Tensor) else v for k, v in out.aux.items()}
    assert float(parts["alg"]) == pytest.approx(float(alignment_loss(
        a["subactions"], a["semantics"], a["match"].transpose(1, 2), a["text_mask"], gamma=0.1)), rel=1e-6)
    assert a["attention"][-1].shape == (B, T, 4) and a["parse_labels"].shape == (B, T)
    assert bool((a["parse_labels"][~mask] == -1).all()) and bool((a["parse_labels"][mask] >= 0).all())
    assert bool((a["match_labels"][~a["text_mask"]] == -1).all())
    assert torch.allclose(a["attention"][-1].detach().sum(dim=1), torch.ones(B, 4))  # each query over time


def test_evaluation_is_deterministic_and_training_samples():
    model = _small("vatp/tableVI/rgb")
    feats, mask, _ = _batch()
    model.eval()
    with torch.no_grad():
        a, b = model(feats, mask), model(feats, mask)
    assert torch.equal(a.score, b.score) and torch.allclose(a.score, a.aux["mu"])
    assert bool((a.aux["sigma"] > 0).all())
    model.train()
    torch.manual_seed(1)
    c = model(feats, mask)
    assert not torch.allclose(c.score, c.aux["mu"])
    no_rep = _small("vatp/tableI/i3d_mlp").train()
    out = no_rep(feats, mask)
    assert "sigma" not in out.aux and torch.equal(out.score, out.aux["mu"])


def test_difficulty_degree_protocol():
    """With DD the head regresses the execution score: score = e · DD / dd_scale, L_reg on label · dd_scale / DD."""
    model = _small("vatp/tableVI/rgb", use_dd=True).eval()
    assert model.batch_inputs == ("dd",) and DD_SCALE == pytest.approx(110 / 30)
    feats, mask, extras = _batch()
    with torch.no_grad():
        out = model(feats, mask, dd=extras["dd"])
    head = out.aux["head_score"]
    assert torch.allclose(out.score, head * extras["dd"] / DD_SCALE)
    labels = head * extras["dd"] / DD_SCALE  # labels whose execution targets the head meets exactly
    assert float(model.loss(out, labels)[1]["reg"]) == pytest.approx(0.0, abs=1e-10)
    shifted = model.loss(out, labels + 0.1)[1]["reg"]
    assert float(shifted) == pytest.approx(float(((0.1 * DD_SCALE / extras["dd"]) ** 2).mean()), rel=1e-5)
    with pytest.raises(ValueError, match="difficulty degree dd of shape \\[3\\]"):
        model(feats, mask)
    with pytest.raises(ValueError, match="dd must be positive"):
        model(feats, mask, dd=torch.tensor([1.0, 0.0, 2.0]))


def test_padding_does_not_change_a_videos_score():
    """Time padding (TE, PD, CD memory, masked BatchNorm) and text padding (CD self-attention) in eval."""
    for kwargs in ({"text_source": "none"}, {"use_pd": False}):
        model = _small("vatp", **kwargs).eval()
        feats, mask, extras = _batch()
        more = {k: v for k, v in _extras(model, extras).items()}
        with torch.no_grad():
            batched = model(feats, mask, **more).score[1]
            alone_extras = {k: v[1:2, : TEXT_LENGTHS[1]] for k, v in more.items()}
            alone = model({"rgb": feats["rgb"][1:2, : LENGTHS[1]]}, mask[1:2, : LENGTHS[1]], **alone_extras).score[0]
        assert torch.allclose(batched, alone, atol=1e-5), kwargs


def test_a_video_without_text_gives_finite_outputs():
    model = _small("vatp", use_pd=False).eval()
    feats, mask, extras = _batch(text_lengths=(6, 0, 3))
    with torch.no_grad():
        out = model(feats, mask, text=extras["text"], text_mask=extras["text_mask"])
    assert torch.isfinite(out.score).all() and torch.isfinite(out.aux["semantics"]).all()


def test_vocabulary_text_is_the_sports_action_prompts():
    model = create_model("vatp", in_dims=DIMS, **SMALL, text_source="vocabulary", sport="RG")
    prompts = load_prompts("RG")
    assert model.vocabulary.shape == (32, 512) and np.allclose(model.vocabulary.numpy(), prompts.video_actions)
    assert model.batch_inputs == () and model.text_proj.in_features == 512


def test_input_and_option_errors_say_what_to_do():
    model = _small("vatp")
    feats, mask, extras = _batch()
    with pytest.raises(ValueError, match="reads text of shape \\[B=3, L, 12\\].*text_source='vocabulary'"):
        model(feats, mask)
    with pytest.raises(ValueError, match="reads text of shape.*got \\(3, 6, 5\\)"):
        model(feats, mask, text=torch.randn(3, 6, 5))
    with pytest.raises(ValueError, match="text_mask has shape \\(3, 5\\)"):
        model(feats, mask, text=extras["text"], text_mask=extras["text_mask"][:, :5])
    with pytest.raises(ValueError, match="features\\['rgb'\\] has shape.*VATP-Net expected"):
        model({"rgb": torch.randn(3, T, 7)}, mask, text=extras["text"])
    with pytest.raises(ValueError, match="Unknown text_source='bert'; valid values: commentary, vocabulary, none"):
        create_model("vatp", in_dims=DIMS, text_source="bert")
    with pytest.raises(ValueError, match="needs sport="):
        create_model("vatp", in_dims=DIMS, text_source="vocabulary")
    with pytest.raises(ValueError, match="Unknown prompt set 'XX'"):
        create_model("vatp", in_dims=DIMS, text_source="vocabulary", sport="XX")
    with pytest.raises(ValueError, match="one visual modality"):
        create_model("vatp", in_dims={"rgb": 8, "flow": 8}, modalities=("rgb", "flow"))
    with pytest.raises(ValueError, match="reads 'flow' but in_dims has \\['rgb'\\]"):
        create_model("vatp", in_dims=DIMS, modalities=("flow",))
    with pytest.raises(ValueError, match="n_queries must be a positive int"):
        create_model("vatp", in_dims=DIMS, n_queries=0)
    with pytest.raises(ValueError, match="divisible"):
        create_model("vatp", in_dims=DIMS, d_model=10, n_heads=4)


# ----- Drop-DTW positives (Eq. 7) -----

def test_drop_dtw_positives_match_the_obvious_pairs_in_order():
    """Two sub-actions equal to tokens 1 and 3 of five; the unrelated tokens are dropped or join a run."""
    e = torch.eye(6)
    subactions = torch.stack([e[0], e[1]])[None]  # [1, 2, 6]
    semantics = torch.stack([e[4], e[0], e[5], e[1], e[4]])[None]
    match, labels = drop_dtw_positives(subactions, semantics, torch.ones(1, 5, dtype=torch.bool))
    assert match.shape == (1, 2, 5) and labels.shape == (1, 5)
    assert match[0, 0, 1] == 1 and match[0, 1, 3] == 1
    assert labels[0, 1] == 0 and labels[0, 3] == 1
    assert bool((match.sum(dim=1) <= 1).all())  # a token has at most one sub-action


def test_drop_dtw_positives_with_short_and_empty_texts():
    torch.manual_seed(0)
    subactions, semantics = torch.randn(3, 4, 8), torch.randn(3, 6, 8)
    mask = torch.tensor([[True] * 6, [True, True, False, False, False, False], [False] * 6])
    match, labels = drop_dtw_positives(subactions, semantics, mask)
    assert bool((match[1].sum(dim=1) >= 1).all())  # 2 tokens, 4 sub-actions: every sub-action matched
    assert float(match[2].sum()) == 0.0 and bool((labels[2] == -1).all())
    assert float(match[:, :, ~mask[1]][1].sum()) == 0.0


# ----- registry, tables, recipe, parameter count -----

def _labels(table: str) -> set[str]:
    """The paper's row labels, a label printed with several feature sets split as ``label (features)``."""
    rep = reported("vatp", table)
    rep = rep.assign(label=row_labels(rep))
    several = rep.groupby("label")["features"].nunique()
    return {f"{lab} ({feat})" if several[lab] > 1 else lab for lab, feat in zip(rep["label"], rep["features"],
                                                                                  strict=True)}


REPORTED_ONLY = {"tableVII": {"VATP-Net (VST)", "VATP-Net (VST+BERT)"}}
"""VATP-Net rows that are a feature set the project does not have, not a model (module docstring)."""


def test_registry_covers_every_row_vatp_produces():
    names = variants("vatp")
    for name, v in names.items():
        assert v.paper == "vatp", name
        if v.table == "fig6":
            assert name in ("vatp/i3d_mlp", "vatp/i3d_te")
            continue
        assert v.reported_method in _labels(v.table), (name, v.reported_method)
    for table in ("tableI", "tableII", "tableIII", "tableIV", "tableV", "tableVI", "tableVII"):
        ours = {v.reported_method for n, v in names.items() if n.startswith(f"vatp/{table}/")}
        assert ours == _labels(table) - REPORTED_ONLY.get(table, set()), table
    assert {v.reported_method for n, v in names.items() if n.startswith("vatp/tableIX/")} == {
        "VATP-Net: w/ DD", "VATP-Net: w/o DD"}
    gdlt = get_variant("vatp/tableVI/gdlt")
    assert gdlt.builder is get_variant("gdlt").builder and gdlt.recipe is get_variant("gdlt").recipe
    assert all(get_variant(n).recipe is VATP_RECIPE for n in VATP_VARIANTS)
    assert model_config("vatp/i3d_te") == model_config("vatp/tableI/i3d_te")  # Fig. 6 is Table I's models


def test_parameter_count_at_the_paper_configuration():
    """1,808,454 (1024-d I3D, 768-d BERT) against the paper's 1.81 M; Table IV's five counts all round to the
    printed ones."""
    model = create_model("vatp", in_dims={"rgb": 1024})
    assert count_parameters(model) == 1_808_454
    assert {n: count_parameters(c) for n, c in model.named_children()} == {
        "proj": 591_744, "encoder": 165_632, "parse": 464_130, "text_proj": 98_432, "context": 463_618,
        "head": 24_898}
    assert count_parameters(model.parse.decoder.layers[0]) == 231_681  # one block: GDLT's layer at d = 128, + τ
    printed = reported("vatp", "tableIV")
    printed = printed[printed["metric"] == "params_m"]
    for _, row in printed.iterrows():
        blocks = int(row["variant"].split("=")[1])
        n = count_parameters(create_model(f"vatp/tableIV/blocks{blocks}", in_dims={"rgb": 1024}))
        assert n == 1_808_454 + (blocks - 2) * 231_681 and round(n / 1e6, 2) == row["value"], blocks
    assert count_parameters(create_model("vatp", in_dims={"rgb": 1024}, text_source="vocabulary",
                                          sport="RG")) == 1_775_686
    assert count_parameters(create_model("vatp", in_dims={"rgb": 1024}, text_dim=384)) == 1_759_302


def test_recipe_per_dataset_and_scale():
    from aqa_lib.experiments import config_for

    rg = [config_for("vatp", "rg", a, scale="paper") for a in ("Ball", "Clubs", "Hoop", "Ribbon")]
    assert [c.epochs for c in rg] == [300, 400, 500, 300]
    c = rg[0]
    assert (c.optimizer, c.lr, c.weight_decay, c.batch_size) == ("adam", 1e-3, 0.0, 32)
    assert c.model_kwargs == {"text_source": "vocabulary", "sport": "RG", "lambda_alg": 0.0, "lambda_gc": 0.0}
    # vocabulary text turns L_alg / L_gc off; a caller's λ and a loss-ablation row's explicit λ still win
    assert config_for("vatp", "rg", "Ball", scale="smoke", lambda_alg=1.0).model_kwargs["lambda_alg"] == 1.0
    assert get_variant("vatp/tableV/full").overrides == {"lambda_div": 1.0, "lambda_alg": 1.0, "lambda_gc": 1.0}
    mtl = config_for("vatp", "mtl_aqa", "score", scale="paper")
    assert mtl.epochs == 200 and mtl.model_kwargs == {"text_source": "commentary",
                                                      "text_dim": get_spec("mtl_aqa").text_dim, "use_dd": True}
    wo_dd = config_for("vatp/tableIX/wo_dd", "mtl_aqa", "score")
    assert "use_dd" not in wo_dd.model_kwargs and model_config(wo_dd.model, **wo_dd.model_kwargs)["use_dd"] is False
    assert config_for("vatp", "fisv", "TES", scale="paper").model_kwargs["sport"] == "FS"
    assert config_for("vatp", "finefs", "SP-TES", scale="paper").epochs == 300
    assert config_for("vatp", "logo", "score").model_kwargs["sport"] == "LOGO"
    smoke = config_for("vatp/tableVI/rgb", "rg", "Ball", scale="smoke")
    assert smoke.epochs == 2 and smoke.model_kwargs == {"sport": "RG", "lambda_alg": 0.0, "lambda_gc": 0.0,
                                                     "d_model": 16, "n_heads": 2, "proj_hidden": 32}
    quick = config_for("vatp", "rg", "Ball", scale="quick")
    assert quick.epochs == 20 and quick.model_kwargs["d_model"] == 32 and quick.model_kwargs["proj_hidden"] == 128
    assert config_for("vatp", "mtl_aqa", "score", scale="quick").epochs == 15


def test_the_model_reads_rgb_only_and_builds_on_the_meta_device():
    from aqa_lib.experiments import variant_modalities

    assert variant_modalities("vatp", "rg") == ("rgb",)
    with torch.device("meta"):
        model = create_model("vatp", in_dims={"rgb": 1024, "audio": 768}, text_source="vocabulary", sport="FS")
    assert model.modalities == ("rgb",)


def test_finetune_config_starts_the_parseformer_from_mtl_aqa():
    from aqa_lib.experiments import config_for
    from aqa_lib.experiments.vatp import finetune_config
    from aqa_lib.train import RunConfig

    cfg = finetune_config("vatp/tableIII/s3", "rg", "Hoop", scale="quick", source_epochs=5)
    assert cfg == config_for("vatp/tableIII/s3", "rg", "Hoop", scale="quick").replace(init_from=cfg.init_from)
    (spec,) = cfg.init_from
    src = RunConfig.from_dict(spec["run"])
    assert spec["into"] == spec["from"] == "parse" and src.save_weights and src.epochs == 5
    assert (src.model, src.dataset, src.target) == ("vatp", "mtl_aqa", "score")
    assert src.model_kwargs["n_queries"] == 3 and src.model_kwargs["d_model"] == 32
    assert src.model_kwargs["text_source"] == "commentary"
    with pytest.raises(ValueError, match="no ParseFormer"):
        finetune_config("vatp/tableII/vst_te", "rg", "Ball")


# ----- through the engine -----

def test_smoke_training_through_the_engine(tmp_path, monkeypatch):
    from aqa_lib.train import RunConfig, train

    monkeypatch.setenv("AQA_CACHE_DIR", str(tmp_path))
    result = train(RunConfig(model="vatp/tableVI/rgb", dataset="rg", target="Ball", scale="smoke", epochs=1,
                             batch_size=8, model_kwargs={**SMALL}, optimizer="adam", lr=1e-3, weight_decay=0.0))
    assert len(result.history) == 1 and {"train_reg", "train_div"} <= set(result.history.columns)
    assert np.isfinite(result.arrays["test_pred_last"]).all()
    assert result.arrays["final_test/attention/1"].shape[2] == 4


@pytest.mark.parametrize(("dataset", "target"), [("rg", "Ball"), ("mtl_aqa", "score")])
def test_full_model_trains_through_the_engine(tmp_path, monkeypatch, dataset, target):
    """RG with the action vocabulary, MTL-AQA with its commentary and DD: every loss term is logged."""
    from aqa_lib.experiments import config_for
    from aqa_lib.train import train

    monkeypatch.setenv("AQA_CACHE_DIR", str(tmp_path))
    cfg = config_for("vatp", dataset, target, scale="smoke", epochs=1).replace(batch_size=8)
    result = train(cfg)
    assert {"train_reg", "train_div", "train_alg", "train_gc"} <= set(result.history.columns)
    assert result.history["train_alg"].iloc[0] > 0 and np.isfinite(result.arrays["test_pred_last"]).all()
    assert "final_test/match" in result.arrays and "final_test/sigma" in result.arrays


def test_finetuning_starts_from_the_mtl_aqa_parseformer_weights(tmp_path, monkeypatch):
    """The engine trains (or fetches) the MTL-AQA source run and copies its ParseFormer into the RG model:
    after setup the RG model's ``parse`` equals the source's, the rest does not come from it."""
    from aqa_lib import cache
    from aqa_lib.experiments.vatp import finetune_config
    from aqa_lib.train import RunConfig, _setup, load_data, run

    monkeypatch.setenv("AQA_CACHE_DIR", str(tmp_path))
    cfg = finetune_config("vatp", "rg", "Ball", scale="smoke", epochs=1, source_epochs=1)
    source = run(RunConfig.from_dict(cfg.init_from[0]["run"]))
    weights = cache.load_weights(source.key)
    model = _setup(cfg, load_data(cfg)).model
    parse = {f"parse.{k}": v for k, v in model.parse.state_dict().items()}
    assert parse and all(torch.equal(v, weights[k]) for k, v in parse.items())
    assert not torch.equal(model.head.mu.weight, weights["head.mu.weight"])
