"""grain input pipelines over in-memory splits.

Training batches come from a `grain.MapDataset` (shuffle, repeat, batch) whose
iterator state is a small JSON dict, checkpointed with the model so a resumed
run continues from the same batch.
"""

from __future__ import annotations

from collections.abc import Iterator

import grain
import numpy as np

from atlas_jax.data.datasets import Split
from atlas_jax.errors import ConfigError


def shift_images(images: np.ndarray, max_shift: int, rng: np.random.Generator) -> np.ndarray:
    """Translate each image by up to `max_shift` pixels in each direction, filling with zeros.

    Args:
        images: float32[batch, height, width, channels].
    """
    batch, height, width, _ = images.shape
    padded = np.pad(images, ((0, 0), (max_shift, max_shift), (max_shift, max_shift), (0, 0)))
    offsets = rng.integers(0, 2 * max_shift + 1, size=(batch, 2))
    rows = offsets[:, 0, None] + np.arange(height)[None, :]  # [batch, height]
    cols = offsets[:, 1, None] + np.arange(width)[None, :]  # [batch, width]
    return padded[np.arange(batch)[:, None, None], rows[:, :, None], cols[:, None, :]]


def train_batches(split: Split, batch_size: int, seed: int, *, augment_shift: int = 0) -> grain.MapDataset:
    """Shuffled, endlessly repeated batches of `split`; each epoch gets a new order.

    Elements are dicts `{"x": float32[batch_size, ...], "y": int32[batch_size]}`.
    The last incomplete batch of an epoch is dropped so every batch has a static shape.
    With `augment_shift > 0`, images are randomly translated by up to that many
    pixels; grain derives each batch's random stream from the seed and the batch
    index, so a resumed run sees the same augmented batches.
    """
    if batch_size <= 0:
        raise ConfigError(f"train.batch_size must be positive, got {batch_size}")
    if batch_size > len(split):
        raise ConfigError(
            f"train.batch_size={batch_size} exceeds the {len(split)} training examples; lower it"
        )
    x, y = split.x, split.y
    if augment_shift < 0:
        raise ConfigError(f"data.augment_shift must be zero or positive, got {augment_shift}")
    if augment_shift and x.ndim == 4 and augment_shift >= min(x.shape[1:3]):
        raise ConfigError(
            f"data.augment_shift={augment_shift} would move {x.shape[1]}x{x.shape[2]} images out of the frame; "
            f"use a shift below {min(x.shape[1:3])}"
        )
    if augment_shift and x.ndim != 4:
        raise ConfigError(
            f"data.augment_shift={augment_shift} needs images, but the features have shape {x.shape[1:]}; "
            "set data.augment_shift=0"
        )
    dataset = (
        grain.MapDataset.range(len(split))
        .seed(seed)
        .shuffle()
        .repeat(None)
        .batch(batch_size, drop_remainder=True)
        .map(lambda index: {"x": x[index], "y": y[index]})
    )
    if augment_shift:
        dataset = dataset.random_map(
            lambda batch, rng: {"x": shift_images(batch["x"], augment_shift, rng), "y": batch["y"]}
        )
    return dataset


def eval_batches(split: Split, batch_size: int) -> Iterator[dict[str, np.ndarray]]:
    """Fixed-size batches covering `split` once, the last one padded.

    Yields dicts with `x`, `y` and `mask: float32[batch_size]` (1 for real examples),
    so evaluation compiles for a single shape.
    """
    n = len(split)
    for start in range(0, n, batch_size):
        stop = min(start + batch_size, n)
        size = stop - start
        x = np.zeros((batch_size, *split.x.shape[1:]), np.float32)
        y = np.zeros((batch_size,), np.int32)
        x[:size] = split.x[start:stop]
        y[:size] = split.y[start:stop]
        mask = np.zeros((batch_size,), np.float32)
        mask[:size] = 1.0
        yield {"x": x, "y": y, "mask": mask}
