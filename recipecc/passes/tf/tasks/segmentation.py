"""Segmentation on Keras: per-pixel sparse cross-entropy over (N, H, W, C) logits, the ignore index excluded."""

from __future__ import annotations

from typing import Any

__all__ = ["loss"]


def loss(keras: Any, *, ignore_index: int = 255, **_: Any) -> Any:
    return keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=ignore_index)
