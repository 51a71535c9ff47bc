"""Compose a recipe from Hydra config groups, and turn every composition failure into a :class:`RecipeError`.

``recipes/`` is the primary config directory (groups ``model``, ``dataset``, ``strategy``, ``recipe``); the device
profiles in ``targets/*.yaml`` form the ``target`` group. The verbs that do not run (``plan``, ``show``, ``list``)
and the tests use Hydra's compose API; ``run`` goes through Hydra's main (multirun, run directories) but composes
here first, so a bad recipe fails with the same message everywhere.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import ConfigAttributeError, ConfigKeyError, OmegaConfBaseException, ValidationError

from recipecc.paths import recipes_dir, targets_dir
from recipecc.recipe.errors import RecipeError, did_you_mean
from recipecc.recipe.guard import (
    check_cli_only,
    check_known_keys,
    check_no_resolvers,
    check_overrides,
    check_yaml_tree,
)
from recipecc.recipe.moved_keys import moved_key_error
from recipecc.recipe.schema import QuantConfig, RecipeConfig, TargetConfig

__all__ = [
    "GROUPS",
    "compose_recipe",
    "describe_replacements",
    "group_options",
    "hydra_context",
    "list_groups",
    "register_configs",
    "translate_error",
]

log = logging.getLogger(__name__)

#: The config groups a recipe is composed from, in the order of the defaults list.
GROUPS = ("model", "dataset", "strategy", "target", "recipe")
PRIMARY_CONFIG = "config"
_registered_targets: dict[str, Path] = {}


def _load_target(path: Path) -> DictConfig:
    """A target profile checked against the schema, so a typo in a shared target file names that file."""
    try:
        raw = OmegaConf.load(path)
        merged = OmegaConf.merge(OmegaConf.structured(TargetConfig), raw)
    except OmegaConfBaseException as exc:
        key = getattr(exc, "full_key", None) or getattr(exc, "key", None)
        raise RecipeError(
            f"target file {path}: bad key '{key}': {exc.msg if hasattr(exc, 'msg') else exc}",
            key=str(key),
            valid=[f.name for f in TargetConfig.__dataclass_fields__.values()],
            suggestion=did_you_mean(str(key), TargetConfig.__dataclass_fields__),
        ) from None
    if not isinstance(merged, DictConfig):  # pragma: no cover - a mapping always merges to a DictConfig
        raise RecipeError(f"target file {path} is not a mapping")
    if merged.name != path.stem:
        merged.name = path.stem
    return merged


def register_configs() -> None:
    """Register the schema and the target profiles with Hydra's ConfigStore (cheap; safe to call again)."""
    from hydra.core.config_store import ConfigStore

    cs = ConfigStore.instance()
    cs.store(name="recipe_schema", node=RecipeConfig)
    for path in sorted(targets_dir().glob("*.yaml")):
        if _registered_targets.get(path.stem) == path:
            continue
        cs.store(group="target", name=path.stem, node=_load_target(path))
        _registered_targets[path.stem] = path


@contextmanager
def hydra_context() -> Iterator[None]:
    """Hydra's compose API initialised on ``recipes/`` (nothing else touches global Hydra state here)."""
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    check_yaml_tree([recipes_dir(), targets_dir()], primary=recipes_dir() / f"{PRIMARY_CONFIG}.yaml")
    register_configs()
    if GlobalHydra.instance().is_initialized():
        yield
        return
    with initialize_config_dir(config_dir=str(recipes_dir()), version_base="1.3", job_name="recipecc"):
        yield


def group_options(group: str) -> list[str]:
    """Every option of a config group (e.g. all named recipes, all targets)."""
    from hydra.core.global_hydra import GlobalHydra

    with hydra_context():
        loader = GlobalHydra.instance().config_loader()
        return sorted(loader.get_group_options(group))


def list_groups() -> dict[str, list[str]]:
    """All groups with their options, for ``recipecc list`` and for tests that compose every option."""
    return {group: group_options(group) for group in GROUPS}


def compose_recipe(overrides: Sequence[str] = ()) -> DictConfig:
    """The fully composed recipe for ``overrides`` (``recipe=NAME target=NAME key=value ...``)."""
    from hydra import compose

    check_overrides(overrides)
    from recipecc.recipe.searchpath import search_path_folders

    check_yaml_tree([*_search_path_folders(overrides), *search_path_folders()])  # RECIPECC_PATH, --config-dir too
    with hydra_context():
        try:
            cfg = compose(config_name=PRIMARY_CONFIG, overrides=list(overrides))
        except Exception as exc:  # Hydra raises several unrelated types; all become one clear message
            error = translate_error(exc)
            if error.key is None:
                error = _null_section(overrides) or error
            raise error from None
    check_known_keys(cfg)
    check_no_resolvers(cfg)
    check_cli_only(cfg, OmegaConf.structured(RecipeConfig), overrides)
    describe_replacements(cfg, overrides)
    return cfg


#: overrides that replace what a named recipe is about (its description no longer says what runs)
_REPLACING_KEYS = ("model", "model.arch", "model.path", "dataset", "strategy")


def describe_replacements(cfg: DictConfig, overrides: Sequence[str]) -> None:
    """A named recipe's description describes its own model, data and strategy: when the command line replaces one
    of them (``recipe=digits_prune_quant model=file model.path=x.tflite strategy=int8``, or no ``recipe=`` at all and
    the default recipe underneath), the recorded description says so instead of describing a run that did not
    happen. An explicit ``description=`` wins."""
    given = {o.lstrip("+~").split("=", 1)[0]: o.split("=", 1)[1] for o in overrides if "=" in o}
    replaced = [f"{key}={given[key]}" for key in _REPLACING_KEYS if key in given]
    if replaced and "description" not in given:
        cfg.description = f"recipe '{cfg.name}' with {', '.join(replaced)} set on the command line"


def _search_path_folders(overrides: Sequence[str]) -> list[Path]:
    """Folders added with ``hydra.searchpath=[file:///path]``: their YAML files are scanned like ours."""
    folders: list[Path] = []
    for override in overrides:
        if override.lstrip("+").startswith("hydra.searchpath="):
            folders += [Path(p) for p in re.findall(r"file://([^,\]\s'\"]+)", override)]
    return folders


# --- turning Hydra / OmegaConf failures into one clear message --------------------------------------------


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _schema_fields(full_key: str) -> list[str]:
    """The valid keys beside ``full_key`` in the schema, e.g. ``strategy.prune.ratoi`` -> PruneConfig's fields."""
    node: Any = OmegaConf.structured(RecipeConfig)
    parts = full_key.split(".")[:-1]
    for part in parts:
        try:
            child = node._get_node(part) if isinstance(node, DictConfig) else None
        except Exception:
            child = None
        if child is None:
            return []
        if isinstance(child, DictConfig) and child._is_none():
            # optional sections (strategy.prune, ...) are None in the defaults: use their declared type
            ref = child._metadata.ref_type
            child = OmegaConf.structured(ref.__args__[0] if hasattr(ref, "__args__") else ref)
        node = child
    return [str(k) for k in node] if isinstance(node, DictConfig) else []


def _missing_option(exc: Any) -> RecipeError:
    missing = str(exc.missing_cfg_file or "")
    group, _, name = missing.rpartition("/")
    if not group:
        return RecipeError(f"config '{missing}' not found")
    options = list(exc.options or group_options(group))
    return RecipeError(
        f"{group} '{name}' not found",
        key=group,
        value=name,
        valid=options,
        suggestion=did_you_mean(name, options),
    )


#: schema fields that are free-form mappings (new keys are entries, not typos)
#: mapping fields (free keys) and how an override adds entries to each
_MAPPING_FIELDS = {
    "strategy.prune.per_layer": "{pattern:value} (a '+' adds entries; write dots in patterns as '*')",
    "model.outputs": "{output_name:kind} (a '+' adds entries), e.g. +model.outputs={landmarks:tensor}",
}

_TYPE_WORDS = {
    "Float": "a number, e.g. 0.5",
    "Integer": "a whole number, e.g. 3",
    "Boolean": "true or false",
    "String": "a string",
}


def _null_section(overrides: Sequence[str]) -> RecipeError | None:
    """``strategy.prune.ratio=0.3`` on a strategy without pruning: say which section is missing and where it is.

    OmegaConf fails on such an override with a bare assertion, so the overrides are checked here instead: the
    recipe is composed with its group choices only and each dotted key's parent sections are looked up.
    """
    from hydra import compose

    choices = [o for o in overrides if o.split("=", 1)[0] in GROUPS]
    try:
        base = compose(config_name=PRIMARY_CONFIG, overrides=choices)
    except Exception:
        return None
    for override in overrides:
        key = override.split("=", 1)[0].lstrip("+~")
        parts = key.split(".")
        for depth in range(1, len(parts)):
            section = ".".join(parts[:depth])
            if OmegaConf.select(base, section, default=None) is not None:
                continue
            group = parts[0]
            having = [
                path.stem
                for path in sorted((recipes_dir() / group).glob("*.yaml"))
                if OmegaConf.select(OmegaConf.load(path), ".".join(parts[1:depth]), default=None) is not None
            ]
            hint = f"a {group} that has it ({', '.join(having)}), e.g. {group}={having[0]} {override}"
            return RecipeError(
                f"cannot set '{key}': '{section}' is not part of this recipe (it is null)",
                key=key,
                valid=hint if having else None,
            )
    return None


def translate_error(exc: BaseException) -> RecipeError:
    """The :class:`RecipeError` that says what a Hydra/OmegaConf composition failure means for the user."""
    from hydra.errors import MissingConfigException, OverrideParseException

    for err in _chain(exc):
        if isinstance(err, RecipeError):
            return err
        if isinstance(err, MissingConfigException):
            return _missing_option(err)
        if isinstance(err, OverrideParseException):
            return RecipeError(f"cannot parse override: {err}", valid="key=value, group=option, +key=value")
        if isinstance(err, (ConfigKeyError, ConfigAttributeError)):
            full_key = str(err.full_key or err.key)
            for mapping, entries in _MAPPING_FIELDS.items():
                if full_key.startswith(mapping + "."):
                    return RecipeError(
                        f"cannot add '{full_key[len(mapping) + 1 :]}' to {mapping} with a plain override",
                        key=mapping,
                        valid=f"+{mapping}={entries}",
                    )
            moved = moved_key_error(full_key, quant_list_item=err.object_type is QuantConfig)
            if moved is not None:
                return moved
            name = full_key.rsplit(".", 1)[-1]
            fields = _schema_fields(full_key)
            return RecipeError(
                f"unknown key '{full_key}'",
                key=full_key,
                valid=fields or None,
                suggestion=did_you_mean(name, fields),
            )
        if isinstance(err, ValidationError):
            full_key = str(err.full_key or err.key)
            detail = str(err.msg).splitlines()[0]
            wanted = re.search(r"converted to (\w+)", detail)
            return RecipeError(
                f"{full_key} = {err.value!r} has the wrong type",
                key=full_key,
                value=err.value,
                valid=_TYPE_WORDS.get(wanted.group(1), wanted.group(1)) if wanted else detail,
            )
    message = str(exc).split("\nConfig search path", 1)[0]
    message = re.sub(r"\s+", " ", message).strip()
    return RecipeError(f"cannot compose the recipe: {message}")
