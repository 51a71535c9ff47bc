"""Each stage's deployable files land in the run folder (``models/<stage>/``) and results.json names them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from recipecc.deliver import deliver_models
from recipecc.plan.graph import Plan, PlanNode


def entry(cache: Path, key: str, files: dict[str, bytes], meta: dict[str, object]) -> dict[str, object]:
    for name, data in files.items():
        (cache / key / name).parent.mkdir(parents=True, exist_ok=True)
        (cache / key / name).write_bytes(data)
    (cache / key / "artifact.json").write_text(json.dumps(meta))
    return meta


def test_stage_files_are_linked_into_the_run_folder(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    outputs = {
        "load": entry(cache, "k-load", {"model.onnx": b"fp32"}, {"model_files": ["model.onnx"]}),
        "ptq": entry(
            cache,
            "k-ptq",
            {"model.pdmodel": b"prog", "model.pdiparams": b"w"},
            {"model_files": ["model.pdmodel", "model.pdiparams"]},
        ),
        "wo": entry(
            cache,
            "k-wo",
            {"test_model/m.pdmodel": b"twin", "quantized_model/m.pdmodel": b"shipped"},
            {"model_files": ["test_model/m.pdmodel"], "deployable_files": ["quantized_model/m.pdmodel"]},
        ),
        "bench.baseline": {},
        "bench.int8": {},
        "bench.weights": {},
    }
    nodes = (
        PlanNode("load", "x", {}, {}, "k-load"),
        PlanNode("ptq", "x", {}, {}, "k-ptq"),
        PlanNode("wo", "x", {}, {}, "k-wo"),
        PlanNode("bench.baseline", "b", {}, {"model": "load"}, "k-b0", stage="baseline"),
        PlanNode("bench.int8", "b", {}, {"model": "ptq"}, "k-b1", stage="int8"),
        PlanNode("bench.weights", "b", {}, {"model": "wo"}, "k-b2", stage="weights"),
        PlanNode("bench.failed", "b", {}, {"model": "missing"}, "k-b3", stage="failed", optional=True),
    )
    run_dir = tmp_path / "run"
    files = deliver_models(Plan("r", "host", "h", str(cache), nodes), outputs, run_dir)

    assert set(files) == {"baseline", "int8", "weights"}
    assert files["baseline"]["model"] == "models/baseline/model.onnx"
    assert (run_dir / files["baseline"]["model"]).read_bytes() == b"fp32"
    assert files["int8"]["model"] == "models/int8"  # a two-file Paddle model: its folder
    assert sorted(p.name for p in (run_dir / "models/int8").iterdir()) == ["model.pdiparams", "model.pdmodel"]
    assert (run_dir / files["weights"]["model"]).read_bytes() == b"shipped"  # what is shipped, not the twin
    assert (run_dir / "models/baseline/model.onnx").stat().st_ino == (cache / "k-load/model.onnx").stat().st_ino


def test_a_detector_gets_the_facts_to_decode_it_beside_its_model(tmp_path: Path) -> None:
    """``models/<stage>/detector.json`` holds what decoding needs, as the run decoded: decoding a head map by the
    file's own description (written here from the file alone) gives the boxes recipecc's decoder gives."""
    from recipecc.metrics.yolo import ANCHORS_FROM_DATA, yolov3_decoder_spec
    from recipecc.tasks.detection import decoder

    cache = tmp_path / "cache"
    fitted = [[13, 13], [14, 17], [18, 18], [16, 23], [23, 22], [21, 29], [28, 28], [28, 39], [35, 35]]
    classes = ["circle", "square", "triangle", "diamond"]
    outputs = {
        "data": {"anchors": {"anchors": fitted}, "classes": classes, "category_ids": [1, 2, 3, 4]},
        "ptq": entry(cache, "k-ptq", {"model.onnx": b"int8"}, {"model_files": ["model.onnx"]}),
        "bench.int8": {
            "evaluation": {
                "task": "detection",
                "io": {
                    "inputs": ["image"],
                    "outputs": [{"name": f"out{i}", "shape": [27, g, g]} for i, g in enumerate((3, 6, 12))],
                },
            }
        },
    }
    task = {"task": "detection", "num_classes": 4, "decoder": yolov3_decoder_spec(96, ANCHORS_FROM_DATA)}
    preprocessing = {"input_size": 96, "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225], "scale": 1 / 255}
    nodes = (
        PlanNode("data", "data.detection", {**preprocessing, "layout": "NCHW", "color": "RGB"}, {}, "k-data"),
        PlanNode("ptq", "x", {}, {}, "k-ptq"),
        PlanNode("bench.int8", "b", task, {"model": "ptq", "data": "data"}, "k-b", stage="int8"),
    )
    run_dir = tmp_path / "run"
    files = deliver_models(Plan("r", "host", "h", str(cache), nodes), outputs, run_dir)

    assert files["int8"]["detector"] == "models/int8/detector.json"
    facts = json.loads((run_dir / files["int8"]["detector"]).read_text())
    assert facts["anchors"] == fitted and facts["classes"] == classes
    assert facts["strides"] == [32, 16, 8] and facts["input"]["size"] == [96, 96]
    assert [o["name"] for o in facts["outputs"]] == ["out0", "out1", "out2"]
    assert facts["input"]["mean"] == preprocessing["mean"] and facts["input"]["names"] == ["image"]

    # one confident anchor: stride-16 output, its second anchor, cell (row 2, col 4), class 'triangle'
    rng = np.random.RandomState(0)
    maps = [np.full((1, 27, g, g), -9.0, np.float32) for g in (3, 6, 12)]
    raw = rng.uniform(-1, 1, 4).astype(np.float32)
    maps[1][0, 9:13, 2, 4] = raw
    maps[1][0, 13, 2, 4], maps[1][0, 9 + 5 + 2, 2, 4] = 4.0, 3.0
    level = facts["outputs"][1]
    anchor_w, anchor_h = level["anchors"][1]
    sig = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    side = facts["input"]["size"][0]
    cx, cy = (4 + sig(raw[0])) / 6 * side, (2 + sig(raw[1])) / 6 * side
    w, h = np.exp(raw[2]) * anchor_w, np.exp(raw[3]) * anchor_h
    expected = [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2]
    boxes, scores, labels = decoder({**task, "decoder": {**task["decoder"], "anchors": fitted}}).boxes(
        maps, [(side, side)]
    )[0]
    assert facts["classes"][int(labels[0])] == "triangle"
    assert scores[0] == pytest.approx(sig(4.0) * sig(3.0), rel=1e-5) and scores[0] > facts["score_threshold"]
    np.testing.assert_allclose(boxes[0], np.clip(expected, 0, side), rtol=1e-5)
