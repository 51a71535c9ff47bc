"""The typed recipe schema.

The schema lives here, in one place, and is registered with Hydra's ConfigStore, so composition itself rejects
unknown keys and values of the wrong type. Range and choice rules that a type cannot express are in
``validate.py``. YAML files under ``recipes/`` and ``targets/`` only set values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

__all__ = [
    "BenchConfig",
    "DatasetConfig",
    "FinetuneConfig",
    "ModelConfig",
    "PruneConfig",
    "QuantConfig",
    "RecipeConfig",
    "StrategyConfig",
    "TargetConfig",
    "TrainConfig",
]

# OmegaConf needs typing.Optional / typing.List (not PEP 604 unions) to build structured configs on 3.10.
# ruff: noqa: UP045


@dataclass
class TrainConfig:
    """How the pipeline trains a model it builds itself (ignored for a user's pretrained model)."""

    epochs: int = 6
    lr: float = 0.05
    batch_size: int = 64
    optimizer: str = "momentum"
    weight_decay: float = 0.0005


@dataclass
class ModelConfig:
    """The model to compress: a registered architecture built here, or a user's file (``arch: file``)."""

    arch: str = "digits_cnn"
    width: float = 1.0
    num_classes: int = 10
    path: Optional[str] = None
    format: Optional[str] = None
    train: TrainConfig = field(default_factory=TrainConfig)


@dataclass
class DatasetConfig:
    """Data for training, calibration and evaluation. ``digits`` ships with scikit-learn (real handwriting)."""

    name: str = "digits"
    image_size: int = 32
    test_fraction: float = 0.2
    seed: int = 0
    root: Optional[str] = None


@dataclass
class PruneConfig:
    """Structured filter pruning: remove ``ratio`` of the filters of each selected convolution."""

    criterion: str = "l1_norm"
    ratio: float = 0.5
    layers: list[str] = field(default_factory=lambda: ["*"])


@dataclass
class FinetuneConfig:
    """Training after pruning, to win back the accuracy the removed filters carried."""

    epochs: int = 3
    lr: float = 0.01
    batch_size: int = 64
    optimizer: str = "momentum"


@dataclass
class QuantConfig:
    """Quantization. ``ptq_static``: int8 weights and activations, calibrated on the recipe's dataset."""

    mode: str = "ptq_static"
    bits: int = 8
    algo: str = "avg"
    weight_per_channel: bool = True
    batch_nums: int = 8
    batch_size: int = 32


@dataclass
class StrategyConfig:
    """What to do to the model. A missing section (null) means that step is skipped."""

    name: str = "none"
    prune: Optional[PruneConfig] = None
    finetune: Optional[FinetuneConfig] = None
    quant: Optional[QuantConfig] = None


@dataclass
class TargetConfig:
    """A device + runtime profile (``targets/*.yaml``): where the compressed model will run."""

    name: str = "host"
    description: str = ""
    device: str = "cpu"
    runtime: str = "paddle_inference"
    threads: list[int] = field(default_factory=lambda: [1, 2])


@dataclass
class BenchConfig:
    """How latency is measured: one input of batch size 1, ``warmup`` untimed runs, then ``repeats`` timed runs."""

    warmup: int = 20
    repeats: int = 200
    batch_size: int = 1


@dataclass
class RecipeConfig:
    """A whole recipe: model + dataset + strategy + target, plus measurement and cache settings."""

    name: str = "default"
    description: str = ""
    seed: int = 0
    cache_dir: Optional[str] = None
    model: ModelConfig = field(default_factory=ModelConfig)
    dataset: DatasetConfig = field(default_factory=DatasetConfig)
    strategy: StrategyConfig = field(default_factory=StrategyConfig)
    target: TargetConfig = field(default_factory=TargetConfig)
    bench: BenchConfig = field(default_factory=BenchConfig)
