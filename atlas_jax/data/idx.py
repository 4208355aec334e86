"""Reader for the IDX format of MNIST and Fashion-MNIST (optionally gzip-compressed).

An IDX file is a big-endian header (two zero bytes, a type code, the number of
dimensions, one uint32 size per dimension) followed by the raw array.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

from atlas_jax.errors import AtlasError

# IDX type codes and the numpy dtypes they store, big-endian as the format requires.
_IDX_DTYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def read_idx(path: str | Path) -> np.ndarray:
    """Read one IDX file (`.gz` is decompressed) into a native-endian array.

    Raises:
        AtlasError: if the file is missing, has a bad header or is truncated.
    """
    path = Path(path)
    if not path.is_file():
        raise AtlasError(f"IDX file not found: {path}")
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as error:
        raise AtlasError(f"cannot read IDX file {path}: {error}") from error

    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise AtlasError(f"{path} is not an IDX file: the first two bytes must be zero")
    type_code, ndim = raw[2], raw[3]
    if type_code not in _IDX_DTYPES:
        raise AtlasError(f"{path}: unknown IDX type code 0x{type_code:02x}")
    header_size = 4 + 4 * ndim
    if ndim == 0 or len(raw) < header_size:
        raise AtlasError(f"{path}: truncated IDX header ({len(raw)} bytes for {ndim} dimensions)")
    shape = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    dtype = _IDX_DTYPES[type_code]
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(raw) - header_size != expected:
        raise AtlasError(
            f"{path}: IDX data holds {len(raw) - header_size} bytes but shape {shape} "
            f"of {dtype} needs {expected}; the file is truncated or corrupt"
        )
    data = np.frombuffer(raw, dtype=dtype, offset=header_size).reshape(shape)
    return data.astype(dtype.newbyteorder("="))
