"""Where a detection split is on disk, for either format, from ``dataset.root`` + ``split`` (+ explicit files).

- VOC: ``root/ImageSets/Main/<split>.txt``, ``root/Annotations/``, ``root/JPEGImages/``.
- COCO: ``root/annotations/instances_<split>.json`` (or ``annotations``, relative to ``root`` or absolute) with
  its images in ``image_dir``, else the first existing of ``root/<split>`` (COCO 2017: ``val2017/``),
  ``root/images/<split>``, ``root/JPEGImages``, ``root/images``.

The planner calls :func:`check_detection` (cheap: no image is opened), the data pass :func:`read_detection`.
"""

from __future__ import annotations

from pathlib import Path

from recipecc.datasets.coco import check_coco, read_coco
from recipecc.datasets.detection import DetectionSet
from recipecc.datasets.voc import check_voc, read_voc

__all__ = ["DETECTION_FORMATS", "check_detection", "coco_paths", "read_detection"]

DETECTION_FORMATS = ("voc", "coco")


def coco_paths(
    root: Path, split: str, annotations: str | None = None, image_dir: str | None = None
) -> tuple[Path, Path]:
    """The annotation file and image folder of a COCO split."""
    root = Path(root).expanduser()
    ann = Path(annotations).expanduser() if annotations else Path("annotations") / f"instances_{split}.json"
    ann = ann if ann.is_absolute() else root / ann
    if image_dir:
        images = Path(image_dir).expanduser()
        return ann, images if images.is_absolute() else root / images
    for candidate in (root / split, root / "images" / split, root / "JPEGImages", root / "images"):
        if candidate.is_dir():
            return ann, candidate
    return ann, root / split


def check_detection(
    fmt: str, root: Path, split: str, annotations: str | None = None, image_dir: str | None = None
) -> int | None:
    """Plan-time check of one split; the number of images when known without parsing a very large file."""
    if fmt == "voc":
        return check_voc(Path(root).expanduser(), split)
    return check_coco(*coco_paths(root, split, annotations, image_dir))


def read_detection(
    fmt: str, root: Path, split: str, annotations: str | None = None, image_dir: str | None = None
) -> DetectionSet:
    if fmt == "voc":
        return read_voc(Path(root).expanduser(), split)
    return read_coco(*coco_paths(root, split, annotations, image_dir))
