"""DARTS mixed-operation networks: separate weights for every candidate operation.

This is the relaxation of the original DARTS. Each layer runs every candidate (every width,
and for convolutions every width x kernel-size pair) with its own weights. It pads the outputs
to the largest width and sums them weighted by the candidates' probabilities. Depth mixes the
block exits. The cost of a step therefore grows with the number of candidates, unlike the
entangled supernet whose candidates share one set of weights.
"""

from __future__ import annotations

from typing import Mapping

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from atlas_jax.errors import ConfigError
from atlas_jax.nas.layers import ACTIVATIONS, EntangledConv, EntangledDense
from atlas_jax.nas.supernets import CNNSupernet, MLPSupernet, Supernet

Array = jax.Array


def _pad(x: Array, size: int) -> Array:
    return jnp.pad(x, [(0, 0)] * (x.ndim - 1) + [(0, size - x.shape[-1])])


def _mix_depth(exits: list[Array], depths: tuple, depth_probs: Array) -> Array:
    return sum(depth_probs[j] * exits[d - 1] for j, d in enumerate(depths))


class MixedMLP(nnx.Module):
    """MLP whose hidden layers contain one dense layer per candidate width."""

    def __init__(self, net: MLPSupernet, rng: np.random.Generator):
        decisions = net.decisions
        self.depths = decisions.by_name["depth"].values
        self.widths = decisions.by_name["width_0"].values
        self.activation, self.num_classes = net.activation, net.num_classes
        width_max = max(self.widths)
        ins = [net.in_features] + [width_max] * (max(self.depths) - 1)
        self.ops = nnx.List([nnx.List([EntangledDense(n, w, rng=rng) for w in self.widths]) for n in ins])
        self.head = EntangledDense(width_max, net.num_classes, rng=rng)

    def __call__(self, x: Array, probs: Mapping[str, Array]) -> Array:
        act, width_max = ACTIVATIONS[self.activation], max(self.widths)
        h = x.reshape(x.shape[0], -1)
        exits = []
        for i, candidates in enumerate(self.ops):
            p = probs[f"width_{i}"]
            h = sum(p[j] * _pad(act(op(h, w)), width_max) for j, (op, w) in enumerate(zip(candidates, self.widths)))
            exits.append(h)
        return self.head(_mix_depth(exits, self.depths, probs["depth"]), self.num_classes)


class MixedCNN(nnx.Module):
    """Every conv block holds one convolution per (channels, kernel size) pair; the dense layer
    one per candidate width."""

    def __init__(self, net: CNNSupernet, rng: np.random.Generator):
        decisions = net.decisions
        self.input_shape, self.activation, self.num_classes = net.input_shape, net.activation, net.num_classes
        self.depths = decisions.by_name["depth"].values
        self.channels = decisions.by_name["channels_0"].values
        self.kernels = decisions.by_name["kernel_0"].values
        self.dense_widths = decisions.by_name["dense"].values
        c_max = max(self.channels)
        ins = [net.input_shape[-1]] + [c_max] * (max(self.depths) - 1)
        self.ops = nnx.List([
            nnx.List([EntangledConv(n, c, k, rng=rng) for c in self.channels for k in self.kernels]) for n in ins
        ])
        self.dense = nnx.List([EntangledDense(c_max, d, rng=rng) for d in self.dense_widths])
        self.head = EntangledDense(max(self.dense_widths), net.num_classes, rng=rng)

    def __call__(self, x: Array, probs: Mapping[str, Array]) -> Array:
        act, c_max = ACTIVATIONS[self.activation], max(self.channels)
        h = x.reshape((x.shape[0],) + tuple(self.input_shape))
        exits = []
        pairs = [(a, c, b, k) for a, c in enumerate(self.channels) for b, k in enumerate(self.kernels)]
        for i, candidates in enumerate(self.ops):
            pc, pk = probs[f"channels_{i}"], probs[f"kernel_{i}"]
            h = sum(pc[a] * pk[b] * _pad(act(op(h, c, k)), c_max) for op, (a, c, b, k) in zip(candidates, pairs))
            if min(h.shape[1:3]) >= 4:
                h = nnx.avg_pool(h, (2, 2), strides=(2, 2))
            exits.append(h.mean(axis=(1, 2)))
        h = _mix_depth(exits, self.depths, probs["depth"])
        d_max, pd = max(self.dense_widths), probs["dense"]
        h = sum(pd[j] * _pad(act(op(h, d)), d_max) for j, (op, d) in enumerate(zip(self.dense, self.dense_widths)))
        return self.head(h, self.num_classes)


def create_mixed(net: Supernet, seed: int = 0) -> nnx.Module:
    """Build the separate-weight DARTS network over the same decisions as `net`."""
    rng = np.random.default_rng(seed)
    if isinstance(net, MLPSupernet):
        return MixedMLP(net, rng)
    if isinstance(net, CNNSupernet):
        return MixedCNN(net, rng)
    raise ConfigError(
        f"separate-weight DARTS supports the mlp and cnn families, not {net.family!r}; use darts weights='shared'"
    )
