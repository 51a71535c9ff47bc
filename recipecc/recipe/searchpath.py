"""Where recipes come from besides the shipped folders: a team's folders and installed packages.

``RECIPECC_PATH`` lists them, separated by ``:`` (``/team/recipes:pkg://team_recipes``); ``--config-dir DIR`` and
``hydra.searchpath=[file://DIR,pkg://PKG]`` on the command line add to it for one command. Each entry is a
folder laid out like ``recipes/`` (``recipe/``, ``strategy/``, ``model/``, ``dataset/``, ``target/`` sub-folders
of YAML files). The Hydra plugin in ``hydra_plugins/recipecc_searchpath`` appends the entries to Hydra's config
search path in every process (CLI, compose API, joblib/Ray workers): the team's options compose with the built-in
groups for every verb. Shipped names come first, so a team file cannot silently replace a built-in one.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Sequence
from importlib import resources
from importlib.util import find_spec
from pathlib import Path
from typing import Any

from recipecc.recipe.errors import RecipeError

__all__ = [
    "ENV_VAR",
    "PROVIDER",
    "add_entries",
    "extract_search_path_args",
    "file_choices",
    "is_recipecc_search_path",
    "option_files",
    "search_path_entries",
    "search_path_folders",
]

ENV_VAR = "RECIPECC_PATH"
PROVIDER = "recipecc-path"
_ENTRY = re.compile(r"(?:pkg|file)://[^:]*|[^:]+")


def _normalise(entry: str, origin: str) -> str:
    """``file://ABS`` for a folder, ``pkg://module`` for a package; a missing one is a clear error."""
    entry = entry.strip()
    if entry.startswith("pkg://"):
        module = entry[len("pkg://") :].strip("/").replace("/", ".")
        try:
            found = find_spec(module) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            raise RecipeError(
                f"{origin}: package '{module}' is not installed",
                key=origin,
                value=entry,
                valid="pkg://<an importable package holding recipe/, strategy/, target/ ... folders>",
            )
        return f"pkg://{module}"
    path = Path(entry[len("file://") :] if entry.startswith("file://") else entry).expanduser()
    if not path.is_dir():
        raise RecipeError(
            f"{origin}: '{entry}' is not a folder",
            key=origin,
            value=entry,
            valid="a folder with recipe/, strategy/, model/, dataset/ or target/ sub-folders, or pkg://<package>",
        )
    return f"file://{path.resolve()}"


def search_path_entries() -> list[str]:
    """The extra search-path entries from ``RECIPECC_PATH``, normalised, without duplicates."""
    entries: list[str] = []
    for raw in _ENTRY.findall(os.environ.get(ENV_VAR, "")):
        if raw.strip():
            entry = _normalise(raw, ENV_VAR)
            if entry not in entries:
                entries.append(entry)
    return entries


def add_entries(entries: Sequence[str], origin: str) -> None:
    """Add entries to ``RECIPECC_PATH`` for this process and the processes it starts (workers, launchers)."""
    current = [e for e in _ENTRY.findall(os.environ.get(ENV_VAR, "")) if e.strip()]
    for entry in entries:
        normalised = _normalise(entry, origin)
        if normalised not in current:
            current.append(normalised)
    if current:
        os.environ[ENV_VAR] = ":".join(current)


def _list_value(value: str) -> list[str]:
    inner = value.strip()
    if inner.startswith("[") and inner.endswith("]"):
        inner = inner[1:-1]
    return [item.strip().strip("'\"") for item in inner.split(",") if item.strip()]


def extract_search_path_args(args: Sequence[str]) -> tuple[list[str], list[str]]:
    """Take ``--config-dir DIR`` / ``-cd DIR`` / ``--config-dir=DIR`` and ``hydra.searchpath=[...]`` out of a
    command line; returns the remaining arguments and the entries they named."""
    rest: list[str] = []
    entries: list[str] = []
    items = iter(args)
    for arg in items:
        if arg in ("--config-dir", "-cd"):
            value = next(items, None)
            if value is None:
                raise RecipeError(f"{arg} needs a folder", key=arg, valid=f"{arg} /path/to/team/recipes")
            entries.append(value)
        elif arg.startswith("--config-dir="):
            entries.append(arg.split("=", 1)[1])
        elif arg.lstrip("+").startswith("hydra.searchpath="):
            entries.extend(_list_value(arg.split("=", 1)[1]))
        else:
            rest.append(arg)
    return rest, entries


def is_recipecc_search_path(search_path: Any) -> bool:
    """Whether a Hydra search path is recipecc's (its primary config folder is the shipped ``recipes/``)."""
    from recipecc.paths import recipes_dir

    shipped = str(recipes_dir())
    return any(str(element.path).rstrip("/").endswith(shipped) for element in search_path.get_path())


def search_path_folders() -> list[Path]:
    """The extra entries as folders on disk (a package's folder for ``pkg://``)."""
    folders: list[Path] = []
    for entry in search_path_entries():
        if entry.startswith("pkg://"):
            try:
                folders.append(Path(str(resources.files(entry[len("pkg://") :]))))
            except (ModuleNotFoundError, TypeError):
                continue
        else:
            folders.append(Path(entry[len("file://") :]))
    return folders


def option_files(group: str) -> Iterator[Path]:
    """Every YAML file that defines an option of ``group``: the shipped ones first, then the team folders'."""
    from recipecc.paths import recipes_dir, targets_dir

    shipped = targets_dir() if group == "target" else recipes_dir() / group
    yield from sorted(shipped.glob("*.yaml"))
    for folder in search_path_folders():
        yield from sorted((folder / group).glob("*.yaml"))


#: config groups an option of which can be given as a file path (``recipe=/team/recipes/recipe/x.yaml``)
_FILE_GROUPS = ("recipe", "strategy", "model", "dataset", "target")


def file_choices(overrides: Sequence[str]) -> list[str]:
    """``group=/path/to/<group>/name.yaml`` becomes ``group=name`` with the folder above ``<group>/`` added to
    the search path (the file may name other options of that folder in its defaults). A file elsewhere is a
    clear error: an option is found by name inside a ``<group>/`` folder."""
    result: list[str] = []
    for override in overrides:
        key, sep, value = override.partition("=")
        group = key.lstrip("+~")
        if not sep or group not in _FILE_GROUPS or not (value.endswith((".yaml", ".yml")) or "/" in value):
            result.append(override)
            continue
        path = Path(value).expanduser()
        if not path.is_file():
            raise RecipeError(
                f"{group} file '{value}' does not exist",
                key=group,
                value=value,
                valid=f"a {group} name (recipecc list), or an existing .../{group}/NAME.yaml",
            )
        if path.parent.name != group:
            raise RecipeError(
                f"{group} file '{value}' must sit in a folder named '{group}/' (options are found by name there)",
                key=group,
                value=value,
                valid=f"move it to DIR/{group}/{path.stem}.yaml and use RECIPECC_PATH=DIR (or --config-dir DIR) with "
                f"{group}={path.stem}; a self-contained recipe from `recipecc export` runs with --recipe-file",
            )
        add_entries([str(path.parent.parent)], f"{group}={value}")
        result.append(f"{key}={path.stem}")
    return result
