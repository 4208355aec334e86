"""Type stubs for the compiled ``atlas_jax._core`` extension."""

from collections.abc import Buffer

def build_info() -> dict[str, str | int]:
    """Describe how the extension was compiled (version, build type, compiler, byte order)."""

def crc32(data: Buffer, value: int = 0) -> int:
    """CRC-32 of ``data``, identical to ``zlib.crc32(data, value)``; releases the GIL."""
