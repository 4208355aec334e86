"""Histogram gradient-boosted trees, trained data-parallel over the `data` mesh axis.

    from atlas_jax.boosting import GBDTConfig, fit
    model = fit(x_train, y_train, GBDTConfig(objective="binary"), eval_set=(x_val, y_val))
    p = model.predict(x_test)
    model.save("model.json")
"""

from atlas_jax.boosting.binning import BinMapper, fit_bins
from atlas_jax.boosting.config import GBDTConfig
from atlas_jax.boosting.io import load_model, save_model
from atlas_jax.boosting.model import Booster
from atlas_jax.boosting.objectives import Objective, make_objective
from atlas_jax.boosting.train import fit

__all__ = [
    "BinMapper",
    "Booster",
    "GBDTConfig",
    "Objective",
    "fit",
    "fit_bins",
    "load_model",
    "make_objective",
    "save_model",
]
