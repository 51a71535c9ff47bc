"""``onnx.load``: a user's ONNX file, taken as it is, copied into the cache and made concrete where asked.

Files exported elsewhere (paddle2onnx, tf2onnx, torch.onnx) often have dynamic axes (``batch``, ``height``) and
large ones keep their weights in external data files next to the ``.onnx``. This pass loads the model with its
external data, fixes dynamic input dimensions from ``model.input_shape`` (a fixed dimension that disagrees is an
error, not a silent reshape), checks it, and saves it into the cache, so later passes never touch the user's
folder. A file that is not ONNX fails here with a message that says so.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import onnx

from recipecc.passes.base import PassContext, PassFailure
from recipecc.passes.onnx.common import describe, opset_of, save_model
from recipecc.passes.onnx.graph_stats import graph_stats

__all__ = ["run"]


def _read(path: Path) -> onnx.ModelProto:
    if not path.is_file():
        raise PassFailure(f"model.path '{path}' is not a file (an ONNX model is one .onnx file)")
    try:
        model = onnx.load(str(path), load_external_data=True)
    except Exception as exc:  # DecodeError, missing external data, ...
        raise PassFailure(
            f"model.path '{path}' could not be read as ONNX ({type(exc).__name__}: {exc}); "
            "is it an ONNX file? set model.format if the suffix is misleading"
        ) from None
    if not model.graph.node:
        raise PassFailure(f"model.path '{path}' is not an ONNX model: it parsed, but holds no graph nodes")
    return model


def _fix_input_shape(model: onnx.ModelProto, shape: list[int]) -> list[str]:
    """Set the dynamic dims of the first graph input from ``shape``; returns what was changed."""
    initializers = {init.name for init in model.graph.initializer}
    graph_input = next(v for v in model.graph.input if v.name not in initializers)
    dims = graph_input.type.tensor_type.shape.dim
    if len(dims) != len(shape):
        raise PassFailure(
            f"model.input_shape {shape} has {len(shape)} dims but input '{graph_input.name}' has {len(dims)}"
        )
    changed = []
    for index, (dim, size) in enumerate(zip(dims, shape, strict=True)):
        if size == -1:
            continue
        if dim.HasField("dim_value") and dim.dim_value > 0:
            if dim.dim_value != size:
                raise PassFailure(
                    f"model.input_shape[{index}] = {size}, but input '{graph_input.name}' has a fixed size "
                    f"{dim.dim_value} there"
                )
            continue
        changed.append(f"dim {index} ({dim.dim_param or 'unnamed'}) -> {size}")
        dim.Clear()
        dim.dim_value = size
    return changed


def run(ctx: PassContext) -> dict[str, Any]:
    p = ctx.params
    path = Path(str(p["path"])).expanduser()
    model = _read(path)
    opset = opset_of(model)
    if opset and opset < 7:
        raise PassFailure(f"'{path.name}' uses opset {opset}; ONNX Runtime quantization needs opset 10 or newer")
    changed: list[str] = []
    if p.get("input_shape"):
        changed = _fix_input_shape(model, [int(d) for d in p["input_shape"]])
        if changed:  # stale intermediate shapes would contradict the new input shape
            del model.graph.value_info[:]
            try:
                model = onnx.shape_inference.infer_shapes(model)
            except Exception as exc:
                raise PassFailure(f"shape inference with model.input_shape {p['input_shape']} failed: {exc}") from None
    try:
        onnx.checker.check_model(model, full_check=False)
    except onnx.checker.ValidationError as exc:
        raise PassFailure(f"'{path.name}' is not a valid ONNX model: {str(exc).splitlines()[0]}") from None
    files = save_model(model, ctx.out_dir)
    external = any(
        init.data_location == onnx.TensorProto.EXTERNAL
        for init in onnx.load(str(path), load_external_data=False).graph.initializer
    )
    meta = describe(ctx.out_dir, source=str(path), **graph_stats(model))
    dynamic = [d for d in meta["input_shape"] if not isinstance(d, int)]
    return {
        **meta,
        "precision": "fp32",
        "model_files": files,
        "loaded": {
            "path": str(path),
            "external_data": external,
            "fixed_dims": changed,
            "dynamic_dims_left": dynamic,
        },
    }
