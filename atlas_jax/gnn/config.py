"""Structured configs of the `gnn` task: dataset, model, sampler and training loop.

This module imports nothing heavy, so `atlas_jax.config` can register it cheaply.
The task also reads `optim` (optimizer and schedule) and, from `train`, only
`seed`, `resume`, `progress`, `keep_checkpoints` and `log_every`. The GNN loop is
counted in epochs, so `train.steps`, `train.batch_size` and `train.eval_every` are
not used.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional


@dataclass
class GNNDataConfig:
    name: str = "csbm"  # dataset generator: csbm, knn, karate or rmat
    cache_dir: str = "data_cache/gnn"  # folder of generated datasets, one subfolder per parameter set
    num_nodes: int = 100_000  # csbm: number of nodes
    num_classes: int = 5  # csbm: planted classes; rmat: classes from the top bits of the node id
    num_features: int = 32  # csbm, rmat: feature dimension
    avg_degree: float = 10.0  # csbm: mean undirected degree before removing duplicate edges
    homophily: float = 0.8  # csbm: probability that an edge joins two nodes of the same class
    feature_signal: float = 1.0  # csbm, rmat: distance of each class mean from the origin, in noise std units
    source: str = "digits"  # knn: the foundation dataset whose examples become nodes (digits, idx, ...)
    source_path: Optional[str] = None  # knn: folder of idx files when source is idx (Fashion-MNIST)
    knn_k: int = 10  # knn: neighbours per node before symmetrisation
    rmat_scale: int = 16  # rmat: the graph has 2**scale nodes
    rmat_edge_factor: int = 16  # rmat: generated edges per node before symmetrisation
    train_fraction: float = 0.6  # fraction of nodes whose labels train the model
    val_fraction: float = 0.2  # fraction of nodes used for validation; the rest is the test set
    feature_store: str = "auto"  # memory, tensorstore or auto (tensorstore above feature_memory_limit_mb)
    feature_memory_limit_mb: int = 2048  # auto: features larger than this, in MiB, are read from zarr
    seed: int = 0  # seed of the generator and of the train/val/test split


@dataclass
class GNNModelConfig:
    name: str = "sage_mean"  # sage_mean, sage_max, gcn, gat or mlp (ignores edges, a baseline)
    hidden: int = 128  # width of each hidden layer (gat: total over heads)
    num_layers: int = 2  # message-passing layers; sampled mode needs one fanout per layer
    heads: int = 4  # gat: attention heads; hidden must be divisible by it
    dropout: float = 0.2  # dropout rate on the input of every layer
    activation: str = "relu"  # relu, gelu, silu or elu


@dataclass
class GNNSamplerConfig:
    fanouts: list[int] = field(default_factory=lambda: [10, 10])  # neighbours sampled per node, per hop
    batch_size: int = 512  # seed nodes per sampled batch
    batches_per_step: Optional[int] = None  # sampled batches per optimizer step; null: one per device
    eval_fanouts: Optional[list[int]] = None  # fanouts of sampled evaluation; null: same as fanouts
    eval_batch_size: Optional[int] = None  # seeds per evaluation batch; null: same as batch_size
    num_threads: int = 2  # background threads that sample, fetch and pad batches; 0: synchronous
    prefetch: int = 8  # batches prepared ahead of the train step
    sampler_threads: Optional[int] = 1  # threads inside the C++ sampler per batch; null: its default


@dataclass
class GNNConfig:
    data: GNNDataConfig = field(default_factory=GNNDataConfig)
    model: GNNModelConfig = field(default_factory=GNNModelConfig)
    sampler: GNNSamplerConfig = field(default_factory=GNNSamplerConfig)
    mode: str = "sampled"  # sampled (mini-batches from the C++ sampler) or full (whole graph per step)
    epochs: int = 10  # passes over the training nodes
    eval_every_epochs: int = 1  # validate after every this many epochs
    eval_mode: str = "auto"  # sampled, full, or auto (full when the graph has at most 2M nodes)
    checkpoint_every_epochs: int = 1  # save model, optimizer and pipeline state this often
    data_parallel: int = 0  # devices on the `data` mesh axis; 0: as many local devices as evenly split a step
