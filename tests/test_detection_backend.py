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
    """PaddleX's model library: YOLOv3-MobileNetV1 ~94-95 MB, YOLOv3-ResNet34 ~162 MB (COCO, fp32), within 10%.

    The weights are counted with the batch-norm statistics the saved model also holds.
    """
    sizes = _paddle(
        "from recipecc.passes.paddle.yolov3 import YOLOv3\n"
        "out = {}\n"
        "for backbone in ('mobilenet_v1', 'resnet34'):\n"
        "    m = YOLOv3(backbone, 80)\n"
        "    out[backbone] = 4 * sum(int(v.numel()) for v in m.state_dict().values())\n"
        "print(json.dumps(out))"
    )
    assert sizes["mobilenet_v1"] / 1e6 == pytest.approx(94.5, rel=0.10)
    assert sizes["resnet34"] / 1e6 == pytest.approx(162.0, rel=0.10)


def test_yolo_loss_falls_when_fitting_one_batch() -> None:
    """Paddle's yolo_loss drives a small YOLOv3 to fit a batch of boxes (the gradient reaches every level)."""
    losses = _paddle(
        "import numpy as np, paddle\n"
        "from recipecc.passes.paddle.yolov3 import YOLOv3, yolo_loss, targets\n"
        "paddle.seed(0)\n"
        "m = YOLOv3('mobilenet_v1', 3, width=0.25)\n"
        "opt = paddle.optimizer.Adam(learning_rate=0.002, parameters=m.parameters())\n"
        "x = paddle.to_tensor(np.random.RandomState(0).rand(2, 3, 64, 64).astype('float32'))\n"
        "boxes = [np.array([[4, 4, 30, 40], [40, 10, 60, 22]], 'float32'), np.array([[10, 20, 50, 60]], 'float32')]\n"
        "gb, gl = targets(boxes, [np.array([0, 2]), np.array([1])], [(64, 64), (64, 64)], 4)\n"
        "gb, gl = paddle.to_tensor(gb), paddle.to_tensor(gl)\n"
        "losses = []\n"
        "for _ in range(12):\n"
        "    loss = yolo_loss(m(x), gb, gl, 3, 64)\n"
        "    loss.backward(); opt.step(); opt.clear_grad(); losses.append(float(loss))\n"
        "print(json.dumps(losses))"
    )
    assert losses[-1] < 0.5 * losses[0]
