"""``data.image_folder``: a user's folder of images, preprocessed the way their model expects.

Images (jpg/jpeg/png/bmp/webp, recursively, in sorted order) are shuffled with the recipe's seed; the first
``calibration_images`` become the calibration part, the next ``eval_images`` a disjoint evaluation part. When the
folder's sub-folders hold the images (ImageFolder convention), the sub-folder names are the classes and labels
are kept; otherwise labels are -1 and quality is measured as fidelity against the baseline.

Preprocessing: convert to RGB (or BGR), resize to ``size`` [H, W] (bilinear), multiply by ``scale``, subtract
``mean`` and divide by ``std`` per channel, then lay out as NCHW or NHWC.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from recipecc.passes.base import PassContext, PassFailure
from recipecc.passes.data.arrays import save_split

__all__ = ["IMAGE_SUFFIXES", "find_images", "run"]

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")


def find_images(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())


def _load(path: Path, size: tuple[int, int], color: str) -> NDArray[Any]:
    from PIL import Image

    with Image.open(path) as image:
        rgb = image.convert("RGB").resize((size[1], size[0]), Image.Resampling.BILINEAR)
        array = np.asarray(rgb, dtype=np.float32)
    return array[..., ::-1] if color == "BGR" else array


def run(ctx: PassContext) -> dict[str, Any]:
    p = ctx.params
    root = Path(str(p["root"])).expanduser()
    images = find_images(root)
    needed = int(p["calibration_images"]) + int(p["eval_images"])
    if len(images) < 2:
        raise PassFailure(f"dataset.root '{root}' holds {len(images)} image(s); at least 2 are needed")
    if p.get("size") is None:
        raise PassFailure("dataset.size is required for image_folder (the model's input [H, W])")
    size = (int(p["size"][0]), int(p["size"][1]))
    rng = np.random.RandomState(int(p["seed"]))
    order = rng.permutation(len(images))[:needed]
    n_calib = min(int(p["calibration_images"]), max(1, len(order) // 2))
    calib_idx, eval_idx = order[:n_calib], order[n_calib:]

    classes = sorted({img.parent.relative_to(root).parts[0] for img in images if img.parent != root})
    labelled = bool(classes) and all(img.parent != root for img in images)
    class_index = {name: i for i, name in enumerate(classes)}

    mean = np.asarray(p["mean"], dtype=np.float32)
    std = np.asarray(p["std"], dtype=np.float32)

    def batch(indices: NDArray[Any]) -> tuple[NDArray[Any], NDArray[Any]]:
        x = np.stack([_load(images[i], size, str(p["color"])) for i in indices]) * float(p["scale"])
        x = (x - mean) / std
        if p["layout"] == "NCHW":
            x = x.transpose(0, 3, 1, 2)
        y = np.array(
            [class_index[images[i].relative_to(root).parts[0]] if labelled else -1 for i in indices], dtype=np.int64
        )
        return np.ascontiguousarray(x, dtype=np.float32), y

    x_train, y_train = batch(calib_idx)
    x_test, y_test = batch(eval_idx)
    save_split(ctx.out_dir, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    return {
        "format": "arrays-npz",
        "name": "image_folder",
        "root": str(root),
        "layout": p["layout"],
        "input_shape": list(x_train.shape[1:]),
        "num_classes": len(classes) if labelled else None,
        "classes": classes if labelled else [],
        "labelled": labelled,
        "train_size": len(x_train),
        "test_size": len(x_test),
        "images_found": len(images),
    }
