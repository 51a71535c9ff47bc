"""``data.digits``: scikit-learn's handwritten digits, upscaled, with a fixed stratified hold-out.

1,797 real 8x8 grey scans of handwriting ship with scikit-learn, so nothing is downloaded. The images are
upscaled (bilinear) to ``image_size`` so that the model does enough work per image for compression to show on a
CPU, as it does for real vision models. Pixels are scaled to [0, 1]; one channel, in the layout the planner asks
for (NCHW for paddle and onnx, NHWC for tf).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from recipecc.passes.base import PassContext
from recipecc.passes.data.arrays import save_split

__all__ = ["run"]


def _upscale(images: NDArray[Any], size: int) -> NDArray[Any]:
    from scipy.ndimage import zoom

    if images.shape[-1] == size:
        return images
    factor = size / images.shape[-1]
    return np.asarray(zoom(images, (1, factor, factor), order=1, grid_mode=True, mode="nearest"), dtype=np.float32)


def run(ctx: PassContext) -> dict[str, Any]:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    params = ctx.params
    digits = load_digits()
    raw, labels = digits.images.astype(np.float32) / 16.0, digits.target.astype(np.int64)
    if params.get("max_images"):  # a stratified subset, chosen before upscaling (224x224 copies are large)
        keep, _ = train_test_split(
            np.arange(len(labels)),
            train_size=int(params["max_images"]),
            random_state=int(params["seed"]),
            stratify=labels,
        )
        raw, labels = raw[np.sort(keep)], labels[np.sort(keep)]
    images = np.clip(_upscale(raw, int(params["image_size"])), 0.0, 1.0)[:, None, :, :].astype(np.float32)
    x_train, x_test, y_train, y_test = train_test_split(
        images, labels, test_size=float(params["test_fraction"]), random_state=int(params["seed"]), stratify=labels
    )
    channels = int(params.get("channels", 1))
    if channels != 1:  # grey scans replicated for models that take colour images
        x_train, x_test = np.repeat(x_train, channels, axis=1), np.repeat(x_test, channels, axis=1)
    if params.get("layout", "NCHW") == "NHWC":
        x_train, x_test = x_train.transpose(0, 2, 3, 1), x_test.transpose(0, 2, 3, 1)
    save_split(ctx.out_dir, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    return {
        "format": "arrays-npz",
        "name": "digits",
        "layout": params.get("layout", "NCHW"),
        "input_shape": list(x_train.shape[1:]),
        "num_classes": 10,
        "train_size": len(x_train),
        "test_size": len(x_test),
        "labelled": True,
        "source": "sklearn.datasets.load_digits (UCI optical recognition of handwritten digits)",
    }
