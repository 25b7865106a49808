"""Tiny copies of the released feature formats, written into a temporary folder for the format tests.

Every helper writes files exactly as the releases lay them out (see :mod:`aqa_lib.data.formats` for the
sources): real feature dimensions (1024 RGB / flow, 768 audio and FS1000), real label-file formats (the RG
header, headerless Fis-V and FS1000 lines), only the number of videos and the sequence lengths are small.
Feature values are deterministic functions of the video so tests can check which array went where.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

RG_HEADER = "Video_Name\tDifficulty_Score    Execution_Score Total_Score\tPenalty\tVideo_length"
"""The RG header as released (tabs and runs of spaces mixed, as in the ACTION-NET files)."""

DIMS = {"rgb": 1024, "flow": 1024, "audio": 768}
FS1000_DIMS = {"rgb": 768, "audio": 768}
PAMFN_EXT = {"rgb": "VST", "flow": "I3D", "audio": "AST"}


def feature(
    name: str, modality: str, length: int, dim: int, *, dtype: str = "float32", crops: int = 0
) -> np.ndarray:
    """A deterministic ``[T, D]`` (or ``[T, crops, D]``) array, seeded by the video name and modality."""
    seed = sum(ord(c) for c in f"{name}/{modality}")
    rng = np.random.default_rng(seed)
    shape = (length, crops, dim) if crops else (length, dim)
    return rng.standard_normal(shape).astype(dtype)


# ---------------------------------------------------------------------------------------------------------
# Label files
# ---------------------------------------------------------------------------------------------------------


def rg_rows(apparatus: Iterable[str], ids: Iterable[int]) -> list[tuple[str, float, float, float]]:
    """RG rows ``(name, difficulty, execution, penalty)`` with distinct, plausible scores."""
    rows = []
    for a in apparatus:
        for i in ids:
            rows.append((f"{a}_{i:03d}", 5.0 + 0.25 * i, 6.0 + 0.1 * i, 0.3 * (i % 2)))
    return rows


def write_rg_labels(
    path: Path, rows: Sequence[tuple[str, float, float, float]], *, header: bool = True
) -> Path:
    """Write an RG label file: header, then ``name D E Total P length`` (Total = D + E - P)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [RG_HEADER] if header else []
    for name, d, e, p in rows:
        lines.append(f"{name}\t{d:.2f}\t{e:.2f}\t{d + e - p:.2f}\t{p:.2f}\t{90 + len(lines) % 9}")
    path.write_text("\n".join(lines) + "\n")
    return path


def fisv_rows(ids: Iterable[int]) -> list[tuple[str, float, float, int]]:
    """Fis-V rows ``(id, TES, PCS, deductions)``."""
    return [(str(i), 20.0 + 0.5 * i, 15.0 + 0.4 * i, i % 3) for i in ids]


def write_fisv_labels(
    path: Path, rows: Sequence[tuple[str, float, float, int]], *, header: bool = False
) -> Path:
    """Write a Fis-V label file: ``id TES PCS deductions`` per line, no header (as released)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = ["video_id TES PCS deductions"] if header else []
    lines += [f"{i} {tes:.2f} {pcs:.2f} {ded}" for i, tes, pcs, ded in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def fs1000_rows(names: Iterable[str]) -> list[tuple]:
    """FS1000 rows ``(name, TES, PCS, SS, TR, PE, CO, IN, factor)``; PCS is the factored sum."""
    rows = []
    for i, name in enumerate(names):
        comps = [7.0 + 0.1 * i + 0.01 * j for j in range(5)]
        factor = 2.0 if i % 2 else 1.0
        rows.append((name, 60.0 + i, sum(comps) * factor, *comps, factor))
    return rows


def write_fs1000_labels(path: Path, rows: Sequence[tuple]) -> Path:
    """Write an FS1000 label file: ``name TES PCS SS TR PE CO IN factor`` per line, no header."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "\n".join(" ".join(str(round(v, 4)) if not isinstance(v, str) else v for v in r) for r in rows) + "\n"
    )
    return path


# ---------------------------------------------------------------------------------------------------------
# Feature files
# ---------------------------------------------------------------------------------------------------------


def write_pamfn(
    folder: Path,
    part: str,
    names: Sequence[str],
    *,
    modalities: Sequence[str] = ("rgb", "flow", "audio"),
    lengths: dict[str, int] | None = None,
    length: int = 8,
    rgb_crops: int = 0,
    int_keys: bool = False,
    dims: dict[str, int] | None = None,
) -> dict[str, Path]:
    """Write ``{part}_{modality}_{VST|I3D|AST}.npy`` pickled dicts ``{video_name: array}``.

    ``lengths`` gives per-video T (default ``length``); ``rgb_crops`` > 0 stores RGB as ``[T, k, 1024]``;
    ``int_keys`` keys the dicts by ``int(name)`` (Fis-V ids).
    """
    folder.mkdir(parents=True, exist_ok=True)
    dims = {**DIMS, **(dims or {})}
    out = {}
    for m in modalities:
        table = {}
        for n in names:
            t = (lengths or {}).get(n, length)
            crops = rgb_crops if m == "rgb" else 0
            table[int(n) if int_keys else n] = feature(n, m, t, dims[m], crops=crops)
        path = folder / f"{part}_{m}_{PAMFN_EXT[m]}.npy"
        np.save(path, table, allow_pickle=True)
        out[m] = path
    return out


def write_gdlt(
    folder: Path,
    names: Sequence[str],
    *,
    length: int = 8,
    dtype: str = "float32",
    lengths: dict[str, int] | None = None,
    dim: int = 1024,
) -> Path:
    """Write one ``{video_name}.npy`` array ``[T, 1024]`` per video."""
    folder.mkdir(parents=True, exist_ok=True)
    for n in names:
        np.save(folder / f"{n}.npy", feature(n, "rgb", (lengths or {}).get(n, length), dim, dtype=dtype))
    return folder


def write_fs1000(
    root: Path,
    names: Sequence[str],
    *,
    length: int = 8,
    tokens: int = 3,
    rgb_dir: str = "output_feature_fs1000_new",
    audio_dir: str = "ast_feature_fs1000_new",
    audio_lengths: dict[str, int] | None = None,
) -> Path:
    """Write the FS1000 release: TimeSformer ``[T, tokens, 768]`` and AST ``[T, 768]`` per video."""
    (root / rgb_dir).mkdir(parents=True, exist_ok=True)
    (root / audio_dir).mkdir(parents=True, exist_ok=True)
    for n in names:
        np.save(root / rgb_dir / f"{n}.npy", feature(n, "rgb", length, 768, crops=tokens))
        np.save(root / audio_dir / f"{n}.npy", feature(n, "audio", (audio_lengths or {}).get(n, length), 768))
    return root


# ---------------------------------------------------------------------------------------------------------
# Whole releases
# ---------------------------------------------------------------------------------------------------------

RG_TRAIN_IDS, RG_TEST_IDS = (1, 2, 3), (4, 5)
FISV_TRAIN_IDS, FISV_TEST_IDS = (1, 3, 5, 6), (2, 4)
FS1000_TRAIN = ("2018_Final_MF_Junhwan", "2019_SWJ_LF_Alexandra_T", "2021_R_PF_7", "2020_EC_LS_Anna")
FS1000_TEST = ("2022_OG_MF_Nathan", "2021_WC_PF_3")


def pamfn_rg_release(tmp: Path, **kwargs) -> Path:
    """PAMFN's layout: ``data/features/{App}_{mod}_{X}.npy`` and ``data/RG/{train,test}.txt``."""
    feat = tmp / "data" / "features"
    apparatus = ("Ball", "Hoop")
    write_rg_labels(tmp / "data" / "RG" / "train.txt", rg_rows(apparatus, RG_TRAIN_IDS))
    write_rg_labels(tmp / "data" / "RG" / "test.txt", rg_rows(apparatus, RG_TEST_IDS))
    for a in apparatus:
        names = [r[0] for r in rg_rows([a], RG_TRAIN_IDS + RG_TEST_IDS)]
        write_pamfn(feat, a, names, **kwargs)
    return feat


def pamfn_fisv_release(tmp: Path, **kwargs) -> Path:
    """PAMFN's Fis-V layout: ``data/features/FISV_*.npy``, headerless ``data/FISV/{train,test}.txt``."""
    feat = tmp / "data" / "features"
    write_fisv_labels(tmp / "data" / "FISV" / "train.txt", fisv_rows(FISV_TRAIN_IDS))
    write_fisv_labels(tmp / "data" / "FISV" / "test.txt", fisv_rows(FISV_TEST_IDS))
    write_pamfn(feat, "FISV", [str(i) for i in FISV_TRAIN_IDS + FISV_TEST_IDS], **kwargs)
    return feat


def gdlt_fisv_release(tmp: Path, **kwargs) -> Path:
    """GDLT's Fis-V layout: ``fisv/feats/{id}.npy`` with ``fisv/train.txt`` / ``fisv/test.txt`` beside."""
    feat = tmp / "fisv" / "feats"
    write_fisv_labels(tmp / "fisv" / "train.txt", fisv_rows(FISV_TRAIN_IDS))
    write_fisv_labels(tmp / "fisv" / "test.txt", fisv_rows(FISV_TEST_IDS))
    write_gdlt(feat, [str(i) for i in FISV_TRAIN_IDS + FISV_TEST_IDS], **kwargs)
    return feat


def gdlt_rg_release(tmp: Path, **kwargs) -> Path:
    """GDLT's RG layout: ``rg_feat/swintx_avg_fps25_clip32/{name}.npy``, labels in ``rg_feat/``."""
    feat = tmp / "rg_feat" / "swintx_avg_fps25_clip32"
    apparatus = ("Ball", "Clubs", "Hoop", "Ribbon")
    write_rg_labels(tmp / "rg_feat" / "train.txt", rg_rows(apparatus, RG_TRAIN_IDS))
    write_rg_labels(tmp / "rg_feat" / "test.txt", rg_rows(apparatus, RG_TEST_IDS))
    write_gdlt(feat, [r[0] for r in rg_rows(apparatus, RG_TRAIN_IDS + RG_TEST_IDS)], **kwargs)
    return feat


def fs1000_release(
    tmp: Path, *, label_names: tuple[str, str] = ("train_fs1000_new.txt", "val_fs1000_new.txt"), **kwargs
) -> Path:
    """The FS1000 release as MLAVL reads it: ``FS1000/{output_feature,ast_feature}_fs1000_new/`` + labels."""
    root = tmp / "FS1000"
    write_fs1000(root, FS1000_TRAIN + FS1000_TEST, **kwargs)
    write_fs1000_labels(root / label_names[0], fs1000_rows(FS1000_TRAIN))
    write_fs1000_labels(root / label_names[1], fs1000_rows(FS1000_TEST))
    return root


# ---------------------------------------------------------------------------------------------------------
# MTL-AQA labels, split and commentary (plain-text conversion and the original pickles)
# ---------------------------------------------------------------------------------------------------------

MTLAQA_HEADER = ("video,clip,primary_view,start_frame,end_frame,position,difficulty,armstand,rotation_type,ss_no,"
                 "tw_no,final_score")
MTLAQA_ROWS = (
    # video, clip, primary_view, start, end, position, difficulty, armstand, rotation_type, ss_no, tw_no, score
    (1, 1, 0, 7377, 7462, 2, 3.2, 0, 2, 7, 0, 88.0),
    (1, 3, 0, 10036, 10124, 1, 3.2, 0, 0, 5, 3, 75.2),
    (1, 8, 0, 16985, 17113, 0, 3.6, 1, 0, 4, 5, 77.4),
    (7, 7, 0, 17004, 17092, 1, 1.5, 0, 1, 0, 0, 30.0),
    (17, 35, 0, 4000, 4100, 2, 3.3, 0, 0, 7, 0, 0.0),
    (17, 164, 0, 9000, 9250, 1, 3.5, 0, 1, 5, 4, 61.5),
)
"""Six samples in the release's format (the first three and the (7, 7) plain dive are real rows; the others
exercise a failed dive (score 0), a three-digit clip and a 250-frame dive)."""
MTLAQA_TRAIN = ((17, 164), (1, 1), (7, 7), (1, 8))
MTLAQA_TEST = ((1, 3), (17, 35))


def mtlaqa_tokens(video: int, clip: int) -> list[str]:
    """A commentary as released: ``<sos>``, words that depend on the sample, ``<eos>``."""
    words = ["nice", "tight", "tuck", "position", "and", "a", "clean", "entry", "somersault", "twist"]
    n = 3 + (video + clip) % 5
    return ["<sos>", *[words[(video * 7 + clip + j) % len(words)] for j in range(n)], f"s{video}x{clip}", "<eos>"]


def write_mtlaqa_text(
    folder: Path,
    rows: Sequence[tuple] = MTLAQA_ROWS,
    train: Sequence[tuple[int, int]] = MTLAQA_TRAIN,
    test: Sequence[tuple[int, int]] = MTLAQA_TEST,
    *,
    captions: bool | str = True,
    extra_captions: Sequence[tuple[int, int]] = ((26, 92),),
    crlf: bool = True,
) -> Path:
    """The plain-text conversion: ``annotations.csv`` (CRLF line ends, as converted), ``train.txt`` /
    ``test.txt`` (header ``video clip``), ``captions.jsonl`` (``captions="gz"``: ``captions.jsonl.gz``), with a
    caption for a sample that has no annotation, as the real conversion has four."""
    import gzip
    import json

    folder.mkdir(parents=True, exist_ok=True)
    end = "\r\n" if crlf else "\n"
    lines = [MTLAQA_HEADER] + [",".join(str(v) for v in r) for r in rows]
    (folder / "annotations.csv").write_bytes((end.join(lines) + end).encode())
    for name, keys in (("train.txt", train), ("test.txt", test)):
        (folder / name).write_text("video clip\n" + "".join(f"{v} {c}\n" for v, c in keys))
    if captions:
        keys = [(r[0], r[1]) for r in rows] + list(extra_captions)
        text = "".join(json.dumps({"video": v, "clip": c, "tokens": mtlaqa_tokens(v, c)}) + "\n" for v, c in keys)
        if captions == "gz":
            (folder / "captions.jsonl.gz").write_bytes(gzip.compress(text.encode()))
        else:
            (folder / "captions.jsonl").write_text(text)
    return folder


MTLAQA_FIELDS = ("primary_view", "start_frame", "end_frame", "position", "difficulty", "armstand",
                 "rotation_type", "ss_no", "tw_no", "final_score")


def write_mtlaqa_pickles(
    folder: Path,
    rows: Sequence[tuple] = MTLAQA_ROWS,
    train: Sequence[tuple[int, int]] = MTLAQA_TRAIN,
    test: Sequence[tuple[int, int]] = MTLAQA_TEST,
    *,
    captions: bool = True,
    numpy_values: bool = False,
    protocol: int = 4,
    extra_fields: bool = False,
) -> Path:
    """The original release's ``Ready_2_Use`` pickles: ``final_annotations_dict.pkl`` ``{(video, clip):
    {field: value}}``, ``train_split_0.pkl`` / ``test_split_0.pkl`` (lists of tuples) and
    ``final_captions_dict.pkl`` ``{(video, clip): [token, ...]}``. ``numpy_values`` stores numbers as NumPy
    scalars, ``extra_fields`` adds CoRe's ``judge_scores`` array."""
    import pickle

    folder.mkdir(parents=True, exist_ok=True)
    table = {}
    for r in rows:
        fields = dict(zip(MTLAQA_FIELDS, r[2:], strict=True))
        if numpy_values:
            fields = {k: (np.float64(v) if isinstance(v, float) else np.int64(v)) for k, v in fields.items()}
        if extra_fields:
            fields["judge_scores"] = np.array([8.5, 9.0, 9.0, 8.5, 9.5, 9.0, 8.0])
        table[(r[0], r[1])] = fields
    dumps = {"final_annotations_dict.pkl": table, "train_split_0.pkl": list(train), "test_split_0.pkl": list(test)}
    if captions:
        dumps["final_captions_dict.pkl"] = {(r[0], r[1]): mtlaqa_tokens(r[0], r[1]) for r in rows}
    for name, obj in dumps.items():
        (folder / name).write_bytes(pickle.dumps(obj, protocol=protocol))
    return folder
