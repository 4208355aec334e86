"""Exceptions that the `atlas` command reports as a one-line message instead of a traceback."""


class AtlasError(Exception):
    """A user-facing failure: bad input, bad config or a run that cannot continue.

    The message must say what failed, on which value, and what to do next.
    """


class ConfigError(AtlasError, ValueError):
    """An invalid or inconsistent configuration value."""


class NonFiniteLossError(AtlasError, FloatingPointError):
    """The training loss became NaN or infinite."""
