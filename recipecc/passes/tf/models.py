"""Architectures the tf backend builds from a name, without pretrained weights (nothing is downloaded).

The digits CNN has the same shape as the paddle one (``recipecc/passes/paddle/models.py``) so the backends can be
compared; its layers have stable names (``stage1_conv1`` ... ``stage4_conv2``, ``fc``) that pruning patterns
match. MobileNet, MobileNetV2 and ResNet50 are ``tf_keras.applications`` with ``weights=None``; every model ends in
logits (no softmax), like the paddle models.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from recipecc.passes.base import PassFailure
from recipecc.passes.tf.common import tf_modules

__all__ = ["build_model", "digits_cnn"]

BASE_FILTERS = (32, 64, 128, 256)
BN_MOMENTUM = 0.9


def digits_cnn(input_shape: Sequence[int], num_classes: int, width: float) -> Any:
    """4 stages of two conv3x3+BN+ReLU (32/64/128/256 x width), 2x2 max-pool while the map is >= 4, GAP, dense."""
    _, keras = tf_modules()
    layers = keras.layers
    inputs = keras.Input(shape=tuple(input_shape), name="image")
    x, size = inputs, int(input_shape[0])
    for index, base in enumerate(BASE_FILTERS, 1):
        filters = max(4, round(base * width))
        for conv in (1, 2):
            x = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"stage{index}_conv{conv}")(x)
            x = layers.BatchNormalization(name=f"stage{index}_bn{conv}")(x)
            x = layers.ReLU(name=f"stage{index}_relu{conv}")(x)
        if size >= 4:
            x = layers.MaxPooling2D(2, name=f"stage{index}_pool")(x)
            size //= 2
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    outputs = layers.Dense(num_classes, name="fc")(x)
    return keras.Model(inputs, outputs, name="digits_cnn")


def build_model(arch: str, input_shape: Sequence[int], num_classes: int, width: float, output_stride: int = 16) -> Any:
    """A freshly initialised Keras model; ``input_shape`` is (H, W, C) as the NHWC data has it.

    Batch-norm moving averages use momentum 0.9 (paddle's default) instead of Keras' 0.99/0.999: the short
    trainings here (a few hundred steps) otherwise leave the moving statistics near their initial values, and the
    converted model, which runs in inference mode, loses tens of points against the training accuracy.
    """
    if arch == "deeplabv3_mnv2":
        from recipecc.passes.tf.segmentation_models import deeplabv3_mobilenet_v2

        if int(input_shape[-1]) != 3:
            raise PassFailure(f"{arch} takes 3-channel images, the data has {input_shape[-1]}")
        model = deeplabv3_mobilenet_v2(input_shape, num_classes, width, output_stride)
    else:
        model = _build(arch, input_shape, num_classes, width)
    _, keras = tf_modules()
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = BN_MOMENTUM
    return model


def _build(arch: str, input_shape: Sequence[int], num_classes: int, width: float) -> Any:
    if arch == "digits_cnn":
        return digits_cnn(input_shape, num_classes, width)
    _, keras = tf_modules()
    height, width_px, channels = (int(d) for d in input_shape)
    if channels != 3:
        raise PassFailure(f"{arch} takes 3-channel images, the data has {channels} (set dataset channels to 3)")
    if min(height, width_px) < 32:
        raise PassFailure(f"{arch} needs inputs of at least 32x32, the data is {height}x{width_px}")
    shape = (height, width_px, channels)
    common = {"weights": None, "input_shape": shape, "classes": num_classes, "classifier_activation": None}
    if arch == "mobilenet_v1":
        return keras.applications.MobileNet(alpha=width, **common)
    if arch == "mobilenet_v2":
        return keras.applications.MobileNetV2(alpha=width, **common)
    if arch == "resnet50":
        if width != 1.0:
            raise PassFailure("resnet50 has no width multiplier: use model.width=1.0")
        return keras.applications.ResNet50(**common)
    raise PassFailure(f"the tf backend cannot build architecture '{arch}'")
