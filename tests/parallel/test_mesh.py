"""Mesh sizes from config, logical rules and their specs."""

import jax
import pytest
from jax.sharding import AxisType, PartitionSpec as P

from atlas_jax.errors import ConfigError
from atlas_jax.parallel import ParallelConfig, ParallelContext, create_mesh, default_rules, load_preset, logical_to_spec, parse_rules, resolve_axis_sizes
from atlas_jax.parallel.presets import PRESETS
from atlas_jax.parallel.sharding import unannotated_spec


def test_wildcard_takes_remaining_devices():
    assert resolve_axis_sizes(ParallelConfig(data=-1, tensor=2), 8) == {"data": 4, "pipe": 1, "fsdp": 1, "tensor": 2}


def test_mismatch_message_shows_both_counts():
    with pytest.raises(ConfigError, match=r"needs 6 devices but 8 are available"):
        resolve_axis_sizes(ParallelConfig(data=3, tensor=2), 8)


def test_two_wildcards_rejected():
    with pytest.raises(ConfigError, match="at most one axis"):
        resolve_axis_sizes(ParallelConfig(data=-1, fsdp=-1), 8)


def test_wildcard_that_cannot_fill_rejected():
    with pytest.raises(ConfigError, match="does not divide the 8 available devices"):
        resolve_axis_sizes(ParallelConfig(data=-1, tensor=3), 8)


def test_mesh_axes_are_auto():
    mesh = create_mesh(ParallelConfig(fsdp=-1))
    assert mesh.axis_names == ("data", "pipe", "fsdp", "tensor")
    assert dict(mesh.shape) == {"data": 1, "pipe": 1, "fsdp": 8, "tensor": 1}
    assert all(t == AxisType.Auto for t in mesh.axis_types)


def test_explicit_axis_type_on_request():
    mesh = create_mesh(ParallelConfig(data=-1, axis_types="explicit"))
    assert all(t == AxisType.Explicit for t in mesh.axis_types)


def test_single_uses_first_device():
    mesh = create_mesh(ParallelConfig(num_devices=1))
    assert mesh.devices.ravel().tolist() == [jax.devices()[0]]


@pytest.mark.parametrize("preset", PRESETS)
def test_preset_builds_on_eight_devices(preset):
    ctx = ParallelContext.from_config(load_preset(preset))
    assert ctx.mesh.size == (1 if preset == "single" else 8)


def test_rules_reuse_no_mesh_axis():
    rules = parse_rules(default_rules(), ("data", "pipe", "fsdp", "tensor"))
    mesh = create_mesh(ParallelConfig(data=2, fsdp=2, tensor=2))
    # Activations: batch claims fsdp, so embed stays whole.
    assert logical_to_spec(("batch", "seq", "embed"), rules, mesh) == P(("data", "fsdp"))
    # Parameters: embed over fsdp, mlp over tensor (Megatron column split).
    assert logical_to_spec(("embed", "mlp"), rules, mesh) == P("fsdp", "tensor")
    assert logical_to_spec(("layers", "heads", "kv", "embed"), rules, mesh) == P(None, "tensor", None, "fsdp")


def test_rules_replicate_indivisible_dims():
    rules = parse_rules(default_rules(), ("data", "pipe", "fsdp", "tensor"))
    mesh = create_mesh(ParallelConfig(tensor=8))
    assert logical_to_spec(("embed", "classes"), rules, mesh, shape=(64, 10)) == P()
    assert logical_to_spec(("embed", "classes"), rules, mesh, shape=(64, 16)) == P(None, "tensor")


def test_rules_reject_unknown_axis():
    with pytest.raises(ConfigError, match="unknown mesh axis 'model'"):
        parse_rules([["mlp", "model"]], ("data", "pipe", "fsdp", "tensor"))


def test_rules_reject_duplicate_name():
    with pytest.raises(ConfigError, match="names 'mlp' twice"):
        parse_rules([["mlp", "tensor"], ["mlp", None]], ("data", "pipe", "fsdp", "tensor"))


def test_unannotated_param_splits_largest_dim():
    ctx = ParallelContext.from_config(ParallelConfig(fsdp=-1))
    assert unannotated_spec(ctx, (10, 64)) == P(None, "fsdp")
    assert unannotated_spec(ctx, (10,)) == P()
