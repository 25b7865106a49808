"""VATP-Net's experiments: the fine-tuning runs (§IV-A2) and what the three table notebooks
(``vatp_ablations``, ``vatp_efficiency``, ``vatp_main_results``) need beyond the shared drivers.

Fine-tuning (§IV-A2)
--------------------
RG, Fis-V and FineFS are "fine-tuned with our trained visual ParseFormer decoder module", i.e. the ParseFormer
of a run on another dataset (MTL-AQA, with commentary). :class:`aqa_lib.recipes.Pretraining` cannot say this
(its stage-1 runs are on the run's own dataset and target), but the engine's ``init_from`` can (a source run
on any dataset): :func:`finetune_config` is :func:`~aqa_lib.experiments.config_for` of the variant, plus one
``init_from`` entry that copies the ``parse`` submodule of ``vatp`` trained on MTL-AQA (``save_weights=True``)
into the run's ``parse``. The two runs share the ParseFormer's shape (``d_model``, ``n_heads``, ``ffn_mult``,
``n_queries``, ``n_blocks``), taken from the run's resolved keywords. Nothing is frozen ("fine-tuned").
:func:`vatp_config` applies it where the paper does (:data:`FINETUNED_DATASETS`, variants with a ParseFormer):
Table II's PD rows, Fig. 5 and the VATP-Net rows of Tables X–XII. The source run is always the synthetic
MTL-AQA default (no MTL-AQA features can be obtained here), also when the fine-tuned run reads real features.

The table notebooks
-------------------
- :func:`plan_table` says which rows and targets an ablation notebook trains (Tables I–VII, Fig. 5): every
  row, or at ``smoke`` scale (``rows="auto"``) only :data:`SMOKE_ROWS` on the table's first target, the other
  rows shown as *not run at smoke*; :func:`run_plan` trains them (:func:`vatp_config` for each run) into an
  :class:`aqa_lib.notebook.TableStudy`.
- :func:`comparison_plan` does the same for a main comparison table (IX–XII): VATP-Net's rows and the
  project's re-implemented competitors that can run on the dataset (:data:`COMPETITORS`).
- :func:`vatp_comparison` puts the paper's table beside our runs, like :func:`aqa_lib.report.paper_comparison`,
  plus what the VATP-Net tables need: every printed column (FineFS's per-program ``SP-Avg.`` / ``FS-Avg.``
  too, each a Fisher-z mean computed only when we ran every target it averages) and a ``here`` column that
  says *trained*, *not run* (and why) or *reported only* (and why: :func:`reported_only_reason`).
- :func:`measure_vatp`: :func:`aqa_lib.efficiency.measure` for a VATP-Net that reads commentary and DD
  (:func:`text_inputs` supplies them), :func:`parameter_counts` at the paper's input widths.

Fig. 5 ("Evaluation on the backbone network action feature learning in RG dataset") is an image in the source:
its bars are not transcribed (``papers_tables/index.csv`` has no entry). The prose says the VST backbone beats
I3D on RG, and Table X prints VATP-Net on RG with both backbones (I3D 0.709, VST 0.800 average): those two
rows are the reported reference here (:data:`FIG5_REFERENCE`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import torch
from torch import Tensor, nn

from ..data.registry import get_spec
from ..metrics import fisher_z_mean
from ..models.base import count_parameters, create_model, get_variant, model_config
from ..train import RunConfig, RunResult
from .configs import config_for, variant_modalities

PARSEFORMER_KEYS = ("d_model", "n_heads", "ffn_mult", "n_queries", "n_blocks")
"""Model keywords the source run takes from the fine-tuned run, so that their ParseFormers fit."""


def finetune_config(variant: str, dataset: str, target: str, *, scale: str = "quick", seed: int = 0,
                    source: str = "synthetic", data_root: str = "", device: str = "cpu", epochs: int | None = None,
                    source_variant: str = "vatp", source_dataset: str = "mtl_aqa", source_target: str = "score",
                    source_data: str = "synthetic", source_data_root: str = "", source_epochs: int | None = None,
                    data_seed: int = 0, **model_overrides: Any) -> RunConfig:
    """The run of ``variant`` on ``dataset`` / ``target`` whose ParseFormer starts from ``source_variant``
    trained on ``source_dataset`` / ``source_target`` (MTL-AQA's VATP-Net by default).

    ``source_data`` / ``source_data_root`` say where the source run's data come from (``"synthetic"`` or
    ``"real"`` under a root), ``source_epochs`` its epochs (None: its recipe's). A ValueError says so when
    either model has no ParseFormer (``use_pd=False``).
    """
    cfg = config_for(variant, dataset, target, scale=scale, seed=seed, source=source, data_root=data_root,
                     device=device, epochs=epochs, data_seed=data_seed, **model_overrides)
    resolved = model_config(variant, **cfg.model_kwargs)
    shared = {k: resolved[k] for k in PARSEFORMER_KEYS if k in resolved}
    src = config_for(source_variant, source_dataset, source_target, scale=scale, seed=seed, source=source_data,
                     data_root=source_data_root, device=device, epochs=source_epochs, data_seed=data_seed, **shared)
    for name, kwargs in ((variant, resolved), (source_variant, model_config(source_variant, **src.model_kwargs))):
        if kwargs.get("use_pd", True) is False:
            raise ValueError(f"{name!r} has no ParseFormer (use_pd=False): there is nothing to fine-tune from or "
                             "into. Fine-tune a variant with the ParseFormer (e.g. 'vatp', 'vatp/tableII/vst_te_pd').")
    return cfg.replace(init_from=({"into": "parse", "from": "parse", "run": src.replace(save_weights=True).to_dict()},))


# ---------------------------------------------------------------------------------------------------------
# Which table is on which data, and how it is trained
# ---------------------------------------------------------------------------------------------------------

PAPER = "vatp"
ABLATION_TABLES = ("tableI", "tableII", "tableIII", "tableIV", "tableV", "tableVI", "tableVII", "fig5")
"""What ``vatp_ablations`` shows (``-p table``): the ablation tables and Fig. 5."""
COMPARISON_TABLES = {"mtl_aqa": "tableIX", "rg": "tableX", "fisv": "tableXI", "finefs": "tableXII"}
"""Dataset → the paper's comparison table on it (``vatp_main_results -p dataset``)."""
TABLE_DATASETS = {**{t: "mtl_aqa" for t in ("tableI", "tableIII", "tableIV", "tableV", "tableVI", "tableVII",
                                            "tableVIII")},
                  "tableII": "rg", "fig5": "rg", **{t: d for d, t in COMPARISON_TABLES.items()}}
"""Each table's (and Fig. 5's) one dataset."""
FINETUNED_DATASETS = ("rg", "fisv", "finefs")
"""Datasets the paper trains "fine-tuned with our trained visual ParseFormer" (§IV-A2; Tables II, X–XII)."""
DATA_BACKBONE = {"mtl_aqa": "I3D", "rg": "VST", "fisv": "VST", "finefs": "VST"}
"""The backbone whose features the paper uses on each dataset (§IV-A2), i.e. the rows our features stand in
for: the synthetic default mimics their shape; the real Fis-V release is VST."""
SHORT_NAMES = {"mtl_aqa": "MTL-AQA", "rg": "RG", "fisv": "Fis-V", "finefs": "FineFS"}

SMOKE_ROWS: dict[str, tuple[str, ...]] = {
    "tableI": ("i3d_mlp", "vatp"), "tableII": ("vst_te", "vatp"), "tableIII": ("s2", "s4"),
    "tableIV": ("blocks2", "blocks4"), "tableV": ("i3d_mlp", "full"), "tableVI": ("i3d_mlp", "rgb_semantics"),
    "tableVII": ("i3d_mlp", "i3d_bert"), "fig5": ("rgb", "vatp"),
}
"""The rows (registered-name slugs) a table trains at ``smoke`` scale with ``rows="auto"``, on its first target
only: a baseline and the full model (or the paper's setting and one other), so that CI checks both code paths
in seconds; the other rows show as *not run at smoke*."""

FIG5_ROWS = {"vatp/tableVI/rgb": "VATP-Net (VST), no semantic branch",
             "vatp": "VATP-Net (VST)"}
"""Fig. 5's rows we train on RG (fine-tuned): the full model (the RG vocabulary as text; Table X's VST row) and
the same model without its semantic branch (as Table VII's I3D-without-BERT row on MTL-AQA)."""
FIG5_REFERENCE = ("tableX", ("VATP-Net (I3D)", "VATP-Net (VST)"))
"""Fig. 5's bars are not transcribed; the printed numbers of the same comparison: Table X's two VATP-Net rows."""

REIMPLEMENTED = ("VATP-Net", "GDLT", "C3D+SVR")
"""Methods of the VATP-Net tables this project trains (C3D+SVR as the pooled-feature SVR on our features)."""
COMPETITORS = ("gdlt", "pamfn", "lmac", "mlavl")
"""The project's re-implemented methods trained beside VATP-Net in its comparison tables (GDLT is in them; the
others are not, and show as extra rows)."""
METHOD_TITLES = {"gdlt": "GDLT", "pamfn": "PAMFN", "lmac": "LMAC-Net", "mlavl": "MLAVL"}
SMOKE_COMPETITORS = ("gdlt",)
"""At ``smoke`` scale the comparison trains VATP-Net, GDLT and the SVR only (the others: *not run at smoke*)."""
NOT_RUNNABLE = {("mlavl", "mtl_aqa"): "MAG² needs the sport's action texts; there is no diving vocabulary here "
                                      "(its recipe would fall back to the figure-skating texts)"}
"""(competitor, dataset) pairs the comparison does not train, with the reason."""


def table_dataset(table: str, dataset: str = "auto") -> str:
    """The dataset ``table`` is on (``dataset`` ``"auto"`` / empty, or that dataset, which must be the table's)."""
    if table not in TABLE_DATASETS:
        raise ValueError(f"Unknown VATP-Net table {table!r}; valid: {', '.join(TABLE_DATASETS)}.")
    own = TABLE_DATASETS[table]
    if dataset in ("auto", "", None):
        return own
    name = get_spec(dataset).name
    if name != own:
        raise ValueError(f"VATP-Net {table} is on {own}, not {name}: pass -p dataset {own} (or auto).")
    return name


def table_rows(table: str) -> dict[str, str]:
    """Registered variant → the row label it fills, for every row of ``table`` we can train (Fig. 5:
    :data:`FIG5_ROWS`)."""
    if table == "fig5":
        return dict(FIG5_ROWS)
    from .tables import table_variants

    return table_variants(PAPER, table)


def printed_targets(table: str, dataset: str | None = None) -> list[str]:
    """The columns the paper prints for ``table`` (Fig. 5: Table X's), in its order, ``Avg.`` columns included."""
    from ..tables import reported

    ds = get_spec(dataset or TABLE_DATASETS[table]).name
    rep = reported(PAPER, FIG5_REFERENCE[0] if table == "fig5" else table)
    rep = rep[(rep["dataset"] == ds) & (rep["metric"] == "spearman")]
    return list(dict.fromkeys(rep["target"]))


def _is_average(target: str) -> bool:
    return target == "Avg." or target.endswith("-Avg.")


def averaged_targets(average: str, targets: Sequence[str]) -> list[str]:
    """The class targets an average column averages: ``Avg.`` all non-average ``targets``; ``SP-Avg.`` those
    starting with ``SP-`` (FineFS's programs)."""
    prefix = average[: -len("Avg.")]
    return [t for t in targets if not _is_average(t) and t.startswith(prefix)]


def train_targets(table: str, dataset: str, target: str = "all") -> list[str]:
    """The targets to train: ``"all"`` → every class target the table prints for ``dataset``, in the dataset's
    order; else the one target, checked."""
    spec = get_spec(dataset)
    if target not in ("all", "", None):
        return [spec.check_target(target)]
    printed = [t for t in printed_targets(table, spec.name) if not _is_average(t)]
    return [t for t in spec.targets if t in printed] or list(spec.targets)


@dataclass
class TablePlan:
    """What a VATP-Net table notebook trains: rows, targets, and why the other rows do not run."""

    table: str
    dataset: str
    rows: dict[str, str]
    """Every row we can train: variant → row label."""
    run: dict[str, str]
    """The rows this plan trains."""
    targets: list[str]
    not_run: dict[str, str] = field(default_factory=dict)
    """Row label → why it does not run here (rows we could train, left out by ``rows`` or the scale)."""
    note: str = ""

    @property
    def title(self) -> str:
        from ..notebook import table_label

        return f"VATP-Net {table_label(self.table)}"


def _resolve_rows(table: str, rows: Sequence[str], candidates: Mapping[str, str]) -> list[str]:
    chosen = []
    for item in rows:
        found = [n for n, label in candidates.items() if item in (n, n.rsplit("/", 1)[-1], label)]
        if not found:
            slugs = ", ".join(n.rsplit("/", 1)[-1] for n in candidates)
            raise ValueError(f"Row {item!r} is not a row of VATP-Net {table}; its rows: {slugs} (or 'all', 'auto').")
        chosen += [n for n in found if n not in chosen]
    return chosen


def parse_rows(value: Any) -> str | list[str]:
    """The ``rows`` parameter: ``"auto"``, ``"all"`` or a list of row names, also as the text papermill passes
    (``-p rows "[i3d_mlp, vatp]"``, ``"i3d_mlp vatp"``)."""
    if isinstance(value, str):
        text = value.strip()
        if text in ("auto", "all"):
            return text
        value = [w.strip("'\" ") for w in text.strip("[]()").replace(",", " ").split() if w.strip("'\" ")]
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, str) for v in value):
        return list(value)
    raise ValueError(f"rows must be 'auto', 'all' or a list of row names (e.g. -p rows \"[i3d_mlp, vatp]\"), "
                     f"got {value!r}.")


def plan_table(table: str, *, dataset: str = "auto", rows: Any = "auto", target: str = "all",
               scale: str = "quick") -> TablePlan:
    """The rows and targets ``vatp_ablations`` trains for ``table`` (Tables I–VII or ``fig5``).

    ``rows``: ``"auto"`` (every row; at ``smoke`` only :data:`SMOKE_ROWS` on the first target), ``"all"``, or a
    list of row names (the registered name, its last part such as ``i3d_mlp``, or the paper's row label).
    ``target``: ``"all"`` (every target the table prints; on RG the four apparatus, whose Fisher-z mean is the
    paper's average) or one target.
    """
    ds = table_dataset(table, dataset)
    candidates = table_rows(table)
    targets = train_targets(table, ds, target)
    rows = parse_rows(rows)
    note = ""
    if rows == "auto" and scale == "smoke":
        chosen = _resolve_rows(table, SMOKE_ROWS[table], candidates)
        if target in ("all", "", None) and len(targets) > 1:
            targets = targets[:1]
        why = "not run at smoke (-p rows all trains it)"
        note = (f"smoke scale: {len(chosen)} of {len(candidates)} rows, on {', '.join(targets)} only "
                "(-p rows all trains every row and target)")
    elif rows in ("auto", "all"):
        chosen, why = list(candidates), ""
    else:
        chosen = _resolve_rows(table, rows, candidates)
        why = "not run: not in -p rows"
    run = {n: candidates[n] for n in candidates if n in chosen}
    not_run = {label: why for n, label in candidates.items() if n not in chosen}
    return TablePlan(table, ds, candidates, run, targets, not_run, note)


def uses_finetuning(variant: str, dataset: str) -> bool:
    """Whether the paper's protocol fine-tunes ``variant`` on ``dataset`` from the MTL-AQA ParseFormer: a VATP-Net
    variant with a ParseFormer on RG, Fis-V or FineFS."""
    from ..models.vatp import build_vatp

    v = get_variant(variant)
    return (get_spec(dataset).name in FINETUNED_DATASETS and v.builder is build_vatp
            and model_config(variant).get("use_pd", True) is not False)


def vatp_config(variant: str, dataset: str, target: str, *, finetune: bool = True, **kwargs: Any) -> RunConfig:
    """The run of one row: :func:`finetune_config` where the paper fine-tunes (:func:`uses_finetuning`, unless
    ``finetune`` is False), else :func:`~aqa_lib.experiments.config_for`. ``kwargs`` go to either."""
    if finetune and uses_finetuning(variant, dataset):
        return finetune_config(variant, dataset, target, **kwargs)
    kwargs.pop("source_epochs", None)
    return config_for(variant, dataset, target, **kwargs)


def _run_kwargs(params: Mapping[str, Any]) -> dict[str, Any]:
    return dict(scale=params["scale"], source=params.get("source", "synthetic"),
                data_root=params.get("data_root", ""), device=params.get("device", "cpu"),
                epochs=params.get("epochs") or None)


def run_plan(plan: TablePlan, params: Mapping[str, Any], *, finetune: bool = True, progress: bool = True) -> Any:
    """Train (or fetch from the cache) the plan's rows × targets × seeds; returns an
    :class:`aqa_lib.notebook.TableStudy` (its ``rows``: every row of the table) and prints the provenance."""
    from ..notebook import TableStudy, announce_runs

    seeds = list(params.get("seeds", [params.get("seed", 0)]))
    configs = [vatp_config(n, plan.dataset, t, seed=s, finetune=finetune, **_run_kwargs(params))
               for n in plan.run for t in plan.targets for s in seeds]
    from ..sweep import run_local

    results = run_local(configs, progress=progress)  # uncached CPU runs on local worker processes first
    if plan.note:
        print(plan.note)
    return TableStudy(PAPER, plan.table, plan.dataset, list(plan.targets), seeds, dict(plan.rows), results,
                      announce_runs(results))


# ---------------------------------------------------------------------------------------------------------
# The comparison tables (IX–XII)
# ---------------------------------------------------------------------------------------------------------

def _printed_rows(table: str, dataset: str) -> pd.DataFrame:
    """The paper's Spearman rows of ``table`` on ``dataset``, ``method`` = the row label as
    :func:`aqa_lib.report.paper_comparison` names it (a method printed with several feature sets gets its
    features in brackets), plus ``paper_method`` and ``features``."""
    from ..tables import reported, row_labels

    ds = get_spec(dataset).name
    rep = reported(PAPER, table)
    rep = rep[(rep["dataset"] == ds) & (rep["metric"] == "spearman")].copy()
    if rep.empty:
        return rep.assign(paper_method=pd.Series(dtype=str))
    labels = row_labels(rep)
    several = rep.assign(label=labels).groupby("label")["features"].nunique()
    rep["paper_method"] = rep["method"]
    rep["method"] = [f"{lab} ({feat})" if several[lab] > 1 and feat else lab
                     for lab, feat in zip(labels, rep["features"], strict=True)]
    return rep


def row_label(table: str, dataset: str, method: str) -> str | None:
    """The label of ``method``'s row in ``table`` on ``dataset`` for our features (the row of the paper's
    backbone on that dataset, :data:`DATA_BACKBONE`, when the method is printed with several); None if the
    table does not print the method."""
    rep = _printed_rows(table, dataset)
    rows = rep[rep["paper_method"] == method].drop_duplicates("method")
    if rows.empty:
        return None
    if len(rows) == 1:
        return str(rows["method"].iloc[0])
    backbone = DATA_BACKBONE.get(get_spec(dataset).name, "")
    match = rows[rows["features"] == backbone]
    return str(match["method"].iloc[0]) if len(match) else None


@dataclass
class ComparisonPlan:
    """What ``vatp_main_results`` trains for one comparison table."""

    table: str
    dataset: str
    vatp: dict[str, str]
    """VATP-Net variant → row label (w/ and w/o DD on MTL-AQA, one row elsewhere)."""
    competitors: list[str]
    """Competitors trained (registered names, :data:`COMPETITORS`)."""
    labels: dict[str, str]
    """Every variant that may run (competitors' RGB-only substitutes too) → its row label."""
    svr: bool
    """Whether the table's C3D+SVR row is filled with the pooled-feature SVR."""
    targets: list[str]
    not_run: dict[str, str] = field(default_factory=dict)


def competitor_label(model: str, dataset: str, table: str) -> str:
    """Row label of a competitor run: GDLT's row of the table where it prints one (at our features' backbone),
    else ``"<method>[, RGB only] (ours; not in Table X)"``; RGB-only substitutes name themselves so."""
    from ..notebook import table_label

    base = model.split("/")[0]
    title = METHOD_TITLES.get(base, base)
    if model == base:
        label = row_label(table, dataset, title)
        if label is not None:
            return label
    if model in ("pamfn/branch/rgb",):
        title += ", RGB branch"
    elif model == "mlavl/visual" or (base == "mlavl" and variant_modalities(model, dataset) == ("rgb",)):
        title += ", visual only"
    elif model != base or (base in ("pamfn", "lmac") and variant_modalities(model, dataset) == ("rgb",)):
        title += ", RGB only"
    return f"{title} (ours; not in {table_label(table)})"


def comparison_plan(dataset: str, *, baselines: bool = True, scale: str = "quick", target: str = "all") -> ComparisonPlan:
    """VATP-Net's rows and the competitors ``vatp_main_results`` trains on ``dataset`` (its comparison table).

    VATP-Net: ``vatp/tableIX/w_dd`` and ``wo_dd`` on MTL-AQA, else ``vatp`` (fine-tuned, :func:`vatp_config`).
    Competitors (``baselines``): :data:`COMPETITORS` minus :data:`NOT_RUNNABLE`; at ``smoke`` only
    :data:`SMOKE_COMPETITORS`. The SVR fills C3D+SVR where the table prints it.
    """
    ds = get_spec(dataset).name
    if ds not in COMPARISON_TABLES:
        raise ValueError(f"VATP-Net has no comparison table on {ds}; valid datasets: {', '.join(COMPARISON_TABLES)}.")
    table = COMPARISON_TABLES[ds]
    if ds == "mtl_aqa":
        vatp = {n: get_variant(n).reported_method for n in ("vatp/tableIX/w_dd", "vatp/tableIX/wo_dd")}
    else:
        vatp = {"vatp": row_label(table, ds, "VATP-Net") or "VATP-Net"}
    labels = dict(vatp)
    competitors, not_run = [], {}
    for m in COMPETITORS:
        label = competitor_label(m, ds, table)
        if (m, ds) in NOT_RUNNABLE:
            not_run[label] = NOT_RUNNABLE[(m, ds)]
        elif not baselines:
            not_run[label] = "baselines False"
        elif scale == "smoke" and m not in SMOKE_COMPETITORS:
            not_run[label] = "not run at smoke (quick trains it)"
        else:
            competitors.append(m)
            labels[m] = label
    from .comparison import RGB_ONLY

    for m in competitors:
        if m in RGB_ONLY:
            labels[RGB_ONLY[m]] = competitor_label(RGB_ONLY[m], ds, table)
    svr = baselines and row_label(table, ds, "C3D+SVR") is not None
    if not svr and row_label(table, ds, "C3D+SVR") is not None:
        not_run["C3D+SVR"] = "baselines False"
    return ComparisonPlan(table, ds, vatp, competitors, labels, svr, train_targets(table, ds, target), not_run)


# ---------------------------------------------------------------------------------------------------------
# Reported vs reproduced
# ---------------------------------------------------------------------------------------------------------

def reported_only_reason(method: str, features: str, dataset: str) -> str:
    """Why a printed row has no number of ours: another paper's method, or a feature set (backbone) of this
    dataset the project does not have (e.g. Table VII's VATP-Net on VST features of MTL-AQA)."""
    ds = get_spec(dataset).name
    backbone = features.split("+")[0] if features else ""
    ours = DATA_BACKBONE.get(ds, "")
    if method in REIMPLEMENTED and method != "C3D+SVR" and backbone and backbone != ours:
        return f"needs {backbone} features of {SHORT_NAMES.get(ds, ds)} (ours stand in for {ours})"
    if method in REIMPLEMENTED:
        return "not run here"
    return "not re-implemented (another paper's method)"


def _our_rows(results: Sequence[RunResult], labels: Mapping[str, str], fits: Sequence[Mapping[str, Any]],
              fit_label: str, dataset: str, columns: Sequence[str]) -> pd.DataFrame:
    """Tidy mean ± std rows (``method, target, protocol, mean, std, n_seeds``) of our runs and fits, with every
    average column of ``columns`` that averages only targets we ran (Fisher-z per seed, then over seeds)."""
    from ..report import PROTOCOL_COLUMNS

    raw = []
    for r in results:
        if r.config.dataset != dataset:
            continue
        for p in ("papers", "last"):
            raw.append({"method": labels.get(r.config.model, r.config.model), "target": r.config.target,
                        "protocol": p, "seed": r.config.seed, "value": float(r.summary[PROTOCOL_COLUMNS[p]])})
    for f in fits:
        if f["dataset"] == dataset:
            raw += [{"method": fit_label, "target": f["target"], "protocol": p, "seed": f["seed"],
                     "value": float(f["spearman"])} for p in ("papers", "last")]
    frame = pd.DataFrame(raw, columns=["method", "target", "protocol", "seed", "value"])
    averages = []
    for avg in [c for c in columns if _is_average(c)]:
        classes = set(averaged_targets(avg, columns))
        for (m, p, s), g in frame.groupby(["method", "protocol", "seed"], sort=False):
            sub = g[g["target"].isin(classes)]
            if classes and set(sub["target"]) == classes:
                averages.append({"method": m, "target": avg, "protocol": p, "seed": s,
                                 "value": fisher_z_mean(sub["value"].to_numpy())})
    frame = pd.concat([frame, pd.DataFrame(averages, columns=frame.columns)], ignore_index=True)
    return (frame.groupby(["method", "target", "protocol"], sort=False)
            .agg(mean=("value", "mean"), std=("value", "std"), n_seeds=("value", "size")).reset_index())


def default_labels(results: Sequence[RunResult]) -> dict[str, str]:
    """Variant → row label for runs of VATP-Net variants (their ``reported_method``), others their name."""
    out = {}
    for r in results:
        v = get_variant(r.config.model)
        out[r.config.model] = (v.reported_method or r.config.model) if v.paper == PAPER else r.config.model
    return out


def vatp_comparison(results: Sequence[RunResult], table: str, dataset: str | None = None, *,
                    labels: Mapping[str, str] | None = None, fits: Sequence[Mapping[str, Any]] = (),
                    fit_label: str = "C3D+SVR", not_run: Mapping[str, str] | None = None,
                    rows: Sequence[str] | None = None, numeric: bool = False, features: bool = True,
                    status: bool = True) -> pd.DataFrame:
    """One VATP-Net table (Spearman ρ) beside our runs: the paper's rows in its order, then ours it does not
    print; per printed column ``reported`` / ``papers`` (best test epoch) / ``last`` (last epoch).

    Every printed column is shown, whatever we ran ("—" where we have no number); an average column (``Avg.``,
    FineFS ``SP-Avg.`` / ``FS-Avg.``) gets our Fisher-z mean only when we ran every target it averages.
    ``labels``: variant → row label (default: VATP-Net variants' ``reported_method``). ``fits``: pooled-SVR fits
    filling ``fit_label``. ``rows``: extra row labels to list even without a number (e.g. competitors not
    run at smoke). With ``features`` the paper's backbone column comes first; with ``status`` a ``here``
    column: *trained*, *not run: <why>* (``not_run``: label → why) or *reported only: <why>*
    (:func:`reported_only_reason`). ``table`` ``fig5`` shows Table X's two VATP-Net rows
    (:data:`FIG5_REFERENCE`) and our Fig. 5 rows.
    """
    from ..report import side_by_side

    ds = get_spec(dataset or TABLE_DATASETS[table]).name
    rep = _printed_rows(FIG5_REFERENCE[0] if table == "fig5" else table, ds)
    if table == "fig5":
        rep = rep[rep["method"].isin(FIG5_REFERENCE[1])]
    labels = {**default_labels(results), **(labels or {})}
    columns = printed_targets(table, ds)
    ours = _our_rows(results, labels, fits, fit_label, ds, columns)
    extra = [t for t in dict.fromkeys(ours["target"]) if t not in columns]
    columns += extra
    methods = list(dict.fromkeys([*rep["method"], *ours["method"], *(rows or []), *(not_run or {})]))
    frame = side_by_side(rep[["method", "target", "value", "metric"]], ours, targets=columns, methods=methods,
                         numeric=numeric)
    if numeric:
        return frame
    printed = rep.drop_duplicates("method").set_index("method")
    if features and (printed["features"] != "").any():
        frame.insert(0, ("features", ""), [printed["features"].get(m, "") for m in frame.index])
    if status:
        trained = set(ours["method"])
        here = []
        for m in frame.index:
            if m in trained:
                here.append("trained")
            elif not_run and m in not_run:
                why = not_run[m]
                here.append(why if why.startswith("not run") else f"not run: {why}")
            elif m in printed.index:
                here.append("reported only: " + reported_only_reason(printed.loc[m, "paper_method"],
                                                                     printed.loc[m, "features"], ds))
            else:
                here.append("not run")
        frame.insert(0, ("here", ""), here)
    return frame


# ---------------------------------------------------------------------------------------------------------
# Size and cost (Tables IV, VIII)
# ---------------------------------------------------------------------------------------------------------

PAPER_TEXT_DIM = 768
"""The paper's MTL-AQA text features: BERT, 768-d (the project's commentary tokens are 384-d)."""


def parameter_counts(variants: Iterable[str], dataset: str = "mtl_aqa", *, paper_text: bool = True) -> dict[str, int]:
    """Parameters of each variant at the paper configuration on ``dataset``: the recipe's ``paper``-scale
    keywords (d = 128, the dataset's text source) and the dataset's feature widths (1024-d video). With
    ``paper_text`` a model reading MTL-AQA commentary gets BERT's 768-d text (the paper's input) instead of the
    project's 384-d sentence-encoder tokens."""
    spec = get_spec(dataset)
    out = {}
    for name in variants:
        kwargs = dict(config_for(name, spec.name, spec.targets[0], scale="paper").model_kwargs)
        if paper_text and model_config(name, **kwargs).get("text_source") == "commentary":
            kwargs["text_dim"] = PAPER_TEXT_DIM
        out[name] = count_parameters(create_model(name, in_dims=dict(spec.modalities), **kwargs))
    return out


def text_inputs(model: nn.Module, text_length: int, seed: int = 0) -> dict[str, Tensor]:
    """The extra inputs (batch 1) a model's ``batch_inputs`` ask for, as :func:`aqa_lib.efficiency.measure`
    passes them: random commentary of ``text_length`` tokens (all real) and DD 3.0."""
    inputs = tuple(getattr(model, "batch_inputs", ()))
    extras: dict[str, Tensor] = {}
    if "text" in inputs:
        g = torch.Generator().manual_seed(seed)
        extras["text"] = torch.randn(1, text_length, int(getattr(model, "text_dim", 1)), generator=g)
        extras["text_mask"] = torch.ones(1, text_length, dtype=torch.bool)
    if "dd" in inputs:
        extras["dd"] = torch.full((1,), 3.0)
    return extras


def measure_vatp(model: nn.Module, in_dims: Mapping[str, int], length: int, *, text_length: int = 78,
                 device: str = "cpu", repeats: int = 20) -> dict[str, float]:
    """:func:`aqa_lib.efficiency.measure` (``params_m``, ``gflops``, ``gmacs``, ``latency_ms``) of one video of
    ``length`` clips, for any model; one that reads commentary / DD gets ``text_length`` tokens and DD
    (:func:`text_inputs`). FLOPs count the forward pass's matrix products, not Drop-DTW's dynamic programme."""
    from ..efficiency import measure

    return measure(model, dict(in_dims), length, device=device, repeats=repeats,
                   extras=text_inputs(model, text_length))


def trained_size(results: Sequence[RunResult], labels: Mapping[str, str]) -> pd.DataFrame:
    """One row per trained model: its label, parameters (M) at the trained width and the mean test Spearman
    under both protocols (over seeds)."""
    rows = []
    for r in results:
        rows.append({"method": labels.get(r.config.model, r.config.model), "params_m": r.meta["n_params"] / 1e6,
                     "papers": float(r.summary["papers_spearman"]), "last": float(r.summary["last_spearman"])})
    frame = pd.DataFrame(rows)
    return frame.groupby("method", sort=False).agg(params_m=("params_m", "first"), papers=("papers", "mean"),
                                                  last=("last", "mean"), n_seeds=("last", "size"))

