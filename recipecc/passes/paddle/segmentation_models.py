"""Segmentation architectures the paddle backend builds (no pretrained weights): DeepLabv3 with a MobileNetV2
backbone and Fast-SCNN.

``DeepLabV3MobileNetV2`` is the variant of the PaddleX 1.x compression table (DeepLabv3p with a MobileNetV2
backbone, whose configuration turns the ASPP encoder and the decoder off for that backbone): MobileNetV2's
inverted-residual features up to its 320-channel stage (no 1280-channel conv), the last stages dilated instead of
strided so the features keep 1/16 (or 1/8) of the input resolution (``output_stride``), then a 1x1 classifier and
a bilinear upsampling to the input size. At width 1.0 and 19 classes: ~1.83 M parameters, 7.3 MB (the table: 7.4 MB).

``FastSCNN`` follows Poudel et al. 2019 (and PaddleSeg's layout): learning-to-downsample (conv + two depthwise-
separable convs, 1/8), a global feature extractor (inverted residuals 64/96/128 at 1/32 + pyramid pooling),
feature fusion of the two branches, a classifier of two depthwise-separable convs and a 1x1 conv, upsampled.

Every model returns (N, num_classes, H, W) logits at the input size. Layer paths are stable
(``features.3.expand``, ``global_features.block2.1.project``) for pruning selectors; residual additions tie the
channels of the layers they add, which PaddleSlim's dependency graph prunes together.
"""

from __future__ import annotations

import zlib  # noqa: F401  - before paddle
from typing import Any

import paddle
import paddle.nn.functional as F
from paddle import nn

__all__ = ["DeepLabV3MobileNetV2", "FastSCNN", "build_segmentation_model"]

#: MobileNetV2's inverted-residual stages: expansion t, output channels c, repeats n, stride s
_MNV2_STAGES = (
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
)


def _divisible(value: float, divisor: int = 8) -> int:
    """Channels rounded as MobileNetV2 does (to a multiple of 8, never below 90% of the value)."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


class ConvBN(nn.Sequential):  # type: ignore[misc]
    def __init__(
        self,
        cin: int,
        cout: int,
        kernel: int = 3,
        stride: int = 1,
        groups: int = 1,
        dilation: int = 1,
        act: bool = True,
    ) -> None:
        padding = (kernel - 1) // 2 * dilation
        layers: list[Any] = [
            nn.Conv2D(cin, cout, kernel, stride, padding, dilation=dilation, groups=groups, bias_attr=False),
            nn.BatchNorm2D(cout),
        ]
        if act:
            layers.append(nn.ReLU6())
        super().__init__(*layers)


class InvertedResidual(nn.Layer):  # type: ignore[misc]
    """MobileNetV2 block: 1x1 expand, 3x3 depthwise (strided or dilated), 1x1 linear projection; residual when the
    shape is kept."""

    def __init__(self, cin: int, cout: int, stride: int, expansion: int, dilation: int = 1) -> None:
        super().__init__()
        hidden = round(cin * expansion)
        self.residual = stride == 1 and cin == cout
        self.expand = ConvBN(cin, hidden, 1) if expansion != 1 else None
        self.depthwise = ConvBN(hidden, hidden, 3, stride, groups=hidden, dilation=dilation)
        self.project = ConvBN(hidden, cout, 1, act=False)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        y = self.expand(x) if self.expand is not None else x
        y = self.project(self.depthwise(y))
        return x + y if self.residual else y


class DeepLabV3MobileNetV2(nn.Layer):  # type: ignore[misc]
    def __init__(self, num_classes: int, width: float = 1.0, output_stride: int = 16) -> None:
        super().__init__()
        if output_stride not in (8, 16, 32):
            raise ValueError(f"output_stride must be 8, 16 or 32, got {output_stride}")
        cin = _divisible(32 * width)
        layers: list[nn.Layer] = [ConvBN(3, cin, 3, 2)]
        current, dilation = 2, 1
        for t, c, n, s in _MNV2_STAGES:
            cout = _divisible(c * width)
            for index in range(n):
                stride = s if index == 0 else 1
                if stride > 1 and current >= output_stride:  # keep the resolution: dilate instead of striding
                    block_dilation, dilation, stride = dilation, dilation * stride, 1
                else:
                    block_dilation = dilation
                    current *= stride
                layers.append(InvertedResidual(cin, cout, stride, t, block_dilation if index == 0 else dilation))
                cin = cout
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Conv2D(cin, num_classes, 1)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        size = x.shape[2:]
        logits = self.classifier(self.features(x))
        return F.interpolate(logits, size=size, mode="bilinear", align_corners=False)


class SeparableConv(nn.Sequential):  # type: ignore[misc]
    """Depthwise 3x3 + BN + ReLU, then pointwise 1x1 + BN + ReLU."""

    def __init__(self, cin: int, cout: int, stride: int = 1) -> None:
        super().__init__(
            nn.Conv2D(cin, cin, 3, stride, 1, groups=cin, bias_attr=False),
            nn.BatchNorm2D(cin),
            nn.ReLU(),
            nn.Conv2D(cin, cout, 1, bias_attr=False),
            nn.BatchNorm2D(cout),
            nn.ReLU(),
        )


class PyramidPooling(nn.Layer):  # type: ignore[misc]
    """Average-pool to 1, 2, 3, 6 bins, 1x1 conv to a quarter of the channels each, upsample, concat, fuse."""

    def __init__(self, channels: int, out_channels: int, bins: tuple[int, ...] = (1, 2, 3, 6)) -> None:
        super().__init__()
        self.bins = bins
        self.stages = nn.LayerList(
            [
                nn.Sequential(
                    nn.Conv2D(channels, channels // 4, 1, bias_attr=False), nn.BatchNorm2D(channels // 4), nn.ReLU()
                )
                for _ in bins
            ]
        )
        self.fuse = nn.Sequential(
            nn.Conv2D(channels + len(bins) * (channels // 4), out_channels, 1, bias_attr=False),
            nn.BatchNorm2D(out_channels),
            nn.ReLU(),
        )

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        size = x.shape[2:]
        pooled = [x]
        for index, bins in enumerate(self.bins):  # no zip(strict=): paddle's dynamic-to-static cannot convert it
            y = self.stages[index](F.adaptive_avg_pool2d(x, bins))
            pooled.append(F.interpolate(y, size=size, mode="bilinear", align_corners=False))
        return self.fuse(paddle.concat(pooled, axis=1))


class FastSCNN(nn.Layer):  # type: ignore[misc]
    def __init__(self, num_classes: int, width: float = 1.0) -> None:
        super().__init__()

        def ch(value: int) -> int:
            return max(8, round(value * width))

        self.downsample = nn.Sequential(
            ConvBN(3, ch(32), 3, 2), SeparableConv(ch(32), ch(48), 2), SeparableConv(ch(48), ch(64), 2)
        )
        blocks: list[nn.Layer] = []
        cin = ch(64)
        for stage, (cout, stride) in enumerate(((ch(64), 2), (ch(96), 2), (ch(128), 1)), 1):
            seq = nn.Sequential(
                *[InvertedResidual(cin if i == 0 else cout, cout, stride if i == 0 else 1, 6) for i in range(3)]
            )
            blocks.append(seq)
            self.add_sublayer(f"block{stage}", seq)
            cin = cout
        self.blocks = blocks
        self.ppm = PyramidPooling(ch(128), ch(128))
        self.fusion_dw = ConvBN(ch(128), ch(128), 3, groups=ch(128))
        self.fusion_low = nn.Sequential(nn.Conv2D(ch(128), ch(128), 1), nn.BatchNorm2D(ch(128)))
        self.fusion_high = nn.Sequential(nn.Conv2D(ch(64), ch(128), 1), nn.BatchNorm2D(ch(128)))
        self.classifier = nn.Sequential(
            SeparableConv(ch(128), ch(128)),
            SeparableConv(ch(128), ch(128)),
            nn.Dropout(0.1),
            nn.Conv2D(ch(128), num_classes, 1),
        )

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        size = x.shape[2:]
        high = self.downsample(x)
        low = high
        for block in self.blocks:
            low = block(low)
        low = self.ppm(low)
        low = F.interpolate(low, size=high.shape[2:], mode="bilinear", align_corners=False)
        fused = F.relu(self.fusion_high(high) + self.fusion_low(self.fusion_dw(low)))
        return F.interpolate(self.classifier(fused), size=size, mode="bilinear", align_corners=False)


def build_segmentation_model(arch: str, num_classes: int, width: float, output_stride: int = 16) -> nn.Layer:
    if arch == "deeplabv3_mnv2":
        return DeepLabV3MobileNetV2(num_classes, width, output_stride)
    if arch == "fastscnn":
        return FastSCNN(num_classes, width)
    raise ValueError(f"the paddle backend cannot build segmentation architecture '{arch}'")
