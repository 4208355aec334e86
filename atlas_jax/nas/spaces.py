"""NAS search spaces written with the shared search-space API, and the supernet each one builds.

A NAS space is a `atlas_jax.search.Space` whose parameters are the supernet's decisions
(`depth`, `width_0`, `kernel_1`, ...; per-block decisions are conditional on `depth`) and whose
constant `family` names the supernet family. Researchers narrow a registered space with
`get_space("nas_cnn", bounds={"channels_0": [8, 16]})`, or register their own:

    @register_space("my_cnn")
    def my_cnn() -> Space:
        return nas_space("cnn", depths=(2, 3), channels=(16, 32, 64), kernels=(3,), dense=(64,))
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from atlas_jax.errors import ConfigError
from atlas_jax.nas.decisions import Arch, DecisionSet
from atlas_jax.nas.supernets import FAMILIES, Supernet, create_supernet
from atlas_jax.search import Choice, Space, register_space

# Keyword arguments of each supernet family, and the decision prefix each one sets.
FAMILY_CHOICES: dict[str, dict[str, str]] = {
    "mlp": {"depths": "depth", "widths": "width"},
    "cnn": {"depths": "depth", "channels": "channels", "kernels": "kernel", "dense": "dense"},
    "transformer": {"embeds": "embed", "depths": "depth", "heads": "heads", "mlp_ratios": "mlp_ratio"},
}


def decisions_to_space(decisions: DecisionSet, family: str) -> Space:
    """Build the search-API space of a decision set: one ordered Choice per decision."""
    definition: dict[str, Any] = {"family": family}
    for decision in decisions:
        when = None
        if decision.active_if is not None:
            depth_name, index = decision.active_if
            depth_values = decisions.by_name[depth_name].values
            when = {depth_name: [d for d in depth_values if d > index]}
        definition[decision.name] = Choice(list(decision.values), ordered=True, when=when)
    return Space(definition)


def nas_space(family: str, **choices: Sequence[Any]) -> Space:
    """Build the NAS space of supernet `family` with the given candidate values.

    Args:
        family: "mlp", "cnn" or "transformer".
        **choices: candidate values per decision family, named as the supernet's keyword
            arguments (`depths`, `widths`, `channels`, `kernels`, `dense`, `embeds`, `heads`,
            `mlp_ratios`); the others keep their defaults.
    """
    if family not in FAMILIES:
        raise ConfigError(f"unknown supernet family '{family}'; valid: {', '.join(FAMILIES)}")
    unknown = set(choices) - set(FAMILY_CHOICES[family])
    if unknown:
        raise ConfigError(
            f"unknown choices {sorted(unknown)} for family '{family}'; valid: {', '.join(FAMILY_CHOICES[family])}"
        )
    # The decision structure does not depend on the input, so a dummy shape builds it.
    probe = create_supernet(family, (8, 8, 1), 2, **choices)
    return decisions_to_space(probe.decisions, family)


def supernet_choices(space: Space) -> tuple[str, dict[str, tuple]]:
    """Return the family and supernet keyword arguments that a NAS space describes.

    Raises:
        ConfigError: if the space lacks the `family` constant, or its per-block decisions of one
            kind do not share one set of candidate values (the supernet holds one maximum per kind).
    """
    family = space.constants.get("family")
    if family not in FAMILY_CHOICES:
        raise ConfigError(
            f"space has no valid 'family' constant (got {family!r}); build NAS spaces with nas_space()"
        )
    kwargs: dict[str, tuple] = {}
    for argument, prefix in FAMILY_CHOICES[family].items():
        names = [p for p in space.paths if p == prefix or p.startswith(prefix + "_")]
        pinned = [p for p in space.constants if p == prefix or p.startswith(prefix + "_")]
        if not names and not pinned:
            raise ConfigError(f"NAS space of family '{family}' lacks decision '{prefix}'")
        option_sets = {tuple(space[p].options) for p in names} | {(space.constants[p],) for p in pinned}
        values = sorted({v for options in option_sets for v in options})
        if len(option_sets) > 1:
            raise ConfigError(
                f"decisions '{prefix}_*' have different candidate values {sorted(option_sets)}; "
                "give every block the same values"
            )
        kwargs[argument] = tuple(values)
    return family, kwargs


def supernet_for_space(space: Space, input_shape: Sequence[int], num_classes: int, seed: int = 0) -> Supernet:
    """Build the supernet whose sub-networks are exactly the architectures of `space`."""
    family, kwargs = supernet_choices(space)
    return create_supernet(family, input_shape, num_classes, seed, **kwargs)


def arch_from_values(decisions: DecisionSet, values: Mapping[str, Any]) -> Arch:
    """Turn a config drawn from a NAS space into a complete architecture.

    Inactive decisions, which the space leaves out, take their smallest value.
    """
    arch = {}
    for decision in decisions:
        arch[decision.name] = values.get(decision.name, decision.values[0])
    return decisions.canonical(arch)


def values_from_arch(space: Space, arch: Mapping[str, Any]) -> dict[str, Any]:
    """Return the space config of an architecture (active decisions plus constants)."""
    drawn = {p: arch[p] for p in space.paths if p in arch}
    active = {p: v for p, v in drawn.items() if space.is_active(p, drawn)}
    return space.validate(active, check_constraints=False)


@register_space("nas_mlp")
def nas_mlp_space(
    depths: Sequence[int] = (1, 2, 3), widths: Sequence[int] = (32, 64, 128, 256)
) -> Space:
    """MLP for tables and flattened small images: depth and per-layer width."""
    return nas_space("mlp", depths=depths, widths=widths)


@register_space("nas_cnn")
def nas_cnn_space(
    depths: Sequence[int] = (1, 2, 3),
    channels: Sequence[int] = (8, 16, 24, 32),
    kernels: Sequence[int] = (3, 5),
    dense: Sequence[int] = (32, 64, 128),
) -> Space:
    """CNN for small images: depth, per-block channels and kernel size, dense width."""
    return nas_space("cnn", depths=depths, channels=channels, kernels=kernels, dense=dense)


@register_space("nas_transformer")
def nas_transformer_space(
    embeds: Sequence[int] = (32, 48, 64),
    depths: Sequence[int] = (1, 2, 3),
    heads: Sequence[int] = (1, 2, 4),
    mlp_ratios: Sequence[float] = (1.0, 2.0, 3.0),
) -> Space:
    """AutoFormer-style vision transformer: embedding width, depth, per-block heads and MLP ratio."""
    return nas_space("transformer", embeds=embeds, depths=depths, heads=heads, mlp_ratios=mlp_ratios)
