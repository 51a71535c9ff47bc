"""COCO instances files (``annotations/instances_*.json``) with their image folder.

The JSON comes from other people: its size is bounded before it is read (``max_bytes``; COCO 2017's training file
is 448 MB, the default bound is 1 GiB), nesting too deep for the parser is an error naming the file, and every
field recipecc uses is checked. Category ids are kept as the file has them (COCO's run 1..90 with gaps), so the
results file recipecc writes can be scored by any COCO tool against the same annotation file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from recipecc.datasets.detection import DetectionSample, DetectionSet
from recipecc.datasets.errors import DatasetFormatError

__all__ = ["DEFAULT_MAX_BYTES", "PLAN_PARSE_MAX_BYTES", "check_coco", "load_json", "read_coco"]

DEFAULT_MAX_BYTES = 1 << 30
#: the planner parses annotation files up to this size; larger ones are checked for existence and size only
PLAN_PARSE_MAX_BYTES = 64 << 20


def load_json(path: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> Any:
    """A JSON document no larger than ``max_bytes``; missing, too large or malformed files name the file."""
    path = Path(path)
    if not path.is_file():
        raise DatasetFormatError(path, "annotation file not found")
    size = path.stat().st_size
    if size > max_bytes:
        raise DatasetFormatError(
            path,
            f"is {size:,} bytes, over the {max_bytes:,} byte limit",
            expected="a smaller file or a larger dataset.max_annotation_bytes",
        )
    try:
        with path.open("rb") as stream:
            return json.loads(stream.read(max_bytes + 1))
    except RecursionError as exc:
        raise DatasetFormatError(path, "JSON nested too deeply") from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DatasetFormatError(path, f"not valid JSON ({exc})") from exc


def _require_list(doc: dict[str, Any], key: str, path: Path) -> list[Any]:
    value = doc.get(key)
    if not isinstance(value, list):
        raise DatasetFormatError(
            path, f"has no '{key}' list", expected="a COCO instances file (images, annotations, categories)"
        )
    return value


def _field(record: Any, key: str, kind: type | tuple[type, ...], path: Path, where: str) -> Any:
    if not isinstance(record, dict) or not isinstance(record.get(key), kind) or isinstance(record.get(key), bool):
        shown = record.get(key) if isinstance(record, dict) else record
        raise DatasetFormatError(path, f"{where}: '{key}' is {shown!r}", expected=f"{key} of type {kind}")
    return record[key]


def _parse(doc: Any, path: Path, images_dir: Path) -> DetectionSet:
    if not isinstance(doc, dict):
        raise DatasetFormatError(path, "the top level is not a JSON object", expected="a COCO instances file")
    images = _require_list(doc, "images", path)
    annotations = _require_list(doc, "annotations", path)
    categories = _require_list(doc, "categories", path)
    if not categories:
        raise DatasetFormatError(path, "'categories' is empty")
    cats = sorted(
        (_field(c, "id", int, path, f"categories[{k}]"), str(_field(c, "name", str, path, f"categories[{k}]")))
        for k, c in enumerate(categories)
    )
    category_index = {cid: k for k, (cid, _) in enumerate(cats)}
    meta: dict[int, tuple[str, int, int]] = {}
    for k, image in enumerate(images):
        where = f"images[{k}]"
        image_id = _field(image, "id", int, path, where)
        meta[image_id] = (
            _field(image, "file_name", str, path, where),
            _field(image, "width", int, path, where),
            _field(image, "height", int, path, where),
        )
    per_image: dict[int, list[tuple[list[float], int, bool]]] = {i: [] for i in meta}
    for k, ann in enumerate(annotations):
        where = f"annotations[{k}]"
        image_id = _field(ann, "image_id", int, path, where)
        category = _field(ann, "category_id", int, path, where)
        bbox = _field(ann, "bbox", list, path, where)
        if image_id not in meta:
            raise DatasetFormatError(path, f"{where}: image_id {image_id} is not in 'images'")
        if category not in category_index:
            raise DatasetFormatError(path, f"{where}: category_id {category} is not in 'categories'")
        if len(bbox) != 4 or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in bbox):
            raise DatasetFormatError(path, f"{where}: bbox is {bbox!r}", expected="[x, y, width, height]")
        x, y, w, h = (float(v) for v in bbox)
        if w < 0 or h < 0:
            raise DatasetFormatError(path, f"{where}: bbox {bbox!r} has a negative size")
        per_image[image_id].append(([x, y, x + w, y + h], category_index[category], bool(ann.get("iscrowd", 0))))
    samples = []
    for image_id, (file_name, width, height) in meta.items():
        objects = per_image[image_id]
        samples.append(
            DetectionSample(
                image_id=image_id,
                path=images_dir / file_name,
                width=width,
                height=height,
                boxes=np.asarray([o[0] for o in objects], dtype=np.float32).reshape(-1, 4),
                labels=np.asarray([o[1] for o in objects], dtype=np.int64),
                ignore=np.asarray([o[2] for o in objects], dtype=bool),
            )
        )
    return DetectionSet(
        classes=tuple(name for _, name in cats), samples=samples, source=path, category_ids=tuple(c for c, _ in cats)
    )


def read_coco(annotations: Path, images_dir: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> DetectionSet:
    """Every image of a COCO instances file, with its boxes (images without annotations are kept: negatives)."""
    annotations, images_dir = Path(annotations), Path(images_dir)
    if not images_dir.is_dir():
        raise DatasetFormatError(
            images_dir, "image folder not found", expected="the folder the file_name entries are relative to"
        )
    return _parse(load_json(annotations, max_bytes), annotations, images_dir)


def check_coco(annotations: Path, images_dir: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> int | None:
    """Plan-time check: the files exist, the size is within bounds and, when small enough to be quick, the content
    is a valid instances file. Returns the number of images when the file was parsed."""
    annotations = Path(annotations)
    if not annotations.is_file():
        raise DatasetFormatError(annotations, "annotation file not found")
    if not Path(images_dir).is_dir():
        raise DatasetFormatError(
            images_dir, "image folder not found", expected="the folder the file_name entries are relative to"
        )
    size = annotations.stat().st_size
    if size > max_bytes:
        raise DatasetFormatError(annotations, f"is {size:,} bytes, over the {max_bytes:,} byte limit")
    if size > PLAN_PARSE_MAX_BYTES:
        return None
    return len(read_coco(annotations, images_dir, max_bytes).samples)
