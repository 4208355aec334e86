"""One-shot architecture search with a weight-entangled supernet, and DARTS as a baseline.

Public names load on first use, so `atlas_jax.config` can import `atlas_jax.nas.config`
without importing JAX.
"""

from __future__ import annotations

from atlas_jax._lazy import lazy_getattr

_EXPORTS = {
    "Decision": "decisions",
    "DecisionSet": "decisions",
    "EntangledAttention": "layers",
    "EntangledConv": "layers",
    "EntangledDense": "layers",
    "EntangledLayerNorm": "layers",
    "EntangledMLPBlock": "layers",
    "CNNSupernet": "supernets",
    "MLPSupernet": "supernets",
    "TransformerSupernet": "supernets",
    "create_supernet": "supernets",
    "SubnetRunner": "runner",
    "train_supernet": "training",
    "fit": "training",
    "darts_search": "darts",
    "ArchEvaluator": "search",
    "Constraints": "search",
    "evolutionary_search": "search",
    "nevergrad_search": "search",
    "random_search": "search",
    "plain_random_search": "search",
    "nas_space": "spaces",
    "supernet_for_space": "spaces",
    "build_standalone": "standalone",
    "load_slices": "standalone",
    "model_config": "standalone",
}

__all__ = sorted(_EXPORTS)


__getattr__ = lazy_getattr(__name__, _EXPORTS)
