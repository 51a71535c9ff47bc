"""The dataset node of segmentation recipes: a user's label-map set (checked here, at plan time) or the shapes set.

A missing split file, image or label map, or an unreadable / wrong-mode / wrong-size label map among the first
few, is a compile error naming the file (``recipecc.datasets.segmentation.check_split``): nothing runs on a set
that cannot be read. Every file is fingerprinted into the node's key through ``dataset.root``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from recipecc.datasets.errors import DatasetFormatError
from recipecc.datasets.segmentation import FORMATS, check_split, detect_format
from recipecc.plan.cache import fingerprint_path
from recipecc.plan.data_common import image_set_params
from recipecc.recipe.errors import RecipeError

if TYPE_CHECKING:
    from recipecc.plan.builder import PlanBuilder

__all__ = ["SEGMENTATION_DATASETS", "segmentation_params"]

SEGMENTATION_DATASETS = ("segmentation", "shapes_seg")
#: the shapes set's segmentation classes: background + its 4 shapes
SHAPES_SEG_CLASSES = 5


def _size(b: PlanBuilder) -> list[int]:
    model, data = b.recipe.model, b.recipe.dataset
    if model.input_size is not None:
        return [model.input_size, model.input_size]
    if data.size is not None:
        return list(data.size)
    if data.name == "shapes_seg":
        return [data.image_size, data.image_size]
    raise RecipeError(
        "a segmentation dataset needs the model's input size",
        key="dataset.size",
        valid="dataset.size=[H,W] or model.input_size=N (e.g. model.input_size=512)",
    )


def segmentation_params(b: PlanBuilder, layout: str) -> dict[str, Any]:
    model, data = b.recipe.model, b.recipe.dataset
    size = _size(b)
    params: dict[str, Any] = image_set_params(b, layout) | {
        "size": size,
        "ignore_index": data.ignore_index,
        "format": data.format,
    }
    if data.name == "shapes_seg":
        if model.num_classes != SHAPES_SEG_CLASSES:
            raise RecipeError(
                f"the shapes set has {SHAPES_SEG_CLASSES} segmentation classes (background + 4 shapes), "
                f"model.num_classes is {model.num_classes}",
                key="model.num_classes",
                value=model.num_classes,
                valid=str(SHAPES_SEG_CLASSES),
            )
        params["generate"] = {
            "image_size": max(size),
            "splits": {params["train_split"]: data.max_images or 96, params["split"]: data.eval_images},
        }
        params["format"] = "voc"
        b.check("data", "ok", f"generated shapes set: {size[0]}x{size[1]}, {SHAPES_SEG_CLASSES} classes, ignore 255")
        return params
    if data.root is None:
        raise RecipeError(
            "dataset=segmentation needs the folder of your label-map set",
            key="dataset.root",
            valid="dataset.root=DIR (VOC: ImageSets/Segmentation + SegmentationClass; Cityscapes: leftImg8bit + "
            "gtFine; PaddleSeg lists: <split>.txt)",
        )
    if data.format is not None and data.format not in FORMATS:
        raise RecipeError.choice("dataset.format", data.format, list(FORMATS))
    root = Path(data.root).expanduser()
    try:
        fmt = data.format or detect_format(root)
        counts = {split: check_split(root, split, fmt) for split in (params["train_split"], params["split"])}
    except DatasetFormatError as exc:
        raise RecipeError(
            str(exc), key="dataset.root", value=str(exc.path), valid=exc.expected or "a readable label-map set"
        ) from None
    params |= {"root": str(root), "root_fingerprint": fingerprint_path(str(root)), "format": fmt}
    b.check(
        "data",
        "ok",
        f"{fmt} label maps under {root}: {counts[params['train_split']]} training "
        f"('{params['train_split']}'), {counts[params['split']]} evaluation ('{params['split']}') samples; "
        f"{min(counts[params['split']], data.eval_images)} evaluated, ignore index {data.ignore_index}",
    )
    return params
