"""Put the deployable model of every stage into the run folder: ``models/<stage>/<files>``.

The cache keeps artifacts under content hashes, where nobody would look for "my int8 model". Each stage's files
are hard-linked from the cache (no extra disk space; a copy when the cache is on another file system), so the
run folder is self-contained and survives a cleaned cache. ``files.model`` in ``results.json`` names the file
(a one-file model: ``.onnx``, ``.tflite``) or the folder (a Paddle inference model, ONNX with external data),
relative to the run folder. A task that needs more than the model to be deployed writes its facts beside it:
a detector's ``detector.json`` (anchors, anchor masks and stride per output, input size and normalisation, class
names, score threshold and NMS settings, as the run decoded the stage), named by ``files.detector``.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from recipecc.plan.cache import ArtifactCache
from recipecc.plan.graph import Plan, PlanNode
from recipecc.tasks import TASKS, task_module

__all__ = ["MODELS_DIR", "deliver_evaluation_files", "deliver_models", "deployable_files"]

log = logging.getLogger(__name__)

MODELS_DIR = "models"
#: the data step's parameters a deployer needs to prepare an image as the run did
PREPROCESSING = ("input_size", "layout", "color", "scale", "mean", "std")


def deployable_files(meta: Mapping[str, Any]) -> list[str]:
    """The files a user deploys, relative to the artifact folder.

    ``deployable_files`` when a pass measures a different twin than it ships (Paddle weight-only: the dequantized
    twin is measured, the int8-weight model is shipped), else ``model_files``.
    """
    files = meta.get("deployable_files") or meta.get("model_files") or []
    return [str(name) for name in files]


def _place(source: Path, target: Path) -> str:
    """Hard-link ``source`` to ``target`` (copy across file systems); returns how."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        target.unlink()
    try:
        os.link(source, target)
        return "hard link"
    except OSError:
        shutil.copy2(source, target)
        return "copy"


def _place_tree(source: Path, target: Path) -> str:
    ways = {_place(item, target / item.relative_to(source)) for item in sorted(source.rglob("*")) if item.is_file()}
    return "copy" if "copy" in ways else "hard link"


def deliver_models(plan: Plan, outputs: Mapping[str, Mapping[str, Any]], run_dir: Path) -> dict[str, dict[str, Any]]:
    """Link each measured stage's deployable files into ``run_dir/models/<stage>/``; returns ``files`` by stage.

    A stage whose model pass failed (optional search candidates) has nothing to deliver and is left out.
    """
    cache = ArtifactCache(plan.cache_root)
    delivered: dict[str, dict[str, Any]] = {}
    for node in plan.bench_nodes:
        source_id = node.inputs.get("model")
        if node.id not in outputs or source_id is None or source_id not in outputs:
            continue
        source_dir = cache.path(plan.node(source_id).key)
        names = deployable_files(outputs[source_id])
        if not names:
            continue
        stage_dir = run_dir / MODELS_DIR / str(node.stage)
        if stage_dir.exists():
            shutil.rmtree(stage_dir)
        ways: set[str] = set()
        placed: list[str] = []
        for name in names:
            source = source_dir / name
            target = stage_dir / Path(name).name
            if source.is_dir():
                ways.add(_place_tree(source, target))
            elif source.is_file():
                ways.add(_place(source, target))
            else:
                log.warning("stage %s: %s is missing from its cache entry %s", node.stage, name, source_dir)
                continue
            placed.append(target.relative_to(run_dir).as_posix())
        if not placed:
            continue
        single = len(placed) == 1
        delivered[str(node.stage)] = {
            "model": placed[0] if single else stage_dir.relative_to(run_dir).as_posix(),
            "all": placed,
            "from_cache": source_dir.as_posix(),
            "placed_by": "copy" if "copy" in ways else "hard link",
            **_deployment_file(plan, outputs, node, stage_dir, run_dir),
        }
    return delivered


def _deployment_file(
    plan: Plan, outputs: Mapping[str, Mapping[str, Any]], node: PlanNode, stage_dir: Path, run_dir: Path
) -> dict[str, str]:
    """The task's deployment facts beside the stage's model (a detector's ``detector.json``: anchors, masks,
    strides, input size and normalisation, class names, thresholds), as the stage's benchmark decoded it; returns
    ``{"detector": path}`` for results.json, or nothing for tasks without such a file."""
    evaluation = outputs.get(node.id, {}).get("evaluation") or {}
    task = str(evaluation.get("task") or node.params.get("task", "classification"))
    if task not in TASKS:
        return {}
    module = task_module(task)
    write = getattr(module, "deployment", None)
    if write is None:
        return {}
    data = next((n for n in plan.nodes if n.id == "data"), None)
    data_meta = dict(outputs.get(data.id, {})) if data is not None else {}
    try:
        facts = write(
            node.params,
            data_meta=data_meta,
            preprocessing={k: data.params[k] for k in PREPROCESSING if data is not None and k in data.params},
            io=evaluation.get("io"),
        )
    except ValueError as exc:  # the benchmark decoded with these facts, so this is a damaged cache entry: say so
        log.warning("stage %s: no %s written: %s", node.stage, module.DEPLOYMENT_FILE, exc)
        return {}
    if facts is None:
        return {}
    target = stage_dir / str(module.DEPLOYMENT_FILE)
    target.write_text(json.dumps(facts, indent=2) + "\n")
    return {target.stem: target.relative_to(run_dir).as_posix()}


def deliver_evaluation_files(
    plan: Plan, outputs: Mapping[str, Mapping[str, Any]], run_dir: Path, files: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    """Link what evaluation wrote for people to re-check into the run folder; returns the run's ``dataset`` facts.

    Per stage, the files its task's evaluator wrote (detection: ``detections.json``, a COCO results file) go to
    ``evaluation/<stage>/`` and into ``files`` (``files.detections``). The data node's ground truth
    (``ground_truth.json``: the COCO instances of the evaluated images) goes to ``evaluation/annotations.json``;
    ``dataset.annotations`` names it, so anyone can recompute the metric with pycocotools. A detector's anchors
    fitted by the data pass go to ``dataset.anchors`` (the values, how they were fitted, how well they cover the
    boxes next to COCO's).
    """
    cache = ArtifactCache(plan.cache_root)
    for node in plan.bench_nodes:
        if node.id not in outputs:
            continue
        written = (outputs[node.id].get("evaluation") or {}).get("files") or {}
        for kind, name in written.items():
            source = cache.path(node.key) / str(name)
            if source.is_file():
                target = run_dir / "evaluation" / str(node.stage) / Path(str(name)).name
                _place(source, target)
                files.setdefault(str(node.stage), {})[str(kind)] = target.relative_to(run_dir).as_posix()
    dataset: dict[str, Any] = {}
    data = next((n for n in plan.nodes if n.id == "data"), None)
    if data is not None and data.id in outputs and outputs[data.id].get("ground_truth"):
        source = cache.path(data.key) / str(outputs[data.id]["ground_truth"])
        if source.is_file():
            target = run_dir / "evaluation" / "annotations.json"
            _place(source, target)
            dataset["annotations"] = target.relative_to(run_dir).as_posix()
            dataset["annotation_source"] = outputs[data.id].get("annotation_source")
    if data is not None and data.id in outputs and outputs[data.id].get("anchors"):
        dataset["anchors"] = outputs[data.id]["anchors"]  # a detector's anchors, fitted to the training boxes
    return dataset
