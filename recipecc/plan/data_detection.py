"""The dataset node of detection recipes: a user's VOC / COCO set (checked here, at plan time) or the shapes set.

``dataset=shapes_voc`` / ``shapes_coco`` generate the shapes set and read it as VOC / COCO unless ``dataset.root``
points at a real set, which is then read in that format (``recipecc run recipe=yolov3_mnv1_prune52
dataset.root=/data/VOCdevkit/VOC2012``); ``dataset=voc`` / ``coco`` require the root. A missing split file,
annotation file or image folder, or a malformed annotation file (parsed here when small enough to be quick), is a
compile error naming the file. Every file under the root is fingerprinted into the node's key.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from recipecc.datasets.errors import DatasetFormatError
from recipecc.datasets.shapes import SHAPE_CLASSES
from recipecc.datasets.sources import check_detection
from recipecc.plan.cache import fingerprint_path
from recipecc.plan.data_common import image_set_params
from recipecc.recipe.anchors import ANCHOR_COUNT, anchor_choice
from recipecc.recipe.errors import RecipeError

if TYPE_CHECKING:
    from recipecc.plan.builder import PlanBuilder

__all__ = ["DETECTION_DATASETS", "detection_params"]

#: dataset name -> the format it is read in
DETECTION_DATASETS = {"shapes_voc": "voc", "shapes_coco": "coco", "voc": "voc", "coco": "coco"}
#: the shapes set is generated at the model's input size, up to this (larger inputs are upsampled)
MAX_GENERATED_SIZE = 320


def detection_params(b: PlanBuilder, layout: str, input_size: int) -> dict[str, Any]:
    model, data = b.recipe.model, b.recipe.dataset
    fmt = DETECTION_DATASETS[data.name]
    params: dict[str, Any] = image_set_params(b, layout) | {
        "format": fmt,
        "input_size": input_size,
        "annotations": data.annotations,
        "image_dir": data.image_dir,
    }
    anchors = anchor_choice(model)
    if anchors.source == "fitted":
        params["fit_anchors"] = ANCHOR_COUNT
    b.check("anchors", "ok", anchors.reason)
    if data.root is None:
        if not data.name.startswith("shapes_"):
            raise RecipeError(
                f"dataset={data.name} needs the folder of your data set",
                key="dataset.root",
                valid="dataset.root=DIR (VOC: Annotations + JPEGImages + ImageSets/Main; COCO: "
                "annotations/instances_<split>.json + image folder)",
            )
        if model.num_classes != len(SHAPE_CLASSES):
            raise RecipeError(
                f"the shapes set has {len(SHAPE_CLASSES)} classes ({', '.join(SHAPE_CLASSES)}), "
                f"model.num_classes is {model.num_classes}",
                key="model.num_classes",
                value=model.num_classes,
                valid=str(len(SHAPE_CLASSES)),
            )
        params["generate"] = {
            "image_size": min(input_size, MAX_GENERATED_SIZE),
            "splits": {params["train_split"]: data.max_images or 128, params["split"]: data.eval_images},
        }
        b.check(
            "data",
            "ok",
            f"generated shapes set in {fmt.upper()} format: {params['generate']['image_size']}px images, "
            f"{len(SHAPE_CLASSES)} classes, {data.max_images or 128} training + {data.eval_images} evaluation images",
        )
        return params
    root = Path(data.root).expanduser()
    try:
        counts = {
            params["train_split"]: check_detection(fmt, root, params["train_split"]),
            params["split"]: check_detection(fmt, root, params["split"], data.annotations, data.image_dir),
        }
    except DatasetFormatError as exc:
        raise RecipeError(
            str(exc), key="dataset.root", value=str(exc.path), valid=exc.expected or f"a readable {fmt.upper()} set"
        ) from None
    params |= {"root": str(root), "root_fingerprint": fingerprint_path(str(root))}
    shown = {split: ("?" if n is None else str(n)) for split, n in counts.items()}
    b.check(
        "data",
        "ok",
        f"{fmt.upper()} detection set under {root}: {shown[params['train_split']]} training "
        f"('{params['train_split']}'), {shown[params['split']]} evaluation ('{params['split']}') images; at most "
        f"{data.eval_images} evaluated",
    )
    return params
