"""The training engine every paper's notebooks share: one device-agnostic loop, a cache, both protocols.

A run is described completely by a :class:`RunConfig` (plain data: model variant name and overrides, data,
optimisation, what to record) and :func:`run` is a pure function of it: the result is cached under a
fingerprint of (config, data fingerprint, code version) (:mod:`aqa_lib.cache`), so a notebook re-run trains
nothing, a killed sweep resumes the missing runs, and one config is one job of a sweep
(``python -m aqa_lib.train config.json`` on any worker).

Protocol (PAMFN / GDLT / LMAC-Net official practice, ``shared/design/models.md``): every epoch, train on
random crops of ``window`` consecutive segments (the same crop for every modality), then evaluate on the
whole test sequences. Two numbers come out of every run:

- ``papers``: the best test Spearman over all epochs, **the papers' protocol; it selects the epoch on the
  test set**, so it is optimistically biased (more so with few test videos and many epochs);
- ``last``: the test Spearman after the last epoch (no selection: the honest protocol), and, when
  ``holdout > 0``, ``holdout``: the test Spearman at the epoch chosen on a held-out part of the training
  split (which the model then does not train on).

Device: CUDA when asked for (``device="auto"`` resolves in :func:`aqa_lib.notebook.resolve_device`), with
bf16 autocast and every split resident on the GPU (:class:`aqa_lib.data.batching.FeatureBank`: batches are
gathered on the device, no per-step host copies, and loss parts are summed on the device and read once per
epoch); CPU otherwise, deterministic per seed (initialisation, dropout and crops all come from ``seed``).

What figures need is recorded during training so they never retrain: for the training videos at
``record_train``, every epoch, the model's ``aux`` entries named in ``record_keys`` (LMAC-Net: attention
centres per modality and layer, for the trajectory figures); after the last epoch, every ``aux`` entry of
the videos at ``record_test`` (attention maps, per-query scores and weights, for the case-study figures).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import Tensor, nn

from . import cache
from .data import AQAData, load
from .data.batching import FeatureBank
from .data.core import Split
from .metrics import mse, spearman
from .models.base import count_parameters, create_model, get_variant

OPTIMIZERS = ("adamw", "sgd", "adam")
PROTOCOLS = ("papers", "last", "holdout")


@dataclass(frozen=True)
class RunConfig:
    """Everything that determines one training run (hashed, with the data and code, into its cache key).

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
        eval_batch_size: whole-sequence evaluation batch size.
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
        amp: bf16 autocast on CUDA (ignored on CPU).
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
    eval_batch_size: int = 16
    record_train: tuple[int, ...] = (0, 1, 2)
    record_test: tuple[int, ...] = (0, 1)
    record_keys: tuple[str, ...] = ()
    final_keys: tuple[str, ...] = ()
    save_weights: bool = False
    init_from: tuple[dict[str, Any], ...] = ()
    freeze: tuple[str, ...] = ()
    device: str = "cpu"
    amp: bool = True

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
        if not 0.0 <= self.holdout < 0.9:
            raise ValueError(f"holdout must be a fraction in [0, 0.9), got {self.holdout!r}.")
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
        for key in ("record_train", "record_test", "record_keys", "final_keys", "freeze", "init_from"):
            if key in d:
                d[key] = tuple(d[key])
        return cls(**d)

    def replace(self, **changes: Any) -> RunConfig:
        return dataclasses.replace(self, **changes)


@dataclass
class RunResult:
    """A finished run: its config and cache key, per-epoch history, summary, predictions and records.

    ``arrays`` holds ``test_pred_last``, ``test_pred_papers`` (at the papers' test-selected epoch) and
    ``test_true`` on the original score scale, and recorded tensors: ``epoch/<key>/...`` stacked over epochs
    (first axis), ``final_train/...`` and ``final_test/...`` (every ``aux`` entry of the recorded videos)
    and ``test/<key>/...`` (the ``final_keys`` of every test video) after the last epoch. Time axes of
    videos batched together are zero-padded to the longest; ``.../lengths`` gives each video's length.
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


def load_data(config: RunConfig) -> AQAData:
    """The run's data (memoised in-process: notebooks comparing variants on one dataset load it once)."""
    return _load_data(config.dataset, config.target, config.source, config.data_root, config.scale,
                      config.data_seed, config.norm)


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


def run_key(config: RunConfig, data: AQAData) -> str:
    """Cache key of a run: fingerprint of (config, data fingerprint, code version)."""
    return cache.fingerprint(config.to_dict(), data.fingerprint, cache.code_version())


# ---------------------------------------------------------------------------------------------------------
# Engine
# ---------------------------------------------------------------------------------------------------------


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


def _autocast(device: torch.device, enabled: bool):
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=enabled and device.type == "cuda")


def _make_optimizer(model: nn.Module, config: RunConfig) -> torch.optim.Optimizer:
    groups: dict[float, list[nn.Parameter]] = {}
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        factor = next((f for prefix, f in config.lr_multipliers.items() if name.startswith(prefix)), 1.0)
        groups.setdefault(float(factor), []).append(p)
    if not groups:
        raise TrainingError(f"Model {config.model!r} has no trainable parameters.")
    param_groups = [{"params": ps, "lr": config.lr * f, "lr_factor": f} for f, ps in groups.items()]
    if config.optimizer == "adamw":
        return torch.optim.AdamW(param_groups, lr=config.lr, weight_decay=config.weight_decay)
    if config.optimizer == "adam":
        return torch.optim.Adam(param_groups, lr=config.lr, weight_decay=config.weight_decay)
    return torch.optim.SGD(param_groups, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay)


def _cosine(step: int, total: int, min_ratio: float) -> float:
    return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * min(step, total) / max(total, 1)))


@torch.no_grad()
def predict(model: nn.Module, bank: FeatureBank, *, batch_size: int = 16, amp: bool = True) -> np.ndarray:
    """Normalised predictions on whole sequences, in split order (model put in eval mode)."""
    model.eval()
    out = []
    for batch in bank.eval_batches(batch_size):
        with _autocast(bank.device, amp):
            o = model(batch.features, batch.mask)
        out.append(o.score.float())
    return torch.cat(out).cpu().numpy()


@torch.no_grad()
def _record(model: nn.Module, bank: FeatureBank, index: Sequence[int], keys: Iterable[str] | None,
            amp: bool) -> dict[str, np.ndarray]:
    if not index:
        return {}
    model.eval()
    batch = bank.full_batch(torch.as_tensor(list(index), device=bank.device))
    with _autocast(bank.device, amp):
        o = model(batch.features, batch.mask)
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


def train(config: RunConfig, *, data: AQAData | None = None, progress: bool = False, key: str | None = None,
          checkpoint_every_s: float = 60.0, keep_checkpoint: bool = False,
          on_epoch_end: Callable[[int, dict[str, Any]], None] | None = None) -> RunResult:
    """Train one run from scratch (or from its checkpoint, if a killed run left one) and return its result.

    Prefer :func:`run`, which adds the results cache. ``on_epoch_end(epoch, row)`` is called after each
    epoch's evaluation (tests use it to simulate a kill). A finished run deletes its checkpoint unless
    ``keep_checkpoint`` (:func:`run` keeps it until the result is safely cached, then deletes it).
    """
    data = data if data is not None else load_data(config)
    key = key or run_key(config, data)
    device = torch.device(config.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise TrainingError("config.device is 'cuda' but no CUDA GPU is visible; use device='cpu'.")

    torch.manual_seed(config.seed)
    model = create_model(config.model, in_dims=dict(data.modalities), **config.model_kwargs).to(device)
    _initialise(model, config)
    try:
        frozen = [model.get_submodule(p) for p in config.freeze]
    except AttributeError as exc:
        raise ValueError(f"freeze names a submodule {config.model!r} does not have: {exc}") from None
    for module in frozen:
        module.requires_grad_(False)
    mods = tuple(model.modalities)
    train_split, hold_split = _holdout_split(data.train, config.holdout, config.seed)
    store = torch.bfloat16 if (device.type == "cuda" and config.amp) else torch.float32
    pin = device.type == "cuda"
    banks = {"train": FeatureBank(train_split.select_modalities(mods), device, store, pin),
             "test": FeatureBank(data.test.select_modalities(mods), device, store, pin)}
    if hold_split is not None:
        banks["holdout"] = FeatureBank(hold_split.select_modalities(mods), device, store, pin)
    window = config.window or data_window(data)
    n_train = len(banks["train"])
    # Drop a last batch of one video (BatchNorm cannot train on it); keep every other remainder.
    steps_per_epoch = max(1, n_train // config.batch_size + (n_train % config.batch_size > 1))
    total_steps = steps_per_epoch * config.epochs
    opt = _make_optimizer(model, config)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: _cosine(s, total_steps, config.min_lr_ratio))
    gen = torch.Generator().manual_seed(config.seed)
    rec_train = _valid_index(config.record_train, n_train)
    n_test = len(banks["test"])
    rec_test = _valid_index(config.record_test, n_test)

    history: list[dict[str, Any]] = []
    epoch_records: dict[str, list[np.ndarray]] = {}
    best = {"papers": (-math.inf, -1, None), "holdout": (-math.inf, -1, None)}
    start_epoch = 0
    ckpt = cache.checkpoint_path(key)
    if ckpt.exists():
        state = torch.load(ckpt, map_location=device, weights_only=False)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        gen.set_state(state["generator"])
        torch.set_rng_state(state["torch_rng"])
        if device.type == "cuda" and state.get("cuda_rng") is not None:
            torch.cuda.set_rng_state(state["cuda_rng"], device)
        history, epoch_records, best = state["history"], state["epoch_records"], state["best"]
        start_epoch = state["epoch"]

    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=config.epochs, initial=start_epoch, desc=f"{config.model} {config.target} s{config.seed}",
                   leave=False)
    last_ckpt = time.perf_counter()
    t_start = time.perf_counter()
    for epoch in range(start_epoch, config.epochs):
        t0 = time.perf_counter()
        model.train()
        for module in frozen:
            module.eval()
        perm = torch.randperm(n_train, generator=gen)
        sums: dict[str, Tensor] = {}
        n_steps = 0
        for s in range(steps_per_epoch):
            idx = perm[s * config.batch_size:(s + 1) * config.batch_size]
            batch = banks["train"].train_batch(idx, window, gen)
            with _autocast(device, config.amp):
                out = model(batch.features, batch.mask)
                total, parts = model.loss(out, batch.labels)
            opt.zero_grad(set_to_none=True)
            total.backward()
            if config.grad_clip > 0:
                nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
            opt.step()
            sched.step()
            for name, value in {"loss": total, **parts}.items():
                v = value.detach().float()
                sums[name] = sums[name] + v if name in sums else v
            n_steps += 1
        row: dict[str, Any] = {"epoch": epoch + 1}
        row.update({f"train_{k}": float(v) / n_steps for k, v in sums.items()})  # one sync per epoch
        if not math.isfinite(row["train_loss"]):
            raise TrainingError(
                f"{config.model} on {config.dataset}/{config.target}: the training loss became "
                f"{row['train_loss']} in epoch {epoch + 1}. Lower lr (now {config.lr}) or enable grad_clip."
            )
        row["lr"] = opt.param_groups[0]["lr"] / opt.param_groups[0].get("lr_factor", 1.0)
        preds = {}
        for split_name in ("test", "holdout"):
            if split_name not in banks:
                continue
            pred = predict(model, banks[split_name], batch_size=config.eval_batch_size, amp=config.amp)
            true = banks[split_name].labels.cpu().numpy()
            preds[split_name] = pred
            row[f"{split_name}_spearman"] = spearman(pred, true)
            row[f"{split_name}_mse"] = mse(pred, true, norm=data.norm)
        row["seconds"] = time.perf_counter() - t0
        for protocol, split_name in (("papers", "test"), ("holdout", "holdout")):
            if split_name in preds and row[f"{split_name}_spearman"] > best[protocol][0]:
                best[protocol] = (row[f"{split_name}_spearman"], epoch + 1, preds["test"])
        if config.record_keys and rec_train:
            for k, v in _record(model, banks["train"], rec_train, config.record_keys, config.amp).items():
                epoch_records.setdefault(k, []).append(v)
        history.append(row)
        if bar is not None:
            bar.update(1)
            bar.set_postfix(test_rho=f"{row['test_spearman']:.3f}", loss=f"{row['train_loss']:.4f}")
        if on_epoch_end is not None:
            on_epoch_end(epoch + 1, row)
        if time.perf_counter() - last_ckpt > checkpoint_every_s and epoch + 1 < config.epochs:
            cache.atomic_torch_save(
                {"epoch": epoch + 1, "model": model.state_dict(), "optimizer": opt.state_dict(),
                 "scheduler": sched.state_dict(), "generator": gen.get_state(), "torch_rng": torch.get_rng_state(),
                 "cuda_rng": torch.cuda.get_rng_state(device) if device.type == "cuda" else None,
                 "history": history, "epoch_records": epoch_records, "best": best},
                ckpt,
            )
            last_ckpt = time.perf_counter()
    if bar is not None:
        bar.close()

    hist = pd.DataFrame(history)
    last_pred = predict(model, banks["test"], batch_size=config.eval_batch_size, amp=config.amp)
    arrays: dict[str, np.ndarray] = {
        "test_true": data.test.scores.astype(np.float64),
        "test_pred_last": last_pred.astype(np.float64) * data.norm,
        "test_pred_papers": np.asarray(best["papers"][2], dtype=np.float64) * data.norm,
    }
    if best["holdout"][2] is not None:
        arrays["test_pred_holdout"] = np.asarray(best["holdout"][2], dtype=np.float64) * data.norm
    for k, v in epoch_records.items():
        arrays[f"epoch/{k}"] = np.stack(v)
    for k, v in _record(model, banks["train"], rec_train, None, config.amp).items():
        arrays[f"final_train/{k}"] = v
    for prefix, index, keys in (("final_test", rec_test, None),
                                ("test", list(range(n_test)) if config.final_keys else [], config.final_keys)):
        parts: dict[str, list[np.ndarray]] = {}
        for start in range(0, len(index), config.eval_batch_size):  # batched: whole test sets fit any memory
            part = _record(model, banks["test"], index[start:start + config.eval_batch_size], keys, config.amp)
            if start == 0:  # entries without a per-video first axis (e.g. query weights) are kept once
                n_b = len(part["score"])
                shared = {k for k, v in part.items() if v.ndim == 0 or v.shape[0] != n_b}
            for k, v in part.items():
                if k not in shared or start == 0:
                    parts.setdefault(k, []).append(v)
        for k, v in parts.items():
            arrays[f"{prefix}/{k}"] = _concat_padded(v)
    summary = {
        "papers_spearman": float(best["papers"][0]),
        "papers_epoch": int(best["papers"][1]),
        "last_spearman": float(hist["test_spearman"].iloc[-1]),
        "last_mse": float(hist["test_mse"].iloc[-1]),
        "papers_mse": float(hist["test_mse"].iloc[best["papers"][1] - 1]),
        "seconds_per_epoch": float(hist["seconds"].mean()),
    }
    if hold_split is not None:
        summary["holdout_epoch"] = int(best["holdout"][1])
        summary["holdout_spearman"] = float(hist["test_spearman"].iloc[best["holdout"][1] - 1])
    meta = {
        "provenance": data.provenance,
        "data_fingerprint": data.fingerprint,
        "code_version": cache.code_version(),
        "device": str(device) + (f" ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else ""),
        "torch": torch.__version__,
        "n_params": count_parameters(model),
        "n_trainable": count_parameters(model, trainable_only=True),
        "modalities": list(mods),
        "window": window,
        "train_names": train_split.names,
        "test_names": data.test.names,
        "record_train": [train_split.names[i] for i in rec_train],
        "record_train_index": rec_train,
        "record_test": [data.test.names[i] for i in rec_test],
        "record_test_index": rec_test,
        "wall_seconds": time.perf_counter() - t_start,
    }
    result = RunResult(config, key, summary, hist, arrays, meta)
    if not keep_checkpoint:
        ckpt.unlink(missing_ok=True)
    if config.save_weights:
        result.state_dict = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    return result


def _initialise(model: nn.Module, config: RunConfig) -> None:
    """Load the weights named by ``config.init_from`` (training the source runs first if not cached)."""
    for spec in config.init_from:
        source = run(RunConfig.from_dict(spec["run"]))
        weights = cache.load_weights(source.key)
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


def data_window(data: AQAData) -> int:
    from .data.registry import get_spec

    return get_spec(data.dataset).train_window


def run(config: RunConfig, *, use_cache: bool = True, progress: bool = False) -> RunResult:
    """The result of ``config``: from the cache when present, else trained (and then cached atomically)."""
    data = load_data(config)
    key = run_key(config, data)
    if use_cache:
        hit = cache.load(key)
        if hit is not None:
            meta, arrays = hit
            return RunResult(RunConfig.from_dict(meta["config"]), key, meta["summary"],
                             pd.DataFrame(meta["history"]), arrays, meta["meta"], cached=True)
    result = train(config, data=data, progress=progress, key=key, keep_checkpoint=use_cache)
    if use_cache:
        cache.save(key, {"config": config.to_dict(), "summary": result.summary,
                         "history": result.history.to_dict(orient="list"), "meta": result.meta}, result.arrays,
                   result.state_dict)
        cache.checkpoint_path(key).unlink(missing_ok=True)
    return result


def run_many(configs: Iterable[RunConfig], *, use_cache: bool = True, progress: bool = False) -> list[RunResult]:
    """Run every config in order (cached ones cost a lookup); the unit a sweep engine would distribute."""
    return [run(c, use_cache=use_cache, progress=progress) for c in configs]


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
    parser.add_argument("--no-cache", action="store_true", help="train even if a cached result exists")
    parser.add_argument("--progress", action="store_true")
    args = parser.parse_args(argv)
    text = sys.stdin.read() if args.config == "-" else open(args.config).read()
    result = run(RunConfig.from_dict(json.loads(text)), use_cache=not args.no_cache, progress=args.progress)
    print(json.dumps({"key": result.key, "cached": result.cached, **result.summary}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
