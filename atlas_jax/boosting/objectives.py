"""Training objectives: gradients and hessians of the loss with respect to the margin.

Margins are float32[rows, outputs]: one output for binary and squared error,
one per class for multiclass. Each objective also gives the starting margin,
the link from margin to prediction, and the evaluation loss used for early
stopping (logloss, multiclass logloss, RMSE).
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from atlas_jax.errors import AtlasError, ConfigError

_MIN_HESS = 1e-16  # keeps Newton steps finite where p(1 - p) underflows
_PROB_CLIP = 1e-7  # bounds the starting probability of binary logloss away from 0 and 1


@dataclass(frozen=True)
class Objective:
    """One loss function; `name` is binary, multiclass or squared_error."""

    name: str
    num_outputs: int

    def check_labels(self, y: np.ndarray, what: str = "labels") -> np.ndarray:
        """Return labels as float32[rows], or raise AtlasError naming the first bad value."""
        y = np.asarray(y)
        if y.ndim != 1:
            raise AtlasError(f"{what} must be a 1-D array [rows]; got shape {y.shape}")
        if not np.issubdtype(y.dtype, np.number) and y.dtype != np.bool_:
            raise AtlasError(f"{what} must be numeric; got dtype {y.dtype}")
        y = y.astype(np.float64)
        bad = ~np.isfinite(y)
        if bad.any():
            row = int(np.argmax(bad))
            raise AtlasError(f"{what} contain {int(bad.sum())} NaN or infinite values (first at row {row}); drop or fix those rows")
        if self.name == "binary" and not np.isin(y, (0.0, 1.0)).all():
            value = y[~np.isin(y, (0.0, 1.0))][0]
            raise AtlasError(f"binary {what} must be 0 or 1; found {value}. Use objective=multiclass for more classes")
        if self.name == "multiclass":
            bad_class = (y != np.round(y)) | (y < 0) | (y >= self.num_outputs)
            if bad_class.any():
                raise AtlasError(
                    f"multiclass {what} must be integers in [0, {self.num_outputs}); found {y[bad_class][0]}"
                )
        return y.astype(np.float32)

    def base_margin(self, y: np.ndarray) -> np.ndarray:
        """float32[outputs]: the starting margin, the best constant prediction on `y`."""
        if self.name == "binary":
            p = np.clip(y.mean(), _PROB_CLIP, 1 - _PROB_CLIP)
            return np.asarray([np.log(p / (1 - p))], np.float32)
        if self.name == "multiclass":
            counts = np.bincount(y.astype(np.int64), minlength=self.num_outputs) + 1.0
            log_prior = np.log(counts / counts.sum())
            return (log_prior - log_prior.mean()).astype(np.float32)
        return np.asarray([y.mean()], np.float32)

    def grad_hess(self, margin: jax.Array, y: jax.Array) -> tuple[jax.Array, jax.Array]:
        """Gradient and hessian of the loss, each float32[rows, outputs]."""
        if self.name == "binary":
            p = jax.nn.sigmoid(margin[:, 0])
            return (p - y)[:, None], jnp.maximum(p * (1 - p), _MIN_HESS)[:, None]
        if self.name == "multiclass":
            p = jax.nn.softmax(margin, axis=-1)
            onehot = jax.nn.one_hot(y.astype(jnp.int32), self.num_outputs, dtype=margin.dtype)
            return p - onehot, jnp.maximum(p * (1 - p), _MIN_HESS)
        return margin - y[:, None], jnp.ones_like(margin)

    def transform(self, margin: jax.Array) -> jax.Array:
        """Predictions from margins: P(y=1)[rows], class probabilities [rows, classes] or values [rows]."""
        if self.name == "binary":
            return jax.nn.sigmoid(margin[:, 0])
        if self.name == "multiclass":
            return jax.nn.softmax(margin, axis=-1)
        return margin[:, 0]

    @property
    def metric_name(self) -> str:
        return {"binary": "logloss", "multiclass": "mlogloss", "squared_error": "rmse"}[self.name]

    def loss(self, margin: jax.Array, y: jax.Array) -> jax.Array:
        """Scalar evaluation loss (logloss, multiclass logloss or RMSE) over all rows."""
        if self.name == "binary":
            m = margin[:, 0]
            return jnp.mean(jax.nn.softplus(m) - y * m)
        if self.name == "multiclass":
            log_p = jax.nn.log_softmax(margin, axis=-1)
            return -jnp.mean(jnp.take_along_axis(log_p, y.astype(jnp.int32)[:, None], axis=1))
        return jnp.sqrt(jnp.mean((margin[:, 0] - y) ** 2))


def make_objective(name: str, num_class: int | None = None) -> Objective:
    """Build objective `name`; multiclass needs `num_class` >= 2.

    Raises:
        ConfigError: unknown objective or a bad class count.
    """
    if name in ("binary", "squared_error"):
        return Objective(name, 1)
    if name == "multiclass":
        if num_class is None or num_class < 2:
            raise ConfigError(f"objective=multiclass needs num_class >= 2; got {num_class}")
        return Objective(name, int(num_class))
    raise ConfigError(f"unknown objective '{name}'; valid objectives: binary, multiclass, squared_error")
