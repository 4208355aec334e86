"""grain pipelines: shuffling, resumable iterator state, padded evaluation batches."""

import numpy as np
import pytest

from atlas_jax.data import Split, eval_batches, train_batches
from atlas_jax.errors import ConfigError


def _split(n=50):
    return Split(np.arange(n, dtype=np.float32)[:, None], np.arange(n, dtype=np.int32) % 3)


def test_train_batches_cover_each_epoch_once():
    ds = train_batches(_split(50), 10, seed=0)
    seen = np.concatenate([ds[i]["x"][:, 0] for i in range(5)])
    np.testing.assert_array_equal(np.sort(seen), np.arange(50))


def test_train_batches_reshuffle_each_epoch():
    ds = train_batches(_split(50), 10, seed=0)
    first = np.concatenate([ds[i]["x"][:, 0] for i in range(5)])
    second = np.concatenate([ds[i]["x"][:, 0] for i in range(5, 10)])
    assert not np.array_equal(first, second)


def test_iterator_state_resumes_the_stream():
    ds = train_batches(_split(50), 8, seed=3)
    it = iter(ds.to_iter_dataset())
    for _ in range(7):
        next(it)
    state = it.get_state()
    expected = [next(it)["x"] for _ in range(5)]
    resumed = iter(ds.to_iter_dataset())
    resumed.set_state(state)
    for want in expected:
        np.testing.assert_array_equal(next(resumed)["x"], want)


def test_eval_batches_pad_and_mask():
    batches = list(eval_batches(_split(23), 10))
    assert [b["x"].shape[0] for b in batches] == [10, 10, 10]
    assert sum(b["mask"].sum() for b in batches) == 23
    np.testing.assert_array_equal(batches[-1]["mask"], [1, 1, 1] + [0] * 7)
    np.testing.assert_array_equal(batches[-1]["x"][:3, 0], [20, 21, 22])


def test_shift_images_matches_roll_with_zero_fill():
    from atlas_jax.data.pipeline import shift_images

    images = np.random.default_rng(0).random((6, 5, 4, 2)).astype(np.float32)
    rng = np.random.default_rng(1)
    offsets = np.random.default_rng(1).integers(0, 3, size=(6, 2))
    shifted = shift_images(images, 1, rng)
    for i, (dy, dx) in enumerate(offsets - 1):
        expected = np.zeros_like(images[i])
        src = images[i][max(dy, 0): 5 + min(dy, 0), max(dx, 0): 4 + min(dx, 0)]
        expected[max(-dy, 0): max(-dy, 0) + src.shape[0], max(-dx, 0): max(-dx, 0) + src.shape[1]] = src
        np.testing.assert_array_equal(shifted[i], expected)


def test_augmented_batches_are_reproducible():
    images = Split(np.random.default_rng(0).random((40, 8, 8, 1)).astype(np.float32), np.zeros(40, np.int32))
    a = train_batches(images, 8, seed=5, augment_shift=1)
    b = train_batches(images, 8, seed=5, augment_shift=1)
    for i in (0, 3, 11):
        np.testing.assert_array_equal(a[i]["x"], b[i]["x"])
    assert not np.array_equal(a[0]["x"], train_batches(images, 8, seed=5)[0]["x"])


@pytest.mark.parametrize("shift, message", [(-1, "must be zero or positive"), (8, "out of the frame")])
def test_invalid_augment_shift_rejected(shift, message):
    images = Split(np.zeros((16, 8, 8, 1), np.float32), np.zeros(16, np.int32))
    with pytest.raises(ConfigError, match=message):
        train_batches(images, 8, seed=0, augment_shift=shift)
