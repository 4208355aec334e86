"""The grain input pipeline: determinism, resumable state, epoch coverage and true edges."""

import itertools

import numpy as np
import pytest

from atlas_jax.gnn import pipeline
from atlas_jax.gnn.batching import BatchLayout


def _batcher(dataset, batch_size=32, fanouts=(5, 3), seed=0):
    layout = BatchLayout.create(batch_size, list(fanouts), num_nodes=dataset.num_nodes)
    return pipeline.SubgraphBatcher(dataset.store, dataset.features, layout, seed=seed)


def _take(iterator, count):
    return list(itertools.islice(iterator, count))


def _assert_same(first, second):
    assert len(first) == len(second)
    for a, b in zip(first, second):
        for key in ("node_ids", "x", "y", "senders", "receivers", "edge_mask", "loss_mask"):
            np.testing.assert_array_equal(a[key], b[key], err_msg=key)


def test_train_batches_do_not_depend_on_threads(small_csbm):
    train = small_csbm.splits["train"]
    batcher = _batcher(small_csbm)
    make = lambda threads: iter(pipeline.train_dataset(  # noqa: E731
        train, batcher, batches_per_step=2, num_epochs=2, seed=3, num_threads=threads, prefetch=4))
    _assert_same(_take(make(0), 3), _take(make(2), 3))


def test_iterator_state_resumes_same_batches(small_csbm):
    train = small_csbm.splits["train"]
    batcher = _batcher(small_csbm)
    make = lambda: iter(pipeline.train_dataset(  # noqa: E731
        train, batcher, batches_per_step=1, num_epochs=2, seed=3, num_threads=2, prefetch=4))
    iterator = make()
    _take(iterator, 3)
    state = iterator.get_state()
    expected = _take(iterator, 2)
    restored = make()
    restored.set_state(state)
    _assert_same(_take(restored, 2), expected)


def test_train_epoch_visits_each_seed_at_most_once(small_csbm):
    train = small_csbm.splits["train"]  # 1,000 nodes: 31 full batches of 32, 8 seeds left out
    batches = _take(iter(pipeline.train_dataset(
        train, _batcher(small_csbm), batches_per_step=1, num_epochs=2, seed=0, num_threads=0, prefetch=0)), 31 + 31)
    first_epoch = np.concatenate([b["node_ids"][0, :32] for b in batches[:31]])
    second_epoch = np.concatenate([b["node_ids"][0, :32] for b in batches[31:]])
    for epoch in (first_epoch, second_epoch):
        assert len(np.unique(epoch)) == 31 * 32
        assert np.isin(epoch, train).all()
    assert not np.array_equal(first_epoch, second_epoch)  # reshuffled
    assert all(b["loss_mask"][0].sum() == 32 for b in batches)


def test_eval_dataset_covers_every_id_once(small_csbm):
    ids = small_csbm.splits["val"]  # 400 nodes: 12 batches of 32 and one of 16
    batches = list(pipeline.eval_dataset(ids, _batcher(small_csbm), num_threads=2, prefetch=2))
    assert len(batches) == 13
    seeds = np.concatenate([b["node_ids"][: int(b["loss_mask"].sum())] for b in batches])
    np.testing.assert_array_equal(seeds, ids)
    assert batches[-1]["loss_mask"].sum() == 16
    assert batches[-1]["x"].shape == batches[0]["x"].shape


def test_batch_edges_and_features_are_true(small_csbm):
    batch = pipeline.SubgraphBatcher(small_csbm.store, small_csbm.features,
                                     BatchLayout.create(16, [4, 4], num_nodes=2000), seed=1)(
        0, small_csbm.splits["train"][:16])
    ids = batch["node_ids"]
    mask = batch["edge_mask"]
    senders, receivers = ids[batch["senders"][mask]], ids[batch["receivers"][mask]]
    store = small_csbm.store
    for sender, receiver in zip(senders, receivers):
        assert sender in store.neighbors(int(receiver))
    # Each receiver samples at most its fanout, and all neighbours when its degree is smaller.
    counts = np.bincount(batch["receivers"][mask], minlength=len(ids))
    real = np.flatnonzero(ids >= 0)
    hop_two_start = batch["loss_mask"].shape[0] - BatchLayout.create(16, [4, 4], num_nodes=2000).node_budgets[2]
    for local in real[real < hop_two_start]:
        assert counts[local] == min(4, store.degree(int(ids[local])))
    x, y = small_csbm.features.fetch(ids[real])
    np.testing.assert_array_equal(batch["x"][real], x)
    np.testing.assert_array_equal(batch["y"][real], y)
    for key in ("time_sample", "time_fetch", "time_pad"):
        assert batch[key] >= 0


@pytest.mark.parametrize("threads", [0, 2])
def test_model_inputs_drop_host_keys(small_csbm, threads):
    batch = next(iter(pipeline.eval_dataset(small_csbm.splits["test"][:8], _batcher(small_csbm),
                                            num_threads=threads, prefetch=2)))
    inputs = pipeline.model_inputs(batch)
    assert set(inputs) == {"x", "y", "node_mask", "loss_mask", "senders", "receivers", "edge_mask"}
