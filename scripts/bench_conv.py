"""Time XLA's convolution beside the matrix-product form of atlas_jax.models.conv, side by side.

Usage:
    python scripts/bench_conv.py                 # the default shapes, 200 calls each
    python scripts/bench_conv.py --repeats 500

Each row is one stride-1 SAME convolution (batch, map height = width, input channels,
output channels, kernel size). Both forms run the forward pass and the forward plus backward
pass (gradients of a squared-error loss for input and kernel), jitted, compile excluded. The
last column names the form that `conv_general_dilated` picks on this backend. Prints the
machine, the versions and a Markdown table of milliseconds per call and XLA / patch ratios.
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np

# (batch, map size, input channels, output channels, kernel size)
SHAPES = [
    (64, 8, 1, 16, 5),  # NAS study, first block on digits
    (64, 4, 16, 16, 5),  # NAS study, second block on digits
    (64, 2, 16, 16, 5),  # NAS study, third block on digits
    (256, 4, 16, 16, 5),  # the same, at the scoring batch
    (64, 4, 16, 16, 3),
    (128, 4, 64, 64, 3),
    (64, 8, 16, 16, 5),
    (64, 16, 16, 16, 3),
    (128, 14, 32, 32, 3),
]


def timed(fn, *args, repeats: int) -> float:
    import jax

    jax.block_until_ready(fn(*args))
    start = time.perf_counter()
    for _ in range(repeats):
        out = fn(*args)
    jax.block_until_ready(out)
    return 1000 * (time.perf_counter() - start) / repeats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=200, help="number of timed calls per form and pass (default 200)")
    args = parser.parse_args()
    if args.repeats < 1:
        parser.error(f"--repeats must be at least 1, got {args.repeats}")

    import jax
    import jax.numpy as jnp
    from jax import lax

    from atlas_jax.models.conv import patch_conv, prefers_patches

    def xla(x, k):
        return lax.conv_general_dilated(x, k, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"))

    print(f"machine: {platform.machine()}, {jax.device_count()} {jax.default_backend()} device(s); "
          f"Python {platform.python_version()}, jax {jax.__version__}")
    print("| batch x map x in -> out, kernel | XLA fwd ms | patch fwd ms | ratio | XLA fwd+bwd ms "
          "| patch fwd+bwd ms | ratio | picked |")
    print("|---|---|---|---|---|---|---|---|")
    rng = np.random.default_rng(0)
    for batch, size, cin, cout, kernel in SHAPES:
        x = jnp.asarray(rng.normal(size=(batch, size, size, cin)), jnp.float32)
        k = jnp.asarray(rng.normal(size=(kernel, kernel, cin, cout)), jnp.float32)
        times = []
        for fn in (xla, patch_conv):
            forward = jax.jit(fn)
            backward = jax.jit(jax.grad(lambda x, k, fn=fn: (fn(x, k) ** 2).sum(), argnums=(0, 1)))
            times.append((timed(forward, x, k, repeats=args.repeats), timed(backward, x, k, repeats=args.repeats)))
        (xf, xb), (pf, pb) = times
        picked = "patch" if prefers_patches(size, size, kernel, kernel) else "XLA"
        print(f"| {batch} x {size}x{size} x {cin} -> {cout}, {kernel}x{kernel} | {xf:.3f} | {pf:.3f} | {xf / pf:.2f}x "
              f"| {xb:.3f} | {pb:.3f} | {xb / pb:.2f}x | {picked} |", flush=True)


if __name__ == "__main__":
    main()
