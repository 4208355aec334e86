"""Tree-ensemble prediction: the sum of each row's leaf values per output.

Node arrays have shape [trees, nodes] (see `atlas_jax.boosting.tree.Trees`);
tree t adds to output t % outputs, and a row goes left when its value is
<= threshold, or when it is NaN and default_left is set.

Two implementations with one contract: `predict_cpp` (C++ FFI kernel in
`gbdt_predict.cc`, CPU only) and `predict_reference` (pure JAX, any backend),
which walks a fixed `steps` levels, so `steps` must be at least the depth of
the deepest tree. `predict` picks the C++ kernel on CPU when it is built.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from atlas_jax.kernels.gbdt_histogram import BACKENDS, PREDICT_FFI_TARGET, cpp_available

NODE_FIELDS = ("feature", "threshold", "default_left", "left", "right", "is_leaf", "value")


def predict_reference(x: jax.Array, nodes: dict, outputs: int, steps: int) -> jax.Array:
    """Sum leaf values per output with a fixed-length walk in pure JAX.

    Args:
        x: float32[rows, features]; NaN marks a missing value.
        nodes: the NODE_FIELDS arrays, each [trees, nodes].
        outputs: margins per row; the tree count must be a multiple of it.
        steps: walk length, at least the depth of the deepest tree.

    Returns:
        float32[rows, outputs].
    """
    nodes = {name: jnp.asarray(nodes[name]) for name in NODE_FIELDS}
    rows, trees = x.shape[0], nodes["feature"].shape[0]
    tree = jnp.arange(trees)[None, :]

    def step(_, node):
        value = jnp.take_along_axis(x, jnp.maximum(nodes["feature"][tree, node], 0), axis=1)
        go_left = jnp.where(jnp.isnan(value), nodes["default_left"][tree, node], value <= nodes["threshold"][tree, node])
        child = jnp.where(go_left, nodes["left"][tree, node], nodes["right"][tree, node])
        return jnp.where(nodes["is_leaf"][tree, node], node, child)

    leaf = jax.lax.fori_loop(0, steps, step, jnp.zeros((rows, trees), jnp.int32))
    values = nodes["value"][tree, leaf]
    return values.reshape(rows, trees // outputs, outputs).sum(axis=1)


def predict_cpp(x: jax.Array, nodes: dict, outputs: int, num_threads: int = 0) -> jax.Array:
    """Sum leaf values per output with the C++ FFI kernel (CPU); same contract as the reference.

    `num_threads=0` uses one thread per 4,096 rows, up to the core count.

    Raises:
        RuntimeError: the extension module was not built into this installation.
    """
    if not cpp_available():
        raise RuntimeError(
            "the C++ GBDT predict kernel is not built (atlas_jax.kernels._gbdt_kernels is missing); "
            "reinstall atlas_jax with `pip install .`, or use backend='jax'"
        )
    dtypes = dict(feature=jnp.int32, threshold=jnp.float32, default_left=bool, left=jnp.int32,
                  right=jnp.int32, is_leaf=bool, value=jnp.float32)
    out = jax.ShapeDtypeStruct((x.shape[0], outputs), jnp.float32)
    call = jax.ffi.ffi_call(PREDICT_FFI_TARGET, out, vmap_method="sequential")
    return call(x.astype(jnp.float32), *(nodes[k].astype(dtypes[k]) for k in NODE_FIELDS),
                num_threads=np.int64(num_threads))


def predict(x: jax.Array, nodes: dict, outputs: int, steps: int, backend: str = "auto") -> jax.Array:
    """Sum leaf values per output with the kernel named by `backend` (auto: C++ on CPU when built)."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown predict backend '{backend}'; valid backends: {', '.join(BACKENDS)}")
    reference = functools.partial(predict_reference, outputs=outputs, steps=steps)
    fast = functools.partial(predict_cpp, outputs=outputs)
    if backend == "jax" or (backend == "auto" and not cpp_available()):
        return reference(x, nodes)
    if backend == "cpp":
        return fast(x, nodes)
    return jax.lax.platform_dependent(x, nodes, cpu=fast, default=reference)
