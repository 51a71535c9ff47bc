"""Object detection: boxes per image; COCO AP@[.5:.95] (pycocotools) as the headline, AP50 and VOC mAP@0.5.

A detector's raw outputs are decoded by the decoder its architecture names (``decoder``: ``yolov3``, the three head
maps decoded with Paddle's ``yolo_box`` semantics + multi-class NMS, :mod:`recipecc.metrics.yolo`). Targets are the
packed boxes of :func:`recipecc.datasets.detection.pack_targets` (original pixels, image id and size in row 0), so
detections are scored in the coordinates of the user's annotation file. Every stage's detections are written as a
COCO results file (``detections.json``), the format COCO's evaluation server takes.

Without labels, the compressed model's boxes are scored against the baseline's boxes that reach the score
threshold (``model.threshold``, default 0.5): ``map_agreement`` is that COCO AP.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from recipecc.datasets.detection import TARGET_COLUMNS, unpack_targets
from recipecc.metrics.detection import baseline_as_ground_truth, coco_ap, voc_map
from recipecc.metrics.yolo import YoloDecoder, resolve_anchors
from recipecc.tasks import Task
from recipecc.tasks.outputs import DEFAULT_THRESHOLD, Fidelity, Kept

__all__ = [
    "DEPLOYMENT_FILE",
    "DETECTIONS_FILE",
    "TASK",
    "Evaluator",
    "decoder",
    "deployment",
    "fidelity",
    "keep",
    "predictions",
    "score",
]

DETECTIONS_FILE = "detections.json"
#: written beside every exported detector in the run folder (``recipecc.deliver``): how to feed and decode it
DEPLOYMENT_FILE = "detector.json"
#: boxes kept per image for the comparison with the baseline (COCO's maxDets)
KEPT_BOXES = 100

TASK = Task(
    name="detection",
    description="boxes per image: COCO AP@[.5:.95] (pycocotools), AP50 and VOC mAP@0.5 against annotated boxes",
    headline="map",
    headline_label="mAP",
    metrics=("map", "map50", "map75", "voc_map", "voc_map_11point"),
    fidelity_headline="map_agreement",
    label_kind="boxes",
    datasets=("shapes_voc", "shapes_coco", "voc", "coco"),
    trains_on=("paddle",),
    percent=False,
)


def decoder(params: Mapping[str, Any]) -> YoloDecoder:
    """The decoder the plan names for the model's raw outputs (``params["decoder"]``)."""
    spec = params.get("decoder") or {}
    if spec.get("kind") != "yolov3":
        raise ValueError(f"no decoder for detection outputs of kind {spec.get('kind')!r} (known: yolov3)")
    return YoloDecoder(
        anchors=tuple((float(w), float(h)) for w, h in spec["anchors"]),
        masks=tuple(tuple(int(i) for i in m) for m in spec["masks"]),
        num_classes=int(params["num_classes"]),
        input_size=int(spec["input_size"]),
    )


def deployment(
    params: Mapping[str, Any],
    *,
    data_meta: Mapping[str, Any] | None = None,
    preprocessing: Mapping[str, Any] | None = None,
    io: Mapping[str, Any] | None = None,
) -> dict[str, Any] | None:
    """What a deployer needs to turn the exported model's raw head maps into boxes, as the run decoded them (None
    for a stage without a decoder).

    ``params`` are the bench node's task parameters (``decoder``, ``num_classes``); ``data_meta`` the data step's
    artifact (anchors fitted to the data, class names and category ids); ``io`` the input names and each output's
    name and per-image shape the benchmark saw (``evaluation.io``); ``preprocessing`` the data step's resize and
    normalisation. The decoding rule and the thresholds are those of :class:`recipecc.metrics.yolo.YoloDecoder`,
    which scored every stage of the run. Raises ``ValueError`` when the plan asked for fitted anchors and the data
    artifact has none.
    """
    if "decoder" not in params:
        return None
    meta = data_meta or {}
    classes, category_ids = meta.get("classes") or (), meta.get("category_ids") or ()
    yolo = decoder({**params, "decoder": resolve_anchors(params["decoder"], meta)})
    outputs = list((io or {}).get("outputs") or [])
    if len(outputs) != len(yolo.masks):
        outputs = [{"name": None, "shape": None} for _ in yolo.masks]
    levels = []
    for out, mask in zip(outputs, yolo.masks, strict=True):
        shape = out.get("shape")
        grid = list(shape[-2:]) if shape and len(shape) == 3 else None
        levels.append(
            {
                "name": out.get("name"),
                "shape": shape,
                "stride": yolo.input_size // grid[0] if grid else None,
                "anchor_mask": list(mask),
                "anchors": [[int(w), int(h)] for w, h in (yolo.anchors[k] for k in mask)],
            }
        )
    names = [str(c) for c in classes] or [str(i) for i in range(yolo.num_classes)]
    ids = [int(c) for c in category_ids] or list(range(1, yolo.num_classes + 1))
    pre = dict(preprocessing or {})
    return {
        "format": "recipecc detector 1",
        "decoder": "yolov3",
        "input": {
            "names": list((io or {}).get("inputs") or []),
            "size": [yolo.input_size, yolo.input_size],
            "layout": pre.get("layout", "NCHW"),
            "color": pre.get("color", "RGB"),
            "resize": "to the square input, aspect ratio not kept (bilinear)",
            "scale": pre.get("scale"),
            "mean": pre.get("mean"),
            "std": pre.get("std"),
            "normalise": "(pixel * scale - mean) / std, per channel",
        },
        "outputs": levels,
        "strides": [level["stride"] for level in levels],
        "anchors": [[int(w), int(h)] for w, h in yolo.anchors],
        "anchor_masks": [list(m) for m in yolo.masks],
        "num_classes": yolo.num_classes,
        "classes": names,
        "category_ids": ids,
        "output_layout": f"per output: [N, {len(yolo.masks[0])} anchors x (x, y, w, h, objectness, "
        f"{yolo.num_classes} class logits), H, W]",
        "box": "cx = (col + sigmoid(x)) / W, cy = (row + sigmoid(y)) / H, w = exp(w) * anchor_w / input_w, "
        "h = exp(h) * anchor_h / input_h (fractions of the image; Paddle's yolo_box)",
        "score": "sigmoid(objectness) * sigmoid(class logit); anchors whose objectness is below score_threshold, "
        "and class scores not above it, are dropped before NMS",
        "score_threshold": yolo.conf_threshold,
        "nms": {
            "kind": "per class, greedy",
            "iou_threshold": yolo.nms_threshold,
            "top_k_per_class": yolo.nms_top_k,
            "keep_top_k": yolo.keep_top_k,
        },
    }


def predictions(outputs: Sequence[NDArray[Any]], **params: Any) -> NDArray[np.float32]:
    """Boxes of each image, normalised to 0..1, padded: ``(N, KEPT_BOXES, 6)`` rows ``x0 y0 x1 y1 score label``
    (``label = -1`` where there is no box). Normalised boxes give the same IoUs as pixel ones."""
    decoded = decoder(params).boxes(outputs, [(1, 1)] * len(outputs[0]))
    packed = np.zeros((len(decoded), KEPT_BOXES, 6), dtype=np.float32)
    packed[:, :, 5] = -1
    for i, (boxes, scores, labels) in enumerate(decoded):
        n = min(len(boxes), KEPT_BOXES)
        packed[i, :n, :4], packed[i, :n, 4], packed[i, :n, 5] = boxes[:n], scores[:n], labels[:n]
    return packed


def _records(kept: NDArray[Any], sizes: Sequence[tuple[int, int]], image_ids: Sequence[int]) -> list[dict[str, Any]]:
    """COCO results records of kept predictions, in pixels of images of ``sizes``; category id = label + 1."""
    records = []
    for rows, (width, height), image_id in zip(kept, sizes, image_ids, strict=True):
        for x0, y0, x1, y1, s, label in rows[rows[:, 5] >= 0]:
            records.append(
                {
                    "image_id": int(image_id),
                    "category_id": int(label) + 1,
                    "bbox": [
                        float(x0 * width),
                        float(y0 * height),
                        float((x1 - x0) * width),
                        float((y1 - y0) * height),
                    ],
                    "score": float(s),
                }
            )
    return records


def score(predicted: NDArray[Any], targets: NDArray[Any], *, reference: bool = False, **params: Any) -> float:
    """COCO AP@[.5:.95] of kept predictions against packed targets (sensitivity analysis uses this).

    With ``reference=True`` the targets are another model's kept predictions (no labels score the model, so
    sensitivity compares with the unpruned model) and the score is ``map_agreement`` with them."""
    targets = np.asarray(targets)
    if reference:
        if targets.shape[1:] != np.asarray(predicted).shape[1:]:
            raise ValueError(
                f"reference detections must be kept predictions shaped like these, (N, {KEPT_BOXES}, 6); "
                f"got {targets.shape}"
            )
        threshold = float(params.get("threshold") or DEFAULT_THRESHOLD)
        return fidelity({"boxes": predicted}, {"boxes": targets}, threshold=threshold)[0]["map_agreement"]
    if targets.ndim != 3 or targets.shape[2] != len(TARGET_COLUMNS):
        raise ValueError(
            f"detection labels must be packed targets (N, 1 + boxes, {len(TARGET_COLUMNS)}); got {targets.shape}"
        )
    evaluator = Evaluator(**params)
    evaluator.add(predicted, targets)
    # the headline only (training scores every epoch with this): the VOC metrics of metrics() are not needed
    return float(coco_ap(evaluator.ground_truth(), evaluator.detections)["map"])


class Evaluator:
    """Detections accumulated batch by batch; pycocotools and the VOC metric run once at the end."""

    def __init__(self, *, num_classes: int, category_ids: Sequence[int] | None = None, **params: Any) -> None:
        self.params = {"num_classes": int(num_classes), **params}
        self.category_ids = [int(c) for c in (category_ids or range(1, int(num_classes) + 1))]
        self.detections: list[dict[str, Any]] = []
        self.images: list[dict[str, Any]] = []
        self.annotations: list[dict[str, Any]] = []

    def update(self, outputs: Sequence[NDArray[Any]], targets: NDArray[Any]) -> None:
        self.add(predictions(outputs, **self.params), targets)

    def add(self, kept: NDArray[Any], targets: NDArray[Any]) -> None:
        samples = unpack_targets(targets)
        sizes = [(s.width, s.height) for s in samples]
        for record in _records(kept, sizes, [s.image_id for s in samples]):
            record["category_id"] = self.category_ids[record["category_id"] - 1]
            record["bbox"] = [round(v, 2) for v in record["bbox"]]
            self.detections.append(record)
        for sample in samples:
            self.images.append({"id": sample.image_id, "width": sample.width, "height": sample.height})
            for box, label, ignore in zip(sample.boxes, sample.labels, sample.ignore, strict=True):
                x0, y0, x1, y1 = (float(v) for v in box)
                self.annotations.append(
                    {
                        "id": len(self.annotations) + 1,
                        "image_id": sample.image_id,
                        "category_id": self.category_ids[int(label)],
                        "bbox": [x0, y0, x1 - x0, y1 - y0],
                        "area": (x1 - x0) * (y1 - y0),
                        "iscrowd": int(bool(ignore)),
                    }
                )

    def ground_truth(self) -> dict[str, Any]:
        categories = [{"id": c, "name": str(c)} for c in self.category_ids]
        return {"images": self.images, "annotations": self.annotations, "categories": categories}

    def metrics(self) -> dict[str, float]:
        gt = self.ground_truth()
        coco = coco_ap(gt, self.detections)
        return {
            **coco,
            "voc_map": voc_map(gt, self.detections)["map"],
            "voc_map_11point": voc_map(gt, self.detections, eleven_point=True)["map"],
        }

    def details(self) -> dict[str, Any]:
        per_class = voc_map(self.ground_truth(), self.detections)["per_class"]
        return {"images": len(self.images), "detections": len(self.detections), "voc_ap_per_class": per_class}

    def files(self, out_dir: Path) -> dict[str, str]:
        """Writes the COCO results file of this stage; returns its name (relative to ``out_dir``)."""
        (out_dir / DETECTIONS_FILE).write_text(json.dumps(self.detections))
        return {"detections": DETECTIONS_FILE}


def keep(outputs: Sequence[NDArray[Any]], names: Sequence[str], **params: Any) -> dict[str, NDArray[Any]]:
    """The decoded boxes (``(N, 100, 6)``), not the head maps: what the baseline comparison needs."""
    return {"boxes": predictions(outputs, **params)}


def fidelity(
    ours: Kept,
    reference: Kept,
    *,
    requested: Sequence[str] = (),
    threshold: float = DEFAULT_THRESHOLD,
    kinds: Mapping[str, str] | None = None,
) -> Fidelity:
    """COCO AP of this stage's boxes against the baseline's boxes scoring at least ``threshold``."""
    mine, theirs = ours["boxes"], reference["boxes"]
    images = [{"id": i + 1, "width": 1, "height": 1} for i in range(len(theirs))]
    labels = {int(v) for v in np.concatenate([mine[..., 5].ravel(), theirs[..., 5].ravel()]) if v >= 0}
    categories = [{"id": c + 1, "name": str(c)} for c in sorted(labels)] or [{"id": 1, "name": "0"}]
    baseline = _records(theirs, [(1, 1)] * len(theirs), range(1, len(theirs) + 1))
    gt = baseline_as_ground_truth(images, categories, baseline, threshold)
    detections = _records(mine, [(1, 1)] * len(mine), range(1, len(mine) + 1))
    if not gt["annotations"]:  # the baseline finds nothing that confident: agree when this stage does not either
        confident = [d for d in detections if d["score"] >= threshold]
        value = 0.0 if confident else 1.0
        result = {"map_agreement": value}
    else:
        result = {"map_agreement": coco_ap(gt, detections)["map"]}
    details = {
        "boxes": {
            "kind": "detections",
            "headline": "map_agreement",
            "threshold": threshold,
            "baseline_boxes": len(gt["annotations"]),
            **result,
        }
    }
    return result, details
