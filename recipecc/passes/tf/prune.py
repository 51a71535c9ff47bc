"""``tf.prune``: magnitude pruning with tensorflow-model-optimization, finetuned and stripped in one pass.

tfmot prunes *during* training (each ``frequency`` steps the smallest weights of every wrapped layer are masked
to the schedule's current sparsity), so pruning and finetuning are one pass here. The layers whose names match
``layers`` (shell patterns) and can be pruned (convolutions and dense; tfmot leaves depthwise ones dense) are wrapped;
``per_layer`` patterns give their own ratio. ``schedule``: ``constant`` (the target from the first step) or
``polynomial`` (0 → target, reached at the last pruning step of the finetune). ``block: "N:M"`` is tfmot's
structured sparsity instead (N zeros in every M consecutive weights, so N/M sparse). After training,
``strip_pruning`` removes the wrappers; the real sparsity of every pruned kernel is measured and recorded.
"""

from __future__ import annotations

from fnmatch import fnmatchcase
from typing import Any

import numpy as np

from recipecc.passes.base import PassContext, PassFailure, TrainSettings, read_artifact, task_of
from recipecc.passes.data.arrays import load_split
from recipecc.passes.tf.common import count_params, load_keras, save_keras, tf_modules, train_keras

__all__ = ["kernel_sparsity", "kernel_sparsity_of", "prunable_layers", "run"]

_KERNELS = ("kernel", "depthwise_kernel")


def _kernel(layer: Any) -> Any:
    return next((getattr(layer, name) for name in _KERNELS if getattr(layer, name, None) is not None), None)


def _kernel_values(layer: Any) -> Any:
    """The kernel's values; inside a QAT wrapper ``layer.kernel`` is a symbolic fake-quant tensor, so the float
    variable is looked up among the layer's weights."""
    for weight in layer.weights:
        if weight.name.rsplit("/", 1)[-1].split(":")[0] in _KERNELS:
            return np.asarray(weight.numpy())
    return np.asarray(_kernel(layer).numpy())


def prunable_layers(model: Any) -> list[str]:
    """Names of the layers whose kernel tfmot prunes (convolutions, dense).

    tfmot's registry accepts ``DepthwiseConv2D`` but lists no prunable weight for it (its few weights matter most
    per parameter), so wrapping one prunes nothing: it is not offered, and MobileNets' depthwise layers stay dense.
    """
    from tensorflow_model_optimization.python.core.sparsity.keras.prune_registry import PruneRegistry

    return [
        layer.name
        for layer in model.layers
        if _kernel(layer) is not None and PruneRegistry.supports(layer) and PruneRegistry._weight_names(layer)
    ]


def kernel_sparsity(model: Any, names: list[str]) -> dict[str, Any]:
    """Fraction of exact zeros in each named layer's kernel, and over all of them (weighted by size)."""
    return kernel_sparsity_of({name: model.get_layer(name) for name in names}, names)


def kernel_sparsity_of(layers_by_name: dict[str, Any], names: list[str]) -> dict[str, Any]:
    """:func:`kernel_sparsity` over layer objects (e.g. the layers inside QAT wrappers)."""
    layers: dict[str, float] = {}
    zeros = total = 0
    for name in names:
        kernel = _kernel_values(layers_by_name[name])
        layer_zeros = int((kernel == 0).sum())
        layers[name] = layer_zeros / kernel.size
        zeros, total = zeros + layer_zeros, total + kernel.size
    return {"overall": zeros / total if total else 0.0, "layers": layers, "pruned_weights": total}


def _block(value: Any) -> tuple[int, int] | None:
    if not value:
        return None
    n, _, m = str(value).partition(":")
    return int(n), int(m)


def run(ctx: PassContext) -> dict[str, Any]:
    tf, keras = tf_modules()
    import tensorflow_model_optimization as tfmot

    p = ctx.params
    model_dir = ctx.input("model")
    meta = read_artifact(model_dir)
    data = load_split(ctx.input("data"))
    model = load_keras(model_dir / meta["model_files"][0], trusted=bool(meta.get("trusted")))
    sparsity_api = tfmot.sparsity.keras

    candidates = prunable_layers(model)
    patterns = [str(pattern) for pattern in p["layers"]]
    matches = {pattern: [n for n in candidates if fnmatchcase(n, pattern)] for pattern in patterns}
    selected = [n for n in candidates if any(n in found for found in matches.values())]
    if not selected:
        raise PassFailure(
            f"strategy.prune.layers {patterns} match none of the prunable layers of this model; "
            f"prunable: {', '.join(candidates[:12])}{' ...' if len(candidates) > 12 else ''}"
        )
    per_layer = {str(k): float(v) for k, v in dict(p.get("per_layer", {})).items()}
    block = _block(p.get("block"))

    batch_size, epochs, frequency = int(p["batch_size"]), int(p["epochs"]), int(p["frequency"])
    total_steps = epochs * ((len(data["x_train"]) + batch_size - 1) // batch_size)
    last_step = ((total_steps - 1) // frequency) * frequency  # the last step tfmot prunes at
    if p["schedule"] == "polynomial" and last_step < 1:
        raise PassFailure(
            f"the finetune has {total_steps} steps, too few for a polynomial schedule pruning every {frequency}: "
            "raise strategy.finetune.epochs or lower strategy.prune.frequency"
        )

    def schedule(ratio: float) -> Any:
        if p["schedule"] == "polynomial":
            return sparsity_api.PolynomialDecay(0.0, ratio, begin_step=0, end_step=last_step, frequency=frequency)
        return sparsity_api.ConstantSparsity(ratio, begin_step=0, frequency=frequency)

    targets: dict[str, float] = {}

    def wrap(layer: Any) -> Any:
        if layer.name not in selected:
            return layer
        ratio = next((r for pat, r in per_layer.items() if fnmatchcase(layer.name, pat)), float(p["ratio"]))
        if block is not None:
            targets[layer.name] = block[0] / block[1]
            return sparsity_api.prune_low_magnitude(layer, sparsity_m_by_n=block)
        targets[layer.name] = ratio
        return sparsity_api.prune_low_magnitude(layer, pruning_schedule=schedule(ratio))

    # the clone function returns the original layers (wrapped or not), so the trained weights are kept
    try:
        wrapped = keras.models.clone_model(model, clone_function=wrap)
    except Exception as exc:
        raise PassFailure(f"tfmot could not wrap the selected layers ({type(exc).__name__}: {exc})") from exc
    settings = TrainSettings.from_params(p, epochs=epochs, batch_size=batch_size, weight_decay=0.0)
    history = train_keras(
        wrapped, data, settings, "prune + finetune", [sparsity_api.UpdatePruningStep()], task=task_of(p)
    )
    stripped = sparsity_api.strip_pruning(wrapped)
    sparsity = kernel_sparsity(stripped, selected)
    sparsity |= {
        "target": {name: round(ratio, 6) for name, ratio in targets.items()},
        "schedule": "block" if block else str(p["schedule"]),
        "block": f"{block[0]}:{block[1]}" if block else None,
        "frequency": frequency,
    }
    path = save_keras(stripped, ctx.out_dir)
    del tf
    return {
        "format": "keras",
        "model_files": [path.name],
        "size_bytes": path.stat().st_size,
        "precision": "fp32",
        "input_shape": meta.get("input_shape"),
        "history": history,
        "params": count_params(stripped),
        "sparsity": sparsity,
        "selector_matches": {pattern: len(found) for pattern, found in matches.items()},
        **({"trusted": True} if meta.get("trusted") else {}),
    }
