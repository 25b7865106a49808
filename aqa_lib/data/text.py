"""Text for language-guided methods: MLAVL's sport prompt sets (shipped) and re-embedding them.

Prompt files, from the official MLAVL release (``XuHuangbiao/MLAVL``, files ``action-label_{RG,FS,LOGO}.csv``
and ``{RG,FS,LOGO}_text_feature.npy``; see ``shared/data/README.md``):

- ``action-label_{sport}.csv`` with columns ``id,name`` lists the prompts in row order: N "a video of
  <action>" prompts, N "a music suitable for <action>" prompts, 12 audio-visual grade prompts
  ({bad, poor, fair, good, excellent, perfect} x {"without fitting music", "with fitting music"},
  interleaved in that order) and 6 visual grade prompts ("a video of <grade> action performance");
  N = 32 (RG), 42 (FS: FS1000 and Fis-V), 63 (LOGO), so 82 / 102 / 144 rows.
- ``{sport}_text_feature.npy``: one embedding per CSV row, ``[rows, 512]`` float32, unnormalised, from
  ViFi-CLIP ViT-B/16's frozen text encoder (the release used ``torch.save``; the shipped copies are plain
  NumPy arrays with the same values).

:func:`load_prompts` reads the shipped copies (``aqa_lib/data/package_data/mlavl_text/``) or a user folder
with the same file names; :func:`embed_prompts` re-embeds prompt texts and :func:`reembed_prompts` an edited
``action-label_{sport}.csv``, with the project's text encoder (:mod:`aqa_lib.text_encoder`: the packaged
384-d all-MiniLM-L6-v2 of the ``text`` extra) or any callable ``list[str] -> array [n, d]`` a user has.

The released 512-d ViFi-CLIP embeddings stay MLAVL's default. Re-embedded prompts of another width (384 for
the default encoder) do not plug into a model built for 512-d text as they are: pass ``dim=`` the width
your model takes, or give the model a projection it learns with the rest (``torch.nn.Linear(384, 512)``
applied to the prompt embeddings): the layers that read 512-d ViFi-CLIP text do not read another encoder's
space, so the projection is trained with the model, never fixed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..paths import PACKAGE_DATA
from ..text_encoder import Encoder, encode_texts
from .core import DataError

PROMPT_SPORTS = {"RG": 32, "FS": 42, "LOGO": 63}
N_AV_GRADES = 12
N_V_GRADES = 6
EMBED_DIM = 512
"""Width of the released embeddings (ViFi-CLIP ViT-B/16 text encoder)."""
GRADES = ("bad", "poor", "fair", "good", "excellent", "perfect")
_VIDEO_PREFIX = "a video of "
_MUSIC_PREFIX = "a music suitable for "
PROMPT_DIR = PACKAGE_DATA / "mlavl_text"


def _check_sport(sport: str) -> int:
    if sport not in PROMPT_SPORTS:
        raise ValueError(f"Unknown prompt set {sport!r}; valid: {', '.join(PROMPT_SPORTS)}.")
    return PROMPT_SPORTS[sport]


def n_prompts(sport: str) -> int:
    """Rows of a sport's prompt set: ``2 N + 12 + 6``."""
    return 2 * _check_sport(sport) + N_AV_GRADES + N_V_GRADES


@dataclass(frozen=True)
class PromptSet:
    """One sport's prompt texts and their embeddings, in release row order.

    Attributes:
        sport: ``RG``, ``FS`` or ``LOGO``.
        names: the prompt texts, ``2 N + 18`` of them.
        embeddings: ``[len(names), d]`` float32 (d = 512 for the released ViFi-CLIP embeddings).

    The four groups are available as slices (``video_slice`` ...) and as embedding views
    (``video_actions``, ``music_actions``, ``av_grades``, ``v_grades``).
    """

    sport: str
    names: list[str]
    embeddings: np.ndarray

    def __post_init__(self) -> None:
        n = n_prompts(self.sport)
        if len(self.names) != n:
            raise DataError(f"Prompt set {self.sport!r} needs {n} prompts, got {len(self.names)}.")
        emb = np.asarray(self.embeddings)
        if emb.ndim != 2 or emb.shape[0] != n:
            raise DataError(
                f"Prompt set {self.sport!r}: embeddings must be [{n}, d], got {tuple(emb.shape)}."
            )
        object.__setattr__(self, "embeddings", emb.astype(np.float32, copy=False))

    @property
    def n_actions(self) -> int:
        """N, the number of action prompts of each kind."""
        return PROMPT_SPORTS[self.sport]

    @property
    def dim(self) -> int:
        return int(self.embeddings.shape[1])

    @property
    def video_slice(self) -> slice:
        """Rows of the N "a video of <action>" prompts."""
        return slice(0, self.n_actions)

    @property
    def music_slice(self) -> slice:
        """Rows of the N "a music suitable for <action>" prompts."""
        return slice(self.n_actions, 2 * self.n_actions)

    @property
    def av_grade_slice(self) -> slice:
        """Rows of the 12 audio-visual grade prompts."""
        start = 2 * self.n_actions
        return slice(start, start + N_AV_GRADES)

    @property
    def v_grade_slice(self) -> slice:
        """Rows of the 6 visual grade prompts."""
        start = 2 * self.n_actions + N_AV_GRADES
        return slice(start, start + N_V_GRADES)

    @property
    def video_actions(self) -> np.ndarray:
        return self.embeddings[self.video_slice]

    @property
    def music_actions(self) -> np.ndarray:
        return self.embeddings[self.music_slice]

    @property
    def av_grades(self) -> np.ndarray:
        return self.embeddings[self.av_grade_slice]

    @property
    def v_grades(self) -> np.ndarray:
        return self.embeddings[self.v_grade_slice]

    def group_names(self, group: str) -> list[str]:
        """Texts of one group: ``video``, ``music``, ``av_grade`` or ``v_grade``."""
        slices = {
            "video": self.video_slice,
            "music": self.music_slice,
            "av_grade": self.av_grade_slice,
            "v_grade": self.v_grade_slice,
        }
        if group not in slices:
            raise ValueError(f"Unknown prompt group {group!r}; valid: {', '.join(slices)}.")
        return self.names[slices[group]]

    def reembedded(
        self, encoder: Encoder = "default", *, dim: int | None = None, cache: bool = True
    ) -> PromptSet:
        """A copy whose embeddings come from ``encoder`` (see :func:`embed_prompts`)."""
        emb = embed_prompts(self.names, encoder, dim=dim, sport=self.sport, cache=cache)
        return PromptSet(self.sport, list(self.names), emb)


def _check_prompt_count(count: int, sport: str, where: str) -> None:
    n = n_prompts(sport)
    if count != n:
        raise DataError(
            f"{where}: {count} prompt rows, expected {n} for {sport} (2 x {PROMPT_SPORTS[sport]} action "
            f"prompts + {N_AV_GRADES} + {N_V_GRADES} grade prompts). Edit prompt texts in place, one per row "
            f"of action-label_{sport}.csv, without adding or dropping rows: each row is an action or grade of "
            "the sport's vocabulary (action_vocabulary)."
        )


def _read_prompt_csv(path: Path, sport: str) -> list[str]:
    if not path.is_file():
        raise DataError(f"Prompt file not found: {path}. Expected MLAVL's action-label_{sport}.csv there.")
    frame = pd.read_csv(path)
    if list(frame.columns) != ["id", "name"]:
        raise DataError(
            f"{path}: columns must be 'id,name' (MLAVL release), got {','.join(map(str, frame.columns))}."
        )
    n = n_prompts(sport)
    _check_prompt_count(len(frame), sport, str(path))
    if frame["id"].tolist() != list(range(n)):
        raise DataError(f"{path}: the id column must run 0..{n - 1} in order (it gives the embedding row).")
    names = [str(s) for s in frame["name"]]
    k = PROMPT_SPORTS[sport]
    groups = ((0, k, _VIDEO_PREFIX), (k, 2 * k, _MUSIC_PREFIX))
    for start, stop, prefix in groups:
        bad = [i for i in range(start, stop) if not names[i].startswith(prefix)]
        if bad:
            raise DataError(f"{path}, row id {bad[0]}: {names[bad[0]]!r} should start with {prefix!r}.")
    v_grades = names[2 * k + N_AV_GRADES :]
    if [g for g in GRADES if not any(g in s for s in v_grades)]:
        raise DataError(
            f"{path}: the last {N_V_GRADES} rows must be the visual grade prompts ({', '.join(GRADES)})."
        )
    return names


def load_prompts(sport: str, path: str | Path | None = None) -> PromptSet:
    """Load a sport's prompt set: the shipped MLAVL files, or ``path`` (a folder with the same file names).

    Raises :class:`DataError` naming the file on a missing file, a wrong row count or column set, or an
    embedding array that is not ``[rows, 512]`` finite floats.
    """
    _check_sport(sport)
    folder = PROMPT_DIR if path is None else Path(path).expanduser()
    if not folder.is_dir():
        raise DataError(
            f"Prompt folder {folder} does not exist; it should hold action-label_{sport}.csv and "
            f"{sport}_text_feature.npy."
        )
    names = _read_prompt_csv(folder / f"action-label_{sport}.csv", sport)
    emb_path = folder / f"{sport}_text_feature.npy"
    if not emb_path.is_file():
        raise DataError(f"Embedding file not found: {emb_path}. Expected MLAVL's {sport}_text_feature.npy.")
    try:
        emb = np.load(emb_path, allow_pickle=False)
    except (ValueError, OSError) as exc:
        raise DataError(f"Cannot read {emb_path} as a NumPy array ({exc}).") from exc
    n = len(names)
    if emb.ndim != 2 or emb.shape != (n, EMBED_DIM):
        raise DataError(
            f"{emb_path}: shape {tuple(emb.shape)}, expected ({n}, {EMBED_DIM}) (one row per prompt)."
        )
    if not np.issubdtype(emb.dtype, np.floating) or not np.isfinite(emb).all():
        raise DataError(f"{emb_path}: embeddings must be finite floats (dtype {emb.dtype}).")
    return PromptSet(sport=sport, names=names, embeddings=emb.astype(np.float32))


def embed_prompts(
    texts: Sequence[str],
    encoder: Encoder = "default",
    *,
    dim: int | None = None,
    sport: str | None = None,
    cache: bool = True,
    where: str = "the prompt texts",
) -> np.ndarray:
    """Embed ``texts`` with the project's text encoder or a user's ``encoder(list[str]) -> array [n, d]``.

    Args:
        texts: the prompts, in release row order when ``sport`` is given.
        encoder: ``"default"`` (packaged all-MiniLM-L6-v2, 384-d; ``pip install -e ".[text]"``) or a callable;
            see :func:`aqa_lib.text_encoder.encode_texts`.
        dim: the embedding width the caller needs (e.g. 512 for a model built on the released ViFi-CLIP
            embeddings); a different width is an error that says what to do.
        sport: ``RG`` / ``FS`` / ``LOGO``: check there is one prompt per row of that sport's prompt set.
        cache: reuse / write the on-disk embedding cache.
        where: how errors name the source of ``texts`` (a file path, say).

    The result is checked (2-D, one row per text, finite, and ``d == dim`` when given) and returned as
    float32. Torch tensors are accepted (moved to CPU and detached).
    """
    if sport is not None:
        _check_sport(sport)
        if isinstance(texts, str | bytes):
            raise TypeError("texts must be a sequence of strings, not one string.")
        _check_prompt_count(len(texts), sport, where)
    arr = encode_texts(texts, encoder=encoder, cache=cache)
    if dim is not None and arr.shape[1] != dim:
        released = (
            f" MLAVL's released prompt embeddings (load_prompts) are the {EMBED_DIM}-d default."
            if dim == EMBED_DIM
            else ""
        )
        raise DataError(
            f"{where}: the text encoder returned {arr.shape[1]}-d embeddings, expected {dim}.{released} Use an "
            f"encoder with {dim}-d output, or give the model a projection from {arr.shape[1]} to {dim} that it "
            f"learns (torch.nn.Linear({arr.shape[1]}, {dim})) and ask for dim={arr.shape[1]}."
        )
    return arr


def reembed_prompts(
    sport: str,
    path: str | Path,
    encoder: Encoder = "default",
    *,
    dim: int | None = None,
    cache: bool = True,
) -> PromptSet:
    """Re-embed an edited prompt file: ``path`` is ``action-label_{sport}.csv`` or a folder holding it.

    The file is checked as in :func:`load_prompts` (columns, row count against the sport's vocabulary, group
    prefixes; errors name the file), then embedded with ``encoder`` (see :func:`embed_prompts`; ``dim`` checks
    the width the caller needs). No ``{sport}_text_feature.npy`` is needed.
    """
    _check_sport(sport)
    path = Path(path).expanduser()
    csv = path / f"action-label_{sport}.csv" if path.is_dir() else path
    names = _read_prompt_csv(csv, sport)
    emb = embed_prompts(names, encoder, dim=dim, sport=sport, cache=cache, where=str(csv))
    return PromptSet(sport=sport, names=names, embeddings=emb)


def action_vocabulary(sport: str) -> list[str]:
    """The N action names of a sport's prompt set (e.g. ``"leaping"``), in prompt order."""
    n = _check_sport(sport)
    frame = pd.read_csv(PROMPT_DIR / f"action-label_{sport}.csv")
    names = frame["name"].tolist()[:n]
    out = []
    for name in names:
        action = name[len(_VIDEO_PREFIX) :] if name.startswith(_VIDEO_PREFIX) else name
        out.append(action.removeprefix("a ").removeprefix("an "))
    return out
