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
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

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
        raise DataError(
            f"No released feature format is supported for dataset {spec.name!r} yet; real data can be loaded "
            f"for {', '.join(supported)}. Use the synthetic default for {spec.name!r}."
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
    if label_root is None and spec.real_labels_shipped:
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
