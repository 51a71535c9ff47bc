"""The training loop shared by ``paddle.train`` and ``paddle.finetune`` (cosine learning rate, progress bar)."""

from __future__ import annotations

import zlib  # noqa: F401  - before paddle
from typing import Any

import numpy as np
import paddle
import paddle.nn.functional as F
from numpy.typing import NDArray
from paddle import nn

from recipecc.passes.base import TrainSettings, progress

__all__ = ["evaluate", "predictions", "recalibrate_batch_norm", "train_epochs"]


def _optimizer(name: str, lr: Any, model: nn.Layer, weight_decay: float) -> paddle.optimizer.Optimizer:
    params = model.parameters()
    if name == "momentum":
        return paddle.optimizer.Momentum(lr, momentum=0.9, parameters=params, weight_decay=weight_decay)
    if name == "adam":
        return paddle.optimizer.Adam(lr, parameters=params, weight_decay=weight_decay)
    if name == "sgd":
        return paddle.optimizer.SGD(lr, parameters=params, weight_decay=weight_decay)
    raise ValueError(f"unknown optimizer '{name}'")


def predictions(model: nn.Layer, images: NDArray[Any], batch_size: int = 256) -> NDArray[Any]:
    """Class predictions of a dygraph model."""
    model.eval()
    chunks = []
    with paddle.no_grad():
        for start in range(0, len(images), batch_size):
            chunks.append(model(paddle.to_tensor(images[start : start + batch_size])).numpy().argmax(1))
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


def evaluate(model: nn.Layer, images: NDArray[Any], labels: NDArray[Any], batch_size: int = 256) -> float:
    """Top-1 accuracy of a dygraph model."""
    model.eval()
    correct = 0
    with paddle.no_grad():
        for start in range(0, len(images), batch_size):
            logits = model(paddle.to_tensor(images[start : start + batch_size]))
            correct += int((logits.numpy().argmax(1) == labels[start : start + batch_size]).sum())
    return correct / len(images)


def train_epochs(
    model: nn.Layer, data: dict[str, NDArray[Any]], settings: TrainSettings, label: str
) -> list[dict[str, float]]:
    """Train on ``x_train``; returns per-epoch loss and held-out accuracy (the history goes into the report)."""
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
                loss = F.cross_entropy(model(paddle.to_tensor(x[batch])), paddle.to_tensor(y[batch]))
                loss.backward()
                opt.step()
                opt.clear_grad()
                schedule.step()
                losses.append(float(loss))
                advance(1)
            accuracy = evaluate(model, data["x_test"], data["y_test"])
            history.append({"epoch": epoch + 1, "loss": float(np.mean(losses)), "top1": accuracy})
            advance(0, f"epoch {epoch + 1}: loss {np.mean(losses):.3f}, top-1 {accuracy:.2%}")
    model.eval()
    return history
