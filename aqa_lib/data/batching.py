"""Batches for training and evaluation, resident on the training device.

Protocol (PAMFN / GDLT official code, ``shared/design/models.md``): **training** crops a random window of
``L`` consecutive segments, the *same* window for every modality of a video, zero-padded (and masked) when
the video is shorter than ``L``; **evaluation** uses the whole sequence.

:class:`FeatureBank` stores each modality of a split as one flat ``[ΣT_i, D]`` tensor plus per-video offsets
(no padding to the longest video, so memory is the data's own size), moved to the device once. A batch is
built with one ``index_select`` per modality on the device: no per-step host→device copies, which matters
when the data is small and the GPU fast.

Besides features and the label, a batch carries the split's **per-video extras** (``Batch.extras``): every
numeric column of ``Split.extras`` (difficulty degree, the other score types of a video, prompt ids, ...)
as a ``[B, ...]`` tensor, and, when the split has text, ``text`` ``[B, L, D]`` (token features) or ``[B, L]``
(token ids) padded to the batch's longest text with ``text_mask`` ``[B, L]``. Text is never cropped: a
training crop of the video keeps the whole commentary / prompt. Models name the extras they read (see
:mod:`aqa_lib.models.base`), so MLAVL's prompts and VATP-Net's commentary and difficulty degree reach them
without engine changes.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import torch

from .core import DataError, Split


@dataclass
class Batch:
    """One batch: ``features[m]`` is ``[B, L, D]``, ``mask`` ``[B, L]`` (True = real segment), ``labels``
    ``[B]`` normalised, ``index`` ``[B]`` positions of the videos in the split, ``start`` ``[B]`` crop starts,
    ``extras`` per-video values and text by name (see the module docstring)."""

    features: dict[str, torch.Tensor]
    mask: torch.Tensor
    labels: torch.Tensor
    index: torch.Tensor
    start: torch.Tensor
    extras: dict[str, torch.Tensor] = field(default_factory=dict)

    def pick(self, names: tuple[str, ...] | list[str], *, who: str = "the model") -> dict[str, torch.Tensor]:
        """The extras called ``names``; a KeyError names the missing ones and what the data has."""
        missing = [n for n in names if n not in self.extras]
        if missing:
            raise KeyError(
                f"{who} reads per-video {missing} but the data provides {sorted(self.extras) or 'no extras'}; "
                "load a dataset/source that has them (e.g. MTL-AQA's difficulty degree, commentary text)."
            )
        return {n: self.extras[n] for n in names}

    @property
    def lengths(self) -> torch.Tensor:
        return self.mask.sum(dim=1)


class FeatureBank:
    """A split's features, lengths and labels as flat tensors on ``device``.

    Args:
        split: the data split.
        device: ``"cpu"``, ``"cuda"`` or a torch.device.
        dtype: storage dtype on the device (float32 default; bfloat16 halves memory on a GPU).
        pin_memory: pin the host copy before moving it (faster transfer to a GPU).
    """

    def __init__(
        self,
        split: Split,
        device: str | torch.device = "cpu",
        dtype: torch.dtype = torch.float32,
        pin_memory: bool = False,
    ) -> None:
        self.device = torch.device(device)
        self.modalities = split.modalities
        lengths = split.lengths
        for m in self.modalities:
            got = np.array([len(x) for x in split.features[m]])
            if not np.array_equal(got, lengths):
                bad = int(np.flatnonzero(got != lengths)[0])
                raise DataError(
                    f"Video {split.names[bad]!r}: modality {m!r} has {got[bad]} segments but others have "
                    f"{lengths[bad]}; align modalities (core.align_lengths) before batching."
                )
        self.lengths = torch.as_tensor(lengths, dtype=torch.long, device=self.device)
        offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]])
        self.offsets = torch.as_tensor(offsets, dtype=torch.long, device=self.device)
        self.flat: dict[str, torch.Tensor] = {}
        for m in self.modalities:
            host = torch.from_numpy(np.ascontiguousarray(np.concatenate(split.features[m]), dtype=np.float32))
            host = host.to(dtype)
            if pin_memory and self.device.type == "cuda":
                host = host.pin_memory()
            self.flat[m] = host.to(self.device, non_blocking=pin_memory)
        self.dims = {m: int(t.shape[1]) for m, t in self.flat.items()}
        self._read_per_video(split)

    def _read_per_video(self, split: Split) -> None:
        """Labels, per-video extras and text of ``split`` (everything but the features) onto the device."""
        self.labels = torch.as_tensor(split.labels, dtype=torch.float32, device=self.device)
        self.extras: dict[str, torch.Tensor] = {}
        for name, column in split.extras.items():
            values = np.asarray(column)
            if values.dtype.kind in "fc":
                self.extras[name] = torch.as_tensor(values.astype(np.float32), device=self.device)
            elif values.dtype.kind in "iub":
                self.extras[name] = torch.as_tensor(values.astype(np.int64), device=self.device)
            # other columns (names, free text) are not batched: models read only numbers
        self.text_flat: torch.Tensor | None = None
        if split.text is not None:
            texts = [np.asarray(t) for t in split.text]
            ranks = {t.ndim for t in texts}
            if len(ranks) != 1 or ranks - {1, 2}:
                raise DataError("Split.text must hold, for every video, token ids [L] or token features [L, D] "
                                f"(one kind for all); got arrays of rank {sorted(ranks)}.")
            lens = np.array([len(t) for t in texts], dtype=np.int64)
            dtype = np.int64 if texts[0].dtype.kind in "iu" else np.float32
            self.text_flat = torch.as_tensor(np.concatenate(texts).astype(dtype), device=self.device)
            self.text_lengths = torch.as_tensor(lens, device=self.device)
            self.text_offsets = torch.as_tensor(np.concatenate([[0], np.cumsum(lens)[:-1]]), device=self.device)

    def __len__(self) -> int:
        return int(self.lengths.numel())

    def relabelled(self, split: Split) -> FeatureBank:
        """A bank of ``split``, which holds the same videos with the same features as this bank's split but its
        own labels and extras (another target of one dataset): the features on the device are shared, not
        copied (runs trained together, :mod:`aqa_lib.group`). The caller vouches for the features."""
        if len(split) != len(self) or not np.array_equal(split.lengths, self.lengths.cpu().numpy()):
            raise DataError("relabelled: the split's videos differ from this bank's (other count or lengths).")
        bank = copy.copy(self)
        bank._read_per_video(split)
        return bank

    def _gather(self, index: torch.Tensor, start: torch.Tensor, window: int) -> Batch:
        pos = start[:, None] + torch.arange(window, device=self.device)[None, :]  # [B, L]
        length = self.lengths[index][:, None]
        mask = pos < length
        safe = torch.minimum(pos, length - 1)  # any valid row; zeroed below
        rows = (self.offsets[index][:, None] + safe).reshape(-1)
        # Zero the padding. On the CPU a batch without padding (most training crops) skips the multiply by
        # ones, a copy of the whole batch; on an accelerator the multiply is cheap and the check would wait
        # for the device. Either way the features are the same.
        padded = self.device.type != "cpu" or not bool(mask.all())
        feats = {}
        for m, flat in self.flat.items():
            x = flat.index_select(0, rows).reshape(index.numel(), window, -1)
            feats[m] = x * mask[..., None].to(x.dtype) if padded else x
        extras = {name: column[index] for name, column in self.extras.items()}
        if self.text_flat is not None:
            extras.update(self._text(index))
        return Batch(features=feats, mask=mask, labels=self.labels[index], index=index, start=start,
                     extras=extras)

    def _text(self, index: torch.Tensor) -> dict[str, torch.Tensor]:
        """The videos' whole texts, padded to the longest in the batch (zeros, ``text_mask`` False)."""
        assert self.text_flat is not None
        length = self.text_lengths[index]
        width = max(1, int(length.max()))
        pos = torch.arange(width, device=self.device)[None, :]
        mask = pos < length[:, None]
        rows = self.text_offsets[index][:, None] + torch.minimum(pos, (length[:, None] - 1).clamp(min=0))
        rows = rows.clamp(max=max(0, self.text_flat.shape[0] - 1))  # empty texts point at any row, masked
        text = self.text_flat.index_select(0, rows.reshape(-1)).reshape(index.numel(), width,
                                                                        *self.text_flat.shape[1:])
        fill = mask if text.ndim == 2 else mask[..., None]
        return {"text": text * fill.to(text.dtype), "text_mask": mask}

    def train_batch(self, index: torch.Tensor, window: int, generator: torch.Generator | None = None) -> Batch:
        """Random crop of ``window`` consecutive segments per video (same crop for all modalities).

        Videos shorter than ``window`` start at 0 and are zero-padded with ``mask`` False on the padding.
        ``generator`` (on the bank's device, or CPU) makes crops reproducible.
        """
        if window <= 0:
            raise ValueError(f"window must be positive, got {window}.")
        index = torch.as_tensor(index, dtype=torch.long, device=self.device)
        max_start = (self.lengths[index] - window).clamp(min=0)
        u = torch.rand(index.numel(), generator=generator, device=generator.device if generator else "cpu")
        start = torch.floor(u.to(self.device) * (max_start + 1).to(torch.float32)).long()
        start = torch.minimum(start, max_start)
        return self._gather(index, start, window)

    def full_batch(self, index: torch.Tensor) -> Batch:
        """Whole sequences, padded to the longest in ``index`` (evaluation protocol)."""
        index = torch.as_tensor(index, dtype=torch.long, device=self.device)
        window = int(self.lengths[index].max())
        return self._gather(index, torch.zeros_like(index), window)

    def eval_batches(self, batch_size: int) -> Iterator[Batch]:
        """Whole-sequence batches over the split in order (sorted by nothing: index order)."""
        if batch_size <= 0:
            raise ValueError(f"batch_size must be positive, got {batch_size}.")
        n = len(self)
        for s in range(0, n, batch_size):
            yield self.full_batch(torch.arange(s, min(s + batch_size, n), device=self.device))
