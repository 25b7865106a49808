"""The write-up bundle (``python -m aqa_lib.writeup``): tables as Markdown / LaTeX, figures as PNG + PDF, the
bibliography, one static HTML page whose links resolve, clear errors on bad input, and the page in a real
headless browser (skipped when none is installed).

No notebook is executed here (a papermill run costs 20 s or more): a "run" is simulated in-process with the
same calls a notebook makes (``check_params``, ``show_table``, ``save_figure``) under the environment the
write-up sets, plus an executed copy carrying papermill's metadata.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import nbformat
import numpy as np
import pandas as pd
import pytest

from aqa_lib import notebook as nbmod
from aqa_lib import writeup
from aqa_lib.notebook import FIGURE_FORMATS_ENV, TABLES_ENV, check_params, save_figure, show_table
from aqa_lib.writeup import DATASET_KEYS, PAPER_KEYS, WriteupError

ROOT = Path(__file__).resolve().parents[1]
PAPERS = ROOT.parent / "shared" / "papers"
PROVENANCE = "reported: LMAC-Net paper; ours: SYNTHETIC data (test generator, scale=smoke): not the paper's data"
COMPARE_TITLE = "Table 5 (fisv): share_inside 50% & more, Spearman ρ"


def _compare_frame() -> pd.DataFrame:
    """A reported-vs-reproduced table as the notebooks show it (strings, MultiIndex columns, a named index)."""
    cols = pd.MultiIndex.from_tuples([("here", ""), ("TES", "reported"), ("TES", "papers"), ("TES", "last"),
                                      ("Avg.", "reported"), ("Avg.", "papers"), ("Avg.", "last")])
    rows = [["trained", "0.685", "0.500 ± 0.141", "-0.412 ± 0.020", "0.761", "0.637", "0.600"],
            ["reported only", "0.700", "—", "—", "0.720", "—", "—"]]
    return pd.DataFrame(rows, columns=cols, index=pd.Index(["GDLT_v2 & co", "M-BERT (Late) 100%"], name="method"))


def _numeric_frame() -> pd.DataFrame:
    return pd.DataFrame({"variant": ["a_b", "c"], "n_train": [32, 16], "distance_s": [3.14159, np.nan],
                         "note": ["", "x"]})


def _fake_run(executed_dir: Path, name: str, start: datetime, *, scale: str = "smoke", failed: bool = False) -> Path:
    """An executed notebook with the metadata papermill writes (what the write-up reads of a run)."""
    end = datetime.now(UTC) + timedelta(seconds=1)
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_code_cell("print('ran')"))
    nb.metadata["papermill"] = {"parameters": {"scale": scale}, "start_time": start.isoformat(),
                                "end_time": end.isoformat(), "duration": (end - start).total_seconds(),
                                "exception": True if failed else None}
    executed_dir.mkdir(parents=True, exist_ok=True)
    path = executed_dir / f"{name}.ipynb"
    nbformat.write(nb, path)
    return path


def _notebook_body(name: str = "data_tour") -> None:
    """What a notebook does: resolve parameters, show two tables, save one figure."""
    check_params({"dataset": "fisv", "source": "synthetic", "scale": "smoke", "seeds": "[0, 1]"}, notebook=name)
    show_table(_compare_frame(), title=COMPARE_TITLE, provenance=PROVENANCE)
    show_table(_numeric_frame(), title="Attention centres (test videos)", provenance="SYNTHETIC data (test)",
               precision=2)
    fig, ax = plt.subplots(figsize=(3, 2))
    ax.bar([0, 1], [0.7, 0.5])
    ax.set_title("Demo bars")
    save_figure(fig, "demo_bars", provenance="SYNTHETIC data (test)")
    plt.close(fig)


@pytest.fixture(scope="module")
def simulated_run(tmp_path_factory):
    """Folders of one simulated run of ``data_tour`` (tables, figures, executed notebook), written under the
    environment the write-up sets, plus a stale table from an earlier run and another notebook's figure."""
    base = tmp_path_factory.mktemp("simulated_run")
    d = {k: base / k for k in ("tables", "figures", "executed")}
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(TABLES_ENV, str(d["tables"]))
        mp.setenv(FIGURE_FORMATS_ENV, "png,pdf")
        mp.setenv("AQA_FIGURES_DIR", str(d["figures"]))
        # an earlier run's table: same folder, dated before the last run, so it must be left out
        check_params({"dataset": "fisv", "scale": "smoke"}, notebook="data_tour")
        old = nbmod.save_table(_numeric_frame(), title="Stale table from an earlier run",
                               provenance="SYNTHETIC data (x)")
        sidecar = json.loads(old.with_suffix(".json").read_text())
        sidecar["date"] = "2020-01-01T00:00:00+00:00"
        old.with_suffix(".json").write_text(json.dumps(sidecar))
        start = datetime.now(UTC) - timedelta(seconds=1)
        _notebook_body()
        _fake_run(d["executed"], "data_tour", start)
        # another notebook's figure in the same folder must not join data_tour's section
        check_params({"dataset": "fisv", "scale": "smoke"}, notebook="case_study")
        fig, _ = plt.subplots(figsize=(2, 2))
        save_figure(fig, "other_notebook_figure", provenance="SYNTHETIC data (test)")
        plt.close(fig)
    return base


@pytest.fixture
def dirs(simulated_run, tmp_path, monkeypatch):
    """A private copy of :func:`simulated_run`'s folders (``report`` not yet written); figures go there too."""
    d = {k: tmp_path / k for k in ("tables", "figures", "executed", "report")}
    for key in ("tables", "figures", "executed"):
        shutil.copytree(simulated_run / key, d[key])
    monkeypatch.setenv("AQA_FIGURES_DIR", str(d["figures"]))
    monkeypatch.delenv(TABLES_ENV, raising=False)
    monkeypatch.delenv(FIGURE_FORMATS_ENV, raising=False)
    return d


def _build(d, names=("data_tour",), **kwargs):
    bundle = writeup.collect(list(names), tables_dir=d["tables"], figures_dir=d["figures"],
                             executed_dir=d["executed"], **kwargs)
    writeup.build(bundle, d["report"])
    return bundle


# --------------------------------------------------------------------------------------------------------------
# What the notebooks write: show_table / save_figure extensions
# --------------------------------------------------------------------------------------------------------------


def test_show_table_writes_csv_and_sidecar_only_when_asked(dirs, tmp_path, monkeypatch):
    sidecars = {json.loads(p.read_text())["title"]: json.loads(p.read_text()) for p in dirs["tables"].glob("*.json")}
    meta = sidecars[COMPARE_TITLE]
    assert meta["provenance"] == PROVENANCE and meta["data"] == "synthetic" and meta["notebook"] == "data_tour"
    assert meta["scale"] == "smoke" and meta["seeds"] == [0, 1] and meta["index_columns"] == 1
    assert meta["columns"][:3] == [["", "method"], ["here", ""], ["TES", "reported"]]
    assert meta["stem"].startswith("data_tour__") and meta["stem"].endswith("_smoke_seeds0-1")
    csv_text = (dirs["tables"] / meta["csv"]).read_text().splitlines()
    assert csv_text[0] == "method,here,TES / reported,TES / papers,TES / last,Avg. / reported,Avg. / papers,Avg. / last"
    numeric = pd.read_csv(dirs["tables"] / sidecars["Attention centres (test videos)"]["csv"])
    assert numeric["distance to nearest element (s)"].iloc[0] == pytest.approx(3.14159)  # full precision
    assert numeric["distance to nearest element (s)"].isna().iloc[1]  # missing stays missing
    # without the variable nothing is written, and the figure is PNG only (today's behaviour)
    monkeypatch.delenv(TABLES_ENV, raising=False)
    monkeypatch.delenv(FIGURE_FORMATS_ENV, raising=False)
    before = sorted(dirs["tables"].iterdir())
    show_table(_numeric_frame(), title="Not written", provenance="SYNTHETIC data (test)")
    assert sorted(dirs["tables"].iterdir()) == before
    fig, _ = plt.subplots(figsize=(2, 2))
    path = save_figure(fig, "png_only", provenance="SYNTHETIC data (test)", directory=tmp_path / "f")
    plt.close(fig)
    assert [p.name for p in sorted((tmp_path / "f").glob("png_only*"))] == [path.name]
    with pytest.raises(ValueError, match="provenance"):
        nbmod.save_table(_numeric_frame(), title="t", provenance=" ", directory=tmp_path)
    with pytest.raises(ValueError, match="nowhere to write"):
        nbmod.save_table(_numeric_frame(), title="t", provenance="SYNTHETIC data (test)")


def test_figure_formats_and_their_errors(monkeypatch):
    monkeypatch.delenv(FIGURE_FORMATS_ENV, raising=False)
    assert nbmod.figure_formats() == ["png"]
    monkeypatch.setenv(FIGURE_FORMATS_ENV, "pdf, png")
    assert nbmod.figure_formats() == ["png", "pdf"]
    assert nbmod.figure_formats(["svg"]) == ["png", "svg"]
    monkeypatch.setenv(FIGURE_FORMATS_ENV, "png,jpg")
    with pytest.raises(ValueError, match=r"AQA_FIGURE_FORMATS.*'jpg'.*png, pdf, svg"):
        nbmod.figure_formats()


def test_save_figure_writes_a_deterministic_vector_pdf_and_records_provenance(dirs, tmp_path):
    pdf = dirs["figures"] / "demo_bars_smoke_seeds0-1.pdf"
    assert pdf.read_bytes()[:5] == b"%PDF-" and b"CreationDate" not in pdf.read_bytes()
    rows = (dirs["figures"] / nbmod.FIGURE_PROVENANCE).read_text()
    assert "demo_bars_smoke_seeds0-1.png,data_tour,1,Demo bars,SYNTHETIC data (test)" in rows
    again = []
    for _ in range(2):
        fig, ax = plt.subplots(figsize=(2, 2))
        ax.plot([0, 1])
        save_figure(fig, "same", provenance="SYNTHETIC data (test)", directory=tmp_path / "g", formats="pdf",
                    params={"scale": "smoke"}, notebook="nb")
        plt.close(fig)
        again.append((tmp_path / "g" / "same_smoke.pdf").read_bytes())
    assert again[0] == again[1]


# --------------------------------------------------------------------------------------------------------------
# The bundle
# --------------------------------------------------------------------------------------------------------------


def test_bundle_has_markdown_latex_png_pdf_for_the_last_run_only(dirs):
    bundle = _build(dirs)
    assert [t.title for t in bundle.tables] == [COMPARE_TITLE, "Attention centres (test videos)"]  # no stale table
    assert [f.name for f in bundle.figures] == ["demo_bars_smoke_seeds0-1.png"]  # not case_study's figure
    report = dirs["report"]
    stem = bundle.tables[0].stem
    md = (report / "tables" / f"{stem}.md").read_text()
    assert "| method | here | TES / reported | TES / papers | TES / last |" in md
    assert "| GDLT\\_v2 & co | trained | 0.685 | 0.500 ± 0.141 | -0.412 ± 0.020 |" in md
    assert "*Data (synthetic):*" in md and "smoke scale" in md and "seeds 0, 1 (mean ± std over seeds)" in md
    assert "papers = our run's best test epoch" in md and "not a reproduction" in md
    numeric_md = (report / "tables" / f"{bundle.tables[1].stem}.md").read_text()
    assert "| a\\_b | 32 | 3.14 |  |" in numeric_md and "| c | 16 | — | x |" in numeric_md  # precision 2; gaps
    for name in ("demo_bars_smoke_seeds0-1.png", "demo_bars_smoke_seeds0-1.pdf"):
        data = (report / "figures" / name).read_bytes()
        assert data[:4] == (b"\x89PNG" if name.endswith("png") else b"%PDF")
    assert (report / "notebooks" / "data_tour.ipynb").exists()
    manifest = json.loads((report / "manifest.json").read_text())
    assert {t["stem"] for t in manifest["tables"]} == {t.stem for t in bundle.tables}
    assert all(t["data"] == "synthetic" and t["scale"] == "smoke" for t in manifest["tables"])


def test_latex_uses_booktabs_and_escapes_special_characters(dirs):
    bundle = _build(dirs)
    tex = (dirs["report"] / "tables" / f"{bundle.tables[0].stem}.tex").read_text()
    body = [line for line in tex.splitlines() if not line.lstrip().startswith("%")]
    text = "\n".join(body)
    for rule in (r"\toprule", r"\midrule", r"\bottomrule", r"\cmidrule(lr){3-5}", r"\multicolumn{3}{c}{TES}"):
        assert rule in text
    assert text.index(r"\toprule") < text.index(r"\midrule") < text.index(r"\bottomrule")
    assert r"share\_inside 50\% \& more, Spearman \ensuremath{\rho}" in text
    assert r"GDLT\_v2 \& co & trained & 0.685 & 0.500 \ensuremath{\pm} 0.141 & \ensuremath{-}0.412" in text
    assert r"M-BERT (Late) 100\%" in text
    unescaped = [line for line in body  # (a "%" ending a line is LaTeX's own line-end comment)
                 if re.search(r"(?<!\\)[_%&#$]", re.sub(r"\{%$", "{", line.replace(" & ", " ")))]
    assert not unescaped, unescaped
    assert "±" not in text and "ρ" not in text and "—" not in text
    # every tabular row has as many cells as the column spec
    spec = re.search(r"\\begin\{tabular\}\{@\{\}([lr]+)@\{\}\}", text).group(1)
    rows = [line for line in body if line.rstrip().endswith(r"\\") and "multicolumn" not in line]
    assert rows and all(len(re.split(r"(?<!\\)&", r)) == len(spec) for r in rows)
    assert r"\cite{" + DATASET_KEYS["fisv"] + "}" in text  # the dataset the table was computed on (a stand-in)
    assert writeup.latex_escape("a_b%c&d±e ρ — #$ {x} ~^\\") == (
        r"a\_b\%c\&d\ensuremath{\pm}e \ensuremath{\rho} --- \#\$ \{x\} \textasciitilde{}\textasciicircum{}"
        r"\textbackslash{}")


def _parse_bib(text: str) -> dict[str, dict[str, str]]:
    """A small BibTeX reader: ``{key: {field: value}}``; fails on unbalanced braces or a malformed field."""
    entries: dict[str, dict[str, str]] = {}
    for match in re.finditer(r"^@(\w+)\{([^,\s]+),\s*$", text, flags=re.M):
        i, depth = match.end(), 1
        while depth:
            assert i < len(text), f"unbalanced braces in {match.group(2)}"
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            i += 1
        body, fields, pos = text[match.end():i - 1], {"_type": match.group(1)}, 0
        while True:
            m = re.compile(r"\s*(\w+)\s*=\s*\{").match(body, pos)
            if not m:
                assert not body[pos:].strip(" ,\n"), f"cannot read {body[pos:]!r} in {match.group(2)}"
                break
            j, depth = m.end(), 1
            while depth:
                depth += {"{": 1, "}": -1}.get(body[j], 0)
                j += 1
            fields[m.group(1)] = body[m.end():j - 1]
            pos = j + 1 if j < len(body) and body[j] == "," else j
        assert match.group(2) not in entries, f"duplicate key {match.group(2)}"
        entries[match.group(2)] = fields
    return entries


def test_references_bib_parses_with_the_expected_keys(dirs):
    _build(dirs)
    text = (dirs["report"] / "references.bib").read_text()
    entries = _parse_bib(text)
    assert set(entries) == set(PAPER_KEYS.values()) | set(DATASET_KEYS.values())
    for key, fields in entries.items():
        assert fields["title"], key
        if fields["_type"] != "misc":
            assert {"author", "year"} <= set(fields), key
            assert re.fullmatch(r"20\d\d", fields["year"]), key
    cited = set(re.findall(r"\\cite\{([^}]+)\}", (dirs["report"] / "tables.tex").read_text()))
    assert cited and cited <= set(entries)


def test_bibliographic_facts_come_from_the_papers_texts():
    if not PAPERS.is_dir():
        pytest.skip(f"the papers' texts are not here ({PAPERS})")
    corpus = re.sub(r"\s+", " ", " ".join(p.read_text() for p in PAPERS.glob("*.txt"))).lower()
    for ref in writeup.REFERENCES:
        title = re.sub(r"[{}]", "", ref.title).lower()
        assert title in corpus, f"{ref.key}: title not found in the papers' texts"
        pages = ref.get("pages").replace("--", "–")
        if pages:
            assert pages in corpus, f"{ref.key}: pages {pages} not found"
        for _, last in ref.authors:
            assert last.lower() in corpus, f"{ref.key}: author {last} not found"


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.ids: set[str] = set()
        self.tags: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append(tag)
        if attrs.get("id"):
            self.ids.add(attrs["id"])
        for key in ("href", "src"):
            if attrs.get(key):
                self.links.append(attrs[key])


def test_index_html_shows_every_table_and_figure_and_its_links_resolve(dirs):
    bundle = _build(dirs)
    page = (dirs["report"] / "index.html").read_text()
    parser = _Links()
    parser.feed(page)
    assert "script" not in parser.tags and not [u for u in parser.links if re.match(r"\w+://|//", u)]
    for t in bundle.tables:
        assert f"table-{t.stem}" in parser.ids
        assert {f"tables/{t.stem}.{ext}" for ext in ("md", "tex", "csv")} <= set(parser.links)
    for f in bundle.figures:
        assert f"figures/{f.name}" in parser.links and f"figures/{f.stem}.pdf" in parser.links
    assert "notebooks/data_tour.ipynb" in parser.links and "references.bib" in parser.links
    for link in parser.links:
        path, _, anchor = link.partition("#")
        if path:
            assert (dirs["report"] / path).is_file(), f"broken link {link}"
        else:
            assert anchor in parser.ids, f"broken anchor {link}"
    assert "Smoke scale: numbers meaningless" in page and PROVENANCE.replace("'", "&#x27;") in page
    assert page.count("<table class='booktabs'>") == len(bundle.tables)


# --------------------------------------------------------------------------------------------------------------
# Bad input, the command line and its run step
# --------------------------------------------------------------------------------------------------------------


def test_bad_input_gets_a_clear_error(dirs, tmp_path, capsys):
    empty = tmp_path / "empty_tables"
    empty.mkdir()
    with pytest.raises(WriteupError, match=r"No tables in .*empty_tables.*AQA_TABLES_OUT.*without --no-run"):
        writeup.collect(["data_tour"], tables_dir=empty, figures_dir=dirs["figures"], executed_dir=dirs["executed"])
    with pytest.raises(WriteupError, match=r"Unknown notebook 'data_tuor' \(did you mean 'data_tour'\?\)"):
        writeup.check_notebooks(["data_tuor"], writeup.available_notebooks())
    with pytest.raises(WriteupError, match=r"'ablation_losses' has no executed copy .* has not run yet"):
        _build(dirs, names=("data_tour", "ablation_losses"))
    with pytest.raises(WriteupError, match=r"data_tour \(smoke\) were not at scale 'quick'"):
        _build(dirs, scale="quick")
    with pytest.raises(WriteupError, match="No notebooks to write up"):
        _build(dirs, names=())
    (dirs["report"]).mkdir()
    (dirs["report"] / "thesis.tex").write_text("mine")
    with pytest.raises(WriteupError, match="not written by aqa_lib.writeup"):
        _build(dirs)
    assert (dirs["report"] / "thesis.tex").read_text() == "mine"  # never deleted
    common = ["--tables-dir", str(dirs["tables"]), "--notebooks-dir", str(dirs["executed"]),
              "--out", str(tmp_path / "r2")]
    assert writeup.main(["--no-run", "--only", "data_tuor", *common]) == 2
    assert "did you mean 'data_tour'" in capsys.readouterr().err
    assert writeup.main(["--no-run", "--only", "data_tour", "--tables-dir", str(empty), *common[2:]]) == 2
    assert "No tables in" in capsys.readouterr().err


def test_a_failed_run_is_named_and_left_out(dirs):
    _fake_run(dirs["executed"], "case_study", datetime.now(UTC) - timedelta(seconds=30), failed=True)
    bundle = _build(dirs, names=("data_tour", "case_study"))
    assert {t.notebook for t in bundle.tables} == {"data_tour"} and not [f for f in bundle.figures
                                                                       if f.notebook == "case_study"]
    assert any("failed" in n for n in bundle.notes["case_study"])
    assert "badge failed" in (dirs["report"] / "index.html").read_text()


def test_cli_runs_the_notebooks_with_tables_and_pdf_switched_on(dirs, tmp_path, monkeypatch, capsys):
    from aqa_lib import runner

    seen = {}

    def fake_run(books, *, scale, params, out_dir, jobs):
        seen.update(books=[b.stem for b in books], scale=scale, params=params, tables=os_env(TABLES_ENV),
                    formats=os_env(FIGURE_FORMATS_ENV), jobs=jobs)
        start = datetime.now(UTC) - timedelta(seconds=1)
        _notebook_body()
        _fake_run(out_dir, "data_tour", start)
        return 0

    def os_env(key):
        import os

        return os.environ.get(key)

    monkeypatch.setattr(runner, "run", fake_run)
    tables = tmp_path / "fresh_tables"
    rc = writeup.main(["--scale", "smoke", "--only", "data_tour", "-p", "seeds", "[0, 1]", "--tables-dir",
                       str(tables), "--notebooks-dir", str(tmp_path / "ex"), "--out", str(tmp_path / "rep"),
                       "--jobs", "2"])
    assert rc == 0, capsys.readouterr()
    assert seen == {"books": ["data_tour"], "scale": "smoke", "params": {"seeds": [0, 1]},
                    "tables": str(tables.resolve()), "formats": "png,pdf", "jobs": "2"}
    assert os_env(TABLES_ENV) is None and os_env(FIGURE_FORMATS_ENV) is None  # restored afterwards
    assert len(list((tmp_path / "rep" / "tables").glob("*.tex"))) == 2
    assert "2 tables, 1 figures from 1 notebooks" in capsys.readouterr().out
    # a rebuild replaces the folder it wrote
    assert writeup.main(["--no-run", "--only", "data_tour", "--tables-dir", str(tables), "--notebooks-dir",
                         str(tmp_path / "ex"), "--out", str(tmp_path / "rep")]) == 0


# --------------------------------------------------------------------------------------------------------------
# A real browser
# --------------------------------------------------------------------------------------------------------------

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
CHECK_SCRIPT = """<script>
window.addEventListener('load', function () {
  var imgs = Array.prototype.slice.call(document.images);
  document.title = 'CHECK ' + JSON.stringify({
    images: imgs.length,
    loaded: imgs.filter(function (i) { return i.complete && i.naturalWidth > 0; }).length,
    tables: document.querySelectorAll('table.booktabs').length,
    width: document.documentElement.scrollWidth});
});
</script>"""


def test_index_html_renders_in_a_headless_browser_with_its_images(dirs, tmp_path):
    browser = next((shutil.which(b) for b in BROWSERS if shutil.which(b)), None)
    if browser is None:
        pytest.skip("no Chromium / Chrome installed (Debian: apt-get install chromium) - browser check skipped")
    bundle = _build(dirs)
    page = dirs["report"] / "index.html"
    # A copy with a probe script beside the page (the page itself has no script): it reports, after load,
    # how many images decoded and how many tables rendered.
    probe = page.with_name("_browser_check.html")
    probe.write_text(page.read_text().replace("</body>", CHECK_SCRIPT + "</body>"))
    flags = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--window-size=1280,2400",
             "--virtual-time-budget=10000", f"--user-data-dir={tmp_path / 'profile'}"]
    done = subprocess.run([*flags, "--dump-dom", probe.as_uri()], capture_output=True, text=True, timeout=120)
    found = re.search(r"<title>CHECK (\{.*?\})</title>", done.stdout)
    assert found, f"the page did not load in {browser}: {done.stderr[-2000:]}"
    state = json.loads(found.group(1).replace("&quot;", '"'))
    assert state["images"] == len(bundle.figures) > 0 and state["loaded"] == state["images"], state
    assert state["tables"] == len(bundle.tables) and state["width"] <= 1280, state
    shot = tmp_path / "page.png"
    subprocess.run([*flags, f"--screenshot={shot}", page.as_uri()], capture_output=True, timeout=120)
    assert shot.exists() and shot.read_bytes()[:4] == b"\x89PNG"
