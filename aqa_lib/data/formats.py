"""Readers for the real released feature formats, and :func:`load_real`, the real-data loader.

A user points ``data_root`` at their copy of a released feature set; :func:`load_real` finds the label
files, reads the features of one target's train and test videos, checks every array and returns an
:class:`~aqa_lib.data.core.AQAData` (``source="real"``). Nothing here reads a fixed path: every location
comes from the arguments.

Layouts
-------
Three released layouts are read. Facts are from the official code, read for facts only (repository and
path given for each); ``shared/data/README.md`` summarises them.

``pamfn`` -- one pickled dict per dataset part and modality (PAMFN release; RG and Fis-V)
    Files ``{data_root}/{part}_{modality}_{extractor}.npy`` with ``part`` in ``Ball``, ``Clubs``, ``Hoop``,
    ``Ribbon`` (RG: the part is the target apparatus) or ``FISV`` (Fis-V), ``modality`` in ``rgb``,
    ``flow``, ``audio`` and ``extractor`` ``VST`` / ``I3D`` / ``AST`` (PAMFN's feature set 1; its feature
    set 2 is ``UMT`` / ``I3D`` / ``MAST``, also accepted, set 1 preferred when both are present). Each file
    is ``np.save`` of a dict: ``np.load(path, allow_pickle=True).item()`` gives
    ``{video_name: array [T, D]}`` (dims RGB 1024, flow 1024, audio 768; an RGB array may be
    ``[T, k, D]`` and is averaged over the k crops). Sources: ``qinghuannn/PAMFN`` ``datasets.py``
    (``read_data`` builds ``f"{name}_rgb_{rgb_feat}.npy"`` etc. and maps TES/PCS to ``FISV``; the videos
    are indexed with ``line[0]`` of the label file, i.e. the **string** name: ``"Ball_001"`` for RG,
    ``"1"`` .. ``"500"`` for Fis-V; ``squeeze_dim`` averages 3-D RGB over axis 1), ``configs/*_feats{1,2}.py``
    (extractor names and ``in_dim``), ``main.py`` (``--feat_dir`` defaults to ``./data/features``).
    Dict keys are compared as text, so integer keys (``1``) also match the Fis-V id ``"1"``.

    Label files: ``train.txt`` / ``test.txt``. PAMFN's ``build`` reads them from ``./data/RG/`` and
    ``./data/FISV/``, i.e. ``{data_root}/../RG/`` or ``{data_root}/../FISV/`` relative to the features;
    the RG files have the header ``Video_Name Difficulty_Score Execution_Score Total_Score Penalty
    Video_length`` (PAMFN skips line 0), the Fis-V files are headerless ``id TES PCS deductions``.
    Other redistributions (``XuHuangbiao/LIMSSR`` ``README.md``) put them in the features' parent folder
    (``RG/RG-feature/*.npy`` with ``RG/train.txt``).

    Lengths: PAMFN does not reconcile modality lengths explicitly; its training crop slices every
    modality with the window chosen on the RGB length (``__getitem__``), which silently truncates a shorter
    modality. Here :func:`~aqa_lib.data.core.align_lengths` truncates to the shortest within the documented
    tolerance and raises beyond it.

``gdlt`` -- one file per video (GDLT release; RG and Fis-V, RGB only)
    Files ``{data_root}/{video_name}.npy``, each an array ``[T, 1024]`` (Video Swin Transformer, one row
    per 32-frame segment): ``Ball_001.npy`` ... for RG, ``1.npy`` ... ``500.npy`` for Fis-V. Source:
    ``xuangch/CVPR22_GDLT`` ``datasets.py`` (``np.load(os.path.join(video_path, name + '.npy'))``) and
    ``options.py`` (features in ``rg_feat/swintx_avg_fps25_clip32/``, labels ``rg_feat/train.txt`` /
    ``rg_feat/test.txt``: the label files sit in the features' parent folder). Any float dtype is accepted
    (the project's shipped Fis-V copies are float16) and converted to float32.

``fs1000`` -- one file per video and modality (FS1000 / Skating-Mixer release)
    Folders under ``data_root``: ``output_feature_fs1000_new/{video_name}.npy`` -- TimeSformer visual
    features stored as ``[T, k, 768]`` (averaged over ``k`` on load; a 2-D ``[T, 768]`` file is accepted as
    is) -- and ``ast_feature_fs1000_new/{video_name}.npy`` -- AST audio features ``[T, 768]``. Video names
    look like ``2018_Final_MF_Junhwan``. Labels: ``train_fs1000_new.txt`` / ``val_fs1000_new.txt``
    (headerless ``name TES PCS SS TR PE CO IN factor``, PCS divided by ``factor``; see
    :mod:`aqa_lib.data.labels`). Sources: ``XuHuangbiao/MLAVL`` ``options.py`` (default paths
    ``../FS1000/output_feature_fs1000_new``, ``../FS1000/ast_feature_fs1000_new``,
    ``../FS1000/train_fs1000_new.txt``, ``../FS1000/val_fs1000_new.txt``; ``in_dim`` 768) and
    ``datasets.py`` (``video_feat.mean(1)``: the visual file is 3-D; audio is used as ``[T, 768]``;
    both cropped with the same window); ``XuHuangbiao/LIMSSR`` ``README.md`` (the same folder and label
    names, example file ``2018_Final_MF_Junhwan.npy``); ``AndyFrancesco29/Audio-Visual-Figure-Skating``
    ``dataset/dataset_fs800.py`` (the Skating-Mixer loader: older label names ``train_fs800.txt`` /
    ``val_fs800.txt``, per-video ``{name}.npy`` for audio and video; audio and video lengths of a video can
    differ -- its ``__main__`` counts them -- and ``model.py`` uses the shorter of the two).

    Not established from the sources: the size of the visual token axis ``k`` (irrelevant: it is averaged)
    and the exact folder names inside the Baidu-disk archive the Skating-Mixer README links to (the names
    above are the ones the official MLAVL defaults use; ``Timesformer_output_feature_fs800``, a name seen
    in third-party copies of the Skating-Mixer loader, is accepted as a second choice for the visual
    folder). Other folder names can be given with ``feature_dirs``. Both label-file pairs above are tried,
    then ``train.txt`` / ``test.txt``. The official split sizes (1000 / 247 in the registry) are not
    enforced: the label files decide.

Label files are looked for in ``label_root`` when given (only there), else in ``data_root``, then its
parent, then (``pamfn``) ``{parent}/RG`` or ``{parent}/FISV``. When none are found and the dataset's real
labels ship with the package (RG, Fis-V), the packaged official split is used and the provenance says so.

``layout="auto"`` detects the layout from the files present: ``pamfn`` when a ``{part}_{modality}_{X}.npy``
file exists, ``fs1000`` when one of the FS1000 feature folders exists, ``gdlt`` when other ``.npy`` files
lie directly in ``data_root``; it raises :class:`~aqa_lib.data.core.DataError` when none or more than one
layout usable for the dataset is found.

Security note: the ``pamfn`` layout is a pickle (``allow_pickle=True``); load only files you trust.

MTL-AQA labels, split and commentary (VATP-Net's diving data)
--------------------------------------------------------------
No MTL-AQA video features are read here (the papers extract I3D features from the frames themselves; see
:mod:`aqa_lib.data.mtlaqa` for the clip protocol), only the labels, the official split and the live TV
commentary, in two layouts. Both give the same :class:`MTLAQARelease` (:func:`load_mtlaqa_release`):

``text`` -- the plain-text conversion shipped with this package (``package_data/mtlaqa/``, read by
    :func:`packaged_mtlaqa`) and kept in ``shared/data/mtlaqa/``; values unchanged from the release's pickles:

    * ``annotations.csv``: header ``video,clip,primary_view,start_frame,end_frame,position,difficulty,
      armstand,rotation_type,ss_no,tw_no,final_score`` (CRLF line ends in the conversion; either is read),
      one row per sample ``(video, clip)``; ``difficulty`` is the difficulty degree DD;
    * ``train.txt`` / ``test.txt``: header ``video clip``, then one ``video clip`` pair per line (split 0,
      1,059 / 353 samples);
    * ``captions.jsonl`` (or gzip-compressed ``captions.jsonl.gz``, as shipped): one JSON object
      ``{"video": int, "clip": int, "tokens": [str, ...]}`` per line, the tokenised commentary of a sample,
      starting with ``<sos>`` and ending with ``<eos>``. The conversion has 1,416 lines: 4 samples
      ((1, 64), (17, 72), (17, 149), (26, 92)) have commentary but no annotation and are not in the split;
      they are ignored.

``pickle`` -- the original release (``ParitoshParmar/MTL-AQA``, folder ``MTL-AQA_dataset_release/Ready_2_Use``;
    read for facts: its ``data_loader.py`` loads ``final_annotations_dict.pkl``, ``train_split_0.pkl`` /
    ``test_split_0.pkl`` and, with captions, ``final_captions_dict.pkl``):

    * ``final_annotations_dict.pkl``: a dict ``{(video, clip): {field: value}}`` with the fields above
      (other fields, e.g. ``judge_scores`` in CoRe's ``augmented_final_annotations_dict.pkl``, are
      ignored; that file name is accepted as a second choice);
    * ``train_split_0.pkl`` / ``test_split_0.pkl``: a list of ``(video, clip)`` tuples;
    * ``final_captions_dict.pkl`` (optional): ``{(video, clip): [token, ...]}``.

    The pickles are read by a restricted unpickler (:func:`read_restricted_pickle`) that builds only plain
    Python values (dict, list, tuple, set, str, int, float, ...) and NumPy scalars / arrays (their
    reconstruction runs no code); any other global in the file (a class, a function such as
    ``os.system``) stops the read with a :class:`~aqa_lib.data.core.DataError` before it is called.

Sample names are ``f"{video:02d}_{clip:02d}"`` (``"01_01"``, ``"17_164"``), the frame-folder names of
CoRe-style MTL-AQA copies. Every check (header, numbers, NaN, codes out of range, ``end_frame <=
start_frame``, duplicates, split entries without an annotation, a sample in both splits, missing
commentary) raises a DataError naming the file, the line or sample and the fix.
"""

from __future__ import annotations

import builtins
import functools
import gzip
import hashlib
import io
import json
import pickle
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..cache import sampled_file_digest
from ..paths import PACKAGE_DATA
from .core import AQAData, DataError, Split, align_lengths, check_features, normalise_labels
from .labels import read_labels
from .registry import RG_APPARATUS, DatasetSpec

LAYOUTS = ("pamfn", "gdlt", "fs1000")
"""Valid values of ``layout`` (besides ``"auto"``)."""

LAYOUT_DATASETS: dict[str, tuple[str, ...]] = {
    "pamfn": ("rg", "fisv"),
    "gdlt": ("rg", "fisv"),
    "fs1000": ("fs1000",),
}
"""Datasets each layout is released for."""

LAYOUT_TITLES = {
    "pamfn": "PAMFN pickled-dict format",
    "gdlt": "GDLT per-video format",
    "fs1000": "FS1000 / Skating-Mixer per-video format",
}

PAMFN_PARTS = (*RG_APPARATUS, "FISV")
PAMFN_EXTRACTORS: dict[str, tuple[str, ...]] = {
    "rgb": ("VST", "UMT"),
    "flow": ("I3D",),
    "audio": ("AST", "MAST"),
}
"""Extractor names in PAMFN file names per modality, preferred first (feature set 1, then set 2)."""
PAMFN_LABEL_DIRS = {"rg": "RG", "fisv": "FISV"}
_PAMFN_FILE = re.compile(r"^(Ball|Clubs|Hoop|Ribbon|FISV)_(rgb|flow|audio)_([A-Za-z0-9]+)\.npy$")

FS1000_FEATURE_DIRS: dict[str, tuple[str, ...]] = {
    "rgb": ("output_feature_fs1000_new", "Timesformer_output_feature_fs800"),
    "audio": ("ast_feature_fs1000_new",),
}
"""Candidate folder names per FS1000 modality, preferred first (see the module docstring)."""

LABEL_FILES: dict[str, tuple[tuple[str, str], ...]] = {
    "pamfn": (("train.txt", "test.txt"),),
    "gdlt": (("train.txt", "test.txt"),),
    "fs1000": (
        ("train_fs1000_new.txt", "val_fs1000_new.txt"),
        ("train_fs800.txt", "val_fs800.txt"),
        ("train.txt", "test.txt"),
    ),
}
"""Label-file name pairs (train, test) tried per layout, in order."""

DATASET_SHORT = {"rg": "RG", "fisv": "Fis-V", "fs1000": "FS1000"}
MODALITY_WORDS = {"rgb": "RGB", "flow": "flow", "audio": "audio"}
_FIRST_FEW = 5

# Columns that duplicate the score column under another name (labels.py adds the released name as alias).
_SCORE_ALIASES = {"rg": {"total", "Total_Score"}}
_NON_SCORE_COLUMNS = {"name", "apparatus"}


@dataclass
class _Labels:
    train: pd.DataFrame
    test: pd.DataFrame
    files: list[str]
    contents: list[bytes]
    packaged: bool


@dataclass
class _Source:
    """Where one modality's features come from."""

    modality: str
    path: Path  # the dict file (pamfn) or the per-video folder (gdlt, fs1000)
    extractor: str  # e.g. "VST"; used in the provenance
    per_video: bool


# ---------------------------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------------------------


def load_real(
    spec: DatasetSpec,
    target: str,
    data_root: str | Path,
    *,
    layout: str = "auto",
    modalities: Sequence[str] | None = None,
    norm: str | float | None = None,
    label_root: str | Path | None = None,
    with_prompts: bool = False,
    feature_dirs: Mapping[str, str] | None = None,
) -> AQAData:
    """Load one target of a dataset from its released features under ``data_root``.

    Args:
        spec: the dataset's :class:`~aqa_lib.data.registry.DatasetSpec` (``get_spec("fisv")``).
        target: a target of ``spec`` (RG: the apparatus, whose videos alone are loaded; Fis-V / FS1000: the
            score column, all videos).
        data_root: the folder of the released features (see the module docstring per layout).
        layout: ``"auto"`` (detect from the files present) or one of :data:`LAYOUTS`.
        modalities: modalities to load; ``None`` loads every modality whose files are present.
        norm: normalisation convention passed to :meth:`DatasetSpec.norm_for` (labels = scores / norm).
        label_root: folder of the label files, when they are not beside the features.
        with_prompts: also load MLAVL's prompt set for the sport into ``AQAData.prompts``.
        feature_dirs: ``fs1000`` only: folder name per modality (relative to ``data_root``) overriding
            :data:`FS1000_FEATURE_DIRS`, e.g. ``{"rgb": "timesformer", "audio": "ast"}``.

    Raises:
        ValueError: unknown target, modality or normalisation convention (lists the valid ones).
        DataError: any problem with the files; the message names the file or video and the fix.
    """
    spec.check_target(target)
    norm_value = spec.norm_for(target, norm)
    if modalities is not None:
        modalities = list(modalities)
        unknown = [m for m in modalities if m not in spec.modalities]
        if unknown:
            raise ValueError(
                f"Unknown modalities {unknown} for {spec.name!r}; valid: {', '.join(spec.modalities)}."
            )
        if not modalities:
            raise ValueError("modalities is empty; pass None to load every available modality.")
    root = _check_root(data_root)
    layout = resolve_layout(spec, root, layout, feature_dirs=feature_dirs)

    labels = _find_labels(spec, layout, root, label_root)
    train_df = _select_target(spec, target, labels.train, labels.files[0])
    test_df = _select_target(spec, target, labels.test, labels.files[1])

    sources = _sources(spec, target, layout, root, feature_dirs)
    chosen = _choose_modalities(spec, target, layout, root, sources, modalities, feature_dirs)

    names = {"train": train_df["name"].tolist(), "test": test_df["name"].tolist()}
    features, files_used = _read_features(spec, layout, chosen, names)
    n_aligned = 0
    for split in ("train", "test"):
        n_aligned += _align(features[split], names[split])

    splits = {
        split: _make_split(spec, target, df, features[split], norm_value)
        for split, df in (("train", train_df), ("test", test_df))
    }
    prompts = None
    if with_prompts and spec.prompts:
        from .text import load_prompts

        prompts = load_prompts(spec.prompts)

    mods = [s.modality for s in chosen]
    provenance = _provenance(spec, target, layout, root, chosen, splits, labels)
    fingerprint = _fingerprint(layout, spec.name, target, mods, norm_value, labels.contents, files_used)
    meta = {
        "data_root": str(root),
        "layout": layout,
        "label_files": labels.files,
        "labels_packaged": labels.packaged,
        "feature_sources": {s.modality: str(s.path) for s in chosen},
        "extractors": {s.modality: s.extractor for s in chosen},
        "n_length_aligned": n_aligned,
    }
    return AQAData(
        dataset=spec.name,
        target=target,
        source="real",
        norm=norm_value,
        modalities={m: spec.modalities[m] for m in mods},
        train=splits["train"],
        test=splits["test"],
        provenance=provenance,
        fingerprint=fingerprint,
        prompts=prompts,
        meta=meta,
    )


def detect_layouts(root: str | Path, *, feature_dirs: Mapping[str, str] | None = None) -> list[str]:
    """Layouts whose files are present directly under ``root`` (in :data:`LAYOUTS` order)."""
    root = Path(root)
    npy = [p for p in root.iterdir() if p.is_file() and p.suffix == ".npy"]
    found = []
    if any(_PAMFN_FILE.match(p.name) for p in npy):
        found.append("pamfn")
    if any(not _PAMFN_FILE.match(p.name) for p in npy):
        found.append("gdlt")
    dirs = _fs1000_dir_candidates(feature_dirs)
    if any((root / d).is_dir() for cands in dirs.values() for d in cands):
        found.append("fs1000")
    return found


def resolve_layout(
    spec: DatasetSpec,
    root: str | Path,
    layout: str = "auto",
    *,
    feature_dirs: Mapping[str, str] | None = None,
) -> str:
    """Check an explicit ``layout`` against the dataset, or detect it (``"auto"``)."""
    root = Path(root)
    if layout != "auto" and layout not in LAYOUTS:
        raise DataError(f"Unknown layout {layout!r}; valid layouts: auto, {', '.join(LAYOUTS)}.")
    usable = [lay for lay in LAYOUTS if spec.name in LAYOUT_DATASETS[lay]]
    if not usable:
        supported = sorted({d for ds in LAYOUT_DATASETS.values() for d in ds})
        labels_only = (
            " Its real labels, split and commentary are read by aqa_lib.data.formats.load_mtlaqa_release and "
            "ship with the synthetic default." if spec.name == "mtl_aqa" else ""
        )
        raise DataError(
            f"No released feature format is supported for dataset {spec.name!r} yet; real data can be loaded "
            f"for {', '.join(supported)}. Use the synthetic default for {spec.name!r}.{labels_only}"
        )
    if layout != "auto":
        if layout not in usable:
            raise DataError(
                f"Layout {layout!r} is not a release format of {spec.name!r}; use one of {', '.join(usable)}."
            )
        return layout
    found = detect_layouts(root, feature_dirs=feature_dirs)
    candidates = [lay for lay in found if lay in usable]
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        extra = (
            f" (found files of the {', '.join(found)} layout, not released for {spec.name!r})"
            if found
            else ""
        )
        raise DataError(
            f"No feature files of a known layout in {root}{extra}. Expected for {spec.name!r}: "
            + "; ".join(_layout_hint(lay, spec) for lay in usable)
            + ". Point data_root at the feature folder or pass layout= explicitly."
        )
    raise DataError(
        f"{root} holds files of several layouts ({', '.join(candidates)}); the layout is ambiguous. Pass "
        "layout= explicitly or move the other files away."
    )


# ---------------------------------------------------------------------------------------------------------
# Locations and labels
# ---------------------------------------------------------------------------------------------------------


def _check_root(data_root: str | Path | None) -> Path:
    if data_root is None or str(data_root) == "":
        raise DataError("data_root is empty: pass the folder holding the released features.")
    root = Path(data_root).expanduser()
    if not root.exists():
        raise DataError(f"data_root {root} does not exist. Pass the folder holding the released features.")
    if not root.is_dir():
        raise DataError(f"data_root {root} is a file, not a folder. Pass the folder holding the features.")
    return root


def _layout_hint(layout: str, spec: DatasetSpec) -> str:
    if layout == "pamfn":
        return "pamfn: {part}_{rgb|flow|audio}_{VST|I3D|AST}.npy (part Ball/Clubs/Hoop/Ribbon or FISV)"
    if layout == "gdlt":
        return "gdlt: one {video_name}.npy per video"
    return "fs1000: folders " + ", ".join(f"{d[0]}/" for d in FS1000_FEATURE_DIRS.values())


def _label_dirs(spec: DatasetSpec, layout: str, root: Path, label_root: str | Path | None) -> list[Path]:
    if label_root is not None:
        return [Path(label_root).expanduser()]
    dirs = [root, root.parent]
    if layout == "pamfn":
        dirs.append(root.parent / PAMFN_LABEL_DIRS[spec.name])
    return dirs


def _find_labels(spec: DatasetSpec, layout: str, root: Path, label_root: str | Path | None) -> _Labels:
    dirs = _label_dirs(spec, layout, root, label_root)
    pairs = LABEL_FILES[layout]
    if label_root is not None and not dirs[0].is_dir():
        raise DataError(f"label_root {dirs[0]} is not a folder. Pass the folder holding the label files.")
    for folder in dirs:
        for train_name, test_name in pairs:
            train_path, test_path = folder / train_name, folder / test_name
            if train_path.is_file() or test_path.is_file():
                missing = test_path if train_path.is_file() else train_path
                if not missing.is_file():
                    raise DataError(
                        f"Found {train_path if train_path.is_file() else test_path} but not {missing}. Both "
                        "label files of the official split are needed; copy the missing one from the release."
                    )
                return _Labels(
                    train=read_labels(train_path, spec.name),
                    test=read_labels(test_path, spec.name),
                    files=[str(train_path), str(test_path)],
                    contents=[train_path.read_bytes(), test_path.read_bytes()],
                    packaged=False,
                )
    names = " / ".join(f"{a} + {b}" for a, b in pairs)
    where = ", ".join(str(d) for d in dirs)
    if label_root is None and spec.real_labels_shipped and spec.name in PAMFN_LABEL_DIRS:
        from .labels import packaged_labels

        paths = [PACKAGE_DATA / spec.name / f"{s}.txt" for s in ("train", "test")]
        return _Labels(
            train=packaged_labels(spec.name, "train"),
            test=packaged_labels(spec.name, "test"),
            files=[f"packaged:{spec.name}/train.txt", f"packaged:{spec.name}/test.txt"],
            contents=[p.read_bytes() for p in paths],
            packaged=True,
        )
    raise DataError(
        f"No label files ({names}) for {spec.name!r} in {where}. Pass label_root= pointing at the folder "
        "with the released label files."
    )


def _select_target(spec: DatasetSpec, target: str, frame: pd.DataFrame, path: str) -> pd.DataFrame:
    if spec.name == "rg":
        frame = frame[frame["apparatus"] == target]
    frame = frame.reset_index(drop=True)
    if frame.empty:
        raise DataError(
            f"{path}: no videos of target {target!r} (the split would be empty). Check that the label file "
            f"belongs to {spec.name!r} and lists {target} videos."
        )
    return frame


# ---------------------------------------------------------------------------------------------------------
# Feature sources
# ---------------------------------------------------------------------------------------------------------


def _fs1000_dir_candidates(feature_dirs: Mapping[str, str] | None) -> dict[str, tuple[str, ...]]:
    dirs = dict(FS1000_FEATURE_DIRS)
    for m, d in (feature_dirs or {}).items():
        if m not in FS1000_FEATURE_DIRS:
            raise ValueError(
                f"feature_dirs: unknown FS1000 modality {m!r}; valid: {', '.join(FS1000_FEATURE_DIRS)}."
            )
        dirs[m] = (d,)
    return dirs


def _pamfn_part(spec: DatasetSpec, target: str) -> str:
    return target if spec.name == "rg" else "FISV"


def _sources(
    spec: DatasetSpec, target: str, layout: str, root: Path, feature_dirs: Mapping[str, str] | None
) -> dict[str, _Source]:
    """Modality -> source for every modality whose files are present."""
    out: dict[str, _Source] = {}
    if layout == "pamfn":
        part = _pamfn_part(spec, target)
        for m in spec.modalities:
            for ext in PAMFN_EXTRACTORS.get(m, ()):
                path = root / f"{part}_{m}_{ext}.npy"
                if path.is_file():
                    out[m] = _Source(m, path, ext, per_video=False)
                    break
    elif layout == "gdlt":
        if any(p.suffix == ".npy" for p in root.iterdir() if p.is_file()):
            out["rgb"] = _Source("rgb", root, "VST", per_video=True)
    else:
        names = {"rgb": "TimeSformer", "audio": "AST"}
        for m, cands in _fs1000_dir_candidates(feature_dirs).items():
            for d in cands:
                if (root / d).is_dir():
                    out[m] = _Source(m, root / d, names[m], per_video=True)
                    break
    return out


def _expected(
    spec: DatasetSpec,
    target: str,
    layout: str,
    root: Path,
    modality: str,
    feature_dirs: Mapping[str, str] | None,
) -> str:
    if layout == "pamfn":
        part = _pamfn_part(spec, target)
        return " or ".join(str(root / f"{part}_{modality}_{e}.npy") for e in PAMFN_EXTRACTORS[modality])
    if layout == "gdlt":
        return (
            f"{root}/{{video_name}}.npy" if modality == "rgb" else "(none: the GDLT release holds RGB only)"
        )
    return " or ".join(f"{root / d}/" for d in _fs1000_dir_candidates(feature_dirs)[modality])


def _choose_modalities(
    spec: DatasetSpec,
    target: str,
    layout: str,
    root: Path,
    sources: dict[str, _Source],
    modalities: list[str] | None,
    feature_dirs: Mapping[str, str] | None,
) -> list[_Source]:
    if modalities is None:
        if not sources:
            hints = "; ".join(
                f"{m}: {_expected(spec, target, layout, root, m, feature_dirs)}"
                for m in spec.modalities
                if layout != "gdlt" or m == "rgb"
            )
            raise DataError(
                f"No feature files for {spec.name!r} target {target!r} in {root} ({LAYOUT_TITLES[layout]}). "
                f"Expected {hints}."
            )
        return [sources[m] for m in spec.modalities if m in sources]
    missing = [m for m in modalities if m not in sources]
    if missing:
        details = "; ".join(f"{m}: {_expected(spec, target, layout, root, m, feature_dirs)}" for m in missing)
        raise DataError(
            f"Requested modalities {missing} have no feature files in {root} ({LAYOUT_TITLES[layout]}); "
            "expected "
            f"{details}. Add the files or leave those modalities out (available: {list(sources) or 'none'})."
        )
    return [sources[m] for m in spec.modalities if m in modalities]


# ---------------------------------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------------------------------


def _missing_error(what: str, missing: list[str], total: int, fix: str) -> DataError:
    first = ", ".join(repr(n) for n in missing[:_FIRST_FEW])
    more = f" and {len(missing) - _FIRST_FEW} more" if len(missing) > _FIRST_FEW else ""
    return DataError(f"{what}: {len(missing)} of {total} videos missing ({first}{more}). {fix}")


def _load_npy(path: Path) -> np.ndarray:
    try:
        return np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise DataError(
            f"Cannot read feature file {path} as a NumPy array ({exc}). Re-download or re-extract it."
        ) from exc


def load_pamfn_dict(path: str | Path) -> dict[str, np.ndarray]:
    """Read one PAMFN pickled dict file; keys are returned as text (``1`` -> ``"1"``)."""
    path = Path(path)
    try:
        obj = np.load(path, allow_pickle=True)
    except (ValueError, OSError, EOFError) as exc:
        raise DataError(f"Cannot read {path} ({exc}). Re-download the PAMFN feature file.") from exc
    if isinstance(obj, np.lib.npyio.NpzFile):
        obj.close()
        raise DataError(
            f"{path} is an .npz archive, not a pickled dict {{video_name: array}} (PAMFN format)."
        )
    if isinstance(obj, np.ndarray) and obj.dtype == object and obj.shape == ():
        obj = obj.item()
    if not isinstance(obj, dict):
        kind = f"an array of shape {obj.shape}" if isinstance(obj, np.ndarray) else type(obj).__name__
        raise DataError(
            f"{path} holds {kind}, not a pickled dict {{video_name: array [T, D]}} as in the PAMFN release. "
            "For one-file-per-video features use layout='gdlt'."
        )
    out: dict[str, np.ndarray] = {}
    for key, value in obj.items():
        name = (
            key.decode()
            if isinstance(key, bytes)
            else str(int(key))
            if isinstance(key, np.integer)
            else str(key)
        )
        if name in out:
            raise DataError(
                f"{path}: video {name!r} appears twice among the dict keys (as {key!r} and another)."
            )
        out[name] = value
    return out


def _read_features(
    spec: DatasetSpec, layout: str, chosen: list[_Source], names: dict[str, list[str]]
) -> tuple[dict[str, dict[str, list[np.ndarray]]], list[tuple[str, str]]]:
    """Features per split and modality (checked, float32), and (file name, sampled content hash) of every
    file read."""
    all_names = names["train"] + names["test"]
    features: dict[str, dict[str, list[np.ndarray]]] = {"train": {}, "test": {}}
    files: list[tuple[str, str]] = []
    for src in chosen:
        dim = spec.modalities[src.modality]
        word = MODALITY_WORDS[src.modality]
        fix = (
            f"The {word} features must be {src.extractor} {dim}-d ({LAYOUT_TITLES[layout]}); check that this "
            "file belongs to that release."
        )
        if src.per_video:
            paths = {n: src.path / f"{n}.npy" for n in all_names}
            missing = [n for n, p in paths.items() if not p.is_file()]
            if missing:
                raise _missing_error(
                    f"{src.path}: {word} feature files",
                    missing,
                    len(all_names),
                    f"Expected one {{video_name}}.npy per video of the label file in {src.path}; copy the "
                    "missing files from the release or remove those videos from the label file.",
                )
            for split in ("train", "test"):
                arrays = []
                for n in names[split]:
                    p = paths[n]
                    arrays.append(check_features(_load_npy(p), dim=dim, what=f"{p} (video {n!r})", fix=fix))
                    files.append((f"{src.path.name}/{p.name}", sampled_file_digest(p)))
                features[split][src.modality] = arrays
        else:
            table = load_pamfn_dict(src.path)
            files.append((src.path.name, sampled_file_digest(src.path)))
            missing = [n for n in all_names if n not in table]
            if missing:
                raise _missing_error(
                    f"{src.path}",
                    missing,
                    len(all_names),
                    "The dict must be keyed by the label file's video names (e.g. 'Ball_001', or '1' for "
                    "Fis-V); check that the label files and the features belong to the same release.",
                )
            for split in ("train", "test"):
                features[split][src.modality] = [
                    check_features(table[n], dim=dim, what=f"{src.path} [video {n!r}]", fix=fix)
                    for n in names[split]
                ]
            del table
    return features, files


def _align(features: dict[str, list[np.ndarray]], names: list[str]) -> int:
    """Align modality lengths video by video in place; return how many videos were truncated."""
    if len(features) < 2:
        return 0
    n_aligned = 0
    mods = list(features)
    for i, name in enumerate(names):
        per = {m: features[m][i] for m in mods}
        if len({len(a) for a in per.values()}) > 1:
            n_aligned += 1
            per = align_lengths(per, video=name)
            for m in mods:
                features[m][i] = per[m]
    return n_aligned


def _make_split(
    spec: DatasetSpec, target: str, frame: pd.DataFrame, features: dict[str, list[np.ndarray]], norm: float
) -> Split:
    col = spec.score_column[target]
    scores = frame[col].to_numpy(dtype=np.float64)
    skip = _NON_SCORE_COLUMNS | _SCORE_ALIASES.get(spec.name, set()) | {col}
    extras = {c: frame[c].to_numpy(dtype=np.float64) for c in frame.columns if c not in skip}
    return Split(
        names=[str(n) for n in frame["name"]],
        features=features,
        scores=scores,
        labels=normalise_labels(scores, norm),
        extras=extras,
    )


# ---------------------------------------------------------------------------------------------------------
# Provenance and fingerprint
# ---------------------------------------------------------------------------------------------------------


def _provenance(
    spec: DatasetSpec,
    target: str,
    layout: str,
    root: Path,
    chosen: list[_Source],
    splits: dict[str, Split],
    labels: _Labels,
) -> str:
    what = DATASET_SHORT.get(spec.name, spec.title)
    if spec.name == "rg":
        what = f"{what} {target}"
    mods = " + ".join(f"{s.extractor} {MODALITY_WORDS[s.modality]}" for s in chosen)
    text = (
        f"REAL features: {what} {mods} ({LAYOUT_TITLES[layout]}) from {root} — "
        f"{len(splits['train'])} train / {len(splits['test'])} test"
    )
    if labels.packaged:
        text += " (labels: packaged official split)"
    return text


def _fingerprint(
    layout: str,
    dataset: str,
    target: str,
    modalities: list[str],
    norm: float,
    label_contents: list[bytes],
    files: list[tuple[str, str]],
) -> str:
    """Stable hash of what was loaded: the label files' contents and, per feature file, its name and a
    sampled content hash (:func:`aqa_lib.cache.sampled_file_digest`: size plus start, middle and end bytes)."""
    h = hashlib.sha256()
    head = {"layout": layout, "dataset": dataset, "target": target, "modalities": modalities, "norm": norm}
    h.update(json.dumps(head, sort_keys=True).encode())
    for content in label_contents:
        h.update(hashlib.sha256(content).digest())
    h.update(json.dumps(sorted(files)).encode())
    return h.hexdigest()[:16]


# ---------------------------------------------------------------------------------------------------------
# MTL-AQA: labels, official split and commentary (see the module docstring)
# ---------------------------------------------------------------------------------------------------------

MTLAQA_COLUMNS = ("video", "clip", "primary_view", "start_frame", "end_frame", "position", "difficulty",
                  "armstand", "rotation_type", "ss_no", "tw_no", "final_score")
"""Columns of ``annotations.csv`` in order (the fields of ``final_annotations_dict.pkl`` plus the key)."""
MTLAQA_FLOAT_COLUMNS = ("difficulty", "final_score")
MTLAQA_CODES: dict[str, tuple[int, ...]] = {
    "position": (0, 1, 2),
    "armstand": (0, 1),
    "rotation_type": (0, 1, 2, 3),
}
"""Valid codes of the categorical dive attributes. Their meaning is not documented in the release; read
from the difficulty degrees (FINA tables) of the dives that carry them: position 0 free, 1 pike, 2 tuck;
rotation_type 0 back, 1 forward, 2 inward, 3 reverse (e.g. DD 3.7 for rotation 1, tuck, ``ss_no`` 9 is
109C, a forward 4½ somersault tuck). ``ss_no`` / ``tw_no`` count half somersaults / half twists."""
MTLAQA_POSITIONS = ("free", "pike", "tuck")
MTLAQA_ROTATIONS = ("back", "forward", "inward", "reverse")
MTLAQA_LAYOUTS = ("text", "pickle")
MTLAQA_TEXT_FILES = {"annotations": "annotations.csv", "train": "train.txt", "test": "test.txt"}
MTLAQA_CAPTION_FILES = ("captions.jsonl", "captions.jsonl.gz")
MTLAQA_PICKLE_FILES = {"annotations": ("final_annotations_dict.pkl", "augmented_final_annotations_dict.pkl"),
                       "train": ("train_split_0.pkl",), "test": ("test_split_0.pkl",),
                       "captions": ("final_captions_dict.pkl",)}
MTLAQA_MARKERS = ("<sos>", "<eos>")
"""Start / end markers of every released commentary (added by the captioning release, not spoken)."""

_SAFE_BUILTINS = frozenset({"set", "frozenset", "complex", "bytearray", "bytes", "int", "float", "str", "list",
                            "tuple", "dict", "bool", "range", "slice"})
_SAFE_GLOBALS = frozenset({
    ("_codecs", "encode"),  # protocol-2 pickles write bytes as _codecs.encode(text, "latin1")
    ("numpy", "dtype"), ("numpy", "ndarray"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
})
"""Globals the restricted unpickler resolves besides the builtin value types (:data:`_SAFE_BUILTINS`):
building a NumPy scalar, dtype or array from its bytes runs no code of the file's choosing."""


def mtlaqa_name(video: int, clip: int) -> str:
    """The sample name of ``(video, clip)``: ``f"{video:02d}_{clip:02d}"``."""
    return f"{int(video):02d}_{int(clip):02d}"


@dataclass
class MTLAQARelease:
    """MTL-AQA labels, split and (optionally) commentary, read from either layout.

    Attributes:
        labels: one row per sample of the official split, train rows first, each part in its split file's
            order: ``name``, ``split`` (``"train"`` / ``"test"``) and every column of :data:`MTLAQA_COLUMNS`
            (integer codes as int64, ``difficulty`` and ``final_score`` as float64).
        captions: sample name -> commentary tokens as released (with ``<sos>`` / ``<eos>``), or None when
            the release read has no commentary file.
        files: the files read.
        layout: ``"text"`` or ``"pickle"`` (``"packaged"`` for the shipped copy).
    """

    labels: pd.DataFrame
    captions: dict[str, list[str]] | None
    files: list[str]
    layout: str

    def split(self, name: str) -> pd.DataFrame:
        """The rows of one split (``"train"`` or ``"test"``), index reset."""
        if name not in ("train", "test"):
            raise ValueError(f"Unknown split {name!r}; valid splits: train, test.")
        return self.labels[self.labels["split"] == name].reset_index(drop=True)

    def tokens(self, name: str) -> list[str]:
        """A sample's commentary tokens without the ``<sos>`` / ``<eos>`` markers."""
        if self.captions is None:
            raise DataError(
                f"This MTL-AQA release ({self.layout}: {', '.join(self.files)}) has no commentary. Add "
                "captions.jsonl (text layout) or final_captions_dict.pkl (pickle layout) beside the labels."
            )
        if name not in self.captions:
            raise DataError(f"No commentary for MTL-AQA sample {name!r}; the captions file lacks it.")
        return [t for t in self.captions[name] if t not in MTLAQA_MARKERS]


def _int_like(value: Any) -> bool:
    try:
        return float(value) == int(float(value))
    except (TypeError, ValueError, OverflowError):
        return False


def _mtlaqa_frame(rows: list[dict[str, Any]], where: Sequence[str], path: Path) -> pd.DataFrame:
    """Check annotation rows (``where[i]`` names row i in messages) and return them as a typed frame."""
    fix = ("Re-download or re-convert the MTL-AQA annotations (columns "
           f"{','.join(MTLAQA_COLUMNS)}; see aqa_lib.data.formats).")
    for row, at in zip(rows, where, strict=True):
        for col in MTLAQA_COLUMNS:
            value = row[col]
            try:
                number = float(value)
            except (TypeError, ValueError):
                raise DataError(f"{path}, {at}: column {col!r} is not a number ({value!r}). {fix}") from None
            if not np.isfinite(number):
                raise DataError(f"{path}, {at}: column {col!r} is {value!r} (NaN / Inf). {fix}")
            if col not in MTLAQA_FLOAT_COLUMNS and not _int_like(number):
                raise DataError(f"{path}, {at}: column {col!r} must be an integer, got {value!r}. {fix}")
        for col, codes in MTLAQA_CODES.items():
            if int(float(row[col])) not in codes:
                raise DataError(f"{path}, {at}: {col} = {row[col]!r} is not one of the release's codes "
                                f"{list(codes)}. {fix}")
        for col in ("ss_no", "tw_no", "start_frame", "video", "clip"):
            if float(row[col]) < 0:
                raise DataError(f"{path}, {at}: {col} = {row[col]!r} is negative. {fix}")
        if float(row["end_frame"]) <= float(row["start_frame"]):
            raise DataError(f"{path}, {at}: end_frame {row['end_frame']} is not after start_frame "
                            f"{row['start_frame']}; the dive would be empty. {fix}")
        if not float(row["difficulty"]) > 0:
            raise DataError(f"{path}, {at}: difficulty (DD) {row['difficulty']!r} must be positive. {fix}")
        if float(row["final_score"]) < 0:
            raise DataError(f"{path}, {at}: final_score {row['final_score']!r} is negative. {fix}")
    frame = pd.DataFrame({c: [float(r[c]) for r in rows] for c in MTLAQA_COLUMNS})
    for col in MTLAQA_COLUMNS:
        frame[col] = frame[col].astype(np.float64 if col in MTLAQA_FLOAT_COLUMNS else np.int64)
    frame.insert(0, "name", [mtlaqa_name(v, c) for v, c in zip(frame["video"], frame["clip"], strict=True)])
    dup = frame["name"].duplicated()
    if dup.any():
        raise DataError(f"{path}: sample {frame['name'][dup].iloc[0]!r} (video, clip) is annotated twice.")
    if frame.empty:
        raise DataError(f"{path}: no annotation rows. {fix}")
    return frame


def _read_text(path: Path, what: str) -> str:
    if not path.is_file():
        raise DataError(f"MTL-AQA {what} not found: {path}. Point the reader at the folder holding the release.")
    raw = path.read_bytes()
    if path.suffix == ".gz":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, ValueError) as exc:
            raise DataError(f"{path} is not a readable gzip file ({exc}); re-download or re-compress it.") from exc
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(f"{path} is not UTF-8 text ({exc}); is it a binary file?") from exc


def read_mtlaqa_annotations(path: str | Path) -> pd.DataFrame:
    """Read ``annotations.csv`` (text layout): one typed row per sample plus ``name``; checks every value."""
    path = Path(path)
    lines = [line.strip() for line in _read_text(path, "annotations file").splitlines()]
    lines = [line for line in lines if line]
    header = lines[0].split(",") if lines else []
    if [h.strip() for h in header] != list(MTLAQA_COLUMNS):
        got = lines[0] if lines else "(empty file)"
        raise DataError(f"{path}: header does not match the MTL-AQA annotations format. Expected "
                        f"'{','.join(MTLAQA_COLUMNS)}', got '{got}'.")
    rows, where = [], []
    for i, line in enumerate(lines[1:], start=2):
        fields = [f.strip() for f in line.split(",")]
        if len(fields) != len(MTLAQA_COLUMNS):
            raise DataError(f"{path}, line {i}: {len(fields)} fields, expected {len(MTLAQA_COLUMNS)} "
                            f"({','.join(MTLAQA_COLUMNS)}).")
        rows.append(dict(zip(MTLAQA_COLUMNS, fields, strict=True)))
        where.append(f"line {i}")
    return _mtlaqa_frame(rows, where, path)


def _check_keys(keys: list[tuple[int, int]], path: Path, where: Sequence[str]) -> list[tuple[int, int]]:
    seen: set[tuple[int, int]] = set()
    for key, at in zip(keys, where, strict=True):
        if key in seen:
            raise DataError(f"{path}, {at}: sample (video {key[0]}, clip {key[1]}) is listed twice.")
        seen.add(key)
    if not keys:
        raise DataError(f"{path}: the split lists no samples.")
    return keys


def read_mtlaqa_split(path: str | Path) -> list[tuple[int, int]]:
    """Read ``train.txt`` / ``test.txt`` (header ``video clip``): the ``(video, clip)`` pairs in file order."""
    path = Path(path)
    lines = [line.split() for line in _read_text(path, "split file").splitlines() if line.strip()]
    if not lines or lines[0] != ["video", "clip"]:
        got = " ".join(lines[0]) if lines else "(empty file)"
        raise DataError(f"{path}: header does not match the MTL-AQA split format. Expected 'video clip', got "
                        f"'{got}'.")
    keys, where = [], []
    for i, fields in enumerate(lines[1:], start=2):
        if len(fields) != 2 or not all(f.isdigit() for f in fields):
            raise DataError(f"{path}, line {i}: expected two non-negative integers 'video clip', got "
                            f"{' '.join(fields)!r}.")
        keys.append((int(fields[0]), int(fields[1])))
        where.append(f"line {i}")
    return _check_keys(keys, path, where)


def _check_tokens(tokens: Any, path: Path, at: str) -> list[str]:
    if not isinstance(tokens, list | tuple) or not tokens:
        raise DataError(f"{path}, {at}: the commentary must be a non-empty list of tokens, got "
                        f"{type(tokens).__name__}.")
    bad = [t for t in tokens if not isinstance(t, str) or not t.strip()]
    if bad:
        raise DataError(f"{path}, {at}: commentary token {bad[0]!r} is not a non-empty string.")
    return [str(t) for t in tokens]


def read_mtlaqa_captions(path: str | Path) -> dict[tuple[int, int], list[str]]:
    """Read ``captions.jsonl`` or ``captions.jsonl.gz``: ``(video, clip)`` -> tokens as released."""
    path = Path(path)
    out: dict[tuple[int, int], list[str]] = {}
    for i, line in enumerate(_read_text(path, "captions file").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"{path}, line {i}: not a JSON object ({exc.msg}). Each line must be "
                            '{"video": int, "clip": int, "tokens": [str, ...]}.') from exc
        if not isinstance(item, dict) or not {"video", "clip", "tokens"} <= set(item):
            raise DataError(f"{path}, line {i}: expected an object with keys video, clip, tokens.")
        if not all(isinstance(item[k], int) and not isinstance(item[k], bool) and item[k] >= 0
                   for k in ("video", "clip")):
            raise DataError(f"{path}, line {i}: video and clip must be non-negative integers.")
        key = (item["video"], item["clip"])
        if key in out:
            raise DataError(f"{path}, line {i}: sample (video {key[0]}, clip {key[1]}) appears twice.")
        out[key] = _check_tokens(item["tokens"], path, f"line {i}")
    if not out:
        raise DataError(f"{path}: no commentary lines.")
    return out


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, file: io.BufferedIOBase, path: Path) -> None:
        super().__init__(file, encoding="latin1")
        self.path = path

    def find_class(self, module: str, name: str) -> Any:
        if module in ("builtins", "__builtin__") and name in _SAFE_BUILTINS:
            return getattr(builtins, name)
        if (module, name) in _SAFE_GLOBALS:
            return super().find_class(module, name)
        raise DataError(
            f"{self.path}: the pickle refers to {module}.{name}, which this reader does not load (only plain "
            "Python values and NumPy numbers / arrays: unpickling anything else can run code). The MTL-AQA "
            "release holds only dicts, lists and tuples of numbers and strings; re-download the file."
        )


def read_restricted_pickle(path: str | Path) -> Any:
    """Unpickle ``path`` allowing only plain Python values and NumPy scalars / arrays (see the module
    docstring); raises :class:`DataError` for a missing or corrupt file or any other global."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"Pickle file not found: {path}.")
    try:
        with path.open("rb") as fh:
            return _RestrictedUnpickler(fh, path).load()
    except DataError:
        raise
    except Exception as exc:  # noqa: BLE001 - any unpickling failure is a corrupt file
        raise DataError(f"{path} is not a readable pickle ({type(exc).__name__}: {exc}); re-download it.") from exc


def _pickle_key(key: Any, path: Path) -> tuple[int, int]:
    if (isinstance(key, tuple | list) and len(key) == 2 and all(_int_like(k) and not isinstance(k, str | bool)
                                                                 for k in key)):
        return int(key[0]), int(key[1])
    raise DataError(f"{path}: key {key!r} is not a (video, clip) pair of integers as in the MTL-AQA release.")


def _scalar(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) or (isinstance(value, np.ndarray) and value.ndim == 0) \
        else value


def _read_annotation_pickle(path: Path) -> pd.DataFrame:
    obj = read_restricted_pickle(path)
    if not isinstance(obj, dict):
        raise DataError(f"{path} holds {type(obj).__name__}, not a dict {{(video, clip): {{field: value}}}} as "
                        "final_annotations_dict.pkl does.")
    rows, where = [], []
    fields = [c for c in MTLAQA_COLUMNS if c not in ("video", "clip")]
    for key, value in obj.items():
        video, clip = _pickle_key(key, path)
        at = f"sample ({video}, {clip})"
        if not isinstance(value, dict):
            raise DataError(f"{path}, {at}: value is {type(value).__name__}, not a dict of fields.")
        missing = [f for f in fields if f not in value]
        if missing:
            raise DataError(f"{path}, {at}: fields {missing} are missing (expected {', '.join(fields)}).")
        rows.append({"video": video, "clip": clip, **{f: _scalar(value[f]) for f in fields}})
        where.append(at)
    if not rows:
        raise DataError(f"{path}: the annotation dict is empty.")
    return _mtlaqa_frame(rows, where, path)


def _read_split_pickle(path: Path) -> list[tuple[int, int]]:
    obj = read_restricted_pickle(path)
    if not isinstance(obj, list | tuple | set | frozenset):
        raise DataError(f"{path} holds {type(obj).__name__}, not a list of (video, clip) tuples as "
                        "train_split_0.pkl / test_split_0.pkl do.")
    keys = [_pickle_key(k, path) for k in obj]
    return _check_keys(keys, path, [f"entry {i}" for i in range(len(keys))])


def _read_caption_pickle(path: Path) -> dict[tuple[int, int], list[str]]:
    obj = read_restricted_pickle(path)
    if not isinstance(obj, dict):
        raise DataError(f"{path} holds {type(obj).__name__}, not a dict {{(video, clip): [token, ...]}} as "
                        "final_captions_dict.pkl does.")
    out = {}
    for key, tokens in obj.items():
        k = _pickle_key(key, path)
        out[k] = _check_tokens(tokens, path, f"sample {k}")
    return out


def _assemble_mtlaqa(annotations: pd.DataFrame, train: list[tuple[int, int]], test: list[tuple[int, int]],
                     captions: dict[tuple[int, int], list[str]] | None, files: list[str], layout: str
                     ) -> MTLAQARelease:
    both = set(train) & set(test)
    if both:
        v, c = sorted(both)[0]
        raise DataError(f"{files[2]}: sample (video {v}, clip {c}) is in both the train and the test split "
                        f"({len(both)} such samples); the split files belong to different splits.")
    table = annotations.set_index("name")
    parts = []
    for split, keys, file in (("train", train, files[1]), ("test", test, files[2])):
        names = [mtlaqa_name(v, c) for v, c in keys]
        missing = [n for n in names if n not in table.index]
        if missing:
            raise _missing_error(f"{file}: samples without an annotation in {files[0]}", missing, len(names),
                                 "The split and the annotations must come from the same release.")
        parts.append(table.loc[names].reset_index().assign(split=split))
    labels = pd.concat(parts, ignore_index=True)
    labels = labels[["name", "split", *MTLAQA_COLUMNS]]
    by_name = None
    if captions is not None:
        by_name = {mtlaqa_name(v, c): t for (v, c), t in captions.items()}
        missing = [n for n in labels["name"] if n not in by_name]
        if missing:
            raise _missing_error(f"{files[3]}: commentary", missing, len(labels),
                                 "Every sample of the split needs its commentary; re-download the captions.")
        by_name = {n: by_name[n] for n in labels["name"]}
    return MTLAQARelease(labels=labels, captions=by_name, files=files, layout=layout)


def _first_present(root: Path, names: Sequence[str]) -> Path | None:
    return next((root / n for n in names if (root / n).is_file()), None)


def detect_mtlaqa_layout(root: str | Path) -> str:
    """``"text"`` or ``"pickle"`` from the files in ``root``; DataError when neither or both are present."""
    root = Path(root)
    found = []
    if (root / MTLAQA_TEXT_FILES["annotations"]).is_file():
        found.append("text")
    if _first_present(root, MTLAQA_PICKLE_FILES["annotations"]) is not None:
        found.append("pickle")
    if len(found) == 1:
        return found[0]
    if not found:
        raise DataError(
            f"No MTL-AQA label files in {root}: expected annotations.csv + train.txt + test.txt (+ captions.jsonl"
            "[.gz]) or final_annotations_dict.pkl + train_split_0.pkl + test_split_0.pkl (+ "
            "final_captions_dict.pkl)."
        )
    raise DataError(f"{root} holds both MTL-AQA layouts (annotations.csv and final_annotations_dict.pkl); pass "
                    "layout='text' or layout='pickle'.")


def load_mtlaqa_release(root: str | Path, *, layout: str = "auto", captions: bool = True) -> MTLAQARelease:
    """Read MTL-AQA's labels, official split (split 0) and, when present and ``captions``, its commentary.

    Args:
        root: the folder holding the files of one layout (see the module docstring).
        layout: ``"auto"`` (detect), ``"text"`` or ``"pickle"``.
        captions: read the commentary file when it is present (a missing one gives ``captions=None``).
    """
    root = _check_root(root)
    if layout == "auto":
        layout = detect_mtlaqa_layout(root)
    elif layout not in MTLAQA_LAYOUTS:
        raise DataError(f"Unknown MTL-AQA layout {layout!r}; valid layouts: auto, {', '.join(MTLAQA_LAYOUTS)}.")
    if layout == "text":
        paths = [root / MTLAQA_TEXT_FILES[k] for k in ("annotations", "train", "test")]
        annotations = read_mtlaqa_annotations(paths[0])
        train, test = read_mtlaqa_split(paths[1]), read_mtlaqa_split(paths[2])
        cap_path = _first_present(root, MTLAQA_CAPTION_FILES) if captions else None
        cap = read_mtlaqa_captions(cap_path) if cap_path else None
    else:
        paths = []
        for key in ("annotations", "train", "test"):
            path = _first_present(root, MTLAQA_PICKLE_FILES[key])
            if path is None:
                raise DataError(f"MTL-AQA pickle {MTLAQA_PICKLE_FILES[key][0]} not found in {root}; copy it from "
                                "the release's Ready_2_Use folder.")
            paths.append(path)
        annotations = _read_annotation_pickle(paths[0])
        train, test = _read_split_pickle(paths[1]), _read_split_pickle(paths[2])
        cap_path = _first_present(root, MTLAQA_PICKLE_FILES["captions"]) if captions else None
        cap = _read_caption_pickle(cap_path) if cap_path else None
    files = [str(p) for p in paths] + ([str(cap_path)] if cap_path else [])
    return _assemble_mtlaqa(annotations, train, test, cap, files, layout)


@functools.lru_cache(maxsize=1)
def _packaged_mtlaqa() -> MTLAQARelease:
    release = load_mtlaqa_release(PACKAGE_DATA / "mtlaqa", layout="text")
    release.layout = "packaged"
    return release


def packaged_mtlaqa() -> MTLAQARelease:
    """The real MTL-AQA labels, official split and commentary shipped with the package (a fresh copy)."""
    cached = _packaged_mtlaqa()
    captions = None if cached.captions is None else {k: list(v) for k, v in cached.captions.items()}
    return MTLAQARelease(cached.labels.copy(), captions, list(cached.files), cached.layout)
