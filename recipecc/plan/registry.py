"""The pass registry: what each pass is, which backend runs it, and which tools its output depends on.

A new pass is one module under ``recipecc/passes/<backend>/`` (or ``recipecc/bench/runners/``) plus one entry
here. Entry points are strings, imported only inside the backend's worker process, so this registry (and
``recipecc list``/``plan``) never pays for importing paddle, tensorflow or onnxruntime.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["BACKEND_EXTRAS", "PASSES", "PassSpec"]


@dataclass(frozen=True)
class PassSpec:
    """A registered pass. ``version`` is part of every cache key: bump it when the pass's output changes."""

    name: str
    backend: str
    entry: str
    produces: str
    description: str
    tools: tuple[str, ...]
    version: int = 1


#: The pip extra that installs each backend, for the error a user sees when it is missing.
BACKEND_EXTRAS: dict[str, str] = {"paddle": "paddle", "local": ""}

_PADDLE_TOOLS = ("paddlepaddle", "paddleslim", "numpy")

PASSES: dict[str, PassSpec] = {
    spec.name: spec
    for spec in (
        PassSpec(
            "data.digits",
            "local",
            "recipecc.passes.data.digits:run",
            "dataset",
            "Load scikit-learn's digits, upscale, split into train/test with a fixed stratified hold-out",
            ("scikit-learn", "numpy", "scipy"),
        ),
        PassSpec(
            "paddle.train",
            "paddle",
            "recipecc.passes.paddle.train:run",
            "paddle-dygraph",
            "Build the architecture (no pretrained weights) and train it on the recipe's dataset",
            _PADDLE_TOOLS,
        ),
        PassSpec(
            "paddle.prune",
            "paddle",
            "recipecc.passes.paddle.prune:run",
            "paddle-dygraph",
            "Structured filter pruning (PaddleSlim L1-norm / FPGM) of the convolutions matched by name patterns",
            _PADDLE_TOOLS,
        ),
        PassSpec(
            "paddle.finetune",
            "paddle",
            "recipecc.passes.paddle.finetune:run",
            "paddle-dygraph",
            "Train the pruned model for a few epochs to recover accuracy",
            _PADDLE_TOOLS,
        ),
        PassSpec(
            "paddle.export",
            "paddle",
            "recipecc.passes.paddle.export:run",
            "paddle-inference",
            "Save a dygraph model as a Paddle inference model (program + params) with a fixed input shape",
            _PADDLE_TOOLS,
        ),
        PassSpec(
            "paddle.ptq",
            "paddle",
            "recipecc.passes.paddle.ptq:run",
            "paddle-inference",
            "Static int8 post-training quantization (PaddleSlim quant_post_static), calibrated on training data",
            _PADDLE_TOOLS,
        ),
        PassSpec(
            "paddle.bench",
            "paddle",
            "recipecc.bench.runners.paddle_inference:run",
            "benchmark",
            "Top-1 on the held-out split, size on disk, and latency median/p90 per thread count (Paddle Inference)",
            ("paddlepaddle", "numpy"),
        ),
    )
}
