"""Segmentation label-map sets: an image and a single-channel PNG of class indices per sample, ignore index kept.

Three layouts users have, each under ``dataset.root``:

- ``voc``: ``ImageSets/Segmentation/<split>.txt`` (ids), ``JPEGImages/<id>.jpg`` (or .png),
  ``SegmentationClass/<id>.png`` (palette PNG whose indices are the classes; 255 is the object border band);
- ``cityscapes``: ``leftImg8bit/<split>/<city>/<name>_leftImg8bit.png`` and
  ``gtFine/<split>/<city>/<name>_gtFine_labelTrainIds.png`` (19 classes, 255 ignored); when only the raw
  ``_gtFine_labelIds.png`` exist they are mapped to train ids with the Cityscapes table (as ``createTrainIdLabelImgs``
  does);
- ``list``: PaddleSeg's file lists, ``<split>.txt`` with ``image_path label_path`` per line, relative to the root.

:func:`check_split` is what the planner runs: the split lists samples, every listed file exists, and the first
few label maps are 8-bit single-channel images of their image's size. It opens no more than that, so it stays
fast on large sets; :func:`read_mask` checks each map again when the data pass reads it, naming the bad file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from recipecc.datasets.errors import DatasetFormatError

__all__ = [
    "CITYSCAPES_TRAIN_IDS",
    "FORMATS",
    "SegmentationSample",
    "check_split",
    "detect_format",
    "list_samples",
    "read_image",
    "read_mask",
]

FORMATS = ("voc", "cityscapes", "list")
_IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")
#: Cityscapes label id -> train id (19 evaluated classes; every other id is ignored), from the Cityscapes scripts
CITYSCAPES_TRAIN_IDS = {
    7: 0, 8: 1, 11: 2, 12: 3, 13: 4, 17: 5, 19: 6, 20: 7, 21: 8, 22: 9,
    23: 10, 24: 11, 25: 12, 26: 13, 27: 14, 28: 15, 31: 16, 32: 17, 33: 18,
}  # fmt: skip
_PROBE = 4


@dataclass(frozen=True)
class SegmentationSample:
    image: Path
    mask: Path
    #: the mask holds Cityscapes label ids that must be mapped to train ids
    raw_cityscapes_ids: bool = False


def detect_format(root: Path) -> str:
    """The layout of ``root``, from the folders it has."""
    if not root.is_dir():
        raise DatasetFormatError(root, "the data set root folder does not exist", expected="a folder")
    if (root / "ImageSets" / "Segmentation").is_dir() and (root / "SegmentationClass").is_dir():
        return "voc"
    if (root / "leftImg8bit").is_dir() and (root / "gtFine").is_dir():
        return "cityscapes"
    if any(root.glob("*.txt")):
        return "list"
    raise DatasetFormatError(
        root,
        "not a segmentation set recipecc can read",
        expected="VOC (ImageSets/Segmentation + SegmentationClass), Cityscapes (leftImg8bit + gtFine) or "
        "PaddleSeg file lists (<split>.txt with 'image label' lines)",
    )


def _voc(root: Path, split: str) -> list[SegmentationSample]:
    listing = root / "ImageSets" / "Segmentation" / f"{split}.txt"
    if not listing.is_file():
        found = sorted(p.stem for p in listing.parent.glob("*.txt"))[:10]
        raise DatasetFormatError(listing, "split file not found", expected=f"one of: {', '.join(found) or 'none'}")
    samples = []
    for line in listing.read_text(errors="replace").splitlines():
        if not line.strip():
            continue
        stem = line.split()[0]
        image = next(
            (
                root / "JPEGImages" / f"{stem}{s}"
                for s in _IMAGE_SUFFIXES
                if (root / "JPEGImages" / f"{stem}{s}").is_file()
            ),
            root / "JPEGImages" / f"{stem}.jpg",
        )
        samples.append(SegmentationSample(image, root / "SegmentationClass" / f"{stem}.png"))
    return samples


def _cityscapes(root: Path, split: str) -> list[SegmentationSample]:
    folder = root / "leftImg8bit" / split
    if not folder.is_dir():
        found = sorted(p.name for p in (root / "leftImg8bit").iterdir() if p.is_dir())
        raise DatasetFormatError(folder, "split folder not found", expected=f"one of: {', '.join(found) or 'none'}")
    samples = []
    for image in sorted(folder.rglob("*_leftImg8bit.png")):
        stem = image.name[: -len("_leftImg8bit.png")]
        labels = root / "gtFine" / split / image.parent.name
        train_ids = labels / f"{stem}_gtFine_labelTrainIds.png"
        raw = labels / f"{stem}_gtFine_labelIds.png"
        if train_ids.is_file() or not raw.is_file():
            samples.append(SegmentationSample(image, train_ids))
        else:
            samples.append(SegmentationSample(image, raw, raw_cityscapes_ids=True))
    return samples


def _file_list(root: Path, split: str) -> list[SegmentationSample]:
    listing = root / f"{split}.txt"
    if not listing.is_file():
        found = sorted(p.stem for p in root.glob("*.txt"))[:10]
        raise DatasetFormatError(listing, "file list not found", expected=f"one of: {', '.join(found) or 'none'}")
    samples = []
    for number, line in enumerate(listing.read_text(errors="replace").splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 2:
            raise DatasetFormatError(
                listing, f"line {number} has {len(parts)} field(s)", expected="'image_path label_path' per line"
            )
        samples.append(SegmentationSample(root / parts[0], root / parts[1]))
    return samples


def list_samples(root: Path, split: str, fmt: str | None = None) -> list[SegmentationSample]:
    """The samples of ``split``; the files are not opened (see :func:`check_split`)."""
    fmt = fmt or detect_format(root)
    reader = {"voc": _voc, "cityscapes": _cityscapes, "list": _file_list}.get(fmt)
    if reader is None:
        raise DatasetFormatError(root, f"unknown format '{fmt}'", expected=", ".join(FORMATS))
    samples = reader(root, split)
    if not samples:
        raise DatasetFormatError(root, f"split '{split}' has no samples", expected="at least one image and label map")
    return samples


def read_image(path: Path) -> NDArray[np.uint8]:
    """An RGB image (H, W, 3) uint8."""
    from PIL import Image, UnidentifiedImageError

    if not path.is_file():
        raise DatasetFormatError(path, "image file not found")
    try:
        with Image.open(path) as image:
            return np.asarray(image.convert("RGB"), dtype=np.uint8)
    except (UnidentifiedImageError, OSError) as exc:
        raise DatasetFormatError(path, f"cannot read the image ({exc})") from None


def _mask_image(path: Path) -> Any:
    from PIL import Image, UnidentifiedImageError

    if not path.is_file():
        raise DatasetFormatError(path, "label map not found", expected="a PNG of class indices")
    try:
        image = Image.open(path)
        image.load()
    except (UnidentifiedImageError, OSError) as exc:
        raise DatasetFormatError(
            path, f"cannot read the label map ({exc})", expected="a PNG of class indices"
        ) from None
    if image.mode not in ("L", "P"):
        raise DatasetFormatError(
            path,
            f"the label map is a {image.mode} image",
            expected="a single-channel 8-bit PNG (mode L or P) whose values are class indices, 255 ignored",
        )
    return image


def read_mask(sample: SegmentationSample) -> NDArray[np.uint8]:
    """The label map (H, W) uint8 of class indices (palette indices for VOC PNGs, not colours)."""
    with _mask_image(sample.mask) as image:
        mask = np.asarray(image, dtype=np.uint8)
    if sample.raw_cityscapes_ids:
        table = np.full(256, 255, dtype=np.uint8)
        for label_id, train_id in CITYSCAPES_TRAIN_IDS.items():
            table[label_id] = train_id
        mask = table[mask]
    return mask


def check_split(root: Path, split: str, fmt: str | None = None, probe: int = _PROBE) -> int:
    """Plan-time check: every listed image and label map exists; the first ``probe`` maps are readable 8-bit
    single-channel images of their image's size. Returns the number of samples."""
    from PIL import Image

    samples = list_samples(root, split, fmt)
    for sample in samples:
        for path, what in ((sample.image, "image"), (sample.mask, "label map")):
            if not path.is_file():
                raise DatasetFormatError(path, f"{what} not found (listed in split '{split}')")
    for sample in samples[:probe]:
        with _mask_image(sample.mask) as mask, Image.open(sample.image) as image:
            if mask.size != image.size:
                raise DatasetFormatError(
                    sample.mask,
                    f"the label map is {mask.size[0]}x{mask.size[1]}, its image {sample.image.name} is "
                    f"{image.size[0]}x{image.size[1]}",
                    expected="a label map of its image's size",
                )
    return len(samples)
