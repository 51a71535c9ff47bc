"""When a measured speed-up counts as the same speed: one rule for results.json and every report sentence.

A ratio printed as ``1.00x`` either way round (within 0.5%) is the same speed: calling it ``1.00x SLOWER`` in the
report, or listing the stage as slower than the baseline in ``results.json``, reads as a loss that is not there.
"""

from __future__ import annotations

__all__ = ["same_speed"]


def same_speed(speedup: float) -> bool:
    """Whether ``speedup`` (baseline time / stage time) rounds to 1.00x, read either way round."""
    return round(speedup, 2) == 1.0 or round(1 / speedup, 2) == 1.0
