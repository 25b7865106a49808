"""Real-format readers (:mod:`aqa_lib.data.formats`) on tiny copies of each released layout, and on the
real Fis-V features when ``AQA_SHARED_DATA`` is set."""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from format_fixtures import (
    FISV_TEST_IDS,
    FISV_TRAIN_IDS,
    FS1000_TEST,
    FS1000_TRAIN,
    MTLAQA_HEADER,
    MTLAQA_ROWS,
    MTLAQA_TEST,
    MTLAQA_TRAIN,
    RG_TEST_IDS,
    RG_TRAIN_IDS,
    feature,
    fisv_rows,
    fs1000_release,
    gdlt_fisv_release,
    gdlt_rg_release,
    mtlaqa_tokens,
    pamfn_fisv_release,
    pamfn_rg_release,
    rg_rows,
    write_fisv_labels,
    write_gdlt,
    write_mtlaqa_pickles,
    write_mtlaqa_text,
    write_pamfn,
    write_rg_labels,
)

from aqa_lib.data import load
from aqa_lib.data.core import DataError
from aqa_lib.data.formats import (
    MTLAQA_COLUMNS,
    detect_layouts,
    detect_mtlaqa_layout,
    load_mtlaqa_release,
    load_pamfn_dict,
    load_real,
    packaged_mtlaqa,
    read_mtlaqa_annotations,
    read_mtlaqa_captions,
    read_mtlaqa_split,
    read_restricted_pickle,
)
from aqa_lib.data.labels import read_fisv_labels, read_rg_labels
from aqa_lib.data.registry import get_spec

RG, FISV, FS1000 = get_spec("rg"), get_spec("fisv"), get_spec("fs1000")


# ---------------------------------------------------------------------------------------------------------
# pamfn
# ---------------------------------------------------------------------------------------------------------


def test_pamfn_rg_selects_apparatus_and_reads_all_modalities(tmp_path):
    feat = pamfn_rg_release(tmp_path, rgb_crops=3)
    data = load_real(RG, "Hoop", feat)
    assert data.source == "real" and data.meta["layout"] == "pamfn"
    assert data.train.names == [f"Hoop_{i:03d}" for i in RG_TRAIN_IDS]
    assert data.test.names == [f"Hoop_{i:03d}" for i in RG_TEST_IDS]
    assert data.modalities == {"rgb": 1024, "flow": 1024, "audio": 768}
    for m, d in data.modalities.items():
        assert all(x.shape == (8, d) and x.dtype == np.float32 for x in data.train.features[m])
    # 3-D RGB [T, k, D] is averaged over k
    expected = feature("Hoop_001", "rgb", 8, 1024, crops=3).mean(axis=1)
    np.testing.assert_allclose(data.train.features["rgb"][0], expected, rtol=1e-6)
    # labels: Total / 25; Total = D + E - P from the label file
    rows = {n: (d, e, p) for n, d, e, p in rg_rows(["Hoop"], RG_TRAIN_IDS)}
    totals = np.array([round(d + e - p, 2) for d, e, p in rows.values()])
    np.testing.assert_allclose(data.train.scores, totals)
    np.testing.assert_allclose(data.train.labels, totals / 25, rtol=1e-6)
    assert set(data.train.extras) == {"difficulty", "execution", "penalty", "length_s"}
    # label files found where PAMFN keeps them: data/RG/ beside data/features/
    assert data.meta["label_files"][0].endswith(str(Path("data", "RG", "train.txt")))
    assert "RG Hoop VST RGB + I3D flow + AST audio (PAMFN pickled-dict format)" in data.provenance
    assert "3 train / 2 test" in data.provenance


def test_pamfn_fisv_int_keys_and_headerless_labels(tmp_path):
    feat = pamfn_fisv_release(tmp_path, int_keys=True)
    data = load_real(FISV, "PCS", feat)
    assert data.train.names == [str(i) for i in FISV_TRAIN_IDS]
    pcs = np.array([r[2] for r in fisv_rows(FISV_TRAIN_IDS)])
    np.testing.assert_allclose(data.train.labels, pcs / 45, rtol=1e-5)
    np.testing.assert_allclose(data.train.extras["TES"], [r[1] for r in fisv_rows(FISV_TRAIN_IDS)])
    assert set(data.train.extras) == {"TES", "deductions"}
    np.testing.assert_allclose(load_real(FISV, "PCS", feat, norm="mlavl").train.labels, pcs / 40, rtol=1e-5)


def test_pamfn_lengths_aligned_within_tolerance(tmp_path):
    feat = pamfn_fisv_release(tmp_path, modalities=("rgb",))
    names = [str(i) for i in FISV_TRAIN_IDS + FISV_TEST_IDS]
    write_pamfn(feat, "FISV", names, modalities=("audio",), lengths={"1": 10})  # rgb T=8, audio T=10
    data = load_real(FISV, "TES", feat)
    assert data.train.features["audio"][0].shape == (8, 768)
    assert data.meta["n_length_aligned"] == 1
    write_pamfn(feat, "FISV", names, modalities=("audio",), lengths={"3": 20})
    with pytest.raises(DataError, match=r"Video '3': modality lengths .* differ by 12"):
        load_real(FISV, "TES", feat)


def test_pamfn_modalities_present_and_requested(tmp_path):
    feat = pamfn_rg_release(tmp_path, modalities=("rgb", "audio"))
    data = load_real(RG, "Ball", feat)
    assert list(data.modalities) == ["rgb", "audio"]
    assert list(load_real(RG, "Ball", feat, modalities=["audio"]).modalities) == ["audio"]
    with pytest.raises(DataError, match=r"Requested modalities \['flow'\].*Ball_flow_I3D\.npy"):
        load_real(RG, "Ball", feat, modalities=["rgb", "flow"])
    with pytest.raises(ValueError, match="Unknown modalities"):
        load_real(RG, "Ball", feat, modalities=["depth"])


def test_pamfn_missing_video_names_count_and_first(tmp_path):
    feat = pamfn_rg_release(tmp_path)
    write_pamfn(feat, "Ball", ["Ball_001", "Ball_002"], modalities=("flow",))
    with pytest.raises(
        DataError, match=r"Ball_flow_I3D\.npy: 3 of 5 videos missing \('Ball_003', 'Ball_004'"
    ):
        load_real(RG, "Ball", feat)


def test_pamfn_missing_part_file(tmp_path):
    feat = pamfn_rg_release(tmp_path)
    for split, ids in (("train", RG_TRAIN_IDS), ("test", RG_TEST_IDS)):
        write_rg_labels(tmp_path / "data" / "RG" / f"{split}.txt", rg_rows(["Ball", "Ribbon"], ids))
    with pytest.raises(DataError, match=r"No feature files .* 'Ribbon'.*Ribbon_rgb_VST\.npy"):
        load_real(RG, "Ribbon", feat, layout="pamfn")


def test_pamfn_not_a_dict(tmp_path):
    feat = pamfn_rg_release(tmp_path)
    np.save(feat / "Ball_audio_AST.npy", np.zeros((5, 768), dtype=np.float32))
    with pytest.raises(
        DataError, match=r"Ball_audio_AST\.npy holds an array of shape \(5, 768\), not a pickled dict"
    ):
        load_real(RG, "Ball", feat)
    np.save(feat / "Ball_audio_AST.npy", np.array(["a", "list"], dtype=object), allow_pickle=True)
    with pytest.raises(DataError, match="not a pickled dict"):
        load_pamfn_dict(feat / "Ball_audio_AST.npy")


def test_pamfn_wrong_dim_names_file_and_video(tmp_path):
    feat = pamfn_rg_release(tmp_path, dims={"audio": 512})
    with pytest.raises(
        DataError, match=r"Ball_audio_AST\.npy \[video 'Ball_001'\]: feature dimension is 512, expected 768"
    ):
        load_real(RG, "Ball", feat)


# ---------------------------------------------------------------------------------------------------------
# gdlt
# ---------------------------------------------------------------------------------------------------------


def test_gdlt_fisv_float16_and_labels_in_parent(tmp_path):
    feat = gdlt_fisv_release(tmp_path, dtype="float16")
    data = load_real(FISV, "TES", feat)
    assert data.meta["layout"] == "gdlt" and data.modalities == {"rgb": 1024}
    x = data.train.features["rgb"][0]
    assert x.dtype == np.float32 and x.shape == (8, 1024)
    np.testing.assert_array_equal(x, feature("1", "rgb", 8, 1024, dtype="float16").astype(np.float32))
    np.testing.assert_allclose(data.test.scores, [r[1] for r in fisv_rows(FISV_TEST_IDS)])
    assert data.meta["label_files"] == [
        str(tmp_path / "fisv" / "train.txt"),
        str(tmp_path / "fisv" / "test.txt"),
    ]
    assert data.provenance == (
        f"REAL features: Fis-V VST RGB (GDLT per-video format) from {feat} — 4 train / 2 test"
    )


def test_gdlt_label_root_and_data_root_labels(tmp_path):
    feat = gdlt_fisv_release(tmp_path)
    other = tmp_path / "labels"
    write_fisv_labels(other / "train.txt", fisv_rows((1, 3)))
    write_fisv_labels(other / "test.txt", fisv_rows((2,)))
    data = load_real(FISV, "TES", feat, label_root=other)
    assert len(data.train) == 2 and len(data.test) == 1
    # label files inside data_root win over the parent
    write_fisv_labels(feat / "train.txt", fisv_rows((5,)))
    write_fisv_labels(feat / "test.txt", fisv_rows((6,)))
    assert load_real(FISV, "TES", feat).train.names == ["5"]
    with pytest.raises(DataError, match="label_root .* is not a folder"):
        load_real(FISV, "TES", feat, label_root=tmp_path / "nowhere")


def test_gdlt_rg_target_selects_apparatus(tmp_path):
    feat = gdlt_rg_release(tmp_path)
    data = load_real(RG, "Clubs", feat)
    assert data.train.names == [f"Clubs_{i:03d}" for i in RG_TRAIN_IDS]
    assert all(n.startswith("Clubs_") for n in data.test.names)


def test_gdlt_missing_files_reported(tmp_path):
    feat = gdlt_fisv_release(tmp_path)
    (feat / "3.npy").unlink()
    (feat / "4.npy").unlink()
    with pytest.raises(DataError, match=r"RGB feature files: 2 of 6 videos missing \('3', '4'\)"):
        load_real(FISV, "TES", feat)


def test_gdlt_nan_and_wrong_dim(tmp_path):
    feat = gdlt_fisv_release(tmp_path)
    bad = feature("5", "rgb", 8, 1024)
    bad[2, 7] = np.nan
    np.save(feat / "5.npy", bad)
    with pytest.raises(DataError, match=r"5\.npy \(video '5'\): 1 of 8 segments contain NaN or Inf"):
        load_real(FISV, "TES", feat)
    write_gdlt(feat, ["5"], dim=768)
    with pytest.raises(DataError, match=r"5\.npy \(video '5'\): feature dimension is 768, expected 1024"):
        load_real(FISV, "TES", feat)
    (feat / "5.npy").write_bytes(b"not an npy file")
    with pytest.raises(DataError, match=r"Cannot read feature file .*5\.npy"):
        load_real(FISV, "TES", feat)


def test_gdlt_flow_not_in_release(tmp_path):
    feat = gdlt_fisv_release(tmp_path)
    with pytest.raises(DataError, match=r"Requested modalities \['flow'\].*GDLT release holds RGB only"):
        load_real(FISV, "TES", feat, modalities=["rgb", "flow"])


def test_packaged_labels_when_label_files_absent(tmp_path):
    names = [str(i) for i in range(1, 501)]
    feat = tmp_path / "pamfn_feats"
    write_pamfn(feat, "FISV", names, modalities=("rgb",), length=2)
    data = load_real(FISV, "TES", feat)
    assert (len(data.train), len(data.test)) == (400, 100)
    assert data.meta["labels_packaged"] is True
    assert data.meta["label_files"] == ["packaged:fisv/train.txt", "packaged:fisv/test.txt"]
    assert "packaged official split" in data.provenance


# ---------------------------------------------------------------------------------------------------------
# fs1000
# ---------------------------------------------------------------------------------------------------------


def test_fs1000_release(tmp_path):
    root = fs1000_release(tmp_path, audio_lengths={"2021_R_PF_7": 9})
    data = load_real(FS1000, "PCS", root)
    assert data.meta["layout"] == "fs1000"
    assert data.train.names == list(FS1000_TRAIN) and data.test.names == list(FS1000_TEST)
    assert data.modalities == {"rgb": 768, "audio": 768}
    rgb = data.train.features["rgb"][0]
    np.testing.assert_allclose(rgb, feature(FS1000_TRAIN[0], "rgb", 8, 768, crops=3).mean(axis=1), rtol=1e-6)
    assert data.train.features["audio"][2].shape == (8, 768)  # audio T=9 truncated to the visual T=8
    # PCS divided by the factor (labels.py), normalised by 60
    pcs = np.array([sum(7.0 + 0.1 * i + 0.01 * j for j in range(5)) for i in range(len(FS1000_TRAIN))])
    np.testing.assert_allclose(data.train.scores, pcs, rtol=1e-4)
    np.testing.assert_allclose(data.train.labels, pcs / 60, rtol=1e-4)
    assert {"TES", "SS", "TR", "PE", "CO", "IN", "factor", "PCS_raw"} == set(data.train.extras)
    assert "FS1000 TimeSformer RGB + AST audio" in data.provenance
    tes = load_real(FS1000, "TES", root, modalities=["audio"])
    np.testing.assert_allclose(tes.test.labels, [60 / 130, 61 / 130], rtol=1e-5)


def test_fs1000_older_label_names_and_feature_dirs(tmp_path):
    root = fs1000_release(
        tmp_path, label_names=("train_fs800.txt", "val_fs800.txt"), rgb_dir="timesformer", audio_dir="ast"
    )
    data = load_real(FS1000, "SS", root, layout="fs1000", feature_dirs={"rgb": "timesformer", "audio": "ast"})
    assert data.meta["label_files"][1].endswith("val_fs800.txt")
    assert list(data.modalities) == ["rgb", "audio"]
    with pytest.raises(DataError, match="No feature files of a known layout"):
        load_real(FS1000, "SS", root)  # default folder names absent


def test_fs1000_missing_labels_no_packaged_fallback(tmp_path):
    root = fs1000_release(tmp_path)
    (root / "val_fs1000_new.txt").unlink()
    with pytest.raises(DataError, match=r"Found .*train_fs1000_new\.txt but not .*val_fs1000_new\.txt"):
        load_real(FS1000, "TES", root)
    (root / "train_fs1000_new.txt").unlink()
    with pytest.raises(DataError, match=r"No label files \(train_fs1000_new\.txt \+ val_fs1000_new\.txt"):
        load_real(FS1000, "TES", root)


def test_fs1000_audio_much_shorter(tmp_path):
    root = fs1000_release(tmp_path, length=40, audio_lengths={"2021_WC_PF_3": 30})
    with pytest.raises(DataError, match="Video '2021_WC_PF_3': modality lengths"):
        load_real(FS1000, "TES", root)


# ---------------------------------------------------------------------------------------------------------
# Layout detection, bad input, fingerprint
# ---------------------------------------------------------------------------------------------------------


def test_auto_detection(tmp_path):
    assert detect_layouts(pamfn_rg_release(tmp_path / "a")) == ["pamfn"]
    assert detect_layouts(gdlt_fisv_release(tmp_path / "b")) == ["gdlt"]
    assert detect_layouts(fs1000_release(tmp_path / "c")) == ["fs1000"]
    mixed = pamfn_fisv_release(tmp_path / "d")
    write_gdlt(mixed, ["1", "2"])
    with pytest.raises(DataError, match=r"several layouts \(pamfn, gdlt\).*Pass layout="):
        load_real(FISV, "TES", mixed)
    assert load_real(FISV, "TES", mixed, layout="pamfn", modalities=["rgb"]).meta["layout"] == "pamfn"
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(
        DataError, match=r"No feature files of a known layout in .*empty.*\{video_name\}\.npy"
    ):
        load_real(FISV, "TES", empty)
    with pytest.raises(DataError, match=r"found files of the fs1000 layout, not released for 'fisv'"):
        load_real(FISV, "TES", tmp_path / "c" / "FS1000")


def test_bad_root_layout_dataset_target(tmp_path):
    with pytest.raises(DataError, match=r"data_root .*nope does not exist"):
        load_real(FISV, "TES", tmp_path / "nope")
    (tmp_path / "file.npy").write_bytes(b"")
    with pytest.raises(DataError, match="is a file, not a folder"):
        load_real(FISV, "TES", tmp_path / "file.npy")
    feat = gdlt_fisv_release(tmp_path)
    with pytest.raises(DataError, match=r"Unknown layout 'pickle'; valid layouts: auto, pamfn, gdlt, fs1000"):
        load_real(FISV, "TES", feat, layout="pickle")
    with pytest.raises(DataError, match="Layout 'fs1000' is not a release format of 'fisv'"):
        load_real(FISV, "TES", feat, layout="fs1000")
    with pytest.raises(DataError, match="No released feature format is supported for dataset 'logo'"):
        load_real(get_spec("logo"), "score", feat)
    with pytest.raises(ValueError, match="valid targets: TES, PCS"):
        load_real(FISV, "Total", feat)
    with pytest.raises(ValueError, match="valid datasets"):
        get_spec("fisv2")


def test_empty_split_names_label_file(tmp_path):
    feat = gdlt_rg_release(tmp_path)
    write_rg_labels(tmp_path / "rg_feat" / "test.txt", rg_rows(["Ball", "Clubs", "Hoop"], RG_TEST_IDS))
    with pytest.raises(DataError, match=r"test\.txt: no videos of target 'Ribbon'"):
        load_real(RG, "Ribbon", feat)


def test_label_header_mismatch(tmp_path):
    feat = gdlt_rg_release(tmp_path)
    write_rg_labels(tmp_path / "rg_feat" / "train.txt", rg_rows(["Ball"], RG_TRAIN_IDS), header=False)
    with pytest.raises(DataError, match=r"train\.txt: header does not match the RG format"):
        load_real(RG, "Ball", feat)
    fisv = gdlt_fisv_release(tmp_path)
    write_fisv_labels(tmp_path / "fisv" / "test.txt", fisv_rows(FISV_TEST_IDS), header=True)
    with pytest.raises(DataError, match=r"test\.txt: the first line looks like a header"):
        load_real(FISV, "TES", fisv)


def test_fingerprint_stable_and_sensitive(tmp_path):
    feat = gdlt_fisv_release(tmp_path)
    a = load_real(FISV, "TES", feat)
    assert load_real(FISV, "TES", feat).fingerprint == a.fingerprint
    assert load_real(FISV, "PCS", feat).fingerprint != a.fingerprint
    write_fisv_labels(tmp_path / "fisv" / "test.txt", [(*r[:3], 9) for r in fisv_rows(FISV_TEST_IDS)])
    b = load_real(FISV, "TES", feat)
    assert b.fingerprint != a.fingerprint
    write_gdlt(feat, ["1"], length=9)  # a feature file changed size
    c = load_real(FISV, "TES", feat)
    assert c.fingerprint != b.fingerprint
    # Same name, same size, other content (a re-extraction): the sampled content hash notices it.
    path = feat / "1.npy"
    x, size = np.load(path), path.stat().st_size
    np.save(path, (x + 1).astype(x.dtype))
    assert path.stat().st_size == size
    assert load_real(FISV, "TES", feat).fingerprint != c.fingerprint


def test_prompts_and_package_entry_point(tmp_path):
    feat = gdlt_fisv_release(tmp_path)
    data = load("fisv", "TES", source="real", data_root=feat, with_prompts=True)
    assert data.prompts.sport == "FS" and data.prompts.embeddings.shape == (102, 512)
    assert load_real(FISV, "TES", feat).prompts is None


# ---------------------------------------------------------------------------------------------------------
# MTL-AQA labels, split and commentary: plain-text conversion and the original pickles
# ---------------------------------------------------------------------------------------------------------


def _mtl_names(keys):
    return [f"{v:02d}_{c:02d}" for v, c in keys]


def test_mtlaqa_text_layout(tmp_path):
    folder = write_mtlaqa_text(tmp_path / "mtl")
    release = load_mtlaqa_release(folder)
    assert release.layout == "text" and detect_mtlaqa_layout(folder) == "text"
    labels = release.labels
    assert labels["name"].tolist() == _mtl_names(MTLAQA_TRAIN + MTLAQA_TEST)  # train first, file order
    assert labels["split"].tolist() == ["train"] * 4 + ["test"] * 2
    assert list(labels.columns) == ["name", "split", *MTLAQA_COLUMNS]
    row = labels.set_index("name").loc["17_164"]
    assert (row["start_frame"], row["end_frame"], row["tw_no"], row["final_score"]) == (9000, 9250, 4, 61.5)
    assert labels["difficulty"].dtype == np.float64 and labels["ss_no"].dtype == np.int64
    assert release.split("test")["name"].tolist() == ["01_03", "17_35"]
    # commentary: the 4 real-conversion extras without annotation are ignored; markers are dropped on request
    assert set(release.captions) == set(labels["name"])
    assert release.captions["01_01"] == mtlaqa_tokens(1, 1)
    assert release.tokens("01_01") == mtlaqa_tokens(1, 1)[1:-1]
    with pytest.raises(ValueError, match="valid splits: train, test"):
        release.split("val")


def test_mtlaqa_gz_captions_lf_endings_and_no_captions(tmp_path):
    gz = load_mtlaqa_release(write_mtlaqa_text(tmp_path / "gz", captions="gz", crlf=False))
    plain = load_mtlaqa_release(write_mtlaqa_text(tmp_path / "plain"))
    pd.testing.assert_frame_equal(gz.labels, plain.labels)
    assert gz.captions == plain.captions and gz.files[-1].endswith("captions.jsonl.gz")
    bare = load_mtlaqa_release(write_mtlaqa_text(tmp_path / "bare", captions=False))
    assert bare.captions is None
    with pytest.raises(DataError, match=r"has no commentary.*captions\.jsonl"):
        bare.tokens("01_01")
    assert load_mtlaqa_release(tmp_path / "plain", captions=False).captions is None


@pytest.mark.parametrize("kwargs", [{}, {"numpy_values": True, "extra_fields": True}, {"protocol": 2}])
def test_mtlaqa_pickle_layout_matches_text(tmp_path, kwargs):
    text = load_mtlaqa_release(write_mtlaqa_text(tmp_path / "text"))
    pkl = load_mtlaqa_release(write_mtlaqa_pickles(tmp_path / "pkl", **kwargs))
    assert pkl.layout == "pickle" and detect_mtlaqa_layout(tmp_path / "pkl") == "pickle"
    pd.testing.assert_frame_equal(pkl.labels, text.labels)
    assert pkl.captions == text.captions


def test_mtlaqa_layout_detection_and_missing_files(tmp_path):
    both = write_mtlaqa_pickles(write_mtlaqa_text(tmp_path / "both"))
    with pytest.raises(DataError, match="both MTL-AQA layouts"):
        load_mtlaqa_release(both)
    assert load_mtlaqa_release(both, layout="pickle").layout == "pickle"
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError, match=r"No MTL-AQA label files in .*annotations\.csv.*final_annotations_dict"):
        load_mtlaqa_release(empty)
    with pytest.raises(DataError, match="Unknown MTL-AQA layout 'csv'"):
        load_mtlaqa_release(both, layout="csv")
    (tmp_path / "both" / "test.txt").unlink()
    with pytest.raises(DataError, match=r"MTL-AQA split file not found: .*test\.txt"):
        load_mtlaqa_release(both, layout="text")
    (tmp_path / "both" / "train_split_0.pkl").unlink()
    with pytest.raises(DataError, match=r"train_split_0\.pkl not found in .*Ready_2_Use"):
        load_mtlaqa_release(both, layout="pickle")
    with pytest.raises(DataError, match="does not exist"):
        load_mtlaqa_release(tmp_path / "nowhere")


def _rows_with(index, **changes):
    rows = [list(r) for r in MTLAQA_ROWS]
    for col, value in changes.items():
        rows[index][MTLAQA_COLUMNS.index(col)] = value
    return rows


@pytest.mark.parametrize(("changes", "message"), [
    ({"difficulty": "nan"}, r"line 3: column 'difficulty' is 'nan' \(NaN / Inf\)"),
    ({"final_score": "good"}, r"line 3: column 'final_score' is not a number \('good'\)"),
    ({"ss_no": 2.5}, r"line 3: column 'ss_no' must be an integer, got '2.5'"),
    ({"position": 3}, r"line 3: position = '3' is not one of the release's codes \[0, 1, 2\]"),
    ({"rotation_type": 4}, r"rotation_type = '4' is not one of the release's codes"),
    ({"end_frame": 10036}, r"line 3: end_frame 10036 is not after start_frame 10036"),
    ({"difficulty": 0}, r"difficulty \(DD\) '0' must be positive"),
    ({"final_score": -1}, r"final_score '-1' is negative"),
    ({"clip": 1}, r"sample '01_01' \(video, clip\) is annotated twice"),
])
def test_mtlaqa_bad_annotation_values(tmp_path, changes, message):
    folder = write_mtlaqa_text(tmp_path, rows=_rows_with(1, **changes), captions=False)
    with pytest.raises(DataError, match=message):
        load_mtlaqa_release(folder)


def test_mtlaqa_bad_text_files(tmp_path):
    folder = write_mtlaqa_text(tmp_path)
    path = folder / "annotations.csv"
    good = path.read_bytes()
    path.write_text(MTLAQA_HEADER.replace("difficulty", "dd") + "\n1,1,0,1,2,0,3.0,0,0,1,0,50\n")
    with pytest.raises(DataError, match=r"annotations\.csv: header does not match the MTL-AQA annotations format"):
        read_mtlaqa_annotations(path)
    path.write_text(MTLAQA_HEADER + "\n1,1,0,1,2,0,3.0\n")
    with pytest.raises(DataError, match=r"line 2: 7 fields, expected 12"):
        read_mtlaqa_annotations(path)
    path.write_bytes(b"\xff\xfe\x00binary")
    with pytest.raises(DataError, match="not UTF-8 text"):
        read_mtlaqa_annotations(path)
    path.write_bytes(good)
    split = folder / "train.txt"
    split.write_text("1 1\n1 3\n")
    with pytest.raises(DataError, match=r"train\.txt: header does not match the MTL-AQA split format.*'video clip'"):
        read_mtlaqa_split(split)
    split.write_text("video clip\n1 1\n1 one\n")
    with pytest.raises(DataError, match=r"train\.txt, line 3: expected two non-negative integers"):
        read_mtlaqa_split(split)
    split.write_text("video clip\n1 1\n1 1\n")
    with pytest.raises(DataError, match=r"line 3: sample \(video 1, clip 1\) is listed twice"):
        read_mtlaqa_split(split)
    split.write_text("video clip\n1 1\n9 9\n")
    with pytest.raises(DataError, match=r"train\.txt: samples without an annotation .*1 of 2 videos missing \('09_09'\)"):
        load_mtlaqa_release(folder)
    split.write_text("video clip\n1 1\n1 3\n")
    with pytest.raises(DataError, match=r"\(video 1, clip 3\) is in both the train and the test split"):
        load_mtlaqa_release(folder)


def test_mtlaqa_bad_captions(tmp_path):
    folder = write_mtlaqa_text(tmp_path)
    path = folder / "captions.jsonl"
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines[1:]) + "\n")  # the first sample has no commentary
    with pytest.raises(DataError, match=r"captions\.jsonl: commentary: 1 of 6 videos missing \('01_01'\)"):
        load_mtlaqa_release(folder)
    path.write_text(lines[0] + "\n{not json\n")
    with pytest.raises(DataError, match=r"line 2: not a JSON object"):
        read_mtlaqa_captions(path)
    path.write_text('{"video": 1, "clip": 1, "tokens": []}\n')
    with pytest.raises(DataError, match="line 1: the commentary must be a non-empty list of tokens"):
        read_mtlaqa_captions(path)
    path.write_text('{"video": 1, "clip": 1, "tokens": ["a", " "]}\n')
    with pytest.raises(DataError, match=r"line 1: commentary token ' ' is not a non-empty string"):
        read_mtlaqa_captions(path)
    path.write_text('{"video": "1", "clip": 1, "tokens": ["a"]}\n')
    with pytest.raises(DataError, match="video and clip must be non-negative integers"):
        read_mtlaqa_captions(path)
    path.write_text(lines[0] + "\n" + lines[0] + "\n")
    with pytest.raises(DataError, match=r"line 2: sample \(video 1, clip 1\) appears twice"):
        read_mtlaqa_captions(path)
    gz = folder / "captions.jsonl.gz"
    gz.write_bytes(b"not gzip at all")
    with pytest.raises(DataError, match=r"captions\.jsonl\.gz is not a readable gzip file"):
        read_mtlaqa_captions(gz)


class _Boom:
    """Unpickling this would call os.system: the restricted unpickler must refuse before calling it."""

    def __reduce__(self):
        import os

        return (os.system, ("echo pwned > PWNED",))


def test_mtlaqa_restricted_unpickler_refuses_code(tmp_path, monkeypatch):
    import pickle

    monkeypatch.chdir(tmp_path)
    folder = write_mtlaqa_pickles(tmp_path / "pkl")
    path = folder / "final_annotations_dict.pkl"
    path.write_bytes(pickle.dumps({(1, 1): _Boom()}))
    with pytest.raises(DataError, match=r"refers to (posix|nt|os)\.system, which this reader does not load"):
        load_mtlaqa_release(folder)
    assert not (tmp_path / "PWNED").exists()
    path.write_bytes(pickle.dumps({(1, 1): pd.Timestamp("2020-01-01")}))
    with pytest.raises(DataError, match="does not load"):
        read_restricted_pickle(path)
    assert read_restricted_pickle(folder / "train_split_0.pkl") == list(MTLAQA_TRAIN)
    path.write_bytes(pickle.dumps({(1, 1): {"a": 1}})[:-5])  # truncated
    with pytest.raises(DataError, match="is not a readable pickle"):
        read_restricted_pickle(path)
    with pytest.raises(DataError, match="Pickle file not found"):
        read_restricted_pickle(folder / "missing.pkl")


@pytest.mark.parametrize(("name", "obj", "message"), [
    ("final_annotations_dict.pkl", [1, 2], r"holds list, not a dict \{\(video, clip\)"),
    ("final_annotations_dict.pkl", {"1_1": {}}, r"key '1_1' is not a \(video, clip\) pair"),
    ("final_annotations_dict.pkl", {(1, 1): {"final_score": 3.0}}, r"sample \(1, 1\): fields \['primary_view'"),
    ("final_annotations_dict.pkl", {(1, 1): 3.0}, r"sample \(1, 1\): value is float, not a dict"),
    ("train_split_0.pkl", {(1, 1): 0}, r"holds dict, not a list of \(video, clip\) tuples"),
    ("train_split_0.pkl", [(1, 1), (1, 1)], r"entry 1: sample \(video 1, clip 1\) is listed twice"),
    ("final_captions_dict.pkl", {(1, 1): "a b c"}, r"sample \(1, 1\): the commentary must be a non-empty list"),
])
def test_mtlaqa_pickle_structure_errors(tmp_path, name, obj, message):
    import pickle

    folder = write_mtlaqa_pickles(tmp_path)
    (folder / name).write_bytes(pickle.dumps(obj))
    with pytest.raises(DataError, match=message):
        load_mtlaqa_release(folder)


def test_mtlaqa_packaged_copy_is_the_official_split():
    release = packaged_mtlaqa()
    assert release.layout == "packaged"
    assert (len(release.split("train")), len(release.split("test"))) == (1059, 353)
    assert len(release.captions) == 1412 and release.labels["name"].is_unique
    assert release.labels["name"].iloc[0] == "18_67"  # first line of train.txt
    assert release.labels["final_score"].between(0, 104.5).all()
    assert release.labels["difficulty"].between(1.5, 4.1).all()
    n_frames = release.labels["end_frame"] - release.labels["start_frame"]
    assert (n_frames.min(), n_frames.max()) == (54, 273)
    assert all(t[0] == "<sos>" and t[-1] == "<eos>" for t in release.captions.values())
    release.labels.loc[0, "final_score"] = -5.0  # a fresh copy each call
    release.captions["18_67"].append("x")
    again = packaged_mtlaqa()
    assert again.labels.loc[0, "final_score"] >= 0 and again.captions["18_67"][-1] == "<eos>"


# ---------------------------------------------------------------------------------------------------------
# Real data (AQA_SHARED_DATA=/work/shared/data or equivalent)
# ---------------------------------------------------------------------------------------------------------


def _shared() -> Path:
    root = os.environ.get("AQA_SHARED_DATA")
    if not root:
        pytest.skip("AQA_SHARED_DATA is not set")
    return Path(root)


@pytest.mark.real_data
@pytest.mark.parametrize("target,col", [("TES", 1), ("PCS", 2)])
def test_real_fisv_vst_features(target, col):
    shared = _shared()
    data = load_real(FISV, target, shared / "fisv" / "vst_fp16")
    assert (len(data.train), len(data.test)) == (400, 100)
    lengths = np.concatenate([data.train.lengths, data.test.lengths])
    assert (lengths.min(), lengths.max()) == (124, 302)
    for split in (data.train, data.test):
        assert all(x.dtype == np.float32 and x.shape[1] == 1024 for x in split.features["rgb"])
    for split, name in ((data.train, "train.txt"), (data.test, "test.txt")):
        frame = pd.read_csv(shared / "fisv" / name, sep=r"\s+", header=None)
        assert split.names == frame[0].astype(str).tolist()
        np.testing.assert_allclose(split.labels, frame[col].to_numpy() / 45, rtol=1e-6)
    assert not data.meta["labels_packaged"]
    assert re.match(
        r"REAL features: Fis-V VST RGB \(GDLT per-video format\) from .*400 train / 100 test$",
        data.provenance,
    )


@pytest.mark.real_data
def test_real_rg_and_fisv_label_files():
    shared = _shared()
    train, test = read_rg_labels(shared / "rg" / "train.txt"), read_rg_labels(shared / "rg" / "test.txt")
    assert (len(train), len(test)) == (800, 200)
    assert train["apparatus"].value_counts().to_dict() == {
        a: 200 for a in ("Ball", "Clubs", "Hoop", "Ribbon")
    }
    assert test["apparatus"].value_counts().to_dict() == {a: 50 for a in ("Ball", "Clubs", "Hoop", "Ribbon")}
    np.testing.assert_allclose(
        train["total"], train["difficulty"] + train["execution"] - train["penalty"], atol=0.011
    )
    fisv = read_fisv_labels(shared / "fisv" / "train.txt")
    assert len(fisv) == 400 and fisv["name"].iloc[0] == "1"


@pytest.mark.real_data
def test_real_mtlaqa_conversion_matches_the_packaged_copy():
    """The shipped MTL-AQA files are the released plain-text conversion, values and order unchanged."""
    import gzip

    from aqa_lib.paths import PACKAGE_DATA

    shared = _shared() / "mtlaqa"
    for name in ("annotations.csv", "train.txt", "test.txt"):
        assert (PACKAGE_DATA / "mtlaqa" / name).read_bytes() == (shared / name).read_bytes()
    packed = gzip.decompress((PACKAGE_DATA / "mtlaqa" / "captions.jsonl.gz").read_bytes())
    assert packed == (shared / "captions.jsonl").read_bytes()
    real = load_mtlaqa_release(shared)
    pd.testing.assert_frame_equal(real.labels, packaged_mtlaqa().labels)
