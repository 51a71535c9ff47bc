"""Hydra search-path plugin: team recipe folders and packages from ``RECIPECC_PATH`` join recipecc's config groups.

Hydra discovers this module in the ``hydra_plugins`` namespace, in every process that composes a recipe (the CLI,
the compose API, joblib and Ray workers), so the same recipes, strategies and targets are found everywhere. It
touches only recipecc's own config search path.
"""

from __future__ import annotations

from hydra.core.config_search_path import ConfigSearchPath
from hydra.plugins.search_path_plugin import SearchPathPlugin

__all__ = ["RecipeccSearchPathPlugin"]


class RecipeccSearchPathPlugin(SearchPathPlugin):
    def manipulate_search_path(self, search_path: ConfigSearchPath) -> None:
        from recipecc.recipe.searchpath import PROVIDER, is_recipecc_search_path, search_path_entries

        if not is_recipecc_search_path(search_path):
            return
        for entry in search_path_entries():
            search_path.append(provider=PROVIDER, path=entry)
