"""``paddle.export``: a dygraph model as a Paddle inference model (``model.pdmodel`` + ``model.pdiparams``).

The batch dimension stays dynamic; the image dimensions are fixed to the recipe's input shape.
"""

from __future__ import annotations

import zlib  # noqa: F401  - before paddle
from pathlib import Path
from typing import Any

import paddle

from recipecc.passes.base import PassContext, read_artifact
from recipecc.passes.paddle.checkpoint import MODEL_FACTS, load_model
from recipecc.passes.quiet import quiet_stdout

__all__ = ["INPUT_NAME", "MODEL_FILES", "inference_model_files", "run"]

INPUT_NAME = "image"
MODEL_FILES = ("model.pdmodel", "model.pdiparams")


def inference_model_files(folder: Path, precision: str) -> dict[str, Any]:
    """What every pass writing ``model.pdmodel`` + ``model.pdiparams`` records about them."""
    return {
        "format": "paddle-inference",
        "precision": precision,
        "model_files": list(MODEL_FILES),
        "input_name": INPUT_NAME,
        "size_bytes": sum((folder / name).stat().st_size for name in MODEL_FILES),
    }


def run(ctx: PassContext) -> dict[str, Any]:
    source = ctx.input("model")
    meta = read_artifact(source)
    model, spec = load_model(source)
    input_spec = [paddle.static.InputSpec([None, *spec["input_shape"]], "float32", INPUT_NAME)]
    with quiet_stdout():
        paddle.jit.save(model, str(ctx.out_dir / "model"), input_spec=input_spec)
    return {**inference_model_files(ctx.out_dir, "fp32"), **{k: meta[k] for k in MODEL_FACTS if k in meta}}
