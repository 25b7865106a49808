"""LMAC-Net: every registered variant runs forward / loss / backward, the two-level score, masking, the
registry against the paper tables, input and option errors, determinism, modality subsets, parameter counts."""

import math

import pytest
import torch

from aqa_lib.models.base import ModelOutput, count_parameters, create_model, get_variant, variants
from aqa_lib.models.blocks import QueryDecoder, attention_center, relative_position_code
from aqa_lib.models.lmac import FUSIONS, SCORINGS, LMACNet, build_lmac, two_level_score
from aqa_lib.tables import reported

DIMS = {"rgb": 24, "flow": 20, "audio": 12}
SMALL = {"d_model": 16, "d_ffn": 16, "n_heads": 2}
B, T = 3, 12
LENGTHS = (12, 8, 5)


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Tiny models run fastest on one thread; on a busy machine, intra-op threads cost 100x (restored after)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _batch(seed: int = 0, dims: dict[str, int] = DIMS) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    feats = {m: torch.randn(B, T, d, generator=g) for m, d in dims.items()}
    mask = torch.arange(T)[None, :] < torch.tensor(LENGTHS)[:, None]
    for m in feats:
        feats[m] = feats[m].masked_fill(~mask[:, :, None], 0.0)  # zero-padded, as the loaders pad
    return feats, mask


def _small(name: str, **kwargs) -> LMACNet:
    torch.manual_seed(0)
    return create_model(name, in_dims=DIMS, **SMALL, **kwargs)


LMAC_VARIANTS = list(variants("lmac"))


@pytest.mark.parametrize("name", LMAC_VARIANTS)
def test_every_variant_forward_loss_backward(name):
    model = _small(name)
    feats, mask = _batch()
    out = model(feats, mask)
    assert isinstance(out, ModelOutput) and out.score.shape == (B,)
    aux = out.aux
    assert aux["lengths"].tolist() == list(LENGTHS)
    k = model.n_queries
    for m in model.modalities if aux["attention"] else ():
        assert len(aux["attention"][m]) == model.n_layers
        assert all(a.shape == (B, T, k) for a in aux["attention"][m])
        assert len(aux["centres"][m]) == len(model.centre_layers)
        assert all(c.shape == (B, k) for c in aux["centres"][m])
        assert aux["query_features"][m].shape == (B, k, SMALL["d_model"])
    if aux["query_scores"] is not None:
        assert aux["query_scores"].shape == (B, k)
    if aux["query_weights"] is not None:
        assert aux["query_weights"].shape in {(k,), (B, k)}
        assert torch.allclose(aux["query_weights"].sum(-1), torch.ones(()), atol=1e-6)
    total, parts = model.loss(out, torch.rand(B))
    assert {"mse", "ranking", "sparsity", "consistency", "mtc"} <= set(parts)
    assert all(v.ndim == 0 and torch.isfinite(v) for v in parts.values()) and torch.isfinite(total)
    total.backward()
    for pname, p in model.named_parameters():
        assert p.grad is not None, f"{name}: no gradient reaches {pname}"
        assert torch.isfinite(p.grad).all(), f"{name}: non-finite gradient in {pname}"


def test_two_level_score_hand_made():
    s = torch.tensor([[1.0, 2.0, 3.0], [4.0, 0.0, -4.0]])
    w = torch.tensor([0.0, 0.0, math.log(2.0)])  # softmax -> [1/4, 1/4, 1/2]
    score, weights = two_level_score(s, w)
    assert torch.allclose(weights, torch.tensor([0.25, 0.25, 0.5]))
    assert torch.allclose(score, torch.tensor([0.25 + 0.5 + 1.5, 1.0 + 0.0 - 2.0]))


def test_paper_model_scores_with_softmaxed_weight_vector():
    model = _small("lmac").eval()
    out = model(*_batch())
    w = model.head.weight_logits
    assert w.shape == (5,) and torch.allclose(out.aux["query_weights"], w.softmax(0))
    assert torch.allclose(out.aux["query_weights"].sum(), torch.tensor(1.0))
    assert torch.allclose(out.score, (out.aux["query_scores"] * w.softmax(0)).sum(-1), atol=1e-6)


def test_padded_segments_get_zero_attention_and_do_not_matter():
    for name in ("lmac", "lmac/table6/cca_dynamic", "lmac/table5/baseline"):
        model = _small(name).eval()
        feats, mask = _batch()
        out = model(feats, mask)
        for maps in out.aux["attention"].values():
            for a in maps:
                for b, length in enumerate(LENGTHS):
                    assert a[b, length:].abs().max() == 0 if length < T else True
                    assert torch.allclose(a[b].sum(0), torch.ones(model.n_queries), atol=1e-5)
        noisy = {m: torch.where(mask[:, :, None], x, torch.full_like(x, 50.0)) for m, x in feats.items()}
        assert torch.allclose(model(noisy, mask).score, out.score, atol=1e-5), name


def test_registry_counts_and_reported_methods_exist_in_paper_tables():
    names = set(LMAC_VARIANTS)
    expected = {"table5": 5, "table6": 7, "table7": 7, "table8": 7, "table9": 4}
    for table, count in expected.items():
        assert len([n for n in names if n.startswith(f"lmac/{table}/")]) >= count
    assert "lmac" in names and len(names) >= 1 + sum(expected.values())
    for table in ("table5", "table6", "table7", "table8"):
        rows = set(reported("lmac", table)["variant"])
        chosen = [v for v in variants(f"lmac/{table}/").values()]
        assert all(v.paper == "lmac" and v.table == table for v in chosen)
        assert {v.reported_method for v in chosen} == rows  # every row covered, every label real
    full = get_variant("lmac")
    assert full.reported_method in set(reported("lmac", full.table)["method"])
    table9 = {v.reported_method for v in variants("lmac/table9/").values()}
    assert {"Cross-Attention (CA)", "Dynamic Cross-Attention (DCA)"} <= table9
    assert all(v.description for v in variants("lmac").values())


def test_table_5_and_6_use_the_one_stage_linear_head():
    for name in (*variants("lmac/table5/"), *variants("lmac/table6/")):
        assert get_variant(name).overrides["scoring"] == "one_stage_linear"
    same = {**get_variant("lmac/table5/ours").overrides, "fusion": "concat"}
    assert same == get_variant("lmac/table6/concat").overrides  # the same experiment in both tables


def test_ablation_loss_switches():
    model = _small("lmac/table5/mlqe_ranking")
    out = model(*_batch())
    total, parts = model.loss(out, torch.rand(B))
    assert torch.allclose(total, parts["mse"] + parts["ranking"])
    mtc = _small("lmac/table9/mtc")
    out = mtc(*_batch())
    total, parts = mtc.loss(out, torch.rand(B))
    assert torch.allclose(total, parts["mse"] + parts["ranking"] + 0.05 * parts["sparsity"] + 0.1 * parts["mtc"])


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"fusion": "nope"}, "fusion='nope'.*concat"),
        ({"scoring": "median"}, "scoring='median'.*weight"),
        ({"alignment": "x"}, "alignment='x'.*dca"),
        ({"encoder": "lstm"}, "encoder='lstm'.*mlqe"),
        ({"query_head": "x"}, "query_head='x'"),
        ({"centre_layers": "first"}, "centre_layers='first'"),
        ({"centre_layers": (0, 9)}, "index 9"),
        ({"encoder": "pooled"}, "pooled.*lambda"),
        ({"rank_weights": {"text": 1.0}}, "text"),
        ({"modalities": ("rgb", "text")}, "lacks \\['text'\\]"),
        ({"modalities": ("rgb",), "fusion": "cca_concat"}, "at least two modalities"),
    ],
)
def test_bad_options_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        build_lmac(DIMS, **SMALL, **kwargs)


def test_bad_inputs_raise_naming_modality_and_dim():
    model = _small("lmac")
    feats, mask = _batch()
    with pytest.raises(ValueError, match="Missing modality 'audio'.*12"):
        model({"rgb": feats["rgb"], "flow": feats["flow"]}, mask)
    with pytest.raises(ValueError, match="features\\['flow'\\].*expected \\[B, T, 20\\]"):
        model({**feats, "flow": torch.randn(B, T, 21)}, mask)
    with pytest.raises(ValueError, match="share batch size"):
        model({**feats, "audio": torch.randn(B, T + 1, 12)}, mask)
    with pytest.raises(ValueError, match="mask has shape"):
        model(feats, mask[:, :-1])
    with pytest.raises(ValueError, match="no real segment"):
        model(feats, torch.zeros(B, T, dtype=torch.bool))
    with pytest.raises(ValueError, match="in_dims is empty"):
        build_lmac({})


def test_determinism_same_seed_same_output():
    feats, mask = _batch()
    a = _small("lmac/table6/cca_dynamic").eval()(feats, mask).score
    b = _small("lmac/table6/cca_dynamic").eval()(feats, mask).score
    assert torch.equal(a, b)
    torch.manual_seed(1)
    c = create_model("lmac/table6/cca_dynamic", in_dims=DIMS, **SMALL).eval()(feats, mask).score
    assert not torch.equal(a, c)


def test_modality_subsets_build_only_their_branches():
    for name, variant in variants("lmac/table7/").items():
        subset = variant.overrides["modalities"]
        model = _small(name)
        assert model.modalities == tuple(subset) and set(model.encoders) == set(subset)
        expected = sum(count_parameters(create_model("lmac/table7/" + m, in_dims=DIMS, **SMALL).encoders)
                       for m in subset)
        assert count_parameters(model.encoders) == expected
        out = model(*_batch())  # extra modalities in the batch are ignored
        assert set(out.aux["attention"]) == set(subset)
        if len(subset) == 1:
            assert model.loss(out, torch.rand(B))[1]["consistency"] == 0
    with pytest.raises(ValueError, match="lacks \\['audio'\\]"):
        create_model("lmac/table7/rgb+audio", in_dims={"rgb": 24, "flow": 20}, **SMALL)
    rgb_only = create_model("lmac/table7/rgb", in_dims={"rgb": 24}, **SMALL)
    assert rgb_only(*_batch(dims={"rgb": 24})).score.shape == (B,)


def test_parameter_count_of_the_paper_configuration_is_pinned():
    dims = {"rgb": 1024, "flow": 1024, "audio": 768}
    model = create_model("lmac", in_dims=dims)
    assert count_parameters(model) == 27_352_086
    assert {m: count_parameters(e) for m, e in model.encoders.items()} == {
        "rgb": 9_464_324, "flow": 9_464_324, "audio": 8_415_748}
    # The configuration closest to the paper's 8.95 M (module docstring): width 256, one self-attention.
    fit = create_model("lmac", in_dims=dims, d_model=256, d_ffn=256, self_attention_every=4)
    assert count_parameters(fit) == 8_952_854


def _one_hot_output(model: LMACNet, positions: list[int], length: int) -> ModelOutput:
    """A fabricated forward output: one video of T=10 segments (``length`` real), query k on ``positions[k]``."""
    a = torch.zeros(1, 10, len(positions))
    for k, p in enumerate(positions):
        a[0, p - 1, k] = 1.0
    lengths = torch.tensor([length])
    c = attention_center(a, normalise=model.normalise_centres, lengths=lengths)
    return ModelOutput(torch.zeros(1), {"attention": {"rgb": [a]}, "centres": {"rgb": [c]}, "lengths": lengths,
                                        "query_features": {}, "query_scores": None, "query_weights": None})


def test_ranking_boundary_uses_each_videos_real_length():
    raw = build_lmac({"rgb": 4}, n_queries=2, n_layers=1, d_model=8, d_ffn=8, n_heads=2, margin=1.0,
                     normalise_centres=False)
    # centres 2 and 6 in a video of 6 real segments: last hinge 6 - 6 + 1 = 1 (with T = 10 it would be 0)
    assert raw.loss(_one_hot_output(raw, [2, 6], 6), torch.zeros(1))[1]["ranking"].item() == pytest.approx(1.0)
    assert raw.loss(_one_hot_output(raw, [2, 6], 10), torch.zeros(1))[1]["ranking"].item() == 0.0
    norm = build_lmac({"rgb": 4}, n_queries=2, n_layers=1, d_model=8, d_ffn=8, n_heads=2, margin=0.1)
    # normalised: centres 2/6, 6/6; first hinge 1/6 + 0.1 - 2/6 < 0; last hinge 1 - 1 + 0.1 = 0.1
    assert norm.loss(_one_hot_output(norm, [2, 6], 6), torch.zeros(1))[1]["ranking"].item() == pytest.approx(0.1)
    # default margin: half the feasible even-spacing margin, per video
    auto = build_lmac({"rgb": 4}, n_queries=5, **SMALL)
    assert torch.allclose(auto.ranking_margin(torch.tensor([13, 7])), torch.tensor([0.5 * 12 / 6 / 13, 0.5 * 6 / 6 / 7]))


def test_centre_layers_switch():
    last = _small("lmac", centre_layers="last")
    out = last(*_batch())
    assert last.centre_layers == (3,) and all(len(c) == 1 for c in out.aux["centres"].values())
    assert torch.equal(out.aux["centres"]["rgb"][0],
                       attention_center(out.aux["attention"]["rgb"][3], normalise=True, lengths=out.aux["lengths"]))
    assert _small("lmac", centre_layers=(-1, 0)).centre_layers == (0, 3)


def test_option_lists_match_the_paper_tables():
    assert len(FUSIONS) == 7 and len(SCORINGS) == 7


def test_relative_position_code_is_relative_and_masked_lengths_count():
    mask = torch.tensor([[True] * 12, [True] * 4 + [False] * 8])
    code = relative_position_code(mask, 16)
    assert code.shape == (2, 12, 16)
    # segment 1 of 4 and segment 4 of 12 (0-based) sit at the same relative place, 3/8: the same code
    assert torch.allclose(code[1, 1], code[0, 4], atol=1e-5)
    assert not torch.allclose(code[0, 0], code[0, 11])


def test_key_position_lets_queries_separate_on_time_constant_features():
    """On features identical at every time step, content-only attention is uniform; position codes are not."""
    torch.manual_seed(0)
    x = torch.randn(1, 1, 32).expand(2, 40, 32).contiguous()
    none = QueryDecoder(32, n_queries=4, d_model=16, d_ffn=16, n_heads=2, dropout=0.0).eval()
    sine = QueryDecoder(32, n_queries=4, d_model=16, d_ffn=16, n_heads=2, dropout=0.0, key_position="sine").eval()
    with torch.no_grad():
        sine.patterns.normal_()  # distinct queries, as after training
        none.patterns.copy_(sine.patterns)
        _, maps_none = none(x)
        _, maps_sine = sine(x)
    centres_none = attention_center(maps_none[-1])
    assert torch.allclose(centres_none, torch.full_like(centres_none, 20.5), atol=1e-4)  # (T + 1) / 2
    centres_sine = attention_center(maps_sine[-1])
    assert (centres_sine.max(1).values - centres_sine.min(1).values > 0.5).all()
    with pytest.raises(ValueError, match="key_position"):
        QueryDecoder(32, key_position="learned")
    model = create_model("lmac", in_dims={"rgb": 32}, d_model=16, d_ffn=16, n_heads=2, key_position="sine")
    assert all(enc.key_position == "sine" for enc in model.encoders.values())


def test_loss_terms_are_float32_whatever_the_autocast():
    """LMAC-Net's loss casts the centres, attention, lengths and scores to float32 and disables autocast: the
    terms are the same inside bf16 autocast as outside."""
    model = _small("lmac")
    feats, mask = _batch()
    labels = torch.rand(B)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(feats, mask)
        total, parts = model.loss(out, labels)
    assert all(c.dtype == torch.float32 for cs in out.aux["centres"].values() for c in cs)
    assert total.dtype == torch.float32 and all(v.dtype == torch.float32 for v in parts.values())
    total_plain, parts_plain = model.loss(out, labels)
    assert torch.equal(total, total_plain)
    assert all(torch.equal(parts[k], parts_plain[k]) for k in parts)
    total.backward()  # the casts keep the graph
    assert model.encoders["rgb"].patterns.grad is not None



def test_input_projection_projects_once_and_keeps_the_decoder_equivalent_in_shape():
    """input_projection=True: one Linear(D_in, d) before the layers, whose key / value maps then read d-wide
    inputs; same outputs' shapes, gradients reach the projection, fewer parameters; the quick and smoke presets
    use it and the paper configuration does not."""
    from aqa_lib.experiments import config_for

    torch.manual_seed(0)
    x, mask = torch.randn(2, 9, 40), torch.ones(2, 9, dtype=torch.bool)
    plain = QueryDecoder(40, n_queries=3, d_model=8, d_ffn=8, n_layers=2, n_heads=2)
    projected = QueryDecoder(40, n_queries=3, d_model=8, d_ffn=8, n_layers=2, n_heads=2, input_projection=True)
    assert plain.input_projection is None and projected.input_projection.in_features == 40
    assert all(layer.w_k.in_features == 8 and layer.w_v.in_features == 8 for layer in projected.layers)
    n = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert n(plain) - n(projected) == 2 * 2 * (40 - 8) * 8 - (40 * 8 + 8)  # 4 raw maps shrink, 1 projection added
    state, maps = projected(x, mask)
    assert state.shape == (2, 3, 8) and [m.shape for m in maps] == [(2, 9, 3)] * 2
    state.sum().backward()
    assert projected.input_projection.weight.grad.abs().sum() > 0
    assert config_for("lmac", "fisv", "TES", scale="quick").model_kwargs["input_projection"] is True
    assert config_for("lmac/table7/rgb", "rg", "Ball", scale="smoke").model_kwargs["input_projection"] is True
    assert "input_projection" not in config_for("lmac", "fisv", "TES", scale="paper").model_kwargs
