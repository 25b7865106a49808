"""Structural facts about every dataset the four papers use.

One :class:`DatasetSpec` per dataset: which score targets exist, which feature modalities (and their
dimensions) the papers feed, normalisation constants, split sizes and the training crop length.
Everything here is a *fact about the real dataset* (from the papers, their supplementary material and the
official code, see ``shared/design/models.md``); nothing here is synthetic. One exception is labelled where
it is: MTL-AQA's ``text_dim`` is the width of this project's text encoder, not of VATP-Net's BERT. The synthetic generator
(:mod:`aqa_lib.data.synthetic`) and the real-format readers (:mod:`aqa_lib.data.formats`) both read it.

Targets are named as the papers' tables name them, so a loaded dataset lines up with
:func:`aqa_lib.tables.reported`: RG trains one model per apparatus on the Total score (targets ``Ball``,
``Clubs``, ``Hoop``, ``Ribbon``); Fis-V one per score (``TES``, ``PCS``); FS1000 one per score
(``TES``, ``PCS``, ``SS``, ``TR``, ``PE``, ``CO``, ``IN``); FineFS one per program and score
(``SP-TES``, ``SP-PCS``, ``FS-TES``, ``FS-PCS``); LOGO and MTL-AQA have a single ``score``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

SEGMENT_FRAMES = 32
"""Frames per feature segment (all four papers: one feature vector per 32 frames)."""
FPS = 25.0
"""Frame rate of the released long-term videos."""
SEGMENT_SECONDS = SEGMENT_FRAMES / FPS


@dataclass(frozen=True)
class DatasetSpec:
    """What a dataset is, independent of where its features come from.

    Attributes:
        name: registry key (``rg``, ``fisv``, ``fs1000``, ``logo``, ``mtl_aqa``, ``finefs``).
        title: human-readable name as the papers write it.
        targets: score targets a model can be trained on (one model per target, as in the papers).
        target_class: for datasets whose target selects a subset of videos (RG apparatus, FineFS program),
            the class each target belongs to; empty when every target uses every video.
        score_column: label column each target reads.
        norm: default normalisation constant per target (labels are ``score / norm``, in [0, 1]).
        norm_conventions: alternative constants used by specific papers, by convention name.
        modalities: time-aligned segment-feature modality -> feature dimension, as released
            (``rgb``, ``flow``, ``audio``).
        text_dim: dimension of per-video text token features (MTL-AQA commentary) with the project's
            default text encoder (:mod:`aqa_lib.text_encoder`, 384), 0 when the dataset has no per-video
            text. (Sport-level prompt sets are separate: see ``prompts``.)
        n_train / n_test: official split sizes (over all classes).
        train_window: length L (segments) of the random training crop used by PAMFN/GDLT-style training.
        long_term: True for minutes-long routines, False for short actions (MTL-AQA diving).
        real_labels_shipped: True when the real labels and split ship with the package (RG, Fis-V, and
            MTL-AQA with its commentary), so the synthetic default is label-faithful.
        prompts: name of MLAVL's prompt set for this sport (``RG``, ``FS``, ``LOGO``) or None.
    """

    name: str
    title: str
    targets: tuple[str, ...]
    score_column: dict[str, str]
    norm: dict[str, float]
    modalities: dict[str, int]
    n_train: int
    n_test: int
    train_window: int
    long_term: bool = True
    real_labels_shipped: bool = False
    target_class: dict[str, str] = field(default_factory=dict)
    norm_conventions: dict[str, dict[str, float]] = field(default_factory=dict)
    prompts: str | None = None
    text_dim: int = 0

    def check_target(self, target: str) -> str:
        """Return ``target`` if valid, else raise a ValueError listing the valid ones."""
        if target not in self.targets:
            raise ValueError(
                f"Unknown target {target!r} for dataset {self.name!r}; valid targets: "
                f"{', '.join(self.targets)}."
            )
        return target

    def norm_for(self, target: str, convention: str | float | None = None) -> float:
        """Normalisation constant for ``target`` under a paper's convention (None = this spec's default)."""
        self.check_target(target)
        if convention is None or convention == "default":
            return float(self.norm[target])
        if isinstance(convention, (int, float)):
            if not convention > 0:
                raise ValueError(f"A numeric normalisation constant must be positive, got {convention}.")
            return float(convention)
        if convention not in self.norm_conventions:
            valid = ", ".join(["default", *self.norm_conventions]) or "default"
            raise ValueError(
                f"Unknown normalisation convention {convention!r} for {self.name!r}; valid: {valid}, "
                "or a positive number."
            )
        return float(self.norm_conventions[convention].get(target, self.norm[target]))


RG_APPARATUS = ("Ball", "Clubs", "Hoop", "Ribbon")
MTL_AQA_CLIPS = 10
"""Clip features per MTL-AQA dive. VATP-Net "extract[s] 103 clips" following CoRe, whose I3D reads the 103
frames ending at a dive's end frame as ten overlapping 16-frame clips (starting at frames 0, 10, ..., 80,
87): we read "103 clips" as those 103 frames, so T = 10 (details in :mod:`aqa_lib.data.mtlaqa`)."""
MTL_AQA_EXECUTION_MAX = 30.0
"""Largest MTL-AQA execution score (three judges' awards of at most 10). The two protocols of VATP-Net's
Table IX (and CoRe, MUSDL) on the same labels ``final_score / 110``:

* *without DD*: the model regresses the label;
* *with DD*: the model reads the difficulty degree (``Split.extras["dd"]``, in every batch as
  ``batch.extras["dd"]``; name it in ``batch_inputs``), predicts the execution score as a fraction ``e`` of
  this maximum, and returns ``e * dd * MTL_AQA_EXECUTION_MAX / norm``, a prediction of the label itself, so
  the engine's losses, metrics and de-normalisation (``x norm``) apply unchanged.
  ``Split.extras["execution"]`` = ``final_score / dd`` is that execution score (up to the release's rounding)."""
FS1000_SCORES = ("TES", "PCS", "SS", "TR", "PE", "CO", "IN")

DATASETS: dict[str, DatasetSpec] = {
    "rg": DatasetSpec(
        name="rg",
        title="Rhythmic Gymnastics (RG)",
        targets=RG_APPARATUS,
        target_class={a: a for a in RG_APPARATUS},
        score_column={a: "Total_Score" for a in RG_APPARATUS},
        norm={a: 25.0 for a in RG_APPARATUS},
        modalities={"rgb": 1024, "flow": 1024, "audio": 768},
        n_train=800,
        n_test=200,
        train_window=70,
        real_labels_shipped=True,
        prompts="RG",
    ),
    "fisv": DatasetSpec(
        name="fisv",
        title="Fis-V",
        targets=("TES", "PCS"),
        score_column={"TES": "TES", "PCS": "PCS"},
        # PAMFN / LMAC-Net normalise both by 45; MLAVL's supplementary uses 45 (TES) and 40 (PCS).
        norm={"TES": 45.0, "PCS": 45.0},
        norm_conventions={"mlavl": {"TES": 45.0, "PCS": 40.0}},
        modalities={"rgb": 1024, "flow": 1024, "audio": 768},
        n_train=400,
        n_test=100,
        train_window=130,
        real_labels_shipped=True,
        prompts="FS",
    ),
    "fs1000": DatasetSpec(
        name="fs1000",
        title="FS1000",
        targets=FS1000_SCORES,
        score_column={s: s for s in FS1000_SCORES},
        norm={"TES": 130.0, "PCS": 60.0, "SS": 10.0, "TR": 10.0, "PE": 10.0, "CO": 10.0, "IN": 10.0},
        # MLAVL / Skating-Mixer: TimeSformer visual (768-d) + AST audio (768-d).
        modalities={"rgb": 768, "audio": 768},
        n_train=1000,
        n_test=247,
        train_window=130,
        prompts="FS",
    ),
    "logo": DatasetSpec(
        name="logo",
        title="LOGO (artistic swimming)",
        targets=("score",),
        score_column={"score": "score"},
        norm={"score": 100.0},
        modalities={"rgb": 1024},
        n_train=150,
        n_test=50,
        train_window=160,
        prompts="LOGO",
    ),
    "mtl_aqa": DatasetSpec(
        name="mtl_aqa",
        title="MTL-AQA (diving)",
        targets=("score",),
        score_column={"score": "score"},
        # Final diving scores lie in [0, 104.5]. Labels are score / 110 under both protocols; "with DD" is a
        # model that multiplies its execution prediction by extras["dd"] (see MTL_AQA_EXECUTION_MAX).
        norm={"score": 110.0},
        # I3D, one 1024-d feature per 16-frame clip, 10 clips per dive (MTL_AQA_CLIPS).
        modalities={"rgb": 1024},
        # Commentary token features from the project's text encoder (all-MiniLM-L6-v2, 384-d; VATP-Net used
        # BERT, 768-d). A callable encoder passed to load() gives its own width.
        text_dim=384,
        n_train=1059,
        n_test=353,
        train_window=MTL_AQA_CLIPS,
        long_term=False,
        real_labels_shipped=True,
    ),
    "finefs": DatasetSpec(
        name="finefs",
        title="FineFS",
        targets=("SP-TES", "SP-PCS", "FS-TES", "FS-PCS"),
        target_class={"SP-TES": "SP", "SP-PCS": "SP", "FS-TES": "FS", "FS-PCS": "FS"},
        score_column={"SP-TES": "TES", "SP-PCS": "PCS", "FS-TES": "TES", "FS-PCS": "PCS"},
        norm={"SP-TES": 80.0, "SP-PCS": 50.0, "FS-TES": 140.0, "FS-PCS": 100.0},
        modalities={"rgb": 1024},
        # VATP-Net Sec. IV: 729 SP + 438 FS samples, each program split 4:1 and trained separately:
        # SP 583 / 146, FS 350 / 88 (what the synthetic default generates; 934 / 233 split the total instead).
        n_train=933,
        n_test=234,
        train_window=130,
        prompts="FS",
    ),
}


def get_spec(dataset: str) -> DatasetSpec:
    """Return the spec of ``dataset`` or raise a ValueError listing the known datasets."""
    key = dataset.lower().replace("-", "_")
    if key not in DATASETS:
        raise ValueError(f"Unknown dataset {dataset!r}; valid datasets: {', '.join(DATASETS)}.")
    return DATASETS[key]
