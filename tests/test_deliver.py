"""Each stage's deployable files land in the run folder (``models/<stage>/``) and results.json names them."""

from __future__ import annotations

import json
from pathlib import Path

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
