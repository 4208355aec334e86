"""DARTS baseline on the same decisions and shared weights as the supernet.

Every decision gets architecture logits `alpha` (one per candidate value). The network runs at
maximum sizes with the expected gate under `softmax(alpha)`: a width mixes its prefix masks, a
kernel size its centred windows, depth its block exits (see `DecisionSet.soft_gates`). This is
the continuous relaxation of every choice over entangled weights (as in FBNetV2's channel
masking) rather than DARTS's separate weights per candidate operation.

Bi-level updates alternate, per step, an architecture step on a validation batch and a weight
step on a training batch. First order uses grad_alpha L_val(w, alpha). Second order uses the
unrolled objective L_val(w - xi * grad_w L_train(w, alpha), alpha), differentiated exactly by
JAX (DARTS approximates this Hessian-vector product with finite differences).

With `weights="separate"` the same updates run on `atlas_jax.nas.mixed`, where every candidate
operation has its own weights, as in the original DARTS.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from atlas_jax.errors import ConfigError
from atlas_jax.nas.decisions import Arch
from atlas_jax.nas.mixed import create_mixed
from atlas_jax.nas.runner import SubnetRunner
from atlas_jax.nas.training import Batches, check_finite, chunk_sizes, cross_entropy, make_optimizer

logger = logging.getLogger(__name__)


@dataclasses.dataclass
class DartsResult:
    """Derived architecture, final architecture logits and their trajectory; compile time apart."""

    arch: Arch
    alphas: dict[str, np.ndarray]
    initial_alphas: dict[str, np.ndarray]
    alpha_history: list[dict[str, list[float]]]
    run_seconds: float
    compile_seconds: float


def derive(runner: SubnetRunner, alphas: dict[str, Any]) -> Arch:
    """Return the architecture taking each decision's most likely value."""
    arch = {d.name: d.values[int(np.argmax(np.asarray(alphas[d.name])))] for d in runner.decisions}
    return runner.decisions.canonical(arch)


def darts_search(
    runner: SubnetRunner,
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_val: np.ndarray,
    y_val: np.ndarray,
    *,
    steps: int,
    order: int = 1,
    weights: str = "shared",
    batch_size: int = 64,
    learning_rate: float = 3e-3,
    weight_decay: float = 1e-4,
    arch_learning_rate: float = 3e-3,
    arch_weight_decay: float = 1e-3,
    unroll_learning_rate: float | None = None,
    seed: int = 0,
    record_every: int = 50,
    chunk: int = 50,
) -> DartsResult:
    """Search with DARTS and return the derived architecture; `runner` must be in masked mode.

    Args:
        runner: masked-mode runner; its weights are trained in place (`runner.params`).
        x_train, y_train: data for weight steps.
        x_val, y_val: data for architecture steps (held out from the weight steps).
        steps: number of (architecture step, weight step) pairs.
        order: 1 (first order) or 2 (unrolled second order).
        weights: "shared" (candidates are slices of the supernet's weights, which are trained in
            place) or "separate" (one weight set per candidate operation, original DARTS).
        batch_size: examples per step.
        learning_rate: weight AdamW peak learning rate.
        weight_decay: weight AdamW decay.
        arch_learning_rate: Adam learning rate of alpha (DARTS: 3e-4 over 50 epochs; this run is shorter).
        arch_weight_decay: L2 on alpha.
        unroll_learning_rate: xi of the virtual weight step (second order); default learning_rate.
        seed: batch order seed.
        record_every: steps between snapshots of softmax(alpha) (taken at chunk ends).
        chunk: steps per compiled call; one program scans over a chunk's batches, as the
            supernet trainer does, so both methods pay the same per-call overhead.
    """
    if runner.mode != "masked":
        raise ConfigError("DARTS mixes every candidate at once, so it needs a masked-mode runner")
    if order not in (1, 2):
        raise ConfigError(f"DARTS order must be 1 or 2, got {order}")
    if weights not in ("shared", "separate"):
        raise ConfigError(f"DARTS weights must be 'shared' or 'separate', got {weights!r}")
    xi = learning_rate if unroll_learning_rate is None else unroll_learning_rate
    decisions = runner.decisions
    dims = decisions.max_dims()
    alphas = {d.name: jnp.zeros((len(d.values),), jnp.float32) for d in decisions}
    initial = {k: np.asarray(v) for k, v in alphas.items()}
    weight_opt = make_optimizer(learning_rate, steps, weight_decay, warmup_steps=steps // 20)
    # DARTS's architecture optimizer: Adam with betas (0.5, 0.999) and L2 weight decay.
    arch_opt = optax.chain(optax.add_decayed_weights(arch_weight_decay), optax.adam(arch_learning_rate, b1=0.5))
    if weights == "shared":
        params = runner.params

        def forward(params, x, probs):
            return runner.apply(params, x, dims, decisions.soft_gates(probs))
    else:
        mixed_graphdef, params = nnx.split(create_mixed(runner.net, seed), nnx.Param)

        def forward(params, x, probs):
            return nnx.merge(mixed_graphdef, params)(x, probs)

    weight_state, arch_state = weight_opt.init(params), arch_opt.init(alphas)
    train_batches, val_batches = Batches(x_train, y_train, batch_size, seed), Batches(x_val, y_val, batch_size, seed + 1)

    def loss(params, alphas, xb, yb):
        probs = {k: jax.nn.softmax(v) for k, v in alphas.items()}
        return cross_entropy(forward(params, xb, probs), yb)

    def step(params, alphas, weight_state, arch_state, xt, yt, xv, yv, *, dims):
        if order == 1:
            arch_grads = jax.grad(loss, argnums=1)(params, alphas, xv, yv)
        else:
            def unrolled(alphas):
                inner = jax.grad(loss, argnums=0)(params, alphas, xt, yt)
                virtual = jax.tree.map(lambda w, g: w - xi * g, params, inner)
                return loss(virtual, alphas, xv, yv)

            arch_grads = jax.grad(unrolled)(alphas)
        updates, arch_state = arch_opt.update(arch_grads, arch_state, alphas)
        alphas = optax.apply_updates(alphas, updates)
        train_loss, weight_grads = jax.value_and_grad(loss)(params, alphas, xt, yt)
        updates, weight_state = weight_opt.update(weight_grads, weight_state, params)
        return optax.apply_updates(params, updates), alphas, weight_state, arch_state, train_loss

    def run_chunk(params, alphas, weight_state, arch_state, xt_all, yt_all, xv_all, yv_all, index_t, index_v, *, dims):
        def one(carry, idx):
            it, iv = idx
            *carry, train_loss = step(*carry, xt_all[it], yt_all[it], xv_all[iv], yv_all[iv], dims=dims)
            return tuple(carry), train_loss

        carry, losses = jax.lax.scan(one, (params, alphas, weight_state, arch_state), (index_t, index_v))
        return (*carry, losses)

    compile_before, start = runner.stats.seconds, time.perf_counter()
    history = []
    done, next_record = 0, record_every
    for count in chunk_sizes(steps, chunk):
        args = (params, alphas, weight_state, arch_state, train_batches.x, train_batches.y, val_batches.x,
                val_batches.y, train_batches.next_indices(count), val_batches.next_indices(count))
        program = runner.compiled(f"darts{order}_{weights}", run_chunk, dims, *args)
        params, alphas, weight_state, arch_state, losses = program(*args)
        done += count
        losses = check_finite(losses, done - count, "DARTS training loss", "lower the learning rates")
        if done >= next_record or done == steps:
            history.append({k: np.asarray(jax.nn.softmax(v)).round(4).tolist() for k, v in alphas.items()})
            logger.info("darts%d step %d/%d loss %.4f", order, done, steps, float(losses[-1]))
            next_record = (done // record_every + 1) * record_every
    jax.block_until_ready(params)
    if weights == "shared":
        runner.params = params
    compile_seconds = runner.stats.seconds - compile_before
    final = {k: np.asarray(v) for k, v in alphas.items()}
    return DartsResult(
        derive(runner, final), final, initial, history, time.perf_counter() - start - compile_seconds, compile_seconds
    )
