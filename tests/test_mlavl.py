"""MLAVL: every registered variant runs forward / loss / backward, shapes and aux, padding invariance (eval and
masked BatchNorm in training), visual-only mode, the MAG² adjacency, DPG's expected grade, input and option
errors, the prompt buffers, the registry against the paper tables, the recipe, the official parameter count
and FLOPs, and one smoke training run through the engine."""

import shutil

import numpy as np
import pytest
import torch

from aqa_lib.data.text import PROMPT_DIR, load_prompts
from aqa_lib.efficiency import count_flops
from aqa_lib.models.base import ModelOutput, count_parameters, create_model, get_variant, variants
from aqa_lib.models.mlavl import (
    MLAVL,
    MLAVL_RECIPE,
    MaskedBatchNorm1d,
    action_graph_adjacency,
    build_mlavl,
    grade_score,
    resample_grades,
)
from aqa_lib.tables import reported, row_labels

DIMS = {"rgb": 24, "audio": 12}
SMALL = {"d_model": 16, "n_heads": 2}
B, T = 3, 10
LENGTHS = (10, 7, 4)
MLAVL_VARIANTS = [n for n, v in variants("mlavl").items() if v.builder is build_mlavl]
"""Variants of the MLAVL model itself (Table 4's are GDLT with and without the MAG² plug-in)."""


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _batch(seed: int = 0, dims=DIMS, lengths=LENGTHS, t: int = T):
    g = torch.Generator().manual_seed(seed)
    feats = {m: torch.randn(len(lengths), t, d, generator=g) for m, d in dims.items()}
    mask = torch.arange(t)[None, :] < torch.tensor(lengths)[:, None]
    return {m: f.masked_fill(~mask[:, :, None], 0.0) for m, f in feats.items()}, mask


def _small(name: str = "mlavl", dims=DIMS, **kwargs) -> MLAVL:
    torch.manual_seed(0)
    return create_model(name, in_dims=dims, **{**SMALL, **kwargs})


@pytest.mark.parametrize("name", MLAVL_VARIANTS)
def test_every_variant_forward_loss_backward(name):
    model = _small(name)
    feats, mask = _batch()
    out = model(feats, mask)
    assert isinstance(out, ModelOutput) and out.score.shape == (B,)
    total, parts = model.loss(out, torch.rand(B))
    assert set(parts) == {"mse", "triplet", "ce"}
    assert all(v.ndim == 0 and torch.isfinite(v) for v in parts.values()) and torch.isfinite(total)
    total.backward()
    for pname, p in model.named_parameters():
        assert p.grad is not None, f"{name}: no gradient reaches {pname}"
        assert torch.isfinite(p.grad).all(), f"{name}: non-finite gradient in {pname}"


def test_full_model_shapes_and_aux():
    model = _small().eval()
    feats, mask = _batch()
    out = model(feats, mask)
    aux = out.aux
    n_act = load_prompts("FS").n_actions
    assert aux["lengths"].tolist() == list(LENGTHS)
    assert aux["grade_features"]["av"].shape == (B, 12, 16) and aux["grade_features"]["v"].shape == (B, 6, 16)
    assert aux["grade_texts"]["av"].shape == (12, 16) and aux["grade_texts"]["v"].shape == (6, 16)
    assert aux["action_texts"]["video"].shape == aux["action_texts"]["music"].shape == (n_act, 16)
    for branch, k in (("av", 12), ("v", 6)):
        p = aux["query_weights"][branch]
        assert p.shape == (B, k) and torch.allclose(p.sum(-1), torch.ones(B)) and (p > 0).all()
        attn = aux["grade_attention"][branch]
        assert attn.shape == (B, k, T) and torch.allclose(attn.sum(-1), torch.ones(B, k), atol=1e-5)
        assert (attn[~mask[:, None, :].expand(-1, k, -1)] == 0).all()  # no attention on padded clips
    w = aux["branch_weight"].detach()
    assert w.item() == 0.5  # initialised at 0.5
    assert torch.allclose(out.score, w * aux["branch_scores"]["av"] + (1 - w) * aux["branch_scores"]["v"])
    gw = aux["graph_weights"]
    assert gw.shape == (B, T, n_act)
    for b, length in enumerate(LENGTHS):  # uniform mean: every text weighs 1/(T_b − 1 + N) on every real clip
        assert torch.allclose(gw[b, :length], torch.full((length, n_act), 1.0 / (length - 1 + n_act)))
    assert aux["text_clip_similarity"].shape == (B, T, n_act)


def test_padding_does_not_change_a_videos_score():
    model = _small().eval()
    feats, mask = _batch()
    together = model(feats, mask).score
    for b, length in enumerate(LENGTHS):
        alone = model({m: f[b:b + 1, :length] for m, f in feats.items()}, None).score
        assert torch.allclose(alone, together[b:b + 1], atol=1e-5), (b, alone, together[b])
    # garbage in padded positions changes nothing either
    noisy = {m: torch.where(mask[:, :, None], f, torch.randn_like(f) * 100) for m, f in feats.items()}
    assert torch.allclose(model(noisy, mask).score, together, atol=1e-5)


def test_masked_batchnorm_uses_real_clips_only():
    """Training mode, no dropout: a video padded to 10 clips gives the same output and running statistics
    as the same video unpadded (plain BatchNorm would average the zeros in)."""
    torch.manual_seed(0)
    a, b = MaskedBatchNorm1d(5), MaskedBatchNorm1d(5)
    x = torch.randn(1, 6, 5)
    padded = torch.cat([x, torch.zeros(1, 4, 5)], dim=1)
    mask = torch.arange(10)[None] < 6
    out_a, out_b = a(x), b(padded, mask)
    assert torch.allclose(out_a, out_b[:, :6], atol=1e-6) and (out_b[:, 6:] == 0).all()
    assert torch.allclose(a.running_mean, b.running_mean) and torch.allclose(a.running_var, b.running_var)
    assert torch.allclose(out_a.mean(dim=(0, 1)), torch.zeros(5), atol=1e-5)

    model = _small(dropout=0.0).train()
    feats, mask = _batch(lengths=(6,), t=10)
    short = model({m: f[:, :6] for m, f in feats.items()}, None).score
    assert torch.allclose(model(feats, mask).score, short, atol=1e-5)


def test_visual_only_mode_skips_audio_and_ignores_it():
    model = _small(modalities=("rgb",)).eval()
    assert model.modalities == ("rgb",) and model.fusion is None and model.proj_audio is None
    assert model.knowledge_audio is None and model.regressor_av is None and model.branch_weight is None
    feats, mask = _batch()
    out = model(feats, mask)
    assert set(out.aux["grade_features"]) == {"v"} and set(out.aux["action_texts"]) == {"video"}
    assert torch.allclose(out.score, out.aux["branch_scores"]["v"])
    other = {**feats, "audio": torch.randn_like(feats["audio"])}
    assert torch.equal(model(other, mask).score, out.score)
    assert torch.equal(model({"rgb": feats["rgb"]}, mask).score, out.score)
    # data without audio (LOGO, the released Fis-V RGB features) builds the visual-only model by default
    auto = _small(dims={"rgb": 24})
    assert auto.modalities == ("rgb",) and count_parameters(auto) == count_parameters(model)
    total, parts = auto.loss(auto(feats, mask), torch.rand(B))
    total.backward()


def test_adjacency_structure():
    mask = torch.tensor([[True, True, True, False]])
    n = 2
    adj = action_graph_adjacency(mask, 1.0 - torch.eye(n))[0]
    t = 4
    clip_clip, clip_text = adj[:t, :t], adj[:t, t:]
    text_clip, text_text = adj[t:, :t], adj[t:, t:]
    assert torch.allclose(adj.sum(dim=1), torch.ones(t + n))  # row-normalised (mean aggregation)
    assert (torch.diagonal(clip_clip) == 0).all() and (torch.diagonal(text_text) == 0).all()  # no self-loops
    assert (clip_clip[:, 3] == 0).all()  # the padded clip sends nothing
    assert torch.allclose(clip_clip[0], torch.tensor([0, 1, 1, 0]) / 4.0)  # 2 other real clips + 2 texts
    assert torch.allclose(clip_text[:3], torch.full((3, n), 0.25))  # text -> clip
    assert (text_clip == 0).all()  # never clip -> text
    assert torch.allclose(text_text, torch.tensor([[0.0, 1.0], [1.0, 0.0]]))


def test_grade_score_and_resampling_by_hand():
    s = torch.tensor([[0.0, 0.0, 0.0], [0.0, 0.0, 100.0]])
    out, p = grade_score(s)
    assert torch.allclose(p[0], torch.full((3,), 1 / 3)) and torch.allclose(out[0], torch.tensor(0.5))
    # sigmoid(0) = 0.5, sigmoid(100) = 1 -> p = [0.25, 0.25, 0.5]; grades [0, 0.5, 1] -> 0.625
    assert torch.allclose(p[1], torch.tensor([0.25, 0.25, 0.5])) and torch.allclose(out[1], torch.tensor(0.625))
    e = np.arange(6, dtype=np.float32)[:, None] * np.array([[1.0, 10.0]], dtype=np.float32)
    assert resample_grades(e, 6) is e
    assert np.allclose(resample_grades(e, 3)[:, 0], [0.0, 2.5, 5.0])
    assert np.allclose(resample_grades(e, 11)[:, 1], np.arange(11) * 5.0)


def test_prompt_buffers_and_prompt_dir(tmp_path):
    ps = load_prompts("RG")
    model = _small(sport="RG")
    n = ps.n_actions
    assert model.n_actions == 32 and model.text.shape == (2 * n + 18, 512)
    assert torch.equal(model.text[:n], torch.from_numpy(ps.video_actions))
    assert torch.equal(model.text[2 * n:2 * n + 12], torch.from_numpy(ps.av_grades))
    assert not any(p.data_ptr() == model.text.data_ptr() for p in model.parameters())  # frozen: a buffer
    for f in ("action-label_RG.csv", "RG_text_feature.npy"):
        shutil.copy(PROMPT_DIR / f, tmp_path / f)
    other = _small(sport="RG", prompt_dir=str(tmp_path))
    assert torch.equal(other.text, model.text)
    # N = 3: AV prompts resampled per "without / with fitting music" half, interleaved
    n3 = _small(sport="RG", n_grades=3)
    av = n3.text[2 * n:2 * n + 6]
    assert torch.allclose(av[0], torch.from_numpy(ps.av_grades[0])) and torch.allclose(
        av[5], torch.from_numpy(ps.av_grades[11]))
    assert _small(sport="LOGO", dims={"rgb": 24}).n_actions == 63


def test_input_and_option_errors():
    model = _small()
    feats, mask = _batch()
    with pytest.raises(ValueError, match="MLAVL expected \\[B, T, 12\\]"):
        model({**feats, "audio": torch.randn(B, T, 5)}, mask)
    with pytest.raises(ValueError, match="Missing modality 'audio'"):
        model({"rgb": feats["rgb"]}, mask)
    with pytest.raises(ValueError, match="mask has shape"):
        model(feats, mask[:, :4])
    with pytest.raises(ValueError, match="no real segment"):
        model(feats, torch.zeros_like(mask))
    for kwargs, text in [({"sport": "diving"}, "sport"), ({"fusion": "concat"}, "fusion"),
                         ({"knowledge": "gat"}, "knowledge"), ({"head": "svr"}, "head"),
                         ({"prompts": "clip"}, "prompts"), ({"n_grades": 1}, "n_grades"),
                         ({"modalities": ("flow",)}, "modalities"), ({"n_heads": 3}, "divisible")]:
        with pytest.raises(ValueError, match=text):
            _small(**kwargs)
    with pytest.raises(ValueError, match="modalities=\\('rgb',\\)"):
        _small(dims={"rgb": 24}, modalities=("rgb", "audio"))


def test_ablation_options_change_the_architecture():
    base = count_parameters(_small())
    d = 16
    assert count_parameters(_small("mlavl/table5/no_s2ce")) < base
    assert _small("mlavl/table5/no_mag2").knowledge_visual is None
    assert _small("mlavl/table5/baseline").proj_text is None  # no text at all
    shared = _small("mlavl/supp_table3/shared_ca").fusion
    pairs = zip(shared.decoder.layers, shared.decoder_av.layers, strict=True)
    assert all(a.cross_attn is b.cross_attn for a, b in pairs)
    dual = _small("mlavl/supp_table3/dual_decoder").fusion
    assert all(a.cross_attn is not b.cross_attn for a, b in zip(dual.decoder.layers, dual.decoder_av.layers,
                                                                 strict=True))
    attention = 4 * (d * d + d)  # one cross-attention block, shared in each of the 2 layers
    assert count_parameters(dual) - count_parameters(shared) == 2 * attention
    st = _small("mlavl/supp_table1/shared_transformer")
    assert st.knowledge_visual is st.knowledge_audio
    dt = _small("mlavl/supp_table1/dual_transformer")
    assert dt.knowledge_visual is not dt.knowledge_audio
    lv = _small("mlavl/supp_table4/lv")
    assert count_parameters(lv) == base + 18 * d and lv.learnable_av.shape == (12, d)
    assert lv.positions.abs().sum() == 0 and _small("mlavl/supp_table4/lv_pe").positions.abs().sum() > 0
    n8 = _small("mlavl/supp_table2/n8")
    assert n8.regressor_av.linear.out_features == 16 and n8.regressor_v.linear.out_features == 8


def test_registry_matches_the_paper_tables():
    expected = {"table1", "table2", "table3", "table5", "supp_table1", "supp_table2", "supp_table3",
                "supp_table4", "supp_table5"}
    seen = set()
    for name in MLAVL_VARIANTS:
        v = get_variant(name)
        assert v.paper == "mlavl" and v.recipe is MLAVL_RECIPE
        if name == "mlavl/visual":  # what runs on RGB-only data: no row of the paper
            assert v.table == "" and v.overrides["modalities"] == ("rgb",)
            continue
        labels = set(row_labels(reported("mlavl", v.table)))
        assert v.reported_method in labels, (name, v.reported_method)
        seen.add(v.table)
    assert seen == expected
    table4 = {n: get_variant(n) for n in variants("mlavl/table4/")}
    assert set(table4) == {"mlavl/table4/gdlt", "mlavl/table4/gdlt_mag2"}
    assert {v.reported_method for v in table4.values()} <= set(row_labels(reported("mlavl", "table4")))
    assert len([n for n in MLAVL_VARIANTS if n.startswith("mlavl/table5/")]) == 11
    assert len(set(row_labels(reported("mlavl", "table5")))) == 11  # every Table 5 row is a variant


def test_recipe_per_dataset():
    from aqa_lib.experiments import config_for

    cfg = config_for("mlavl", "logo", "score", scale="smoke")
    assert cfg.model_kwargs["sport"] == "LOGO" and tuple(cfg.model_kwargs["modalities"]) == ("rgb",)
    assert config_for("mlavl", "rg", "Ball", scale="paper").epochs == 620
    paper = config_for("mlavl", "fs1000", "PCS", scale="paper")
    assert paper.epochs == 540 and paper.batch_size == 64 and paper.optimizer == "adam"
    assert paper.lr == 1e-2 and paper.weight_decay == 1e-4 and paper.min_lr_ratio == 0.01
    assert paper.model_kwargs["sport"] == "FS" and "d_model" not in paper.model_kwargs
    assert config_for("mlavl", "fisv", "TES", scale="quick").model_kwargs["d_model"] == 64


def test_recipe_refuses_a_dataset_without_an_action_vocabulary():
    from aqa_lib.experiments import config_for

    for name in ("mlavl", "mlavl/table5/baseline", "mlavl/supp_table2/n4"):
        with pytest.raises(ValueError, match=r"cannot train on 'mtl_aqa'.*fs1000, fisv, finefs, rg, logo.*vatp"):
            config_for(name, "mtl_aqa", "score", scale="smoke")
    assert config_for("mlavl", "finefs", "FS-PCS", scale="smoke").model_kwargs["sport"] == "FS"


def test_official_parameter_counts():
    """The official FS1000 configuration (models.md): 6,724,627 (768-d video) / 6,987,155 (1024-d); the
    paper's Table 2 says 3.82 M, which no official configuration builds."""
    parts = {}
    for video_dim, total in ((768, 6_724_627), (1024, 6_987_155)):
        model = create_model("mlavl", in_dims={"rgb": video_dim, "audio": 768})
        assert count_parameters(model) == total
        parts[video_dim] = {n: count_parameters(c) for n, c in model.named_children()}
    assert parts[768] == {"proj_visual": 395_136, "proj_audio": 395_136, "proj_text": 198_144,
                          "encoder": 658_944, "knowledge_visual": 131_456, "knowledge_audio": 131_456,
                          "fusion": 1_844_736 + 198_144, "grade_decoder": 2_766_848, "regressor_v": 1_542,
                          "regressor_av": 3_084}
    assert parts[1024]["proj_visual"] == 657_664
    model = create_model("mlavl", in_dims={"rgb": 768, "audio": 768})
    assert count_parameters(model.fusion.decoder) == 1_844_736
    assert count_parameters(create_model("mlavl", in_dims={"rgb": 1024})) == 6_987_155 - 395_136 - 131_456 \
        - 1_844_736 - 198_144 - 3_084 - 1  # LOGO: visual-only
    # the prompt count does not change it
    assert count_parameters(create_model("mlavl", in_dims={"rgb": 768, "audio": 768}, sport="RG")) == 6_724_627


def test_forward_flops_at_95_clips():
    """models.md: 1.19 G (768-d) / 1.24 G (1024-d) for the official code. Ours add the dense graph
    aggregation (2 graphs × 137² × (256 + 128) × 2 = 28.8 M) and the diagnostic text–clip similarity
    (95 × 42 × 256 × 2 = 2.0 M); without them the counts are 1.192 G / 1.242 G."""
    extra = 2 * 137 * 137 * (256 + 128) * 2 + 95 * 42 * 256 * 2
    for video_dim, flops, official in ((768, 1_222_978_048, 1.19e9), (1024, 1_272_785_408, 1.24e9)):
        model = create_model("mlavl", in_dims={"rgb": video_dim, "audio": 768})
        got = count_flops(model, {"rgb": video_dim, "audio": 768}, 95)
        assert got == flops
        assert abs(got - extra - official) < 0.005e9


def test_smoke_training_through_the_engine(tmp_path, monkeypatch):
    from aqa_lib.train import RunConfig, train

    monkeypatch.setenv("AQA_CACHE_DIR", str(tmp_path))
    result = train(RunConfig(model="mlavl", dataset="fisv", target="TES", scale="smoke", epochs=1, batch_size=8,
                             model_kwargs={"d_model": 16, "n_heads": 2}, optimizer="adam", lr=1e-3))
    assert len(result.history) == 1
    pred = result.arrays["test_pred_last"]
    assert pred.shape == result.arrays["test_true"].shape and np.isfinite(pred).all()


def test_mag2_plugs_into_gdlt_for_table4():
    import torch

    from aqa_lib.experiments import config_for
    from aqa_lib.models.base import count_parameters, create_model

    native = create_model("mlavl/table4/gdlt", in_dims={"rgb": 64}, d_model=32)
    guided = create_model("mlavl/table4/gdlt_mag2", in_dims={"rgb": 64}, d_model=32)
    graph = 2 * 32 * 16 + 16 + 2 * 16 * 32 + 32  # two SAGE layers 32 -> 16 -> 32 (neighbour + root weights)
    text = 512 * 256 + 256 + 2 * 256 + 256 * 32 + 32 + 2 * 32  # Projection(512 -> 256 -> 32) with its BNs
    assert count_parameters(guided) - count_parameters(native) == graph + text
    torch.manual_seed(0)
    x = torch.randn(2, 12, 64)
    mask = torch.ones(2, 12, dtype=torch.bool)
    mask[1, 8:] = False
    guided.eval()
    padded = guided({"rgb": x}, mask).score[1]
    alone = guided({"rgb": x[1:, :8]}, mask[1:, :8]).score[0]
    assert torch.allclose(padded, alone, atol=1e-5)  # padding does not reach the graph's clips
    guided.train()
    out = guided({"rgb": x}, mask)
    guided.loss(out, torch.rand(2))[0].backward()
    assert guided.mag2.graph.conv1.lin_neigh.weight.grad.abs().sum() > 0
    assert config_for("mlavl/table4/gdlt_mag2", "logo", "score", scale="smoke").model_kwargs["sport"] == "LOGO"
    assert config_for("mlavl/table4/gdlt_mag2", "fisv", "TES", scale="smoke").model_kwargs["sport"] == "FS"


def test_proj_hidden_sets_the_token_projections_width():
    """proj_hidden (ours) narrows every token projection's hidden layer; None keeps the official D/2; a
    non-positive width is refused with the fix in the message."""
    official, narrow = _small(), _small(proj_hidden=8)
    assert official.proj_visual.fc1.out_features == DIMS["rgb"] // 2
    assert official.proj_audio.fc1.out_features == DIMS["audio"] // 2
    assert narrow.proj_visual.fc1.out_features == narrow.proj_audio.fc1.out_features == 8
    assert narrow.proj_text.fc1.out_features == 8 and narrow.proj_visual.fc2.in_features == 8
    feats, mask = _batch()
    out = narrow(feats, mask)
    assert out.score.shape == (B,) and torch.isfinite(out.score).all()
    with pytest.raises(ValueError, match="proj_hidden"):
        _small(proj_hidden=0)
