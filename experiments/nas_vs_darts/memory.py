"""Peak memory of supernet training against training the largest sub-network alone.

    python experiments/nas_vs_darts/memory.py DATASET supernet|largest

Each variant runs in its own process, so peak RSS is its own. Also records XLA's estimate of
the largest compiled step program (arguments + outputs + temporaries, without the training
set that the supernet's chunked program takes as an argument).
"""

from __future__ import annotations

import logging
import sys

import common


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    common.use_compile_cache()
    dataset, which = sys.argv[1], sys.argv[2]
    from atlas_jax.nas.pipeline import peak_rss_mb
    from atlas_jax.nas.runner import SubnetRunner
    from atlas_jax.nas.spaces import supernet_for_space
    from atlas_jax.nas.standalone import build_standalone
    from atlas_jax.nas.training import fit, train_supernet

    data = common.load(dataset)
    net = supernet_for_space(common.space(), data.feature_shape, data.num_classes, seed=0)
    steps = 100
    if which == "supernet":
        runner = SubnetRunner(net, mode="masked")
        train_supernet(runner, data.train.x, data.train.y, steps=steps, batch_size=common.BATCH,
                       rule="progressive", learning_rate=common.SUPERNET_LEARNING_RATE, seed=0)
        # The chunked program takes the whole training set as an argument (the stand-alone step
        # takes one batch), so the set's bytes are left out to compare the networks' needs.
        program = runner.stats.peak_program_bytes - data.train.x.nbytes - data.train.y.nbytes
    elif which == "largest":
        model = build_standalone(net, net.decisions.largest(), seed=0)
        program = fit(model, data.train.x, data.train.y, steps=steps, batch_size=common.BATCH).peak_program_bytes
    else:
        raise SystemExit(f"unknown variant {which!r}; valid: supernet, largest")
    result = {"dataset": dataset, "which": which, "peak_rss_mb": peak_rss_mb(), "program_bytes": program,
              "machine": common.machine()}
    common.save(common.RESULTS / f"{dataset}_memory_{which}.json", result)
    print(f"{dataset} {which}: peak RSS {result['peak_rss_mb']:.0f} MiB, largest step program {program / 2**20:.2f} MiB")


if __name__ == "__main__":
    main()
