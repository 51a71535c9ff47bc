"""The typed recipe schema.

The schema lives here, in one place, and is registered with Hydra's ConfigStore, so composition itself rejects
unknown keys and values of the wrong type. Range and choice rules that a type cannot express are in
``validate.py``; rules that depend on the target (can its runtime run int8?) are the planner's legality checks.
YAML files under ``recipes/`` and ``targets/`` only set values.

Options are framework-neutral where the idea is the same (``strategy.quant.mode: ptq_static`` means full int8 with
calibration in PaddleSlim, the TFLite converter and ONNX Runtime alike); options that only one backend reads say
so in their comment, and the planner rejects them where they cannot apply.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

__all__ = [
    "BenchConfig",
    "DatasetConfig",
    "FinetuneConfig",
    "ModelConfig",
    "ObjectiveConfig",
    "OnnxQuantConfig",
    "PaddleQuantConfig",
    "PruneConfig",
    "QuantConfig",
    "RecipeConfig",
    "SearchConfig",
    "SensitivityConfig",
    "SshConfig",
    "StrategyConfig",
    "TargetConfig",
    "TfliteQuantConfig",
    "TrainConfig",
]

# OmegaConf needs typing.Optional (not PEP 604 unions) to build structured configs on Python 3.10.
# ruff: noqa: UP045


@dataclass
class TrainConfig:
    """How the pipeline trains a model it builds itself (ignored for a user's trained model file)."""

    epochs: int = 6
    lr: float = 0.05
    batch_size: int = 64
    optimizer: str = "momentum"
    weight_decay: float = 0.0005


@dataclass
class ModelConfig:
    """The model: a registered architecture built here (no pretrained weights), or a user's file (``arch: file``).

    ``framework`` picks which framework builds a named architecture (default: the target runtime's).
    For ``arch: file``, ``format`` is detected from ``path`` unless given (paddle | onnx | tflite | savedmodel |
    keras | paddle_dygraph); ``input_shape`` is the full input shape with batch (e.g. ``[1, 3, 224, 224]``) and
    fixes dynamic dimensions (-1 / None) of the file's input.
    ``task`` (classification | segmentation | detection | generic; see ``recipecc/tasks``) is the architecture's
    own for a named one; for a file it says how to score and compare outputs (unset: classification when the
    data has class labels, otherwise every output is compared with the baseline's by its shape).
    ``input_size`` is a smaller (or larger) square input than the architecture's reference size;
    ``threshold`` binarizes probability-map outputs when they are compared (default 0.5).
    ``outputs`` says what a model file's outputs are, by output name, where their shape cannot: e.g.
    ``{landmarks: tensor}`` for a regression head of shape (N, K) that would otherwise be read as class scores
    (kinds: scores, sequence, class_map, prob_map, tensor; see ``recipecc/tasks/outputs.py``).
    """

    arch: str = "digits_cnn"
    width: float = 1.0
    num_classes: int = 10
    framework: Optional[str] = None
    path: Optional[str] = None
    format: Optional[str] = None
    input_shape: Optional[list[int]] = None
    task: Optional[str] = None
    input_size: Optional[int] = None
    threshold: Optional[float] = None
    outputs: dict[str, str] = field(default_factory=dict)
    #: DeepLab's output stride (8 or 16): the backbone's last stages keep the resolution with dilated convolutions
    output_stride: int = 16
    #: a YOLOv3's anchors: ``auto`` (fitted to the training boxes when recipecc trains the detector from scratch,
    #: else COCO's), ``coco`` (COCO's, scaled to the input) or nine ``[w, h]`` pairs in input pixels
    #: (``recipecc/recipe/anchors.py``)
    anchors: Any = "auto"
    #: load formats whose loading can run code (pickled weights beyond arrays, Keras Lambda layers); only the
    #: command line may set it (a recipe file that does is refused)
    trusted: bool = False
    train: TrainConfig = field(default_factory=TrainConfig)


@dataclass
class DatasetConfig:
    """Data for training, calibration and evaluation.

    ``digits``: scikit-learn's handwritten digits (real, offline), upscaled to ``image_size``, labelled.
    ``image_folder``: a user's folder of jpg/png images (recursively), unlabelled unless sub-folders name classes;
    preprocessed with ``size`` [H, W], ``scale`` then ``(x - mean) / std`` per channel, ``layout`` and ``color``.
    The first ``calibration_images`` are for calibration, a disjoint ``eval_images`` for evaluation.
    ``max_images`` (digits) keeps a stratified subset, for large ``image_size`` (e.g. 224x224 fallback data).
    ``segmentation``: a user's label-map set under ``root`` (``format``: voc | cityscapes | list, detected when
    unset), ``train_split`` for training and calibration, ``split`` for evaluation; label value ``ignore_index``
    counts for nothing; ``max_images`` caps the training images read.
    """

    name: str = "digits"
    image_size: int = 32
    test_fraction: float = 0.2
    seed: int = 0
    root: Optional[str] = None
    size: Optional[list[int]] = None
    mean: list[float] = field(default_factory=lambda: [0.0, 0.0, 0.0])
    std: list[float] = field(default_factory=lambda: [1.0, 1.0, 1.0])
    scale: float = 0.00392156862745098
    layout: str = "NCHW"
    color: str = "RGB"
    calibration_images: int = 64
    eval_images: int = 64
    max_images: Optional[int] = None
    format: Optional[str] = None
    split: Optional[str] = None
    train_split: Optional[str] = None
    ignore_index: int = 255
    #: detection (COCO): the evaluation split's instances file and image folder, when not the usual places
    #: (``annotations/instances_<split>.json``; ``<split>/``, ``images/<split>/`` or ``JPEGImages/``)
    annotations: Optional[str] = None
    image_dir: Optional[str] = None


@dataclass
class PruneConfig:
    """Pruning.

    ``criterion``: ``auto`` (each backend's own: l1_norm where a Paddle network is built, else magnitude);
    ``l1_norm`` / ``fpgm`` remove whole filters (structured; paddle); ``magnitude`` zeroes the
    smallest weights (unstructured; tf, onnx) to ``ratio`` sparsity. ``layers`` are shell-style patterns of layer
    names; ``per_layer`` maps a pattern to its own ratio (it wins over ``ratio``; on the command line a key
    cannot hold a dot: write ``+strategy.prune.per_layer={stage4*conv2:0.2}``, or ``"stage4.conv2": 0.2`` in a
    YAML file). ``schedule``/``frequency`` are tfmot's (constant or polynomial decay, pruning step every
    ``frequency`` steps); ``block`` is a structured
    sparsity pattern such as ``"2:4"`` (tfmot).
    """

    criterion: str = "l1_norm"
    ratio: float = 0.5
    layers: list[str] = field(default_factory=lambda: ["*"])
    per_layer: dict[str, float] = field(default_factory=dict)
    schedule: str = "constant"
    frequency: int = 10
    block: Optional[str] = None
    #: tf: also ship the pruned model with its zeros sparse-encoded (TFLite ``EXPERIMENTAL_SPARSITY``): a stage
    #: ``pruned-sparse`` beside the dense ``pruned`` one, both measured
    sparse_encoding: bool = False


@dataclass
class SensitivityConfig:
    """Per-layer sensitivity analysis: the accuracy loss of pruning each layer alone at each of ``ratios``.

    The result (cached per model and data) becomes per-layer ratios that meet ``target``: ``flops`` removes that
    fraction of the FLOPs, ``accuracy_loss`` allows at most that loss (absolute top-1 fraction) per layer.
    """

    ratios: list[float] = field(default_factory=lambda: [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7])
    target: str = "flops"
    value: float = 0.3
    align: int = 8
    #: training images per evaluation (the analysis runs layers x ratios evaluations)
    images: int = 256


@dataclass
class FinetuneConfig:
    """Training after pruning, to win back the accuracy the removed weights carried."""

    epochs: int = 3
    lr: float = 0.01
    batch_size: int = 64
    optimizer: str = "momentum"


@dataclass
class PaddleQuantConfig:
    """Knobs only PaddleSlim reads, in its own vocabulary (``strategy.quant.paddle.*``).

    ``algo``: PaddleSlim's activation calibration (``quant_post_static(algo=...)``): avg, hist, KL, mse, abs_max;
    ``auto`` (default) follows the neutral ``strategy.quant.algo`` (``recipecc/plan/neutral.py`` maps it).
    """

    algo: str = "auto"


@dataclass
class OnnxQuantConfig:
    """Knobs only ONNX Runtime reads, in its own vocabulary (``strategy.quant.onnx.*``).

    ``format``: qdq (QuantizeLinear/DequantizeLinear pairs) or qoperator (QLinearConv, ...);
    ``activation_type`` / ``weight_type``: uint8 or int8 (ORT's ``QuantType``). The calibration method is the
    neutral ``strategy.quant.algo`` (minmax, percentile, entropy are ORT's ``CalibrationMethod`` names).
    """

    format: str = "qdq"
    activation_type: str = "uint8"
    weight_type: str = "int8"


@dataclass
class TfliteQuantConfig:
    """Knobs only the TFLite backend understands, under its own key (``strategy.quant.tflite.*``).

    ``io_type`` (full int8): float keeps float inputs/outputs, int8 makes them integer (for integer accelerators).
    ``recipe``: the ai-edge-quantizer recipe that quantizes a user's ``.tflite`` file (``auto``: from ``mode``:
    ptq_static -> static_wi8_ai8, ptq_dynamic -> dynamic_wi8_afp32; ``weight_only_wi8_afp32`` stores int8 weights
    and computes in float). Models recipecc converts itself go through the TFLite converter, which has no recipes.
    """

    io_type: str = "float"
    recipe: str = "auto"


@dataclass
class QuantConfig:
    """Quantization: framework-neutral knobs flat, each backend's own knobs under its key.

    ``mode``: ``ptq_static`` (int8 weights and activations, calibrated), ``ptq_dynamic`` (int8 weights; activations
    quantized at run time or kept float), ``qat`` (quantization-aware training, for models the pipeline trains),
    ``fp16`` (half-precision weights). ``algo``: activation calibration, in neutral words: ``auto`` (default: each
    backend's choice, see ``recipecc/plan/neutral.py``), ``minmax``, ``percentile``, ``entropy``, ``mse``; each
    backend maps it to its own method (Paddle: abs_max, hist, KL, mse). ``op_types`` / ``exclude_op_types`` /
    ``exclude_nodes`` (patterns) restrict what is quantized, in the model format's own op and node names
    (``op_types`` on paddle and onnx, the exclusions on onnx). ``paddle`` / ``onnx`` / ``tflite``: knobs only that
    backend reads; setting one for a target of another backend is a plan error.
    """

    mode: str = "ptq_static"
    bits: int = 8
    algo: str = "auto"
    weight_per_channel: bool = True
    batch_nums: int = 8
    batch_size: int = 32
    op_types: list[str] = field(default_factory=list)
    exclude_op_types: list[str] = field(default_factory=list)
    exclude_nodes: list[str] = field(default_factory=list)
    epochs: int = 1
    lr: float = 0.001
    paddle: PaddleQuantConfig = field(default_factory=PaddleQuantConfig)
    onnx: OnnxQuantConfig = field(default_factory=OnnxQuantConfig)
    tflite: TfliteQuantConfig = field(default_factory=TfliteQuantConfig)


@dataclass
class SearchConfig:
    """Try several quantization configurations and keep the fastest that meets a budget (onnx backend).

    ``metric`` is a result metric (``top1``, ``top1_agreement``, ``cosine``, ...); ``max_drop`` is the largest loss
    against the fp32 baseline that is acceptable. Every candidate's numbers go into the report.
    """

    candidates: list[QuantConfig] = field(default_factory=list)
    metric: str = "top1"
    max_drop: float = 0.01


@dataclass
class StrategyConfig:
    """What to do to the model. A missing section (null) means that step is skipped."""

    name: str = "none"
    prune: Optional[PruneConfig] = None
    sensitivity: Optional[SensitivityConfig] = None
    finetune: Optional[FinetuneConfig] = None
    quant: Optional[QuantConfig] = None
    search: Optional[SearchConfig] = None


@dataclass
class SshConfig:
    """How to reach the device over SSH (``target.ssh.host`` set: latency is measured there, ``measured-remote``).

    ``key`` is a private key file (default: your SSH agent and ``~/.ssh`` keys); ``known_hosts`` a known-hosts file
    (default ``~/.ssh/known_hosts``: the device's host key must be known, nothing is trusted blindly);
    ``python`` the interpreter on the device that has its runtime installed; ``workdir`` where models and the
    benchmark script are copied; ``timeout`` seconds to connect.
    """

    host: Optional[str] = None
    port: int = 22
    user: Optional[str] = None
    key: Optional[str] = None
    known_hosts: Optional[str] = None
    python: str = "python3"
    workdir: str = "/tmp/recipecc-bench"
    timeout: float = 10.0


@dataclass
class TargetConfig:
    """A target (``targets/*.yaml``): a device, the runtime on it, and who measures the latency.

    ``device`` names an entry of ``recipecc/recipe/devices.py``, ``runtime`` one of ``catalog.RUNTIMES``; ``abi``
    picks the runtime build for the device's CPU (armv7 | armv8 on ARM devices; null = the first both support);
    ``measurer`` is ``auto`` (this machine: measured-host; ``ssh.host`` given: measured-remote; otherwise
    estimated), or one of measured-host | measured-remote | estimated. ``graph_optimization`` is ONNX Runtime's
    level (disable | basic | extended | all); ``delegate`` is TFLite's (xnnpack | none).
    """

    name: str = "host"
    description: str = ""
    device: str = "host"
    runtime: str = "paddle_inference"
    abi: Optional[str] = None
    measurer: str = "auto"
    threads: list[int] = field(default_factory=lambda: [1, 2])
    graph_optimization: str = "all"
    delegate: str = "xnnpack"
    ssh: SshConfig = field(default_factory=SshConfig)


@dataclass
class BenchConfig:
    """How stages are measured.

    Latency: one input of ``batch_size``, ``warmup`` untimed calls, then ``repeats`` timed calls.
    ``metrics``: extra metrics against the baseline's outputs on the held-out inputs (top1_agreement, iou,
    max_abs_error, mean_abs_error, cosine); top-1 is always measured when the data has labels, and with no labels
    top1_agreement and cosine are added so every stage has a quality number.
    """

    warmup: int = 20
    repeats: int = 200
    batch_size: int = 1
    metrics: list[str] = field(default_factory=list)


@dataclass
class ObjectiveConfig:
    """What a sweep or search optimises, and the budget it must stay within (``recipecc/sweep/objective.py``).

    ``measure``: none (the default: no objective), ``latency`` (median ms at ``threads``, default the fewest
    measured), ``size`` (bytes), ``quality`` (``metric``), or a numeric recipe key such as ``strategy.prune.ratio``;
    of ``stage`` (default: the last one). ``max_drop``: the largest loss of ``metric`` (default: the run's quality
    metric) against the baseline, as a fraction (0.01 = 1 point); a configuration beyond it is infeasible.
    """

    measure: Optional[str] = None
    direction: str = "minimize"
    threads: Optional[int] = None
    stage: Optional[str] = None
    metric: Optional[str] = None
    max_drop: Optional[float] = None


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
    #: what a sweep optimises (sweeps and searches only; a single run ignores it)
    objective: ObjectiveConfig = field(default_factory=ObjectiveConfig)
