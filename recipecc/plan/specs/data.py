"""Dataset passes: run in the compiler process (numpy, scikit-learn, Pillow; no framework)."""

from __future__ import annotations

from recipecc.plan.spec import PassSpec

SPECS = (
    PassSpec(
        "data.digits",
        "local",
        "recipecc.passes.data.digits:run",
        "dataset",
        "Load scikit-learn's digits, upscale, split into train/test with a fixed stratified hold-out",
        ("scikit-learn", "numpy", "scipy"),
        version=2,
    ),
    PassSpec(
        "data.image_folder",
        "local",
        "recipecc.passes.data.image_folder:run",
        "dataset",
        "Read a folder of images (recursively), preprocess for the model, split calibration / evaluation parts",
        ("numpy", "pillow"),
    ),
    PassSpec(
        "data.segmentation",
        "local",
        "recipecc.passes.data.segmentation:run",
        "dataset",
        "Read a label-map set (VOC, Cityscapes, PaddleSeg lists; or generate the shapes set), resize, normalise, "
        "write memory-mapped arrays",
        ("numpy", "pillow"),
        version=2,  # 2: the shapes set draws each split from its own random stream
    ),
    PassSpec(
        "data.detection",
        "local",
        "recipecc.passes.data.detection:run",
        "dataset",
        "Read a VOC / COCO detection set (or generate the shapes set), resize, normalise, write memory-mapped "
        "arrays, packed boxes and the COCO ground truth of the evaluated images",
        ("numpy", "pillow", "defusedxml"),
        version=2,  # 2: the shapes set draws each split from its own random stream
    ),
)
