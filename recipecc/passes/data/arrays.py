"""The materialised-dataset contract every data pass writes and every backend pass reads.

``x_train`` (training, or calibration for unlabelled data), ``y_train``, ``x_test`` (the held-out evaluation
inputs) and ``y_test``: images are float32 in the layout the artifact's metadata states (``NCHW`` or ``NHWC``);
targets are the task's (class labels, -1 where unknown; label maps (N, H, W) with the ignore index kept; ...).

Small sets are one ``data.npz``. Large ones (segmentation) are one ``.npy`` file per array, written image by
image (:class:`ArrayWriter`) and memory-mapped when read: a pass that reads a batch touches only that batch's
pages, so no pass holds the whole set in memory.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["DATA_FILE", "ArrayWriter", "ImageWriter", "load_split", "save_split"]

DATA_FILE = "data.npz"


def save_split(folder: Path, **arrays: NDArray[Any]) -> None:
    np.savez(folder / DATA_FILE, **arrays)


def load_split(folder: Path) -> dict[str, NDArray[Any]]:
    """The arrays of a materialised dataset artifact (``.npy`` ones memory-mapped, read-only)."""
    if (folder / DATA_FILE).is_file():
        with np.load(folder / DATA_FILE) as data:
            return {name: data[name] for name in data.files}
    return {path.stem: np.load(path, mmap_mode="r") for path in sorted(folder.glob("*.npy"))}


class ArrayWriter:
    """One ``<name>.npy`` array of known shape, filled row by row (memory-mapped: only the written row is held)."""

    def __init__(self, folder: Path, name: str, shape: tuple[int, ...], dtype: Any) -> None:
        self.path = folder / f"{name}.npy"
        self.array = np.lib.format.open_memmap(self.path, mode="w+", dtype=dtype, shape=shape)  # type: ignore[no-untyped-call]

    def __setitem__(self, index: int, value: NDArray[Any]) -> None:
        self.array[index] = value

    def close(self) -> None:
        self.array.flush()
        del self.array


class ImageWriter:
    """The ``x_<part>`` array of a split: RGB images resized to ``size`` (H, W, bilinear), scaled, optionally
    turned to BGR, normalised per channel and stored in ``layout`` (``NCHW`` or ``NHWC``), one image at a time.

    ``params`` are the data pass's: ``layout``, ``mean``, ``std``, ``scale`` and (optional) ``color``.
    """

    def __init__(self, folder: Path, part: str, count: int, size: tuple[int, int], params: Mapping[str, Any]) -> None:
        height, width = size
        self.size = size
        self.channels_first = params["layout"] == "NCHW"
        self.bgr = params.get("color", "RGB") == "BGR"
        self.mean = np.asarray(params["mean"], dtype=np.float32)
        self.std = np.asarray(params["std"], dtype=np.float32)
        self.scale = float(params["scale"])
        shape = (count, 3, height, width) if self.channels_first else (count, height, width, 3)
        self.writer = ArrayWriter(folder, f"x_{part}", shape, np.float32)

    def __setitem__(self, index: int, rgb: NDArray[np.uint8]) -> None:
        from PIL import Image

        height, width = self.size
        if rgb.shape[:2] != (height, width):
            rgb = np.asarray(Image.fromarray(rgb).resize((width, height), Image.Resampling.BILINEAR))
        x: NDArray[Any] = rgb.astype(np.float32)
        if self.bgr:
            x = x[..., ::-1]
        x = (x * self.scale - self.mean) / self.std
        self.writer[index] = x.transpose(2, 0, 1) if self.channels_first else x

    def close(self) -> None:
        self.writer.close()
