"""``onnx.prune``: unstructured magnitude pruning of an ONNX model's weights, reported honestly.

The constant weights of Conv, Gemm and MatMul nodes (graph initializers, or ``Constant`` nodes: paddle2onnx
stores weights that way) whose names match ``layers`` (shell patterns; ``per_layer``
maps a pattern to its own ratio) get their smallest-magnitude ``ratio`` of entries set to zero, per tensor. No
finetuning happens (the model came as a file): quality is measured against the baseline like any stage.

Honesty: zeros are still stored as float32, so the ``.onnx`` file is exactly as large as before; only a compressed
copy shrinks (``gzip_bytes`` is recorded beside the plain size), and ONNX Runtime's CPU kernels are dense, so no
speed-up is expected. The sparsity reached (over the pruned tensors and over all weights) is measured, not assumed.
"""

from __future__ import annotations

import fnmatch
from typing import Any

import numpy as np
import onnx
from onnx import numpy_helper

from recipecc.passes.base import PassContext, PassFailure
from recipecc.passes.onnx.common import constant_tensors, describe, gzip_size, save_model, source_model

__all__ = ["run"]

#: ops whose weight input (index 1) is pruned
_WEIGHTED_OPS = ("Conv", "Gemm", "MatMul", "ConvTranspose")


def _ratio_for(name: str, layers: list[str], per_layer: dict[str, float], ratio: float) -> float | None:
    for pattern, own in per_layer.items():
        if fnmatch.fnmatchcase(name, pattern):
            return float(own)
    return ratio if any(fnmatch.fnmatchcase(name, pattern) for pattern in layers) else None


def run(ctx: PassContext) -> dict[str, Any]:
    p = ctx.params
    path, meta = source_model(ctx.input("model"))
    model = onnx.load(str(path))
    initializers = constant_tensors(model)
    layers, per_layer = list(p["layers"]), {str(k): float(v) for k, v in dict(p.get("per_layer") or {}).items()}
    pruned: dict[str, dict[str, Any]] = {}
    weighted: list[str] = []
    for index, node in enumerate(model.graph.node):
        if node.op_type not in _WEIGHTED_OPS or len(node.input) < 2 or node.input[1] not in initializers:
            continue
        name = node.name or f"{node.op_type}_{index}"
        weighted.append(name)
        ratio = _ratio_for(name, layers, per_layer, float(p["ratio"]))
        weight_name = node.input[1]
        if ratio is None or weight_name in pruned:
            continue
        init = initializers[weight_name]
        weights = numpy_helper.to_array(init)
        if weights.dtype not in (np.float32, np.float16, np.float64):
            continue
        flat = np.abs(weights).ravel()
        k = round(ratio * flat.size)
        if k == 0:
            continue
        threshold = np.partition(flat, k - 1)[k - 1]
        mask = np.abs(weights) <= threshold
        # ties at the threshold could overshoot the ratio: keep exactly k zeros, largest-index ties survive
        if mask.sum() > k:
            order = np.argsort(np.abs(weights).ravel(), kind="stable")
            mask = np.zeros(flat.size, dtype=bool)
            mask[order[:k]] = True
            mask = mask.reshape(weights.shape)
        sparse = np.where(mask, 0, weights).astype(weights.dtype)
        init.CopyFrom(numpy_helper.from_array(sparse, init.name))
        pruned[weight_name] = {"node": name, "op": node.op_type, "ratio": ratio, "size": int(sparse.size)}
    if not weighted:
        raise PassFailure(
            "the model has no Conv/Gemm/MatMul node whose weight is a constant (initializer or Constant node): "
            "nothing to prune by magnitude"
        )
    if not pruned:
        raise PassFailure(
            f"strategy.prune.layers {layers} / per_layer {list(per_layer)} matched none of the "
            f"{len(weighted)} weighted nodes; their names (unnamed nodes are <op>_<index>): {weighted[:8]}"
        )
    zeros = sum(int((numpy_helper.to_array(initializers[w]) == 0).sum()) for w in pruned)
    total = sum(v["size"] for v in pruned.values())
    all_weights = [numpy_helper.to_array(t) for t in initializers.values() if t.data_type == onnx.TensorProto.FLOAT]
    all_zeros = sum(int((w == 0).sum()) for w in all_weights)
    all_total = sum(int(w.size) for w in all_weights)
    files = save_model(model, ctx.out_dir)
    source_gzip = gzip_size(path.parent, list(meta["model_files"]))
    described = describe(ctx.out_dir, meta)
    return {
        **described,
        "precision": meta.get("precision", "fp32"),
        "sparsity": {
            "criterion": "magnitude",
            "requested": float(p["ratio"]),
            "pruned_tensors": len(pruned),
            "pruned_weights": round(zeros / total, 4),
            "all_float_weights": round(all_zeros / max(1, all_total), 4),
            "selector_matches": {
                pat: sum(fnmatch.fnmatchcase(v["node"], pat) for v in pruned.values()) for pat in layers
            },
        },
        "gzip_bytes": gzip_size(ctx.out_dir, files),
        "gzip_bytes_before": source_gzip,
        "speed_note": "dense ORT CPU kernels: zeros do not make inference faster; only compressed size shrinks",
    }
