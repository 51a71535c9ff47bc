"""Dygraph checkpoints, including pruned ones.

A pruned network no longer matches its architecture's constructor, so a pruned checkpoint also keeps the
weights it was pruned from and the per-layer ratios: loading rebuilds the architecture, loads those weights,
re-applies the same (deterministic, norm-based) pruning to get the same shapes, then loads the pruned weights.
"""

from __future__ import annotations

import zlib  # noqa: F401  - before paddle
from pathlib import Path
from typing import Any

import paddle
from paddle import nn

from recipecc.common.weights import UnsafeWeights, load_weights
from recipecc.passes.base import PassFailure, read_artifact
from recipecc.passes.paddle.models import build_model

__all__ = ["MODEL_FACTS", "apply_pruning", "load_model", "load_state", "make_pruner", "model_spec", "save_model"]

#: facts about a network that travel with it from pass to pass (export, QAT) up to the report
MODEL_FACTS = (
    "arch",
    "width",
    "num_classes",
    "input_shape",
    "output_stride",
    "decoder",
    "params",
    "flops",
    "top1_dygraph",
    "score_dygraph",
    "pruning",
    "flops_before",
    "params_before",
    "flops_reduction",
    "params_reduction",
    "selector_matches",
    "ratio_summary",
    "sensitivity_target",
    "origin",
)
WEIGHTS = "model.pdparams"
BASE_WEIGHTS = "base.pdparams"


def model_spec(meta: dict[str, Any]) -> dict[str, Any]:
    """The part of an artifact's metadata that says how to rebuild its network."""
    return {
        k: meta[k] for k in ("arch", "width", "num_classes", "input_shape", "pruning", "output_stride") if k in meta
    }


def make_pruner(model: nn.Layer, input_shape: list[int], criterion: str) -> Any:
    """A PaddleSlim filter pruner over ``model`` (it traces the model once to learn its channel dependencies)."""
    from paddleslim.dygraph import FPGMFilterPruner, L1NormFilterPruner

    from recipecc.passes.quiet import quiet_stdout

    pruner_class = {"l1_norm": L1NormFilterPruner, "fpgm": FPGMFilterPruner}[criterion]
    with quiet_stdout():
        return pruner_class(model, [1, *input_shape])


def apply_pruning(model: nn.Layer, input_shape: list[int], criterion: str, ratios: dict[str, float]) -> Any:
    """Prune ``model`` in place with PaddleSlim; returns the pruner.

    ``ratios`` is keyed by layer path (``stage3.conv1``), which is stable across processes; PaddleSlim wants the
    weight's variable name (``conv2d_17.w_0``), which depends on how many layers the process created before.
    """
    from recipecc.passes.quiet import quiet_stdout

    pruner = make_pruner(model, input_shape, criterion)
    layers = dict(model.named_sublayers())
    with quiet_stdout():
        pruner.prune_vars({layers[path].weight.name: ratio for path, ratio in ratios.items()}, axis=0)
    _drop_restore_backups(model)
    return pruner


def _drop_restore_backups(model: nn.Layer) -> None:
    """PaddleSlim keeps each pruned tensor's original as a ``*_backup`` buffer (to undo pruning); left in place,
    they are saved with the model and exported as persistable variables, and the pruned model is no smaller."""
    for layer in model.sublayers(include_self=True):
        for name in [n for n in layer._buffers if n.endswith("_backup")]:
            del layer._buffers[name]


def load_state(model: nn.Layer, path: Path, *, what: str, trusted: bool = False) -> None:
    """Load weights into ``model``: arrays only (no pickle code runs), and every tensor must fit exactly.

    ``set_state_dict`` alone skips what it cannot match and keeps the random initial values: a checkpoint of
    another width or class count would then be "loaded" and give random results.
    """
    try:
        state: dict[str, Any] = load_weights(path)
    except UnsafeWeights as exc:
        if not trusted:
            raise PassFailure(f"{what} '{path}' is refused: {exc}") from None
        state = paddle.load(str(path))  # the user vouched for this file on the command line
    expected = {name: list(tensor.shape) for name, tensor in model.state_dict().items()}
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong = sorted(n for n in set(expected) & set(state) if list(state[n].shape) != expected[n])
    if missing or unexpected or wrong:
        parts = [f"missing {missing[:5]}" if missing else "", f"unexpected {unexpected[:5]}" if unexpected else ""]
        parts += [f"{n}: {list(state[n].shape)} where the network has {expected[n]}" for n in wrong[:3]]
        raise PassFailure(f"{what} '{path}' does not fit the network: " + "; ".join(p for p in parts if p))
    model.set_state_dict(state)


def load_model(folder: Path) -> tuple[nn.Layer, dict[str, Any]]:
    """The network stored in a dygraph artifact folder, in eval mode, with its spec."""
    spec = model_spec(read_artifact(folder))
    model = build_model(
        spec["arch"], spec["input_shape"], spec["num_classes"], spec["width"], int(spec.get("output_stride", 16))
    )
    pruning = spec.get("pruning")
    if pruning:
        load_state(model, folder / BASE_WEIGHTS, what="cached weights")
        apply_pruning(model, spec["input_shape"], pruning["criterion"], pruning["ratios"])
    load_state(model, folder / WEIGHTS, what="cached weights")
    model.eval()
    return model, spec


def save_model(model: nn.Layer, folder: Path, base_weights: Path | None = None) -> None:
    """Write the weights (and, for a pruned model, the weights it was pruned from)."""
    paddle.save(model.state_dict(), str(folder / WEIGHTS))
    if base_weights is not None:
        (folder / BASE_WEIGHTS).write_bytes(base_weights.read_bytes())
