"""Reported vs reproduced: turn training results into the papers' table shapes, beside the papers' numbers.

Every notebook table is built in two steps:

1. :func:`reproduced_rows` turns :class:`~aqa_lib.train.RunResult` objects into tidy rows (``method,
   dataset, target, protocol, mean, std, n_seeds, provenance``), adding the ``Avg.`` column the papers
   print: the **Fisher-z mean** of the per-target Spearman correlations, computed per seed and then averaged
   over seeds (so its ± is the seed spread of the average itself);
2. :func:`side_by_side` joins them with :func:`aqa_lib.tables.reported` on ``method`` and ``target``: one row
   per method, and for each target the paper's number beside ours under both protocols (``papers`` = best
   test epoch, which selects on the test set; ``last`` = last epoch, no selection).

Closed-form fits (the pooled-feature SVR) enter through :func:`fit_rows`, in the same tidy shape.

The data's provenance travels with every row, so a synthetic number is never shown as a reproduction.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from .metrics import fisher_z_mean

PROTOCOL_COLUMNS = {"papers": "papers_spearman", "last": "last_spearman", "holdout": "holdout_spearman"}


def reproduced_rows(results: Sequence, *, method: Callable[[object], str] | None = None,
                    protocols: Sequence[str] = ("papers", "last"), average: bool = True,
                    metric: str = "spearman") -> pd.DataFrame:
    """Tidy rows of mean ± std over seeds per (method, dataset, target, protocol), plus Fisher-z ``Avg.``.

    Args:
        results: finished runs (any mix of methods, targets and seeds).
        method: names a run's row (default: the run's model variant name).
        protocols: which summary numbers to report (``papers``, ``last``, ``holdout``).
        average: add the ``Avg.`` target when a method has more than one target.
        metric: ``spearman`` (default), or another of the run's metrics (``mse``, ``rl2``): the run's value
            at each protocol's epoch (``papers_mse`` is the MSE at the best-Spearman test epoch). ``Avg.`` is
            the Fisher-z mean for Spearman and the arithmetic mean otherwise (as the papers average MSE).
    """
    method = method or (lambda r: r.config.model)
    raw = []
    for r in results:
        for p in protocols:
            col = PROTOCOL_COLUMNS[p] if metric == "spearman" else f"{p}_{metric}"
            if col in r.summary:
                raw.append({"method": method(r), "dataset": r.config.dataset, "target": r.config.target,
                            "protocol": p, "seed": r.config.seed, "value": float(r.summary[col]),
                            "provenance": r.meta["provenance"].split(":")[0]})
    return _aggregate(pd.DataFrame(raw), average, fisher_z=metric == "spearman")


def fit_rows(fits: Sequence[dict], *, method: str, protocols: Sequence[str] = ("papers", "last"),
             average: bool = True) -> pd.DataFrame:
    """:func:`reproduced_rows` for closed-form fits such as :func:`aqa_lib.models.baselines.pooled_svr`.

    Each fit is a dict with ``dataset``, ``target``, ``seed``, ``spearman`` and ``provenance``. A fit has no
    epochs and selects its hyper-parameters by cross-validation on the training split, so its one test
    number fills every protocol column (``papers`` and ``last`` are the same number by construction).
    """
    raw = []
    for f in fits:
        missing = [k for k in ("dataset", "target", "seed", "spearman", "provenance") if k not in f]
        if missing:
            raise ValueError(f"fit_rows: a fit lacks {missing}; pass the dicts pooled_svr returns.")
        for p in protocols:
            raw.append({"method": method, "dataset": f["dataset"], "target": f["target"], "protocol": p,
                        "seed": f["seed"], "value": float(f["spearman"]),
                        "provenance": str(f["provenance"]).split(":")[0]})
    return _aggregate(pd.DataFrame(raw), average)


def _aggregate(frame: pd.DataFrame, average: bool, fisher_z: bool = True) -> pd.DataFrame:
    """Per-seed rows → mean ± std per (method, dataset, target, protocol), with the per-seed Avg. (Fisher-z
    mean of correlations, or the arithmetic mean of other metrics)."""
    if frame.empty:
        return pd.DataFrame(columns=["method", "dataset", "target", "protocol", "mean", "std", "n_seeds",
                                     "provenance"])
    if average:
        avg = []
        for (m, d, p, s), g in frame.groupby(["method", "dataset", "protocol", "seed"], sort=False):
            if g["target"].nunique() > 1:
                avg.append({"method": m, "dataset": d, "target": "Avg.", "protocol": p, "seed": s,
                            "value": fisher_z_mean(g["value"].to_numpy()) if fisher_z else float(g["value"].mean()),
                            "provenance": g["provenance"].iloc[0]})
        frame = pd.concat([frame, pd.DataFrame(avg)], ignore_index=True)
    return (frame.groupby(["method", "dataset", "target", "protocol"], sort=False)
            .agg(mean=("value", "mean"), std=("value", "std"), n_seeds=("value", "size"),
                 provenance=("provenance", "first"))
            .reset_index())


def _fmt(mean: float, std: float, n: int) -> str:
    if not np.isfinite(mean):
        return "—"
    return f"{mean:.3f}" if n < 2 or not np.isfinite(std) else f"{mean:.3f} ± {std:.3f}"


def side_by_side(reported: pd.DataFrame, reproduced: pd.DataFrame, *, targets: Sequence[str] | None = None,
                 methods: Sequence[str] | None = None, numeric: bool = False) -> pd.DataFrame:
    """One row per method; per target, the paper's Spearman beside ours under each protocol.

    ``reported`` is a frame from :func:`aqa_lib.tables.reported` restricted to one dataset (and features);
    ``reproduced`` one from :func:`reproduced_rows`. Methods present in only one of them keep their row
    with "—" in the other's columns (methods we do not re-implement are *reported only*). With
    ``numeric=True`` the cells are floats (means), for assertions and plots.
    """
    rep = reported[reported["metric"] == "spearman"] if "metric" in reported else reported
    targets = list(targets) if targets is not None else list(dict.fromkeys(
        [*rep.get("target", pd.Series(dtype=str)), *reproduced.get("target", pd.Series(dtype=str))]))
    methods = list(methods) if methods is not None else list(dict.fromkeys(
        [*rep.get("method", pd.Series(dtype=str)), *reproduced.get("method", pd.Series(dtype=str))]))
    protocols = list(dict.fromkeys(reproduced["protocol"])) if len(reproduced) else []
    cols = pd.MultiIndex.from_tuples([(t, c) for t in targets for c in ("reported", *protocols)])
    table = pd.DataFrame(index=pd.Index(methods, name="method"), columns=cols, dtype=object)
    for _, row in rep.iterrows():
        if row["method"] in methods and row["target"] in targets:
            value = float(row["value"])
            table.loc[row["method"], (row["target"], "reported")] = value if numeric else f"{value:.3f}"
    for _, row in reproduced.iterrows():
        if row["method"] in methods and row["target"] in targets:
            cell = float(row["mean"]) if numeric else _fmt(row["mean"], row["std"], int(row["n_seeds"]))
            table.loc[row["method"], (row["target"], row["protocol"])] = cell
    return table.astype(float) if numeric else table.fillna("—")


NUMBER_COLOURS = {"reported": "0.65", "papers": "tab:blue", "last": "tab:orange", "holdout": "tab:green"}
"""One colour per number across every notebook figure: grey for the paper, blue / orange for our protocols."""
NUMBER_LABELS = {"reported": "reported (paper's data)", "papers": "best test epoch (papers' protocol)",
                 "last": "last epoch", "holdout": "held-out epoch selection"}
"""What each number is called in every legend (``papers`` selects the epoch on the test set, as the papers do)."""
LEGEND_TITLE = "number"


def summary_column(targets: Sequence[str]) -> str:
    """The column a one-number figure shows: ``Avg.`` (Fisher-z) over several targets, else the one target."""
    return "Avg." if len(targets) > 1 else targets[0]


def legend_outside(ax, *, title: str | None = LEGEND_TITLE, **kwargs) -> None:
    """The axes' legend right of the axes, where it can never cover data."""
    ax.legend(title=title, fontsize=8, title_fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1), **kwargs)


def plot_bars(ax, frame: pd.DataFrame, *, numbers: Sequence[str] = ("reported", "papers", "last"),
              width: float = 0.27, horizontal: bool = False) -> None:
    """Grouped bars, one group per row of ``frame`` (columns = ``numbers``, e.g. ``numeric[("Avg.")]``),
    at positions 0..n−1, in the shared colours and legend labels (:data:`NUMBER_LABELS`), with a zero line and
    the legend outside the axes. Missing numbers draw nothing; a bar too short to see (|value| below 2 % of
    the largest) is labelled with its value so that it does not look missing. The caller sets tick labels,
    axis label and title."""
    x = np.arange(len(frame))
    draw = ax.barh if horizontal else ax.bar
    values = frame[[c for c in numbers if c in frame]].to_numpy(dtype=float)
    largest = float(np.nanmax(np.abs(values))) if values.size and np.isfinite(values).any() else 1.0
    for i, col in enumerate(numbers):
        if col not in frame:
            continue
        offset = (len(numbers) - 1) / 2 - i if horizontal else i - (len(numbers) - 1) / 2
        heights = frame[col].to_numpy(dtype=float)
        draw(x + offset * width, heights, width, label=NUMBER_LABELS.get(col, col), color=NUMBER_COLOURS.get(col))
        for pos, h in zip(x + offset * width, heights, strict=True):
            if np.isfinite(h) and abs(h) < 0.02 * largest:
                xy, text = ((0, pos), (3, 0)) if horizontal else ((pos, 0), (0, 2))
                ax.annotate(f"{h:.2f}", xy, xytext=text, textcoords="offset points", fontsize=6,
                            color=NUMBER_COLOURS.get(col, "k"), ha="left" if horizontal else "center",
                            va="center" if horizontal else "bottom", rotation=0 if horizontal else 90)
    (ax.axvline if horizontal else ax.axhline)(0, color="0.5", lw=0.6)
    legend_outside(ax)


def plot_overview(ax, groups: Sequence[pd.DataFrame], *,
                  numbers: Sequence[str] = ("reported", "papers", "last")) -> pd.DataFrame:
    """Horizontal grouped bars for a main comparison table: ``groups`` (frames with ``numbers`` columns, e.g.
    unimodal methods, multimodal methods, ours) stacked top to bottom in order, dotted lines between groups,
    method names as tick labels, legend outside the axes. Returns the stacked frame."""
    overview = pd.concat(list(groups))
    n = len(overview)
    plot_bars(ax, overview.iloc[::-1], numbers=numbers, horizontal=True)
    for boundary in np.cumsum([len(g) for g in groups[:-1]]):
        ax.axhline(n - boundary - 0.5, color="0.3", lw=0.7, ls=":")
    ax.set_yticks(np.arange(n), list(overview.index[::-1]), fontsize=8)
    return overview


def draw_groups(ax, groups: Sequence[tuple[str, int]]) -> None:
    """Dotted lines between consecutive groups of bars along x (``[(name, number of bars)]``) and each
    group's name above its bars, so that the lines explain themselves."""
    start = 0
    for i, (label, size) in enumerate(groups):
        if i:
            ax.axvline(start - 0.5, color="0.3", lw=0.7, ls=":")
        ax.text((start + start + size - 1) / 2, 1.01, label, transform=ax.get_xaxis_transform(), ha="center",
                va="bottom", fontsize=8, color="0.25")
        start += size


def plot_table_bars(ax, numeric: pd.DataFrame, column: str, *, short: Callable[[str], str] | None = None,
                    rotation: float = 0, groups: Sequence[tuple[str, Sequence[str]]] | None = None) -> list[str]:
    """One ablation table as grouped bars: the rows we ran (finite ``last``) of ``numeric`` (a numeric
    :func:`side_by_side` / ``compare_table``) at ``column`` (a target or ``Avg.``), reported / best test epoch
    / last epoch, with tick labels (shortened by ``short``), the y label and the legend outside the axes.

    ``groups`` = ``[(group name, row labels)]`` orders the rows group by group, with labelled dotted lines
    between the groups (rows not run are left out). Returns the rows drawn."""
    ran = [m for m in numeric.index if np.isfinite(numeric.loc[m, (column, "last")])]
    sizes: list[tuple[str, int]] = []
    if groups:
        rows = []
        for label, members in groups:
            kept = [m for m in members if m in ran]
            if kept:
                rows += kept
                sizes.append((label, len(kept)))
        rows += [m for m in ran if m not in rows]
    else:
        rows = ran
    plot_bars(ax, numeric.loc[rows, column])
    ax.set_xticks(np.arange(len(rows)), [short(m) if short else m for m in rows], rotation=rotation,
                  ha="right" if rotation else "center", fontsize=8)
    ax.set_ylabel(f"Spearman ρ ({column})")
    if len(sizes) > 1:
        draw_groups(ax, sizes)
    return rows


def paper_rows(frame: pd.DataFrame, paper: str, table: str, dataset: str, *, features: bool = False) -> pd.DataFrame:
    """``frame`` (a ``compare_table`` of ``paper``'s ``table``) restricted to the rows the paper prints for
    ``dataset``, in the frame's order; with ``features`` the paper's feature (backbone) column in front.

    Our extra rows (e.g. a re-implementation the paper's table does not list) are dropped: show them apart.
    """
    from .tables import reported, row_labels

    rep = reported(paper, table)
    rep = rep[rep["dataset"] == dataset]
    feats = rep.assign(label=row_labels(rep)).drop_duplicates("label").set_index("label")["features"]
    out = frame.loc[[m for m in frame.index if m in feats.index]].copy()
    if features:
        out.insert(0, ("features", "") if isinstance(out.columns, pd.MultiIndex) else "features",
                   [feats[m] for m in out.index])
    return out


def paper_comparison(results: Sequence, paper: str, table: str, dataset: str, *, metric: str = "spearman",
                     fits: Sequence[dict] = (), fit_label: str = "C3D+SVR", labels: dict[str, str] | None = None,
                     targets: Sequence[str] | None = None, numeric: bool = False, features: bool = False,
                     status: bool = False, ours_metric: str | None = None, factor: float = 1.0) -> pd.DataFrame:
    """One paper table (one dataset, one metric) beside our runs, with every printed row kept apart.

    Unlike :func:`aqa_lib.experiments.compare_table` (Spearman only), this takes any metric the runs recorded
    (``mse``, ``rl2``; ``Avg.`` of a non-correlation is the arithmetic mean, as the papers print it) and keeps
    apart a method the paper prints with several feature sets (MLAVL Table 3's MS-LSTM on I3D and on VST
    become ``"MS-LSTM (I3D)"`` and ``"MS-LSTM (VST)"``).

    Args:
        results: finished runs; a run's row is ``labels[variant]`` if given, else the compare_table rule (a
            variant of ``paper`` or a whole method such as ``gdlt`` → its ``reported_method``; another
            paper's ablation variant keeps its registered name).
        fits: pooled-SVR fits filling the ``fit_label`` row (Spearman only).
        ours_metric, factor: our runs' metric when the paper's is named otherwise, and the factor to its
            printed unit (MLAVL Table 4 prints ``r_l2_x100``: ``ours_metric="rl2", factor=100``).
        targets: the target columns. Default: the targets we ran, plus ``Avg.`` only when it averages what
            the paper's ``Avg.`` averages (every target the paper prints for ``dataset``, or every target of
            the dataset when the paper prints only ``Avg.``); with no runs, the paper's targets.
        features: put the paper's feature (backbone) column first. ``status``: put a ``here`` column first,
            ``trained`` for rows with a number of ours and ``reported only`` for the others.

    Rows: the paper's, in its order, then ours that the table does not print.
    """
    from .data.registry import get_spec
    from .models.base import variants
    from .tables import reported, row_labels

    ds = get_spec(dataset).name
    rep = reported(paper, table)
    rep = rep[(rep["dataset"] == ds) & (rep["metric"] == metric)].copy()
    rep["label"] = row_labels(rep) if len(rep) else pd.Series(dtype=str)
    several = rep.groupby("label")["features"].nunique() if len(rep) else pd.Series(dtype=int)
    rep["method"] = [f"{lab} ({feat})" if several.get(lab, 0) > 1 and feat else lab
                     for lab, feat in zip(rep["label"], rep["features"], strict=True)]
    if labels is None:
        labels = {name: (v.reported_method or name) if (v.paper == paper or "/" not in name) else name
                  for name, v in variants().items()}
    runs = [r for r in results if r.config.dataset == ds]
    ours = reproduced_rows(runs, method=lambda r: labels.get(r.config.model, r.config.model),
                           metric=ours_metric or metric)
    ours[["mean", "std"]] = ours[["mean", "std"]] * factor
    if fits and metric == "spearman":
        ours = pd.concat([ours, fit_rows([f for f in fits if f["dataset"] == ds], method=fit_label)],
                         ignore_index=True)
    if targets is None:
        spec_targets = list(get_spec(ds).targets)
        ran = [t for t in spec_targets if t in set(ours["target"])]
        printed = [t for t in dict.fromkeys(rep["target"]) if t != "Avg."]
        if not ran:
            targets = list(dict.fromkeys(rep["target"]))
        else:
            covered = set(printed or spec_targets) <= set(ran)
            targets = [*ran, *(["Avg."] if len(ran) > 1 and covered else [])]
    methods = list(dict.fromkeys([*rep["method"], *ours["method"]]))
    table_frame = side_by_side(rep.drop(columns="metric"), ours, targets=targets, methods=methods, numeric=numeric)
    if features:
        feats = rep.drop_duplicates("method").set_index("method")["features"]
        table_frame.insert(0, ("features", ""), [feats.get(m, "") for m in table_frame.index])
    if status:
        ran_rows = set(ours["method"])
        table_frame.insert(0, ("here", ""), ["trained" if m in ran_rows else "reported only"
                                             for m in table_frame.index])
    return table_frame
