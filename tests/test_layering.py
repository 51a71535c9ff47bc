"""The layering contracts (``[tool.importlinter]`` in pyproject.toml) hold, so ``pytest`` alone catches a stage
importing a later one, a pass importing the planner, or the compiler importing a framework."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_LINT = "import sys; from importlinter.cli import lint_imports; sys.exit(lint_imports(no_cache=True, no_logo=True))"


def test_import_contracts_are_kept() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _LINT],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


def test_the_passes_share_selection_with_the_planner_through_common() -> None:
    """A worker importing the selection rules does not load the planner, Hydra or OmegaConf."""
    code = (
        "import sys; import recipecc.common.selection as s; "
        "assert s.known_convolutions('mobilenet_v1'), 'catalog missing'; "
        "bad = [m for m in ('recipecc.plan', 'omegaconf', 'hydra') if m in sys.modules]; "
        "assert not bad, bad"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
