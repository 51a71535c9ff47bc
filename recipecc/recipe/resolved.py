"""A fully resolved recipe as plain data (``recipecc export``, ``--recipe-file``, ``run.lock``, a job's
``results.json``) turned back into a checked :class:`RecipeConfig`: no config groups, no search path needed."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from recipecc.recipe.errors import RecipeError
from recipecc.recipe.moved_keys import moved_keys_in
from recipecc.recipe.schema import RecipeConfig

__all__ = ["load_recipe_file", "resolved_recipe"]


def resolved_recipe(data: Mapping[str, Any], source: str = "recipe") -> RecipeConfig:
    """Check ``data`` against the schema and the value rules; ``source`` names it in error messages."""
    from recipecc.recipe.compose import translate_error
    from recipecc.recipe.validate import validate_recipe

    moved = moved_keys_in(data, source)
    if moved is not None:
        raise moved
    try:
        merged = OmegaConf.merge(OmegaConf.structured(RecipeConfig), OmegaConf.create(dict(data)))
    except OmegaConfBaseException as exc:
        error = translate_error(exc)
        raise RecipeError(f"{source}: {error}", key=error.key, value=error.value) from None
    assert isinstance(merged, DictConfig)
    return validate_recipe(merged)


def load_recipe_file(path: str | Path) -> RecipeConfig:
    """A self-contained recipe YAML (as ``recipecc export`` writes it)."""
    from recipecc.recipe.safe_yaml import read_mapping

    file = Path(path).expanduser()
    return resolved_recipe(read_mapping(file, "recipe file"), source=f"recipe file {file}")
