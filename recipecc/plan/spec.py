"""What a registered pass is: its name, the backend whose worker runs it, its entry point (a string)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["PassSpec"]


@dataclass(frozen=True)
class PassSpec:
    """A registered pass. ``version`` is part of every cache key: bump it when the pass's output changes."""

    name: str
    backend: str
    entry: str
    produces: str
    description: str
    tools: tuple[str, ...]
    version: int = 1
