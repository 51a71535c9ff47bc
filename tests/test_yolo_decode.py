"""YOLOv3 decoding (Paddle's yolo_box semantics) and NMS, on head maps written by hand."""

from __future__ import annotations

import numpy as np
import pytest

from recipecc.metrics.yolo import YoloDecoder, nms

ANCHORS = ((10.0, 13.0), (16.0, 30.0), (33.0, 23.0), (30.0, 61.0), (62.0, 45.0), (59.0, 119.0))
MASKS = ((3, 4, 5), (0, 1, 2))


def _maps(classes: int, input_size: int) -> list[np.ndarray]:
    """Two levels (strides 32 and 16) with every logit very negative: nothing is detected."""
    return [
        np.full((1, 3 * (5 + classes), input_size // stride, input_size // stride), -12.0, dtype=np.float32)
        for stride in (32, 16)
    ]


def test_one_confident_cell_decodes_to_its_box() -> None:
    decoder = YoloDecoder(ANCHORS, MASKS, num_classes=2, input_size=128)
    maps = _maps(2, 128)
    # level 1 (stride 16, 8x8 grid), anchor 1 of its mask (16x30 px), cell (x=3, y=5): centre offsets 0 (sigmoid .5)
    cell = maps[1][0].reshape(3, 7, 8, 8)[1]
    cell[0:4, 5, 3] = 0.0  # tx, ty, tw, th
    cell[4, 5, 3] = 8.0  # objectness
    cell[6, 5, 3] = 8.0  # class 1
    (boxes, scores, labels), = decoder.boxes(maps, [(256, 512)])  # fmt: skip
    assert labels.tolist() == [1]
    assert scores[0] == pytest.approx((1 / (1 + np.exp(-8))) ** 2, rel=1e-5)
    cx, cy = 3.5 / 8 * 256, 5.5 / 8 * 512
    w, h = 16 / 128 * 256, 30 / 128 * 512
    np.testing.assert_allclose(boxes[0], [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], rtol=1e-5)
    records = decoder.coco_records(maps, [(256, 512)], image_ids=[7], category_ids=[5, 9])
    assert [(r["image_id"], r["category_id"]) for r in records] == [(7, 9)]
    assert records[0]["bbox"] == pytest.approx([cx - w / 2, cy - h / 2, w, h], abs=0.01)


def test_confidence_below_threshold_gives_nothing() -> None:
    decoder = YoloDecoder(ANCHORS, MASKS, num_classes=2, input_size=128, conf_threshold=0.5)
    maps = _maps(2, 128)
    maps[0][0, 4, 1, 1] = -0.5  # objectness 0.38 < 0.5
    maps[0][0, 5, 1, 1] = 8.0
    assert len(decoder.boxes(maps, [(128, 128)])[0][0]) == 0


def test_wrong_channel_count_is_explained() -> None:
    decoder = YoloDecoder(ANCHORS, MASKS, num_classes=3, input_size=128)
    with pytest.raises(ValueError, match=r"3 anchors x \(5 \+ 3 classes\) = 24 expected"):
        decoder.boxes(_maps(2, 128), [(128, 128)])


def test_nms_keeps_the_best_of_overlapping_boxes() -> None:
    boxes = np.array([[0, 0, 10, 10], [1, 1, 10, 10], [20, 20, 30, 30], [0, 0, 10, 5]], dtype=np.float32)
    scores = np.array([0.9, 0.95, 0.5, 0.8], dtype=np.float32)
    # box 1 (0.95) suppresses box 0 (IoU 0.81); box 3 overlaps box 1 by 0.42 <= 0.45 and stays
    assert nms(boxes, scores, 0.45).tolist() == [1, 3, 2]
