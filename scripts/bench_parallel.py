"""Benchmark the parallel presets, remat policies, pipeline bubble and sharded classifier.

    python scripts/bench_parallel.py                 # everything, on 8 virtual CPU devices
    python scripts/bench_parallel.py --only remat    # one part: presets, remat, pipeline, classifier

On a CPU host the script forces 8 virtual devices (XLA_FLAGS) before JAX starts, so the
memory figures are those of an 8-device mesh. Memory comes from XLA's compiled
`memory_analysis()` (per device) and from the shard shapes of the state. The
1,000,000-class classifier is only compiled from abstract shapes, never allocated. Step
times on virtual CPU devices share the host's cores, so they compare policies, not hardware.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time

if "--no-virtual-devices" not in sys.argv:
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=8").strip()
    os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402
from flax import nnx  # noqa: E402
from jax.sharding import NamedSharding, PartitionSpec as P  # noqa: E402

from atlas_jax.config import TextTransformerConfig, ViTConfig  # noqa: E402
from atlas_jax.models import create_model  # noqa: E402
from atlas_jax.parallel.remat import host_offload_supported  # noqa: E402
from atlas_jax.parallel import (  # noqa: E402
    PRESETS,
    ParallelConfig,
    ParallelContext,
    batch_sharding,
    bubble_fraction,
    jit_sharded,
    load_preset,
    optimizer_shardings,
    pipeline_layers,
    shard_state,
    sharded_cross_entropy,
    state_shardings,
)

MB = 2**20


def print_header(argv: list[str]) -> None:
    import flax

    print(f"machine: {platform.node()} {platform.machine()}, {os.cpu_count()} cores, backend {jax.default_backend()}, "
          f"{jax.device_count()} devices ({jax.devices()[0].device_kind})")
    print(f"versions: python {platform.python_version()}, jax {jax.__version__}, flax {flax.__version__}, optax {optax.__version__}")
    print(f"command: python {' '.join(argv)}")
    print()


def print_table(title: str, header: list[str], rows: list[list]) -> None:
    print(f"### {title}\n")
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        print("| " + " | ".join(str(c) for c in row) + " |")
    print(flush=True)


def sharded_bytes(tree, shardings) -> int:
    """Largest per-device byte count of `tree` (abstract or concrete) laid out with `shardings`."""
    values = jax.tree.leaves(jax.tree.map(lambda v: v.get_value() if isinstance(v, nnx.Variable) else v, tree, is_leaf=lambda v: isinstance(v, nnx.Variable)))
    sharding_leaves = jax.tree.leaves(jax.tree.map(lambda v: v.get_value() if isinstance(v, nnx.Variable) else v, shardings, is_leaf=lambda v: isinstance(v, nnx.Variable)))
    per_device: dict = {}
    for value, sharding in zip(values, sharding_leaves):
        shard_shape = sharding.shard_shape(value.shape)
        nbytes = int(np.prod(shard_shape)) * value.dtype.itemsize
        for device in sharding.addressable_devices:
            per_device[device.id] = per_device.get(device.id, 0) + nbytes
    return max(per_device.values())


def time_steps(fn, args, steps: int) -> float:
    """Mean seconds per call over `steps` calls after one warm-up call (state threaded through)."""
    out = fn(*args)
    jax.block_until_ready(out)
    start = time.perf_counter()
    for _ in range(steps):
        out = fn(*((out[0], out[1]) + tuple(args[2:])))
    jax.block_until_ready(out)
    return (time.perf_counter() - start) / steps


def build_step(model, optimizer):
    graphdef, params = nnx.split(model)

    def step(params, opt_state, x, y):
        def loss_fn(p):
            logits = nnx.merge(graphdef, p)(x)
            return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

        loss, grads = jax.value_and_grad(loss_fn)(params)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    return params, step


def compile_and_time(ctx, model, x, y, steps: int):
    """Compile one train step for `ctx` and time it.

    Returns (state bytes per device, memory stats, FLOPs, compile s, step s).

    Also returns XLA's FLOP count for the compiled step (after the memory stats), a
    timing-free measure of the recomputation that remat adds.
    """
    optimizer = optax.adamw(1e-3)
    params, step = build_step(model, optimizer)
    opt_state = optimizer.init(params)
    p_sh = state_shardings(ctx, params)
    o_sh = optimizer_shardings(ctx, optimizer, params, p_sh)
    x_sh, y_sh = batch_sharding(ctx, x.shape), batch_sharding(ctx, y.shape)
    replicated = NamedSharding(ctx.mesh, P())
    fn = jit_sharded(step, ctx, in_shardings=(p_sh, o_sh, x_sh, y_sh), out_shardings=(p_sh, o_sh, replicated), donate_argnums=(0, 1))
    state_bytes = sharded_bytes((params, opt_state), (p_sh, o_sh))
    start = time.perf_counter()
    compiled = fn.lower(params, opt_state, x, y).compile()
    compile_s = time.perf_counter() - start
    memory = compiled.memory_analysis()
    cost = compiled.cost_analysis()
    cost = cost[0] if isinstance(cost, (list, tuple)) else cost
    flops = float(cost.get("flops", float("nan"))) if cost else float("nan")
    args = (shard_state(params, p_sh), shard_state(opt_state, o_sh), jax.device_put(x, x_sh), jax.device_put(y, y_sh))
    step_s = time_steps(compiled, args, steps)
    return state_bytes, memory, flops, compile_s, step_s


def bench_presets(steps: int) -> None:
    cfg = ViTConfig(depth=8, embed_dim=256, num_heads=8, mlp_dim=1024, patch_size=2)
    model = create_model(cfg, (8, 8, 1), 10, seed=0)
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.normal(size=(64, 8, 8, 1)).astype(np.float32))
    y = jnp.asarray(rng.integers(0, 10, size=(64,)).astype(np.int32))
    rows, single_bytes = [], None
    for name in PRESETS:
        ctx = ParallelContext.from_config(load_preset(name))
        state_bytes, memory, _, compile_s, step_s = compile_and_time(ctx, model, x, y, steps)
        if name == "single":
            single_bytes = state_bytes
        n = ctx.mesh.size
        rows.append([
            name, "x".join(str(ctx.mesh.shape[a]) for a in ctx.mesh.axis_names), f"{state_bytes / MB:.2f}",
            f"{state_bytes / single_bytes:.3f}" + (f" (1/N = {1 / n:.3f})" if n > 1 else ""),
            f"{memory.argument_size_in_bytes / MB:.2f}", f"{memory.temp_size_in_bytes / MB:.2f}",
            f"{compile_s:.1f}", f"{step_s * 1e3:.1f}",
        ])
    print_table(
        f"Presets: ViT depth {cfg.depth}, embed {cfg.embed_dim}, mlp {cfg.mlp_dim}, batch 64 x 16 tokens, adamw",
        ["preset", "mesh data x pipe x fsdp x tensor", "params+opt MiB/device", "vs single", "argument MiB/device",
         "temp MiB/device", "compile s", "step ms"],
        rows,
    )


def bench_remat(steps: int) -> None:
    cfg = TextTransformerConfig(vocab_size=512, max_len=256, depth=12, embed_dim=128, num_heads=4, mlp_dim=512)
    model = create_model(cfg, (256,), 10, seed=0)
    rng = np.random.default_rng(0)
    tokens = jnp.asarray(rng.integers(1, 512, size=(16, 256)).astype(np.int32))
    y = jnp.asarray(rng.integers(0, 10, size=(16,)).astype(np.int32))
    rows, base = [], None
    policies = ["none", "full", "dots_saveable", "dots_with_no_batch_dims_saveable", "save_names"]
    if host_offload_supported():
        policies.append("offload")
    for policy in policies:
        ctx = ParallelContext.from_config(ParallelConfig(num_devices=1, remat=policy, remat_names=["attn_out", "mlp_out"]))
        _, memory, flops, compile_s, step_s = compile_and_time(ctx, model, tokens, y, steps)
        if base is None:
            base = (memory.temp_size_in_bytes, step_s, flops)
        rows.append([
            policy, f"{memory.temp_size_in_bytes / MB:.1f}", f"{1 - memory.temp_size_in_bytes / base[0]:+.1%}",
            f"{flops / 1e9:.2f}", f"{flops / base[2]:.2f}x",
            f"{step_s * 1e3:.0f}", f"{step_s / base[1]:.2f}x", f"{compile_s:.1f}",
        ])
    print_table(
        f"Remat: text transformer depth {cfg.depth}, embed {cfg.embed_dim}, mlp {cfg.mlp_dim}, batch 16 x 256 tokens, one device",
        ["policy", "temp MiB", "temp saved vs none", "GFLOP/step", "FLOPs vs none", "step ms", "step time vs none", "compile s"],
        rows,
    )


def bench_pipeline(steps: int) -> None:
    dim, layers, batch = 256, 16, 256

    def layer(p, h):
        return jnp.tanh(h @ p["w"] + p["b"])

    params = {"w": jnp.ones((layers, dim, dim)) / dim, "b": jnp.zeros((layers, dim))}
    x = jnp.ones((batch, dim))
    rows = []
    for stages, micro, repeats in [(4, 4, 1), (4, 8, 1), (4, 16, 1), (4, 4, 2), (4, 8, 2), (4, 4, 4), (8, 8, 1), (8, 8, 2)]:
        mesh = ParallelContext.from_config(ParallelConfig(pipe=stages, data=-1)).mesh

        def run(p, v):
            return pipeline_layers(layer, p, v, mesh=mesh, microbatches=micro, repeats=repeats,
                                   batch_spec="data" if mesh.shape["data"] > 1 else None, return_schedule=True)

        with jax.set_mesh(mesh):
            fn = jax.jit(run)
            _, busy = fn(params, x)
            jax.block_until_ready(busy)
            start = time.perf_counter()
            for _ in range(steps):
                out = fn(params, x)
            jax.block_until_ready(out)
        busy = np.asarray(busy)
        measured = 1.0 - busy.mean()
        rows.append([
            "gpipe" if repeats == 1 else f"circular R={repeats}", stages, micro, busy.shape[1],
            int((~busy).sum()), f"{measured:.4f}", f"{bubble_fraction(stages, micro, repeats):.4f}",
            f"{(stages - 1) / (micro + stages - 1):.4f}", f"{(time.perf_counter() - start) / steps * 1e3:.1f}",
        ])
    print_table(
        f"Pipeline bubble: {layers} tanh-dense layers of width {dim}, batch {batch}; idle stage-ticks counted in the executed schedule",
        ["schedule", "stages S", "microbatches M", "ticks", "idle stage-ticks", "measured bubble", "(S-1)/(M*R+S-1)",
         "GPipe (S-1)/(M+S-1)", "forward ms"],
        rows,
    )


def bench_classifier() -> None:
    classes, dim, batch = 1_000_000, 512, 64
    mesh8 = ParallelContext.from_config(ParallelConfig(data=-1)).mesh
    mesh1 = ParallelContext.from_config(ParallelConfig(num_devices=1)).mesh
    labels = jax.ShapeDtypeStruct((batch,), jnp.int32, sharding=NamedSharding(mesh8, P()))
    rows = []

    def measure(name, mesh, weight_spec, fn):
        weight = jax.ShapeDtypeStruct((classes, dim), jnp.float32, sharding=NamedSharding(mesh, weight_spec))
        features = jax.ShapeDtypeStruct((batch, dim), jnp.float32, sharding=NamedSharding(mesh, P()))
        label_arg = jax.ShapeDtypeStruct((batch,), jnp.int32, sharding=NamedSharding(mesh, P()))
        grad_fn = jax.jit(jax.value_and_grad(fn, argnums=(0, 1)))
        start = time.perf_counter()
        with jax.set_mesh(mesh):
            compiled = grad_fn.lower(features, weight, label_arg).compile()
        memory = compiled.memory_analysis()
        weight_bytes = int(np.prod(weight.sharding.shard_shape(weight.shape))) * 4
        rows.append([name, mesh.size, f"{weight_bytes / MB:.1f}", f"{memory.argument_size_in_bytes / MB:.1f}",
                     f"{memory.temp_size_in_bytes / MB:.1f}", f"{time.perf_counter() - start:.1f}"])
        return weight_bytes

    def dense(f, w, y):
        return optax.softmax_cross_entropy_with_integer_labels(f @ w.T, y).mean()

    dense_bytes = measure("dense, one device", mesh1, P(), dense)
    sharded_bytes_ = measure("sharded softmax", mesh8, P("data"),
                             lambda f, w, y: sharded_cross_entropy(f, y, w, mesh=mesh8, axes=("data",)))
    measure("sharded + Partial-FC (8,192 classes/shard)", mesh8, P("data"),
            lambda f, w, y: sharded_cross_entropy(f, y, w, mesh=mesh8, axes=("data",), sample_size=8192, key=jax.random.key(0)))
    del labels
    print_table(
        f"Sharded classifier: {classes:,} classes x {dim} features, batch {batch} (compiled from abstract shapes, nothing allocated); "
        f"classifier bytes per device vs dense: {sharded_bytes_ / dense_bytes:.4f} (1/8 = 0.125)",
        ["layout", "devices", "classifier MiB/device", "argument MiB/device", "temp MiB/device", "compile s"],
        rows,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=["presets", "remat", "pipeline", "classifier"], help="run only this part (default: all parts)")
    parser.add_argument("--steps", type=int, default=5, help="timed steps per configuration")
    parser.add_argument("--no-virtual-devices", action="store_true", help="use the real devices instead of 8 CPU ones")
    args = parser.parse_args()
    print_header(sys.argv)
    parts = {"presets": lambda: bench_presets(args.steps), "remat": lambda: bench_remat(args.steps),
             "pipeline": lambda: bench_pipeline(args.steps), "classifier": bench_classifier}
    for name, run in parts.items():
        if args.only in (None, name):
            run()


if __name__ == "__main__":
    main()
