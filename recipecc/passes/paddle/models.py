"""Architectures the paddle backend builds from a name, without pretrained weights (nothing is downloaded)."""

from __future__ import annotations

import zlib  # noqa: F401  - before paddle, see package docstring
from collections.abc import Sequence
from typing import Any

import paddle
from paddle import nn

__all__ = ["DigitsCNN", "build_model", "describe", "prunable_convolutions"]


class DigitsCNN(nn.Layer):  # type: ignore[misc]
    """VGG-style CNN: four stages of two 3x3 conv+BN+ReLU, 2x2 max-pooling between stages, global pooling, FC.

    ``width`` scales the filters (32/64/128/256 at 1.0). Pooling stops once the feature map is 2x2, so the same
    network runs on 8x8 digits (tests) and on upscaled ones (the default recipe). Layers have stable names
    (``stage1.conv1`` ... ``stage4.conv2``, ``fc``) that pruning selectors match against.
    """

    BASE_CHANNELS = (32, 64, 128, 256)

    def __init__(self, in_channels: int, image_size: int, num_classes: int = 10, width: float = 1.0) -> None:
        super().__init__()
        size, cin = image_size, in_channels
        self.stages = []
        for index, base in enumerate(self.BASE_CHANNELS, 1):
            cout = max(4, round(base * width))
            stage = nn.Sequential()
            for conv in (1, 2):
                stage.add_sublayer(f"conv{conv}", nn.Conv2D(cin, cout, 3, padding=1, bias_attr=False))
                stage.add_sublayer(f"bn{conv}", nn.BatchNorm2D(cout))
                stage.add_sublayer(f"relu{conv}", nn.ReLU())
                cin = cout
            if size >= 4:
                stage.add_sublayer("pool", nn.MaxPool2D(2))
                size //= 2
            self.stages.append(self.add_sublayer(f"stage{index}", stage))
        self.pool = nn.AdaptiveAvgPool2D(1)
        self.fc = nn.Linear(cin, num_classes)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        for stage in self.stages:
            x = stage(x)
        return self.fc(paddle.flatten(self.pool(x), 1))


def build_model(
    arch: str, input_shape: Sequence[int], num_classes: int, width: float, output_stride: int = 16
) -> nn.Layer:
    """A freshly initialised model of a registered architecture; ``input_shape`` is (C, H, W)."""
    channels, height, _ = input_shape
    if arch.startswith("yolov3_"):
        from recipecc.passes.paddle.yolov3 import YOLOv3

        if channels != 3:
            raise ValueError(f"{arch} takes 3-channel images, the data has {channels}")
        return YOLOv3(arch.removeprefix("yolov3_"), num_classes, width)
    if arch in ("deeplabv3_mnv2", "fastscnn"):
        from recipecc.passes.paddle.segmentation_models import build_segmentation_model

        if channels != 3:
            raise ValueError(f"{arch} takes 3-channel images, the data has {channels}")
        return build_segmentation_model(arch, num_classes, width, output_stride)
    if arch == "digits_cnn":
        return DigitsCNN(channels, height, num_classes, width)
    from paddle.vision import models

    if channels != 3:
        raise ValueError(f"{arch} takes 3-channel images, the data has {channels}")
    if arch == "mobilenet_v1":
        return models.mobilenet_v1(pretrained=False, scale=width, num_classes=num_classes)
    if arch == "mobilenet_v2":
        return models.mobilenet_v2(pretrained=False, scale=width, num_classes=num_classes)
    if arch == "resnet50":
        if width != 1.0:
            raise ValueError("resnet50 has no width multiplier: use model.width=1.0")
        return models.resnet50(pretrained=False, num_classes=num_classes)
    raise ValueError(f"the paddle backend cannot build architecture '{arch}'")


def prunable_convolutions(model: nn.Layer) -> list[str]:
    """Layer paths of the convolutions filter pruning may select (grouped/depthwise ones follow their producer).

    A model's ``fixed_output_layers`` (a detector's prediction convolutions, whose channels are box coordinates and
    class scores) are never selectable."""
    fixed = set(getattr(model, "fixed_output_layers", ()))
    return [
        path
        for path, layer in model.named_sublayers()
        if isinstance(layer, nn.Conv2D) and layer._groups == 1 and path not in fixed
    ]


def describe(model: nn.Layer, input_shape: Sequence[int]) -> dict[str, Any]:
    """Parameter count and multiply-adds of a model for one input of ``input_shape`` (C, H, W)."""
    from recipecc.passes.quiet import quiet_stdout

    with quiet_stdout():
        flops = paddle.flops(model, [1, *input_shape], print_detail=False)
    params = sum(int(p.numel()) for p in model.parameters())
    return {"params": params, "flops": int(flops)}
