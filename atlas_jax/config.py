"""Structured (dataclass) configs behind the Hydra YAML groups in `conf/`.

Every YAML option names its schema in its defaults list (`- base_cnn`), so a key
that the schema lacks or a value of the wrong type fails when Hydra composes the
config, before any work starts. Each field's comment states what it sets and its unit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING

from atlas_jax.parallel.config import ParallelConfig
from atlas_jax.gnn.config import GNNConfig
from atlas_jax.hpo.config import HPOConfig
from atlas_jax.nas.config import NASConfig
from atlas_jax.boosting.config import GBDTConfig


@dataclass
class DataConfig:
    name: str = "digits"  # dataset: digits, breast_cancer, wine, iris, mnist_subset, idx or csv
    path: Optional[str] = None  # folder (idx) or file (csv) for file-backed datasets
    target_column: Optional[str] = None  # csv only: label column name (default: the last column)
    val_fraction: float = 0.15  # fraction of all examples held out for validation
    test_fraction: float = 0.2  # fraction of all examples held out for the final test
    split_seed: int = 0  # seed of the stratified train/val/test split
    standardize: bool = True  # scale features to zero mean, unit variance (train statistics)
    max_examples: Optional[int] = None  # stratified subsample of the whole dataset, for quick runs
    augment_shift: int = 0  # images only: random translation of training images, in pixels (0: off)


@dataclass
class ModelConfig:
    name: str = MISSING  # model from the registry (see `atlas_jax.models.MODELS`)


@dataclass
class MLPConfig(ModelConfig):
    name: str = "mlp"
    hidden: list[int] = field(default_factory=lambda: [256, 128])  # width of each hidden layer
    dropout: float = 0.1  # dropout rate after each hidden layer
    activation: str = "gelu"  # relu, gelu, silu or tanh


@dataclass
class CNNConfig(ModelConfig):
    name: str = "cnn"
    channels: list[int] = field(default_factory=lambda: [32, 64])  # output channels of each conv block
    kernel_size: int = 3  # square convolution kernel, in pixels
    pool: bool = True  # 2x2 average pooling after each block whose output is at least 4x4
    dense: int = 128  # width of the hidden dense layer before the classifier
    dropout: float = 0.1  # dropout rate before the classifier
    activation: str = "relu"  # relu, gelu, silu or tanh


@dataclass
class ViTConfig(ModelConfig):
    name: str = "vit"
    patch_size: int = 2  # square patch side, in pixels; must divide the image height and width
    embed_dim: int = 64  # width of the residual stream
    depth: int = 8  # number of encoder blocks
    num_heads: int = 8  # attention heads; must divide embed_dim
    mlp_dim: int = 256  # hidden width of each block's MLP
    pool: str = "mean"  # mean (average of patch tokens) or cls (a learned class token)
    dropout: float = 0.0  # dropout rate on the pooled features before the head


@dataclass
class TextTransformerConfig(ModelConfig):
    name: str = "text_transformer"
    vocab_size: int = 1024  # token ids run from 0 to vocab_size - 1; id 0 is padding
    max_len: int = 128  # longest sequence, in tokens (size of the position table)
    embed_dim: int = 64  # width of the residual stream
    depth: int = 4  # number of encoder blocks
    num_heads: int = 4  # attention heads; must divide embed_dim
    mlp_dim: int = 256  # hidden width of each block's MLP
    dropout: float = 0.0  # dropout rate on the pooled features before the head


@dataclass
class SearchedCNNConfig(ModelConfig):
    name: str = "searched_cnn"
    channels: list[int] = field(default_factory=lambda: [16, 32])  # output channels of each conv block
    kernels: list[int] = field(default_factory=lambda: [3, 3])  # odd kernel size of each conv block, in pixels
    dense: int = 64  # width of the hidden dense layer after global average pooling
    dropout: float = 0.0  # dropout rate before the classifier
    activation: str = "relu"  # relu, gelu, silu or tanh


@dataclass
class SearchedViTConfig(ModelConfig):
    name: str = "searched_vit"
    patch: int = 2  # square patch side, in pixels
    embed: int = 64  # token embedding width
    heads: list[int] = field(default_factory=lambda: [4, 4])  # attention heads of each block
    hidden: list[int] = field(default_factory=lambda: [128, 128])  # feed-forward width of each block
    head_dim: int = 16  # width of one attention head


@dataclass
class OptimConfig:
    name: str = "adamw"  # adamw, adam, sgd (with momentum) or lamb
    learning_rate: float = 3e-3  # peak learning rate
    weight_decay: float = 1e-4  # decoupled weight decay (adamw, lamb) or L2 (sgd)
    momentum: float = 0.9  # sgd momentum, or adam's b1
    schedule: str = "cosine"  # constant, cosine or linear decay after warmup
    warmup_steps: int = 100  # linear warmup length, in optimizer steps
    end_lr_ratio: float = 0.0  # final learning rate as a fraction of the peak
    grad_clip_norm: Optional[float] = 1.0  # clip the global gradient norm to this; null disables


@dataclass
class TrainConfig:
    steps: int = 2000  # total optimizer steps
    batch_size: int = 128  # examples per optimizer step
    eval_batch_size: int = 1024  # examples per evaluation step
    eval_every: int = 250  # run validation every this many steps
    log_every: int = 50  # write train metrics every this many steps
    checkpoint_every: int = 250  # save a checkpoint every this many steps
    keep_checkpoints: int = 2  # number of most recent checkpoints kept on disk
    seed: int = 0  # seed for initialisation, data order and dropout
    resume: bool = True  # continue from the newest checkpoint in the run folder
    progress: bool = True  # print a progress bar with loss, examples/s and ETA


@dataclass
class Config:
    task: str = "train"  # what runs: a module name under atlas_jax.tasks
    name: str = "digits_cnn"  # run name; the run folder is runs/<name>/<overrides>
    data: DataConfig = field(default_factory=DataConfig)
    model: Any = MISSING  # one of the model/ group options; its schema is chosen there
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    parallel: ParallelConfig = field(default_factory=ParallelConfig)
    gnn: GNNConfig = field(default_factory=GNNConfig)  # the gnn task: graph dataset, GNN, sampler, epochs
    hpo: HPOConfig = field(default_factory=HPOConfig)  # search settings of the hpo and automl tasks
    nas: NASConfig = field(default_factory=NASConfig)  # architecture search (task=nas)
    gbdt: GBDTConfig = field(default_factory=GBDTConfig)  # gradient-boosted trees (task=gbdt)


# Schema of each model/ group option, by model name (used by register_configs and `atlas --help`).
MODEL_SCHEMAS: dict[str, type] = {
    "mlp": MLPConfig,
    "cnn": CNNConfig,
    "searched_cnn": SearchedCNNConfig,
    "searched_vit": SearchedViTConfig,
    "vit": ViTConfig,
    "text_transformer": TextTransformerConfig,
}


# Maximum length of a run-folder name, in UTF-8 bytes. Most file systems allow 255 bytes per name.
MAX_FOLDER_NAME = 200


def folder_name(overrides: str) -> str:
    """Turn Hydra's `override_dirname` into one safe folder name.

    A "/" in an override value (a file path) would nest folders, so it becomes "%2F"
    (and "%" becomes "%25", so distinct overrides keep distinct names). A name longer
    than `MAX_FOLDER_NAME` bytes keeps its start and ends with a hash of the whole.
    """
    import hashlib

    name = overrides.replace("%", "%25").replace("/", "%2F")
    if name in ("", ".", ".."):
        return name.replace(".", "%2E")
    encoded = name.encode()
    if len(encoded) > MAX_FOLDER_NAME:
        digest = hashlib.sha1(encoded).hexdigest()[:12]
        # Cut on a character boundary: a partial UTF-8 sequence at the end is dropped.
        start = encoded[:MAX_FOLDER_NAME - 13].decode(errors="ignore")
        name = f"{start}-{digest}"
    return name


def register_configs() -> None:
    """Register every schema in Hydra's ConfigStore and the `atlas_folder` resolver (idempotent)."""
    from omegaconf import OmegaConf

    if not OmegaConf.has_resolver("atlas_folder"):
        OmegaConf.register_new_resolver("atlas_folder", folder_name)
    cs = ConfigStore.instance()
    cs.store(name="base_config", node=Config)
    cs.store(group="data", name="base_data", node=DataConfig)
    for model_name, schema in MODEL_SCHEMAS.items():
        cs.store(group="model", name=f"base_{model_name}", node=schema)
    cs.store(group="optim", name="base_optim", node=OptimConfig)
    cs.store(group="train", name="base_train", node=TrainConfig)
    cs.store(group="parallel", name="base_parallel", node=ParallelConfig)
    cs.store(group="gnn", name="base_gnn", node=GNNConfig)
    cs.store(group="hpo", name="base_hpo", node=HPOConfig)
    cs.store(group="nas", name="base_nas", node=NASConfig)
    cs.store(group="gbdt", name="base_gbdt", node=GBDTConfig)


def check_known_keys(cfg: Any) -> None:
    """Raise ConfigError for a key that its section's schema lacks.

    Hydra rejects an unknown key given as `train.newkey=1`, but the append form
    `+train.newkey=1` adds it to a schema-typed section, where it would be ignored silently.
    Sections typed as plain dicts (such as `hpo.space.bounds`) accept any key.
    """
    import dataclasses

    from omegaconf import DictConfig, OmegaConf

    from atlas_jax.errors import ConfigError

    def walk(node: DictConfig, path: str) -> None:
        schema = OmegaConf.get_type(node)
        if schema is not None and dataclasses.is_dataclass(schema):
            known = {f.name for f in dataclasses.fields(schema)}
            for key in node.keys():
                if key not in known:
                    name = f"{path}.{key}" if path else str(key)
                    raise ConfigError(
                        f"unknown config key '{name}' ({schema.__name__} has no field '{key}'); "
                        f"valid keys: {', '.join(sorted(known))}"
                    )
        for key in node.keys():
            child = node._get_node(key)
            if isinstance(child, DictConfig):
                walk(child, f"{path}.{key}" if path else str(key))

    walk(cfg, "")
