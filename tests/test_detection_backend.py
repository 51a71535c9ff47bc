"""YOLOv3 on the Paddle backend: the reference architectures' sizes, the loss, pruning of the whole graph.

Paddle never enters the pytest process (TensorFlow tests share it): each check runs in a subprocess.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.backend

ROOT = Path(__file__).resolve().parents[1]


def _paddle(code: str) -> Any:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", "import zlib, json\n" + code], capture_output=True, text=True, env=env, timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_yolov3_weights_match_the_reference_model_sizes() -> None:
    """PaddleX's model library: YOLOv3-MobileNetV1 ~94-95 MB fp32 -> ~25 MB int8, YOLOv3-ResNet34 ~162 MB ->
    ~42.7 MB int8 (COCO, 608x608), within 10%.

    The weights are counted with the batch-norm statistics the saved model also holds; int8 keeps one byte per
    convolution weight (PaddleSlim's PTQ quantizes conv2d / depthwise_conv2d) and fp32 for biases and batch norm.
    """
    sizes = _paddle(
        "from recipecc.passes.paddle.yolov3 import YOLOv3\n"
        "out = {}\n"
        "for backbone in ('mobilenet_v1', 'resnet34'):\n"
        "    m = YOLOv3(backbone, 80)\n"
        "    conv = {id(l.weight) for l in m.sublayers() if type(l).__name__ == 'Conv2D'}\n"
        "    state = m.state_dict().values()\n"
        "    out[backbone] = 4 * sum(int(v.numel()) for v in state)\n"
        "    out[backbone + '_int8'] = sum((1 if id(v) in conv else 4) * int(v.numel()) for v in state)\n"
        "print(json.dumps(out))"
    )
    assert sizes["mobilenet_v1"] / 1e6 == pytest.approx(94.5, rel=0.10)
    assert sizes["resnet34"] / 1e6 == pytest.approx(162.0, rel=0.10)
    assert sizes["mobilenet_v1_int8"] / 1e6 == pytest.approx(25.0, rel=0.10)
    assert sizes["resnet34_int8"] / 1e6 == pytest.approx(42.7, rel=0.10)


def test_yolo_loss_falls_when_fitting_one_batch() -> None:
    """Paddle's yolo_loss drives a small YOLOv3 to fit a batch of boxes (the gradient reaches every level)."""
    losses = _paddle(
        "import numpy as np, paddle\n"
        "from recipecc.passes.paddle.yolov3 import YOLOv3, anchors_for, yolo_loss, targets\n"
        "paddle.seed(0)\n"
        "m = YOLOv3('mobilenet_v1', 3, width=0.25)\n"
        "opt = paddle.optimizer.Adam(learning_rate=0.002, parameters=m.parameters())\n"
        "x = paddle.to_tensor(np.random.RandomState(0).rand(2, 3, 64, 64).astype('float32'))\n"
        "boxes = [np.array([[4, 4, 30, 40], [40, 10, 60, 22]], 'float32'), np.array([[10, 20, 50, 60]], 'float32')]\n"
        "gb, gl = targets(boxes, [np.array([0, 2]), np.array([1])], [(64, 64), (64, 64)], 4)\n"
        "gb, gl = paddle.to_tensor(gb), paddle.to_tensor(gl)\n"
        "losses = []\n"
        "for _ in range(12):\n"
        "    loss = yolo_loss(m(x), gb, gl, 3, anchors_for(64))\n"
        "    loss.backward(); opt.step(); opt.clear_grad(); losses.append(float(loss))\n"
        "print(json.dumps(losses))"
    )
    assert losses[-1] < 0.5 * losses[0]


def test_short_training_detects_what_an_untrained_model_cannot() -> None:
    """Train the product's loop (loss, targets, decoding, pycocotools) for 80 steps on 16 generated images: AP50
    on those images must rise far above the untrained model's. A convention that differs between the loss and the
    decoding (box centre vs corner, normalisation, label offset, anchor scaling) or a head whose background loss
    swamps the gradient keeps AP50 near zero here (the offline demo once reached 0.008)."""
    result = _paddle(
        "import tempfile\n"
        "from pathlib import Path\n"
        "import numpy as np, paddle\n"
        "from recipecc.datasets.detection import pack_targets, read_image\n"
        "from recipecc.datasets.sources import read_detection\n"
        "from recipecc.datasets.shapes import write_shapes\n"
        "from recipecc.metrics.yolo import yolov3_decoder_spec\n"
        "from recipecc.passes.base import TrainSettings\n"
        "from recipecc.passes.paddle.training import predictions, train_epochs\n"
        "from recipecc.passes.paddle.yolov3 import YOLOv3\n"
        "from recipecc.tasks.detection import Evaluator\n"
        "root = Path(tempfile.mkdtemp())\n"
        "write_shapes(root, splits={'train': 16}, image_size=64, seed=0)\n"
        "samples = read_detection('voc', root, 'train').samples\n"
        "mean, std = np.array([0.485, 0.456, 0.406], 'float32'), np.array([0.229, 0.224, 0.225], 'float32')\n"
        "x = np.stack([((read_image(s.path) / 255.0 - mean) / std).transpose(2, 0, 1) for s in samples])\n"
        "x, y = x.astype('float32'), pack_targets(samples, 20)\n"
        "task = {'task': 'detection', 'num_classes': 4, 'decoder': yolov3_decoder_spec(64)}\n"
        "def ap50(model):\n"
        "    evaluator = Evaluator(num_classes=4, decoder=task['decoder'])\n"
        "    evaluator.add(predictions(model, x, task), y)\n"
        "    return evaluator.metrics()['map50']\n"
        "paddle.seed(0)\n"
        "model = YOLOv3('mobilenet_v1', 4, width=0.25)\n"
        "before = ap50(model)\n"
        "data = {'x_train': x, 'y_train': y, 'x_test': x[:2], 'y_test': y[:2]}\n"
        "settings = TrainSettings(epochs=40, lr=0.005, batch_size=8, optimizer='adam')\n"
        "train_epochs(model, data, settings, 'fit', task)\n"
        "print(json.dumps({'before': before, 'after': ap50(model)}))"
    )
    assert result["before"] < 0.02
    assert result["after"] > 0.1, result
