"""Tasks: what a model is for (classification, segmentation, detection, ...), as first-class parts of the design.

A task owns what every stage of the compiler would otherwise assume about classification:

- its metadata (:class:`Task`): name, headline metric and its report label, the metrics measured with labels,
  the fidelity metric used without labels, the label kind its readers produce, the datasets that label it and
  the backends that can train it. This is data: the recipe validator, the planner and the report read it without
  importing any framework;
- its evaluation, in numpy (the same module, ``recipecc/tasks/<name>.py``): an ``Evaluator`` that accumulates
  the headline metric batch by batch against labels (``update(outputs, targets)``, ``result()``), ``keep(outputs)``
  (the compact form of a stage's outputs later stages are compared with) and ``fidelity(ours, reference,
  threshold)`` (the comparison of two stages' kept outputs);
- its training hooks, per backend (``recipecc/passes/<backend>/tasks/<name>.py``: the framework's loss and the
  conversion of raw outputs to predictions); a backend without the module cannot train the task, and
  :attr:`Task.trains_on` says so at plan time.

Adding a task is one module here defining ``TASK`` and those functions, plus configs (``recipes/model``,
``recipes/dataset``, ``recipes/recipe``), plus a backend hook module if the task is trained here; the registry
below finds the module by listing this package (see DEVELOPERS.md, "Adding a task").

Models whose task is unknown (a user's file without ``model.task``) are compared output by output with the
baseline (:mod:`recipecc.tasks.outputs`).
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass
from types import ModuleType

__all__ = ["TASKS", "Task", "task_module", "task_named"]


@dataclass(frozen=True)
class Task:
    """What the compiler needs to know about a task without running anything."""

    name: str
    description: str
    #: the metric measured against labels that heads the report (``top1``, ``miou``, ``map``), and its label
    headline: str
    headline_label: str
    #: every metric the evaluator reports with labels, in report order (the headline first)
    metrics: tuple[str, ...]
    #: the metric that heads the report when there are no labels (agreement with the baseline's outputs)
    fidelity_headline: str
    #: what a reader's targets are: "class" (int64 (N,)), "mask" (uint8/int64 (N, H, W), ``ignore_index`` kept),
    #: "boxes" (per image: boxes, classes)
    label_kind: str
    #: the datasets (``dataset.name``) whose labels score this task
    datasets: tuple[str, ...]
    #: backends with a training hook module (``recipecc/passes/<backend>/tasks/<name>.py``)
    trains_on: tuple[str, ...] = ()
    #: metric values in 0..1 shown as percentages (top-1) or as fractions (mIoU 0.698 in the reference tables)
    percent: bool = True


def _discover() -> dict[str, Task]:
    found: dict[str, Task] = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        if info.name.startswith("_") or info.name == "outputs":
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        task = getattr(module, "TASK", None)
        if isinstance(task, Task):
            found[task.name] = task
    return found


#: every task, by name (one module of this package each)
TASKS: dict[str, Task] = _discover()


def task_named(name: str) -> Task:
    return TASKS[name]


def task_module(name: str) -> ModuleType:
    """The module implementing task ``name`` (its ``Evaluator``, ``keep``, ``fidelity``)."""
    return importlib.import_module(f"{__name__}.{name}")
