"""Classification on paddle: softmax cross-entropy over class scores."""

from __future__ import annotations

import zlib  # noqa: F401  - before paddle
from typing import Any

import paddle
import paddle.nn.functional as F
from numpy.typing import NDArray

__all__ = ["loss", "targets"]


def targets(array: NDArray[Any]) -> paddle.Tensor:
    return paddle.to_tensor(array.astype("int64"))


def loss(outputs: paddle.Tensor, target: paddle.Tensor, **_: Any) -> paddle.Tensor:
    return F.cross_entropy(outputs, target)
