"""papers_tables/: well-formed tidy tables, complete index, and Fisher-z-consistent averages."""

import re

import pandas as pd
import pytest

from aqa_lib import tables
from aqa_lib.data.registry import DATASETS

INDEX = tables.index()
ALL = tables.all_reported()


SOURCES = {
    "lmac": {"lmac-net.txt"},
    "pamfn": {"pamfn.txt"},
    "mlavl": {"mlavl-supplementary.txt", "mlavl-reading-notes.txt"},
    "vatp": {"vatp-net.txt"},
}


def test_index_columns_and_papers():
    assert list(INDEX.columns) == ["paper", "table", "caption", "source_file", "note"]
    assert set(INDEX["paper"]) == set(tables.PAPERS)
    assert not INDEX.duplicated(["paper", "table"]).any()
    assert INDEX["caption"].str.strip().ne("").all(), INDEX[INDEX["caption"].str.strip() == ""]
    wrong = INDEX[
        [src not in SOURCES[paper] for paper, src in zip(INDEX["paper"], INDEX["source_file"], strict=True)]
    ]
    assert wrong.empty, f"unknown source_file:\n{wrong.to_string()}"


@pytest.mark.parametrize(
    "paper,expected",
    [
        ("lmac", [f"table{i}" for i in range(2, 10)]),
        ("pamfn", [f"table{r}" for r in ["I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX"]]),
        (
            "vatp",
            [f"table{r}" for r in ["I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI", "XII"]],
        ),
        ("mlavl", [f"table{i}" for i in range(1, 6)] + [f"supp_table{i}" for i in range(1, 7)]),
    ],
)
def test_every_known_table_is_indexed(paper, expected):
    indexed = set(INDEX.loc[INDEX["paper"] == paper, "table"])
    assert set(expected) <= indexed, f"{paper}: not indexed: {sorted(set(expected) - indexed)}"


def test_every_csv_is_indexed_and_every_rowless_table_explained():
    root = tables.tables_dir()
    files = {(p.parent.name, p.stem) for p in root.glob("*/*.csv")}
    indexed = set(zip(INDEX["paper"], INDEX["table"], strict=True))
    assert files <= indexed, f"CSV files missing from index.csv: {sorted(files - indexed)}"
    for paper, table in indexed - files:
        note = INDEX.loc[(INDEX["paper"] == paper) & (INDEX["table"] == table), "note"].iloc[0]
        assert note.strip(), f"{paper}/{table} has no rows and no note saying why"


def test_rows_are_tidy():
    known = set(DATASETS) | set(tables.OTHER_TASK_DATASETS)
    assert set(ALL["dataset"]) <= known, set(ALL["dataset"]) - known
    assert ALL["method"].str.strip().ne("").all()
    assert ALL["metric"].map(lambda m: bool(re.fullmatch(r"[a-z][a-z0-9_]*", m))).all()
    dup = ALL.duplicated(["paper", "table", *tables.KEY], keep=False)
    assert not dup.any(), ALL[dup].head(10).to_string()
    sp = ALL[ALL["metric"] == "spearman"]
    assert sp["value"].between(-1, 1).all(), sp[~sp["value"].between(-1, 1)].to_string()
    assert (ALL.loc[ALL["metric"] == "mse", "value"] >= 0).all()


def test_reported_loader_and_errors():
    frame = tables.reported("pamfn", "tableI")
    assert {"method", "value", "decimals"} <= set(frame.columns) and len(frame) > 0
    with pytest.raises(ValueError, match="Unknown paper 'nope'; valid papers: lmac"):
        tables.reported("nope", "table1")
    with pytest.raises(ValueError, match="valid tables"):
        tables.reported("lmac", "table99")


def test_rowless_table_returns_empty_frame_with_note():
    # LMAC-Net Tables 4 and 9 are images in the source text: indexed, no CSV, a note says why.
    for table in ("table4", "table9"):
        assert not (tables.tables_dir() / "lmac" / f"{table}.csv").exists()
        frame = tables.reported("lmac", table)
        assert frame.empty and "image" in frame.attrs["note"]


def test_decimals_follow_the_printed_value():
    frame = tables.reported("vatp", "tableXI")
    row = frame[(frame["method"] == "TPT") & (frame["target"] == "TES")].iloc[0]
    assert row["value"] == pytest.approx(0.570) and row["decimals"] == 3


def _key(frame: pd.DataFrame) -> pd.Series:
    cols = ["paper", "table", "method", "variant", "features", "dataset", "target"]
    return frame[cols].astype(str).agg("|".join, axis=1)


def test_fisher_z_averages_match_or_are_documented_exceptions():
    check = tables.fisher_z_check(ALL)
    assert len(check) > 50, "expected many reported Avg. entries to check"
    exc = tables.exceptions()
    assert list(exc.columns) == [
        "paper",
        "table",
        "method",
        "variant",
        "features",
        "dataset",
        "target",
        "reason",
    ]
    assert not _key(exc).duplicated().any(), "duplicate exception entries"
    assert (exc["reason"].str.strip() != "").all(), "every exception needs a reason"
    documented = set(_key(exc))
    bad = check[~check["ok"]]
    undocumented = bad[~_key(bad).isin(documented)]
    assert undocumented.empty, (
        "Avg. entries that are not the Fisher-z mean of their classes (fix the transcription or document "
        "them in papers_tables/fisherz_exceptions.csv):\n"
        + undocumented[
            ["paper", "table", "method", "variant", "dataset", "reported", "recomputed"]
        ].to_string()
    )
    # No stale exceptions: each documented entry is a real mismatch of an existing row.
    stale = set(_key(exc)) - set(_key(bad))
    assert not stale, f"exceptions that no longer mismatch or do not exist: {sorted(stale)}"
    # Each reason quotes the value the paper prints, so a reason cannot silently drift from the data.
    sp = ALL[ALL["metric"] == "spearman"]
    printed = {k: f"{v:.{int(d)}f}" for k, v, d in zip(_key(sp), sp["value"], sp["decimals"], strict=True)}
    for key, reason in zip(_key(exc), exc["reason"], strict=True):
        assert f"prints {printed[key]}" in reason, (
            f"reason for {key} does not quote the printed value {printed[key]}"
        )


def test_fisher_z_check_detects_a_planted_error():
    frame = ALL.copy()
    i = frame.index[(frame["metric"] == "spearman") & (frame["target"] == "Avg.")][0]
    frame.loc[i, "value"] = frame.loc[i, "value"] - 0.05
    check = tables.fisher_z_check(frame)
    assert not check["ok"].all()


def test_row_labels_disambiguate_shared_variant_strings():
    frame = pd.DataFrame({"method": ["Weighted Fusion", "PAMFN", "Unimodality", "GDLT"],
                          "variant": ["RGB+Flow", "RGB+Flow", "RGB", ""]})
    assert list(tables.row_labels(frame)) == ["Weighted Fusion: RGB+Flow", "PAMFN: RGB+Flow", "RGB", "GDLT"]


def test_pamfn_table_ix_highlight_detection_is_transcribed():
    """PAMFN's generalisation table (Sec. IV-G): mAP per YouTube Highlights topic, reported only."""
    frame = tables.reported("pamfn", "tableIX")
    assert set(frame["dataset"]) == {"youtube_highlights"} and set(frame["metric"]) == {"map"}
    topics = ["Dog", "Gymnastics", "Parkour", "Skating", "Skiing", "Surfing"]
    assert set(frame["target"]) == {*topics, "Avg."}
    assert len(frame) == 16 * 7  # 12 other methods and PAMFN's four rows (three branches, the full model)
    assert frame["value"].between(0, 1).all()
    label = tables.row_labels(frame)
    full = frame[label == "RGB+Audio+Flow"].set_index("target")["value"]
    umt = frame[frame["method"] == "UMT"].set_index("target")["value"]
    # The prose: "comparable results to ... UMT (0.749 vs. 0.747)" and gains of 0.066, 0.127, 0.127 over the
    # modality-specific branches.
    assert umt["Avg."] == pytest.approx(0.749) and full["Avg."] == pytest.approx(0.747)
    branches = {m: frame[label == m].set_index("target")["value"]["Avg."] for m in ("RGB", "Flow", "Audio")}
    assert [round(full["Avg."] - branches[m], 3) for m in ("RGB", "Flow", "Audio")] == [0.066, 0.127, 0.127]
    # The Average column is the arithmetic mean of the six topics (to the printed precision), except where
    # the row's note says the printed average is not (GIFs, PLD, CO-AV: kept as printed).
    off = set()
    for key, rows in frame.groupby(label):
        avg = rows[rows["target"] == "Avg."].iloc[0]
        mean = rows.set_index("target")["value"][topics].mean()
        if abs(mean - avg["value"]) > 1e-3 + 1e-6:
            off.add(key)
            assert f"not the mean of the six printed topics ({mean:.4f})" in avg["note"], key
    assert off == {"GIFs", "PLD", "CO-AV"}
