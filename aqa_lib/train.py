"""The training engine every paper's notebooks share: one device-agnostic loop, a cache, both protocols.

A run is described completely by a :class:`RunConfig` (plain data: model variant name and overrides, data,
optimisation, what to record) and :func:`run` is a pure function of it. Its result is cached under
:func:`run_key`, a fingerprint of what decides the numbers: the *resolved* architecture (the builder and
every keyword it receives, not the variant's name, so two table rows that are the same model train once),
the training settings, the data's fingerprint, the code the run imports and the torch version
(:mod:`aqa_lib.cache`). What is only *recorded* (``record_*``, ``final_keys``, ``metrics``, ``save_weights``)
is not part of the key: a cached run that recorded less than asked for is trained again with the union and
its entry replaced (training is deterministic, so the numbers do not change). A notebook re-run trains
nothing, a killed sweep resumes the missing runs (saying "resumed from epoch N"), and one config is one job
of a sweep (``python -m aqa_lib.train config.json`` on any worker).

Protocol (PAMFN / GDLT / LMAC-Net official practice, ``shared/design/models.md``): every epoch, train on
random crops of ``window`` consecutive segments (the same crop for every modality), then evaluate on the
whole test sequences. Two numbers come out of every run:

- ``papers``: the best test Spearman over all epochs, **the papers' protocol; it selects the epoch on the
  test set**, so it is optimistically biased (more so with few test videos and many epochs);
- ``last``: the test Spearman after the last epoch (no selection: the honest protocol), and, when
  ``holdout > 0``, ``holdout``: the test Spearman at the epoch chosen on a held-out part of the training
  split (which the model then does not train on).

Every epoch also computes the ``metrics`` of the config on the test split (:data:`aqa_lib.metrics.EPOCH_METRICS`:
Spearman, MSE on the original scale, R-ℓ2), as history columns ``test_<metric>``.

What a model reads besides features: a model may name per-video extras in ``batch_inputs`` (passed to
``forward`` as keywords: difficulty degree, prompt ids, ``text`` / ``text_mask``) and ``loss_inputs``
(passed to ``loss``: e.g. the other score types of a video); see :mod:`aqa_lib.data.batching`.

Multi-stage runs (``init_from``): the source runs are fetched, or trained, *before* this run seeds its
random generators and inside an isolated RNG context, so a stage-2 run gives the same numbers whether its
stage-1 runs were cached or not.

Device and precision: CUDA when asked for (``device="auto"`` resolves in
:func:`aqa_lib.notebook.resolve_device`), with bf16 autocast for the forward pass; the features stay float32
on the device (:class:`aqa_lib.data.batching.FeatureBank`: batches are gathered on the device, no per-step
host copies) and the losses are computed in float32 outside autocast (an attention centre at T = 136 in bf16
is off by up to a third of a segment). CPU otherwise, deterministic per seed (initialisation, dropout and
crops all come from ``seed``).

Randomness per run (ours): after the seeded initialisation, a run draws nothing from the global random state.
Shuffles and crops come from its crop generator, dropout masks from its own dropout generator (the models'
``nn.Dropout`` and ``nn.MultiheadAttention`` layers are switched to :class:`~aqa_lib.models.blocks.RunDropout`
and :class:`~aqa_lib.models.blocks.RunMultiheadAttention`, same parameters), both seeded from ``seed``. So a
run's numbers do not depend on what else the process does, and runs trained together as one stacked model
(:mod:`aqa_lib.group`, through :func:`run_many`) get the masks, crops and shuffles they would get alone.

What figures need is recorded during training so they never retrain: for the training videos at
``record_train``, every epoch, the model's ``aux`` entries named in ``record_keys`` (LMAC-Net: attention
centres per modality and layer, for the trajectory figures); after the last epoch, every ``aux`` entry of
the videos at ``record_test`` (attention maps, per-query scores and weights, for the case-study figures).

Planning (``python -m aqa_lib.sweep``): inside :func:`planning`, :func:`run`, :func:`run_many` and
:func:`aqa_lib.group.run_grouped` train nothing. Cached configs return their results as usual; when some
configs of a call are not cached, the call raises :class:`PlanPending` naming every one of them, so a sweep can
execute a notebook's code to learn which runs it needs, train those on many workers, and plan again.

:func:`train` reads top to bottom as its steps: :func:`_setup` (data on the device, model, optimiser),
:func:`_resume` (a killed run's checkpoint), then per epoch :func:`_train_epoch` (its :func:`_train_step`),
:func:`_evaluate`,
:func:`_track_protocols`, :func:`_record_epoch` and :func:`_checkpoint`, and at the end
:func:`_final_records`, :func:`_summary` and :func:`_meta`.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import inspect
import json
import math
import random
import sys
import time
import typing
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import Tensor, nn

from . import cache
from .data import AQAData, load
from .data.batching import Batch, FeatureBank
from .data.core import Split
from .metrics import check_metrics, epoch_metrics
from .models.base import (
    ModelOutput,
    built_modalities,
    count_parameters,
    create_model,
    get_variant,
    model_config,
)
from .models.blocks import DropoutNoise, use_run_noise

OPTIMIZERS = ("adamw", "sgd", "adam")
PROTOCOLS = ("papers", "last", "holdout")
NOT_IN_KEY = ("model", "record_train", "record_test", "record_keys", "final_keys", "save_weights", "metrics",
              "data_root")
"""RunConfig fields that do not decide a run's numbers: the variant's name (its resolved architecture does),
what is recorded, and where the data lies (its content fingerprint does)."""


@dataclass(frozen=True)
class RunConfig:
    """Everything that determines one training run (its cache key is :func:`run_key`).

    Attributes:
        model: registered variant name (:func:`aqa_lib.models.base.create_model`), e.g. ``"lmac"``.
        model_kwargs: overrides passed to the builder (JSON-serialisable values only).
        dataset, target, source, data_root, scale, data_seed, norm: what :func:`aqa_lib.data.load` loads
            (``data_seed`` seeds the synthetic world; ``seed`` below seeds training).
        seed: initialisation, dropout, shuffling and crops.
        epochs, batch_size, optimizer, lr, weight_decay, momentum: optimisation; the learning rate follows a
            cosine from ``lr`` to ``lr * min_lr_ratio`` over all steps (per step, as the official codes).
        lr_multipliers: parameter-name prefix -> learning-rate factor (e.g. PAMFN's head at 0.1x).
        grad_clip: global gradient-norm clip (0 = none).
        window: training crop length in segments (0 = the dataset's ``train_window``).
        holdout: fraction of the training split held out for honest epoch selection (0 = none).
        input_dim: project each modality's features on the top-``input_dim`` principal subspace of its
            training segments (:func:`aqa_lib.data.core.principal_subspace`; 0 = the raw features). Ours: an
            economy for small-scale runs, whose per-layer products of the 1024-d inputs dominate their cost.
        eval_batch_size: whole-sequence evaluation batch size.
        metrics: per-epoch test metrics (:data:`aqa_lib.metrics.EPOCH_METRICS`; ``spearman`` is required).
        record_train, record_test, record_keys: what to record for figures (see the module docstring).
            ``record_keys`` are paths into ``aux``: ``"centres"``, ``"attention/rgb/-1"`` (keys and list
            indices, negative from the end).
        final_keys: ``aux`` paths recorded for *every* test video after the last epoch (``test/...``), e.g.
            attention centres for scoring them against synthetic ground truth.
        save_weights: keep the final weights in the cache entry (runs whose weights later runs start from).
        init_from: weights to load before training, each ``{"into": prefix, "from": prefix, "run": RunConfig
            dict}``: the (cached, or trained now) run's parameters under ``from`` are copied into this model's
            submodule ``into`` (``""`` = the whole model). This is how two-stage training (PAMFN: stage 1 trains
            each branch alone) stays a pure function of one config: the stage-1 configs are part of it.
        freeze: submodule prefixes whose parameters are not trained and which stay in eval mode (BatchNorm
            statistics and dropout frozen too, unlike the official PAMFN code).
        device: ``"cpu"`` or ``"cuda"`` (resolve ``"auto"`` before building a config).
        amp: bf16 autocast of the forward pass on CUDA (on CPU only with ``cpu_bf16``).
        cpu_bf16: bf16 autocast on CPU too (ours, opt-in): on CPUs with AVX512-BF16 or AMX a training step is
            1.6–1.9× faster (GDLT paper width, LMAC-Net quick width, one thread, measured on this project's
            CPU); the numbers differ from float32 by bf16 rounding, so it is part of the cache key.
    """

    model: str
    dataset: str
    target: str
    model_kwargs: dict[str, Any] = field(default_factory=dict)
    source: str = "synthetic"
    data_root: str = ""
    scale: str = "quick"
    data_seed: int = 0
    norm: str | float | None = None
    seed: int = 0
    epochs: int = 10
    batch_size: int = 32
    optimizer: str = "adamw"
    lr: float = 1e-4
    weight_decay: float = 1e-2
    momentum: float = 0.9
    min_lr_ratio: float = 0.0
    lr_multipliers: dict[str, float] = field(default_factory=dict)
    grad_clip: float = 0.0
    window: int = 0
    holdout: float = 0.0
    input_dim: int = 0
    eval_batch_size: int = 16
    metrics: tuple[str, ...] = ("spearman", "mse")
    record_train: tuple[int, ...] = (0, 1, 2)
    record_test: tuple[int, ...] = (0, 1)
    record_keys: tuple[str, ...] = ()
    final_keys: tuple[str, ...] = ()
    save_weights: bool = False
    init_from: tuple[dict[str, Any], ...] = ()
    freeze: tuple[str, ...] = ()
    device: str = "cpu"
    amp: bool = True
    cpu_bf16: bool = False

    def __post_init__(self) -> None:
        get_variant(self.model)  # unknown names fail here, listing the registered ones
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"Unknown optimizer {self.optimizer!r}; valid: {', '.join(OPTIMIZERS)}.")
        if self.device not in ("cpu", "cuda") and not self.device.startswith("cuda:"):
            raise ValueError(f"device must be 'cpu' or 'cuda[:n]' (resolve 'auto' first), got {self.device!r}.")
        for name in ("epochs", "batch_size", "eval_batch_size"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)!r}.")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise ValueError(f"lr must be a positive number, got {self.lr!r}.")
        if not (isinstance(self.input_dim, int) and self.input_dim >= 0):
            raise ValueError(f"input_dim must be a non-negative integer (0 = raw features), got {self.input_dim!r}.")
        if not 0.0 <= self.holdout < 0.9:
            raise ValueError(f"holdout must be a fraction in [0, 0.9), got {self.holdout!r}.")
        object.__setattr__(self, "metrics", check_metrics(self.metrics))
        for spec in self.init_from:
            if not isinstance(spec, dict) or "run" not in spec or not spec["run"].get("save_weights"):
                raise ValueError(
                    "Each init_from entry must be {'into': prefix, 'from': prefix, 'run': RunConfig dict} whose "
                    "run has save_weights=True (otherwise its weights are not kept)."
                )
        cache.canonical_json(self.to_dict())  # non-JSON values in model_kwargs fail early

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RunConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"Unknown RunConfig fields {unknown}; valid: {', '.join(sorted(known))}.")
        d = dict(d)
        for key in ("record_train", "record_test", "record_keys", "final_keys", "freeze", "init_from", "metrics"):
            if key in d:
                d[key] = tuple(d[key])
        return cls(**d)

    def replace(self, **changes: Any) -> RunConfig:
        return dataclasses.replace(self, **changes)


@dataclass
class RunResult:
    """A finished run: its config and cache key, per-epoch history, summary, predictions and records.

    ``config`` is the config that was asked for (a cache hit may come from a run of another variant name
    with the same architecture, or one that recorded more). ``arrays`` holds ``test_pred_last``,
    ``test_pred_papers`` (at the papers' test-selected epoch) and ``test_true`` on the original score scale,
    and recorded tensors: ``epoch/<key>/...`` stacked over epochs (first axis), ``final_train/...`` and
    ``final_test/...`` (every ``aux`` entry of the recorded videos) and ``test/<key>/...`` (the
    ``final_keys`` of every test video) after the last epoch. Time axes of videos batched together are
    zero-padded to the longest; ``.../lengths`` gives each video's length.
    """

    config: RunConfig
    key: str
    summary: dict[str, Any]
    history: pd.DataFrame
    arrays: dict[str, np.ndarray]
    meta: dict[str, Any]
    cached: bool = False
    state_dict: dict[str, Any] | None = None

    def records(self, prefix: str) -> dict[str, np.ndarray]:
        """Recorded arrays under ``prefix`` (e.g. ``"epoch/centres"``), keyed by the rest of their name."""
        p = prefix.rstrip("/") + "/"
        return {k[len(p):]: v for k, v in self.arrays.items() if k.startswith(p)}


class TrainingError(RuntimeError):
    """Training could not go on (e.g. the loss became NaN); the message says what to change."""


# ---------------------------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------------------------


@lru_cache(maxsize=8)
def _load_data(dataset: str, target: str, source: str, data_root: str, scale: str, data_seed: int,
               norm: str | float | None) -> AQAData:
    return load(dataset, target, source=source, data_root=data_root or None, scale=scale, seed=data_seed,
                norm=norm)


@lru_cache(maxsize=8)
def _projected_data(dataset: str, target: str, source: str, data_root: str, scale: str, data_seed: int,
                    norm: str | float | None, input_dim: int) -> AQAData:
    from .data.core import principal_subspace

    return principal_subspace(_load_data(dataset, target, source, data_root, scale, data_seed, norm), input_dim)


def load_data(config: RunConfig) -> AQAData:
    """The run's data (memoised in-process: notebooks comparing variants on one dataset load it once),
    projected on its training principal subspace when ``config.input_dim`` is set."""
    args = (config.dataset, config.target, config.source, config.data_root, config.scale, config.data_seed,
            config.norm)
    return _projected_data(*args, config.input_dim) if config.input_dim else _load_data(*args)


def _holdout_split(split: Split, fraction: float, seed: int) -> tuple[Split, Split | None]:
    if fraction <= 0:
        return split, None
    n = len(split)
    n_hold = max(2, int(round(fraction * n)))
    if n - n_hold < 2:
        raise ValueError(f"holdout={fraction} leaves fewer than 2 training videos out of {n}.")
    # Stratify by score so the held-out part spans the score range.
    order = np.argsort(split.scores, kind="stable")
    rng = np.random.default_rng(seed)
    step = n / n_hold
    picks = {int(order[min(n - 1, int(i * step + rng.uniform(0, step)))]) for i in range(n_hold)}
    hold = np.array(sorted(picks))
    keep = np.setdiff1d(np.arange(n), hold)
    return split.subset(keep), split.subset(hold)


def data_window(data: AQAData) -> int:
    from .data.registry import get_spec

    return get_spec(data.dataset).train_window


# ---------------------------------------------------------------------------------------------------------
# Cache key: what decides the numbers
# ---------------------------------------------------------------------------------------------------------


def _builder_name(config: RunConfig) -> tuple[str, str]:
    builder = get_variant(config.model).builder
    return builder.__module__, getattr(builder, "__qualname__", repr(builder))


def code_roots(config: RunConfig) -> tuple[str, ...]:
    """Modules whose source (and what they import) decides this run: the engine and the model's module."""
    return (*cache.ENGINE_ROOTS, _builder_name(config)[0])


def _keyword_defaults(fn: Any) -> tuple[dict[str, Any], bool]:
    """Keyword defaults of ``fn``'s signature (JSON-able, else their repr), and whether it takes ``**kw``."""
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return {}, True
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    defaults = {}
    for p in params:
        if p.kind in kinds and p.default is not inspect.Parameter.empty and p.name != "in_dims":
            try:
                cache.canonical_json(p.default)
                defaults[p.name] = p.default
            except TypeError:
                defaults[p.name] = repr(p.default)
    return defaults, any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params)


def resolved_model_kwargs(config: RunConfig, data: AQAData | None = None) -> dict[str, Any]:
    """Every keyword the model is built with: the builder's signature defaults (and, for a builder that
    forwards ``**cfg`` to the class named as its return type, that class's keyword defaults), then the
    variant's overrides, then the config's ``model_kwargs``; ``modalities`` left at None is what the model
    then reads on this data. Two variant names that resolve alike are the same model."""
    builder = get_variant(config.model).builder
    defaults, forwards = _keyword_defaults(builder)
    if forwards:
        try:
            returned = typing.get_type_hints(builder).get("return")
        except Exception:  # noqa: BLE001 - an unresolvable annotation only costs sharing, never soundness
            returned = None
        if inspect.isclass(returned):
            defaults = {**_keyword_defaults(returned.__init__)[0], **defaults}
    kwargs = {**defaults, **model_config(config.model, **config.model_kwargs)}
    if "modalities" in kwargs and kwargs["modalities"] is None:
        data = data if data is not None else load_data(config)
        kwargs["modalities"] = list(built_modalities(config.model, dict(data.modalities), **config.model_kwargs))
    return kwargs


def run_identity(config: RunConfig, data: AQAData | None = None) -> dict[str, Any]:
    """What :func:`run_key` hashes: the resolved architecture, the training settings, the data's fingerprint,
    the code version of :func:`code_roots` and the torch version (see the module docstring)."""
    data = data if data is not None else load_data(config)
    settings = {k: v for k, v in config.to_dict().items() if k not in NOT_IN_KEY}
    module, name = _builder_name(config)
    settings["model_kwargs"] = resolved_model_kwargs(config, data)
    settings["init_from"] = [
        {"into": spec.get("into", ""), "from": spec.get("from", ""), "run": run_key(RunConfig.from_dict(spec["run"]))}
        for spec in config.init_from
    ]
    return {"builder": f"{module}.{name}", "settings": settings, "data": data.fingerprint,
            "files": _file_digests(settings["model_kwargs"]), "package_data": cache.package_data_digest(),
            "code": cache.code_version(code_roots(config)), "torch": torch.__version__}


def _file_digests(kwargs: dict[str, Any]) -> dict[str, str]:
    """Content digests of the files a model keyword names (e.g. a folder of prompt embeddings), so a key
    follows the files' content, not only their path."""
    return {name: cache.content_digest(value) for name, value in sorted(kwargs.items())
            if isinstance(value, str) and value and Path(value).exists()}


def run_key(config: RunConfig, data: AQAData | None = None) -> str:
    """Cache key of a run: the fingerprint of :func:`run_identity`."""
    return cache.fingerprint(run_identity(config, data))


# ---------------------------------------------------------------------------------------------------------
# Model calls: extras in, float32 losses out
# ---------------------------------------------------------------------------------------------------------


def _autocast(device: torch.device, enabled: bool, cpu: bool = False):
    """bf16 autocast when ``enabled`` on CUDA, and on CPU only when ``cpu`` too (``RunConfig.cpu_bf16``)."""
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16,
                          enabled=enabled and (device.type == "cuda" or cpu))


def _forward(model: nn.Module, batch: Batch) -> ModelOutput:
    """``model(features, mask, **extras it names in batch_inputs)``."""
    names = tuple(getattr(model, "batch_inputs", ()))
    return model(batch.features, batch.mask, **batch.pick(names, who=type(model).__name__)) if names \
        else model(batch.features, batch.mask)


def _fp32(obj: Any) -> Any:
    """Floating tensors in a (nested) aux structure cast to float32 (gradients flow through the cast)."""
    if isinstance(obj, Tensor):
        return obj.float() if obj.is_floating_point() else obj
    if isinstance(obj, dict):
        return {k: _fp32(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_fp32(v) for v in obj)
    return obj


def _loss(model: nn.Module, out: ModelOutput, batch: Batch) -> tuple[Tensor, dict[str, Tensor]]:
    """The model's objective, in float32 outside autocast, with the extras it names in ``loss_inputs``."""
    names = tuple(getattr(model, "loss_inputs", ()))
    out32 = ModelOutput(out.score.float(), _fp32(out.aux))
    with torch.autocast(device_type=batch.labels.device.type, enabled=False):
        return model.loss(out32, batch.labels, **batch.pick(names, who=f"{type(model).__name__}.loss"))


@torch.no_grad()
def predict(model: nn.Module, bank: FeatureBank, *, batch_size: int = 16, amp: bool = True,
            cpu_bf16: bool = False) -> np.ndarray:
    """Normalised predictions on whole sequences, in split order (model put in eval mode)."""
    model.eval()
    out = []
    for batch in bank.eval_batches(batch_size):
        with _autocast(bank.device, amp, cpu_bf16):
            o = _forward(model, batch)
        out.append(o.score.float())
    return torch.cat(out).cpu().numpy()


def _flatten(prefix: str, obj: Any, out: dict[str, np.ndarray]) -> None:
    if isinstance(obj, Tensor):
        t = obj.detach()
        out[prefix] = (t.float() if t.is_floating_point() else t).cpu().numpy()  # integers stay integers
    elif isinstance(obj, dict):
        for k, v in obj.items():
            _flatten(f"{prefix}/{k}", v, out)
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            _flatten(f"{prefix}/{i}", v, out)
    elif isinstance(obj, (int, float, np.ndarray)):
        out[prefix] = np.asarray(obj)


@torch.no_grad()
def _record(model: nn.Module, bank: FeatureBank, index: Sequence[int], keys: Iterable[str] | None,
            amp: bool, cpu_bf16: bool = False) -> dict[str, np.ndarray]:
    if not index:
        return {}
    model.eval()
    batch = bank.full_batch(torch.as_tensor(list(index), device=bank.device))
    with _autocast(bank.device, amp, cpu_bf16):
        o = _forward(model, batch)
    if keys is None:
        aux = o.aux
    else:
        aux = {}
        for k in keys:
            value = _select(o.aux, k)
            if value is not None:
                aux[k] = value
    out: dict[str, np.ndarray] = {"score": o.score.float().cpu().numpy(), "lengths": batch.lengths.cpu().numpy()}
    for k, v in aux.items():
        _flatten(k, v, out)
    return out


def _select(aux: dict[str, Any], path: str) -> Any:
    """``aux`` entry at ``path`` (``"centres"``, ``"attention/rgb/-1"``: keys and list indices), or None."""
    node: Any = aux
    for part in path.split("/"):
        if isinstance(node, dict):
            node = node.get(part)
        elif isinstance(node, (list, tuple)):
            try:
                node = node[int(part)]
            except (ValueError, IndexError):
                return None
        else:
            return None
        if node is None:
            return None
    return node


def _concat_padded(parts: list[np.ndarray]) -> np.ndarray:
    """Concatenate per-batch records on axis 0, padding axis 1 (time) where batches differ in length: with 0
    for float arrays and −1 for integer ones (e.g. PAMFN decisions, whose padding convention is −1)."""
    if len(parts) == 1 or parts[0].ndim < 2 or all(p.shape[1:] == parts[0].shape[1:] for p in parts):
        return np.concatenate(parts) if len(parts) > 1 else parts[0]
    width = max(p.shape[1] for p in parts)
    fill = -1 if np.issubdtype(parts[0].dtype, np.integer) else 0
    padded = [np.pad(p, [(0, 0), (0, width - p.shape[1])] + [(0, 0)] * (p.ndim - 2), constant_values=fill)
              for p in parts]
    return np.concatenate(padded)


def _valid_index(index: Sequence[int], n: int) -> list[int]:
    return [i for i in index if 0 <= i < n]


# ---------------------------------------------------------------------------------------------------------
# Engine: the steps of one run
# ---------------------------------------------------------------------------------------------------------


@contextlib.contextmanager
def isolated_rng() -> Iterator[None]:
    """Run a block without touching the caller's random state (torch CPU and CUDA, numpy, ``random``)."""
    np_state, py_state = np.random.get_state(), random.getstate()  # noqa: NPY002 - the legacy global state
    devices = list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []
    try:
        with torch.random.fork_rng(devices=devices):
            yield
    finally:
        np.random.set_state(np_state)  # noqa: NPY002
        random.setstate(py_state)


def _make_optimizer(named_parameters: Iterable[tuple[str, Tensor]], config: RunConfig) -> torch.optim.Optimizer:
    """The config's optimiser over ``named_parameters`` (those requiring gradients), one parameter group per
    ``lr_multipliers`` factor. Adam and AdamW update all tensors at once (``foreach=True``; PyTorch's CPU
    default is a Python loop over them): the same operations in the same order, so the same numbers, bit for
    bit (``tests/test_exactness.py``)."""
    groups: dict[float, list[Tensor]] = {}
    for name, p in named_parameters:
        if not p.requires_grad:
            continue
        factor = next((f for prefix, f in config.lr_multipliers.items() if name.startswith(prefix)), 1.0)
        groups.setdefault(float(factor), []).append(p)
    if not groups:
        raise TrainingError(f"Model {config.model!r} has no trainable parameters.")
    param_groups = [{"params": ps, "lr": config.lr * f, "lr_factor": f} for f, ps in groups.items()]
    adam = {"adamw": torch.optim.AdamW, "adam": torch.optim.Adam}.get(config.optimizer)
    if adam is not None:
        return adam(param_groups, lr=config.lr, weight_decay=config.weight_decay, foreach=True)
    return torch.optim.SGD(param_groups, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay)


def _cosine(step: int, total: int, min_ratio: float) -> float:
    return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * min(step, total) / max(total, 1)))


def _pretrained_sources(config: RunConfig) -> list[tuple[dict[str, Any], str]]:
    """The runs ``init_from`` starts from, each fetched from the cache or trained now, with an isolated RNG
    (so this run's numbers do not depend on whether they were cached). Returns (spec, cache key) pairs."""
    sources = []
    for spec in config.init_from:
        with isolated_rng():
            sources.append((spec, run(RunConfig.from_dict(spec["run"])).key))
    return sources


def _load_pretrained(model: nn.Module, config: RunConfig, sources: list[tuple[dict[str, Any], str]]) -> None:
    """Copy each source run's weights under ``from`` into this model's ``into`` submodule."""
    for spec, key in sources:
        weights = cache.load_weights(key)
        src, dst = spec.get("from", ""), spec.get("into", "")
        src_p, dst_p = (src + "." if src else ""), (dst + "." if dst else "")
        picked = {dst_p + k[len(src_p):]: v for k, v in weights.items() if k.startswith(src_p)}
        target = {k for k in model.state_dict() if k.startswith(dst_p)}
        missing, unexpected = sorted(target - set(picked)), sorted(set(picked) - target)
        if not picked or missing or unexpected:
            raise TrainingError(
                f"init_from {spec.get('run', {}).get('model')!r}: weights under {src!r} do not fit this model's "
                f"{dst or 'whole model'!r} (missing {missing[:3]}, unexpected {unexpected[:3]}). Check 'from'/'into'."
            )
        model.load_state_dict(picked, strict=False)


@dataclass
class _Run:
    """The state of one run in progress (what :func:`train`'s steps share)."""

    config: RunConfig
    data: AQAData
    device: torch.device
    model: nn.Module
    frozen: list[nn.Module]
    train_split: Split
    banks: dict[str, FeatureBank]
    window: int
    steps_per_epoch: int
    opt: torch.optim.Optimizer
    sched: torch.optim.lr_scheduler.LRScheduler
    gen: torch.Generator
    rec_train: list[int]
    rec_test: list[int]
    score_range: tuple[float, float]
    history: list[dict[str, Any]] = field(default_factory=list)
    epoch_records: dict[str, list[np.ndarray]] = field(default_factory=dict)
    best: dict[str, tuple[float, int, Any]] = field(
        default_factory=lambda: {"papers": (-math.inf, -1, None), "holdout": (-math.inf, -1, None)})
    start_epoch: int = 0
    noise: DropoutNoise | None = None


def noise_generator(seed: int, device: torch.device) -> torch.Generator:
    """The generator of a run's dropout masks: its own stream, derived from ``seed`` (the crops and the
    shuffling draw from another, ``torch.Generator().manual_seed(seed)``)."""
    stream = int(np.random.SeedSequence([seed, 1]).generate_state(1)[0])
    return torch.Generator(device=device).manual_seed(stream)


def _setup(config: RunConfig, data: AQAData, *,
           make_bank: Callable[[Split, torch.device], FeatureBank] | None = None) -> _Run:
    """Source runs, seeded model (pretrained parts loaded, frozen parts frozen), data on the device,
    optimiser and schedule, crop generator. ``make_bank(split, device)`` builds the feature banks (runs trained
    together share one copy of their features, :mod:`aqa_lib.group`)."""
    device = torch.device(config.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise TrainingError("config.device is 'cuda' but no CUDA GPU is visible; use device='cpu'.")
    sources = _pretrained_sources(config)  # before seeding: this run's randomness starts below
    torch.manual_seed(config.seed)
    model = create_model(config.model, in_dims=dict(data.modalities), **config.model_kwargs).to(device)
    _load_pretrained(model, config, sources)
    try:
        frozen = [model.get_submodule(p) for p in config.freeze]
    except AttributeError as exc:
        raise ValueError(f"freeze names a submodule {config.model!r} does not have: {exc}") from None
    for module in frozen:
        module.requires_grad_(False)
    noise = DropoutNoise(noise_generator(config.seed, device))
    use_run_noise(model, noise)  # dropout masks from the run's own generator, not the global one
    mods = tuple(model.modalities)
    train_split, hold_split = _holdout_split(data.train, config.holdout, config.seed)
    make_bank = make_bank or _feature_bank
    banks = {"train": make_bank(train_split.select_modalities(mods), device),
             "test": make_bank(data.test.select_modalities(mods), device)}
    if hold_split is not None:
        banks["holdout"] = make_bank(hold_split.select_modalities(mods), device)
    for names, who in ((getattr(model, "batch_inputs", ()), "forward"), (getattr(model, "loss_inputs", ()), "loss")):
        missing = [n for n in names if n not in banks["train"].extras and not (
            n in ("text", "text_mask") and banks["train"].text_flat is not None)]
        if missing:
            raise TrainingError(
                f"{config.model!r} reads per-video {missing} in its {who}, but {data.dataset}/{data.target} "
                f"({data.source}) provides {sorted(banks['train'].extras) or 'no extras'}"
                f"{' and text' if banks['train'].text_flat is not None else ''}. Load data that has them."
            )
    n_train = len(banks["train"])
    # Drop a last batch of one video (BatchNorm cannot train on it); keep every other remainder.
    steps_per_epoch = max(1, n_train // config.batch_size + (n_train % config.batch_size > 1))
    total_steps = steps_per_epoch * config.epochs
    opt = _make_optimizer(model.named_parameters(), config)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: _cosine(s, total_steps, config.min_lr_ratio))
    scores = np.concatenate([data.train.scores, data.test.scores]).astype(np.float64)
    return _Run(config, data, device, model, frozen, train_split, banks, config.window or data_window(data),
                steps_per_epoch, opt, sched, torch.Generator().manual_seed(config.seed),
                _valid_index(config.record_train, n_train), _valid_index(config.record_test, len(banks["test"])),
                (float(scores.min()), float(scores.max())), noise=noise)


def _feature_bank(split: Split, device: torch.device) -> FeatureBank:
    """A split's features on ``device``: float32 there (autocast casts per operation), pinned on the way to a GPU."""
    return FeatureBank(split, device, torch.float32, device.type == "cuda")


def _record_fields(config: RunConfig) -> dict[str, Any]:
    return {k: list(getattr(config, k)) for k in ("record_train", "record_test", "record_keys", "metrics")}


def _resume(r: _Run, key: str) -> None:
    """Continue from the checkpoint a killed run of the same key left (if it recorded the same things)."""
    ckpt = cache.checkpoint_path(key)
    try:
        state = torch.load(ckpt, map_location=r.device, weights_only=False)
    except FileNotFoundError:  # none, or a concurrent process training the same run just finished and removed it
        return
    if state.get("records") != _record_fields(r.config):
        return  # a run recording other things: its history cannot be continued
    r.model.load_state_dict(state["model"])
    r.opt.load_state_dict(state["optimizer"])
    r.sched.load_state_dict(state["scheduler"])
    r.gen.set_state(state["generator"])
    if r.noise is not None and state.get("noise_generator") is not None:
        r.noise.generator.set_state(state["noise_generator"])
    torch.set_rng_state(state["torch_rng"])
    if r.device.type == "cuda" and state.get("cuda_rng") is not None:
        torch.cuda.set_rng_state(state["cuda_rng"], r.device)
    r.history, r.epoch_records, r.best = state["history"], state["epoch_records"], state["best"]
    r.start_epoch = state["epoch"]
    print(f"[aqa_lib] {r.config.model} {r.config.dataset}/{r.config.target} seed {r.config.seed}: "
          f"resumed from epoch {r.start_epoch} (checkpoint {ckpt.name})", flush=True)


def _train_step(r: _Run, index: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
    """One optimisation step on random crops of the training videos at ``index``: the loss and its parts."""
    batch = r.banks["train"].train_batch(index, r.window, r.gen)
    with _autocast(r.device, r.config.amp, r.config.cpu_bf16):
        out = _forward(r.model, batch)
    total, parts = _loss(r.model, out, batch)
    r.opt.zero_grad(set_to_none=True)
    total.backward()
    if r.config.grad_clip > 0:
        nn.utils.clip_grad_norm_(r.model.parameters(), r.config.grad_clip)
    r.opt.step()
    r.sched.step()
    return total, parts


def _train_epoch(r: _Run, epoch: int) -> dict[str, float]:
    """One pass over the training split in random crops; the mean of every loss part."""
    r.model.train()
    for module in r.frozen:
        module.eval()
    n_train = len(r.banks["train"])
    perm = torch.randperm(n_train, generator=r.gen)
    sums: dict[str, Tensor] = {}
    for s in range(r.steps_per_epoch):
        total, parts = _train_step(r, perm[s * r.config.batch_size:(s + 1) * r.config.batch_size])
        for name, value in {"loss": total, **parts}.items():
            v = value.detach().float()
            sums[name] = sums[name] + v if name in sums else v
    row = {f"train_{k}": float(v) / r.steps_per_epoch for k, v in sums.items()}  # one sync per epoch
    check_finite_loss(r.config, row, epoch)
    return row


def check_finite_loss(c: RunConfig, row: dict[str, float], epoch: int, *, grouped: bool = False) -> None:
    """Stop a run whose epoch's mean training loss is not finite, saying what to change."""
    if not math.isfinite(row["train_loss"]):
        how = f" (seed {c.seed}, trained in a group)" if grouped else ""
        raise TrainingError(
            f"{c.model} on {c.dataset}/{c.target}{how}: the training loss became {row['train_loss']} in epoch "
            f"{epoch}. Lower lr (now {c.lr}) or enable grad_clip."
        )


def _evaluate(r: _Run) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    """The config's metrics on the test (and held-out) split, and the predictions they came from."""
    row: dict[str, float] = {}
    preds = {}
    for split_name in ("test", "holdout"):
        if split_name not in r.banks:
            continue
        pred = predict(r.model, r.banks[split_name], batch_size=r.config.eval_batch_size, amp=r.config.amp,
                       cpu_bf16=r.config.cpu_bf16)
        true = r.banks[split_name].labels.cpu().numpy()
        preds[split_name] = pred
        values = epoch_metrics(r.config.metrics, pred, true, norm=r.data.norm, score_range=r.score_range)
        row.update({f"{split_name}_{k}": v for k, v in values.items()})
    return row, preds


def _track_protocols(r: _Run, epoch: int, row: dict[str, Any], preds: dict[str, np.ndarray]) -> None:
    """Keep the best epoch on the test split (papers) and on the held-out split (holdout)."""
    for protocol, split_name in (("papers", "test"), ("holdout", "holdout")):
        if split_name in preds and row[f"{split_name}_spearman"] > r.best[protocol][0]:
            r.best[protocol] = (row[f"{split_name}_spearman"], epoch, preds["test"])


def _record_epoch(r: _Run) -> None:
    if r.config.record_keys and r.rec_train:
        for k, v in _record(r.model, r.banks["train"], r.rec_train, r.config.record_keys, r.config.amp,
                            r.config.cpu_bf16).items():
            r.epoch_records.setdefault(k, []).append(v)


def _checkpoint_state(r: _Run, epoch: int) -> dict[str, Any]:
    """What a checkpoint holds: everything :func:`_resume` needs to continue after ``epoch``."""
    return {"epoch": epoch, "model": r.model.state_dict(), "optimizer": r.opt.state_dict(),
            "scheduler": r.sched.state_dict(), "generator": r.gen.get_state(), "torch_rng": torch.get_rng_state(),
            "noise_generator": r.noise.generator.get_state() if r.noise is not None else None,
            "cuda_rng": torch.cuda.get_rng_state(r.device) if r.device.type == "cuda" else None,
            "history": r.history, "epoch_records": r.epoch_records, "best": r.best,
            "records": _record_fields(r.config)}


def _checkpoint(r: _Run, key: str, epoch: int) -> None:
    cache.atomic_torch_save(_checkpoint_state(r, epoch), cache.checkpoint_path(key))


def _final_records(r: _Run) -> dict[str, np.ndarray]:
    """Predictions of both protocols on the original scale, and every record for the figures."""
    c, norm = r.config, r.data.norm
    last_pred = predict(r.model, r.banks["test"], batch_size=c.eval_batch_size, amp=c.amp, cpu_bf16=c.cpu_bf16)
    arrays: dict[str, np.ndarray] = {
        "test_true": r.data.test.scores.astype(np.float64),
        "test_pred_last": last_pred.astype(np.float64) * norm,
        "test_pred_papers": np.asarray(r.best["papers"][2], dtype=np.float64) * norm,
    }
    if r.best["holdout"][2] is not None:
        arrays["test_pred_holdout"] = np.asarray(r.best["holdout"][2], dtype=np.float64) * norm
    for k, v in r.epoch_records.items():
        arrays[f"epoch/{k}"] = np.stack(v)
    for k, v in _record(r.model, r.banks["train"], r.rec_train, None, c.amp, c.cpu_bf16).items():
        arrays[f"final_train/{k}"] = v
    n_test = len(r.banks["test"])
    for prefix, index, keys in (("final_test", r.rec_test, None),
                                ("test", list(range(n_test)) if c.final_keys else [], c.final_keys)):
        parts: dict[str, list[np.ndarray]] = {}
        for start in range(0, len(index), c.eval_batch_size):  # batched: whole test sets fit any memory
            part = _record(r.model, r.banks["test"], index[start:start + c.eval_batch_size], keys, c.amp,
                           c.cpu_bf16)
            if start == 0:  # entries without a per-video first axis (e.g. query weights) are kept once
                n_b = len(part["score"])
                shared = {k for k, v in part.items() if v.ndim == 0 or v.shape[0] != n_b}
            for k, v in part.items():
                if k not in shared or start == 0:
                    parts.setdefault(k, []).append(v)
        for k, v in parts.items():
            arrays[f"{prefix}/{k}"] = _concat_padded(v)
    return arrays


def _summary(r: _Run, hist: pd.DataFrame) -> dict[str, Any]:
    """Each protocol's epoch and every metric there (``papers_*``, ``last_*``, ``holdout_*``)."""
    papers_epoch = int(r.best["papers"][1])
    summary: dict[str, Any] = {"papers_spearman": float(r.best["papers"][0]), "papers_epoch": papers_epoch}
    for m in r.config.metrics:
        summary[f"last_{m}"] = float(hist[f"test_{m}"].iloc[-1])
        if m != "spearman":
            summary[f"papers_{m}"] = float(hist[f"test_{m}"].iloc[papers_epoch - 1])
    summary["seconds_per_epoch"] = float(hist["seconds"].mean())
    if "holdout" in r.banks:
        summary["holdout_epoch"] = int(r.best["holdout"][1])
        for m in r.config.metrics:
            summary[f"holdout_{m}"] = float(hist[f"test_{m}"].iloc[r.best["holdout"][1] - 1])
    return summary


def _meta(r: _Run, seconds: float, resumed_from: int) -> dict[str, Any]:
    device = r.device
    names, test_names = r.train_split.names, r.data.test.names
    return {
        "provenance": r.data.provenance,
        "data_fingerprint": r.data.fingerprint,
        "code_roots": list(code_roots(r.config)),
        "code_version": cache.code_version(code_roots(r.config)),
        "device": str(device) + (f" ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else ""),
        "torch": torch.__version__,
        # CPU GEMMs split their work by thread count, so the same config on another count gives the same
        # numbers only to float precision (not in the key: results are shared; recorded so a user can tell)
        "threads": torch.get_num_threads(),
        "n_params": count_parameters(r.model),
        "n_trainable": count_parameters(r.model, trainable_only=True),
        "modalities": list(r.model.modalities),
        "window": r.window,
        "train_names": names,
        "test_names": test_names,
        "record_train": [names[i] for i in r.rec_train],
        "record_train_index": r.rec_train,
        "record_test": [test_names[i] for i in r.rec_test],
        "record_test_index": r.rec_test,
        "wall_seconds": seconds,
        "resumed_from_epoch": resumed_from,
        "group_size": 1,  # runs trained together (aqa_lib.group); the timings are then this run's share
    }


def _progress_bar(config: RunConfig, initial: int) -> Any:
    try:  # widgets in Jupyter when ipywidgets is installed; plain text otherwise (no "IProgress not found")
        import ipywidgets  # noqa: F401
        from tqdm.auto import tqdm
    except ImportError:
        from tqdm.std import tqdm
    return tqdm(total=config.epochs, initial=initial, desc=f"{config.model} {config.target} s{config.seed}",
                leave=False)


def runs_bar(total: int, desc: str = "runs") -> Any:
    """A text bar over runs on stderr (what ``papermill --log-output``, a notebook and a sweep show), beside
    each run's bar over epochs (:func:`_progress_bar`)."""
    from tqdm.std import tqdm

    return tqdm(total=total, desc=desc, unit="run", file=sys.stderr, dynamic_ncols=True)


def train(config: RunConfig, *, data: AQAData | None = None, progress: bool = False, key: str | None = None,
          checkpoint_every_s: float = 60.0, keep_checkpoint: bool = False, resume: bool = True,
          on_epoch_end: Callable[[int, dict[str, Any]], None] | None = None) -> RunResult:
    """Train one run from scratch (or, with ``resume``, from the checkpoint a killed run left) and return it.

    Prefer :func:`run`, which adds the results cache. ``on_epoch_end(epoch, row)`` is called after each
    epoch's evaluation (tests use it to simulate a kill). A finished run deletes its checkpoint unless
    ``keep_checkpoint`` (:func:`run` keeps it until the result is safely cached, then deletes it).
    """
    data = data if data is not None else load_data(config)
    key = key or run_key(config, data)
    r = _setup(config, data)
    if resume:
        _resume(r, key)
    resumed_from = r.start_epoch
    bar = _progress_bar(config, r.start_epoch) if progress else None
    last_ckpt = t_start = time.perf_counter()
    for epoch in range(r.start_epoch + 1, config.epochs + 1):
        t0 = time.perf_counter()
        row: dict[str, Any] = {"epoch": epoch, **_train_epoch(r, epoch)}
        row["lr"] = r.opt.param_groups[0]["lr"] / r.opt.param_groups[0].get("lr_factor", 1.0)
        metrics, preds = _evaluate(r)
        row.update(metrics)
        row["seconds"] = time.perf_counter() - t0
        _track_protocols(r, epoch, row, preds)
        _record_epoch(r)
        r.history.append(row)
        if bar is not None:
            bar.update(1)
            bar.set_postfix(test_rho=f"{row['test_spearman']:.3f}", loss=f"{row['train_loss']:.4f}")
        if on_epoch_end is not None:
            on_epoch_end(epoch, row)
        if time.perf_counter() - last_ckpt > checkpoint_every_s and epoch < config.epochs:
            _checkpoint(r, key, epoch)
            last_ckpt = time.perf_counter()
    if bar is not None:
        bar.close()

    hist = pd.DataFrame(r.history)
    result = RunResult(config, key, _summary(r, hist), hist, _final_records(r),
                       _meta(r, time.perf_counter() - t_start, resumed_from))
    if not keep_checkpoint:
        cache.checkpoint_path(key).unlink(missing_ok=True)
    if config.save_weights:
        result.state_dict = {k: v.detach().cpu() for k, v in r.model.state_dict().items()}
    return result


# ---------------------------------------------------------------------------------------------------------
# Cached runs
# ---------------------------------------------------------------------------------------------------------


def _is_prefix(short: Sequence[int], long: Sequence[int]) -> bool:
    return list(long[:len(short)]) == list(short)


def _covers(stored: dict[str, Any], config: RunConfig, key: str) -> bool:
    """Does a cached run (its stored config) hold everything ``config`` asks to be recorded?

    The videos ``config`` tracks must be the first ones the stored run tracked (the same videos, or a prefix
    of them: :func:`_recorded_as_asked` then hands back only the asked ones), so notebooks that track 3 and 8
    training videos of one run share one entry instead of retraining it in turn."""
    return (set(config.record_keys) <= set(stored.get("record_keys", ()))
            and set(config.final_keys) <= set(stored.get("final_keys", ()))
            and set(config.metrics) <= set(stored.get("metrics", ("spearman", "mse")))
            and _is_prefix(config.record_train, stored.get("record_train", ()))
            and _is_prefix(config.record_test, stored.get("record_test", ()))
            and (not config.save_weights or cache.has_weights(key)))


def _widened(config: RunConfig, stored: dict[str, Any]) -> RunConfig:
    """``config`` recording everything the stored run recorded too (so replacing it loses nothing): the union
    of the keys and metrics, and the longer list of tracked videos where one list starts the other."""
    def union(name: str) -> tuple:
        return tuple(dict.fromkeys([*stored.get(name, ()), *getattr(config, name)]))

    videos = {}
    for name in ("record_train", "record_test"):
        mine, theirs = tuple(getattr(config, name)), tuple(stored.get(name, ()))
        videos[name] = theirs if _is_prefix(mine, theirs) else mine if _is_prefix(theirs, mine) else None
    same_videos = all(v is not None for v in videos.values())
    return config.replace(
        record_keys=union("record_keys") if same_videos else config.record_keys,
        record_train=videos["record_train"] if same_videos else config.record_train,
        record_test=videos["record_test"] if same_videos else config.record_test,
        final_keys=union("final_keys"), metrics=tuple(m for m in union("metrics")),
        save_weights=config.save_weights or bool(stored.get("save_weights")))


def _recorded_as_asked(config: RunConfig, arrays: dict[str, np.ndarray], meta: dict[str, Any]
                       ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """The arrays and metadata of a run that tracked more videos than ``config`` asks for, cut to the asked
    ones (the first ``len(record_train)`` training and ``len(record_test)`` test videos; see :func:`_covers`).

    An entry is cut where its video axis has the run's number of tracked videos; entries without a per-video
    axis (e.g. LMAC-Net's query weights, one vector per model) are kept whole, by the rule that recorded them
    (:func:`_final_records`). Time axes stay padded to the longest video the run tracked."""
    n_train, n_test = len(config.record_train), len(config.record_test)
    had_train = len(meta.get("record_train_index", ()))
    had_test = len(meta.get("record_test_index", ()))
    if had_train == n_train and had_test == n_test:
        return arrays, meta
    cut: dict[str, np.ndarray] = {}
    for name, value in arrays.items():
        if name.startswith("epoch/") and value.ndim >= 2 and value.shape[1] == had_train:
            value = value[:, :n_train]
        elif name.startswith("final_train/") and value.ndim >= 1 and value.shape[0] == had_train:
            value = value[:n_train]
        elif name.startswith("final_test/") and value.ndim >= 1 and value.shape[0] == had_test:
            value = value[:n_test]
        cut[name] = value
    meta = {**meta, **{k: list(meta.get(k, ()))[:n] for k, n in
                       (("record_train", n_train), ("record_train_index", n_train),
                        ("record_test", n_test), ("record_test_index", n_test))}}
    return cut, meta


@dataclass
class PendingRun:
    """A run :func:`lookup` did not find in the cache: what to train (``to_train``, which records at least what
    ``config`` asks for) and under which key, and whether its training replaces a cached entry."""

    config: RunConfig
    to_train: RunConfig
    key: str
    data: AQAData
    replace: bool = False


def lookup(config: RunConfig, *, use_cache: bool = True) -> RunResult | PendingRun:
    """The cached result of ``config``, or the :class:`PendingRun` to train (a cached run that recorded less
    than asked is trained again, recording the union)."""
    data = load_data(config)
    key = run_key(config, data)
    to_train, replace = config, False
    if use_cache:
        hit = cache.load(key)
        if hit is not None:
            meta, arrays = hit
            if _covers(meta["config"], config, key):
                info = {**meta["meta"], "provenance": data.provenance}  # this data's path, not the first run's
                arrays, info = _recorded_as_asked(config, arrays, info)
                return RunResult(config, key, meta["summary"], pd.DataFrame(meta["history"]), arrays, info,
                                 cached=True)
            to_train, replace = _widened(config, meta["config"]), True
    return PendingRun(config, to_train, key, data, replace)


def store(pending: PendingRun, result: RunResult, *, use_cache: bool = True) -> RunResult:
    """Cache a freshly trained ``result`` of ``pending`` (atomically; then its checkpoint goes) and return it
    as the result of the config that was asked for."""
    if use_cache:
        cache.save(pending.key, {"config": pending.to_train.to_dict(), "summary": result.summary,
                                 "history": result.history.to_dict(orient="list"), "meta": result.meta},
                   result.arrays, result.state_dict, replace=pending.replace)
        cache.checkpoint_path(pending.key).unlink(missing_ok=True)
    result.config = pending.config
    result.arrays, result.meta = _recorded_as_asked(pending.config, result.arrays, result.meta)
    return result


# ---------------------------------------------------------------------------------------------------------
# Planning: which runs a piece of code needs, without training them (python -m aqa_lib.sweep)
# ---------------------------------------------------------------------------------------------------------


class PlanPending(BaseException):
    """Raised under :func:`planning` by :func:`run`, :func:`run_many` and :func:`aqa_lib.group.run_grouped`
    when some of a call's configs are not cached: ``configs`` holds every uncached config of that call (one per
    cache key, in call order) and ``keys`` their :func:`run_key`.

    A ``BaseException`` (like ``KeyboardInterrupt``), not an error: code that catches ``Exception`` around a
    run must not swallow it, or the planner would never learn about the run.
    """

    def __init__(self, configs: Sequence[RunConfig], keys: Sequence[str]) -> None:
        self.configs, self.keys = list(configs), list(keys)
        names = ", ".join(f"{c.model} {c.dataset}/{c.target} s{c.seed}" for c in self.configs[:3])
        more = f" and {len(self.configs) - 3} more" if len(self.configs) > 3 else ""
        super().__init__(f"{len(self.configs)} run(s) not cached yet: {names}{more}.")


@dataclass
class PlanningLog:
    """What a :func:`planning` block saw: ``cached`` (key -> config of each run found in the cache) and
    ``assumed``, keys whose runs are known to be pending: :func:`run` and friends return a placeholder
    :class:`RunResult` for them (empty summary, history and arrays; ``meta["planned"] = True``) instead of
    raising, so a planner can re-execute a cell to find the runs that come after them (a loop of :func:`run`
    calls). Code that reads a placeholder's numbers fails; the planner stops there."""

    cached: dict[str, RunConfig] = field(default_factory=dict)
    assumed: set[str] = field(default_factory=set)


_PLANNING: list[PlanningLog] = []


@contextlib.contextmanager
def planning(assumed: Iterable[str] = ()) -> Iterator[PlanningLog]:
    """Plan instead of train: inside the block, uncached runs raise :class:`PlanPending` (see its docstring);
    ``assumed`` keys get placeholder results instead (:class:`PlanningLog`). Yields the block's log."""
    log = PlanningLog(assumed=set(assumed))
    _PLANNING.append(log)
    try:
        yield log
    finally:
        _PLANNING.remove(log)


def planning_log() -> PlanningLog | None:
    """The innermost active :func:`planning` block's log, or None when runs train normally."""
    return _PLANNING[-1] if _PLANNING else None


def _placeholder(config: RunConfig, key: str) -> RunResult:
    return RunResult(config, key, {}, pd.DataFrame(), {}, {"planned": True})


def planned_results(configs: Sequence[RunConfig], *, use_cache: bool = True) -> list[RunResult]:
    """Under :func:`planning`: every config's cached result (or placeholder, for an assumed key), else
    :class:`PlanPending` naming all the uncached ones. What :func:`run` and :func:`run_many` do there."""
    log = planning_log()
    if log is None:
        raise RuntimeError("planned_results is only meaningful inside aqa_lib.train.planning().")
    if not use_cache:
        raise ValueError("A run with use_cache=False trains outside the results cache, so a sweep cannot plan it: "
                         "let the notebook use the cache, or execute it without aqa_lib.sweep.")
    results: list[RunResult] = []
    pending: dict[str, RunConfig] = {}
    for config in configs:
        found = lookup(config)
        if isinstance(found, RunResult):
            log.cached[found.key] = config
            results.append(found)
        elif found.key in log.assumed:
            results.append(_placeholder(config, found.key))
        else:
            pending.setdefault(found.key, config)
    if pending:
        raise PlanPending(list(pending.values()), list(pending))
    return results


def run(config: RunConfig, *, use_cache: bool = True, progress: bool = False) -> RunResult:
    """The result of ``config``: from the cache when present, else trained (and then cached atomically).

    With ``use_cache=False`` the run trains from scratch: the cache is neither read nor written, and a
    checkpoint a killed run left is not resumed. Under :func:`planning`, an uncached run raises
    :class:`PlanPending` instead of training.
    """
    if planning_log() is not None:
        return planned_results([config], use_cache=use_cache)[0]
    found = lookup(config, use_cache=use_cache)
    if isinstance(found, RunResult):
        return found
    result = train(found.to_train, data=found.data, progress=progress, key=found.key, keep_checkpoint=use_cache,
                   resume=use_cache)
    return store(found, result, use_cache=use_cache)


def run_many(configs: Iterable[RunConfig], *, use_cache: bool = True, progress: bool = False,
             group: bool | str = "auto", max_group: int = 8) -> list[RunResult]:
    """Every config's result, in order; the unit a sweep engine would distribute.

    Cached runs cost a lookup. The runs left to train that share an architecture and their optimisation
    settings (:func:`aqa_lib.group.group_key`) can train together, up to ``max_group`` at a time, as one
    stacked model (:mod:`aqa_lib.group`), each cached exactly as if it had trained alone. ``group``: ``"auto"``
    (the default) groups the runs on a GPU and trains CPU runs alone, where stacking does not pay
    (``benchmarks/bench_group.py``: the CPU is already busy with one run's products, and vmap turns
    convolutions into slower grouped ones); ``True`` groups on every device; ``False`` trains every run alone,
    one after another. Runs that cannot be stacked (:func:`aqa_lib.group.supports_grouping`) and groups of one
    train alone. Under :func:`planning`, the configs are all looked up first and the uncached ones raise
    :class:`PlanPending` together.
    """
    configs = list(configs)
    if group not in (True, False, "auto"):
        raise ValueError(f"group must be True, False or 'auto', got {group!r}.")
    if planning_log() is not None:
        return planned_results(configs, use_cache=use_cache)
    if group is False:
        return [run(c, use_cache=use_cache, progress=progress) for c in configs]
    from .group import run_grouped

    return run_grouped(configs, use_cache=use_cache, progress=progress, max_group=max_group, on_cpu=group is True)


def summarise(results: Sequence[RunResult], *, by: Sequence[str] = ("model", "dataset", "target")) -> pd.DataFrame:
    """Mean ± std over seeds of each protocol's test Spearman (and MSE), grouped by config fields ``by``."""
    rows = []
    for r in results:
        row = {b: getattr(r.config, b) for b in by}
        row.update({"seed": r.config.seed, **{k: v for k, v in r.summary.items() if not k.endswith("_epoch")}})
        rows.append(row)
    frame = pd.DataFrame(rows)
    metrics = [c for c in frame.columns if c not in (*by, "seed")]
    agg = frame.groupby(list(by), sort=False)[metrics].agg(["mean", "std", "count"])
    agg.columns = [f"{m}_{s}" for m, s in agg.columns]
    return agg.reset_index()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run one training job (a RunConfig as JSON) and print its summary.")
    parser.add_argument("config", help="path to a JSON file holding a RunConfig's fields, or '-' for stdin")
    parser.add_argument("--no-cache", action="store_true",
                        help="train from scratch: do not read or write the cache, do not resume a checkpoint")
    parser.add_argument("--progress", action="store_true")
    args = parser.parse_args(argv)
    try:
        text = sys.stdin.read() if args.config == "-" else open(args.config).read()
        fields = json.loads(text)
    except (OSError, json.JSONDecodeError) as exc:
        parser.error(f"cannot read a RunConfig from {args.config!r}: {exc}")
    result = run(RunConfig.from_dict(fields), use_cache=not args.no_cache, progress=args.progress)
    print(json.dumps({"key": result.key, "cached": result.cached, **result.summary}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
