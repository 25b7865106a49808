"""Training crops and evaluation batches (FeatureBank)."""

import numpy as np
import pytest
import torch

from aqa_lib.data.batching import FeatureBank
from aqa_lib.data.core import DataError, Split


def _split(lengths, dims=None):
    dims = dims or {"rgb": 4, "audio": 3}
    feats = {}
    for m, d in dims.items():
        # value encodes (video, time) so crops can be checked exactly: 1000*video + t + 1, same for every dim
        feats[m] = [np.tile((1000 * i + np.arange(t) + 1.0)[:, None], (1, d)).astype(np.float32)
                    for i, t in enumerate(lengths)]
    n = len(lengths)
    return Split(names=[f"v{i}" for i in range(n)], features=feats, scores=np.arange(n, dtype=float),
                 labels=np.arange(n, dtype=np.float32) / 10)


def test_train_crop_same_window_for_every_modality_and_consecutive():
    bank = FeatureBank(_split([20, 15, 30]))
    gen = torch.Generator().manual_seed(0)
    batch = bank.train_batch(torch.tensor([0, 1, 2]), window=8, generator=gen)
    assert batch.features["rgb"].shape == (3, 8, 4)
    assert batch.features["audio"].shape == (3, 8, 3)
    for b, vid in enumerate([0, 1, 2]):
        rgb = batch.features["rgb"][b, :, 0]
        aud = batch.features["audio"][b, :, 0]
        assert torch.equal(rgb, aud)  # same window
        expected = 1000 * vid + batch.start[b] + torch.arange(8) + 1
        assert torch.equal(rgb, expected.float())  # consecutive segments from start
    assert batch.mask.all()
    assert torch.allclose(batch.labels, torch.tensor([0.0, 0.1, 0.2]))


def test_short_video_is_zero_padded_and_masked():
    bank = FeatureBank(_split([5, 12]))
    batch = bank.train_batch(torch.tensor([0]), window=8, generator=torch.Generator().manual_seed(1))
    assert batch.start.item() == 0
    assert batch.mask[0].tolist() == [True] * 5 + [False] * 3
    assert torch.equal(batch.features["rgb"][0, 5:], torch.zeros(3, 4))
    assert batch.features["rgb"][0, :5, 0].tolist() == [1.0, 2.0, 3.0, 4.0, 5.0]


def test_crops_cover_all_starts_and_are_reproducible():
    bank = FeatureBank(_split([10]))
    starts = set()
    g = torch.Generator().manual_seed(0)
    for _ in range(200):
        starts.add(int(bank.train_batch(torch.tensor([0]), 4, g).start))
    assert starts == set(range(7))  # 0..T-L inclusive
    a = bank.train_batch(torch.tensor([0, 0, 0]), 4, torch.Generator().manual_seed(5)).start
    b = bank.train_batch(torch.tensor([0, 0, 0]), 4, torch.Generator().manual_seed(5)).start
    assert torch.equal(a, b)


def test_eval_uses_whole_sequences():
    bank = FeatureBank(_split([6, 9, 4]))
    batches = list(bank.eval_batches(batch_size=2))
    assert [b.features["rgb"].shape[1] for b in batches] == [9, 4]
    first = batches[0]
    assert first.mask.sum(1).tolist() == [6, 9]
    assert first.features["rgb"][0, :6, 0].tolist() == [1, 2, 3, 4, 5, 6]
    assert torch.equal(first.features["rgb"][0, 6:], torch.zeros(3, 4))
    assert batches[1].index.tolist() == [2]


def test_mismatched_modality_lengths_rejected():
    split = _split([6, 9])
    split.features["audio"][1] = split.features["audio"][1][:7]
    with pytest.raises(DataError, match="'v1'.*'audio' has 7 segments"):
        FeatureBank(split)


def test_bad_window_and_batch_size():
    bank = FeatureBank(_split([6]))
    with pytest.raises(ValueError, match="window"):
        bank.train_batch(torch.tensor([0]), 0)
    with pytest.raises(ValueError, match="batch_size"):
        list(bank.eval_batches(0))


def test_extras_and_text_travel_with_the_videos():
    split = _split([20, 15, 30])
    split.extras = {"dd": np.array([3.0, 2.5, 3.6]), "prompt": np.array([4, 0, 7]),
                    "judge": np.array(["a", "b", "c"])}
    split.text = [np.full((n, 2), i + 1, dtype=np.float32) for i, n in enumerate([3, 1, 5])]
    bank = FeatureBank(split)
    batch = bank.train_batch(torch.tensor([2, 0]), window=8, generator=torch.Generator().manual_seed(0))
    assert batch.extras["dd"].tolist() == pytest.approx([3.6, 3.0])
    assert batch.extras["prompt"].dtype == torch.long and batch.extras["prompt"].tolist() == [7, 4]
    assert "judge" not in batch.extras  # non-numeric columns are not batched
    text, mask = batch.extras["text"], batch.extras["text_mask"]
    assert text.shape == (2, 5, 2) and mask.tolist() == [[True] * 5, [True] * 3 + [False] * 2]
    assert text[0, :, 0].tolist() == [3] * 5 and text[1, :, 0].tolist() == [1, 1, 1, 0, 0]  # whole, uncropped
    with pytest.raises(KeyError, match=r"reads per-video \['difficulty'\].*provides"):
        batch.pick(("difficulty",))
    ids = _split([4, 4])
    ids.text = [np.array([5, 6, 7]), np.array([8])]
    got = FeatureBank(ids).full_batch(torch.tensor([0, 1])).extras
    assert got["text"].tolist() == [[5, 6, 7], [8, 0, 0]] and got["text"].dtype == torch.long
    ids.text = [np.zeros((2, 2)), np.zeros(3)]
    with pytest.raises(DataError, match="token ids"):
        FeatureBank(ids)
