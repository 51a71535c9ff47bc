"""Small ONNX models built with onnx.helper for the tests (random weights; nothing is downloaded)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def conv_model(path: Path, *, opset: int = 11, size: int = 16, classes: int = 2, dynamic: bool = True) -> Path:
    """Conv-ReLU-Conv-ReLU-GlobalAveragePool-Flatten-Gemm on [N, 3, size, size], N dynamic if ``dynamic``."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.RandomState(0)

    def weight(name: str, *shape: int) -> onnx.TensorProto:
        return numpy_helper.from_array((rng.randn(*shape) * 0.2).astype(np.float32), name)

    batch: str | int = "batch" if dynamic else 1
    nodes = [
        helper.make_node("Conv", ["image", "w1", "b1"], ["c1"], name="stem/conv", pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"], name="stem/relu"),
        helper.make_node("Conv", ["r1", "w2", "b2"], ["c2"], name="block1/conv", pads=[1, 1, 1, 1], strides=[2, 2]),
        helper.make_node("Relu", ["c2"], ["r2"], name="block1/relu"),
        helper.make_node("GlobalAveragePool", ["r2"], ["p"], name="head/pool"),
        helper.make_node("Flatten", ["p"], ["f"], name="head/flatten"),
        helper.make_node("Gemm", ["f", "wfc", "bfc"], ["logits"], name="head/fc", transB=1),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny_conv",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, [batch, 3, size, size])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [batch, classes])],
        [
            weight("w1", 16, 3, 3, 3),
            weight("b1", 16),
            weight("w2", 32, 16, 3, 3),
            weight("b2", 32),
            weight("wfc", classes, 32),
            weight("bfc", classes),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], producer_name="recipecc-tests")
    model.ir_version = 7
    onnx.checker.check_model(model)
    onnx.save_model(model, str(path))
    return path


def matmul_model(path: Path, *, features: int = 32) -> Path:
    """MatMul-Relu-MatMul on [N, features]: a transformer-style (MatMul-heavy) graph."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.RandomState(1)
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["x", "w1"], ["h"], name="mlp/fc1"),
            helper.make_node("Relu", ["h"], ["a"], name="mlp/act"),
            helper.make_node("MatMul", ["a", "w2"], ["y"], name="mlp/fc2"),
        ],
        "mlp",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", features])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 4])],
        [
            numpy_helper.from_array(rng.randn(features, 64).astype(np.float32), "w1"),
            numpy_helper.from_array(rng.randn(64, 4).astype(np.float32), "w2"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 7
    onnx.save_model(model, str(path))
    return path


def two_head_model(path: Path, *, size: int = 32) -> Path:
    """A text-detector-like model with two outputs: a probability map (sigmoid, [N, 1, size, size]) and class
    scores ([N, 4]), from one conv trunk; dynamic batch, opset 13."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.RandomState(1)

    def weight(name: str, *shape: int, scale: float = 0.3) -> onnx.TensorProto:
        return numpy_helper.from_array((rng.randn(*shape) * scale).astype(np.float32), name)

    nodes = [
        helper.make_node("Conv", ["image", "w1", "b1"], ["c1"], name="trunk/conv1", pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"], name="trunk/relu1"),
        helper.make_node("Conv", ["r1", "w2", "b2"], ["c2"], name="trunk/conv2", pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c2"], ["r2"], name="trunk/relu2"),
        helper.make_node("Conv", ["r2", "wmap", "bmap"], ["m"], name="map/conv"),
        helper.make_node("Sigmoid", ["m"], ["prob_map"], name="map/sigmoid"),
        helper.make_node("GlobalAveragePool", ["r2"], ["p"], name="cls/pool"),
        helper.make_node("Flatten", ["p"], ["f"], name="cls/flatten"),
        helper.make_node("Gemm", ["f", "wfc", "bfc"], ["scores"], name="cls/fc", transB=1),
    ]
    graph = helper.make_graph(
        nodes,
        "two_heads",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["batch", 3, size, size])],
        [
            helper.make_tensor_value_info("prob_map", TensorProto.FLOAT, ["batch", 1, size, size]),
            helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["batch", 4]),
        ],
        [
            weight("w1", 16, 3, 3, 3),
            weight("b1", 16, scale=0.05),
            weight("w2", 16, 16, 3, 3),
            weight("b2", 16, scale=0.05),
            weight("wmap", 1, 16, 1, 1),
            numpy_helper.from_array(np.array([-0.5], np.float32), "bmap"),
            weight("wfc", 4, 16),
            weight("bfc", 4, scale=0.05),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def dense_map_model(path: Path, *, size: int = 64, channels: int = 8, gain: float = 1.5) -> Path:
    """A dense-prediction net (probability map [N, 1, size, size]) whose activations have a long tail.

    Conv -> x*gain -> Exp -> Conv -> Sigmoid: the Exp output is log-normal, like the rare large activations of real
    detectors, so MinMax calibration spends the uint8 range on a few outliers and the map falls apart (IoU ~0.1 of
    the thresholded map), while Entropy / Percentile calibration clip the tail and keep it: the failure shape of a
    PP-OCR text detector under default ORT calibration, in a file of a few KB.
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.RandomState(0)

    def weight(name: str, *shape: int, scale: float) -> onnx.TensorProto:
        return numpy_helper.from_array((rng.randn(*shape) * scale).astype(np.float32), name)

    nodes = [
        helper.make_node("Conv", ["image", "w1", "b1"], ["c1"], name="backbone/conv", pads=[1, 1, 1, 1]),
        helper.make_node("Mul", ["c1", "gain"], ["s1"], name="backbone/gain"),
        helper.make_node("Exp", ["s1"], ["e1"], name="backbone/exp"),
        helper.make_node("Conv", ["e1", "w2", "b2"], ["c2"], name="head/conv", pads=[1, 1, 1, 1]),
        helper.make_node("Sigmoid", ["c2"], ["prob"], name="head/sigmoid"),
    ]
    graph = helper.make_graph(
        nodes,
        "dense_map",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["batch", 3, size, size])],
        [helper.make_tensor_value_info("prob", TensorProto.FLOAT, ["batch", 1, size, size])],
        [
            weight("w1", channels, 3, 3, 3, scale=0.3),
            numpy_helper.from_array(np.zeros(channels, np.float32), "b1"),
            numpy_helper.from_array(np.array(gain, np.float32), "gain"),
            weight("w2", 1, channels, 3, 3, scale=0.2),
            numpy_helper.from_array(np.array([-1.0], np.float32), "b2"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="recipecc-tests")
    model.ir_version = 7
    onnx.checker.check_model(model)
    onnx.save_model(model, str(path))
    return path
