"""YOLOv3 post-processing in numpy: decode the raw head maps (Paddle's ``yolo_box``) and multi-class NMS.

Running it after inference, not inside the exported graph, means an fp32, a pruned, an int8 and an ONNX variant of
a model are decoded by the same code, and quantization never touches the NMS. Defaults are PaddleDetection's YOLOv3
evaluation settings (confidence 0.005, NMS IoU 0.45, 1000 candidates per class, 100 boxes per image).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "ANCHORS_608",
    "ANCHORS_FROM_DATA",
    "ANCHOR_MASKS",
    "YoloDecoder",
    "anchors_for",
    "nms",
    "resolve_anchors",
    "yolov3_decoder_spec",
]

#: COCO anchors (w, h) in pixels of a 608x608 input, PaddleDetection's ``yolov3`` configs
ANCHORS_608 = (
    (10, 13), (16, 30), (33, 23), (30, 61), (62, 45), (59, 119), (116, 90), (156, 198), (373, 326),
)  # fmt: skip
#: which anchors each output level uses, deepest (stride 32) first
ANCHOR_MASKS = ((6, 7, 8), (3, 4, 5), (0, 1, 2))


def anchors_for(input_size: int) -> list[tuple[int, int]]:
    """The anchors in pixels of an ``input_size`` square input: COCO's at 608, scaled in proportion and rounded
    to whole pixels (Paddle's ``yolo_loss`` takes integers; decoding uses the same values)."""
    scale = input_size / 608.0
    return [(max(1, round(w * scale)), max(1, round(h * scale))) for w, h in ANCHORS_608]


#: the decoder spec's ``anchors`` when the data pass fits them (its artifact's ``anchors.anchors`` replaces it)
ANCHORS_FROM_DATA = "fitted by the data pass"


def yolov3_decoder_spec(input_size: int, anchors: Sequence[Sequence[int]] | str | None = None) -> dict[str, object]:
    """What :func:`recipecc.tasks.detection.decoder` needs to decode a YOLOv3 of this input size (plan data).

    ``anchors``: nine (w, h) pairs in input pixels, :data:`ANCHORS_FROM_DATA` (resolved by the passes from the
    data artifact, :func:`resolve_anchors`), or None for COCO's scaled to the input (:func:`anchors_for`)."""
    if anchors is None:
        anchors = anchors_for(input_size)
    return {
        "kind": "yolov3",
        "anchors": anchors if isinstance(anchors, str) else [[int(w), int(h)] for w, h in anchors],
        "masks": [list(m) for m in ANCHOR_MASKS],
        "input_size": input_size,
    }


def resolve_anchors(spec: Mapping[str, Any], data_meta: Mapping[str, Any] | None) -> dict[str, Any]:
    """The decoder spec with anchors fitted by the data pass put in (unchanged when the plan fixed them).

    Raises ``ValueError`` when the plan asked for fitted anchors and the data artifact has none."""
    if spec.get("anchors") != ANCHORS_FROM_DATA:
        return dict(spec)
    fitted = (data_meta or {}).get("anchors") or {}
    if not fitted.get("anchors"):
        raise ValueError("the plan asked for anchors fitted to the data, but the data artifact records none")
    return {**spec, "anchors": [[int(w), int(h)] for w, h in fitted["anchors"]]}


def _sigmoid(x: NDArray[Any]) -> NDArray[np.float32]:
    return np.asarray(0.5 * (np.tanh(0.5 * x.astype(np.float32)) + 1.0), dtype=np.float32)


def nms(boxes: NDArray[Any], scores: NDArray[Any], iou_threshold: float) -> NDArray[np.int64]:
    """Greedy non-maximum suppression: indices of kept boxes, best first (boxes ``[x0, y0, x1, y1]``)."""
    order = np.argsort(-scores, kind="stable")
    areas = np.clip(boxes[:, 2] - boxes[:, 0], 0, None) * np.clip(boxes[:, 3] - boxes[:, 1], 0, None)
    keep: list[int] = []
    while order.size:
        best, rest = int(order[0]), order[1:]
        keep.append(best)
        ix0 = np.maximum(boxes[best, 0], boxes[rest, 0])
        iy0 = np.maximum(boxes[best, 1], boxes[rest, 1])
        ix1 = np.minimum(boxes[best, 2], boxes[rest, 2])
        iy1 = np.minimum(boxes[best, 3], boxes[rest, 3])
        inter = np.clip(ix1 - ix0, 0, None) * np.clip(iy1 - iy0, 0, None)
        iou = inter / np.maximum(areas[best] + areas[rest] - inter, 1e-12)
        order = rest[iou <= iou_threshold]
    return np.asarray(keep, dtype=np.int64)


@dataclass(frozen=True)
class YoloDecoder:
    """Decodes YOLOv3 head maps ``[N, A * (5 + C), H, W]`` (any number of levels, deepest first).

    ``anchors`` are (w, h) in pixels of the square ``input_size``; ``masks`` say which anchors each level uses.
    """

    anchors: tuple[tuple[float, float], ...]
    masks: tuple[tuple[int, ...], ...]
    num_classes: int
    input_size: int
    conf_threshold: float = 0.005
    nms_threshold: float = 0.45
    nms_top_k: int = 1000
    keep_top_k: int = 100

    def boxes(
        self, outputs: Sequence[NDArray[Any]], sizes: Sequence[tuple[int, int]]
    ) -> list[tuple[NDArray[np.float32], NDArray[np.float32], NDArray[np.int64]]]:
        """Per image: boxes in its original pixels (``sizes`` are (width, height)), scores and class indices."""
        batch = len(sizes)
        all_boxes: list[list[NDArray[np.float32]]] = [[] for _ in range(batch)]
        all_scores: list[list[NDArray[np.float32]]] = [[] for _ in range(batch)]
        for output, mask in zip(outputs, self.masks, strict=True):
            n, channels, height, width = output.shape
            anchors = len(mask)
            if channels != anchors * (5 + self.num_classes):
                raise ValueError(
                    f"a YOLO head map has {channels} channels; {anchors} anchors x (5 + {self.num_classes} classes) "
                    f"= {anchors * (5 + self.num_classes)} expected"
                )
            maps = np.asarray(output, dtype=np.float32).reshape(n, anchors, 5 + self.num_classes, height, width)
            gx = np.arange(width, dtype=np.float32)[None, None, :]
            gy = np.arange(height, dtype=np.float32)[None, :, None]
            aw = np.array([self.anchors[k][0] for k in mask], dtype=np.float32)[:, None, None]
            ah = np.array([self.anchors[k][1] for k in mask], dtype=np.float32)[:, None, None]
            for i in range(n):
                img_w, img_h = sizes[i]
                m = maps[i]
                cx = (gx + _sigmoid(m[:, 0])) / width * img_w
                cy = (gy + _sigmoid(m[:, 1])) / height * img_h
                w = np.exp(np.clip(m[:, 2], -10, 10)) * aw / self.input_size * img_w
                h = np.exp(np.clip(m[:, 3], -10, 10)) * ah / self.input_size * img_h
                conf = _sigmoid(m[:, 4])
                scores = conf[:, None] * _sigmoid(m[:, 5:])  # A, C, H, W
                scores = np.where(conf[:, None] < self.conf_threshold, 0.0, scores)
                boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=-1)  # A, H, W, 4
                boxes[..., 0::2] = np.clip(boxes[..., 0::2], 0, img_w)
                boxes[..., 1::2] = np.clip(boxes[..., 1::2], 0, img_h)
                all_boxes[i].append(boxes.reshape(-1, 4))
                all_scores[i].append(scores.transpose(0, 2, 3, 1).reshape(-1, self.num_classes))
        results = []
        for i in range(batch):
            results.append(self._nms(np.concatenate(all_boxes[i]), np.concatenate(all_scores[i])))
        return results

    def _nms(
        self, boxes: NDArray[np.float32], scores: NDArray[np.float32]
    ) -> tuple[NDArray[np.float32], NDArray[np.float32], NDArray[np.int64]]:
        kept_boxes, kept_scores, kept_labels = [], [], []
        for label in range(self.num_classes):
            column = scores[:, label]
            candidates = np.nonzero(column > self.conf_threshold)[0]
            if not candidates.size:
                continue
            candidates = candidates[np.argsort(-column[candidates], kind="stable")[: self.nms_top_k]]
            keep = candidates[nms(boxes[candidates], column[candidates], self.nms_threshold)]
            kept_boxes.append(boxes[keep])
            kept_scores.append(column[keep])
            kept_labels.append(np.full(len(keep), label, dtype=np.int64))
        if not kept_boxes:
            return np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int64)
        b, s, lab = np.concatenate(kept_boxes), np.concatenate(kept_scores), np.concatenate(kept_labels)
        top = np.argsort(-s, kind="stable")[: self.keep_top_k]
        return b[top].astype(np.float32), s[top].astype(np.float32), lab[top]

    def coco_records(
        self,
        outputs: Sequence[NDArray[Any]],
        sizes: Sequence[tuple[int, int]],
        image_ids: Sequence[int],
        category_ids: Sequence[int],
    ) -> list[dict[str, Any]]:
        """COCO results records (``image_id``, ``category_id``, ``bbox`` [x, y, w, h], ``score``) of a batch."""
        records: list[dict[str, Any]] = []
        for image_id, (boxes, scores, labels) in zip(image_ids, self.boxes(outputs, sizes), strict=True):
            for box, score, label in zip(boxes, scores, labels, strict=True):
                x0, y0, x1, y1 = (float(v) for v in box)
                records.append(
                    {
                        "image_id": int(image_id),
                        "category_id": int(category_ids[int(label)]),
                        "bbox": [round(x0, 2), round(y0, 2), round(x1 - x0, 2), round(y1 - y0, 2)],
                        "score": round(float(score), 5),
                    }
                )
        return records
