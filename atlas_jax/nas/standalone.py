"""Stand-alone networks built from plain Flax NNX layers for one sub-network of a supernet.

These are the reference implementation of each architecture: retraining from scratch uses
them, and `load_slices` copies a supernet's leading weight slices into one, so tests can check
that a sub-network run through the entangled layers computes the same function.
"""

from __future__ import annotations

from typing import Any, Mapping

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from atlas_jax.nas.layers import ACTIVATIONS, lecun_normal
from atlas_jax.nas.supernets import CNNSupernet, MLPSupernet, Supernet, TransformerSupernet

Array = jax.Array


class StandaloneMLP(nnx.Module):
    def __init__(self, in_features: int, widths: list[int], num_classes: int, activation: str, *, rngs: nnx.Rngs):
        ins = [in_features] + widths[:-1]
        self.layers = nnx.List([nnx.Linear(i, o, rngs=rngs) for i, o in zip(ins, widths)])
        self.head = nnx.Linear(widths[-1], num_classes, rngs=rngs)
        self.activation = activation

    def __call__(self, x: Array) -> Array:
        h = x.reshape(x.shape[0], -1)
        for layer in self.layers:
            h = ACTIVATIONS[self.activation](layer(h))
        return self.head(h)


class StandaloneCNN(nnx.Module):
    def __init__(
        self, input_shape: tuple, channels: list[int], kernels: list[int], dense: int, num_classes: int,
        activation: str, *, rngs: nnx.Rngs,
    ):
        ins = [input_shape[-1]] + channels[:-1]
        self.convs = nnx.List(
            [nnx.Conv(i, o, (k, k), padding="SAME", rngs=rngs) for i, o, k in zip(ins, channels, kernels)]
        )
        self.dense = nnx.Linear(channels[-1], dense, rngs=rngs)
        self.head = nnx.Linear(dense, num_classes, rngs=rngs)
        self.input_shape, self.activation = input_shape, activation

    def __call__(self, x: Array) -> Array:
        act = ACTIVATIONS[self.activation]
        h = x.reshape((x.shape[0],) + tuple(self.input_shape))
        for conv in self.convs:
            h = act(conv(h))
            if min(h.shape[1:3]) >= 4:
                h = nnx.avg_pool(h, (2, 2), strides=(2, 2))
        return self.head(act(self.dense(h.mean(axis=(1, 2)))))


class StandaloneBlock(nnx.Module):
    def __init__(self, embed: int, heads: int, head_dim: int, hidden: int, *, rngs: nnx.Rngs):
        self.attn_norm = nnx.LayerNorm(embed, use_fast_variance=False, rngs=rngs)
        self.attn = nnx.MultiHeadAttention(
            heads, embed, qkv_features=heads * head_dim, out_features=embed, decode=False,
            keep_rngs=False, rngs=rngs,
        )
        self.mlp_norm = nnx.LayerNorm(embed, use_fast_variance=False, rngs=rngs)
        self.fc1 = nnx.Linear(embed, hidden, rngs=rngs)
        self.fc2 = nnx.Linear(hidden, embed, rngs=rngs)

    def __call__(self, h: Array) -> Array:
        h = h + self.attn(self.attn_norm(h))
        return h + self.fc2(jax.nn.gelu(self.fc1(self.mlp_norm(h))))


class StandaloneTransformer(nnx.Module):
    def __init__(self, net: TransformerSupernet, arch: Mapping[str, Any], *, rngs: nnx.Rngs):
        height, width, channels = net.input_shape
        embed, self.patch_fn = arch["embed"], net.patches
        tokens = (height // net.patch) * (width // net.patch)
        self.input_shape = net.input_shape
        self.embed = nnx.Linear(net.patch * net.patch * channels, embed, rngs=rngs)
        self.position = nnx.Param(0.02 * jax.random.normal(rngs.params(), (tokens, embed)))
        self.blocks = nnx.List([
            StandaloneBlock(
                embed, arch[f"heads_{i}"], net.head_dim, net.decisions.size(f"mlp_ratio_{i}", arch), rngs=rngs
            )
            for i in range(arch["depth"])
        ])
        self.final_norm = nnx.LayerNorm(embed, use_fast_variance=False, rngs=rngs)
        self.head = nnx.Linear(embed, net.num_classes, rngs=rngs)

    def __call__(self, x: Array) -> Array:
        h = self.embed(self.patch_fn(x.reshape((x.shape[0],) + tuple(self.input_shape)))) + self.position[...]
        for block in self.blocks:
            h = block(h)
        return self.head(self.final_norm(h).mean(axis=1))


def build_standalone(net: Supernet, arch: Mapping[str, Any], seed: int = 0) -> nnx.Module:
    """Build sub-network `arch` of `net` from plain NNX layers, freshly initialised from `seed`.

    Kernels are drawn from N(0, 1 / fan_in) with numpy (as the supernet's are), biases are zero,
    layer-norm scales one and position embeddings N(0, 0.02^2); the module is traced abstractly
    first so no per-shape random-number program is compiled.
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


def _construct(net: Supernet, arch: Mapping[str, Any]) -> nnx.Module:
    rngs = nnx.Rngs(params=0)
    depth = arch["depth"]
    if isinstance(net, MLPSupernet):
        widths = [arch[f"width_{i}"] for i in range(depth)]
        return StandaloneMLP(net.in_features, widths, net.num_classes, net.activation, rngs=rngs)
    if isinstance(net, CNNSupernet):
        channels = [arch[f"channels_{i}"] for i in range(depth)]
        kernels = [arch[f"kernel_{i}"] for i in range(depth)]
        return StandaloneCNN(
            net.input_shape, channels, kernels, arch["dense"], net.num_classes, net.activation, rngs=rngs
        )
    if isinstance(net, TransformerSupernet):
        return StandaloneTransformer(net, arch, rngs=rngs)
    raise TypeError(f"no stand-alone builder for supernet type {type(net).__name__}")


def _copy_dense(target: nnx.Linear, kernel: Array, bias: Array) -> None:
    n_in, n_out = target.kernel.shape
    target.kernel[...] = kernel[:n_in, :n_out]
    target.bias[...] = bias[:n_out]


def load_slices(model: nnx.Module, net: Supernet, arch: Mapping[str, Any]) -> nnx.Module:
    """Copy `net`'s leading weight slices for sub-network `arch` into stand-alone `model`."""
    arch = net.decisions.canonical(arch)
    if isinstance(net, MLPSupernet):
        for target, source in zip(model.layers, net.layers):
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
