"""Where the shipped recipes, targets and templates live.

They sit beside the package in a source checkout (the supported install is ``pip install -e .``); a team can
point ``RECIPECC_HOME`` at another tree with the same ``recipes/``, ``targets/`` and ``templates/`` folders.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["cache_root", "project_home", "recipes_dir", "targets_dir", "templates_dir"]


def project_home() -> Path:
    """The folder holding ``recipes/``, ``targets/`` and ``templates/``."""
    env = os.environ.get("RECIPECC_HOME")
    return Path(env).resolve() if env else Path(__file__).resolve().parents[1]


def recipes_dir() -> Path:
    return project_home() / "recipes"


def targets_dir() -> Path:
    return project_home() / "targets"


def templates_dir() -> Path:
    return project_home() / "templates"


def cache_root(configured: str | None = None) -> Path:
    """The artifact cache: the recipe's ``cache_dir``, else ``RECIPECC_CACHE``, else ``~/.cache/recipecc``."""
    if configured:
        return Path(configured).expanduser().resolve()
    env = os.environ.get("RECIPECC_CACHE")
    if env:
        return Path(env).expanduser().resolve()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return (base / "recipecc").resolve()
