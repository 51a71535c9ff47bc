"""``paddle.sensitivity``: how much accuracy each convolution loses when pruned alone, at a grid of ratios.

The analysis is the expensive part (layers x ratios evaluations), so it is its own cached pass: every later run
and sweep on the same model and data reuses it, whatever target it asks for. Turning it into ratios
(:func:`ratios_for_target`) is cheap and happens in ``paddle.prune``:

- ``accuracy_loss``: each layer gets the largest ratio whose loss stays within the budget (linear interpolation
  between grid points, as PaddleSlim does);
- ``flops``: the smallest common loss budget whose ratios remove at least that fraction of the FLOPs (bisection,
  measuring the FLOPs of each candidate pruning).

Loss is absolute top-1 (0.01 = one point), measured on ``images`` training images: the held-out split stays
untouched for the final evaluation. Without labels that can score the model (an untrained network), the loss is
the drop in top-1 agreement with the unpruned network's own predictions.
"""

from __future__ import annotations

import json
import zlib  # noqa: F401  - before paddle
from collections.abc import Callable, Mapping
from typing import Any

from paddle import nn

from recipecc.common.selection import SelectionError, resolve_ratios
from recipecc.passes.base import PassContext, PassFailure, progress
from recipecc.passes.data.arrays import load_split
from recipecc.passes.paddle.checkpoint import load_model, make_pruner
from recipecc.passes.paddle.models import describe, prunable_convolutions
from recipecc.passes.paddle.training import evaluate, predictions
from recipecc.passes.quiet import quiet_stdout

__all__ = ["SENSITIVITY_FILE", "ratios_at_loss", "ratios_for_target", "run"]

SENSITIVITY_FILE = "sensitivity.json"
_EVAL_IMAGES = 256


def _prune_and_measure(
    pruner: Any, model: nn.Layer, ratios: Mapping[str, float], measure: Callable[[], float]
) -> float:
    """Prune ``ratios`` (layer path -> ratio), measure, restore the model."""
    layers = dict(model.named_sublayers())
    with quiet_stdout():
        plan = pruner.prune_vars({layers[path].weight.name: r for path, r in ratios.items() if r > 0}, axis=0)
    try:
        return measure()
    finally:
        with quiet_stdout():
            plan.restore(model)


def ratios_at_loss(sensitivities: Mapping[str, Mapping[str, float]], loss: float) -> dict[str, float]:
    """Per layer, the largest ratio whose accuracy loss stays within ``loss`` (interpolated between grid points)."""
    ratios: dict[str, float] = {}
    for path, curve in sensitivities.items():
        points = sorted((float(r), float(loss_at)) for r, loss_at in curve.items())
        chosen = 0.0
        for index, (ratio, layer_loss) in enumerate(points):
            if layer_loss > loss:
                if index > 0:
                    r0, l0 = points[index - 1]
                    chosen = r0 + (loss - l0) * (ratio - r0) / (layer_loss - l0) if layer_loss > l0 else r0
                break
            chosen = ratio
        ratios[path] = chosen
    return ratios


def _align(model: nn.Layer, ratios: Mapping[str, float], align: int) -> dict[str, float]:
    """Round the filters each layer keeps to a multiple of ``align`` (SIMD-friendly channel counts)."""
    layers = dict(model.named_sublayers())
    aligned = {}
    for path, ratio in ratios.items():
        filters = int(layers[path].weight.shape[0])
        kept = max(align, round((1 - ratio) * filters / align) * align)
        aligned[path] = max(0.0, (filters - min(kept, filters)) / filters)
    return aligned


def ratios_for_target(
    model: nn.Layer,
    input_shape: list[int],
    criterion: str,
    sensitivities: Mapping[str, Mapping[str, float]],
    *,
    target: str,
    value: float,
    align: int,
) -> dict[str, float]:
    """Per-layer ratios that meet ``target`` (``accuracy_loss`` budget or ``flops`` reduction)."""
    if target == "accuracy_loss":
        return _align(model, ratios_at_loss(sensitivities, value), align)
    base = describe(model, input_shape)["flops"]
    pruner = make_pruner(model, input_shape, criterion)

    def reduction(ratios: Mapping[str, float]) -> float:
        return _prune_and_measure(pruner, model, ratios, lambda: 1 - describe(model, input_shape)["flops"] / base)

    low, high = 0.0, 1.0
    best = _align(model, ratios_at_loss(sensitivities, high), align)
    if reduction(best) < value:
        raise PassFailure(
            f"strategy.sensitivity.value = {value}: even the largest analysed ratios remove only "
            f"{reduction(best):.1%} of the FLOPs; analyse larger ratios or ask for less"
        )
    for _ in range(20):
        middle = (low + high) / 2
        candidate = _align(model, ratios_at_loss(sensitivities, middle), align)
        if reduction(candidate) >= value:
            high, best = middle, candidate
        else:
            low = middle
    return best


def run(ctx: PassContext) -> dict[str, Any]:
    p = ctx.params
    model, spec = load_model(ctx.input("model"))
    data = load_split(ctx.input("data"))
    count = int(p.get("images", _EVAL_IMAGES))
    images, labels = data["x_train"][:count], data["y_train"][:count]
    scored_by = "top-1 on training images"
    if not p.get("labels", True):  # labels cannot score this model: measure agreement with its own predictions
        labels = predictions(model, images)
        scored_by = "top-1 agreement with the unpruned model"
    try:
        selected, matches = resolve_ratios(prunable_convolutions(model), list(p["layers"]), 0.5)
    except SelectionError as exc:
        raise PassFailure(str(exc)) from None
    grid = [float(r) for r in p["ratios"]]
    pruner = make_pruner(model, spec["input_shape"], str(p["criterion"]))
    baseline = evaluate(model, images, labels)
    sensitivities: dict[str, dict[str, float]] = {}
    with progress("sensitivity", len(selected) * len(grid)) as advance:
        for path in selected:
            sensitivities[path] = {}
            for ratio in grid:
                accuracy = _prune_and_measure(pruner, model, {path: ratio}, lambda: evaluate(model, images, labels))
                sensitivities[path][str(ratio)] = max(0.0, baseline - accuracy)
                advance(1, f"{path} @ {ratio:.1f}: -{baseline - accuracy:.3f}")
    (ctx.out_dir / SENSITIVITY_FILE).write_text(json.dumps(sensitivities, indent=1))
    return {
        "format": "sensitivity",
        "sensitivities": sensitivities,
        "baseline_top1": baseline,
        "eval_images": len(images),
        "scored_by": scored_by,
        "criterion": p["criterion"],
        "selector_matches": matches,
    }
