"""ONNX backend passes (onnx, ONNX Runtime); they run in the onnx worker process, except the paddle2onnx
conversion, which needs paddle and so runs in the paddle worker."""

from __future__ import annotations

from recipecc.plan.spec import PassSpec

_TOOLS = ("onnx", "onnxruntime", "numpy")

SPECS = (
    PassSpec(
        "onnx.load",
        "onnx",
        "recipecc.passes.onnx.load:run",
        "onnx",
        "Copy a user's ONNX file (with external data) into the cache, fix dynamic input dims, record its I/O, "
        "parameters and multiply-adds",
        _TOOLS,
        version=2,
    ),
    PassSpec(
        "paddle.to_onnx",
        "paddle",
        "recipecc.passes.paddle.to_onnx:run",
        "onnx",
        "Convert a Paddle inference model (fp32, or PTQ in onnx_format) to ONNX with paddle2onnx",
        ("paddlepaddle", "paddle2onnx", "numpy"),
    ),
    PassSpec(
        "tf.to_onnx",
        "tf",
        "recipecc.passes.onnx.from_keras:run",
        "onnx",
        "Convert a Keras model (NHWC input kept) to ONNX with tf2onnx",
        ("tensorflow", "tf-keras", "tf2onnx", "onnx"),
        version=2,
    ),
    PassSpec(
        "onnx.opset_upgrade",
        "onnx",
        "recipecc.passes.onnx.opset:run",
        "onnx",
        "Upgrade the model's default-domain opset (onnx.version_converter); a recorded no-op when already new enough",
        _TOOLS,
    ),
    PassSpec(
        "onnx.shape_prep",
        "onnx",
        "recipecc.passes.onnx.prep:run",
        "onnx",
        "Quantization pre-processing (quant_pre_process): shape inference, falling back to skip_symbolic_shape",
        (*_TOOLS, "sympy"),
    ),
    PassSpec(
        "onnx.quantize",
        "onnx",
        "recipecc.passes.onnx.quantize:run",
        "onnx",
        "ONNX Runtime quantization: static QDQ/QOperator (calibrated), dynamic, or fp16 conversion",
        _TOOLS,
        version=4,  # 2, 3: the calibration methods (also the search's candidates) in ORT's words (MinMax, ...); 4: the
        # calibration search times its 3 best-scoring candidates only
    ),
    PassSpec(
        "onnx.prune",
        "onnx",
        "recipecc.passes.onnx.prune:run",
        "onnx",
        "Unstructured magnitude pruning of Conv/Gemm/MatMul weights to a sparsity ratio (zeros stay in the file)",
        _TOOLS,
    ),
    PassSpec(
        "onnx.bench",
        "onnx",
        "recipecc.bench.runners.onnxruntime:run",
        "benchmark",
        "The task's metric / fidelity on the held-out split, size on disk, latency median/p90 per thread count "
        "(ONNX Runtime; every input and output)",
        _TOOLS,
        version=4,  # 3: CPU time / share per latency row; 4: input/output names and shapes (evaluation.io)
    ),
)
