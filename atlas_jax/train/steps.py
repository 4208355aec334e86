"""Training state and the jitted train and eval steps."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import flax.struct
import jax
import jax.numpy as jnp
import optax
from flax import nnx


@flax.struct.dataclass
class TrainState:
    """Everything that changes during training, as one pytree (what checkpoints hold).

    Attributes:
        step: int32[] optimizer steps taken.
        params: the model's `nnx.Param` state.
        opt_state: optax state for `params`.
        rng: uint32[2] base key; step `s` uses `fold_in(rng, s)` for dropout, so a
            resumed run draws the same masks as an uninterrupted one.
    """

    step: jax.Array
    params: Any
    opt_state: Any
    rng: jax.Array


def create_train_state(model: nnx.Module, tx: optax.GradientTransformation, seed: int) -> tuple[nnx.GraphDef, Any, TrainState]:
    """Split `model` into its static graph, non-trainable state and a fresh TrainState."""
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)
    state = TrainState(
        step=jnp.zeros((), jnp.int32),
        params=params,
        opt_state=tx.init(params),
        rng=jax.random.PRNGKey(seed + 1),  # init used `seed`; keep the dropout stream distinct
    )
    return graphdef, rest, state


def count_params(params: Any) -> int:
    return int(sum(x.size for x in jax.tree.leaves(params)))


def _logits(graphdef: nnx.GraphDef, params: Any, rest: Any, x: jax.Array, dropout_key: jax.Array | None) -> jax.Array:
    model = nnx.merge(graphdef, params, rest)
    return model(x, dropout_key=dropout_key)


def make_train_step(graphdef: nnx.GraphDef, rest: Any, tx: optax.GradientTransformation) -> Callable:
    """Return `train_step(state, batch) -> (state, metrics)`, jitted with the state donated."""

    def loss_fn(params, batch, key):
        logits = _logits(graphdef, params, rest, batch["x"], key)
        loss = optax.softmax_cross_entropy_with_integer_labels(logits, batch["y"]).mean()
        return loss, logits

    def train_step(state: TrainState, batch: dict[str, jax.Array]) -> tuple[TrainState, dict[str, jax.Array]]:
        key = jax.random.fold_in(state.rng, state.step)
        (loss, logits), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params, batch, key)
        updates, opt_state = tx.update(grads, state.opt_state, state.params)
        params = optax.apply_updates(state.params, updates)
        metrics = {
            "loss": loss,
            "accuracy": jnp.mean(jnp.argmax(logits, -1) == batch["y"]),
            "grad_norm": optax.global_norm(grads),
            # The loop refuses to checkpoint parameters whose norm is not finite.
            "param_norm": optax.global_norm(params),
        }
        return state.replace(step=state.step + 1, params=params, opt_state=opt_state), metrics

    return jax.jit(train_step, donate_argnums=0)


def make_eval_step(graphdef: nnx.GraphDef, rest: Any) -> Callable:
    """Return `eval_step(params, batch) -> sums` of loss, correct predictions and real examples."""

    def eval_step(params: Any, batch: dict[str, jax.Array]) -> dict[str, jax.Array]:
        logits = _logits(graphdef, params, rest, batch["x"], None)
        losses = optax.softmax_cross_entropy_with_integer_labels(logits, batch["y"])
        correct = (jnp.argmax(logits, -1) == batch["y"]).astype(jnp.float32)
        mask = batch["mask"]
        return {"loss": jnp.sum(losses * mask), "correct": jnp.sum(correct * mask), "count": jnp.sum(mask)}

    return jax.jit(eval_step)
