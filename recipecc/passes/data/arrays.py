"""The materialised-dataset contract every data pass writes and every backend pass reads.

``data.npz`` holds ``x_train`` (training, or calibration for unlabelled data), ``y_train``, ``x_test`` (the
held-out evaluation inputs) and ``y_test``; labels are -1 where unknown. Images are float32 in the layout the
artifact's metadata states (``NCHW`` or ``NHWC``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["DATA_FILE", "load_split", "save_split"]

DATA_FILE = "data.npz"


def save_split(folder: Path, **arrays: NDArray[Any]) -> None:
    np.savez(folder / DATA_FILE, **arrays)


def load_split(folder: Path) -> dict[str, NDArray[Any]]:
    """The arrays of a materialised dataset artifact."""
    with np.load(folder / DATA_FILE) as data:
        return {name: data[name] for name in data.files}
