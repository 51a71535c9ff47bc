"""Architectures the paddle backend builds from a name, without pretrained weights (nothing is downloaded)."""

from __future__ import annotations

import zlib  # noqa: F401  - before paddle, see package docstring
from collections.abc import Sequence
from typing import Any

import paddle
from paddle import nn

__all__ = ["DigitsCNN", "build_model"]


class DigitsCNN(nn.Layer):  # type: ignore[misc]
    """VGG-style CNN: four stages of two 3x3 conv+BN+ReLU, 2x2 max-pooling between stages, global pooling, FC.

    ``width`` scales the filters (32/64/128/256 at 1.0). Pooling stops once the feature map is 2x2, so the same
    network runs on 8x8 digits (tests) and on upscaled ones (the default recipe).
    """

    BASE_CHANNELS = (32, 64, 128, 256)

    def __init__(self, in_channels: int, image_size: int, num_classes: int = 10, width: float = 1.0) -> None:
        super().__init__()
        layers: list[nn.Layer] = []
        size, cin = image_size, in_channels
        for base in self.BASE_CHANNELS:
            cout = max(4, round(base * width))
            for _ in range(2):
                layers += [nn.Conv2D(cin, cout, 3, padding=1, bias_attr=False), nn.BatchNorm2D(cout), nn.ReLU()]
                cin = cout
            if size >= 4:
                layers.append(nn.MaxPool2D(2))
                size //= 2
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2D(1)
        self.fc = nn.Linear(cin, num_classes)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        return self.fc(paddle.flatten(self.pool(self.features(x)), 1))


def build_model(arch: str, input_shape: Sequence[int], num_classes: int, width: float) -> nn.Layer:
    """A freshly initialised model of a registered architecture; ``input_shape`` is (C, H, W)."""
    if arch == "digits_cnn":
        channels, height, _ = input_shape
        return DigitsCNN(channels, height, num_classes, width)
    raise ValueError(f"the paddle backend cannot build architecture '{arch}'")


def describe(model: nn.Layer, input_shape: Sequence[int]) -> dict[str, Any]:
    """Parameter count and multiply-adds of a model for one input of ``input_shape`` (C, H, W)."""
    from recipecc.passes.paddle.quiet import quiet_stdout

    with quiet_stdout():
        flops = paddle.flops(model, [1, *input_shape], print_detail=False)
    params = sum(int(p.numel()) for p in model.parameters())
    return {"params": params, "flops": int(flops)}
