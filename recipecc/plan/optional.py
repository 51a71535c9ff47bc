"""Import the per-backend modules of a package that exist: a backend whose module is not written yet is skipped,
but an import error inside an existing module is never swallowed."""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from types import ModuleType

__all__ = ["present_modules"]


def present_modules(package: str, names: Iterable[str]) -> dict[str, ModuleType]:
    """``{name: module}`` for each ``package.name`` that exists."""
    found: dict[str, ModuleType] = {}
    for name in names:
        qualified = f"{package}.{name}"
        try:
            found[name] = importlib.import_module(qualified)
        except ModuleNotFoundError as exc:
            if exc.name != qualified:
                raise
    return found
