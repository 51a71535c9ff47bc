"""Plan-time helpers the tests share: the plan of some overrides, the refusal they raise, the CLI's answer."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from recipecc.plan import Plan, build_plan
from recipecc.recipe import compose_recipe, validate_recipe
from recipecc.recipe.errors import RecipeError

__all__ = ["ROOT", "error_for", "plan_for", "run_cli"]

ROOT = Path(__file__).resolve().parents[1]


def plan_for(*overrides: str) -> Plan:
    """The plan ``recipecc plan OVERRIDES`` shows (composed, validated, built)."""
    return build_plan(validate_recipe(compose_recipe(list(overrides))))


def error_for(*overrides: str) -> RecipeError:
    """The compile error planning ``overrides`` raises (the test fails if it plans)."""
    with pytest.raises(RecipeError) as caught:
        plan_for(*overrides)
    return caught.value


def run_cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """``recipecc ARGS`` in a fresh process (as a user runs it): exit code, stdout and stderr."""
    return subprocess.run(
        [sys.executable, "-m", "recipecc.cli", *args], cwd=cwd, capture_output=True, text=True, check=False
    )
