"""``data.detection``: a Pascal VOC or COCO detection set, or the generated shapes set written in either format.

The training split (at most ``max_images``, shuffled with the recipe's seed) and the first ``eval_images`` of the
evaluation split are resized to the model's square input (bilinear, aspect ratio not kept, as PaddleDetection's
YOLOv3 ``Resize(keep_ratio=False)``), scaled, normalised per channel and written image by image into
memory-mapped ``.npy`` arrays: training, calibration and evaluation read batches, never the whole set. Targets are
the detection task's packed boxes in original pixels (:func:`recipecc.datasets.detection.pack_targets`), so
predictions are scored in the coordinates of the user's annotation file.

``ground_truth.json`` is the COCO instances document of exactly the evaluated images (for VOC input, the
converted boxes; "difficult" objects become ``iscrowd`` regions, ignored by the COCO metric): the file the
metric is computed against, which a run names as ``dataset.annotations``. With ``generate`` the pass first writes
the shapes set (:func:`recipecc.datasets.shapes.write_shapes`) into its own folder and reads it like a user's.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from recipecc.datasets.detection import DetectionSample, pack_targets, read_image, to_coco_gt
from recipecc.datasets.errors import DatasetFormatError
from recipecc.datasets.sources import read_detection
from recipecc.metrics.anchors import anchor_fit, fit_anchors
from recipecc.metrics.yolo import anchors_for
from recipecc.passes.base import PassContext, PassFailure, progress
from recipecc.passes.data.arrays import ArrayWriter, ImageWriter
from recipecc.passes.data.roots import dataset_root

__all__ = ["GROUND_TRUTH_FILE", "MAX_BOXES", "box_sizes", "run"]

GROUND_TRUTH_FILE = "ground_truth.json"
#: boxes kept per image (COCO's most crowded images have ~90; YOLOv3 trains on up to 50)
MAX_BOXES = 100


def _write_images(folder: Path, part: str, samples: list[DetectionSample], params: Any, advance: Any) -> None:
    size = int(params["input_size"])
    images = ImageWriter(folder, part, len(samples), (size, size), params)
    for index, sample in enumerate(samples):
        try:
            images[index] = read_image(sample.path)
        except DatasetFormatError as exc:
            raise PassFailure(str(exc)) from None
        advance(1)
    images.close()
    targets = ArrayWriter(folder, f"y_{part}", (len(samples), 1 + MAX_BOXES, 6), np.float32)
    for index, sample in enumerate(samples):
        targets[index] = pack_targets([sample], MAX_BOXES)[0]
    targets.close()


def box_sizes(samples: list[DetectionSample], input_size: int) -> NDArray[np.float64]:
    """(w, h) of every box that is not ignored, in pixels of the ``input_size`` square the images are resized to."""
    sizes = [
        np.stack(
            [
                (s.boxes[~s.ignore, 2] - s.boxes[~s.ignore, 0]) * input_size / s.width,
                (s.boxes[~s.ignore, 3] - s.boxes[~s.ignore, 1]) * input_size / s.height,
            ],
            axis=1,
        )
        for s in samples
        if len(s.boxes)
    ]
    return np.concatenate(sizes) if sizes else np.zeros((0, 2))


def _fitted_anchors(samples: list[DetectionSample], input_size: int, count: int, seed: int) -> dict[str, Any]:
    """The detector's anchors fitted to the training boxes, with how well they and COCO's cover them."""
    sizes = box_sizes(samples, input_size)
    if not len(sizes):
        raise PassFailure("the training images hold no box: there is nothing to fit the anchors to")
    anchors = fit_anchors(sizes, count, seed=seed)
    return {
        "anchors": [list(a) for a in anchors],
        "method": f"k-means with 1 - IoU over the {len(sizes)} training boxes at {input_size}x{input_size}",
        "boxes": len(sizes),
        "box_size_range": [round(float(sizes.min()), 1), round(float(sizes.max()), 1)],
        "fit": anchor_fit(sizes, anchors),
        "coco_fit": anchor_fit(sizes, anchors_for(input_size)),
    }


def run(ctx: PassContext) -> dict[str, Any]:
    p = ctx.params
    fmt = str(p["format"])
    generated = p.get("generate")
    root = dataset_root(ctx)
    try:
        test_set = read_detection(fmt, root, str(p["split"]), p.get("annotations"), p.get("image_dir"))
        train_set = read_detection(fmt, root, str(p["train_split"]))
    except DatasetFormatError as exc:
        raise PassFailure(str(exc)) from None
    if train_set.classes != test_set.classes:
        raise PassFailure(
            f"the training split ({train_set.source}) has classes {list(train_set.classes)[:8]}, the evaluation "
            f"split ({test_set.source}) {list(test_set.classes)[:8]}: both must use the same class list"
        )
    rng = np.random.RandomState(int(p["seed"]))
    order = rng.permutation(len(train_set.samples))
    if p.get("max_images"):
        order = order[: int(p["max_images"])]
    train = train_set.subset([int(i) for i in order])
    test = test_set.subset(range(min(len(test_set.samples), int(p["eval_images"]))))
    if not any(len(s.boxes) for s in test.samples):
        raise PassFailure(f"the {len(test.samples)} evaluated images of {test_set.source} hold no box: AP is undefined")
    expected = p.get("num_classes")
    if expected is not None and int(expected) != len(test.classes):
        raise PassFailure(
            f"{test_set.source} has {len(test.classes)} classes ({', '.join(test.classes[:8])}), "
            f"model.num_classes is {expected}: set model.num_classes={len(test.classes)}"
        )
    with progress("read detection images", len(train.samples) + len(test.samples)) as advance:
        _write_images(ctx.out_dir, "train", train.samples, p, advance)
        _write_images(ctx.out_dir, "test", test.samples, p, advance)
    (ctx.out_dir / GROUND_TRUTH_FILE).write_text(json.dumps(to_coco_gt(test)))
    size = int(p["input_size"])
    anchors = (
        _fitted_anchors(train.samples, size, int(p["fit_anchors"]), int(p["seed"])) if p.get("fit_anchors") else None
    )
    return {
        "format": "arrays-npy",
        "name": str(p["name"]),
        "root": "generated shapes set (in this artifact)" if generated else str(root),
        "data_format": fmt,
        "splits": {"train": str(p["train_split"]), "eval": str(p["split"])},
        "annotation_source": (
            f"generated shapes set, {fmt.upper()} split '{p['split']}'" if generated else str(test_set.source)
        ),
        "ground_truth": GROUND_TRUTH_FILE,
        "layout": p["layout"],
        "input_shape": [3, size, size] if p["layout"] == "NCHW" else [size, size, 3],
        "num_classes": len(test.classes),
        "classes": list(test.classes),
        "category_ids": list(test.category_ids),
        "labelled": True,
        "label_kind": "boxes",
        "train_size": len(train.samples),
        "test_size": len(test.samples),
        "boxes": {
            "train": int(sum(len(s.boxes) for s in train.samples)),
            "test": int(sum(len(s.boxes) for s in test.samples)),
        },
        **({"anchors": anchors} if anchors else {}),
    }
