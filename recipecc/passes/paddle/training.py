"""The training loop shared by ``paddle.train`` and ``paddle.finetune`` (cosine learning rate, progress bar)."""

from __future__ import annotations

import zlib  # noqa: F401  - before paddle
from collections.abc import Mapping
from typing import Any

import numpy as np
import paddle
from numpy.typing import NDArray
from paddle import nn

from recipecc.passes.base import TrainSettings, progress, task_of
from recipecc.passes.paddle.tasks import hooks as task_hooks
from recipecc.tasks import TASKS, task_module

__all__ = ["evaluate", "predictions", "recalibrate_batch_norm", "task_of", "train_epochs"]


def _optimizer(name: str, lr: Any, model: nn.Layer, weight_decay: float) -> paddle.optimizer.Optimizer:
    params = model.parameters()
    if name == "momentum":
        return paddle.optimizer.Momentum(lr, momentum=0.9, parameters=params, weight_decay=weight_decay)
    if name == "adam":
        return paddle.optimizer.Adam(lr, parameters=params, weight_decay=weight_decay)
    if name == "sgd":
        return paddle.optimizer.SGD(lr, parameters=params, weight_decay=weight_decay)
    raise ValueError(f"unknown optimizer '{name}'")


def _task(task: Mapping[str, Any] | None) -> tuple[str, dict[str, Any]]:
    """The task's name and the parameters its scoring and loss take (classification when not told)."""
    params = dict(task or {})
    name = str(params.pop("task", "classification"))
    return ("classification" if name == "auto" else name), params


def predictions(
    model: nn.Layer, images: NDArray[Any], task: Mapping[str, Any] | None = None, batch_size: int = 32
) -> NDArray[Any]:
    """The task's predictions of a dygraph model (classes, label maps), in numpy."""
    name, params = _task(task)
    module = task_module(name)
    decoding = {k: params[k] for k in ("decoder", "num_classes") if "decoder" in params and k in params}
    model.eval()
    chunks = []
    with paddle.no_grad():
        for start in range(0, len(images), batch_size):
            batch = np.ascontiguousarray(images[start : start + batch_size], dtype=np.float32)
            out = model(paddle.to_tensor(batch))
            outputs = [o.numpy() for o in out] if isinstance(out, (list, tuple)) else [out.numpy()]
            chunks.append(module.predictions(outputs, **decoding))
    return np.concatenate(chunks)


def recalibrate_batch_norm(model: nn.Layer, images: NDArray[Any], batches: int = 24, batch_size: int = 16) -> int:
    """Set batch-norm statistics from data, without training: an untrained network's activations otherwise
    shrink layer after layer (MobileNetV1's logits end near 1e-17), which makes any comparison between its
    compressed stages meaningless. Returns the number of images seen."""
    model.train()
    seen = 0
    rng = np.random.RandomState(0)
    with paddle.no_grad():
        for _ in range(batches):
            batch = images[rng.choice(len(images), size=min(batch_size, len(images)), replace=False)]
            model(paddle.to_tensor(batch))
            seen += len(batch)
    model.eval()
    return seen


def evaluate(
    model: nn.Layer,
    images: NDArray[Any],
    labels: NDArray[Any],
    task: Mapping[str, Any] | None = None,
    *,
    reference: bool = False,
) -> float:
    """The task's headline score of a dygraph model (top-1, mIoU, mAP) against ``labels``; with ``reference=True``
    ``labels`` are another model's :func:`predictions` and the score is the agreement with them."""
    name, params = _task(task)
    predicted = predictions(model, images, task)
    return float(task_module(name).score(predicted, np.asarray(labels), reference=reference, **params))


def train_epochs(
    model: nn.Layer,
    data: Mapping[str, NDArray[Any]],
    settings: TrainSettings,
    label: str,
    task: Mapping[str, Any] | None = None,
) -> list[dict[str, float]]:
    """Train on ``x_train`` with the task's loss; returns per-epoch loss and the task's held-out headline score
    (the history goes into the report). Batches are read from the (possibly memory-mapped) arrays one by one."""
    name, task_params = _task(task)
    hooks = task_hooks(name)
    augmentations = list(task_params.get("augment") or ())
    headline = TASKS[name].headline
    epochs, lr, batch_size, seed = settings.epochs, settings.lr, settings.batch_size, settings.seed
    optimizer, weight_decay = settings.optimizer, settings.weight_decay
    paddle.seed(seed)
    rng = np.random.RandomState(seed)
    x, y = data["x_train"], data["y_train"]
    steps_per_epoch = (len(x) + batch_size - 1) // batch_size
    schedule = paddle.optimizer.lr.CosineAnnealingDecay(lr, T_max=max(1, epochs * steps_per_epoch))
    opt = _optimizer(optimizer, schedule, model, weight_decay)
    history: list[dict[str, float]] = []
    with progress(label, epochs * steps_per_epoch) as advance:
        for epoch in range(epochs):
            model.train()
            order = rng.permutation(len(x))
            losses = []
            for start in range(0, len(x), batch_size):
                batch = order[start : start + batch_size]
                batch = np.sort(batch)  # memory-mapped arrays read faster in order
                pixels, labels = np.ascontiguousarray(x[batch], dtype=np.float32), np.asarray(y[batch])
                if augmentations:  # the task's random augmentation (a detector's flips)
                    pixels, labels = hooks.augment(pixels, labels, rng, augmentations)
                outputs = model(paddle.to_tensor(pixels))
                loss = hooks.loss(outputs, hooks.targets(labels), **task_params)
                loss.backward()
                opt.step()
                opt.clear_grad()
                schedule.step()
                losses.append(float(loss))
                advance(1)
            score = evaluate(model, data["x_test"], data["y_test"], task)
            history.append({"epoch": epoch + 1, "loss": float(np.mean(losses)), headline: score})
            advance(0, f"epoch {epoch + 1}: loss {np.mean(losses):.3f}, {headline} {score:.4f}")
    model.eval()
    return history
