"""Per-task training hooks of the tf backend: the Keras loss of each task (one module per task).

Each module has ``loss(keras, **task_params)``; scoring is the task's numpy code (:mod:`recipecc.tasks`).
"""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["hooks"]


def hooks(task: str) -> ModuleType:
    return importlib.import_module(f"{__name__}.{task}")
