"""Segmentation on paddle: per-pixel softmax cross-entropy over (N, C, H, W) scores, ignore index excluded."""

from __future__ import annotations

import zlib  # noqa: F401  - before paddle
from typing import Any

import paddle
import paddle.nn.functional as F
from numpy.typing import NDArray

__all__ = ["loss", "targets"]


def targets(array: NDArray[Any]) -> paddle.Tensor:
    return paddle.to_tensor(array.astype("int64"))


def loss(outputs: paddle.Tensor, target: paddle.Tensor, *, ignore_index: int = 255, **_: Any) -> paddle.Tensor:
    """Mean cross-entropy over the labelled pixels (PaddleSeg's CrossEntropyLoss with ``ignore_index``)."""
    return F.cross_entropy(outputs, target, ignore_index=ignore_index, axis=1)
