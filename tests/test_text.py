"""MLAVL prompt sets (:mod:`aqa_lib.data.text`): shipped files, user folders, re-embedding."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest

from aqa_lib.data.core import DataError
from aqa_lib.data.text import (
    GRADES,
    PROMPT_DIR,
    PromptSet,
    action_vocabulary,
    embed_prompts,
    load_prompts,
    n_prompts,
    reembed_prompts,
)
from aqa_lib.text_encoder import default_encoder_available


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    """Text-embedding caches go to a per-test folder, never the checkout's .cache."""
    monkeypatch.setenv("AQA_CACHE_DIR", str(tmp_path / "cache"))


@pytest.mark.parametrize("sport,n,rows", [("RG", 32, 82), ("FS", 42, 102), ("LOGO", 63, 144)])
def test_shipped_prompt_sets(sport, n, rows):
    p = load_prompts(sport)
    assert n_prompts(sport) == rows and len(p.names) == rows and p.n_actions == n
    assert p.embeddings.shape == (rows, 512) and p.embeddings.dtype == np.float32
    assert p.video_actions.shape == (n, 512) and p.music_actions.shape == (n, 512)
    assert p.av_grades.shape == (12, 512) and p.v_grades.shape == (6, 512)
    assert all(t.startswith("a video of ") for t in p.group_names("video"))
    assert all(t.startswith("a music suitable for ") for t in p.group_names("music"))
    av = p.group_names("av_grade")
    assert [g for g in GRADES for _ in range(2)] == [t.split()[3] for t in av]
    assert [t.endswith("without fitting music") for t in av] == [True, False] * 6
    assert p.group_names("v_grade") == [f"a video of {g} action performance" for g in GRADES]
    # unnormalised ViFi-CLIP embeddings (row norm about 14)
    assert 10 < np.linalg.norm(p.embeddings, axis=1).mean() < 20
    # the action names match the vocabulary used elsewhere
    assert len(action_vocabulary(sport)) == n


def test_action_vocabulary_unchanged():
    assert action_vocabulary("RG")[:3] == ["walking", "running", "leaping"]
    with pytest.raises(ValueError, match="valid: RG, FS, LOGO"):
        action_vocabulary("Diving")


def _copy(tmp_path, sport="RG"):
    for name in (f"action-label_{sport}.csv", f"{sport}_text_feature.npy"):
        shutil.copy(PROMPT_DIR / name, tmp_path / name)
    return tmp_path


def test_user_folder_and_validation(tmp_path):
    folder = _copy(tmp_path)
    p = load_prompts("RG", folder)
    np.testing.assert_array_equal(p.embeddings, load_prompts("RG").embeddings)

    emb = np.load(folder / "RG_text_feature.npy")
    np.save(folder / "RG_text_feature.npy", emb[:80])
    with pytest.raises(DataError, match=r"RG_text_feature\.npy: shape \(80, 512\), expected \(82, 512\)"):
        load_prompts("RG", folder)
    np.save(folder / "RG_text_feature.npy", emb[:, :256])
    with pytest.raises(DataError, match=r"shape \(82, 256\)"):
        load_prompts("RG", folder)
    bad = emb.copy()
    bad[3, 3] = np.inf
    np.save(folder / "RG_text_feature.npy", bad)
    with pytest.raises(DataError, match="finite"):
        load_prompts("RG", folder)

    frame = pd.read_csv(folder / "action-label_RG.csv")
    frame.iloc[:-1].to_csv(folder / "action-label_RG.csv", index=False)
    with pytest.raises(DataError, match=r"action-label_RG\.csv: 81 prompt rows, expected 82"):
        load_prompts("RG", folder)
    frame.rename(columns={"name": "text"}).to_csv(folder / "action-label_RG.csv", index=False)
    with pytest.raises(DataError, match="columns must be 'id,name'"):
        load_prompts("RG", folder)
    with pytest.raises(DataError, match=r"action-label_FS\.csv"):
        load_prompts("FS", folder)
    with pytest.raises(DataError, match="does not exist"):
        load_prompts("RG", tmp_path / "missing")
    with pytest.raises(ValueError, match="Unknown prompt set"):
        load_prompts("rg")


def test_promptset_checks_rows():
    with pytest.raises(DataError, match="needs 82 prompts"):
        PromptSet("RG", ["a"] * 10, np.zeros((10, 512)))


def _toy_encoder(texts):
    return np.stack([[len(t), t.count("a"), t.count("e")] for t in texts]).astype(np.float64)


def test_embed_prompts_and_reembedded():
    texts = ["a video of leaping", "a music suitable for leaping"]
    out = embed_prompts(texts, _toy_encoder)
    assert out.shape == (2, 3) and out.dtype == np.float32
    assert embed_prompts(texts, _toy_encoder, dim=3).shape == (2, 3)
    with pytest.raises(DataError, match="returned 3-d embeddings, expected 512"):
        embed_prompts(texts, _toy_encoder, dim=512)
    with pytest.raises(DataError, match=r"returned shape \(1, 3\) for 2 texts"):
        embed_prompts(texts, lambda t: _toy_encoder(t[:1]))
    with pytest.raises(DataError, match=r"returned shape \(6,\)"):
        embed_prompts(texts, lambda t: _toy_encoder(t).ravel())
    with pytest.raises(DataError, match="NaN or Inf"):
        embed_prompts(texts, lambda t: _toy_encoder(t) * np.nan)
    with pytest.raises(ValueError, match="at least one text"):
        embed_prompts([], _toy_encoder)
    p = load_prompts("FS").reembedded(_toy_encoder)
    assert p.embeddings.shape == (102, 3) and p.dim == 3 and p.v_grades.shape == (6, 3)


def test_embed_prompts_accepts_torch_tensors():
    torch = pytest.importorskip("torch")
    out = embed_prompts(["x", "yy"], lambda t: torch.ones(len(t), 4, requires_grad=True))
    assert out.shape == (2, 4) and out.dtype == np.float32


def test_embed_prompts_checks_count_against_the_sport():
    names = load_prompts("RG").names
    assert embed_prompts(names, _toy_encoder, sport="RG").shape == (82, 3)
    with pytest.raises(
        DataError, match=r"the prompt texts: 81 prompt rows, expected 82 for RG \(2 x 32 action"
    ):
        embed_prompts(names[:-1], _toy_encoder, sport="RG")
    with pytest.raises(DataError, match="without adding or dropping rows"):
        embed_prompts([*names, "a video of juggling"], _toy_encoder, sport="RG")
    with pytest.raises(DataError, match="expected 102 for FS"):
        embed_prompts(names, _toy_encoder, sport="FS")
    with pytest.raises(ValueError, match="Unknown prompt set 'rg'"):
        embed_prompts(names, _toy_encoder, sport="rg")


def test_embed_prompts_dim_error_says_what_to_do():
    texts = ["a video of leaping", "a music suitable for leaping"]
    with pytest.raises(DataError, match="returned 3-d embeddings, expected 512") as err:
        embed_prompts(texts, _toy_encoder, dim=512)
    msg = str(err.value)
    assert "released prompt embeddings (load_prompts) are the 512-d default" in msg
    assert "torch.nn.Linear(3, 512)" in msg and "dim=3" in msg
    with pytest.raises(DataError, match="expected 8. Use an encoder with 8-d output") as err:
        embed_prompts(texts, _toy_encoder, dim=8)
    assert "released" not in str(err.value)
    with pytest.raises(DataError, match="expected 512"):
        load_prompts("RG").reembedded(_toy_encoder, dim=512)


def test_embed_prompts_caches_and_keeps_positional_encoder():
    calls = []

    def enc(texts):
        calls.append(len(texts))
        return _toy_encoder(texts)

    texts = ["a video of leaping", "a music suitable for leaping"]
    np.testing.assert_array_equal(embed_prompts(texts, enc), embed_prompts(texts, encoder=enc))
    assert calls == [2]
    embed_prompts(texts, enc, cache=False)
    assert calls == [2, 2]


def test_reembed_edited_prompt_file(tmp_path):
    folder = _copy(tmp_path)
    csv = folder / "action-label_RG.csv"
    frame = pd.read_csv(csv)
    frame.loc[2, "name"] = "a video of leaping high"
    frame.to_csv(csv, index=False)
    p = reembed_prompts("RG", folder, _toy_encoder)
    q = reembed_prompts("RG", csv, _toy_encoder)  # the file itself
    np.testing.assert_array_equal(p.embeddings, q.embeddings)
    base = load_prompts("RG").reembedded(_toy_encoder)
    assert p.names[2] == "a video of leaping high" and p.embeddings.shape == (82, 3)
    changed = np.where((p.embeddings != base.embeddings).any(axis=1))[0]
    assert changed.tolist() == [2]

    frame.drop(index=5).to_csv(csv, index=False)
    with pytest.raises(
        DataError, match=r"action-label_RG\.csv: 81 prompt rows, expected 82 .*Edit prompt texts"
    ):
        reembed_prompts("RG", folder, _toy_encoder)
    frame.to_csv(csv, index=False)
    with pytest.raises(DataError, match=r"action-label_RG\.csv: the text encoder returned 3-d embeddings"):
        reembed_prompts("RG", folder, _toy_encoder, dim=512)
    with pytest.raises(DataError, match=r"action-label_FS\.csv"):
        reembed_prompts("FS", folder, _toy_encoder)


@pytest.mark.skipif(
    not default_encoder_available(), reason='text extra not installed (pip install -e ".[text]")'
)
def test_reembed_with_the_default_encoder():
    p = load_prompts("RG").reembedded()
    assert p.embeddings.shape == (82, 384) and p.sport == "RG"
    # grade prompts that differ in one word are closer to each other than to an action prompt
    g = p.av_grades
    assert float(g[0] @ g[1]) > float(g[0] @ p.video_actions[0])
    with pytest.raises(DataError, match=r"384-d embeddings, expected 512.*torch\.nn\.Linear\(384, 512\)"):
        load_prompts("RG").reembedded(dim=512)
