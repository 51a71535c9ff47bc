"""``run.lock``: what a run needs to be re-run elsewhere and what to compare when it is.

Every run folder holds one: the fully resolved recipe, its hash, the versions of recipecc and of every tool its
passes use, and content fingerprints of the user's input files (model, dataset). ``recipecc run --lock FILE``
re-runs the locked recipe and names every difference first: a tool at another version, an input file whose
content changed or that is missing, a recipe that resolves to another hash.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from dataclasses import asdict
from importlib import metadata
from pathlib import Path
from typing import Any

from recipecc.plan import Plan
from recipecc.plan.cache import fingerprint_path, tool_versions
from recipecc.plan.registry import PASSES
from recipecc.recipe.errors import RecipeError
from recipecc.recipe.schema import RecipeConfig

__all__ = ["LOCK_FILE", "LOCK_VERSION", "compare_lock", "lock_document", "read_lock", "write_lock"]

log = logging.getLogger(__name__)

LOCK_FILE = "run.lock"
LOCK_VERSION = 1
#: always recorded, whatever the backend
_CORE = ("recipecc", "hydra-core", "omegaconf", "numpy", "scikit-learn")


def _versions(plan: Plan) -> dict[str, str]:
    tools: set[str] = set(_CORE)
    for node in plan.nodes:
        tools.update(PASSES[node.pass_name].tools)
    versions = tool_versions(sorted(tools))
    try:
        versions["recipecc"] = metadata.version("recipecc")
    except metadata.PackageNotFoundError:
        versions["recipecc"] = "not-installed"
    return versions


def _inputs(recipe: RecipeConfig) -> dict[str, dict[str, str]]:
    """The user's files the run read, with a content fingerprint (folders: names, sizes and times)."""
    found: dict[str, dict[str, str]] = {}
    for key, value in (("model.path", recipe.model.path), ("dataset.root", recipe.dataset.root)):
        if value:
            path = Path(value).expanduser()
            found[key] = {
                "path": str(path.resolve()),
                "fingerprint": fingerprint_path(path) if path.exists() else "missing",
            }
    return found


def lock_document(recipe: RecipeConfig, plan: Plan) -> dict[str, Any]:
    """The lock of ``recipe`` as planned here and now."""
    return {
        "recipecc_lock": LOCK_VERSION,
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "recipe_hash": plan.recipe_hash,
        "versions": _versions(plan),
        "inputs": _inputs(recipe),
        "recipe": asdict(recipe),
    }


def write_lock(run_dir: Path, recipe: RecipeConfig, plan: Plan, extra: Mapping[str, Any] | None = None) -> Path:
    """Write ``run.lock`` (YAML) into ``run_dir``, atomically."""
    import os

    from omegaconf import OmegaConf

    document = {**lock_document(recipe, plan), **(extra or {})}
    path = run_dir / LOCK_FILE
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(
        "# recipecc run lock: re-run with `recipecc run --lock run.lock` (every difference is named first)\n"
        + OmegaConf.to_yaml(OmegaConf.create(document))
    )
    os.replace(tmp, path)
    return path


def read_lock(path: Path) -> dict[str, Any]:
    """A ``run.lock`` file, checked for its shape (a missing or foreign file is a clear error)."""
    from recipecc.recipe.safe_yaml import read_mapping

    data = read_mapping(path, "lock file")
    missing = [key for key in ("recipecc_lock", "recipe", "recipe_hash", "versions", "inputs") if key not in data]
    if missing:
        raise RecipeError(
            f"lock file '{path}' is not a recipecc run.lock (no {', '.join(missing)})",
            key="--lock",
            value=str(path),
            valid="the run.lock of a recipecc run folder",
        )
    return data


def compare_lock(locked: Mapping[str, Any], current: Mapping[str, Any]) -> list[str]:
    """Every difference between a lock and the same recipe planned here, one sentence each."""
    problems: list[str] = []
    if locked["recipe_hash"] != current["recipe_hash"]:
        problems.append(
            f"recipe hash: locked {locked['recipe_hash']}, resolves here to {current['recipe_hash']} "
            "(this recipecc reads the recipe differently)"
        )
    locked_versions, versions = dict(locked["versions"]), dict(current["versions"])
    for name in sorted(set(locked_versions) | set(versions)):
        before, now = locked_versions.get(name, "not recorded"), versions.get(name, "not used")
        if before != now:
            problems.append(f"{name}: locked {before}, here {now}")
    locked_inputs, inputs = dict(locked["inputs"]), dict(current["inputs"])
    for key in sorted(set(locked_inputs) | set(inputs)):
        before, now = locked_inputs.get(key), inputs.get(key)
        if before is None or now is None:
            problems.append(f"{key}: {'not in the lock' if before is None else 'not used here'}")
        elif now["fingerprint"] == "missing":
            problems.append(f"{key}: {now['path']} is missing")
        elif before["fingerprint"] != now["fingerprint"]:
            problems.append(f"{key}: {now['path']} changed (locked {before['fingerprint']}, now {now['fingerprint']})")
    return problems
