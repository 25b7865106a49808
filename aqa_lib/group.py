"""Runs trained together: a group of runs that differ only in seed, target or data trains as one stacked model.

A sweep (seeds × targets × table rows) holds many runs of one architecture with one optimisation recipe. Alone,
each of them is a small model that keeps a GPU (or a CPU's vector units) far from busy: its steps are short
chains of small kernels. Trained together, the members' parameters are stacked along a leading *member* axis
and one step runs every member: one forward and backward pass (``torch.func.vmap`` over
``torch.func.functional_call`` of the model, so the model's code is unchanged) and one optimiser step.

Design (ours)
-------------
- **Stacked parameters and vmap, not an ensemble layer.** Every parameter and buffer of the members is
  stacked to ``[N, ...]``; the model is called once per step through ``vmap(functional_call(template, ...))``,
  where ``template`` is a copy of the architecture whose own weights are never used. Any model written for one
  run trains in a group as it is: there is no ensemble version of each layer to write and keep in sync. (An
  ensemble dimension built into the layers would avoid the batching rules' overhead, but every model of every
  paper would need it.)
- **Per-member BatchNorm.** Running statistics are stacked buffers too; inside vmap each member normalises with
  its own batch statistics and updates its own running statistics in place.
- **Per-member dropout.** The engine draws every dropout mask from the run's own generator
  (:class:`aqa_lib.models.blocks.DropoutNoise`), for runs trained alone and in groups alike. vmap cannot call
  a member's generator, so before each step every member draws, from its generator, the noise its dropout
  layers will ask for (the shapes are recorded once per input shape by a forward pass that drops nothing);
  inside the step each member's dropout layers replay their own noise. Crops and shuffles come from each
  member's crop generator, in the same order as alone.
- **One optimiser over the stacked parameters.** Adam, AdamW (decoupled weight decay) and SGD with momentum are
  elementwise, so one optimiser over ``[N, ...]`` tensors updates every member exactly as its own optimiser
  would, provided the members share the optimiser settings, the learning-rate schedule and the parameter groups
  (``lr_multipliers``) — which :func:`group_key` requires. Gradient-norm clipping is not elementwise: it is
  computed per member (each member's norm over all its parameters, PyTorch's formula).
- **Evaluation batched across members.** When the members share their test videos (other seeds or targets of
  one dataset), every evaluation batch runs once through the stacked model; otherwise each member is evaluated
  alone. Held-out splits (``holdout > 0``) differ per seed and are evaluated per member.
- **Each member is the run it would have been alone.** Members are set up by the solo engine
  (:func:`aqa_lib.train._setup`: seeded initialisation, pretrained parts, frozen parts, its crop and dropout
  generators), then fused; afterwards the solo engine's own functions compute their records, summaries and
  metadata from per-member models whose parameters are views of the stacked ones. A member's
  :class:`~aqa_lib.train.RunResult` and cache entry are those of the run trained alone, up to float rounding
  (batched kernels sum in another order): same key, history, predictions, records, summary and metadata,
  except the timings (``seconds``, ``wall_seconds``: the member's share of the group's time) and
  ``meta["group_size"]``. Features on the device are shared by members that read the same videos.
  Where rounding grows: Adam(W) divides each gradient by its running scale, so a parameter whose true gradient
  is zero (a bias just before a BatchNorm) takes learning-rate-sized steps driven by rounding noise, and
  through the BatchNorm running mean this reaches the evaluation (the MSAF-style baseline at smoke scale:
  predictions agree to about 1e-4 relative instead of 1e-6); a test-selected epoch (``papers``) can then flip
  on a near tie. Inside vmap the per-video checks of :func:`aqa_lib.models.base.check_inputs` are skipped (a
  value cannot steer Python there); the same batches pass them alone.
- **Checkpoints per member.** A group writes each member's checkpoint in the solo format (its optimiser state
  sliced from the stacked one), so a killed group resumes, as a group or as runs alone.

What trains together (:func:`group_key`): the resolved architecture (builder and every keyword), optimiser,
learning rate, weight decay, momentum, schedule, ``lr_multipliers``, gradient clip, epochs, batch size,
training window, evaluation batch size, hold-out fraction, the data's shape (modalities and their widths,
number of training and test videos), device, amp, ``freeze`` and the prefixes of ``init_from``. Members may
differ in seed, target, data (``data_seed``, ``source``, same shape) and in what they record.

What trains alone (:func:`supports_grouping` says why): models that read per-video extras (``batch_inputs`` /
``loss_inputs``: difficulty degree, text — a batch's text is padded to its own longest text, so members'
shapes differ: VATP-Net), and models whose step cannot run inside vmap, found by a probe step on dummy inputs:
random operations other than dropout (PAMFN's Gumbel decisions), operators with data-dependent shapes (MLAVL's
graph) or Python control flow on tensor values. A group of one trains alone too. Of the registered variants,
61 can be stacked (LMAC-Net, GDLT, the multimodal baselines, PAMFN's branches and fusion baselines, MLAVL's
and VATP-Net's visual-only baselines); PAMFN itself, MLAVL and VATP-Net train alone.

:func:`aqa_lib.train.run_many` groups automatically (cached runs first): by default the runs on a GPU only
(``group="auto"``), ``group=True`` on every device, ``group=False`` never. :func:`train_group` trains one group
without the cache.

What it gains (``benchmarks/bench_group.py``) depends on what limits one run alone. On a CPU one run's
products already keep a core busy: a quick LMAC-Net step with every decoder layer projecting the raw 1024- and
768-d inputs was 24 GFLOP at about 60 % of the fp32 matmul peak per CPU-second, and a group did the same work
per run (CPU time per run and epoch: 0.99× at 8 runs, 0.97× at 32; GDLT 1.00×). With the quick preset's one
input projection per modality a step is 5.9 GFLOP at 31 GFLOP/s (38 % of the 82 GFLOP/s peak, one thread),
and a group of 8 still gives 0.95× (1.53 against 1.45 CPU-seconds per run and epoch; measured again later on
a quieter day, 8 and 32 members gave 1.06× and 1.01×, and 8 members at paper width 0.85×). vmap also turns
convolutions into grouped convolutions, which are slower (PAMFN branch 0.76×): hence CPU runs train alone by
default, and a table's runs use the cores as separate processes instead (:func:`aqa_lib.sweep.run_local`). On a GPU
one run's step is thousands of small kernels (launch-bound, 7.2k ATen operations per quick LMAC-Net step for
under a millisecond of arithmetic); a group of 8 runs 9.9k operations per step, a group of 32 12k.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import Tensor, nn
from torch.func import functional_call, vmap

from . import cache
from .data import AQAData
from .data.batching import Batch, FeatureBank
from .data.core import Split
from .metrics import epoch_metrics
from .models.base import create_model
from .models.blocks import DropoutNoise, use_run_noise
from .train import (
    PendingRun,
    RunConfig,
    RunResult,
    TrainingError,
    _autocast,
    _builder_name,
    _checkpoint_state,
    _cosine,
    _feature_bank,
    _final_records,
    _holdout_split,
    _loss,
    _make_optimizer,
    _meta,
    _progress_bar,
    _record_epoch,
    _resume,
    _Run,
    _setup,
    _summary,
    _track_protocols,
    check_finite_loss,
    data_window,
    isolated_rng,
    load_data,
    lookup,
    planned_results,
    planning_log,
    predict,
    resolved_model_kwargs,
    run,
    run_key,
    runs_bar,
    store,
    train,
)

GROUP_SETTINGS = ("epochs", "batch_size", "optimizer", "lr", "weight_decay", "momentum", "min_lr_ratio",
                  "lr_multipliers", "grad_clip", "holdout", "eval_batch_size", "freeze", "device", "amp",
                  "cpu_bf16")
"""RunConfig fields that must be equal for runs to train together (besides the architecture and data shape)."""


# ---------------------------------------------------------------------------------------------------------
# Planning: what trains together
# ---------------------------------------------------------------------------------------------------------


def group_identity(config: RunConfig, data: AQAData | None = None) -> dict[str, Any]:
    """What must be equal for runs to train together (see the module docstring); :func:`group_key` hashes it."""
    data = data if data is not None else load_data(config)
    module, name = _builder_name(config)
    n_train = len(_holdout_split(data.train, config.holdout, 0)[0])  # the count does not depend on the seed
    return {
        "builder": f"{module}.{name}",
        "model_kwargs": resolved_model_kwargs(config, data),
        "settings": {k: getattr(config, k) for k in GROUP_SETTINGS},
        "window": config.window or data_window(data),
        "data_shape": {"modalities": dict(data.modalities), "n_train": n_train, "n_test": len(data.test)},
        "init_from": [[spec.get("into", ""), spec.get("from", "")] for spec in config.init_from],
    }


def group_key(config: RunConfig, data: AQAData | None = None) -> str:
    """Runs with equal group keys can train as one stacked model (:func:`train_group`)."""
    return cache.fingerprint(group_identity(config, data))


@dataclass(frozen=True)
class Grouping:
    """Whether a run can train in a group (truthy if so), and if not, why."""

    ok: bool
    reason: str = ""

    def __bool__(self) -> bool:
        return self.ok


_PROBED: dict[str, Grouping] = {}


def supports_grouping(config: RunConfig, data: AQAData | None = None) -> Grouping:
    """Can ``config`` train stacked with others? Checks what the model reads, then runs one probe step of it
    (forward and loss, dropout recording, on zero features of the data's shape) inside ``torch.func.vmap``
    with random operations forbidden. Memoised per :func:`group_key`."""
    data = data if data is not None else load_data(config)
    key = group_key(config, data)
    if key not in _PROBED:
        _PROBED[key] = _probe(config, data)
    return _PROBED[key]


def _probe(config: RunConfig, data: AQAData) -> Grouping:
    with isolated_rng():
        model = create_model(config.model, in_dims=dict(data.modalities), **config.model_kwargs)
    extras = [*getattr(model, "batch_inputs", ()), *getattr(model, "loss_inputs", ())]
    if extras:
        return Grouping(False, f"{type(model).__name__} reads per-video extras {extras} (batch_inputs / "
                               "loss_inputs), which the group engine does not stack yet; it trains alone.")
    template = _Template(model, config.freeze, torch.device("cpu"), amp=False)
    params = {n: p.detach()[None] for n, p in model.named_parameters()}
    buffers = {n: b[None] for n, b in model.named_buffers()}
    window = config.window or data_window(data)
    features = {m: torch.zeros(1, 2, window, d) for m, d in data.modalities.items()}
    mask = torch.ones(1, 2, window, dtype=torch.bool)
    try:
        template.dropout_shapes(params, buffers, features, mask, torch.zeros(1, 2))
    except Exception as exc:  # noqa: BLE001 - any failure inside vmap means: train alone
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return Grouping(False, f"{type(model).__name__} cannot run a step inside torch.func.vmap ({first}); "
                               "it trains alone.")
    return Grouping(True)


def plan_groups(configs: Sequence[RunConfig], datas: Sequence[AQAData] | None = None, *,
                max_group: int = 8, on_cpu: bool = True) -> list[list[int]]:
    """Indices of ``configs`` partitioned into groups that train together (at most ``max_group`` each, sizes
    balanced), in the order of their first member; runs that cannot be stacked, and CPU runs unless
    ``on_cpu``, are groups of one."""
    if max_group < 1:
        raise ValueError(f"max_group must be at least 1, got {max_group}.")
    datas = list(datas) if datas is not None else [load_data(c) for c in configs]
    buckets: dict[str, list[int]] = {}
    for j, (c, d) in enumerate(zip(configs, datas, strict=True)):
        stack = (on_cpu or c.device.startswith("cuda")) and supports_grouping(c, d)
        key = group_key(c, d) if stack else f"alone/{j}"
        buckets.setdefault(key, []).append(j)
    groups = []
    for members in buckets.values():
        n_chunks = math.ceil(len(members) / max_group)
        size, extra = divmod(len(members), n_chunks)
        start = 0
        for k in range(n_chunks):
            stop = start + size + (k < extra)
            groups.append(members[start:stop])
            start = stop
    return sorted(groups, key=lambda g: g[0])


# ---------------------------------------------------------------------------------------------------------
# The stacked model
# ---------------------------------------------------------------------------------------------------------


@contextlib.contextmanager
def _mha_fastpath(enabled: bool) -> Iterator[None]:
    """PyTorch's fused attention kernels on or off (they have no vmap rule; the composite path has)."""
    before = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(enabled)
    try:
        yield
    finally:
        torch.backends.mha.set_fastpath_enabled(before)


class _Template:
    """The architecture the stacked parameters are run through: ``vmap`` over ``functional_call``."""

    def __init__(self, model: nn.Module, freeze: Sequence[str], device: torch.device, amp: bool,
                 cpu_bf16: bool = False) -> None:
        self.model = model
        self.freeze = tuple(freeze)
        self.device, self.amp, self.cpu_bf16 = device, amp, cpu_bf16
        self.noise = DropoutNoise(None)  # record / replay only: the members draw
        use_run_noise(model, self.noise)
        self._shapes: dict[tuple, list[tuple[int, ...]]] = {}

    def train_mode(self) -> None:
        self.model.train()
        for prefix in self.freeze:
            self.model.get_submodule(prefix).eval()

    def _objective(self, params: dict[str, Tensor], buffers: dict[str, Tensor], features: dict[str, Tensor],
                   mask: Tensor, labels: Tensor, noise: list[Tensor] | None) -> tuple[Tensor, dict[str, Tensor]]:
        """One member's training loss (inside vmap: unbatched shapes), dropout replaying ``noise``."""
        replay = self.noise.replaying(noise) if noise is not None else contextlib.nullcontext()
        with replay:
            with _autocast(self.device, self.amp, self.cpu_bf16):
                out = functional_call(self.model, (params, buffers), (features, mask))
            empty = torch.zeros(0, dtype=torch.long, device=mask.device)
            return _loss(self.model, out, Batch(features, mask, labels, empty, empty))

    def dropout_shapes(self, params: dict[str, Tensor], buffers: dict[str, Tensor], features: dict[str, Tensor],
                       mask: Tensor, labels: Tensor) -> list[tuple[int, ...]]:
        """Shapes of the dropout calls of a training step on inputs of these shapes (one member's), in call
        order: recorded once per input shape by a step of the first member that drops nothing and changes no
        running statistic."""
        key = (tuple((m, tuple(f.shape[1:])) for m, f in features.items()), tuple(mask.shape[1:]))
        if key not in self._shapes:
            first = {n: p[:1] for n, p in params.items()}
            copies = {n: b[:1].clone() for n, b in buffers.items()}
            self.train_mode()
            with torch.no_grad(), self.noise.recording() as shapes:
                vmap(self._objective, in_dims=(0, 0, 0, 0, 0, None), randomness="error")(
                    first, copies, {m: f[:1] for m, f in features.items()}, mask[:1], labels[:1], None)
            self._shapes[key] = list(shapes)
        return self._shapes[key]

    def losses(self, params: dict[str, Tensor], buffers: dict[str, Tensor], features: dict[str, Tensor],
               mask: Tensor, labels: Tensor, noise: list[Tensor]) -> tuple[Tensor, dict[str, Tensor]]:
        """Every member's loss ``[N]`` and loss parts (``[N]`` each), members' inputs stacked on axis 0."""
        return vmap(self._objective, randomness="error")(params, buffers, features, mask, labels, noise)

    @torch.no_grad()
    def predict(self, params: dict[str, Tensor], buffers: dict[str, Tensor], bank: FeatureBank,
                batch_size: int) -> np.ndarray:
        """Every member's normalised predictions ``[N, n_videos]`` on a bank all members share."""
        self.model.eval()

        def score(p: dict[str, Tensor], b: dict[str, Tensor], features: dict[str, Tensor], mask: Tensor) -> Tensor:
            with _autocast(self.device, self.amp, self.cpu_bf16):
                return functional_call(self.model, (p, b), (features, mask)).score.float()

        batched = vmap(score, in_dims=(0, 0, None, None), randomness="error")
        out = []
        with _mha_fastpath(False):
            for batch in bank.eval_batches(batch_size):
                out.append(batched(params, buffers, batch.features, batch.mask))
        return torch.cat(out, dim=1).cpu().numpy()


def _owner(model: nn.Module, name: str) -> tuple[nn.Module, str]:
    prefix, _, leaf = name.rpartition(".")
    return (model.get_submodule(prefix) if prefix else model), leaf


@dataclass
class _Group:
    """Runs set up by the solo engine, fused: stacked parameters, buffers, optimiser and schedule."""

    runs: list[_Run]
    keys: list[str]
    template: _Template
    params: dict[str, Tensor]
    buffers: dict[str, Tensor]
    opt: torch.optim.Optimizer
    sched: torch.optim.lr_scheduler.LRScheduler
    shared: dict[str, bool] = field(default_factory=dict)

    @property
    def size(self) -> int:
        return len(self.runs)

    @property
    def config(self) -> RunConfig:
        return self.runs[0].config


def _fuse(runs: list[_Run], keys: list[str]) -> _Group:
    """Stack the members' parameters, buffers and optimiser states; members' models become views of them."""
    first = runs[0]
    c = first.config
    with isolated_rng():
        model = create_model(c.model, in_dims=dict(first.data.modalities), **c.model_kwargs).to(first.device)
    template = _Template(model, c.freeze, first.device, c.amp, c.cpu_bf16)
    members = [dict(r.model.named_parameters()) for r in runs]
    member_buffers = [dict(r.model.named_buffers()) for r in runs]
    names = [n for n, _ in model.named_parameters()]
    if any(list(m) != names for m in members):
        raise ValueError("train_group: the members' models do not have the template's parameters.")
    params = {n: torch.stack([m[n].detach() for m in members]).requires_grad_(members[0][n].requires_grad)
              for n in names}
    buffers = {n: torch.stack([m[n] for m in member_buffers]) for n, _ in model.named_buffers()}
    for i, r in enumerate(runs):  # the solo engine's functions then read every member from its own model
        views: dict[int, nn.Parameter] = {}
        for name, p in r.model.named_parameters():
            views[id(p)] = nn.Parameter(params[name].detach()[i], requires_grad=p.requires_grad)
        for name, p in list(r.model.named_parameters(remove_duplicate=False)):
            owner, leaf = _owner(r.model, name)
            owner._parameters[leaf] = views[id(p)]
        for name in buffers:
            owner, leaf = _owner(r.model, name)
            owner._buffers[leaf] = buffers[name][i]
    opt = _make_optimizer(params.items(), c)
    total_steps = first.steps_per_epoch * c.epochs
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: _cosine(s, total_steps, c.min_lr_ratio))
    if first.start_epoch > 0:  # resumed members: their optimiser states stacked, loaded as _resume does
        states = [r.opt.state_dict() for r in runs]
        fused = {"param_groups": states[0]["param_groups"], "state": {}}
        for j, state in states[0]["state"].items():
            fused["state"][j] = {k: torch.stack([s["state"][j][k] for s in states])
                                 if k != "step" and isinstance(v, Tensor) else v for k, v in state.items()}
        opt.load_state_dict(fused)
        sched.load_state_dict(first.sched.state_dict())
    for r in runs:  # the members' own optimisers are done with (and would keep their first weights alive)
        r.opt, r.sched = opt, sched
    group = _Group(runs, keys, template, params, buffers, opt, sched)
    for split in first.banks:
        group.shared[split] = all(r.banks[split].flat is first.banks[split].flat for r in runs)
    return group


class _BankPool:
    """Feature banks shared by members that read the same videos (other targets or seeds of one dataset)."""

    def __init__(self) -> None:
        self._banks: list[tuple[Split, FeatureBank]] = []

    def bank(self, split: Split, device: torch.device) -> FeatureBank:
        for other, bank in self._banks:
            if bank.device == device and _same_videos(other, split):
                return bank.relabelled(split)
        bank = _feature_bank(split, device)
        self._banks.append((split, bank))
        return bank


def _same_videos(a: Split, b: Split) -> bool:
    if a.names != b.names or a.modalities != b.modalities:
        return False
    return all(x is y or (x.shape == y.shape and np.array_equal(x, y))
               for m in a.modalities for x, y in zip(a.features[m], b.features[m], strict=True))


# ---------------------------------------------------------------------------------------------------------
# The group's steps (the solo engine's, for N runs at once)
# ---------------------------------------------------------------------------------------------------------


def _clip_per_member(grads: list[Tensor], max_norm: float) -> None:
    """``clip_grad_norm_`` for every member: each member's norm over all its parameters' gradients."""
    n = grads[0].shape[0]
    norms = torch.stack([torch.linalg.vector_norm(g.reshape(n, -1), 2, dim=1) for g in grads], dim=1)
    total = torch.linalg.vector_norm(norms, 2, dim=1)
    coef = (max_norm / (total + 1e-6)).clamp(max=1.0)
    for g in grads:
        g.mul_(coef.reshape(n, *([1] * (g.dim() - 1))).to(g.dtype))


def _train_step(g: _Group, index: Sequence[Tensor]) -> tuple[Tensor, dict[str, Tensor]]:
    """One optimisation step of every member on random crops of its training videos at ``index[i]`` (its own
    crops and dropout masks): the members' losses ``[N]`` and loss parts."""
    c, runs = g.config, g.runs
    batches = [r.banks["train"].train_batch(i, r.window, r.gen) for r, i in zip(runs, index, strict=True)]
    features = {m: torch.stack([b.features[m] for b in batches]) for m in batches[0].features}
    mask = torch.stack([b.mask for b in batches])
    labels = torch.stack([b.labels for b in batches])
    shapes = g.template.dropout_shapes(g.params, g.buffers, features, mask, labels)
    drawn = [r.noise.draw(shapes, g.template.device) for r in runs]
    noise = [torch.stack(parts) for parts in zip(*drawn, strict=True)]
    total, parts = g.template.losses(g.params, g.buffers, features, mask, labels, noise)
    g.opt.zero_grad(set_to_none=True)
    total.sum().backward()
    if c.grad_clip > 0:
        _clip_per_member([p.grad for p in g.params.values() if p.grad is not None], c.grad_clip)
    g.opt.step()
    g.sched.step()
    return total, parts


def _train_epoch(g: _Group, epoch: int) -> list[dict[str, float]]:
    """One pass of every member over its training split (its own shuffle, crops and dropout masks)."""
    c, runs = g.config, g.runs
    g.template.train_mode()
    perms = [torch.randperm(len(r.banks["train"]), generator=r.gen) for r in runs]
    sums: dict[str, Tensor] = {}
    for s in range(runs[0].steps_per_epoch):
        total, parts = _train_step(g, [p[s * c.batch_size:(s + 1) * c.batch_size] for p in perms])
        for name, value in {"loss": total, **parts}.items():
            v = value.detach().float()
            sums[name] = sums[name] + v if name in sums else v
    host = {k: v.cpu().numpy() for k, v in sums.items()}  # one sync per epoch
    rows = [{f"train_{k}": float(v[i]) / runs[0].steps_per_epoch for k, v in host.items()} for i in range(g.size)]
    for r, row in zip(runs, rows, strict=True):
        check_finite_loss(r.config, row, epoch, grouped=True)
    return rows


def _evaluate(g: _Group) -> list[tuple[dict[str, float], dict[str, np.ndarray]]]:
    """Every member's metrics and predictions (batched across members where they share the videos)."""
    out: list[tuple[dict[str, float], dict[str, np.ndarray]]] = [({}, {}) for _ in g.runs]
    for split in ("test", "holdout"):
        if split not in g.runs[0].banks:
            continue
        if g.shared[split]:
            preds = list(g.template.predict(g.params, g.buffers, g.runs[0].banks[split], g.config.eval_batch_size))
        else:
            preds = [predict(r.model, r.banks[split], batch_size=r.config.eval_batch_size, amp=r.config.amp,
                             cpu_bf16=r.config.cpu_bf16)
                     for r in g.runs]
        for (row, pred), r, p in zip(out, g.runs, preds, strict=True):
            true = r.banks[split].labels.cpu().numpy()
            values = epoch_metrics(r.config.metrics, p, true, norm=r.data.norm, score_range=r.score_range)
            row.update({f"{split}_{k}": v for k, v in values.items()})
            pred[split] = p
    return out


def _member_checkpoint(g: _Group, i: int, epoch: int) -> None:
    """Member ``i``'s checkpoint in the solo format (its slice of the stacked optimiser state)."""
    r = g.runs[i]
    state = _checkpoint_state(r, epoch)
    state["model"] = {k: v.clone() for k, v in state["model"].items()}  # views would save the whole stack
    stacked = g.opt.state_dict()
    state["optimizer"] = {
        "param_groups": stacked["param_groups"],
        "state": {j: {k: v[i].clone() if k != "step" and isinstance(v, Tensor) else v for k, v in s.items()}
                  for j, s in stacked["state"].items()},
    }
    state["scheduler"] = g.sched.state_dict()
    cache.atomic_torch_save(state, cache.checkpoint_path(g.keys[i]))


def _train_fused(g: _Group, *, progress: bool, checkpoint_every_s: float, keep_checkpoint: bool,
                 on_epoch_end: Callable[[int, list[dict[str, Any]]], None] | None) -> list[RunResult]:
    c, n = g.config, g.size
    resumed_from = g.runs[0].start_epoch
    bar = _progress_bar(c, resumed_from) if progress else None
    if bar is not None:
        bar.set_description(f"{c.model} {c.target} ×{n} runs")
    last_ckpt = t_start = time.perf_counter()
    for epoch in range(resumed_from + 1, c.epochs + 1):
        t0 = time.perf_counter()
        train_rows = _train_epoch(g, epoch)
        lr = g.opt.param_groups[0]["lr"] / g.opt.param_groups[0].get("lr_factor", 1.0)
        evaluated = _evaluate(g)
        seconds = (time.perf_counter() - t0) / n  # each member's share of the group's epoch
        rows = []
        for r, train_row, (metrics, preds) in zip(g.runs, train_rows, evaluated, strict=True):
            row: dict[str, Any] = {"epoch": epoch, **train_row, "lr": lr, **metrics, "seconds": seconds}
            _track_protocols(r, epoch, row, preds)
            _record_epoch(r)
            r.history.append(row)
            rows.append(row)
        if bar is not None:
            bar.update(1)
            bar.set_postfix(test_rho=f"{np.mean([row['test_spearman'] for row in rows]):.3f}")
        if on_epoch_end is not None:
            on_epoch_end(epoch, rows)
        if time.perf_counter() - last_ckpt > checkpoint_every_s and epoch < c.epochs:
            for i in range(n):
                _member_checkpoint(g, i, epoch)
            last_ckpt = time.perf_counter()
    if bar is not None:
        bar.close()
    results = []
    for r, key in zip(g.runs, g.keys, strict=True):
        hist = pd.DataFrame(r.history)
        meta = _meta(r, (time.perf_counter() - t_start) / n, resumed_from)
        meta["group_size"] = n
        result = RunResult(r.config, key, _summary(r, hist), hist, _final_records(r), meta)
        if r.config.save_weights:
            result.state_dict = {k: v.detach().cpu().clone() for k, v in r.model.state_dict().items()}
        if not keep_checkpoint:
            cache.checkpoint_path(key).unlink(missing_ok=True)
        results.append(result)
    return results


def train_group(configs: Sequence[RunConfig], *, datas: Sequence[AQAData] | None = None,
                keys: Sequence[str] | None = None, progress: bool = False, checkpoint_every_s: float = 60.0,
                keep_checkpoint: bool = False, resume: bool = True,
                on_epoch_end: Callable[[int, list[dict[str, Any]]], None] | None = None) -> list[RunResult]:
    """Train ``configs`` together as one stacked model; each result is the run :func:`aqa_lib.train.train`
    would return for it alone (module docstring), in the order of ``configs``. No cache is read or written
    (:func:`aqa_lib.train.run_many` does that).

    The configs must share a :func:`group_key` (else a ValueError names what differs). A single config, or a
    model :func:`supports_grouping` refuses, trains alone, one run after another. ``resume``: members continue
    from the checkpoints killed runs left (solo or grouped); members at different epochs train in separate
    groups. ``on_epoch_end(epoch, rows)`` gets every member's history row.
    """
    configs = list(configs)
    if not configs:
        return []
    datas = list(datas) if datas is not None else [load_data(c) for c in configs]
    keys = list(keys) if keys is not None else [run_key(c, d) for c, d in zip(configs, datas, strict=True)]
    solo = dict(progress=progress, checkpoint_every_s=checkpoint_every_s, keep_checkpoint=keep_checkpoint,
                resume=resume)
    identities = [group_identity(c, d) for c, d in zip(configs, datas, strict=True)]
    differ = sorted({k for ident in identities[1:] for k in ident if ident[k] != identities[0][k]})
    if differ:
        raise ValueError(f"train_group: these configs cannot train together, they differ in {differ} "
                         "(see aqa_lib.group.group_key).")
    if len(configs) == 1 or not supports_grouping(configs[0], datas[0]):
        return [train(c, data=d, key=k, **solo) for c, d, k in zip(configs, datas, keys, strict=True)]
    pool = _BankPool()
    runs = [_setup(c, d, make_bank=pool.bank) for c, d in zip(configs, datas, strict=True)]
    if resume:
        for r, k in zip(runs, keys, strict=True):
            _resume(r, k)
    results: dict[int, RunResult] = {}
    for start in sorted({r.start_epoch for r in runs}):
        index = [i for i, r in enumerate(runs) if r.start_epoch == start]
        group = _fuse([runs[i] for i in index], [keys[i] for i in index])
        trained = _train_fused(group, progress=progress, checkpoint_every_s=checkpoint_every_s,
                               keep_checkpoint=keep_checkpoint, on_epoch_end=on_epoch_end)
        results.update(zip(index, trained, strict=True))
    return [results[i] for i in range(len(configs))]


# ---------------------------------------------------------------------------------------------------------
# With the cache: what run_many calls
# ---------------------------------------------------------------------------------------------------------


def run_grouped(configs: Sequence[RunConfig], *, use_cache: bool = True, progress: bool = False,
                max_group: int = 8, on_cpu: bool = True) -> list[RunResult]:
    """:func:`aqa_lib.train.run_many` with grouping: cached runs are looked up first; the runs they start
    from (``init_from``) are run, grouped, before them; the runs left train in the groups of
    :func:`plan_groups` and each is cached as if trained alone. A group whose training fails (e.g. a member's
    loss becomes NaN) trains its members alone instead, so the error is the one the run alone raises. Under
    :func:`aqa_lib.train.planning` it trains nothing: the uncached configs raise
    :class:`~aqa_lib.train.PlanPending` together."""
    configs = list(configs)
    if planning_log() is not None:
        return planned_results(configs, use_cache=use_cache)
    specs = {cache.canonical_json(spec["run"]): spec["run"] for c in configs for spec in c.init_from}
    sources = [RunConfig.from_dict(d) for d in specs.values()]
    if sources:  # stage-1 runs, cached (as stage 2 would fetch them) before their stage-2 runs set up
        run_grouped(sources, use_cache=True, progress=progress, max_group=max_group, on_cpu=on_cpu)
    results: list[RunResult | None] = [None] * len(configs)
    todo: list[tuple[int, PendingRun]] = []
    later: list[int] = []  # a second config of a key being trained: a cache hit once it is stored
    seen: set[str] = set()
    for i, c in enumerate(configs):
        found = lookup(c, use_cache=use_cache)
        if isinstance(found, RunResult):
            results[i] = found
        elif use_cache and found.key in seen:
            later.append(i)
        else:
            seen.add(found.key)
            todo.append((i, found))
    plan = plan_groups([p.to_train for _, p in todo], [p.data for _, p in todo], max_group=max_group,
                       on_cpu=on_cpu)
    bar_over_runs = runs_bar(len(todo)) if progress and len(todo) > 1 else None  # over runs; each run's over epochs
    for members in plan:
        pending = [todo[j] for j in members]
        if len(pending) == 1:
            i, p = pending[0]
            results[i] = store(p, train(p.to_train, data=p.data, progress=progress, key=p.key,
                                        keep_checkpoint=use_cache, resume=use_cache), use_cache=use_cache)
            if bar_over_runs is not None:
                bar_over_runs.update(1)
            continue
        try:
            trained = train_group([p.to_train for _, p in pending], datas=[p.data for _, p in pending],
                                  keys=[p.key for _, p in pending], progress=progress, keep_checkpoint=use_cache,
                                  resume=use_cache)
        except TrainingError:
            trained = None
        for k, (i, p) in enumerate(pending):
            result = trained[k] if trained is not None else train(
                p.to_train, data=p.data, progress=progress, key=p.key, keep_checkpoint=use_cache, resume=use_cache)
            results[i] = store(p, result, use_cache=use_cache)
        if bar_over_runs is not None:
            bar_over_runs.update(len(pending))
    if bar_over_runs is not None:
        bar_over_runs.close()
    for i in later:
        results[i] = run(configs[i], use_cache=use_cache, progress=progress)
    return [r for r in results if r is not None]
