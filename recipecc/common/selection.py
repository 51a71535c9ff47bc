"""Which convolutions a pruning recipe selects, and with which ratio.

``layers`` patterns select layers at the uniform ``ratio``; ``per_layer`` patterns set their own ratio (and may
select layers ``layers`` did not). Every selector reports how many layers it matched; a selector that matches
nothing is an error, because it is almost always a typo. The planner applies this to the known layer names of
the built-in architectures (``paddle_layers.json``) at compile time; the prune pass applies it to the real model.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from fnmatch import fnmatchcase
from functools import lru_cache
from pathlib import Path

__all__ = ["SelectionError", "known_convolutions", "resolve_ratios"]


class SelectionError(ValueError):
    """A selector matched no layer."""


@lru_cache(maxsize=1)
def _catalog() -> dict[str, list[str]]:
    data: dict[str, list[str]] = json.loads((Path(__file__).with_name("paddle_layers.json")).read_text())
    return data


def known_convolutions(arch: str) -> list[str] | None:
    """Prunable convolution paths of a built-in paddle architecture (None for a user's model)."""
    return _catalog().get(arch)


def resolve_ratios(
    convolutions: Sequence[str],
    layers: Sequence[str],
    ratio: float,
    per_layer: Mapping[str, float] | None = None,
) -> tuple[dict[str, float], dict[str, int]]:
    """Per-layer ratios and the number of layers each selector matched."""
    matches: dict[str, int] = {}
    ratios: dict[str, float] = {}
    for pattern in layers:
        hits = [path for path in convolutions if fnmatchcase(path, pattern)]
        matches[pattern] = len(hits)
        ratios.update({path: ratio for path in hits})
    for pattern, layer_ratio in (per_layer or {}).items():
        hits = [path for path in convolutions if fnmatchcase(path, pattern)]
        matches[f"per_layer:{pattern}"] = len(hits)
        ratios.update({path: float(layer_ratio) for path in hits})
    empty = [pattern for pattern, count in matches.items() if count == 0]
    if empty:
        shown = ", ".join(convolutions[:12]) + (" ..." if len(convolutions) > 12 else "")
        raise SelectionError(f"pruning selector(s) {empty} match no convolution; convolutions: {shown}")
    return ratios, matches
