"""Stage 1 — recipe: compose a recipe with Hydra, check it against the typed schema, report bad input clearly."""

from __future__ import annotations

from recipecc.recipe.compose import compose_recipe, group_options, list_groups
from recipecc.recipe.errors import RecipeError
from recipecc.recipe.schema import RecipeConfig
from recipecc.recipe.validate import validate_recipe

__all__ = ["RecipeConfig", "RecipeError", "compose_recipe", "group_options", "list_groups", "validate_recipe"]
