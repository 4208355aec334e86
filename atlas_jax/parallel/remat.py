"""Per-layer rematerialisation policies, chosen by name in `parallel.remat`.

| name | saved for the backward pass |
|---|---|
| none | everything (no `jax.checkpoint`) |
| full | nothing: the layer reruns its forward pass (`nothing_saveable`) |
| dots_saveable | matmul outputs |
| dots_with_no_batch_dims_saveable | matmul outputs without batch dimensions (weight-like products) |
| save_names | only activations tagged with `checkpoint_name` and listed in `remat_names` |
| offload | the listed activations, moved to pinned host memory, where the backend has it |
"""

from __future__ import annotations

from typing import Callable, Sequence

import jax

from atlas_jax.errors import ConfigError

REMAT_POLICIES = (
    "none",
    "full",
    "dots_saveable",
    "dots_with_no_batch_dims_saveable",
    "save_names",
    "offload",
)


def check_remat(name: str, names: Sequence[str]) -> None:
    """Raise ConfigError for an unknown policy, or a name-based policy without names."""
    if name not in REMAT_POLICIES:
        raise ConfigError(f"parallel.remat='{name}' is invalid; use one of {list(REMAT_POLICIES)}")
    if name in ("save_names", "offload") and not names:
        raise ConfigError(f"parallel.remat={name} needs parallel.remat_names, the activations to keep")


def host_offload_supported(device: jax.Device | None = None) -> bool:
    """Return whether `device` exposes pinned host memory for activation offload."""
    device = device or jax.devices()[0]
    try:
        kinds = {memory.kind for memory in device.addressable_memories()}
    except (AttributeError, NotImplementedError):  # Backends without the memories API.
        return False
    return "pinned_host" in kinds


def remat_policy(name: str, names: Sequence[str] = ()) -> Callable | None:
    """Return the `jax.checkpoint` policy for `name` (None for `full`).

    Raises:
        ConfigError: unknown name, or `offload` on a backend without pinned host memory.
    """
    check_remat(name, names)
    policies = jax.checkpoint_policies
    if name == "full":
        return policies.nothing_saveable
    if name == "dots_saveable":
        return policies.dots_saveable
    if name == "dots_with_no_batch_dims_saveable":
        return policies.dots_with_no_batch_dims_saveable
    if name == "save_names":
        return policies.save_only_these_names(*names)
    if name == "offload":
        if not host_offload_supported():
            raise ConfigError(
                f"parallel.remat=offload needs pinned host memory, which the {jax.default_backend()} "
                "backend does not expose; use remat=save_names on this backend"
            )
        return policies.save_and_offload_only_these_names(
            names_which_can_be_saved=[],
            names_which_can_be_offloaded=list(names),
            offload_src="device",
            offload_dst="pinned_host",
        )
    raise AssertionError(name)  # "none" is handled by `remat`.


def with_remat(fn: Callable, name: str, names: Sequence[str] = ()) -> Callable:
    """Wrap layer function `fn` with the remat policy `name`; `none` returns `fn` unchanged."""
    check_remat(name, names)
    if name == "none":
        return fn
    policy = remat_policy(name, names)
    # prevent_cse keeps XLA from merging the recomputation back into the forward pass.
    return jax.checkpoint(fn, policy=policy, prevent_cse=True)
