"""Pascal VOC detection sets: ``Annotations/*.xml`` + ``JPEGImages/`` + ``ImageSets/Main/<split>.txt``.

XML comes from other people: it is parsed with defusedxml (no entity expansion, no external entities). Boxes in VOC
are 1-based inclusive pixel indices; they become COCO's continuous ``[xmin - 1, ymin - 1, xmax, ymax]``.
Class names come from ``labels.txt`` (PaddleX) or ``label_list.txt`` (PaddleDetection) in the root when present,
otherwise from the names found in the split's annotations, sorted (for VOC itself: the usual 20-class order).

:func:`check_voc` is what the planner runs: files exist, the split lists ids, every id has its XML; it parses no
XML beyond the first, so it stays fast on large sets. :func:`read_voc` parses everything and names the bad file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from recipecc.datasets.detection import DetectionSample, DetectionSet
from recipecc.datasets.errors import DatasetFormatError

__all__ = ["LABEL_FILES", "check_voc", "read_voc", "split_file", "voc_classes"]

LABEL_FILES = ("labels.txt", "label_list.txt")


def split_file(root: Path, split: str) -> Path:
    return root / "ImageSets" / "Main" / f"{split}.txt"


def _split_ids(root: Path, split: str) -> list[str]:
    path = split_file(root, split)
    if not root.is_dir():
        raise DatasetFormatError(root, "the VOC root folder does not exist", expected="a folder with Annotations/")
    if not path.is_file():
        found = sorted(p.stem for p in (root / "ImageSets" / "Main").glob("*.txt"))[:10]
        raise DatasetFormatError(
            path, "split file not found", expected=f"one of the splits there: {', '.join(found) or 'none found'}"
        )
    ids = [line.split()[0] for line in path.read_text(errors="replace").splitlines() if line.strip()]
    if not ids:
        raise DatasetFormatError(path, "the split lists no image ids", expected="one image id per line")
    return ids


def voc_classes(root: Path) -> tuple[str, ...] | None:
    """The class names of ``labels.txt`` / ``label_list.txt`` in ``root``, if one exists."""
    for name in LABEL_FILES:
        path = root / name
        if path.is_file():
            classes = tuple(line.strip() for line in path.read_text().splitlines() if line.strip())
            if not classes:
                raise DatasetFormatError(path, "the label file is empty", expected="one class name per line")
            return classes
    return None


def _parse(path: Path) -> Any:
    import defusedxml.ElementTree as SafeET
    from defusedxml import DefusedXmlException

    try:
        return SafeET.parse(path).getroot()
    except FileNotFoundError as exc:
        raise DatasetFormatError(path, "annotation file not found") from exc
    except DefusedXmlException as exc:
        raise DatasetFormatError(path, f"refused unsafe XML ({type(exc).__name__})") from exc
    except SafeET.ParseError as exc:
        raise DatasetFormatError(path, f"not well-formed XML ({exc})") from exc


def _number(node: Any, tag: str, path: Path) -> float:
    text = node.findtext(tag)
    try:
        return float(str(text).strip())
    except ValueError as exc:
        raise DatasetFormatError(path, f"<{tag}> is {text!r}", expected="a number") from exc


def check_voc(root: Path, split: str) -> int:
    """Plan-time check of a VOC root: the split file and one XML per listed id. Returns the number of images."""
    ids = _split_ids(root, split)
    missing = [i for i in ids if not (root / "Annotations" / f"{i}.xml").is_file()]
    if missing:
        raise DatasetFormatError(
            root / "Annotations" / f"{missing[0]}.xml",
            f"annotation file not found ({len(missing)} of the {len(ids)} ids in {split}.txt have none)",
        )
    voc_classes(root)
    _parse(root / "Annotations" / f"{ids[0]}.xml")
    return len(ids)


def read_voc(root: Path, split: str, classes: tuple[str, ...] | None = None) -> DetectionSet:
    """Every image of ``split`` with its boxes; image ids are 1-based positions in the split file."""
    root = Path(root)
    ids = _split_ids(root, split)
    classes = classes or voc_classes(root)
    parsed: list[tuple[str, Path, Any]] = []
    for stem in ids:
        path = root / "Annotations" / f"{stem}.xml"
        parsed.append((stem, path, _parse(path)))
    if classes is None:
        names = {str(obj.findtext("name", "")).strip() for _, _, tree in parsed for obj in tree.iter("object")}
        classes = tuple(sorted(n for n in names if n))
    index = {name: k for k, name in enumerate(classes)}
    samples: list[DetectionSample] = []
    for position, (stem, path, tree) in enumerate(parsed, start=1):
        filename = str(tree.findtext("filename") or f"{stem}.jpg").strip()
        image_path = root / "JPEGImages" / filename
        if not image_path.suffix:
            image_path = image_path.with_suffix(".jpg")
        size = tree.find("size")
        if size is not None and size.findtext("width") and size.findtext("height"):
            width, height = int(_number(size, "width", path)), int(_number(size, "height", path))
        else:  # some VOC-style exports leave <size> out: read the image header (not its pixels)
            from PIL import Image

            try:
                with Image.open(image_path) as image:
                    width, height = image.size
            except OSError as exc:
                raise DatasetFormatError(path, f"no <size>, and its image {image_path} cannot be opened") from exc
        boxes, labels, ignore = [], [], []
        for obj in tree.iter("object"):
            name = str(obj.findtext("name", "")).strip()
            if name not in index:
                raise DatasetFormatError(
                    path, f"object class '{name}' is not a known class", expected=", ".join(classes[:20])
                )
            box = obj.find("bndbox")
            if box is None:
                raise DatasetFormatError(path, f"object '{name}' has no <bndbox>")
            x0, y0 = _number(box, "xmin", path) - 1, _number(box, "ymin", path) - 1
            x1, y1 = _number(box, "xmax", path), _number(box, "ymax", path)
            if x1 <= x0 or y1 <= y0:
                raise DatasetFormatError(path, f"object '{name}' has an empty box {[x0 + 1, y0 + 1, x1, y1]}")
            boxes.append([x0, y0, x1, y1])
            labels.append(index[name])
            ignore.append(str(obj.findtext("difficult", "0")).strip() == "1")
        samples.append(
            DetectionSample(
                image_id=position,
                path=image_path,
                width=width,
                height=height,
                boxes=np.asarray(boxes, dtype=np.float32).reshape(-1, 4),
                labels=np.asarray(labels, dtype=np.int64),
                ignore=np.asarray(ignore, dtype=bool),
            )
        )
    return DetectionSet(classes=classes, samples=samples, source=split_file(root, split))
