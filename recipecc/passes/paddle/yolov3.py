"""YOLOv3 with a MobileNetV1 or ResNet34 backbone, built from paddle.vision parts (PaddleDetection's layout).

The architecture follows PaddleDetection's ``yolov3_mobilenet_v1`` / ``yolov3_r34`` configs (YOLOv3FPN neck,
YOLOv3Head): backbone features at strides 8 / 16 / 32 (MobileNetV1: 256 / 512 / 1024 channels after ``conv4_1``,
``conv5_5`` and ``conv6``; ResNet34: 128 / 256 / 512 after ``layer2..4``); per level, deepest first, a detection block
of 1x1/3x3 convs with ``512 // 2**i`` channels, a 1x1 transition + 2x nearest upsampling concatenated with the
next backbone feature, and a 1x1 output conv of ``3 * (5 + classes)`` channels. At 608x608 with 80 classes this
is PaddleDetection's model: 24.4 M parameters with MobileNetV1 (97.7 MB fp32), 42.3 M with ResNet34.

The network's outputs are the three raw head maps (a multi-output model): decoding (Paddle's ``yolo_box``
semantics) and multi-class NMS run after inference, in numpy (``recipecc.tasks``/``decode_yolo``), so every runtime
and every compressed variant (pruned, int8, ONNX) is decoded identically, and quantization never touches NMS.
Training uses Paddle's fused ``yolo_loss`` op (PaddleDetection's YOLOv3 loss: sigmoid CE on x/y, objectness and
classes, L1 on w/h, ignore threshold 0.7).

Anchors are not part of the network: the loss and the decoder take them from the plan's decoder spec, either
fitted to the training boxes by the data pass (:mod:`recipecc.metrics.anchors`) or COCO's k-means anchors for a
608x608 input scaled to ``model.input_size`` (``model.anchors: coco``, the reference rows').
"""

from __future__ import annotations

import zlib  # noqa: F401  - before paddle, see recipecc.passes.paddle
from collections.abc import Sequence
from typing import Any

import numpy as np
import paddle
from numpy.typing import NDArray
from paddle import nn
from paddle.nn import functional as F

from recipecc.metrics.yolo import ANCHOR_MASKS, ANCHORS_608, anchors_for

__all__ = [
    "ANCHORS_608",
    "ANCHOR_MASKS",
    "DOWNSAMPLE",
    "YOLOv3",
    "anchors_for",
    "yolo_loss",
]

DOWNSAMPLE = (32, 16, 8)
#: the layer paths of the output convolutions: their channels are predictions, so pruning must leave them whole
OUTPUT_LAYERS = ("head.out0", "head.out1", "head.out2")


class ConvBN(nn.Layer):  # type: ignore[misc]
    """Conv (no bias) + BatchNorm + LeakyReLU(0.1), PaddleDetection's ConvBNLayer for the YOLOv3 neck."""

    def __init__(self, cin: int, cout: int, kernel: int) -> None:
        super().__init__()
        self.conv = nn.Conv2D(cin, cout, kernel, padding=kernel // 2, bias_attr=False)
        self.bn = nn.BatchNorm2D(cout)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        return F.leaky_relu(self.bn(self.conv(x)), 0.1)


class DetectionBlock(nn.Layer):  # type: ignore[misc]
    """YOLODetBlock: 1x1 / 3x3 / 1x1 / 3x3 / 1x1 (the route) then a 3x3 (the tip the head reads)."""

    def __init__(self, cin: int, channels: int) -> None:
        super().__init__()
        self.conv0 = ConvBN(cin, channels, 1)
        self.conv1 = ConvBN(channels, channels * 2, 3)
        self.conv2 = ConvBN(channels * 2, channels, 1)
        self.conv3 = ConvBN(channels, channels * 2, 3)
        self.route = ConvBN(channels * 2, channels, 1)
        self.tip = ConvBN(channels, channels * 2, 3)

    def forward(self, x: paddle.Tensor) -> tuple[paddle.Tensor, paddle.Tensor]:
        route = self.route(self.conv3(self.conv2(self.conv1(self.conv0(x)))))
        return route, self.tip(route)


class MobileNetV1Features(nn.Layer):  # type: ignore[misc]
    """paddle.vision's MobileNetV1 without its classifier, returning the stride 8 / 16 / 32 features."""

    TAPS = (4, 10, 12)  # indices in the depthwise-separable stack: conv4_1, conv5_5, conv6

    def __init__(self, width: float) -> None:
        super().__init__()
        from paddle.vision.models import MobileNetV1

        net = MobileNetV1(scale=width, num_classes=-1, with_pool=False)
        self.conv1 = net.conv1
        self.blocks = nn.LayerList(net.dwsl)
        self.channels = tuple(int(c * width) for c in (256, 512, 1024))

    def forward(self, x: paddle.Tensor) -> list[paddle.Tensor]:
        x = self.conv1(x)
        features = []
        for index, block in enumerate(self.blocks):
            x = block(x)
            if index in self.TAPS:
                features.append(x)
        return features


class ResNet34Features(nn.Layer):  # type: ignore[misc]
    """paddle.vision's ResNet34 without its classifier, returning ``layer2`` / ``layer3`` / ``layer4``."""

    def __init__(self) -> None:
        super().__init__()
        from paddle.vision.models import resnet34

        net = resnet34(pretrained=False, num_classes=-1, with_pool=False)
        self.stem = nn.Sequential(net.conv1, net.bn1, net.relu, net.maxpool)
        self.layer1, self.layer2, self.layer3, self.layer4 = net.layer1, net.layer2, net.layer3, net.layer4
        self.channels = (128, 256, 512)

    def forward(self, x: paddle.Tensor) -> list[paddle.Tensor]:
        c2 = self.layer1(self.stem(x))
        c3 = self.layer2(c2)
        c4 = self.layer3(c3)
        return [c3, c4, self.layer4(c4)]


class YOLOv3Neck(nn.Layer):  # type: ignore[misc]
    """YOLOv3FPN: detection blocks deepest first, each route upsampled into the next shallower level."""

    def __init__(self, in_channels: Sequence[int], width: float = 1.0) -> None:
        super().__init__()
        deepest_first = list(reversed(in_channels))
        self.blocks = nn.LayerList()
        self.transitions = nn.LayerList()
        self.out_channels: list[int] = []
        route_channels = 0
        for level, cin in enumerate(deepest_first):
            channels = max(8, int(512 * width)) // (2**level)
            self.blocks.append(DetectionBlock(cin + route_channels, channels))
            self.out_channels.append(channels * 2)
            if level < len(deepest_first) - 1:
                self.transitions.append(ConvBN(channels, channels // 2, 1))
                route_channels = channels // 2

    def forward(self, features: list[paddle.Tensor]) -> list[paddle.Tensor]:
        outputs = []
        route = None
        for level, feature in enumerate(reversed(features)):
            if route is not None:
                feature = paddle.concat([route, feature], axis=1)
            route, tip = self.blocks[level](feature)
            outputs.append(tip)
            if level < len(self.transitions):
                route = F.interpolate(self.transitions[level](route), scale_factor=2.0, mode="nearest")
        return outputs


#: the probability an untrained head gives each anchor of holding an object (RetinaNet's prior)
OBJECT_PRIOR = 0.01


def _logit(p: float) -> float:
    return float(np.log(p / (1.0 - p)))


class YOLOv3Head(nn.Layer):  # type: ignore[misc]
    """One 1x1 conv (with bias) per level: ``3 * (5 + num_classes)`` channels (x, y, w, h, objectness, classes).

    The objectness biases start at the logit of :data:`OBJECT_PRIOR` and the class biases at that of
    ``1 / num_classes`` (the prior initialisation of RetinaNet and YOLOv5). With zero biases every one of the
    thousands of anchor positions predicts "object" at 0.5: the background's objectness loss then dominates the
    first hundreds of steps and a detector trained from scratch for minutes learns nothing else. Loaded weights
    replace these values, so a trained model is unaffected.
    """

    def __init__(self, in_channels: Sequence[int], num_classes: int, anchors_per_level: int = 3) -> None:
        super().__init__()
        per_anchor = 5 + num_classes
        bias = np.zeros((anchors_per_level, per_anchor), dtype=np.float32)
        bias[:, 4] = _logit(OBJECT_PRIOR)
        bias[:, 5:] = _logit(1.0 / max(2, num_classes))
        for level, cin in enumerate(in_channels):
            conv = nn.Conv2D(cin, anchors_per_level * per_anchor, 1)
            conv.bias.set_value(bias.reshape(-1))
            self.add_sublayer(f"out{level}", conv)

    def forward(self, tips: list[paddle.Tensor]) -> list[paddle.Tensor]:
        return [getattr(self, f"out{level}")(tip) for level, tip in enumerate(tips)]


class YOLOv3(nn.Layer):  # type: ignore[misc]
    """YOLOv3 (backbone ``mobilenet_v1`` or ``resnet34``): an image batch in, the three raw head maps out.

    ``width`` scales the MobileNetV1 backbone and the neck alike (1.0 is the reference model; the offline demo uses
    a narrower one so that training from scratch fits in minutes on a laptop CPU).
    ``fixed_output_layers`` names the convolutions whose output channels are predictions (pruning skips them).
    """

    fixed_output_layers = OUTPUT_LAYERS

    def __init__(self, backbone: str, num_classes: int, width: float = 1.0) -> None:
        super().__init__()
        if backbone == "mobilenet_v1":
            self.backbone: nn.Layer = MobileNetV1Features(width)
        elif backbone == "resnet34":
            if width != 1.0:
                raise ValueError("yolov3_r34 has no width multiplier: use model.width=1.0")
            self.backbone = ResNet34Features()
        else:
            raise ValueError(f"YOLOv3 has no backbone '{backbone}' (mobilenet_v1, resnet34)")
        self.num_classes = num_classes
        self.neck = YOLOv3Neck(self.backbone.channels, width)
        self.head = YOLOv3Head(self.neck.out_channels, num_classes)

    def forward(self, image: paddle.Tensor) -> list[paddle.Tensor]:
        outputs: list[paddle.Tensor] = self.head(self.neck(self.backbone(image)))
        return outputs


def yolo_loss(
    outputs: Sequence[paddle.Tensor],
    gt_box: paddle.Tensor,
    gt_label: paddle.Tensor,
    num_classes: int,
    anchors: Sequence[Sequence[int]],
    ignore_thresh: float = 0.7,
    iou_thresh: float = 1.0,
) -> paddle.Tensor:
    """The YOLOv3 loss of a batch, summed over the three levels and averaged over images.

    ``gt_box`` is ``[N, B, 4]`` centre x, centre y, width, height normalised to the input (zero rows pad), and
    ``gt_label`` ``[N, B]`` int32 class indices; ``anchors`` the nine (w, h) pairs in input pixels the decoder
    uses (fitted to the data, or COCO's), whole numbers as Paddle's op takes them.

    With ``iou_thresh`` >= 1 each level's loss is Paddle's fused ``yolo_loss`` op (one responsible anchor per box).
    Below 1, every anchor whose IoU with a box exceeds ``iou_thresh`` answers for it too (PaddleDetection's
    ``Gt2YoloTarget(iou_thresh=...)`` + ``YOLOv3Loss``): targets from :func:`recipecc.metrics.yolo_targets`, the same
    terms as the op (:func:`_assigned_level_loss`).
    """
    assigned = None
    if iou_thresh < 1.0:
        from recipecc.metrics.yolo_targets import yolo_targets

        boxes = gt_box.numpy() if isinstance(gt_box, paddle.Tensor) else np.asarray(gt_box)
        labels = gt_label.numpy() if isinstance(gt_label, paddle.Tensor) else np.asarray(gt_label)
        input_size = int(outputs[0].shape[2]) * DOWNSAMPLE[0]
        grids = [(int(o.shape[2]), int(o.shape[3])) for o in outputs]
        assigned = yolo_targets(boxes, labels, anchors, ANCHOR_MASKS, grids, num_classes, input_size, iou_thresh)
        gt = paddle.to_tensor(boxes.astype(np.float32))
    flat = [int(v) for pair in anchors for v in pair]
    total = None
    for level, (output, mask, stride) in enumerate(zip(outputs, ANCHOR_MASKS, DOWNSAMPLE, strict=True)):
        h = int(output.shape[2])
        if assigned is None:
            loss = paddle.vision.ops.yolo_loss(
                output,
                gt_box,
                gt_label,
                anchors=flat,
                anchor_mask=list(mask),
                class_num=num_classes,
                ignore_thresh=ignore_thresh,
                downsample_ratio=stride,
                use_label_smooth=False,
            )
            level_loss = paddle.mean(loss)
        else:
            target = paddle.to_tensor(assigned[level])
            level_anchors = [anchors[k] for k in mask]
            level_loss = _assigned_level_loss(output, target, gt, level_anchors, num_classes, ignore_thresh, stride * h)
        total = level_loss if total is None else total + level_loss
    assert total is not None
    return total


def _best_iou(pred: paddle.Tensor, gt: paddle.Tensor) -> paddle.Tensor:
    """``[N, P]``: each predicted centre box's best IoU with the boxes (``pred [N, P, 4]``, ``gt [N, B, 4]``)."""
    p0, p1 = pred[:, :, None, :2] - pred[:, :, None, 2:] / 2, pred[:, :, None, :2] + pred[:, :, None, 2:] / 2
    g0, g1 = gt[:, None, :, :2] - gt[:, None, :, 2:] / 2, gt[:, None, :, :2] + gt[:, None, :, 2:] / 2
    inter = paddle.clip(paddle.minimum(p1, g1) - paddle.maximum(p0, g0), min=0.0).prod(axis=-1)
    union = pred[:, :, None, 2:].prod(axis=-1) + gt[:, None, :, 2:].prod(axis=-1) - inter
    return paddle.max(inter / paddle.clip(union, min=1e-9), axis=-1)


def _assigned_level_loss(
    output: paddle.Tensor,
    target: paddle.Tensor,
    gt: paddle.Tensor,
    anchors: Sequence[Sequence[int]],
    num_classes: int,
    ignore_thresh: float,
    input_size: int,
) -> paddle.Tensor:
    """One level's loss against :func:`recipecc.metrics.yolo_targets` targets (``[N, A, 6 + C, H, W]``), averaged
    over images: sigmoid CE on x/y and L1 on w/h weighted by ``2 - w * h``, sigmoid CE on objectness where the
    anchor is responsible or its prediction's best IoU with a box (``gt``) is below ``ignore_thresh``, sigmoid CE
    on classes. ``anchors`` are this level's, in pixels of the ``input_size`` square."""
    bce = F.binary_cross_entropy_with_logits
    n, _, h, w = output.shape
    pred = output.reshape([n, len(anchors), 5 + num_classes, h, w])
    scale, positive = target[:, :, 4], target[:, :, 5]
    loss_xy = (
        (bce(pred[:, :, 0], target[:, :, 0], reduction="none") + bce(pred[:, :, 1], target[:, :, 1], reduction="none"))
        * scale
        * positive
    )
    loss_wh = (paddle.abs(pred[:, :, 2] - target[:, :, 2]) + paddle.abs(pred[:, :, 3] - target[:, :, 3])) * (
        scale * positive
    )
    with paddle.no_grad():
        gx = paddle.arange(w, dtype="float32").reshape([1, 1, 1, w])
        gy = paddle.arange(h, dtype="float32").reshape([1, 1, h, 1])
        aw = paddle.to_tensor([a[0] / input_size for a in anchors], dtype="float32").reshape([1, -1, 1, 1])
        ah = paddle.to_tensor([a[1] / input_size for a in anchors], dtype="float32").reshape([1, -1, 1, 1])
        decoded = paddle.stack(
            [
                (gx + F.sigmoid(pred[:, :, 0])) / w,
                (gy + F.sigmoid(pred[:, :, 1])) / h,
                paddle.exp(paddle.clip(pred[:, :, 2], max=8.0)) * aw,
                paddle.exp(paddle.clip(pred[:, :, 3], max=8.0)) * ah,
            ],
            axis=-1,
        ).reshape([n, -1, 4])
        ignored = (_best_iou(decoded, gt) > ignore_thresh).astype("float32").reshape([n, len(anchors), h, w])
        counted = positive + (1.0 - positive) * (1.0 - ignored)
    loss_obj = bce(pred[:, :, 4], positive, reduction="none") * counted
    loss_cls = bce(pred[:, :, 5:], target[:, :, 6:], reduction="none") * positive.unsqueeze(2)
    return (loss_xy.sum() + loss_wh.sum() + loss_obj.sum() + loss_cls.sum()) / n


def targets(
    boxes: Sequence[NDArray[np.float32]],
    labels: Sequence[NDArray[np.int64]],
    sizes: Sequence[tuple[int, int]],
    max_boxes: int,
) -> tuple[NDArray[np.float32], NDArray[np.int32]]:
    """Ground truth as ``yolo_loss`` takes it: normalised centre boxes ``[N, max_boxes, 4]``, labels ``[N, max_boxes]``.

    ``boxes`` are pixel ``[x0, y0, x1, y1]`` in each original image of (width, height) ``sizes``.
    """
    gt_box = np.zeros((len(boxes), max_boxes, 4), dtype=np.float32)
    gt_label = np.zeros((len(boxes), max_boxes), dtype=np.int32)
    for i, (b, lab, (width, height)) in enumerate(zip(boxes, labels, sizes, strict=True)):
        b = b[:max_boxes]
        if not len(b):
            continue
        gt_box[i, : len(b), 0] = (b[:, 0] + b[:, 2]) / 2 / width
        gt_box[i, : len(b), 1] = (b[:, 1] + b[:, 3]) / 2 / height
        gt_box[i, : len(b), 2] = (b[:, 2] - b[:, 0]) / width
        gt_box[i, : len(b), 3] = (b[:, 3] - b[:, 1]) / height
        gt_label[i, : len(b)] = lab[:max_boxes]
    return gt_box, gt_label


def describe_yolov3(backbone: str, num_classes: int, input_size: int, width: float = 1.0) -> dict[str, Any]:
    """Parameters, fp32 bytes of the weights and multiply-adds of a YOLOv3 at a square ``input_size``."""
    from recipecc.passes.paddle.models import describe

    model = YOLOv3(backbone, num_classes, width)
    facts = describe(model, [3, input_size, input_size])
    facts["fp32_bytes"] = 4 * facts["params"]
    return facts
