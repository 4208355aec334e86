"""Supernet training (uniform or sandwich-rule sampling, optional in-place distillation) and a
plain training loop for stand-alone networks.

Sandwich rule (BigNAS / AutoFormer): each step trains the largest, the smallest and
`num_random` random sub-networks on the same batch and applies the mean gradient. With in-place
distillation the largest network learns from the labels and every other path from the largest
network's softened predictions of the same batch (gradient stopped).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from atlas_jax.errors import ConfigError, NonFiniteLossError
from atlas_jax.nas.decisions import Arch
from atlas_jax.nas.runner import SubnetRunner, program_bytes

logger = logging.getLogger(__name__)

RULES = ("uniform", "sandwich")


def make_optimizer(
    learning_rate: float, steps: int, weight_decay: float = 1e-4, warmup_steps: int = 0, clip: float = 1.0
) -> optax.GradientTransformation:
    """Return AdamW with linear warmup, cosine decay to zero and global-norm clipping."""
    warmup_steps = min(warmup_steps, max(steps - 1, 0))
    schedule = optax.warmup_cosine_decay_schedule(0.0, learning_rate, warmup_steps, max(steps, 1), 0.0)
    return optax.chain(optax.clip_by_global_norm(clip), optax.adamw(schedule, weight_decay=weight_decay))


def cross_entropy(logits: jax.Array, labels: jax.Array) -> jax.Array:
    return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()


def soft_cross_entropy(logits: jax.Array, teacher_logits: jax.Array) -> jax.Array:
    return optax.softmax_cross_entropy(logits, jax.nn.softmax(teacher_logits)).mean()


@dataclasses.dataclass
class TrainResult:
    """Outcome of a training run; `run_seconds` excludes compile time."""

    params: Any
    final_loss: float
    steps: int
    run_seconds: float
    compile_seconds: float
    peak_program_bytes: int = 0  # largest compiled step's memory (XLA's estimate), stand-alone fit only


class Batches:
    """Random mini-batches, drawn without replacement within each epoch."""

    def __init__(self, x: np.ndarray, y: np.ndarray, batch_size: int, seed: int):
        if len(y) < batch_size:
            raise ConfigError(f"batch size {batch_size} exceeds the {len(y)} training examples")
        self.x, self.y, self.batch_size = jnp.asarray(x), jnp.asarray(y), batch_size
        self.rng = np.random.default_rng(seed)
        self.order, self.position = self.rng.permutation(len(y)), 0

    def next(self) -> tuple[jax.Array, jax.Array]:
        if self.position + self.batch_size > len(self.order):
            self.order, self.position = self.rng.permutation(len(self.order)), 0
        index = self.order[self.position : self.position + self.batch_size]
        self.position += self.batch_size
        return self.x[index], self.y[index]


def sample_paths(
    runner: SubnetRunner, rule: str, num_random: int, rng: np.random.Generator,
    sampler: Callable[[np.random.Generator], Arch] | None = None,
) -> list[Arch]:
    """Return the sub-networks trained in one step; under the sandwich rule the largest comes first."""
    decisions = runner.decisions
    draw = sampler or decisions.sample
    if rule == "uniform":
        return [draw(rng)]
    if rule == "sandwich":
        return [decisions.largest(), decisions.smallest()] + [draw(rng) for _ in range(num_random)]
    raise ConfigError(f"unknown sampling rule '{rule}'; valid: {', '.join(RULES)}")


def train_supernet(
    runner: SubnetRunner,
    x: np.ndarray,
    y: np.ndarray,
    *,
    steps: int,
    batch_size: int = 64,
    rule: str = "sandwich",
    num_random: int = 2,
    distill: bool = False,
    learning_rate: float = 3e-3,
    weight_decay: float = 1e-4,
    seed: int = 0,
    sampler: Callable[[np.random.Generator], Arch] | None = None,
    log_every: int = 100,
) -> TrainResult:
    """Train the shared weights of `runner`'s supernet and store them back in `runner.params`.

    In masked mode one compiled step scans over the step's sub-networks, so gradients are
    accumulated path by path and only one path's activations are alive at a time. In slice mode
    each path's gradient runs in the program of its shape bucket.

    Args:
        runner: the supernet's runner; its mode picks masked or exact-slice execution.
        x: float32[n, ...] training inputs.
        y: int32[n] labels.
        steps: optimizer steps.
        batch_size: examples per step (every path trains on the same batch).
        rule: "uniform" (one random path per step) or "sandwich".
        num_random: random paths per step under the sandwich rule.
        distill: train non-largest paths on the largest path's predictions (sandwich only).
        learning_rate: peak AdamW learning rate (cosine decay).
        weight_decay: AdamW decoupled weight decay.
        seed: seed of batch order and path sampling.
        sampler: draws a random sub-network (default: uniform over every decision).
        log_every: steps between loss log lines.
    """
    if distill and rule != "sandwich":
        raise ConfigError("in-place distillation needs rule='sandwich' (the largest path is the teacher)")
    optimizer = make_optimizer(learning_rate, steps, weight_decay, warmup_steps=steps // 20)
    params = runner.params
    opt_state = optimizer.init(params)
    batches = Batches(x, y, batch_size, seed)
    rng = np.random.default_rng(seed + 1)
    compile_before, start = runner.stats.seconds, time.perf_counter()
    loss = float("nan")

    def path_loss(params, xb, yb, teacher, gates, *, dims):
        logits = runner.apply(params, xb, dims, gates)
        target = cross_entropy(logits, yb) if teacher is None else soft_cross_entropy(logits, teacher)
        return target, logits

    def masked_step(params, opt_state, xb, yb, gate_stack, *, dims):
        grad_fn = jax.value_and_grad(path_loss, argnums=0, has_aux=True)
        first = jax.tree.map(lambda g: g[0], gate_stack)
        (loss0, logits0), grads = grad_fn(params, xb, yb, None, first, dims=dims)
        teacher = jax.lax.stop_gradient(logits0) if distill else None
        rest = jax.tree.map(lambda g: g[1:], gate_stack)

        def body(accumulated, gates):
            (loss_i, _), grads_i = grad_fn(params, xb, yb, teacher, gates, dims=dims)
            return jax.tree.map(jnp.add, accumulated, grads_i), loss_i

        count = jax.tree.leaves(gate_stack)[0].shape[0]
        if count > 1:
            grads, losses = jax.lax.scan(body, grads, rest)
            loss0 = (loss0 + losses.sum()) / count
        grads = jax.tree.map(lambda g: g / count, grads)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss0

    def slice_grad(params, xb, yb, teacher, gates, *, dims):
        return jax.value_and_grad(path_loss, argnums=0, has_aux=True)(params, xb, yb, teacher, gates, dims=dims)

    def apply_update(params, opt_state, grads, *, dims):
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state

    for step in range(1, steps + 1):
        xb, yb = batches.next()
        paths = sample_paths(runner, rule, num_random, rng, sampler)
        if runner.mode == "masked":
            dims = runner.decisions.max_dims()
            gate_stack = jax.tree.map(
                lambda *g: jnp.stack(g), *[runner.decisions.gates(runner.decisions.canonical(p), dims) for p in paths]
            )
            program = runner.compiled("masked_step", masked_step, dims, params, opt_state, xb, yb, gate_stack)
            params, opt_state, loss_value = program(params, opt_state, xb, yb, gate_stack)
        else:
            grads, teacher, total = None, None, 0.0
            for i, path in enumerate(paths):
                dims, gates = runner.encode(path)
                args = (params, xb, yb, teacher, gates)
                (path_value, logits), path_grads = runner.compiled("slice_grad", slice_grad, dims, *args)(*args)
                if i == 0 and distill:
                    teacher = logits
                grads = path_grads if grads is None else jax.tree.map(jnp.add, grads, path_grads)
                total += path_value
            grads = jax.tree.map(lambda g: g / len(paths), grads)
            update = runner.compiled("update", apply_update, (), params, opt_state, grads)
            params, opt_state = update(params, opt_state, grads)
            loss_value = total / len(paths)
        if step % log_every == 0 or step == steps:
            loss = float(loss_value)
            if not np.isfinite(loss):
                raise NonFiniteLossError(f"supernet loss became {loss} at step {step}; lower the learning rate")
            logger.info("supernet step %d/%d loss %.4f", step, steps, loss)
    jax.block_until_ready(params)
    runner.params = params
    compile_seconds = runner.stats.seconds - compile_before
    elapsed = time.perf_counter() - start
    return TrainResult(params, float(loss_value), steps, elapsed - compile_seconds, compile_seconds)


def fit(
    model: nnx.Module,
    x: np.ndarray,
    y: np.ndarray,
    *,
    steps: int,
    batch_size: int = 64,
    learning_rate: float = 3e-3,
    weight_decay: float = 1e-4,
    seed: int = 0,
) -> TrainResult:
    """Train a stand-alone NNX classifier `model(x) -> logits` in place with AdamW."""
    optimizer = make_optimizer(learning_rate, steps, weight_decay, warmup_steps=steps // 20)
    graphdef, params = nnx.split(model, nnx.Param)
    opt_state = optimizer.init(params)
    batches = Batches(x, y, batch_size, seed)

    @jax.jit
    def step(params, opt_state, xb, yb):
        def loss_fn(p):
            return cross_entropy(nnx.merge(graphdef, p)(xb), yb)

        loss, grads = jax.value_and_grad(loss_fn)(params)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    xb, yb = batches.next()
    start = time.perf_counter()
    program = step.lower(params, opt_state, xb, yb).compile()
    compile_seconds = time.perf_counter() - start
    start = time.perf_counter()
    loss = jnp.nan
    for _ in range(steps):
        params, opt_state, loss = program(params, opt_state, xb, yb)
        xb, yb = batches.next()
    loss = float(loss)
    if not np.isfinite(loss):
        raise NonFiniteLossError(f"stand-alone training loss became {loss}; lower the learning rate")
    nnx.update(model, params)
    return TrainResult(params, loss, steps, time.perf_counter() - start, compile_seconds, program_bytes(program))


def model_accuracy(model: nnx.Module, x: np.ndarray, y: np.ndarray, batch_size: int = 512) -> float:
    """Return the accuracy of a stand-alone classifier on (x, y)."""
    graphdef, params = nnx.split(model, nnx.Param)
    predict = jax.jit(lambda p, xb: nnx.merge(graphdef, p)(xb).argmax(-1))
    correct = 0
    for start in range(0, len(y), batch_size):
        correct += int((predict(params, jnp.asarray(x[start : start + batch_size])) == y[start : start + batch_size]).sum())
    return correct / len(y)
