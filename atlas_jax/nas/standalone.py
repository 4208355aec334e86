"""Stand-alone networks for one sub-network of a supernet, and its Hydra model config.

A sub-network maps to a model of `atlas_jax.models` built from plain Flax NNX layers: `mlp`,
`searched_cnn` or `searched_vit`. `model_config` writes that model's config, retraining from
scratch builds it, and `load_slices` copies a supernet's leading weight slices into it, so
tests can check that the entangled layers compute the same function.
"""

from __future__ import annotations

from typing import Any, Mapping

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from atlas_jax.models.mlp import MLP
from atlas_jax.models.searched import SearchedCNN, SearchedViT
from atlas_jax.nas.layers import lecun_normal
from atlas_jax.nas.supernets import CNNSupernet, MLPSupernet, Supernet, TransformerSupernet

Array = jax.Array


def build_standalone(net: Supernet, arch: Mapping[str, Any], seed: int = 0) -> nnx.Module:
    """Build sub-network `arch` of `net` from plain NNX layers, freshly initialised from `seed`.

    Kernels are drawn from N(0, 1 / fan_in) with numpy, as the supernet's are. Biases are zero,
    layer-norm scales one and position embeddings N(0, 0.02^2). The module is traced abstractly
    first, so no per-shape random-number program is compiled.
    """
    arch = net.decisions.canonical(arch)
    abstract = nnx.eval_shape(lambda: _construct(net, arch))
    graphdef, state = nnx.split(abstract)
    rng = np.random.default_rng(seed)

    def fill(path: tuple, leaf: jax.ShapeDtypeStruct) -> Array:
        names = [str(p.key) for p in path if isinstance(p, jax.tree_util.DictKey)]
        name, shape = names[-1], leaf.shape
        if "position" in names:
            return jnp.asarray(0.02 * rng.normal(size=shape), leaf.dtype)
        if name == "kernel":
            in_projection = len(shape) == 3 and names[-2] in ("query", "key", "value")
            fan_in = shape[0] if in_projection else int(np.prod(shape[:-1]))
            return lecun_normal(rng, shape, fan_in).astype(leaf.dtype)
        if name == "scale":
            return jnp.ones(shape, leaf.dtype)
        return jnp.zeros(shape, leaf.dtype)

    state = jax.tree_util.tree_map_with_path(fill, state)
    return nnx.merge(graphdef, state)


def model_config(net: Supernet, arch: Mapping[str, Any], dropout: float = 0.0) -> dict[str, Any]:
    """Return the `model` config (a plain dict) of sub-network `arch` for `atlas task=train`."""
    arch = net.decisions.canonical(arch)
    blocks = range(arch["depth"])
    if isinstance(net, MLPSupernet):
        hidden = [int(arch[f"width_{i}"]) for i in blocks]
        return {"name": "mlp", "hidden": hidden, "dropout": dropout, "activation": net.activation}
    if isinstance(net, CNNSupernet):
        return {
            "name": "searched_cnn",
            "channels": [int(arch[f"channels_{i}"]) for i in blocks],
            "kernels": [int(arch[f"kernel_{i}"]) for i in blocks],
            "dense": int(arch["dense"]),
            "dropout": dropout,
            "activation": net.activation,
        }
    if isinstance(net, TransformerSupernet):
        return {
            "name": "searched_vit",
            "patch": net.patch,
            "embed": int(arch["embed"]),
            "heads": [int(arch[f"heads_{i}"]) for i in blocks],
            "hidden": [net.decisions.size(f"mlp_ratio_{i}", arch) for i in blocks],
            "head_dim": net.head_dim,
        }
    raise TypeError(f"no model config for supernet type {type(net).__name__}")


def _construct(net: Supernet, arch: Mapping[str, Any]) -> nnx.Module:
    cfg = model_config(net, arch)
    rngs = nnx.Rngs(params=0)
    if cfg["name"] == "mlp":
        return MLP(net.in_features, cfg["hidden"], net.num_classes, dropout=0.0,
                   activation_name=cfg["activation"], rngs=rngs)
    if cfg["name"] == "searched_cnn":
        return SearchedCNN(net.input_shape, cfg["channels"], cfg["kernels"], cfg["dense"], net.num_classes,
                           dropout=0.0, activation_name=cfg["activation"], rngs=rngs)
    return SearchedViT(net.input_shape, cfg["patch"], cfg["embed"], cfg["heads"], cfg["hidden"], cfg["head_dim"],
                       net.num_classes, rngs=rngs)


def _copy_dense(target: nnx.Linear, kernel: Array, bias: Array) -> None:
    n_in, n_out = target.kernel.shape
    target.kernel[...] = kernel[:n_in, :n_out]
    target.bias[...] = bias[:n_out]


def load_slices(model: nnx.Module, net: Supernet, arch: Mapping[str, Any]) -> nnx.Module:
    """Copy `net`'s leading weight slices for sub-network `arch` into stand-alone `model`."""
    arch = net.decisions.canonical(arch)
    if isinstance(net, MLPSupernet):
        for target, source in zip(model.hidden, net.layers):
            _copy_dense(target, source.kernel[...], source.bias[...])
    elif isinstance(net, CNNSupernet):
        for i, (target, source) in enumerate(zip(model.convs, net.convs)):
            k, n_in, n_out = arch[f"kernel_{i}"], target.kernel.shape[2], target.kernel.shape[3]
            offset = (source.kernel_max - k) // 2
            window = slice(offset, offset + k)
            target.kernel[...] = source.kernel[...][window, window, :n_in, :n_out]
            target.bias[...] = source.bias[...][:n_out]
        _copy_dense(model.dense, net.dense.kernel[...], net.dense.bias[...])
    elif isinstance(net, TransformerSupernet):
        embed = arch["embed"]
        _copy_dense(model.embed, net.embed.kernel[...], net.embed.bias[...])
        model.position[...] = net.position[...][:, :embed]
        for i, block in enumerate(model.blocks):
            heads = arch[f"heads_{i}"]
            attn = net.attns[i]
            for name in ("query", "key", "value"):
                part = getattr(block.attn, name)
                part.kernel[...] = getattr(attn, name)[...][:embed, :heads]
                part.bias[...] = getattr(attn, f"{name}_bias")[...][:heads]
            block.attn.out.kernel[...] = attn.out[...][:heads, :, :embed]
            block.attn.out.bias[...] = attn.out_bias[...][:embed]
            for target, source in ((block.attn_norm, net.attn_norms[i]), (block.mlp_norm, net.mlp_norms[i])):
                target.scale[...] = source.scale[...][:embed]
                target.bias[...] = source.bias[...][:embed]
            _copy_dense(block.fc1, net.mlps[i].fc1.kernel[...], net.mlps[i].fc1.bias[...])
            _copy_dense(block.fc2, net.mlps[i].fc2.kernel[...], net.mlps[i].fc2.bias[...])
        model.final_norm.scale[...] = net.final_norm.scale[...][:embed]
        model.final_norm.bias[...] = net.final_norm.bias[...][:embed]
    else:
        raise TypeError(f"no slice loader for supernet type {type(net).__name__}")
    _copy_dense(model.head, net.head.kernel[...], net.head.bias[...])
    return model


def count_params(model: nnx.Module) -> int:
    """Return the number of parameters of an NNX module."""
    return sum(int(jnp.size(p)) for p in jax.tree.leaves(nnx.state(model, nnx.Param)))
