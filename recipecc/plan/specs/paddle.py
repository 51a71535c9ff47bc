"""Paddle backend passes (PaddleSlim, Paddle Inference); they run in the paddle worker process."""

from __future__ import annotations

from recipecc.plan.spec import PassSpec

_TOOLS = ("paddlepaddle", "paddleslim", "numpy")

SPECS = (
    PassSpec(
        "paddle.train",
        "paddle",
        "recipecc.passes.paddle.train:run",
        "paddle-dygraph",
        "Build the architecture (no pretrained weights), load a checkpoint or train it on the recipe's dataset",
        _TOOLS,
        version=3,
    ),
    PassSpec(
        "paddle.prune",
        "paddle",
        "recipecc.passes.paddle.prune:run",
        "paddle-dygraph",
        "Structured filter pruning (PaddleSlim L1-norm / FPGM) of the convolutions matched by name patterns",
        _TOOLS,
        version=3,
    ),
    PassSpec(
        "paddle.import",
        "paddle",
        "recipecc.passes.paddle.import_model:run",
        "paddle-inference",
        "A user's Paddle inference model (any file names), its input read and dynamic dimensions fixed",
        _TOOLS,
    ),
    PassSpec(
        "paddle.sensitivity",
        "paddle",
        "recipecc.passes.paddle.sensitivity:run",
        "sensitivity",
        "Per-layer accuracy loss when pruning each convolution alone at a grid of ratios (reused across runs)",
        _TOOLS,
    ),
    PassSpec(
        "paddle.weight_only",
        "paddle",
        "recipecc.passes.paddle.weight_only:run",
        "paddle-inference",
        "Weight-only int8/int16 quantization (PaddleSlim quant_post_dynamic) for Paddle Lite, with a dequantized twin",
        _TOOLS,
    ),
    PassSpec(
        "paddle.qat",
        "paddle",
        "recipecc.passes.paddle.qat:run",
        "paddle-inference",
        "Quantization-aware training (PaddleSlim QAT), saved as an int8 Paddle inference model",
        _TOOLS,
    ),
    PassSpec(
        "paddle.finetune",
        "paddle",
        "recipecc.passes.paddle.finetune:run",
        "paddle-dygraph",
        "Train the pruned model for a few epochs to recover accuracy",
        _TOOLS,
    ),
    PassSpec(
        "paddle.export",
        "paddle",
        "recipecc.passes.paddle.export:run",
        "paddle-inference",
        "Save a dygraph model as a Paddle inference model (program + params) with a fixed input shape",
        _TOOLS,
    ),
    PassSpec(
        "paddle.ptq",
        "paddle",
        "recipecc.passes.paddle.ptq:run",
        "paddle-inference",
        "Static int8 post-training quantization (PaddleSlim quant_post_static), calibrated on training data, batch "
        "norm folded into the convolutions first; algo search (auto for a user's model): a calibration search scored "
        "with Paddle Inference",
        _TOOLS,
        version=4,  # 2: algo search; 3: batch norm folded before calibration; 4: the search times the best 3 only
    ),
    PassSpec(
        "paddle.bench",
        "paddle",
        "recipecc.bench.runners.paddle_inference:run",
        "benchmark",
        "The task's metric / fidelity on the held-out split, size on disk, latency median/p90 per thread count "
        "(Paddle Inference; every input and output)",
        ("paddlepaddle", "numpy"),
        version=5,  # 4: CPU time / share per latency row; 5: input/output names and shapes (evaluation.io)
    ),
)
