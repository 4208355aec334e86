"""Input pipeline: grain datasets of seed nodes that sample, fetch, pad and prefetch.

A grain `MapDataset` over the split's node ids is shuffled (a new order every
epoch), grouped into seed batches, and mapped through `SubgraphBatcher`, which runs
the C++ sampler, reads features and labels, and pads to the static layout. grain's
thread pool prepares the next batches while the train step runs; the sampler and
tensorstore release the GIL, so the threads overlap with compute.

Every batch is a pure function of (seed, batch index): the shuffle comes from the
seed and the sampler's seed from the batch index. The iterator's state is therefore
just its position, and a run restored from a checkpoint gets the same batches as one
that never stopped.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import grain
import numpy as np

from atlas_jax.gnn.batching import BatchLayout, pad_subgraph, stack_batches

# Keys of a batch that only the host reads (timings, statistics, ids).
HOST_KEYS = ("node_ids", "num_real_nodes", "num_real_edges", "time_sample", "time_fetch", "time_pad")


def batch_seed(seed: int, index: int) -> int:
    """Sampler seed of batch `index`: a hash of both, so nearby batches are unrelated."""
    return int(np.random.SeedSequence([seed, index]).generate_state(1, dtype=np.uint64)[0] >> 1)


class SubgraphBatcher:
    """grain map-with-index transform: seed ids -> padded subgraph batch.

    Args:
        store: the `atlas_jax.graph.GraphStore` to sample from.
        features: a feature store (`fetch(ids) -> (features, labels)`).
        layout: the static budgets; `layout.fanouts` are the sampler's fanouts.
        seed: base seed of the sampler; batch i samples with `batch_seed(seed, i)`.
        sampler_threads: threads of the C++ sampler per batch (None: its default).
    """

    def __init__(self, store, features, layout: BatchLayout, seed: int, sampler_threads: int | None = 1):
        self.store = store
        self.features = features
        self.layout = layout
        self.seed = seed
        self.sampler_threads = sampler_threads

    def __call__(self, index: int, seeds: np.ndarray) -> dict[str, Any]:
        from atlas_jax.graph import sample

        seeds = np.asarray(seeds, dtype=np.int64)
        start = time.perf_counter()
        subgraph = sample(
            self.store, seeds, list(self.layout.fanouts),
            seed=batch_seed(self.seed, index), num_threads=self.sampler_threads,
        )
        sampled = time.perf_counter()
        x, y = self.features.fetch(subgraph.nodes)
        fetched = time.perf_counter()
        batch = pad_subgraph(subgraph, x, y, self.layout, num_seeds=len(seeds))
        padded = time.perf_counter()
        batch["time_sample"] = np.float64(sampled - start)
        batch["time_fetch"] = np.float64(fetched - sampled)
        batch["time_pad"] = np.float64(padded - fetched)
        return batch


def train_dataset(
    train_ids: np.ndarray,
    batcher: SubgraphBatcher,
    *,
    batches_per_step: int,
    num_epochs: int,
    seed: int,
    num_threads: int,
    prefetch: int,
) -> grain.IterDataset:
    """Stream of stacked training batches over `num_epochs` epochs, leaves of shape [batches_per_step, ...].

    Seeds are reshuffled every epoch and each epoch drops its last partial batch, so
    every batch contains `layout.batch_size` distinct seeds. An epoch is
    `len(train_ids) // batch_size` sub-batches; a step stacks `batches_per_step` of
    them and may span two epochs.
    """
    dataset = (
        grain.MapDataset.source(np.asarray(train_ids, dtype=np.int64))
        .shuffle(seed=seed)
        .batch(batcher.layout.batch_size, drop_remainder=True)
        .repeat(num_epochs)
        .map_with_index(batcher)
        .batch(batches_per_step, drop_remainder=True, batch_fn=stack_batches)
    )
    return _with_prefetch(dataset, num_threads, prefetch)


def eval_dataset(ids: np.ndarray, batcher: SubgraphBatcher, *, num_threads: int, prefetch: int) -> grain.IterDataset:
    """Build one pass over `ids` in order; the last batch has fewer seeds but the same budgets."""
    dataset = (
        grain.MapDataset.source(np.asarray(ids, dtype=np.int64))
        .batch(batcher.layout.batch_size, drop_remainder=False)
        .map_with_index(batcher)
    )
    return _with_prefetch(dataset, num_threads, prefetch)


def _with_prefetch(dataset: grain.MapDataset, num_threads: int, prefetch: int) -> grain.IterDataset:
    # num_threads=0 keeps grain from starting a thread pool, so batches are made on
    # demand in the training thread (the baseline that the benchmark compares to).
    if num_threads <= 0:
        return dataset.to_iter_dataset(grain.ReadOptions(num_threads=0, prefetch_buffer_size=0))
    return dataset.to_iter_dataset(grain.ReadOptions(num_threads=num_threads, prefetch_buffer_size=max(prefetch, 1)))


def model_inputs(batch: dict[str, Any]) -> dict[str, Any]:
    """Drop the host-only keys of a batch, keeping the arrays that the jitted step reads."""
    return {key: value for key, value in batch.items() if key not in HOST_KEYS}


def host_stats(batches: Sequence[dict[str, Any]]) -> dict[str, float]:
    """Sums of the host-side timings and real sizes over batches."""
    keys = ("time_sample", "time_fetch", "time_pad", "num_real_nodes", "num_real_edges")
    return {key: float(sum(np.sum(b[key]) for b in batches)) for key in keys}
