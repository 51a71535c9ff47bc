"""One evaluation loop for every runner and task: stream the held-out split through the model batch by batch,
score it against labels with the task's evaluator, keep the task's compact outputs, compare them with the
baseline's.

A runner gives only ``predict(feeds) -> list of outputs`` and its input/output names; what the outputs mean is the
task's business (:mod:`recipecc.tasks`). Models with several inputs get their feeds from the task's
``feeds(input_names, images)`` (detection: ``image``, ``im_shape``, ``scale_factor``); several outputs are all kept
and all compared.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from recipecc.bench.quality import OUTPUTS_FILE
from recipecc.metrics.yolo import resolve_anchors
from recipecc.passes.base import PassContext, PassFailure, read_artifact
from recipecc.tasks import task_module, task_named
from recipecc.tasks.outputs import DEFAULT_THRESHOLD, HEADLINES

__all__ = ["Evaluation", "evaluate", "evaluate_stage", "feeds_for", "test_batches", "timing_feeds"]

Evaluation = dict[str, Any]


def test_batches(
    data: Mapping[str, Any], batch_size: int, labelled: bool
) -> Iterator[tuple[NDArray[Any], NDArray[Any] | None]]:
    """The held-out split in batches (arrays may be memory-mapped: only a batch is read at a time)."""
    images, targets = data["x_test"], data.get("y_test")
    for start in range(0, len(images), batch_size):
        batch = np.ascontiguousarray(images[start : start + batch_size], dtype=np.float32)
        yield batch, (np.asarray(targets[start : start + batch_size]) if labelled and targets is not None else None)


def feeds_for(task: str, input_names: Sequence[str], images: NDArray[Any]) -> dict[str, NDArray[Any]]:
    """What to feed a model for a batch of images: the images alone, or what the task adds for its other inputs."""
    if len(input_names) == 1:
        return {input_names[0]: images}
    module = task_module("generic" if task == "auto" else task)
    make = getattr(module, "feeds", None)
    if make is None:
        raise PassFailure(
            f"the model takes {len(input_names)} inputs ({', '.join(input_names)}); the {task} task feeds images "
            "only: give a model with one image input, or the model.task that knows its other inputs"
        )
    result: dict[str, NDArray[Any]] = make(list(input_names), images)
    return result


def timing_feeds(
    params: Mapping[str, Any], input_names: Sequence[str], images: NDArray[Any], batch_size: int
) -> dict[str, NDArray[Any]]:
    """What every timed call feeds: the first ``batch_size`` held-out images (contiguous float32), with the
    task's extra inputs when the model has several."""
    batch = np.ascontiguousarray(images[:batch_size], dtype=np.float32)
    return feeds_for(str(params.get("task", "classification")), input_names, batch)


def _load_kept(folder: Path) -> dict[str, NDArray[Any]]:
    with np.load(folder / OUTPUTS_FILE) as kept:
        return {name: kept[name] for name in kept.files}


def foreign_labels(scores: NDArray[Any], labels: NDArray[Any] | None, *, stand_in: bool = False) -> str | None:
    """Why the data's class labels cannot score this model, or None when they can.

    A user's classifier on the default digits data (labels 0-9) may score other classes: PP-OCR's 2-way text
    direction classifier got "top-1 12.50%" from digits labels. Labels beyond the model's class count say the
    label set is not the model's; so does the digits stand-in (``stand_in``) for any model without exactly its 10
    classes (an ImageNet head's classes 0-9 are not digits). Its outputs are then compared with the baseline's.
    """
    if labels is None or len(labels) == 0:
        return None
    if scores.ndim != 2:  # a map, a sequence, boxes: class labels score none of them
        shape = ", ".join(["N", *(str(d) for d in scores.shape[1:])])
        return (
            f"the model's first output has shape [{shape}], not class scores [N, C], so each stage is compared "
            "with the baseline's outputs instead"
        )
    top, classes = int(np.max(labels)), scores.shape[1]
    if stand_in and classes != 10:
        why = f"the digits data's 10 classes are not the model's {classes}"
    elif top >= classes:
        why = f"the data's class labels go up to {top} but the model scores {classes} classes"
    else:
        return None
    return f"{why} (output shape [N, {classes}]), so each stage is compared with the baseline's outputs instead"


def evaluate(
    *,
    params: Mapping[str, Any],
    data: Mapping[str, Any],
    data_meta: Mapping[str, Any],
    input_names: Sequence[str],
    output_names: Sequence[str],
    predict: Callable[[dict[str, NDArray[Any]]], Sequence[NDArray[Any]]],
    reference_dir: Path | None,
    out_dir: Path,
    batch_size: int = 16,
) -> Evaluation:
    """Metrics of one stage: the task's against labels (when they score the model) and fidelity to the baseline.

    Returns ``{"metrics": flat numbers, "headline": metric name, "details": per-output and per-class facts}``;
    the kept outputs are written to ``out_dir/outputs.npz`` for the next stages.
    """
    task = str(params.get("task", "classification"))
    kinds = {str(k): str(v) for k, v in (params.get("outputs") or {}).items()}
    guessed = task == "auto"
    if guessed:  # a user's model of unknown task: classification when the data has class labels
        by_class = data_meta.get("labelled") and data_meta.get("label_kind", "class") == "class"
        # ... and when its first output is class scores: not when model.outputs says it is something else
        first_declared = kinds.get(str(output_names[0])) if output_names else None
        task = "classification" if by_class and first_declared in (None, "scores") else "generic"
    module = task_module(task)
    threshold = float(params.get("threshold") or DEFAULT_THRESHOLD)
    labelled = bool(params.get("labels", True)) and bool(data_meta.get("labelled", True)) and task != "generic"
    if data_meta.get("label_kind", "class") != task_named(task).label_kind:  # e.g. class labels, mask model
        labelled = False
    if labelled and task == "classification":
        labels = data.get("y_test")
        labelled = labels is not None and len(labels) > 0 and int(np.min(labels)) >= 0
    evaluator = None
    # what decoding raw outputs needs (a detector's decoder), passed to the task's evaluator and keep()
    decoding = {k: params[k] for k in ("decoder", "num_classes") if "decoder" in params and k in params}
    if "decoder" in decoding:  # anchors the data pass fitted (the same the training used)
        try:
            decoding["decoder"] = resolve_anchors(decoding["decoder"], data_meta)
        except ValueError as exc:
            raise PassFailure(str(exc)) from None
    if labelled:
        evaluator = module.Evaluator(
            num_classes=params.get("num_classes") or data_meta.get("num_classes"),
            ignore_index=int(params.get("ignore_index", data_meta.get("ignore_index", 255))),
            category_ids=data_meta.get("category_ids"),
            **{k: v for k, v in decoding.items() if k != "num_classes"},
        )
    kept: dict[str, list[NDArray[Any]]] = {}
    channels_last = data_meta.get("layout") == "NHWC"
    labels_note: str | None = None
    shapes: list[dict[str, Any]] = []  # each output's name and per-image shape, as the model gave it
    for images, targets in test_batches(data, batch_size, labelled):
        outputs = [np.asarray(o) for o in predict(feeds_for(task, input_names, images))]
        if not shapes:
            shapes = [{"name": str(n), "shape": list(o.shape[1:])} for n, o in zip(output_names, outputs, strict=False)]
        if channels_last:  # NHWC models give (N, H, W, C) maps: the tasks read (N, C, H, W)
            outputs = [o.transpose(0, 3, 1, 2) if o.ndim == 4 else o for o in outputs]
        if evaluator is not None and task == "classification" and labels_note is None:
            labels_note = foreign_labels(outputs[0], data.get("y_test"), stand_in=data_meta.get("name") == "digits")
            if labels_note is not None:  # a top-1 against classes the model does not have means nothing
                evaluator = None
                if guessed:  # the task was only guessed from the labels: compare output by output
                    task, module = "generic", task_module("generic")
        if evaluator is not None:
            try:
                evaluator.update(outputs, targets)
            except ValueError as exc:
                raise PassFailure(f"cannot score the {task} model: {exc}") from None
        for name, value in module.keep(outputs, list(output_names), **decoding).items():
            kept.setdefault(name, []).append(value)
    ours = {name: np.concatenate(parts) for name, parts in kept.items()}
    np.savez(out_dir / OUTPUTS_FILE, **ours)
    reference = _load_kept(reference_dir) if reference_dir is not None else ours  # the baseline agrees with itself
    requested = [str(m) for m in params.get("metrics", [])]
    try:
        fidelity, details = module.fidelity(ours, reference, requested=requested, threshold=threshold, kinds=kinds)
    except ValueError as exc:  # e.g. model.outputs naming an output the model does not have
        raise PassFailure(f"cannot compare the outputs with the baseline's: {exc}") from None
    metrics: dict[str, float] = {}
    task_info = task_named(task)
    if evaluator is not None:
        metrics |= evaluator.metrics()
        headline = task_info.headline
        metrics |= {k: v for k, v in fidelity.items() if k in requested}
    else:
        metrics |= fidelity
        headline = task_info.fidelity_headline
        if headline == "auto":  # the first output's own measure
            first: dict[str, Any] = next(iter(details.values()), {})
            headline = str(first.get("headline", HEADLINES["tensor"]))
    return {
        "metrics": metrics,
        "headline": headline,
        "details": {
            "task": task,
            "labelled": evaluator is not None,
            **({"labels_note": labels_note} if labels_note else {}),
            "outputs": details,
            "headline_output": next(iter(details), None),
            # what a deployer feeds and reads (detection: recipecc.deliver writes it into the stage's detector.json)
            "io": {"inputs": [str(n) for n in input_names], "outputs": shapes},
            **(evaluator.details() if evaluator is not None else {}),
            # files the task wrote beside the kept outputs (detection: the COCO results file), relative to out_dir
            **({"files": evaluator.files(out_dir)} if evaluator is not None and hasattr(evaluator, "files") else {}),
        },
    }


def evaluate_stage(
    ctx: PassContext,
    data: Mapping[str, Any],
    *,
    input_names: Sequence[str],
    output_names: Sequence[str],
    predict: Callable[[dict[str, NDArray[Any]]], Sequence[NDArray[Any]]],
    batch_size: int = 16,
    data_meta: Mapping[str, Any] | None = None,
) -> Evaluation:
    """:func:`evaluate` for a bench pass: the data split's metadata (unless given), the baseline's kept outputs
    (``reference``) and the stage's folder come from the pass context."""
    return evaluate(
        params=ctx.params,
        data=data,
        data_meta=read_artifact(ctx.input("data")) if data_meta is None else data_meta,
        input_names=input_names,
        output_names=output_names,
        predict=predict,
        reference_dir=ctx.inputs.get("reference"),
        out_dir=ctx.out_dir,
        batch_size=batch_size,
    )
