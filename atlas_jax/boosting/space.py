"""Search space of GBDT hyperparameters for the HPO runner.

Registered as `gbdt`, a built-in name (`hpo.space.name=gbdt`); keys are Hydra paths
of the `gbdt` config group, so a drawn config becomes overrides such as
`gbdt.max_depth=5`. Ranges follow common XGBoost/LightGBM tuning practice;
the number of rounds is not searched because early stopping on the validation
split picks it.
"""

from __future__ import annotations

from atlas_jax.search import Choice, Float, Int, Space, register_space


@register_space("gbdt")
def gbdt_space(max_depth: int = 10, max_leaves: int = 255) -> Space:
    """Depth-wise or leaf-wise trees with learning rate, regularisation and subsampling.

    Args:
        max_depth: largest tree depth searched.
        max_leaves: largest leaf count searched for leaf-wise growth.
    """
    return Space({
        "gbdt.grow_policy": Choice(["depthwise", "lossguide"]),
        "gbdt.max_depth": Int(2, max_depth, when={"gbdt.grow_policy": "depthwise"}),
        "gbdt.max_leaves": Int(4, max_leaves, log=True, when={"gbdt.grow_policy": "lossguide"}),
        "gbdt.learning_rate": Float(0.01, 0.3, log=True),
        "gbdt.reg_lambda": Float(1e-3, 100.0, log=True),
        "gbdt.gamma": Float(1e-4, 5.0, log=True),
        "gbdt.min_child_weight": Float(0.1, 50.0, log=True),
        "gbdt.subsample": Float(0.5, 1.0),
        "gbdt.colsample_bytree": Float(0.4, 1.0),
        "gbdt.max_bins": Choice([32, 64, 128, 256], ordered=True),
    })
