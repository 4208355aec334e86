"""The compiled atlas_jax._core extension."""

import zlib

import numpy as np
import pytest

from atlas_jax import _core


@pytest.mark.parametrize("size", [0, 1, 7, 8, 9, 63, 4096, 100_003])
def test_crc32_matches_zlib(size):
    data = np.random.default_rng(size).integers(0, 256, size, dtype=np.uint8).tobytes()
    assert _core.crc32(data) == zlib.crc32(data)


def test_crc32_continues_a_stream():
    data = np.random.default_rng(0).bytes(10_000)
    partial = _core.crc32(data[:3333])
    assert _core.crc32(data[3333:], partial) == zlib.crc32(data)


def test_crc32_hashes_numpy_arrays():
    array = np.arange(1000, dtype=np.int64)
    assert _core.crc32(array) == zlib.crc32(array.tobytes())


def test_crc32_rejects_strided_views():
    array = np.arange(100, dtype=np.int32).reshape(10, 10)
    with pytest.raises(ValueError, match="C-contiguous"):
        _core.crc32(array[:, ::2])


def test_build_info_fields():
    info = _core.build_info()
    assert info["byte_order"] in ("little", "big")
    assert info["pointer_bits"] == 64
    assert info["cplusplus"] >= 201703
