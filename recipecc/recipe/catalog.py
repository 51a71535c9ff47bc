"""The vocabulary a recipe may use: architectures, datasets, runtimes and option choices.

This is data, not code: names and capabilities, so that validation and planning can answer without importing a
backend. Backends implement what is declared here (``recipecc/passes/<backend>``); a test checks both agree.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "ARCHITECTURES",
    "DATASETS",
    "FINETUNE_OPTIMIZERS",
    "PRUNE_CRITERIA",
    "QUANT_ALGOS",
    "QUANT_BITS",
    "QUANT_MODES",
    "RUNTIMES",
    "Architecture",
    "Runtime",
]


@dataclass(frozen=True)
class Architecture:
    """A model the pipeline can build (without pretrained weights: nothing is downloaded)."""

    name: str
    backend: str
    task: str
    description: str


@dataclass(frozen=True)
class Runtime:
    """An inference runtime a target runs, and what it can execute."""

    name: str
    backend: str
    model_format: str
    precisions: tuple[str, ...]
    device: str
    description: str
    #: how latency is obtained: "measured-host" (run here) or "estimated" (no such device here).
    latency_source: str = "measured-host"


ARCHITECTURES: dict[str, Architecture] = {
    a.name: a
    for a in (
        Architecture(
            "digits_cnn",
            "paddle",
            "classification",
            "VGG-style CNN for 1-channel digits (4 stages of 2 convs); `width` scales the filters",
        ),
    )
}

DATASETS: dict[str, str] = {
    "digits": "scikit-learn's handwritten digits (1,797 real 8x8 images, 10 classes), upscaled to image_size",
}

RUNTIMES: dict[str, Runtime] = {
    r.name: r
    for r in (
        Runtime(
            "paddle_inference",
            "paddle",
            "paddle-inference",
            ("fp32", "int8"),
            "cpu",
            "Paddle Inference on the host CPU; oneDNN, with its int8 kernels switched on for int8 models",
        ),
        Runtime(
            "paddle_inference_gpu",
            "paddle",
            "paddle-inference",
            ("fp32", "fp16"),
            "cuda",
            "Paddle Inference on a CUDA GPU without TensorRT (int8 needs the TensorRT subgraph engine)",
        ),
    )
}

PRUNE_CRITERIA = ("l1_norm", "fpgm")
QUANT_MODES = ("ptq_static",)
QUANT_ALGOS = ("avg", "hist", "KL", "mse", "abs_max")
QUANT_BITS = (8, 16)
FINETUNE_OPTIMIZERS = ("momentum", "adam", "sgd")
