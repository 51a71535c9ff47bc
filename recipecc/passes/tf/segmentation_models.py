"""DeepLabv3 with a MobileNetV2 backbone in Keras (tf_keras), as TensorFlow DeepLab builds it for mobile.

The backbone is MobileNetV2 with a depth multiplier (0.5 for the reference TFLite study's ``deeplabv3_mnv2_dm05``)
up to its last inverted-residual block (no 1280-channel conv), its last stages dilated instead of strided to keep
``output_stride`` (16 by default). The head is DeepLab's mobile ASPP: an image-pooling branch and a 1x1 branch
of 256 channels, concatenated, projected to 256, a 1x1 classifier, bilinear upsampling to the input size. Output:
(N, H, W, num_classes) logits. At dm 0.5 and 21 classes: ~0.72 M parameters, 2.9 MB as an fp32 ``.tflite``
(the study: 2.8 MB). Built without pretrained weights: nothing is downloaded.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from recipecc.passes.tf.common import tf_modules

__all__ = ["deeplabv3_mobilenet_v2"]

_STAGES = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1))
ASPP_CHANNELS = 256


def _divisible(value: float, divisor: int = 8) -> int:
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


def deeplabv3_mobilenet_v2(
    input_shape: Sequence[int], num_classes: int, width: float = 0.5, output_stride: int = 16
) -> Any:
    """The Keras model for (H, W, 3) inputs."""
    _, keras = tf_modules()
    layers = keras.layers
    height, width_px, _ = (int(d) for d in input_shape)
    inputs = keras.Input(shape=tuple(int(d) for d in input_shape), name="image")

    def conv_bn(x: Any, filters: int, kernel: int, stride: int, name: str, act: bool = True, dilation: int = 1) -> Any:
        x = layers.Conv2D(
            filters, kernel, stride, padding="same", dilation_rate=dilation, use_bias=False, name=f"{name}_conv"
        )(x)
        x = layers.BatchNormalization(name=f"{name}_bn")(x)
        return layers.ReLU(6.0, name=f"{name}_relu")(x) if act else x

    x = conv_bn(inputs, _divisible(32 * width), 3, 2, "stem")
    current, dilation, cin, block = 2, 1, _divisible(32 * width), 0
    for t, c, n, s in _STAGES:
        cout = _divisible(c * width)
        for index in range(n):
            stride = s if index == 0 else 1
            block_dilation = dilation
            if stride > 1 and current >= output_stride:
                dilation, stride = dilation * stride, 1
            elif stride > 1:
                current *= stride
            if index > 0:
                block_dilation = dilation
            name = f"block{block}"
            y = conv_bn(x, cin * t, 1, 1, f"{name}_expand") if t != 1 else x
            y = layers.DepthwiseConv2D(
                3, stride, padding="same", dilation_rate=block_dilation, use_bias=False, name=f"{name}_depthwise"
            )(y)
            y = layers.BatchNormalization(name=f"{name}_depthwise_bn")(y)
            y = layers.ReLU(6.0, name=f"{name}_depthwise_relu")(y)
            y = conv_bn(y, cout, 1, 1, f"{name}_project", act=False)
            x = layers.Add(name=f"{name}_add")([x, y]) if stride == 1 and cin == cout else y
            cin, block = cout, block + 1
    feature_h, feature_w = -(-height // current), -(-width_px // current)
    pooled = layers.GlobalAveragePooling2D(keepdims=True, name="aspp_pool")(x)
    pooled = conv_bn(pooled, ASPP_CHANNELS, 1, 1, "aspp_image")
    # bilinear: the same constant map as nearest from 1x1, but a RESIZE_BILINEAR that XNNPACK takes (nearest is not)
    pooled = layers.UpSampling2D((feature_h, feature_w), interpolation="bilinear", name="aspp_image_upsample")(pooled)
    branch = conv_bn(x, ASPP_CHANNELS, 1, 1, "aspp_1x1")
    x = layers.Concatenate(name="aspp_concat")([pooled, branch])
    x = conv_bn(x, ASPP_CHANNELS, 1, 1, "aspp_project")
    x = layers.Dropout(0.1, name="aspp_dropout")(x)
    x = layers.Conv2D(num_classes, 1, name="logits")(x)
    outputs = layers.Resizing(height, width_px, interpolation="bilinear", name="upsample")(x)
    return keras.Model(inputs, outputs, name="deeplabv3_mnv2")
