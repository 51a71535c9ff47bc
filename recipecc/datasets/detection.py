"""A detection data set as readers return it: per-image metadata and boxes, never pixels.

Pixels are read in batches when a pass needs them (:func:`read_image`), so a set larger than memory streams.
Boxes are float ``[x0, y0, x1, y1]`` in pixels of the original image, COCO's continuous convention (``x1 = x + w``).
Labels are 0-based indices into ``classes``; ``category_ids[label]`` is the COCO category id the label came from
(VOC sets get ``label + 1``), so results files use the ids of the user's annotation file.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from recipecc.datasets.errors import DatasetFormatError

__all__ = [
    "TARGET_COLUMNS",
    "DetectionSample",
    "DetectionSet",
    "batches",
    "pack_targets",
    "read_image",
    "to_coco_gt",
    "unpack_targets",
]


@dataclass(frozen=True)
class DetectionSample:
    """One annotated image. ``ignore`` marks VOC "difficult" objects and COCO crowd regions."""

    image_id: int
    path: Path
    width: int
    height: int
    boxes: NDArray[np.float32]
    labels: NDArray[np.int64]
    ignore: NDArray[np.bool_]


@dataclass(frozen=True)
class DetectionSet:
    """The samples of one split, their class names and where the annotations came from."""

    classes: tuple[str, ...]
    samples: list[DetectionSample]
    source: Path
    category_ids: tuple[int, ...] = field(default=())

    def __post_init__(self) -> None:
        if not self.category_ids:
            object.__setattr__(self, "category_ids", tuple(range(1, len(self.classes) + 1)))

    def subset(self, indices: Sequence[int]) -> DetectionSet:
        return DetectionSet(self.classes, [self.samples[i] for i in indices], self.source, self.category_ids)


def to_coco_gt(data: DetectionSet) -> dict[str, Any]:
    """The COCO instances document of ``data`` (what pycocotools evaluates against; written next to results)."""
    images: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    for sample in data.samples:
        images.append(
            {"id": sample.image_id, "file_name": sample.path.name, "width": sample.width, "height": sample.height}
        )
        for box, label, ignore in zip(sample.boxes, sample.labels, sample.ignore, strict=True):
            x0, y0, x1, y1 = (float(v) for v in box)
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": sample.image_id,
                    "category_id": data.category_ids[int(label)],
                    "bbox": [x0, y0, x1 - x0, y1 - y0],
                    "area": (x1 - x0) * (y1 - y0),
                    "iscrowd": int(bool(ignore)),
                }
            )
    categories = [
        {"id": cid, "name": name, "supercategory": "none"}
        for cid, name in zip(data.category_ids, data.classes, strict=True)
    ]
    return {"images": images, "annotations": annotations, "categories": categories}


def read_image(path: Path) -> NDArray[np.uint8]:
    """An RGB image as uint8 HWC; a missing or unreadable file is a :class:`DatasetFormatError` naming it."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            return np.asarray(image.convert("RGB"), dtype=np.uint8)
    except FileNotFoundError as exc:
        raise DatasetFormatError(path, "image file not found") from exc
    except (UnidentifiedImageError, OSError) as exc:
        raise DatasetFormatError(path, f"not a readable image ({exc})") from exc


def batches(samples: Sequence[DetectionSample], batch_size: int) -> Iterator[list[DetectionSample]]:
    """Consecutive slices of ``samples``: callers read pixels one batch at a time."""
    for start in range(0, len(samples), batch_size):
        yield list(samples[start : start + batch_size])


#: columns of a packed target row: box in original pixels, class index (-1: padding), ignore flag
TARGET_COLUMNS = ("x0", "y0", "x1", "y1", "label", "ignore")


def pack_targets(samples: Sequence[DetectionSample], max_boxes: int) -> NDArray[np.float32]:
    """The detection targets of ``samples`` as one fixed-shape array (so they stream like any other array).

    Shape ``(N, 1 + max_boxes, 6)``: row 0 is ``(image_id, width, height, 0, 0, 0)``; rows 1.. are
    ``(x0, y0, x1, y1, label, ignore)`` in the original image's pixels, ``label = -1`` where there is no box.
    Images with more than ``max_boxes`` boxes keep the first ``max_boxes``.
    """
    packed = np.zeros((len(samples), 1 + max_boxes, len(TARGET_COLUMNS)), dtype=np.float32)
    packed[:, 1:, 4] = -1
    for i, sample in enumerate(samples):
        packed[i, 0, :3] = (sample.image_id, sample.width, sample.height)
        n = min(len(sample.boxes), max_boxes)
        packed[i, 1 : 1 + n, :4] = sample.boxes[:n]
        packed[i, 1 : 1 + n, 4] = sample.labels[:n]
        packed[i, 1 : 1 + n, 5] = sample.ignore[:n]
    return packed


def unpack_targets(packed: NDArray[Any]) -> list[DetectionSample]:
    """The samples (without image paths) of :func:`pack_targets`' array."""
    samples = []
    for row in np.asarray(packed, dtype=np.float32):
        real = row[1:, 4] >= 0
        samples.append(
            DetectionSample(
                image_id=int(row[0, 0]),
                path=Path(),
                width=int(row[0, 1]),
                height=int(row[0, 2]),
                boxes=row[1:][real, :4].copy(),
                labels=row[1:][real, 4].astype(np.int64),
                ignore=row[1:][real, 5] > 0,
            )
        )
    return samples
