"""Read a user's YAML file into a mapping, with one clear message for a missing, unreadable or malformed file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from recipecc.recipe.errors import RecipeError

__all__ = ["read_mapping"]


def read_mapping(path: Path, what: str) -> dict[str, Any]:
    """The YAML mapping in ``path`` (``what`` names the file's role in messages)."""
    from omegaconf import DictConfig, OmegaConf

    if not path.is_file():
        raise RecipeError(f"{what} '{path}' does not exist", key=what, value=str(path), valid="an existing YAML file")
    try:
        loaded = OmegaConf.load(path)
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise RecipeError(f"{what} '{path}' is not valid YAML: {first}", key=what, value=str(path)) from None
    if not isinstance(loaded, DictConfig):
        raise RecipeError(f"{what} '{path}' holds a list, not a mapping", key=what, value=str(path))
    container = OmegaConf.to_container(loaded, resolve=False)
    assert isinstance(container, dict)
    return {str(k): v for k, v in container.items()}
