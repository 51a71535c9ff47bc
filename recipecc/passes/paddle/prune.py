"""``paddle.prune``: structured filter pruning with PaddleSlim (L1-norm or FPGM criterion).

Each convolution whose layer path matches one of ``layers`` (shell-style patterns, e.g. ``features.*``) loses
``ratio`` of its output filters; PaddleSlim's dependency graph shrinks the batch-norms and the inputs of the layers
that consume them. Depthwise convolutions are never selected directly: they follow their producer.
"""

from __future__ import annotations

import zlib  # noqa: F401  - before paddle
from fnmatch import fnmatchcase
from typing import Any

from paddle import nn

from recipecc.passes.base import PassContext, PassFailure
from recipecc.passes.paddle.checkpoint import WEIGHTS, apply_pruning, load_model, save_model
from recipecc.passes.paddle.models import describe

__all__ = ["run", "select_convolutions"]


def select_convolutions(model: nn.Layer, patterns: list[str]) -> tuple[dict[str, str], dict[str, int]]:
    """Map matched layer paths to their weight names, and count the matches of each pattern."""
    convs = {
        path: layer.weight.name
        for path, layer in model.named_sublayers()
        if isinstance(layer, nn.Conv2D) and layer._groups == 1
    }
    matches = {pattern: 0 for pattern in patterns}
    selected: dict[str, str] = {}
    for path, weight in convs.items():
        for pattern in patterns:
            if fnmatchcase(path, pattern):
                matches[pattern] += 1
                selected[path] = weight
    empty = [pattern for pattern, n in matches.items() if n == 0]
    if empty:
        raise PassFailure(
            f"strategy.prune.layers pattern(s) {empty} match no convolution; layers: {', '.join(convs) or 'none'}"
        )
    return selected, matches


def run(ctx: PassContext) -> dict[str, Any]:
    p = ctx.params
    source = ctx.input("model")
    model, spec = load_model(source)
    if spec.get("pruning"):
        raise PassFailure("the model is already pruned; prune once with per-layer ratios instead")
    before = describe(model, spec["input_shape"])
    selected, matches = select_convolutions(model, list(p["layers"]))
    ratios = {path: float(p["ratio"]) for path in selected}
    apply_pruning(model, spec["input_shape"], str(p["criterion"]), ratios)
    after = describe(model, spec["input_shape"])
    save_model(model, ctx.out_dir, base_weights=source / WEIGHTS)
    return {
        "format": "paddle-dygraph",
        **{k: v for k, v in spec.items() if k != "pruning"},
        "pruning": {"criterion": p["criterion"], "ratios": ratios},
        "layers_pruned": sorted(selected),
        "selector_matches": matches,
        "params_before": before["params"],
        "flops_before": before["flops"],
        **after,
        "params_reduction": 1 - after["params"] / before["params"],
        "flops_reduction": 1 - after["flops"] / before["flops"],
    }
