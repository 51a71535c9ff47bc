"""``paddle.prune``: structured filter pruning with PaddleSlim (L1-norm or FPGM criterion).

Each convolution selected by ``layers`` (shell-style patterns over layer paths, e.g. ``stage3.*``) loses ``ratio``
of its output filters, or the ratio its ``per_layer`` pattern gives; with a ``sensitivity`` input the ratios come
from the sensitivity analysis instead, chosen to meet the recipe's target. PaddleSlim's dependency graph shrinks
the batch-norms and the inputs of the layers that consume the pruned ones; depthwise convolutions follow their
producer and are never selected directly.
"""

from __future__ import annotations

import json
import zlib  # noqa: F401  - before paddle
from typing import Any

from recipecc.common.selection import SelectionError, resolve_ratios
from recipecc.passes.base import PassContext, PassFailure
from recipecc.passes.paddle.checkpoint import WEIGHTS, apply_pruning, load_model, save_model
from recipecc.passes.paddle.models import describe, prunable_convolutions
from recipecc.passes.paddle.sensitivity import SENSITIVITY_FILE, ratios_for_target

__all__ = ["run"]


def run(ctx: PassContext) -> dict[str, Any]:
    p = ctx.params
    source = ctx.input("model")
    model, spec = load_model(source)
    if spec.get("pruning"):
        raise PassFailure("the model is already pruned; prune once with per-layer ratios instead")
    before = describe(model, spec["input_shape"])
    try:
        ratios, matches = resolve_ratios(
            prunable_convolutions(model), list(p["layers"]), float(p["ratio"]), dict(p.get("per_layer") or {})
        )
    except SelectionError as exc:
        raise PassFailure(str(exc)) from None
    chosen_by = "uniform ratio" if not p.get("per_layer") else "per-layer ratios"
    if "sensitivity" in ctx.inputs:
        sensitivities = json.loads((ctx.inputs["sensitivity"] / SENSITIVITY_FILE).read_text())
        ratios, reached = ratios_for_target(
            model,
            spec["input_shape"],
            str(p["criterion"]),
            {path: sensitivities[path] for path in ratios if path in sensitivities},
            target=str(p["target"]),
            value=float(p["value"]),
            align=int(p["align"]),
        )
        chosen_by = f"sensitivity ({p['target']} {p['value']})"
        if reached.get("target") == "flops":
            verdict = "met" if reached["met"] else f"NOT met (more than {reached['tolerance']:.0%} off)"
            chosen_by = (
                f"sensitivity (FLOPs target -{reached['value']:.0%}: {reached['achieved']:.1%} removed, {verdict})"
            )
    else:
        reached = {}
    ratios = {path: r for path, r in ratios.items() if r > 0}
    apply_pruning(model, spec["input_shape"], str(p["criterion"]), ratios)
    after = describe(model, spec["input_shape"])
    save_model(model, ctx.out_dir, base_weights=source / WEIGHTS)
    return {
        "format": "paddle-dygraph",
        **{k: v for k, v in spec.items() if k != "pruning"},
        "pruning": {"criterion": p["criterion"], "ratios": ratios, "chosen_by": chosen_by},
        "ratio_summary": {
            "chosen_by": chosen_by,
            "criterion": p["criterion"],
            "layers": len(ratios),
            "min": min(ratios.values(), default=0.0),
            "max": max(ratios.values(), default=0.0),
            "mean": sum(ratios.values()) / len(ratios) if ratios else 0.0,
        },
        "layers_pruned": sorted(ratios),
        **({"sensitivity_target": reached} if reached else {}),
        "selector_matches": matches,
        "params_before": before["params"],
        "flops_before": before["flops"],
        **after,
        "params_reduction": 1 - after["params"] / before["params"],
        "flops_reduction": 1 - after["flops"] / before["flops"],
    }
