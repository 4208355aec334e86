"""Structured config of the `nas` task (imports nothing heavy)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from atlas_jax.search.config import SpaceConfig


def _default_space() -> SpaceConfig:
    return SpaceConfig(name="nas_cnn", module="atlas_jax.nas.spaces")


@dataclass
class NASConfig:
    space: SpaceConfig = field(default_factory=_default_space)  # NAS space: nas_mlp, nas_cnn, nas_transformer or your own
    method: str = "evolution"  # evolution, nevergrad, random (both with weight sharing), darts1, darts2, plain_random
    mode: str = "masked"  # supernet execution: masked (one program) or slice (exact shapes, compile cache)
    num_buckets: Optional[int] = None  # slice mode: shape buckets per decision; null keeps every size
    cache_size: int = 32  # slice mode: compiled programs kept (least recently used are dropped)
    seed: int = 0  # seed of supernet initialisation, sampling and the search
    # Supernet training (and DARTS's weight steps).
    supernet_steps: int = 1500  # optimizer steps of supernet training or of DARTS
    batch_size: int = 64  # examples per step
    learning_rate: float = 3e-3  # peak AdamW learning rate of the shared weights
    weight_decay: float = 1e-4  # AdamW decoupled weight decay of the shared weights
    rule: str = "sandwich"  # path sampling: uniform (one random path), sandwich (largest, smallest, random) or progressive (largest first, then uniform)
    largest_fraction: float = 0.25  # progressive rule: fraction of the steps that train only the largest network
    largest_prob: float = 0.25  # progressive rule, later steps: chance of training the largest instead of a random path
    num_random: int = 2  # sandwich rule: random paths per step
    distill: bool = False  # sandwich rule: non-largest paths learn from the largest path's predictions
    # Evolution (AutoFormer-style).
    population: int = 20  # architectures kept per generation
    generations: int = 10  # rounds of breeding
    parents: int = 10  # top architectures that breed
    mutations: int = 10  # children by mutation per generation
    crossovers: int = 10  # children by crossover per generation
    mutation_prob: float = 0.2  # probability that mutation redraws each decision
    score_examples: Optional[int] = None  # validation examples each candidate is scored on; null uses all
    rescore_top: int = 5  # with score_examples: the best this many are rescored on the whole validation split (0: none)
    screen_examples: Optional[int] = None  # evolution: children are scored on this many examples first, and on the rest only if they may still reach the weakest parent; null: off
    screen_z: float = 2.0  # evolution screening: a child is dropped when its subset accuracy plus this many standard errors is below the weakest parent
    # nevergrad and random search.
    ng_optimizer: str = "DiscreteOnePlusOne"  # nevergrad optimizer name (method=nevergrad)
    budget: int = 200  # candidates scored by nevergrad or random search
    # DARTS.
    arch_learning_rate: float = 3e-3  # Adam learning rate of the architecture logits
    arch_weight_decay: float = 1e-3  # L2 decay of the architecture logits
    darts_weights: str = "separate"  # separate (one weight set per candidate, original DARTS) or shared (entangled)
    # Plain random search (every candidate trained from scratch).
    plain_seconds: float = 60.0  # wall-clock budget, in seconds
    plain_steps: int = 300  # optimizer steps per candidate
    # Constraints, checked before a candidate is scored; null leaves a quantity free.
    max_params: Optional[int] = None  # parameters
    max_flops: Optional[int] = None  # FLOPs per example (2 per multiply-add)
    max_latency_ms: Optional[float] = None  # median forward time of one batch, in milliseconds
    latency_batch: int = 64  # examples in the batch whose forward time is measured
    # Output.
    retrain: bool = True  # retrain the best architecture from scratch with the train/optim groups
    dropout: float = 0.0  # dropout of the written model config
