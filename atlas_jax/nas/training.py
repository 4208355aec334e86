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

RULES = ("uniform", "sandwich", "progressive")


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

    def next_index(self) -> np.ndarray:
        """Return the example indices of the next batch, int32[batch_size]."""
        if self.position + self.batch_size > len(self.order):
            self.order, self.position = self.rng.permutation(len(self.order)), 0
        index = self.order[self.position : self.position + self.batch_size]
        self.position += self.batch_size
        return index.astype(np.int32)

    def next(self) -> tuple[jax.Array, jax.Array]:
        index = self.next_index()
        return self.x[index], self.y[index]

    def next_indices(self, count: int) -> np.ndarray:
        """Return the indices of the next `count` batches, int32[count, batch_size]."""
        return np.stack([self.next_index() for _ in range(count)])


def check_finite(losses: Any, first_step: int, quantity: str, advice: str) -> np.ndarray:
    """Return a chunk's losses as numpy; raise NonFiniteLossError naming the first bad step.

    `first_step` is the number of steps done before the chunk.
    """
    losses = np.asarray(losses)
    bad = np.flatnonzero(~np.isfinite(losses))
    if bad.size:
        raise NonFiniteLossError(f"{quantity} became {losses[bad[0]]} at step {first_step + bad[0] + 1}; {advice}")
    return losses


def chunk_sizes(steps: int, chunk: int) -> list[int]:
    """Split `steps` into runs of at most `chunk` steps (one compiled call each)."""
    if chunk < 1:
        raise ConfigError(f"steps per compiled call must be at least 1, got {chunk}")
    full, rest = divmod(steps, chunk)
    return [chunk] * full + ([rest] if rest else [])


def sample_paths(
    runner: SubnetRunner, rule: str, num_random: int, rng: np.random.Generator,
    sampler: Callable[[np.random.Generator], Arch] | None = None, warmup: bool = False,
    largest_prob: float = 0.0,
) -> list[Arch]:
    """Return the sub-networks trained in one step; under the sandwich rule the largest comes first.

    `warmup` marks the first phase of the progressive rule, which trains only the largest
    network. After it, the progressive rule trains the largest with probability
    `largest_prob` and a random path otherwise.
    """
    decisions = runner.decisions
    draw = sampler or decisions.sample
    if rule == "uniform":
        return [draw(rng)]
    if rule == "progressive":
        if warmup or (largest_prob > 0.0 and rng.uniform() < largest_prob):
            return [decisions.largest()]
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
    chunk: int = 50,
    largest_fraction: float = 0.25,
    largest_prob: float = 0.25,
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
        rule: "uniform" (one random path per step), "sandwich", or "progressive": the largest
            network alone for the first `largest_fraction` of the steps, then one path per
            step, the largest with probability `largest_prob` and a random one otherwise. It
            is a one-path-per-step form of the sandwich rule's aim, keeping the widest
            weights as trained as the inner ones, after a largest-first start.
        num_random: random paths per step under the sandwich rule.
        distill: train non-largest paths on the largest path's predictions (sandwich only).
        learning_rate: peak AdamW learning rate (cosine decay).
        weight_decay: AdamW decoupled weight decay.
        seed: seed of batch order and path sampling.
        sampler: draws a random sub-network (default: uniform over every decision).
        log_every: steps between loss log lines (masked mode logs at the end of each chunk).
        chunk: masked mode: optimizer steps per compiled call. The host samples the paths and
            batch indices of a whole chunk, and one program scans over them, so per-step Python
            and dispatch overhead is paid once per chunk.
        largest_fraction: progressive rule: fraction of the steps that train only the largest.
        largest_prob: progressive rule: chance that a later step trains the largest network.
    """
    if rule not in RULES:
        raise ConfigError(f"unknown sampling rule '{rule}'; valid: {', '.join(RULES)}")
    if not 0.0 <= largest_fraction < 1.0:
        raise ConfigError(f"largest_fraction must be in [0, 1), got {largest_fraction}")
    if not 0.0 <= largest_prob < 1.0:
        raise ConfigError(f"largest_prob must be in [0, 1), got {largest_prob}")
    warmup_steps = int(largest_fraction * steps) if rule == "progressive" else 0
    if distill and rule != "sandwich":
        raise ConfigError("in-place distillation needs rule='sandwich' (the largest path is the teacher)")
    optimizer = make_optimizer(learning_rate, steps, weight_decay, warmup_steps=steps // 20)
    params = runner.params
    opt_state = optimizer.init(params)
    batches = Batches(x, y, batch_size, seed)
    rng = np.random.default_rng(seed + 1)
    compile_before, start = runner.stats.seconds, time.perf_counter()
    loss_value = float("nan")

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

    def masked_chunk(params, opt_state, x_all, y_all, index, gate_stack, *, dims):
        def one(carry, inputs):
            idx, gates = inputs
            params, opt_state, loss = masked_step(*carry, x_all[idx], y_all[idx], gates, dims=dims)
            return (params, opt_state), loss

        (params, opt_state), losses = jax.lax.scan(one, (params, opt_state), (index, gate_stack))
        return params, opt_state, losses

    if runner.mode == "masked":
        decisions = runner.decisions
        dims = decisions.max_dims()
        done, next_log = 0, log_every
        for count in chunk_sizes(steps, chunk):
            index = batches.next_indices(count)
            paths = [
                sample_paths(runner, rule, num_random, rng, sampler, warmup=done + i < warmup_steps,
                             largest_prob=largest_prob)
                for i in range(count)
            ]
            per_step = len(paths[0])
            flat = decisions.stacked_gates([decisions.canonical(p) for step_paths in paths for p in step_paths], dims)
            gate_stack = {k: v.reshape((count, per_step) + v.shape[1:]) for k, v in flat.items()}
            args = (params, opt_state, batches.x, batches.y, index, gate_stack)
            program = runner.compiled("masked_chunk", masked_chunk, dims, *args)
            params, opt_state, losses = program(*args)
            done += count
            losses = check_finite(losses, done - count, "supernet loss", "lower the learning rate")
            loss_value = losses[-1]
            if done >= next_log or done == steps:
                logger.info("supernet step %d/%d loss %.4f", done, steps, float(losses[-1]))
                next_log = (done // log_every + 1) * log_every
    else:
        for step in range(1, steps + 1):
            xb, yb = batches.next()
            grads, teacher, total = None, None, 0.0
            paths = sample_paths(runner, rule, num_random, rng, sampler, warmup=step <= warmup_steps,
                                 largest_prob=largest_prob)
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
