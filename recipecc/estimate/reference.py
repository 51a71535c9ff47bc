"""Published latencies that match a run's target and stages, to print beside its own numbers (labelled as the
reference, never mixed with what was measured or estimated)."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import yaml

__all__ = ["REFERENCE_LABEL", "published_latency"]

REFERENCE_LABEL = "published reference (PaddleX model library / reference tables), not measured by recipecc"
_CALIBRATION = Path(__file__).resolve().parent / "calibration"
_ABI_SLICE = {"armv7": slice(0, 3), "armv8": slice(3, 6)}


@functools.cache
def _files() -> tuple[dict[str, Any], ...]:
    return tuple(yaml.safe_load(path.read_text()) or {} for path in sorted(_CALIBRATION.glob("*.yaml")))


def published_latency(
    *, device: str, runtime: str, abi: str, model: str, precision: str, flops_removed: float = 0.0
) -> dict[int, float] | None:
    """Published ms per thread count for this device/runtime/ABI, model, precision and pruning (FLOPs removed,
    matched within 3 points), or None when no published row matches."""
    for data in _files():
        if runtime == "paddle_lite":
            if abi in _ABI_SLICE and flops_removed < 0.03:
                for row in data.get("rows", []):
                    if (row["device"], row["model"], row["precision"]) == (device, model, precision):
                        return dict(zip((1, 2, 4), row["ms"][_ABI_SLICE[abi]], strict=True))
            if abi == "armv8":
                for row in data.get("prune_rows", []):
                    same = (row["device"], row["model"], row.get("precision", "fp32")) == (device, model, precision)
                    if same and abs(float(row.get("prune", 0.0)) - flops_removed) < 0.03:
                        return dict(zip((1, 2, 4), row["ms"], strict=True))
        found = {
            int(cell["threads"]): float(cell["ms"])
            for cell in data.get("cells", [])
            if (cell["device"], cell["runtime"], cell["abi"], cell["model"], cell["precision"])
            == (device, runtime, abi, model, precision)
            and abs(float(cell.get("prune", 0.0)) - flops_removed) < 0.03
        }
        if found:
            return found
    return None
