"""One process of the 2-process data-parallel test: `python -m tests.parallel.dp_worker ID PORT OUT`.

Each process drives 2 CPU devices, so the two form a 4-device data-parallel mesh. Both train
a few steps on the same global batches, and process 0 writes the losses to OUT (JSON).
"""

import json
import os
import sys

os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=2"
os.environ["JAX_PLATFORMS"] = "cpu"

from atlas_jax.parallel import DistributedConfig, ParallelConfig, ParallelContext, initialize_distributed  # noqa: E402


def main() -> None:
    process_id, port, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    initialize_distributed(
        DistributedConfig(
            mode="explicit", coordinator_address=f"127.0.0.1:{port}", num_processes=2, process_id=process_id, timeout_s=60
        )
    )
    import jax

    from tests.parallel.dp_reference import train_losses

    assert jax.device_count() == 4
    assert jax.local_device_count() == 2
    ctx = ParallelContext.from_config(ParallelConfig(data=-1))
    losses = train_losses(ctx)
    if jax.process_index() == 0:
        with open(out + ".tmp", "w") as f:
            json.dump({"losses": losses, "devices": jax.device_count()}, f)
        os.replace(out + ".tmp", out)
    jax.distributed.shutdown()


if __name__ == "__main__":
    main()
