"""The generated "shapes" data set: coloured shapes on textured backgrounds, with boxes and masks, on disk.

The set is written in the formats users have, so tests and the offline demo exercise the real readers:

- Pascal VOC: ``JPEGImages/<id>.jpg``, ``Annotations/<id>.xml`` (1-based inclusive pixel boxes),
  ``ImageSets/Main/{train,val,trainval}.txt``, ``labels.txt``;
- segmentation label maps: ``SegmentationClass/<id>.png`` (palette PNG; 0 background, 1..K the classes, a
  one-pixel band of 255 around every object, as in VOC: the ignore index), ``ImageSets/Segmentation/*.txt``;
- COCO instances: ``annotations/instances_{train,val}.json`` (``file_name`` relative to ``JPEGImages/``; polygon
  segmentations; category ids 1..K).

Everything is a function of the arguments (one numpy ``RandomState`` per split, seeded from the seed and the
split's name; Pillow drawing; fixed JPEG quality): the same call writes the same files, and a split's images do not
depend on the size of another split. Objects never overlap, so every box is the exact extent of its visible mask.
"""

from __future__ import annotations

import json
import math
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "COCO_IMAGES_DIR",
    "SHAPE_CLASSES",
    "ShapesLayout",
    "coco_annotation_path",
    "split_seed",
    "write_shapes",
]

SHAPE_CLASSES = ("circle", "square", "triangle", "diamond")
COCO_IMAGES_DIR = "JPEGImages"
JPEG_QUALITY = 92
IGNORE_INDEX = 255
MANIFEST = "shapes.json"


def coco_annotation_path(root: Path, split: str) -> Path:
    return root / "annotations" / f"instances_{split}.json"


@dataclass(frozen=True)
class ShapesLayout:
    """Where a written set is: its root, the split names and the class names (index 0 = first class)."""

    root: Path
    splits: dict[str, list[str]]
    classes: tuple[str, ...]

    def coco_annotations(self, split: str) -> Path:
        return coco_annotation_path(self.root, split)


@dataclass
class _Object:
    label: int
    polygon: list[tuple[float, float]]


def _texture(rng: np.random.RandomState, size: int) -> NDArray[np.float32]:
    """A textured background: smooth colour noise, sometimes stripes or a checker pattern, plus grain."""
    from PIL import Image

    cells = int(rng.randint(3, 9))
    coarse = (rng.rand(cells, cells, 3) * 255).astype(np.uint8)
    smooth = np.asarray(Image.fromarray(coarse).resize((size, size), Image.Resampling.BICUBIC), dtype=np.float32)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    kind = rng.randint(3)
    if kind == 1:  # stripes at a random angle
        angle, period = rng.rand() * math.pi, rng.uniform(6, 18)
        wave = np.sin((xx * math.cos(angle) + yy * math.sin(angle)) * 2 * math.pi / period)
        smooth += 40.0 * wave[..., None]
    elif kind == 2:  # checker
        period = int(rng.randint(6, 20))
        checker = ((xx // period + yy // period) % 2) * 2 - 1
        smooth += 30.0 * checker[..., None]
    smooth = 0.6 * smooth + 0.4 * smooth.mean()  # keep backgrounds less saturated than the shapes
    smooth += rng.normal(0, 8, smooth.shape)
    return np.asarray(smooth, dtype=np.float32)


def _polygon(label: int, cx: float, cy: float, radius: float, angle: float) -> list[tuple[float, float]]:
    name = SHAPE_CLASSES[label]
    if name == "circle":
        corners, start = 32, 0.0
    elif name == "square":
        corners, start = 4, math.pi / 4
    elif name == "triangle":
        corners, start = 3, -math.pi / 2 + angle
    else:  # diamond: a square standing on a corner, stretched vertically
        return [(cx, cy - radius), (cx + 0.7 * radius, cy), (cx, cy + radius), (cx - 0.7 * radius, cy)]
    return [
        (
            cx + radius * math.cos(start + 2 * math.pi * k / corners),
            cy + radius * math.sin(start + 2 * math.pi * k / corners),
        )
        for k in range(corners)
    ]


def _place(rng: np.random.RandomState, size: int, max_objects: int) -> list[_Object]:
    """1..max_objects non-overlapping shapes (their boxes, grown by a margin, do not intersect)."""
    wanted = int(rng.randint(1, max_objects + 1))
    taken: list[tuple[float, float, float, float]] = []
    objects: list[_Object] = []
    for _ in range(wanted * 20):
        if len(objects) == wanted:
            break
        radius = rng.uniform(0.08, 0.22) * size
        cx, cy = rng.uniform(radius + 1, size - radius - 1, size=2)
        box = (cx - radius - 3, cy - radius - 3, cx + radius + 3, cy + radius + 3)
        if any(box[0] < t[2] and t[0] < box[2] and box[1] < t[3] and t[1] < box[3] for t in taken):
            continue
        label = int(rng.randint(len(SHAPE_CLASSES)))
        taken.append(box)
        objects.append(
            _Object(label, _polygon(label, float(cx), float(cy), float(radius), float(rng.uniform(-0.4, 0.4))))
        )
    return objects


def _render(
    rng: np.random.RandomState, size: int, max_objects: int
) -> tuple[Any, NDArray[np.uint8], list[dict[str, Any]]]:
    """One image, its class map (with the 255 band) and its objects (label, polygon, box, area)."""
    from PIL import Image, ImageDraw, ImageFilter

    pixels = _texture(rng, size)
    objects = _place(rng, size, max_objects)
    class_map = np.zeros((size, size), dtype=np.uint8)
    records: list[dict[str, Any]] = []
    for obj in objects:
        mask_image = Image.new("L", (size, size), 0)
        ImageDraw.Draw(mask_image).polygon(obj.polygon, fill=1)
        mask = np.asarray(mask_image, dtype=bool)
        if not mask.any():
            continue
        colour = rng.uniform(30, 255, size=3)
        colour[rng.randint(3)] = rng.uniform(0, 40)  # saturated: one channel low
        shade = 1.0 + 0.15 * rng.normal(size=(size, size, 1))
        pixels = np.where(mask[..., None], colour * shade, pixels)
        class_map[mask] = obj.label + 1
        ys, xs = np.nonzero(mask)
        records.append(
            {
                "label": obj.label,
                "polygon": obj.polygon,
                # pixel extent, 0-based inclusive
                "box": (int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max())),
                "area": int(mask.sum()),
            }
        )
    foreground = Image.fromarray(((class_map > 0) * 255).astype(np.uint8))
    grown = np.asarray(foreground.filter(ImageFilter.MaxFilter(3))) > 0
    shrunk = np.asarray(foreground.filter(ImageFilter.MinFilter(3))) > 0
    class_map[grown & ~shrunk] = IGNORE_INDEX
    image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
    return image, class_map, records


def _palette() -> list[int]:
    """VOC's colour map (bit-interleaved), so the label PNGs look like VOC's in any viewer."""
    palette: list[int] = []
    for index in range(256):
        r = g = b = 0
        c = index
        for bit in range(8):
            r |= ((c >> 0) & 1) << (7 - bit)
            g |= ((c >> 1) & 1) << (7 - bit)
            b |= ((c >> 2) & 1) << (7 - bit)
            c >>= 3
        palette += [r, g, b]
    return palette


def _voc_xml(image_name: str, size: int, objects: list[dict[str, Any]]) -> str:
    parts = [
        "<annotation>",
        "  <folder>shapes</folder>",
        f"  <filename>{image_name}</filename>",
        f"  <size><width>{size}</width><height>{size}</height><depth>3</depth></size>",
        "  <segmented>1</segmented>",
    ]
    for obj in objects:
        x0, y0, x1, y1 = obj["box"]
        parts += [
            "  <object>",
            f"    <name>{SHAPE_CLASSES[obj['label']]}</name>",
            "    <pose>Unspecified</pose><truncated>0</truncated><difficult>0</difficult>",
            f"    <bndbox><xmin>{x0 + 1}</xmin><ymin>{y0 + 1}</ymin>"
            f"<xmax>{x1 + 1}</xmax><ymax>{y1 + 1}</ymax></bndbox>",
            "  </object>",
        ]
    parts.append("</annotation>")
    return "\n".join(parts) + "\n"


def split_seed(seed: int, split: str) -> int:
    """Each split draws from its own stream, so a split's images do not depend on how many images another split
    has: more training images (``dataset.max_images``) leave the evaluation images as they were."""
    return zlib.crc32(f"{seed}:{split}".encode())


def write_shapes(
    root: Path,
    *,
    splits: dict[str, int] | None = None,
    image_size: int = 128,
    max_objects: int = 4,
    seed: int = 0,
) -> ShapesLayout:
    """Write the set under ``root`` (created; existing files of the same names are overwritten).

    ``splits`` maps a split name to its number of images (default ``{"train": 64, "val": 32}``); image ids run on
    across splits, so splits never share an image.
    """
    splits = dict(splits or {"train": 64, "val": 32})
    if image_size < 32:
        raise ValueError(f"image_size must be at least 32, got {image_size}")
    if max_objects < 1:
        raise ValueError(f"max_objects must be at least 1, got {max_objects}")
    from PIL import Image

    root = Path(root)
    for folder in (
        "JPEGImages",
        "Annotations",
        "SegmentationClass",
        "ImageSets/Main",
        "ImageSets/Segmentation",
        "annotations",
    ):
        (root / folder).mkdir(parents=True, exist_ok=True)
    palette = _palette()
    categories = [{"id": k + 1, "name": name, "supercategory": "shape"} for k, name in enumerate(SHAPE_CLASSES)]
    ids_by_split: dict[str, list[str]] = {}
    image_number = 0
    annotation_id = 0
    for split, count in splits.items():
        coco: dict[str, Any] = {
            "info": {"description": f"recipecc shapes, split {split}, seed {seed}"},
            "images": [],
            "annotations": [],
            "categories": categories,
        }
        ids: list[str] = []
        rng = np.random.RandomState(split_seed(seed, split))
        for _ in range(count):
            image_number += 1
            stem = f"{image_number:06d}"
            image, class_map, objects = _render(rng, image_size, max_objects)
            image.save(root / "JPEGImages" / f"{stem}.jpg", quality=JPEG_QUALITY)
            label_png = Image.fromarray(class_map, mode="P")
            label_png.putpalette(palette)
            label_png.save(root / "SegmentationClass" / f"{stem}.png")
            (root / "Annotations" / f"{stem}.xml").write_text(_voc_xml(f"{stem}.jpg", image_size, objects))
            coco["images"].append(
                {"id": image_number, "file_name": f"{stem}.jpg", "width": image_size, "height": image_size}
            )
            for obj in objects:
                annotation_id += 1
                x0, y0, x1, y1 = obj["box"]
                coco["annotations"].append(
                    {
                        "id": annotation_id,
                        "image_id": image_number,
                        "category_id": obj["label"] + 1,
                        "bbox": [x0, y0, x1 - x0 + 1, y1 - y0 + 1],
                        "area": obj["area"],
                        "iscrowd": 0,
                        "segmentation": [[round(v, 2) for point in obj["polygon"] for v in point]],
                    }
                )
            ids.append(stem)
        ids_by_split[split] = ids
        coco_annotation_path(root, split).write_text(json.dumps(coco))
        for folder in ("Main", "Segmentation"):
            (root / "ImageSets" / folder / f"{split}.txt").write_text("".join(f"{i}\n" for i in ids))
    if {"train", "val"} <= set(ids_by_split):
        trainval = ids_by_split["train"] + ids_by_split["val"]
        for folder in ("Main", "Segmentation"):
            (root / "ImageSets" / folder / "trainval.txt").write_text("".join(f"{i}\n" for i in trainval))
    (root / "labels.txt").write_text("".join(f"{name}\n" for name in SHAPE_CLASSES))
    (root / MANIFEST).write_text(
        json.dumps(
            {
                "generator": "recipecc.datasets.shapes",
                "seed": seed,
                "image_size": image_size,
                "max_objects": max_objects,
                "splits": splits,
                "classes": list(SHAPE_CLASSES),
                "ignore_index": IGNORE_INDEX,
            },
            indent=1,
        )
    )
    return ShapesLayout(root=root, splits=ids_by_split, classes=SHAPE_CLASSES)
