"""Softmax cross-entropy over a class axis split across devices, with Partial-FC sampling.

With millions of classes (face identities) the classifier matrix is too big for one
device. Each device keeps `classes / n` rows and computes only its local logits; three
collectives over the class axes recover the exact loss:

    m      = pmax(max_c z_c)                    (stability shift, no gradient)
    Z      = psum(sum_c exp(z_c - m))           (partition function)
    target = psum(z_label on the owning shard, 0 elsewhere)
    loss   = log Z + m - target

Partial FC (An et al., "Partial FC: Training 10 Million Identities on a Single Machine",
2021) samples a fixed number of classes per shard each step: every class that appears in
the batch, filled up with random others. The budget is fixed, so shapes stay static under
jit, and only the sampled rows get gradients.
"""

from __future__ import annotations

from typing import Sequence

import jax
import jax.numpy as jnp
from flax import nnx
from jax import lax
from jax.sharding import Mesh, PartitionSpec as P

from atlas_jax.errors import ConfigError
from atlas_jax.parallel.context import current_context
from atlas_jax.parallel.rules import mesh_axes_for


def _local_terms(features, labels, weight, offset, sample_size, key):
    """Logits of this shard's (sampled) classes and each label's position among them.

    Returns:
        logits: float32[batch, k]; position: int32[batch]; owned: bool[batch], true where
        the label's class is among this shard's columns; classes: int32[k] local row ids.
    """
    num_local = weight.shape[0]
    local = labels - offset
    owned = (local >= 0) & (local < num_local)
    if sample_size is None or sample_size >= num_local:
        classes = jnp.arange(num_local)
        logits = features @ weight.T
        return logits, jnp.where(owned, local, 0), owned, classes

    # Positives score above 1 and every other class below 1, so top_k keeps all positives
    # and fills the rest of the budget with uniformly random negatives.
    positive = jnp.zeros((num_local,), jnp.float32).at[jnp.where(owned, local, num_local)].set(1.0, mode="drop")
    scores = jax.random.uniform(key, (num_local,)) + 2.0 * positive
    _, classes = lax.top_k(scores, sample_size)
    logits = features @ jnp.take(weight, classes, axis=0).T
    match = classes[None, :] == local[:, None]
    return logits, jnp.argmax(match, axis=1), owned & match.any(axis=1), classes


def _loss(logits, position, owned, max_fn, sum_fn):
    shift = max_fn(lax.stop_gradient(logits.max(axis=1)))
    partition = sum_fn(jnp.exp(logits - shift[:, None]).sum(axis=1))
    target = sum_fn(jnp.where(owned, jnp.take_along_axis(logits, position[:, None], axis=1)[:, 0], 0.0))
    return jnp.mean(jnp.log(partition) + shift - target)


def check_sample_size(sample_size: int | None, batch: int, local_classes: int) -> None:
    """Raise ConfigError when a shard's budget could miss a class present in the batch."""
    if sample_size is None:
        return
    needed = min(batch, local_classes)
    if not needed <= sample_size:
        raise ConfigError(
            f"Partial-FC sample_size={sample_size} per shard is below min(batch={batch}, "
            f"classes per shard={local_classes}) = {needed}; a label's class could go unsampled, "
            "so raise sample_size to at least the batch size"
        )


def sharded_cross_entropy(
    features: jax.Array,
    labels: jax.Array,
    weight: jax.Array,
    *,
    mesh: Mesh | None,
    axes: Sequence[str],
    sample_size: int | None = None,
    key: jax.Array | None = None,
    return_classes: bool = False,
):
    """Mean softmax cross-entropy of `features @ weight.T` with the class axis split over `axes`.

    Args:
        features: float32[batch, dim], the same on every class shard.
        labels: int32[batch] global class ids.
        weight: float32[classes, dim], rows split over `axes` in order.
        mesh: the mesh of `axes`; None or empty `axes` computes on one shard.
        axes: mesh axes that split the classes.
        sample_size: Partial-FC budget of classes per shard; None uses every class.
        key: PRNG key for the sampling (required with `sample_size`).
        return_classes: also return the sampled global class ids, int32[shards * k].

    Returns:
        The scalar loss, and with `return_classes` the sampled class ids.

    Raises:
        ConfigError: classes not divisible by the shard count, or a budget below the batch.
    """
    axes = tuple(axes) if mesh is not None else ()
    shards = 1
    for axis in axes:
        shards *= int(mesh.shape[axis])
    num_classes = weight.shape[0]
    if num_classes % shards:
        raise ConfigError(
            f"{num_classes} classes do not split over {shards} devices (mesh axes {axes}); "
            "pad the class count to a multiple of the shard count"
        )
    local_classes = num_classes // shards
    check_sample_size(sample_size, features.shape[0], local_classes)
    if sample_size is not None and key is None:
        raise ValueError("Partial-FC sampling needs a PRNG key")
    if sample_size is not None and sample_size >= local_classes:
        sample_size = None  # The budget covers every class: no sampling.
    key = jax.random.key(0) if key is None else key

    if shards == 1:
        logits, position, owned, classes = _local_terms(features, labels, weight, 0, sample_size, key)
        loss = _loss(logits, position, owned, lambda v: v, lambda v: v)
        return (loss, classes) if return_classes else loss

    def shard_fn(features, labels, weight, key):
        shard = lax.axis_index(axes)
        offset = shard * local_classes
        logits, position, owned, classes = _local_terms(
            features, labels, weight, offset, sample_size, jax.random.fold_in(key, shard)
        )
        loss = _loss(
            logits, position, owned, lambda v: lax.pmax(v, axes), lambda v: lax.psum(v, axes)
        )
        return loss, classes + offset

    loss, classes = jax.shard_map(
        shard_fn,
        mesh=mesh,
        in_specs=(P(), P(), P(axes), P()),
        out_specs=(P(), P(axes)),
        axis_names=set(axes),
    )(features, labels, weight, key)
    return (loss, classes) if return_classes else loss


class ShardedClassifier(nnx.Module):
    """Linear classifier whose `[classes, dim]` matrix is split over the `classes` mesh axes.

    The axes come from the active layout's rule for `classes`; without a layout (or with
    the axes of size 1) the loss is computed on one device.
    """

    def __init__(self, dim: int, num_classes: int, *, sample_size: int | None = None, rngs: nnx.Rngs):
        init = nnx.initializers.normal(0.01)
        self.weight = nnx.Param(
            init(rngs.params(), (num_classes, dim), jnp.float32), out_sharding=("classes", None), eager_sharding=False
        )
        self.sample_size = sample_size

    def __call__(self, features: jax.Array, labels: jax.Array, key: jax.Array | None = None) -> jax.Array:
        """Return the mean cross-entropy of `features: float32[batch, dim]` against `labels: int32[batch]`."""
        ctx = current_context()
        mesh = None if ctx is None else ctx.mesh
        axes = () if ctx is None else mesh_axes_for("classes", ctx.rules, ctx.mesh)
        return sharded_cross_entropy(
            features, labels, self.weight[...], mesh=mesh, axes=axes, sample_size=self.sample_size, key=key
        )
