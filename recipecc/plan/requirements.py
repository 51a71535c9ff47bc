"""What a model built by a framework needs from the recipe, stated once for every pipeline that builds it.

The paddle pipeline trains paddle networks; the onnx pipeline trains the same paddle networks (or Keras ones) and
converts them. Both must give the network the data it takes: the right layout, channel count and a large enough
image. Before this module each pipeline worked that out in its own branch and the onnx one drifted (MobileNetV1
received 1-channel digits and failed at ``paddle.train``). Now a pipeline asks :func:`model_input` what the model
takes and :func:`data_node` builds the data step from that answer, checking the recipe against it at plan time.

:func:`check_strategy_carried` is the other half of "a plan either runs or is refused": every strategy section a
recipe sets (prune, sensitivity, quant, search) must be carried out by a node of the plan. A pipeline that has no
step for a section refuses the recipe here instead of silently benchmarking the baseline.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from recipecc.plan.builder import PlanBuilder
from recipecc.plan.data_detection import DETECTION_DATASETS
from recipecc.plan.data_segmentation import SEGMENTATION_DATASETS
from recipecc.recipe.declared_input import declared_input_shape
from recipecc.recipe.errors import RecipeError
from recipecc.recipe.files import model_files
from recipecc.recipe.schema import ModelConfig, RecipeConfig

__all__ = ["STRATEGY_SECTIONS", "ModelInput", "check_strategy_carried", "data_node", "model_input", "warn_untrained"]

#: architectures that take colour images and downsample 32x (ImageNet-style stems and heads)
_IMAGENET_ARCHS = ("mobilenet_v1", "mobilenet_v2", "resnet50")
#: segmentation architectures: colour images, downsampled 32x at most (then upsampled back)
_SEGMENTATION_ARCHS = ("deeplabv3_mnv2", "fastscnn")
#: detection architectures: colour images, downsampled 32x (their deepest head level)
_DETECTION_ARCHS = ("yolov3_mobilenet_v1", "yolov3_resnet34")
#: architectures without a width multiplier (both frameworks refuse model.width != 1 for them)
_FIXED_WIDTH = ("resnet50", "yolov3_resnet34")
#: channel counts that mark an axis of a declared 4-d input as the image's channels
_IMAGE_CHANNELS = (1, 3, 4)
#: the strategy sections a plan node must carry out when set (``finetune`` is part of prune, and says when skipped)
STRATEGY_SECTIONS = ("prune", "sensitivity", "quant", "search")


@dataclass(frozen=True)
class ModelInput:
    """The input a model takes, as the framework that builds or reads it lays it out."""

    framework: str
    layout: str
    #: None: the network is built for whatever channel count the data has (the digits CNN)
    channels: int | None
    #: the smallest image side the network accepts (its total downsampling)
    min_size: int
    #: the square image side a model file fixes in its own input signature (the default data is made that size)
    size: int | None = None
    #: the input shape the model file declares, when it declares one (shown in the plan)
    declared: tuple[int | None, ...] | None = None
    #: the data is made as ``declared`` says (Keras files); a .tflite file the data does not fit is fed seeded
    #: inputs shaped like its own instead (the tflite runner and ai-edge-quantizer's calibration do that)
    data_follows: bool = True

    @property
    def spatial(self) -> tuple[int | None, ...]:
        """The (height, width) the file declares (None where free), or () when it declares no shape."""
        if self.declared is None or len(self.declared) != 4:
            return ()
        return self.declared[1:3] if self.layout == "NHWC" else self.declared[2:4]

    def describe(self) -> str:
        channels = "any channel count" if self.channels is None else f"{self.channels} channel"
        plural = "s" if (self.channels or 1) > 1 else ""
        if self.declared is not None:
            shape = ", ".join("N" if d is None else str(d) for d in self.declared)
            return f"{self.layout}, {channels}{plural}, declared by the file as [{shape}]"
        return f"{self.layout}, {channels}{plural}, at least {self.min_size}px"


def model_input(model: ModelConfig, framework: str, layout: str | None = None) -> ModelInput:
    """What ``model`` takes when ``framework`` (paddle | tf | onnx) builds or reads it.

    Built architectures: the digits CNN is built for the data's channels (grey scans from the digits data), the
    ImageNet ones take colour images of at least 32x32.
    A user's file: its ``model.input_shape`` when given (channels at index 1 for NCHW, last for NHWC), else what a
    Keras file (``.keras``, ``.h5``) declares (its channels, and its size when square), else the framework's
    convention (3 channels for paddle inference models, 1 for other tf files). A Paddle inference program's feed
    shape decides likewise (NCHW: its channels, and its size when square), and so does an ONNX file's first input
    (NCHW or NHWC, whichever axis holds the channels). A ``.tflite`` file the default data
    cannot feed is measured on inputs shaped like its own (the tflite runner), so it keeps the convention here.
    ``layout`` overrides the framework's (``dataset.layout`` for an ONNX file); a file's declared layout wins.
    """
    layout = layout or ("NHWC" if framework == "tf" else "NCHW")
    shape = model.input_shape if model.input_shape and len(model.input_shape) == 4 else None
    if model.arch == "file":
        if shape is not None:
            channels = int(shape[-1] if layout == "NHWC" else shape[1])
        elif framework == "paddle" and (declared := _declared_paddle_input(model)) is not None:
            height, width = declared[2], declared[3]
            size = height if height is not None and height == width else None
            return ModelInput(framework, layout, declared[1], 1, size, tuple(declared))
        elif framework == "onnx" and (onnx_declared := _declared_onnx_input(model)) is not None:
            onnx_layout, declared = onnx_declared
            channel_axis, spatial = (1, declared[2:4]) if onnx_layout == "NCHW" else (3, declared[1:3])
            size = spatial[0] if spatial[0] is not None and spatial[0] == spatial[1] else None
            return ModelInput(framework, onnx_layout, declared[channel_axis], 1, size, tuple(declared))
        elif framework == "tf" and (declared := _declared_tf_input(model)) is not None:
            if str(model.path).lower().endswith(".tflite"):  # its own channel count (an image folder is colour)
                channels = declared[3] if declared[3] in _IMAGE_CHANNELS else 1
                return ModelInput(framework, layout, channels, 1, None, tuple(declared), data_follows=False)
            height, width, channels = declared[1], declared[2], declared[3] or 1
            size = height if height is not None and height == width else None
            return ModelInput(framework, layout, channels, 1, size, tuple(declared))
        else:
            channels = 3 if framework == "paddle" else 1
        return ModelInput(framework, layout, channels, 1)
    imagenet = model.arch in _IMAGENET_ARCHS or model.arch in _SEGMENTATION_ARCHS or model.arch in _DETECTION_ARCHS
    return ModelInput(framework, layout, 3 if imagenet else None, 32 if imagenet else 8)


def _declared_paddle_input(model: ModelConfig) -> list[int | None] | None:
    """The NCHW input shape a Paddle inference program declares, when it fixes the channel count."""
    if model.path is None:
        return None
    path = Path(model.path).expanduser()
    if path.is_dir():
        path = next((f for f in model_files(path) if f.suffix == ".pdmodel" or f.name == "__model__"), path)
    if path.suffix.lower() != ".pdmodel" and path.name != "__model__":
        return None
    declared = declared_input_shape(path)
    return declared if declared is not None and len(declared) == 4 and declared[1] is not None else None


def _declared_onnx_input(model: ModelConfig) -> tuple[str, list[int | None]] | None:
    """The layout and image input shape an ONNX file declares, when it fixes a channel count of 1, 3 or 4.

    ONNX has no layout attribute: converted Keras/TFLite models keep NHWC, the rest are NCHW. The axis holding a
    fixed 1, 3 or 4 decides (NCHW when both could be, e.g. a 3x3 image); anything else is left to the conventions.
    """
    if model.path is None or Path(model.path).suffix.lower() != ".onnx":
        return None
    declared = declared_input_shape(model.path)
    if declared is None or len(declared) != 4:
        return None
    if declared[1] in _IMAGE_CHANNELS:
        return "NCHW", declared
    if declared[3] in _IMAGE_CHANNELS:
        return "NHWC", declared
    return None


def _declared_tf_input(model: ModelConfig) -> list[int | None] | None:
    """The NHWC input shape a Keras or .tflite file declares (None for other files, or when it declares none)."""
    if model.path is None or Path(model.path).suffix.lower() not in (".keras", ".h5", ".tflite"):
        return None
    declared = declared_input_shape(model.path)
    return declared if declared is not None and len(declared) == 4 else None


def _require_colour(need: ModelInput, who: str, dataset: str, valid: str = "a model that takes colour images") -> None:
    """Refuse a model that does not take the colour (3-channel) images ``dataset`` gives."""
    if need.channels not in (None, 3):
        raise RecipeError(
            f"{who} takes {need.channels}-channel images; dataset '{dataset}' gives colour (3-channel) images",
            key="dataset",
            value=dataset,
            valid=valid,
        )


def data_node(b: PlanBuilder, need: ModelInput) -> str:
    """The data step in the layout and channel count ``need`` states, after checking the recipe's data fits."""
    recipe = b.recipe
    data, arch = recipe.dataset, recipe.model.arch
    who = f"{arch} ({need.framework})" if arch != "file" else f"the {need.framework} model file"
    if arch in _FIXED_WIDTH and recipe.model.width != 1.0:
        raise RecipeError(
            f"{arch} has no width multiplier, model.width is {recipe.model.width}",
            key="model.width",
            value=recipe.model.width,
            valid="1.0 (mobilenet_v1 / mobilenet_v2 take other widths)",
        )
    imagenet = arch in _IMAGENET_ARCHS
    if data.name in DETECTION_DATASETS:  # colour images resized to the detector's square input
        _require_colour(need, who, data.name)
        if b.input_size < need.min_size or b.input_size % 32:
            raise RecipeError(
                f"{who} needs a square input that is a multiple of 32, model.input_size is {b.input_size}",
                key="model.input_size",
                value=b.input_size,
                valid="a multiple of 32, e.g. 320, 416, 608",
            )
        node = b.dataset(need.layout, channels=3)
        b.check(
            "input", "ok", f"{data.name}: {need.layout}, 3 channels, {b.input_size}x{b.input_size}: what {who} takes"
        )
        return node
    if data.name in SEGMENTATION_DATASETS:  # colour images at model.input_size / dataset.size (checked there)
        _require_colour(need, who, data.name)
        node = b.dataset(need.layout, channels=3)
        b.check("input", "ok", f"{data.name}: {need.layout}, 3 channels (RGB label-map set): what {who} takes")
        return node
    if data.name == "digits":
        if data.image_size < need.min_size:
            raise RecipeError(
                f"{who} needs inputs of at least {need.min_size}x{need.min_size}, dataset.image_size is "
                f"{data.image_size}",
                key="dataset.image_size",
                value=data.image_size,
                valid=f"dataset.image_size >= {need.min_size}" + (" (224 for the ImageNet models)" if imagenet else ""),
            )
        if need.declared is not None and not need.data_follows:
            digits = [data.image_size, data.image_size, 1]
            if any(want is not None and want != have for want, have in zip(need.declared[1:], digits, strict=False)):
                node = b.dataset(need.layout)
                b.check(
                    "input",
                    "warn",
                    f"{who} takes {need.describe().split('as ')[-1]}, the digits data are {data.image_size}x"
                    f"{data.image_size}x1: it is fed seeded random inputs shaped like its own (no quality figure); "
                    "give images it takes with dataset=image_folder dataset.root=DIR dataset.size=[H, W]",
                )
                return node
        fixed = need.spatial if need.data_follows else ()
        if need.size is None and any(d is not None for d in fixed):
            raise RecipeError(
                f"{who} declares inputs of {need.describe().split('as ')[-1]}; the digits data are square images "
                "of one free size",
                key="dataset",
                value=data.name,
                valid=f"dataset=image_folder dataset.root=DIR dataset.size=[{fixed[0] or 'H'}, {fixed[1] or 'W'}]",
            )
        channels = need.channels or 1
        size = f"{need.size or data.image_size}x{need.size or data.image_size}"
        origin = "grey scans" + (f" replicated to {channels} channels" if channels != 1 else "")
        if need.size is not None and need.size != data.image_size:  # the file fixes its input size
            origin += f"; the file's {size}, not dataset.image_size {data.image_size}"
    else:  # image_folder: colour images, resized to dataset.size
        channels = 3
        _require_colour(
            need, who, data.name, "dataset=digits for a 1-channel model, or a model that takes colour images"
        )
        if data.size is None:
            raise RecipeError(
                f"dataset.size is required for {data.name}: the input [H, W] of {who}",
                key="dataset.size",
                valid="[H, W], e.g. [224, 224]",
            )
        if min(data.size) < need.min_size:
            raise RecipeError(
                f"{who} needs inputs of at least {need.min_size}x{need.min_size}, dataset.size is {list(data.size)}",
                key="dataset.size",
                value=list(data.size),
                valid=f"both sizes >= {need.min_size}",
            )
        fixed = need.spatial
        if any(want is not None and want != have for want, have in zip(fixed, data.size, strict=False)):
            raise RecipeError(
                f"{who} declares inputs of {need.describe().split('as ')[-1]}, dataset.size is {list(data.size)}",
                key="dataset.size",
                value=list(data.size),
                valid=f"[{fixed[0]}, {fixed[1]}] (the file's own input size)",
            )
        size, origin = "x".join(str(v) for v in data.size), f"{data.color} images"
    node = b.dataset(need.layout, channels=channels, image_size=need.size)
    given = f"{channels} channel{'s' if channels > 1 else ''} ({origin})"
    b.check("input", "ok", f"{data.name}: {need.layout} {size}, {given}: what {who} takes ({need.describe()})")
    return node


def warn_untrained(b: PlanBuilder) -> None:
    """Say that a network built here with ``model.train.epochs=0`` keeps random weights (every framework alike)."""
    model = b.recipe.model
    if model.arch != "file" and model.path is None and model.train.epochs == 0:
        b.check(
            "model",
            "warn",
            f"{model.arch} is untrained (model.train.epochs=0, random weights): accuracy is meaningless, "
            "compare the stages by fidelity (top1_agreement) and by size and latency",
        )


def _set_sections(recipe: RecipeConfig) -> list[str]:
    strategy = recipe.strategy
    return [name for name in STRATEGY_SECTIONS if getattr(strategy, name) is not None]


def check_strategy_carried(b: PlanBuilder, capable_targets: list[str]) -> None:
    """Refuse a recipe whose strategy sets a section no node of the plan carries out (never drop one silently)."""
    recipe = b.recipe
    dropped = [name for name in _set_sections(recipe) if name not in b.carried]
    if not dropped:
        return
    target = recipe.target
    what = ", ".join(f"strategy.{name}" for name in dropped)
    raise RecipeError(
        f"target '{target.name}' ({target.runtime}) cannot carry out {what} of strategy '{recipe.strategy.name}': "
        f"its pipeline has no step for it, and running without it would not be the recipe",
        key=f"strategy.{dropped[0]}",
        value=recipe.strategy.name,
        valid=f"a target that runs it ({', '.join(capable_targets) or 'none shipped'}), or a strategy without {what}",
    )
