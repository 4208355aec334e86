"""The small-map convolution against XLA's convolution, values and gradients."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from jax import lax

from atlas_jax.models.conv import conv_general_dilated, patch_conv, prefers_patches

NHWC = ("NHWC", "HWIO", "NHWC")
# float32 sums of up to 7 * 7 * 3 products of unit normals, taken in another order.
RTOL, ATOL = 1e-5, 1e-5


def reference(x, kernel):
    return lax.conv_general_dilated(x, kernel, (1, 1), "SAME", dimension_numbers=NHWC)


def draw(shape, seed):
    return jnp.asarray(np.random.default_rng(seed).normal(size=shape), jnp.float32)


@pytest.mark.parametrize("height,width", [(1, 1), (2, 2), (3, 5), (4, 4), (8, 8)])
@pytest.mark.parametrize("kernel_h,kernel_w", [(1, 1), (2, 2), (3, 3), (4, 3), (5, 5), (7, 7)])
def test_patch_conv_equals_xla_conv(height, width, kernel_h, kernel_w):
    x = draw((2, height, width, 3), 0)
    kernel = draw((kernel_h, kernel_w, 3, 4), 1)
    np.testing.assert_allclose(patch_conv(x, kernel), reference(x, kernel), rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("height,kernel", [(2, 5), (4, 5), (8, 3)])
def test_patch_conv_gradients_equal_xla_conv(height, kernel):
    x = draw((3, height, height, 2), 2)
    w = draw((kernel, kernel, 2, 5), 3)
    target = draw((3, height, height, 5), 4)

    def loss(fn):
        return lambda x, w: ((fn(x, w) - target) ** 2).sum()

    got = jax.grad(loss(patch_conv), argnums=(0, 1))(x, w)
    expected = jax.grad(loss(reference), argnums=(0, 1))(x, w)
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, e, rtol=RTOL, atol=1e-4)


def test_drop_in_path_choice():
    x, kernel = draw((2, 4, 4, 3), 5), draw((5, 5, 3, 4), 6)
    lowered = jax.jit(lambda x, k: conv_general_dilated(x, k, (1, 1), "SAME", dimension_numbers=NHWC))
    text = lowered.lower(x, kernel).as_text()
    assert ("convolution" not in text) == prefers_patches(4, 4, 5, 5)
    # Strided, dilated and grouped convolutions always go to XLA.
    for kwargs in ({"window_strides": (2, 2)}, {"rhs_dilation": (2, 2)}):
        args = {"window_strides": (1, 1), **kwargs}
        got = conv_general_dilated(x, kernel, padding="SAME", dimension_numbers=NHWC, **args)
        expected = lax.conv_general_dilated(x, kernel, padding="SAME", dimension_numbers=NHWC, **args)
        np.testing.assert_array_equal(got, expected)
    grouped = draw((5, 5, 1, 3), 7)
    got = conv_general_dilated(x, grouped, (1, 1), "SAME", dimension_numbers=NHWC, feature_group_count=3)
    expected = lax.conv_general_dilated(x, grouped, (1, 1), "SAME", dimension_numbers=NHWC, feature_group_count=3)
    np.testing.assert_array_equal(got, expected)


def test_nnx_conv_drop_in_matches_default():
    default = nnx.Conv(3, 4, (5, 5), padding="SAME", rngs=nnx.Rngs(0))
    fast = nnx.Conv(3, 4, (5, 5), padding="SAME", conv_general_dilated=conv_general_dilated, rngs=nnx.Rngs(0))
    x = draw((2, 4, 4, 3), 8)
    np.testing.assert_allclose(fast(x), default(x), rtol=RTOL, atol=ATOL)
    # Explicit SAME pairs take the same path, and other padding goes to XLA.
    explicit = nnx.Conv(3, 4, (5, 5), padding=((2, 2), (2, 2)), conv_general_dilated=conv_general_dilated,
                        rngs=nnx.Rngs(0))
    np.testing.assert_allclose(explicit(x), default(x), rtol=RTOL, atol=ATOL)
    valid = nnx.Conv(3, 4, (3, 3), padding="VALID", conv_general_dilated=conv_general_dilated, rngs=nnx.Rngs(1))
    plain = nnx.Conv(3, 4, (3, 3), padding="VALID", rngs=nnx.Rngs(1))
    np.testing.assert_array_equal(valid(x), plain(x))


def test_drop_in_wide_maps_and_bad_inputs():
    # A map wider than the kernel goes to XLA's convolution.
    x, kernel = draw((2, 3, 16, 3), 9), draw((5, 5, 3, 4), 10)
    assert not prefers_patches(3, 16, 5, 5)
    text = jax.jit(lambda x, k: conv_general_dilated(x, k, (1, 1), "SAME", dimension_numbers=NHWC)).lower(
        x, kernel).as_text()
    assert "convolution" in text
    # Like lax, mixed dtypes and wrong-length dilations are rejected rather than computed.
    small = draw((2, 4, 4, 3), 11)
    with pytest.raises(TypeError, match="same dtypes"):
        conv_general_dilated(small, kernel.astype(jnp.bfloat16), (1, 1), "SAME", dimension_numbers=NHWC)
    with pytest.raises(ValueError):
        conv_general_dilated(small, kernel, (1, 1), "SAME", lhs_dilation=(1,), dimension_numbers=NHWC)
