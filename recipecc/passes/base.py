"""What every pass receives and may use: its parameters, its input artifacts, its output folder, a progress bar.

Kept free of any framework import: it is loaded in the compiler process and in every backend worker.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["TASK_KEYS", "PassContext", "PassFailure", "TrainSettings", "progress", "read_artifact", "task_of"]

#: the parameters the planner gives passes that train or score a model for its task (``PlanBuilder.task_params``)
TASK_KEYS = ("task", "num_classes", "ignore_index", "threshold", "decoder", "augment", "assign_iou")


def task_of(params: Mapping[str, Any], data: Path | None = None) -> dict[str, Any]:
    """The task parameters the planner gave a pass (classification when it gave none).

    What the plan leaves to the data (a detector's anchors fitted to the training boxes) is read from the data
    artifact ``data`` (the pass's ``data`` input), so training, evaluation and export use the same values."""
    task = {key: params[key] for key in TASK_KEYS if key in params}
    decoder = task.get("decoder")
    if isinstance(decoder, Mapping):
        from recipecc.metrics.yolo import resolve_anchors

        try:
            task["decoder"] = resolve_anchors(decoder, read_artifact(data) if data is not None else None)
        except ValueError as exc:
            raise PassFailure(str(exc)) from None
    return task


class PassFailure(Exception):
    """A pass could not do its job for a reason the user can act on (the message says which)."""


@dataclass(frozen=True)
class PassContext:
    """One pass invocation. Inputs are finished cache entries; the pass writes only into ``out_dir``."""

    node_id: str
    params: Mapping[str, Any]
    inputs: Mapping[str, Path]
    out_dir: Path
    extra: Mapping[str, Any] = field(default_factory=dict)

    def input(self, name: str) -> Path:
        try:
            return self.inputs[name]
        except KeyError:
            raise PassFailure(f"pass '{self.node_id}' needs an input named '{name}'") from None


@dataclass(frozen=True)
class TrainSettings:
    """How a pass trains a network: the same numbers drive every framework's training loop."""

    epochs: int
    lr: float
    batch_size: int
    optimizer: str = "momentum"
    weight_decay: float = 0.0
    seed: int = 0

    @classmethod
    def from_params(cls, params: Mapping[str, Any], **overrides: Any) -> TrainSettings:
        """Read the settings from a pass's parameters; ``overrides`` fix what the pass decides itself."""
        values = {name: params[name] for name in cls.__dataclass_fields__ if name in params} | overrides
        return cls(
            epochs=int(values["epochs"]),
            lr=float(values["lr"]),
            batch_size=int(values["batch_size"]),
            optimizer=str(values.get("optimizer", "momentum")),
            weight_decay=float(values.get("weight_decay", 0.0)),
            seed=int(values.get("seed", 0)),
        )


def read_artifact(folder: Path) -> dict[str, Any]:
    """The metadata a finished upstream pass recorded (``artifact.json``)."""
    data: dict[str, Any] = json.loads((folder / "artifact.json").read_text())
    return data


@contextmanager
def progress(description: str, total: int) -> Iterator[Callable[..., None]]:
    """A rich progress bar on stderr (workers share the terminal); yields ``advance(n, status=None)``."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console(file=sys.stderr)
    columns = (
        TextColumn("  [cyan]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[status]}"),
    )
    with Progress(*columns, console=console, transient=False, disable=not console.is_terminal) as bar:
        task = bar.add_task(description, total=total, status="")

        def advance(n: int = 1, status: str | None = None) -> None:
            if status is not None:
                bar.update(task, status=status)
            bar.advance(task, n)

        yield advance
