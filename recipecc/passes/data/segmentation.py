"""``data.segmentation``: a label-map set (VOC, Cityscapes or PaddleSeg lists), or the generated shapes set.

The images of the training split (at most ``max_images``, shuffled with the recipe's seed) and the first
``eval_images`` of the evaluation split are resized to ``size`` [H, W] (images bilinear, label maps nearest, so
class indices and the ignore index stay exact), scaled, normalised per channel and written image by image into
memory-mapped ``.npy`` arrays (:class:`recipecc.passes.data.arrays.ArrayWriter`): training, calibration and
evaluation then read batches, never the whole set. A label value that is neither a class (0..num_classes-1) nor
the ignore index is an error naming the file. With ``generate`` the pass first writes the shapes set
(:func:`recipecc.datasets.shapes.write_shapes`) into its own folder and reads it like a user's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from recipecc.datasets.errors import DatasetFormatError
from recipecc.datasets.segmentation import SegmentationSample, detect_format, list_samples, read_image, read_mask
from recipecc.passes.base import PassContext, PassFailure, progress
from recipecc.passes.data.arrays import ArrayWriter, ImageWriter
from recipecc.passes.data.roots import dataset_root

__all__ = ["run"]


def _write(
    folder: Path,
    part: str,
    samples: list[SegmentationSample],
    *,
    size: tuple[int, int],
    params: Any,
    advance: Any,
) -> None:
    from PIL import Image

    height, width = size
    images = ImageWriter(folder, part, len(samples), size, params)
    masks = ArrayWriter(folder, f"y_{part}", (len(samples), height, width), np.uint8)
    classes, ignore = int(params["num_classes"]), int(params["ignore_index"])
    for index, sample in enumerate(samples):
        try:
            rgb = read_image(sample.image)
            mask = read_mask(sample)
        except DatasetFormatError as exc:
            raise PassFailure(str(exc)) from None
        if mask.shape != rgb.shape[:2]:
            raise PassFailure(f"{sample.mask}: the label map is {mask.shape}, its image {rgb.shape[:2]}")
        bad = np.setdiff1d(np.unique(mask), [*range(classes), ignore])
        if bad.size:
            raise PassFailure(
                f"{sample.mask}: label values {bad[:8].tolist()} are neither classes 0..{classes - 1} "
                f"(model.num_classes={classes}) nor the ignore index {ignore} (dataset.ignore_index)"
            )
        if (height, width) != mask.shape:
            mask = np.asarray(Image.fromarray(mask).resize((width, height), Image.Resampling.NEAREST))
        images[index] = rgb
        masks[index] = mask
        advance(1)
    images.close()
    masks.close()


def run(ctx: PassContext) -> dict[str, Any]:
    p = ctx.params
    generated = p.get("generate")
    root = dataset_root(ctx)
    try:
        fmt = str(p.get("format") or detect_format(root))
        train = list_samples(root, str(p["train_split"]), fmt)
        test = list_samples(root, str(p["split"]), fmt)
    except DatasetFormatError as exc:
        raise PassFailure(str(exc)) from None
    rng = np.random.RandomState(int(p["seed"]))
    train = [train[i] for i in rng.permutation(len(train))]
    if p.get("max_images"):
        train = train[: int(p["max_images"])]
    test = test[: int(p["eval_images"])]
    size = (int(p["size"][0]), int(p["size"][1]))
    with progress("read label maps", len(train) + len(test)) as advance:
        _write(ctx.out_dir, "train", train, size=size, params=p, advance=advance)
        _write(ctx.out_dir, "test", test, size=size, params=p, advance=advance)
    channels_first = p["layout"] == "NCHW"
    return {
        "format": "arrays-npy",
        "name": str(p["name"]),
        "root": "generated shapes set (in this artifact)" if generated else str(root),
        "data_format": fmt,
        "splits": {"train": str(p["train_split"]), "eval": str(p["split"])},
        "layout": p["layout"],
        "input_shape": [3, *size] if channels_first else [*size, 3],
        "num_classes": int(p["num_classes"]),
        "ignore_index": int(p["ignore_index"]),
        "labelled": True,
        "label_kind": "mask",
        "train_size": len(train),
        "test_size": len(test),
    }
