"""Histogram gradient-boosted trees, trained data-parallel over the `data` mesh axis.

    from atlas_jax.boosting import GBDTConfig, fit
    model = fit(x_train, y_train, GBDTConfig(objective="binary"), eval_set=(x_val, y_val))
    p = model.predict(x_test)
    model.save("model.json")

Names are imported on first use, so `atlas_jax.config` can import the config
schema from `atlas_jax.boosting.config` without loading JAX.
"""

from __future__ import annotations

from atlas_jax._lazy import lazy_getattr

_EXPORTS = {
    "BinMapper": "atlas_jax.boosting.binning",
    "fit_bins": "atlas_jax.boosting.binning",
    "GBDTConfig": "atlas_jax.boosting.config",
    "load_model": "atlas_jax.boosting.io",
    "save_model": "atlas_jax.boosting.io",
    "Booster": "atlas_jax.boosting.model",
    "Objective": "atlas_jax.boosting.objectives",
    "make_objective": "atlas_jax.boosting.objectives",
    "fit": "atlas_jax.boosting.train",
}

__all__ = sorted(_EXPORTS)


__getattr__ = lazy_getattr(__name__, _EXPORTS)
