"""The generated shapes set and the VOC / COCO readers, on files written to disk (and broken on purpose)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from recipecc.datasets import DatasetFormatError
from recipecc.datasets.coco import check_coco, load_json, read_coco
from recipecc.datasets.detection import read_image, to_coco_gt
from recipecc.datasets.shapes import SHAPE_CLASSES, write_shapes
from recipecc.datasets.voc import check_voc, read_voc


@pytest.fixture(scope="module")
def shapes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("shapes")
    write_shapes(root, splits={"train": 6, "val": 4}, image_size=96, seed=3)
    return root


def _digest(root: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        h.update(path.relative_to(root).as_posix().encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def test_shapes_are_deterministic_from_the_seed(tmp_path: Path) -> None:
    write_shapes(tmp_path / "a", splits={"train": 3}, image_size=64, seed=1)
    write_shapes(tmp_path / "b", splits={"train": 3}, image_size=64, seed=1)
    write_shapes(tmp_path / "c", splits={"train": 3}, image_size=64, seed=2)
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")
    assert _digest(tmp_path / "a") != _digest(tmp_path / "c")


def test_more_training_images_leave_the_evaluation_images_unchanged(tmp_path: Path) -> None:
    """``dataset.max_images`` must not change what a stage is evaluated on (each split has its own stream)."""
    for name, train in (("few", 2), ("many", 5)):
        write_shapes(tmp_path / name, splits={"train": train, "val": 3}, image_size=64, seed=1)

    def val_pixels(root: Path) -> list[bytes]:
        stems = (root / "ImageSets" / "Main" / "val.txt").read_text().split()
        return [np.asarray(Image.open(root / "JPEGImages" / f"{s}.jpg")).tobytes() for s in stems]

    assert val_pixels(tmp_path / "few") == val_pixels(tmp_path / "many")


def test_voc_and_coco_readers_agree_on_the_generated_boxes(shapes: Path) -> None:
    voc = read_voc(shapes, "val")
    coco = read_coco(shapes / "annotations" / "instances_val.json", shapes / "JPEGImages")
    assert voc.classes == coco.classes == SHAPE_CLASSES
    assert len(voc.samples) == len(coco.samples) == 4
    for v, c in zip(voc.samples, sorted(coco.samples, key=lambda s: s.image_id), strict=True):
        assert v.path == c.path and (v.width, v.height) == (c.width, c.height) == (96, 96)
        assert len(v.boxes) >= 1
        np.testing.assert_allclose(v.boxes, c.boxes)
        np.testing.assert_array_equal(v.labels, c.labels)
        assert read_image(v.path).shape == (96, 96, 3)


def test_boxes_are_the_extent_of_the_class_masks(shapes: Path) -> None:
    """Every box encloses exactly its object's pixels in the label map, and the ignore band (255) surrounds them."""
    for sample in read_voc(shapes, "train").samples:
        label_map = np.asarray(Image.open(shapes / "SegmentationClass" / f"{sample.path.stem}.png"))
        assert set(np.unique(label_map)) <= {0, 1, 2, 3, 4, 255}
        assert (label_map == 255).any()
        for box, label in zip(sample.boxes.astype(int), sample.labels, strict=True):
            x0, y0, x1, y1 = box
            inside = label_map[y0:y1, x0:x1]
            assert (inside == label + 1).any()
            # the object (its outline is in the 255 band, as in VOC) reaches every side of its box: a tight box
            on_object = (inside == label + 1) | (inside == 255)
            assert on_object[:, 0].any() and on_object[:, -1].any() and on_object[0].any() and on_object[-1].any()


def test_coco_conversion_of_voc_keeps_the_boxes(shapes: Path) -> None:
    voc = read_voc(shapes, "val")
    doc = to_coco_gt(voc)
    original = json.loads((shapes / "annotations" / "instances_val.json").read_text())
    assert [a["bbox"] for a in doc["annotations"]] == [[float(v) for v in a["bbox"]] for a in original["annotations"]]
    assert [c["name"] for c in doc["categories"]] == list(SHAPE_CLASSES)


def test_plan_time_checks_count_the_images(shapes: Path) -> None:
    assert check_voc(shapes, "train") == 6
    assert check_coco(shapes / "annotations" / "instances_train.json", shapes / "JPEGImages") == 6


def _copy(shapes: Path, tmp_path: Path) -> Path:
    import shutil

    return Path(shutil.copytree(shapes, tmp_path / "copy"))


def test_malformed_voc_files_are_named(shapes: Path, tmp_path: Path) -> None:
    root = _copy(shapes, tmp_path)
    with pytest.raises(DatasetFormatError, match=r"test.txt: split file not found.*train, trainval, val"):
        check_voc(root, "test")
    (root / "Annotations" / "000002.xml").unlink()
    with pytest.raises(DatasetFormatError, match=r"000002\.xml: annotation file not found \(1 of the 6"):
        check_voc(root, "train")
    (root / "Annotations" / "000008.xml").write_text("<annotation><object><name>circle</name>")
    with pytest.raises(DatasetFormatError, match=r"000008\.xml: not well-formed XML"):
        read_voc(root, "val")
    bomb = '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;">]><annotation>&b;</annotation>'
    (root / "Annotations" / "000008.xml").write_text(bomb)
    with pytest.raises(DatasetFormatError, match=r"000008\.xml: refused unsafe XML"):
        read_voc(root, "val")
    text = (shapes / "Annotations" / "000008.xml").read_text()
    (root / "Annotations" / "000008.xml").write_text(text.replace("<name>", "<name>x", 1))
    with pytest.raises(DatasetFormatError, match=r"000008\.xml: object class 'x.*' is not a known class"):
        read_voc(root, "val")
    (root / "Annotations" / "000008.xml").write_text(text.replace("<xmin>", "<xmin>a", 1))
    with pytest.raises(DatasetFormatError, match=r"000008\.xml: <xmin> is 'a"):
        read_voc(root, "val")


def test_malformed_coco_files_are_named(shapes: Path, tmp_path: Path) -> None:
    images = shapes / "JPEGImages"
    good = json.loads((shapes / "annotations" / "instances_val.json").read_text())
    path = tmp_path / "bad.json"
    with pytest.raises(DatasetFormatError, match=r"bad.json: annotation file not found"):
        check_coco(path, images)
    path.write_text("{not json")
    with pytest.raises(DatasetFormatError, match=r"bad.json: not valid JSON"):
        read_coco(path, images)
    path.write_text(json.dumps({"images": []}))
    with pytest.raises(DatasetFormatError, match=r"bad.json: has no 'annotations' list"):
        read_coco(path, images)
    broken = json.loads(json.dumps(good))
    broken["annotations"][1]["bbox"] = [1, 2, 3]
    path.write_text(json.dumps(broken))
    with pytest.raises(DatasetFormatError, match=r"bad.json: annotations\[1\]: bbox is \[1, 2, 3\]"):
        read_coco(path, images)
    broken = json.loads(json.dumps(good))
    broken["annotations"][0]["category_id"] = 77
    path.write_text(json.dumps(broken))
    with pytest.raises(DatasetFormatError, match=r"annotations\[0\]: category_id 77 is not in 'categories'"):
        check_coco(path, images)
    with pytest.raises(DatasetFormatError, match=r"over the 10 byte limit"):
        load_json(shapes / "annotations" / "instances_val.json", max_bytes=10)
    path.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(DatasetFormatError, match=r"nested too deeply"):
        load_json(path)
    with pytest.raises(DatasetFormatError, match=r"nowhere: image folder not found"):
        read_coco(shapes / "annotations" / "instances_val.json", tmp_path / "nowhere")


def test_a_missing_image_is_named(tmp_path: Path) -> None:
    with pytest.raises(DatasetFormatError, match=r"gone.jpg: image file not found"):
        read_image(tmp_path / "gone.jpg")
    (tmp_path / "bad.jpg").write_bytes(b"not an image")
    with pytest.raises(DatasetFormatError, match=r"bad.jpg: not a readable image"):
        read_image(tmp_path / "bad.jpg")
