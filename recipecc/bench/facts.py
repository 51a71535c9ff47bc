"""Sentences of a report derived from what the run recorded: its title, what ran, how it was measured.

Nothing here is a hard-coded claim: a ``model=file`` run is named after its file, the batch size is the one the
latency rows record, the quality sentence names the metric the stages carry.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from recipecc.tasks import TASKS

__all__ = ["describe_run", "measurement_sentences", "model_label"]

#: what each fidelity metric compares, for the quality sentence
_METRIC_WORDS = {
    "top1": "top-1 against the held-out labels",
    "top1_agreement": "top-1 agreement (same argmax) with the baseline's outputs",
    "cosine": "cosine similarity of the flattened outputs with the baseline's",
    "iou": "IoU of the thresholded output maps with the baseline's",
    "max_abs_error": "largest absolute difference from the baseline's outputs",
    "mean_abs_error": "mean absolute difference from the baseline's outputs",
    "miou": "mIoU against the held-out label maps (confusion matrix, ignore index excluded)",
    "pixel_accuracy": "pixel accuracy against the held-out label maps",
    "miou_agreement": "mIoU of the predicted label maps with the baseline's as the truth",
    "pixel_agreement": "fraction of pixels whose predicted class equals the baseline's",
    "position_agreement": "per-position agreement (same argmax) of the sequence outputs with the baseline's",
}


def model_label(recipe: Mapping[str, Any]) -> str:
    """The model as a user names it: the file's name for ``model=file``, else the architecture (and width)."""
    model = recipe.get("model") or {}
    if model.get("arch") == "file" and model.get("path"):
        return Path(str(model["path"])).name
    arch = str(model.get("arch", "model"))
    width = model.get("width", 1.0)
    return arch if width in (None, 1.0) else f"{arch} x{width:g}"


def describe_run(recipe: Mapping[str, Any], stages: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """``title`` (names the model, strategy and target) and ``description`` (what ran, stage by stage)."""
    model = recipe.get("model") or {}
    strategy = str((recipe.get("strategy") or {}).get("name", "none"))
    target = recipe.get("target") or {}
    label = model_label(recipe)
    title = f"{label} · {strategy} on {target.get('name', '?')}"
    if model.get("arch") == "file":
        source = f"{model.get('format') or Path(str(model.get('path'))).suffix.lstrip('.') or 'model'} file {label}"
        origin = f"{source} ({model.get('path')})"
    else:
        trained = "weights from " + str(model["path"]) if model.get("path") else "built and trained by the pipeline"
        origin = f"{label} ({trained})"
    dataset = recipe.get("dataset") or {}
    data = str(dataset.get("name", "?")) + (f" at {dataset['root']}" if dataset.get("root") else "")
    chain = " -> ".join(f"{s['name']} ({s['precision']})" for s in stages) or "no stage was measured"
    where = target.get("description") or target.get("runtime", "")
    description = (
        f"{origin}; strategy '{strategy}'; data: {data}. Stages: {chain}. Target '{target.get('name', '?')}': {where}."
    )
    return {"title": title, "description": description}


def measurement_sentences(stages: Sequence[Mapping[str, Any]], metric: str) -> dict[str, str]:
    """How latency and quality were measured, from the latency rows and the quality metric of this run."""
    batches = sorted({int(row["batch_size"]) for s in stages for row in s["latency"] if "batch_size" in row})
    batch = f"batch size {', '.join(map(str, batches))}" if batches else "batch size not recorded"
    labelled = {task.headline for task in TASKS.values() if task.metrics}
    if metric in labelled:
        words = "top-1" if metric == "top1" else _METRIC_WORDS.get(metric, metric)
        quality = f"{words} on the held-out split, computed with the same runtime that is timed"
    else:
        quality = (
            f"{_METRIC_WORDS.get(metric, metric)} on the same held-out inputs (no labels that score this model), "
            "computed with the same runtime that is timed"
        )
    sources = sorted({str(row.get("source", "measured-host")) for s in stages for row in s["latency"]})
    timed = (
        "per-call wall time (time.perf_counter_ns) of input copy + run + output copy, "
        f"{batch}, after untimed warmup calls; median and p90 of the timed calls"
    )
    if sources and sources != ["measured-host"]:
        # the device is not this machine: quality is computed here, on the model before any conversion
        quality = quality.replace("computed with the same runtime that is timed", "computed on this machine")
        where = {"measured-remote": f"measured-remote (on the device over SSH): {timed}", "measured-host": timed}
        where["estimated"] = "estimated: recipecc's analytic model of the stage's layers (each row's estimator block)"
        return {"latency": "; ".join(where[s] for s in sources if s in where), "accuracy": quality}
    return {"latency": timed, "accuracy": quality}
