"""The vocabulary a recipe may use: architectures, datasets, runtimes and option choices.

Runtimes are software (what a target's device runs, and what it can load and execute); the hardware is in
``devices.py`` and the combination is checked in ``targets.py``.

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
    "PADDLE_QUANT_ALGOS",
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
    "TFLITE_FILE_RECIPES",
    "Architecture",
    "Conversion",
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
class Conversion:
    """A format step between what the pipeline builds and what the runtime loads, done outside recipecc.

    ``where`` says who runs it: ``device`` (at load time, on the device) or ``toolchain`` (the user's SDK, e.g.
    Paddle Lite's ``opt``, Qualcomm's ``snpe-onnx-to-dlc``). recipecc plans it as a node that records the command
    and never writes the converted file itself.
    """

    tool: str
    from_format: str
    where: str
    command: str
    why: str


@dataclass(frozen=True)
class Runtime:
    """An inference runtime: which backend pipeline builds its models, what it loads and runs, its thread model.

    ``processor`` is the device processor it executes on (cpu | gpu | dsp); ``abis`` the CPU instruction sets it
    has builds for (``native`` = the machine's own); ``thread_model`` is ``cpu`` (``target.threads`` are CPU
    threads) or ``runtime`` (it manages its own parallelism, e.g. a GPU stream: threads must be [1]). ``remote``
    names the benchmark the SSH measurer runs on the device (``recipecc/bench/remote/device_bench.py``), or None
    when it cannot measure this runtime.
    ``conversion`` is set when the runtime loads another format than the pipeline builds.
    """

    name: str
    backend: str
    model_format: str
    precisions: tuple[str, ...]
    processor: str
    description: str
    abis: tuple[str, ...] = ("native",)
    thread_model: str = "cpu"
    remote: str | None = None
    conversion: Conversion | None = None
    #: the version family its published figures / estimator calibration refer to
    label: str = ""


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
        Architecture(
            "yolov3_resnet34", ("paddle",), "detection", "YOLOv3 on ResNet-34; 608x608 unless model.input_size"
        ),
        Architecture(
            "deeplabv3_mnv2",
            ("paddle", "tf"),
            "segmentation",
            "DeepLabv3 with a MobileNetV2 backbone (`width` 0.5 / 1.0, `output_stride` 8 / 16); paddle: the PaddleX "
            "1.x variant (no ASPP, no decoder), tf: TensorFlow DeepLab's (image-pooling ASPP, 256 channels)",
        ),
        Architecture("fastscnn", ("paddle",), "segmentation", "Fast-SCNN (two branches, pyramid pooling, fusion)"),
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
    "segmentation": "a label-map set under dataset.root: VOC, Cityscapes or PaddleSeg file lists (ignore index 255)",
    "shapes_seg": "the generated shapes set's label maps (background + 4 shapes, 255 borders), written on the fly",
}

#: both SNPE runtimes read a .dlc converted from ONNX by the SDK's own tool
_SNPE_CONVERSION = Conversion(
    "snpe-onnx-to-dlc",
    "onnx",
    "toolchain",
    "snpe-onnx-to-dlc --input_network model.onnx --output_path model.dlc",
    "the SNPE SDK is not on any package registry: convert with your SNPE SDK",
)

RUNTIMES: dict[str, Runtime] = {
    r.name: r
    for r in (
        Runtime(
            "paddle_inference",
            "paddle",
            "paddle-inference",
            ("fp32", "int8"),
            "cpu",
            "Paddle Inference on a CPU; oneDNN on x86, with its int8 kernels switched on for int8 models",
            remote="paddle_inference",
            label="Paddle Inference (CPU)",
        ),
        Runtime(
            "paddle_inference_gpu",
            "paddle",
            "paddle-inference",
            ("fp32", "fp16"),
            "gpu",
            "Paddle Inference on a CUDA GPU without TensorRT (int8 needs the TensorRT subgraph engine)",
            thread_model="runtime",
            remote="paddle_inference_gpu",
            label="Paddle Inference (CUDA)",
        ),
        Runtime(
            "paddle_tensorrt",
            "paddle",
            "paddle-inference",
            ("fp32", "fp16", "int8"),
            "gpu",
            "Paddle Inference with the TensorRT subgraph engine on a CUDA GPU (engine built on the device)",
            thread_model="runtime",
            remote="paddle_tensorrt",
            conversion=Conversion(
                "TensorRT engine build",
                "paddle-inference",
                "device",
                "config.enable_tensorrt_engine(precision_mode=...) builds the engine at first load",
                "TensorRT engines are specific to the GPU and TensorRT version: they are built where they run",
            ),
            label="Paddle Inference + TensorRT",
        ),
        Runtime(
            "paddle_lite",
            "paddle",
            "paddle-lite",
            ("fp32", "int8"),
            "cpu",
            "Paddle Lite on ARM CPUs (armv7/armv8 builds), loading naive-buffer (.nb) models",
            abis=("armv7", "armv8"),
            remote="paddle_lite",
            conversion=Conversion(
                "paddle_lite_opt",
                "paddle-inference",
                "toolchain",
                "paddle_lite_opt --model_file=inference.pdmodel --param_file=inference.pdiparams "
                "--valid_targets=arm --optimize_out_type=naive_buffer --optimize_out=model",
                "Paddle Lite's opt has no build for Python 3.11 on this machine: run it with your Paddle Lite "
                "toolchain, or on the device (paddlelite's Python package ships it)",
            ),
            label="Paddle Lite 2.x",
        ),
        Runtime(
            "onnxruntime",
            "onnx",
            "onnx",
            ("fp32", "fp16", "int8"),
            "cpu",
            "ONNX Runtime, CPU execution provider",
            abis=("native", "armv8"),
            remote="onnxruntime",
            label="ONNX Runtime (CPU)",
        ),
        Runtime(
            "tflite",
            "tf",
            "tflite",
            ("fp32", "fp16", "int8"),
            "cpu",
            "TensorFlow Lite interpreter (LiteRT) with the XNNPACK delegate on a CPU",
            abis=("native", "armv7", "armv8"),
            remote="tflite",
            label="TFLite / LiteRT + XNNPACK",
        ),
        Runtime(
            "snpe_cpu",
            "onnx",
            "dlc",
            ("fp32",),
            "cpu",
            "Qualcomm SNPE, CPU runtime (a quantized .dlc runs dequantized there: no int8 kernels)",
            abis=("armv8",),
            conversion=_SNPE_CONVERSION,
            label="SNPE (CPU runtime)",
        ),
        Runtime(
            "snpe_gpu",
            "onnx",
            "dlc",
            ("fp32", "fp16"),
            "gpu",
            "Qualcomm SNPE, GPU runtime (OpenCL on Adreno; fp32 or fp16 storage, no int8 kernels)",
            abis=("armv8",),
            thread_model="runtime",
            conversion=_SNPE_CONVERSION,
            label="SNPE (GPU runtime)",
        ),
    )
}

#: ``auto``: each backend's own (see ``plan/neutral.py``)
PRUNE_CRITERIA = ("auto", "l1_norm", "fpgm", "magnitude")
PRUNE_SCHEDULES = ("constant", "polynomial")
SENSITIVITY_TARGETS = ("flops", "accuracy_loss")
QUANT_MODES = ("ptq_static", "ptq_dynamic", "qat", "fp16")
#: strategy.quant.algo: calibration in framework-neutral words (each backend maps them, plan/neutral.py); search:
#: calibrate with each of the backend's methods, score against fp32, keep the best (ONNX Runtime, Paddle Inference)
QUANT_ALGOS = ("auto", "minmax", "percentile", "entropy", "mse", "search")
#: strategy.quant.paddle.algo: PaddleSlim's own calibration names (quant_post_static(algo=...))
PADDLE_QUANT_ALGOS = ("auto", "avg", "hist", "KL", "mse", "abs_max")
QUANT_BITS = (8, 16)
QUANT_FORMATS = ("qdq", "qoperator")
QUANT_INT_TYPES = ("uint8", "int8")
QUANT_IO_TYPES = ("float", "int8")
#: ai-edge-quantizer recipes for a user's .tflite file (strategy.quant.tflite.recipe)
TFLITE_FILE_RECIPES = ("auto", "static_wi8_ai8", "dynamic_wi8_afp32", "weight_only_wi8_afp32")
FINETUNE_OPTIMIZERS = ("momentum", "adam", "sgd")
LAYOUTS = ("NCHW", "NHWC")
COLORS = ("RGB", "BGR")
FIDELITY_METRICS = ("top1_agreement", "iou", "max_abs_error", "mean_abs_error", "cosine")
GRAPH_OPTIMIZATION_LEVELS = ("disable", "basic", "extended", "all")
TFLITE_DELEGATES = ("xnnpack", "none")
