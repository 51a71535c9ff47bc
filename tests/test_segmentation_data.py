"""Segmentation label-map sets: VOC (the generated shapes set), Cityscapes and PaddleSeg lists; broken files are
named at plan time (exit 2) or by the data pass; the data pass writes memory-mapped arrays."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from recipecc.datasets import DatasetFormatError
from recipecc.datasets.segmentation import check_split, detect_format, list_samples, read_mask
from recipecc.datasets.shapes import write_shapes
from recipecc.passes.base import PassContext, PassFailure
from recipecc.passes.data.arrays import load_split


@pytest.fixture(scope="module")
def shapes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("shapes_seg")
    write_shapes(root, splits={"train": 6, "val": 4}, image_size=64, seed=5)
    return root


def _cityscapes(root: Path, raw: bool) -> Path:
    rng = np.random.RandomState(0)
    for split in ("train", "val"):
        for city in ("aachen", "bonn"):
            (root / "leftImg8bit" / split / city).mkdir(parents=True)
            (root / "gtFine" / split / city).mkdir(parents=True)
            stem = f"{city}_000000_000019"
            Image.fromarray(rng.randint(0, 255, (32, 64, 3), dtype=np.uint8)).save(
                root / "leftImg8bit" / split / city / f"{stem}_leftImg8bit.png"
            )
            ids = np.full((32, 64), 7, np.uint8)  # road
            ids[:, 32:] = 26  # car
            ids[:4] = 0  # unlabeled
            suffix = "labelIds" if raw else "labelTrainIds"
            values = ids if raw else np.where(ids == 7, 0, np.where(ids == 26, 13, 255)).astype(np.uint8)
            Image.fromarray(values, mode="L").save(root / "gtFine" / split / city / f"{stem}_gtFine_{suffix}.png")
    return root


def test_voc_label_maps_of_the_shapes_set(shapes: Path) -> None:
    assert detect_format(shapes) == "voc" and check_split(shapes, "val") == 4
    sample = list_samples(shapes, "train")[0]
    mask = read_mask(sample)
    assert mask.shape == (64, 64) and set(np.unique(mask)) <= {0, 1, 2, 3, 4, 255} and (mask == 255).any()


def test_cityscapes_raw_label_ids_become_train_ids(tmp_path: Path) -> None:
    root = _cityscapes(tmp_path, raw=True)
    assert detect_format(root) == "cityscapes" and check_split(root, "val") == 2
    mask = read_mask(list_samples(root, "val")[0])
    assert mask[10, 0] == 0 and mask[10, 40] == 13 and mask[0, 0] == 255  # road, car, unlabeled -> ignored


def test_paddleseg_file_lists(tmp_path: Path, shapes: Path) -> None:
    lines = [f"{s.image} {s.mask}" for s in list_samples(shapes, "val")]
    (tmp_path / "val.txt").write_text("\n".join(lines) + "\n")
    assert detect_format(tmp_path) == "list" and check_split(tmp_path, "val") == 4
    (tmp_path / "bad.txt").write_text("only_one_field.jpg\n")
    with pytest.raises(DatasetFormatError, match=r"bad\.txt: line 1 has 1 field"):
        list_samples(tmp_path, "bad")


def _copy(shapes: Path, tmp_path: Path) -> Path:
    import shutil

    return Path(shutil.copytree(shapes, tmp_path / "copy"))


def test_a_missing_label_map_is_named(shapes: Path, tmp_path: Path) -> None:
    root = _copy(shapes, tmp_path)
    victim = list_samples(root, "val")[2].mask
    victim.unlink()
    with pytest.raises(DatasetFormatError, match=rf"{victim.name}: label map not found"):
        check_split(root, "val")


def test_an_rgb_label_map_is_refused_with_its_name(shapes: Path, tmp_path: Path) -> None:
    root = _copy(shapes, tmp_path)
    victim = list_samples(root, "val")[0].mask
    Image.fromarray(np.zeros((64, 64, 3), np.uint8)).save(victim)
    with pytest.raises(DatasetFormatError, match=rf"{victim.name}: the label map is a RGB image"):
        check_split(root, "val")


def test_a_label_map_of_the_wrong_size_and_a_corrupt_one_are_named(shapes: Path, tmp_path: Path) -> None:
    root = _copy(shapes, tmp_path)
    first, second = list_samples(root, "val")[:2]
    Image.fromarray(np.zeros((10, 10), np.uint8), mode="L").save(first.mask)
    with pytest.raises(DatasetFormatError, match=rf"{first.mask.name}: the label map is 10x10"):
        check_split(root, "val")
    first.mask.write_bytes(b"not a png")
    with pytest.raises(DatasetFormatError, match=rf"{first.mask.name}: cannot read the label map"):
        check_split(root, "val")
    del second


def _pass(root: Path, out: Path, **overrides: object) -> dict:
    from recipecc.passes.data.segmentation import run

    out.mkdir()
    params = {
        "name": "segmentation", "root": str(root), "seed": 0, "layout": "NCHW", "size": [48, 48],
        "mean": [0.5] * 3, "std": [0.5] * 3, "scale": 1 / 255, "color": "RGB", "train_split": "train",
        "split": "val", "max_images": None, "eval_images": 3, "ignore_index": 255, "num_classes": 5,
        "format": None, **overrides,
    }  # fmt: skip
    return run(PassContext("data", params, {}, out))


def test_the_data_pass_writes_memory_mapped_arrays_with_exact_labels(shapes: Path, tmp_path: Path) -> None:
    meta = _pass(shapes, tmp_path / "out")
    data = load_split(tmp_path / "out")
    assert isinstance(data["x_train"], np.memmap) and data["x_train"].shape == (6, 3, 48, 48)
    assert data["y_test"].shape == (3, 48, 48) and data["y_test"].dtype == np.uint8
    assert set(np.unique(data["y_train"])) <= {0, 1, 2, 3, 4, 255}  # nearest resize: no invented classes
    assert float(data["x_test"].min()) >= -1.0 and float(data["x_test"].max()) <= 1.0
    assert meta["label_kind"] == "mask" and meta["input_shape"] == [3, 48, 48] and meta["test_size"] == 3


def test_labels_outside_the_classes_fail_the_pass_naming_the_file(shapes: Path, tmp_path: Path) -> None:
    with pytest.raises(PassFailure, match=r"\.png: label values \[4\] are neither classes 0\.\.3"):
        _pass(shapes, tmp_path / "out", num_classes=4, max_images=6, eval_images=4)


def test_a_broken_set_is_a_plan_time_error_exit_2(shapes: Path, tmp_path: Path) -> None:
    from recipecc.cli import main

    root = _copy(shapes, tmp_path)
    list_samples(root, "train")[3].image.unlink()
    code = main(["plan", "recipe=deeplabv3_mnv2_quant", "dataset=segmentation", f"dataset.root={root}"])
    assert code == 2
