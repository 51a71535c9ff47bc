"""Recipes come from other people: checks that run before and after Hydra composes one.

A shared recipe (or target profile) is data, never code and never a reason to hang. Before Hydra reads a YAML
file it is scanned here with bounds on size, nesting depth and alias expansion (a 345-byte "billion laughs" file
expands to millions of nodes inside OmegaConf); after composition the recipe is checked for keys the schema does
not know (also those added with ``+``), for resolvers (``${oc.env:...}`` would copy a secret into results.json and
the report) and for keys only the person typing the command may set (``model.trusted``, ``cache_dir``, ``name``
-> run folder, ``hydra.*``), wherever a file sets them.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import yaml
from omegaconf import DictConfig, ListConfig, OmegaConf

from recipecc.recipe.errors import RecipeError, did_you_mean
from recipecc.recipe.moved_keys import moved_key_error

__all__ = [
    "CLI_ONLY_KEYS",
    "MAX_NESTING",
    "MAX_OVERRIDE_CHARS",
    "MAX_YAML_BYTES",
    "MAX_YAML_NODES",
    "check_known_keys",
    "check_no_resolvers",
    "check_output_dir",
    "check_overrides",
    "check_yaml_file",
    "check_yaml_tree",
    "override_keys",
]

log = logging.getLogger(__name__)

#: a recipe or target file larger than this is not a recipe
MAX_YAML_BYTES = 1 << 20
#: mappings/lists inside mappings/lists, counted from the document's root
MAX_NESTING = 32
#: nodes after expanding every alias (a shipped recipe has well under 500)
MAX_YAML_NODES = 20_000
#: one command-line override
MAX_OVERRIDE_CHARS = 8192

#: keys only the command line may set: a shared file must not decide to run code, or where files are written
CLI_ONLY_KEYS: dict[str, str] = {
    "model.trusted": "it allows model files whose loading can run code (pickles, Keras Lambda layers)",
    "cache_dir": "it decides where recipecc writes and what it later loads as trusted cache entries",
}

_RESOLVER = re.compile(r"\$\{\s*([A-Za-z_][\w.]*)\s*:")
_checked: dict[Path, tuple[int, int]] = {}


# --- YAML files, before Hydra/OmegaConf read them -----------------------------------------------------------


def _expanded_size(node: yaml.Node, depth: int, memo: dict[int, int], where: Path) -> int:
    """Nodes ``node`` stands for once every alias is expanded (memoised: linear in the file, however it expands)."""
    if depth > MAX_NESTING:
        raise RecipeError(
            f"{where}: nested deeper than {MAX_NESTING} levels; not read",
            key=str(where),
            valid=f"a recipe nested at most {MAX_NESTING} levels deep",
        )
    known = memo.get(id(node))
    if known is not None:
        return known
    size = 1
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            size += _expanded_size(key, depth + 1, memo, where) + _expanded_size(value, depth + 1, memo, where)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            size += _expanded_size(item, depth + 1, memo, where)
    memo[id(node)] = size
    if size > MAX_YAML_NODES:
        raise RecipeError(
            f"{where}: expands to more than {MAX_YAML_NODES:,} values (YAML aliases); not read",
            key=str(where),
            valid="a recipe without alias bombs (anchors that expand exponentially)",
        )
    return size


def check_yaml_file(path: Path, *, allow_hydra: bool = False) -> None:
    """Refuse a YAML file that is too large, too deep or expands too much, before anything parses it for real;
    and one that configures Hydra, unless it is the project's primary config (``allow_hydra``)."""
    stat = path.stat()
    stamp = (stat.st_size, stat.st_mtime_ns)
    if _checked.get(path) == stamp:
        return
    if stat.st_size > MAX_YAML_BYTES:
        raise RecipeError(
            f"{path}: {stat.st_size:,} bytes is too large for a recipe file; not read",
            key=str(path),
            valid=f"at most {MAX_YAML_BYTES:,} bytes",
        )
    try:
        text = path.read_text(encoding="utf-8")
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except RecursionError:
        raise RecipeError(
            f"{path}: nested deeper than {MAX_NESTING} levels; not read",
            key=str(path),
            valid=f"a recipe nested at most {MAX_NESTING} levels deep",
        ) from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise RecipeError(f"{path}: not valid YAML ({first})", key=str(path), valid="a YAML mapping") from None
    if root is not None:
        _expanded_size(root, 0, {}, path)
        if not allow_hydra:
            _refuse_hydra_settings(root, path)
    _checked[path] = stamp


def _refuse_hydra_settings(root: yaml.Node, path: Path) -> None:
    """Only the primary config and the command line configure Hydra: its callbacks and launchers instantiate
    arbitrary classes, and its run/sweep folders decide where files are written."""
    if not isinstance(root, yaml.MappingNode):
        return
    for key, value in root.value:
        mentions = key.value == "hydra"
        if key.value == "defaults" and isinstance(value, yaml.SequenceNode):
            for item in value.value:
                names = [item.value] if isinstance(item, yaml.ScalarNode) else []
                if isinstance(item, yaml.MappingNode):
                    names = [str(k.value) for k, _ in item.value]
                mentions = mentions or any("hydra" in str(name).split("/")[0] for name in names)
        if mentions:
            raise RecipeError(
                f"{path}: a recipe file may not configure Hydra (hydra.* or a hydra/ default): its callbacks and "
                "launchers run code and its folders decide where files are written",
                key="hydra",
                valid="hydra.* settings on the command line, e.g. hydra.run.dir=runs/mine",
            )


def check_yaml_tree(folders: Iterable[Path], primary: Path | None = None) -> None:
    """:func:`check_yaml_file` for every ``*.yaml``/``*.yml`` under ``folders`` (cached by size and mtime);
    ``primary`` is the one file allowed to configure Hydra."""
    for folder in folders:
        if not folder.is_dir():
            continue
        for path in sorted(folder.rglob("*")):
            if path.suffix in (".yaml", ".yml") and path.is_file():
                check_yaml_file(path, allow_hydra=primary is not None and path == primary)


# --- command-line overrides ---------------------------------------------------------------------------------


def override_keys(overrides: Sequence[str]) -> set[str]:
    """The keys the command line sets (``+key=v``, ``++key=v``, ``key=v``; ``~key`` deletes)."""
    keys: set[str] = set()
    for override in overrides:
        key = override.split("=", 1)[0].strip().lstrip("+~")
        keys.add(key)
    return keys


def check_overrides(overrides: Sequence[str]) -> None:
    """Bounds on what Hydra's override parser is given (its grammar recurses per bracket)."""
    for override in overrides:
        if len(override) > MAX_OVERRIDE_CHARS:
            raise RecipeError(
                f"override '{override[:40]}...' is {len(override):,} characters long",
                key=override.split("=", 1)[0],
                valid=f"at most {MAX_OVERRIDE_CHARS:,} characters",
            )
        depth = deepest = 0
        for char in override:
            if char in "[{(":
                depth += 1
                deepest = max(deepest, depth)
            elif char in "]})":
                depth -= 1
        if deepest > MAX_NESTING:
            raise RecipeError(
                f"override '{override[:40]}...' is nested {deepest} levels deep",
                key=override.split("=", 1)[0],
                valid=f"at most {MAX_NESTING} levels",
            )


# --- the composed recipe ------------------------------------------------------------------------------------


def _walk(node: Any, prefix: str) -> Iterator[tuple[str, Any, Any]]:
    """``(full_key, node, parent)`` for every node below ``node``, without resolving interpolations."""
    if isinstance(node, DictConfig):
        if node._is_none() or node._is_missing() or node._is_interpolation():
            return
        for key in node:
            name = str(key)
            child: Any = node._get_node(name)
            full = f"{prefix}.{name}" if prefix else name
            yield full, child, node
            yield from _walk(child, full)
    elif isinstance(node, ListConfig):
        if node._is_none() or node._is_missing() or node._is_interpolation():
            return
        for index in range(len(node)):
            item: Any = node._get_node(index)
            full = f"{prefix}[{index}]"
            yield full, item, node
            yield from _walk(item, full)


def _dataclass_fields(node: DictConfig) -> list[str] | None:
    kind = OmegaConf.get_type(node)
    if kind is not None and dataclasses.is_dataclass(kind):
        return [f.name for f in dataclasses.fields(kind)]
    return None


def check_known_keys(cfg: DictConfig) -> None:
    """Every key of the composed recipe is a schema field, however it arrived (``+key=...`` included).

    Hydra lets ``+`` add a key to a structured config; a typo added that way (``+strategy.prune.ratoi=0.3``) would
    otherwise be silently ignored.
    """
    for full_key, _, parent in _walk(cfg, ""):
        if not isinstance(parent, DictConfig):
            continue
        fields = _dataclass_fields(parent)
        name = full_key.rsplit(".", 1)[-1]
        if fields is not None and name not in fields:
            moved = moved_key_error(full_key)
            if moved is not None:
                raise moved
            raise RecipeError(
                f"unknown key '{full_key}'",
                key=full_key,
                valid=fields,
                suggestion=did_you_mean(name, fields),
            )


def check_no_resolvers(cfg: DictConfig) -> None:
    """No resolver (``${oc.env:...}``, ``${oc.decode:...}``, ...) anywhere in a recipe.

    References to other keys (``${model.arch}``) stay allowed; anything that reads the environment or runs a
    function does not: a shared recipe could copy a secret into results.json and the report.
    """
    for full_key, node, _ in _walk(cfg, ""):
        if isinstance(node, (DictConfig, ListConfig)) and not node._is_interpolation():
            continue
        raw = node._value()
        if not isinstance(raw, str):
            continue
        found = _RESOLVER.search(raw)
        if found:
            raise RecipeError(
                f"{full_key} = {raw!r} uses the resolver '{found.group(1)}', which recipes may not use",
                key=full_key,
                value=raw,
                valid="a literal value; to use an environment variable let the shell expand it on the command "
                f'line: {full_key}="$VAR"',
            )


def check_cli_only(cfg: DictConfig, defaults: DictConfig, overrides: Sequence[str]) -> None:
    """Keys in :data:`CLI_ONLY_KEYS` keep the schema's default unless the command line itself sets them."""
    typed = override_keys(overrides)
    for key, why in CLI_ONLY_KEYS.items():
        if key in typed:
            continue
        value = OmegaConf.select(cfg, key, default=None, throw_on_resolution_failure=False)
        default = OmegaConf.select(defaults, key, default=None)
        if value != default:
            raise RecipeError(
                f"{key} is set to {value!r} by a recipe file; only the command line may set it: {why}",
                key=key,
                value=value,
                valid=f"remove it from the file and pass {key}=... on the command line if you mean it",
            )


# --- output folders given on the command line ---------------------------------------------------------------

#: folders no run writes into (kernel and device file systems)
_SYSTEM_ROOTS = (Path("/proc"), Path("/sys"), Path("/dev"))


def check_output_dir(key: str, value: str) -> None:
    """A run or sweep folder (``hydra.run.dir=...``) recipecc can create and write, checked before Hydra tries.

    Only the part before the first interpolation (``${now:...}``) is known here; it must not be empty (reports
    would land in the current folder), a file, below a file, inside /proc, /sys or /dev, or not writable.
    """
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        value = value[1:-1]  # Hydra's quoting: hydra.run.dir='' is the empty string
    static = value.split("${", 1)[0].strip()
    valid = "a folder recipecc may create, e.g. hydra.run.dir=runs/mine"
    if not value.strip():
        raise RecipeError(f"{key} is empty: the reports would be written into the current folder", key=key, valid=valid)
    path = Path(static or ".").expanduser().absolute()
    if any(path == root or root in path.parents for root in _SYSTEM_ROOTS):
        raise RecipeError(f"{key} = {value!r} is inside a system folder", key=key, value=value, valid=valid)
    if static and not static.endswith("/") and path.exists() and not path.is_dir():
        raise RecipeError(f"{key} = {value!r} is an existing file", key=key, value=value, valid=valid)
    existing = path
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise RecipeError(f"{key} = {value!r} lies below the file {existing}", key=key, value=value, valid=valid)
    if not os.access(existing, os.W_OK | os.X_OK):
        raise RecipeError(f"{key} = {value!r}: {existing} is not writable", key=key, value=value, valid=valid)
