"""Exceptions raised by the graph store; the C++ core raises them too."""

from atlas_jax.errors import AtlasError


class GraphFormatError(AtlasError, ValueError):
    """A store file that is truncated, corrupt, or of an unsupported format version."""


class GraphInputError(AtlasError, ValueError):
    """An edge list that cannot be parsed, or whose ids break a stated limit."""
