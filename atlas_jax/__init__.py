"""atlas_jax: a JAX framework for automated machine learning at scale.

Importing the package is cheap: subpackages (and JAX itself) load on first use,
so the `atlas` command can print help and reject bad configs quickly.
"""

from importlib import metadata as _metadata

try:
    __version__ = _metadata.version("atlas-jax")
except _metadata.PackageNotFoundError:  # Running from a source tree that was never installed.
    __version__ = "0.0.0+unknown"

from atlas_jax.errors import AtlasError, ConfigError

__all__ = ["AtlasError", "ConfigError", "__version__"]
