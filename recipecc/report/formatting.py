"""Jinja filters: how numbers read in the reports (PaddleX model-library style, e.g. ``97.2% (-0.4%)``)."""

from __future__ import annotations

from recipecc.metrics.speed import same_speed

__all__ = ["FILTERS", "human_size", "percent", "quality", "quality_delta", "signed_points", "size_change", "speed"]


def human_size(size: float) -> str:
    """Bytes as decimal KB/MB (1 MB = 10^6 bytes), the unit of the PaddleX tables (MobileNetV1 "17MB")."""
    if size >= 1e6:
        return f"{size / 1e6:.2f} MB"
    if size >= 1e3:
        return f"{size / 1e3:.1f} KB"
    return f"{int(size)} B"


def percent(value: float | None, digits: int = 2) -> str:
    """A fraction as a percentage; ``n/a`` for a metric the stage does not have (never a default value)."""
    return "n/a" if value is None else f"{value * 100:.{digits}f}%"


def signed_points(delta: float | None, digits: int = 2) -> str:
    """An accuracy delta in percentage points, always signed: ``+0.28%`` / ``-0.56%``."""
    return "n/a" if delta is None else f"{delta * 100:+.{digits}f}%"


def size_change(ratio: float | None) -> str:
    """Baseline size / stage size in words: ``3.1x smaller``, ``1.20x LARGER`` or ``same size``."""
    if ratio is None:
        return ""
    if round(ratio, 2) == 1.0:
        return "same size"
    if ratio > 1.0:
        return f"{ratio:.1f}x smaller"
    return f"{1 / ratio:.2f}x LARGER"


def speed(speedup: float | None) -> str:
    """A speed-up against the baseline in words that cannot be misread: ``2.10x faster`` / ``1.32x SLOWER``, or
    ``same speed (1.00x)`` when the two round to equal (``1.00x SLOWER`` read as a loss that is not there)."""
    if speedup is None:
        return ""
    if same_speed(speedup):
        return "same speed (1.00x)"
    if speedup >= 1.0:
        return f"{speedup:.2f}x faster"
    return f"{1 / speedup:.2f}x SLOWER"


def quality(value: float | None, as_percent: bool = True) -> str:
    """A 0..1 quality number as the field prints it: top-1 ``99.17%``; mIoU / mAP in points, ``69.81``."""
    if as_percent or value is None:
        return percent(value)
    return f"{value * 100:.2f}"


def quality_delta(delta: float | None, as_percent: bool = True) -> str:
    """A quality delta against the baseline: ``-0.28%`` for percentages, ``-2.22`` for points (mIoU, mAP)."""
    if as_percent or delta is None:
        return signed_points(delta)
    return f"{delta * 100:+.2f}"


FILTERS = {
    "quality": quality,
    "quality_delta": quality_delta,
    "human_size": human_size,
    "percent": percent,
    "signed_points": signed_points,
    "size_change": size_change,
    "speed": speed,
}
