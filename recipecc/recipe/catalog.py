"""The vocabulary a recipe may use: architectures, datasets, runtimes and option choices.

This is data, not code: names and capabilities, so that validation and planning can answer without importing a
backend. Backends implement what is declared here (``recipecc/passes/<backend>``); a test checks both agree.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "ARCHITECTURES",
    "COLORS",
    "DATASETS",
    "FIDELITY_METRICS",
    "FINETUNE_OPTIMIZERS",
    "GRAPH_OPTIMIZATION_LEVELS",
    "LAYOUTS",
    "MODEL_FORMATS",
    "PRUNE_CRITERIA",
    "PRUNE_SCHEDULES",
    "QUANT_ALGOS",
    "QUANT_BITS",
    "QUANT_FORMATS",
    "QUANT_INT_TYPES",
    "QUANT_IO_TYPES",
    "QUANT_MODES",
    "RUNTIMES",
    "SENSITIVITY_TARGETS",
    "TFLITE_DELEGATES",
    "Architecture",
    "Runtime",
]


@dataclass(frozen=True)
class Architecture:
    """A model the pipeline can build (without pretrained weights: nothing is downloaded).

    ``frameworks`` lists the frameworks that can build it, the first being the default.
    """

    name: str
    frameworks: tuple[str, ...]
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
    #: how latency is obtained: "measured-host" (run here), "estimated" (no such device here), "on-device" (only
    #: by running recipecc on that device: plan-only here)
    latency_source: str = "measured-host"


ARCHITECTURES: dict[str, Architecture] = {
    a.name: a
    for a in (
        Architecture(
            "digits_cnn",
            ("paddle", "tf"),
            "classification",
            "VGG-style CNN for 1-channel digits (4 stages of 2 convs); `width` scales the filters",
        ),
        Architecture("mobilenet_v1", ("paddle", "tf"), "classification", "MobileNetV1; `width` is its scale/alpha"),
        Architecture("mobilenet_v2", ("paddle", "tf"), "classification", "MobileNetV2; `width` is its scale/alpha"),
        Architecture("resnet50", ("paddle", "tf"), "classification", "ResNet-50"),
        Architecture(
            "yolov3_mobilenet_v1",
            ("paddle",),
            "detection",
            "YOLOv3 (PaddleDetection's FPN neck and head) on MobileNetV1; 608x608 unless model.input_size; "
            "`width` scales backbone and neck",
        ),
        Architecture("yolov3_resnet34", ("paddle",), "detection", "YOLOv3 on ResNet-34; 608x608 unless model.input_size"),
    )
}

#: formats a user's model file can have (``model.arch=file``), and the framework that reads each
MODEL_FORMATS: dict[str, str] = {
    "paddle": "paddle",  # inference model: *.pdmodel + *.pdiparams (folder or the .pdmodel file)
    "paddle_dygraph": "paddle",  # *.pdparams checkpoint of a named architecture
    "onnx": "onnx",
    "tflite": "tf",
    "savedmodel": "tf",
    "keras": "tf",  # .keras / .h5
}

DATASETS: dict[str, str] = {
    "digits": "scikit-learn's handwritten digits (1,797 real 8x8 images, 10 classes), upscaled to image_size",
    "image_folder": "a folder of jpg/png images (recursively); labelled when its sub-folders name the classes",
    "shapes_voc": "the generated shapes set (4 classes, boxes) written and read as Pascal VOC; or dataset.root=VOC",
    "shapes_coco": "the generated shapes set (4 classes, boxes) written and read as COCO; or dataset.root=COCO",
    "voc": "a Pascal VOC detection set under dataset.root (Annotations, JPEGImages, ImageSets/Main/<split>.txt)",
    "coco": "a COCO detection set under dataset.root (annotations/instances_<split>.json + images)",
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
        Runtime(
            "onnxruntime",
            "onnx",
            "onnx",
            ("fp32", "fp16", "int8"),
            "cpu",
            "ONNX Runtime CPU execution provider on the host",
        ),
        Runtime(
            "tflite",
            "tf",
            "tflite",
            ("fp32", "fp16", "int8"),
            "cpu",
            "TensorFlow Lite interpreter (ai-edge-litert) with the XNNPACK delegate on the host CPU",
        ),
        Runtime(
            "tflite_rpi3",
            "tf",
            "tflite",
            ("fp32", "fp16", "int8"),
            "rpi3",
            "TensorFlow Lite (LiteRT, XNNPACK) on a Raspberry Pi 3 (Cortex-A53): planned here, measured only there",
            latency_source="on-device",
        ),
    )
}

PRUNE_CRITERIA = ("l1_norm", "fpgm", "magnitude")
PRUNE_SCHEDULES = ("constant", "polynomial")
SENSITIVITY_TARGETS = ("flops", "accuracy_loss")
QUANT_MODES = ("ptq_static", "ptq_dynamic", "qat", "fp16")
QUANT_ALGOS = ("avg", "hist", "KL", "mse", "abs_max", "minmax", "entropy", "percentile")
QUANT_BITS = (8, 16)
QUANT_FORMATS = ("qdq", "qoperator")
QUANT_INT_TYPES = ("uint8", "int8")
QUANT_IO_TYPES = ("float", "int8")
FINETUNE_OPTIMIZERS = ("momentum", "adam", "sgd")
LAYOUTS = ("NCHW", "NHWC")
COLORS = ("RGB", "BGR")
FIDELITY_METRICS = ("top1_agreement", "iou", "max_abs_error", "mean_abs_error", "cosine")
GRAPH_OPTIMIZATION_LEVELS = ("disable", "basic", "extended", "all")
TFLITE_DELEGATES = ("xnnpack", "none")
