"""Supernets built from entangled layers: MLP, CNN and an AutoFormer-style vision transformer.

Every supernet is called as `net(x, dims, gates)`: `dims` (static, hashable) gives the slice
size of every decision, and `gates` (a dict of arrays, or None) cuts those sizes down to the
sub-network. `dims = decisions.max_dims()` with gates is the masked mode, `dims` of the
sub-network itself without gates is the exact-slice mode (see `atlas_jax.nas.decisions`).

Depth is a decision too: the `depth` gate is a weighting over the block exits (one-hot for a
sub-network, softmax probabilities under DARTS); without a gate the last block run is the exit.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from atlas_jax.errors import ConfigError
from atlas_jax.nas.decisions import Decision, DecisionSet, Dims
from atlas_jax.nas.layers import (
    ACTIVATIONS,
    EntangledAttention,
    EntangledConv,
    EntangledDense,
    EntangledLayerNorm,
    EntangledMLPBlock,
)

Array = jax.Array


def _pad_features(x: Array, size: int) -> Array:
    return jnp.pad(x, [(0, 0)] * (x.ndim - 1) + [(0, size - x.shape[-1])])


def _mix_exits(exits: list[Array], depth_gate: Array | None) -> Array:
    """Combine block exits with the depth gate; exit i is the output after i + 1 blocks."""
    if depth_gate is None:
        return exits[-1]
    size = max(e.shape[-1] for e in exits)
    return sum(depth_gate[i + 1] * _pad_features(e, size) for i, e in enumerate(exits))


def _depth_decisions(
    depths: Sequence[int], per_block: Mapping[str, tuple[str, Sequence[Any]]]
) -> list[Decision]:
    """Return a depth decision plus one decision per block and name; later blocks are conditional."""
    depths = sorted(depths)
    decisions = [Decision("depth", "depth", tuple(depths))]
    for i in range(depths[-1]):
        condition = None if i < depths[0] else ("depth", i)
        for name, (kind, values) in per_block.items():
            relative = "embed" if kind == "ratio" else None
            decisions.append(Decision(f"{name}_{i}", kind, tuple(values), condition, relative))
    return decisions


class Supernet(nnx.Module):
    """Base class: a family name, the decisions, and the cost model of a sub-network."""

    family: str = ""
    decisions: DecisionSet

    def cost(self, arch: Mapping[str, Any]) -> dict[str, int]:
        """Return `{"params": ..., "flops": ...}` of the sub-network (FLOPs per example, 2 per MAC)."""
        raise NotImplementedError


class MLPSupernet(Supernet):
    """Flatten, then `depth` dense layers of widths `width_i`, then a linear classifier."""

    family = "mlp"

    def __init__(
        self,
        in_features: int,
        num_classes: int,
        depths: Sequence[int] = (1, 2, 3),
        widths: Sequence[int] = (32, 64, 128, 256),
        activation: str = "relu",
        *,
        rng: np.random.Generator,
    ):
        self.decisions = DecisionSet(_depth_decisions(depths, {"width": ("width", widths)}))
        self.in_features, self.num_classes, self.activation = in_features, num_classes, activation
        width_max, depth_max = max(widths), max(depths)
        ins = [in_features] + [width_max] * (depth_max - 1)
        self.layers = nnx.List([EntangledDense(n, width_max, rng=rng) for n in ins])
        self.head = EntangledDense(width_max, num_classes, rng=rng)

    def __call__(self, x: Array, dims: Dims, gates: Mapping[str, Array] | None = None) -> Array:
        """Return logits float32[batch, classes] for x: float32[batch, ...features]."""
        size, gates = dict(dims), gates or {}
        act = ACTIVATIONS[self.activation]
        h = x.reshape(x.shape[0], -1)
        exits = []
        for i in range(size["depth"]):
            h = act(self.layers[i](h, size[f"width_{i}"], gates.get(f"width_{i}")))
            exits.append(h)
        return self.head(_mix_exits(exits, gates.get("depth")), self.num_classes)

    def cost(self, arch: Mapping[str, Any]) -> dict[str, int]:
        fan_in, params = self.in_features, 0
        for i in range(arch["depth"]):
            width = arch[f"width_{i}"]
            params += fan_in * width + width
            fan_in = width
        params += fan_in * self.num_classes + self.num_classes
        return {"params": params, "flops": 2 * params}


class CNNSupernet(Supernet):
    """Conv blocks (conv, activation, 2x2 average pool while the map is at least 4x4), global
    average pool, a hidden dense layer and a linear classifier."""

    family = "cnn"

    def __init__(
        self,
        input_shape: Sequence[int],
        num_classes: int,
        depths: Sequence[int] = (1, 2, 3),
        channels: Sequence[int] = (8, 16, 24, 32),
        kernels: Sequence[int] = (3, 5),
        dense: Sequence[int] = (32, 64, 128),
        activation: str = "relu",
        *,
        rng: np.random.Generator,
    ):
        if len(input_shape) != 3:
            raise ConfigError(f"the CNN space needs images [height, width, channels], got {input_shape}")
        blocks = {"channels": ("width", channels), "kernel": ("kernel", kernels)}
        decisions = _depth_decisions(depths, blocks) + [Decision("dense", "width", tuple(dense))]
        self.decisions = DecisionSet(decisions)
        self.input_shape, self.num_classes, self.activation = tuple(input_shape), num_classes, activation
        c_max, k_max = max(channels), max(kernels)
        ins = [input_shape[-1]] + [c_max] * (max(depths) - 1)
        self.convs = nnx.List([EntangledConv(n, c_max, k_max, rng=rng) for n in ins])
        self.dense = EntangledDense(c_max, max(dense), rng=rng)
        self.head = EntangledDense(max(dense), num_classes, rng=rng)

    def __call__(self, x: Array, dims: Dims, gates: Mapping[str, Array] | None = None) -> Array:
        """Return logits float32[batch, classes] for images x: float32[batch, height, width, channels]."""
        size, gates = dict(dims), gates or {}
        act = ACTIVATIONS[self.activation]
        h = x.reshape((x.shape[0],) + self.input_shape)
        exits = []
        for i in range(size["depth"]):
            h = self.convs[i](
                h, size[f"channels_{i}"], size[f"kernel_{i}"],
                gates.get(f"channels_{i}"), gates.get(f"kernel_{i}"),
            )
            h = act(h)
            if min(h.shape[1:3]) >= 4:
                h = nnx.avg_pool(h, (2, 2), strides=(2, 2))
            exits.append(h.mean(axis=(1, 2)))
        h = act(self.dense(_mix_exits(exits, gates.get("depth")), size["dense"], gates.get("dense")))
        return self.head(h, self.num_classes)

    def cost(self, arch: Mapping[str, Any]) -> dict[str, int]:
        height, width, fan_in = self.input_shape
        params = flops = 0
        for i in range(arch["depth"]):
            out, k = arch[f"channels_{i}"], arch[f"kernel_{i}"]
            params += k * k * fan_in * out + out
            flops += 2 * k * k * fan_in * out * height * width
            if min(height, width) >= 4:
                height, width = height // 2, width // 2
            fan_in = out
        dense = arch["dense"]
        params += fan_in * dense + dense + dense * self.num_classes + self.num_classes
        flops += 2 * (fan_in * dense + dense * self.num_classes)
        return {"params": params, "flops": flops}


class TransformerSupernet(Supernet):
    """AutoFormer-style vision transformer: patch embedding of width `embed`, `depth` pre-norm
    blocks with `heads_i` heads and MLP ratio `mlp_ratio_i`, mean pooling, a linear classifier."""

    family = "transformer"

    def __init__(
        self,
        input_shape: Sequence[int],
        num_classes: int,
        patch: int = 2,
        embeds: Sequence[int] = (32, 48, 64),
        depths: Sequence[int] = (1, 2, 3),
        heads: Sequence[int] = (1, 2, 4),
        mlp_ratios: Sequence[float] = (1.0, 2.0, 3.0),
        head_dim: int = 16,
        *,
        rng: np.random.Generator,
    ):
        if len(input_shape) != 3 or input_shape[0] % patch or input_shape[1] % patch:
            raise ConfigError(
                f"the transformer space needs images [height, width, channels] divisible by "
                f"patch={patch}, got {input_shape}"
            )
        blocks = {"heads": ("heads", heads), "mlp_ratio": ("ratio", mlp_ratios)}
        decisions = [Decision("embed", "width", tuple(embeds))] + _depth_decisions(depths, blocks)
        self.decisions = DecisionSet(decisions)
        self.input_shape, self.num_classes, self.patch, self.head_dim = (
            tuple(input_shape), num_classes, patch, head_dim,
        )
        e_max, h_max = max(embeds), max(heads)
        hidden_max = self.decisions.max_size("mlp_ratio_0")
        tokens = (input_shape[0] // patch) * (input_shape[1] // patch)
        self.embed = EntangledDense(patch * patch * input_shape[2], e_max, rng=rng)
        self.position = nnx.Param(jnp.asarray(0.02 * rng.normal(size=(tokens, e_max)), jnp.float32))
        self.attn_norms = nnx.List([EntangledLayerNorm(e_max) for _ in range(max(depths))])
        self.attns = nnx.List(
            [EntangledAttention(e_max, h_max, head_dim, rng=rng) for _ in range(max(depths))]
        )
        self.mlp_norms = nnx.List([EntangledLayerNorm(e_max) for _ in range(max(depths))])
        self.mlps = nnx.List([EntangledMLPBlock(e_max, hidden_max, rng=rng) for _ in range(max(depths))])
        self.final_norm = EntangledLayerNorm(e_max)
        self.head = EntangledDense(e_max, num_classes, rng=rng)

    def patches(self, x: Array) -> Array:
        """Cut images float32[batch, height, width, channels] into float32[batch, tokens, p*p*c]."""
        height, width, channels = self.input_shape
        p = self.patch
        x = x.reshape(x.shape[0], height // p, p, width // p, p, channels)
        x = x.transpose(0, 1, 3, 2, 4, 5)
        return x.reshape(x.shape[0], (height // p) * (width // p), p * p * channels)

    def __call__(self, x: Array, dims: Dims, gates: Mapping[str, Array] | None = None) -> Array:
        """Return logits float32[batch, classes] for images x: float32[batch, height, width, channels]."""
        size, gates = dict(dims), gates or {}
        embed_gate = gates.get("embed")
        embed = size["embed"]
        position = self.position[...][:, :embed]
        if embed_gate is not None:
            position = position * embed_gate
        h = self.embed(self.patches(x.reshape((x.shape[0],) + self.input_shape)), embed, embed_gate)
        h = h + position
        exits = []
        for i in range(size["depth"]):
            attn_in = self.attn_norms[i](h, embed_gate)
            h = h + self.attns[i](attn_in, size[f"heads_{i}"], gates.get(f"heads_{i}"), embed_gate)
            mlp_in = self.mlp_norms[i](h, embed_gate)
            h = h + self.mlps[i](mlp_in, size[f"mlp_ratio_{i}"], gates.get(f"mlp_ratio_{i}"), embed_gate)
            exits.append(h)
        h = self.final_norm(_mix_exits(exits, gates.get("depth")), embed_gate).mean(axis=1)
        return self.head(h, self.num_classes)

    def cost(self, arch: Mapping[str, Any]) -> dict[str, int]:
        height, width, channels = self.input_shape
        tokens = (height // self.patch) * (width // self.patch)
        embed, patch_in = arch["embed"], self.patch * self.patch * channels
        params = patch_in * embed + embed + tokens * embed
        flops = 2 * tokens * patch_in * embed
        for i in range(arch["depth"]):
            qkv = arch[f"heads_{i}"] * self.head_dim
            hidden = self.decisions.size(f"mlp_ratio_{i}", arch)
            params += 4 * embed  # two layer norms
            params += 3 * (embed * qkv + qkv) + qkv * embed + embed
            params += embed * hidden + hidden + hidden * embed + embed
            flops += 2 * tokens * (4 * embed * qkv + 2 * embed * hidden) + 4 * tokens * tokens * qkv
        params += 2 * embed + embed * self.num_classes + self.num_classes
        flops += 2 * embed * self.num_classes
        return {"params": params, "flops": flops}


FAMILIES = {"mlp": MLPSupernet, "cnn": CNNSupernet, "transformer": TransformerSupernet}


def create_supernet(
    family: str, input_shape: Sequence[int], num_classes: int, seed: int = 0, **choices: Any
) -> Supernet:
    """Build the supernet of `family` ("mlp", "cnn" or "transformer") for one dataset.

    Args:
        family: supernet family name.
        input_shape: shape of one example (images `[height, width, channels]`, tables `[features]`).
        num_classes: number of output classes.
        seed: initialisation seed.
        **choices: candidate values per decision family (`depths`, `widths`, `channels`, ...).
    """
    if family not in FAMILIES:
        raise ConfigError(f"unknown supernet family '{family}'; valid: {', '.join(FAMILIES)}")
    if family == "mlp":
        features = 1
        for n in input_shape:
            features *= int(n)
        args = (features, num_classes)
    else:
        args = (tuple(input_shape), num_classes)

    return FAMILIES[family](*args, rng=np.random.default_rng(seed), **choices)
