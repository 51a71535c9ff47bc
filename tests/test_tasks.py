"""The task layer: registry metadata, segmentation metrics against hand-computed cases, fidelity by output kind."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from recipecc.bench.evaluation import evaluate, foreign_labels
from recipecc.tasks import TASKS, task_module
from recipecc.tasks.outputs import compare_outputs, output_kind
from recipecc.tasks.segmentation import Evaluator, confusion_matrix


def test_every_task_declares_its_report_columns_and_implements_its_evaluation() -> None:
    assert {"classification", "segmentation", "generic"} <= set(TASKS)
    for name, task in TASKS.items():
        module = task_module(name)
        assert callable(module.keep) and callable(module.fidelity)
        if task.metrics:
            assert task.headline == task.metrics[0] and hasattr(module, "Evaluator")
        for backend in task.trains_on:  # a training hook module per backend that trains the task
            assert (Path("recipecc/passes") / backend / "tasks" / f"{name}.py").is_file(), (name, backend)


def test_miou_respects_the_ignore_index_hand_computed() -> None:
    truth = np.array([[[0, 0, 1, 1], [0, 0, 1, 255], [2, 2, 255, 255]]])
    predicted = np.array([[[0, 1, 1, 1], [0, 0, 1, 0], [2, 0, 2, 1]]])  # ignored pixels' predictions never count
    confusion = confusion_matrix(predicted, truth, 3)
    assert confusion.tolist() == [[3, 1, 0], [0, 3, 0], [1, 0, 1]]
    evaluator = Evaluator(num_classes=3, ignore_index=255)
    logits = np.eye(3)[predicted].transpose(0, 3, 1, 2)  # one-hot scores (N, C, H, W)
    evaluator.update([logits], truth)
    # IoU: class 0: 3 / (4 + 4 - 3) = 0.6; class 1: 3 / (3 + 4 - 3) = 0.75; class 2: 1 / (2 + 1 - 1) = 0.5
    assert evaluator.metrics()["miou"] == pytest.approx((0.6 + 0.75 + 0.5) / 3)
    assert evaluator.metrics()["pixel_accuracy"] == pytest.approx(7 / 9)
    assert evaluator.details()["per_class_iou"] == pytest.approx([0.6, 0.75, 0.5])


def test_a_class_absent_from_truth_and_prediction_does_not_enter_the_mean() -> None:
    evaluator = Evaluator(num_classes=4)
    evaluator.update([np.array([[[0, 1], [1, 1]]])], np.array([[[0, 1], [1, 0]]]))  # label-map output (N, H, W)
    # class 0: 1 / (2 + 1 - 1) = 0.5; class 1: 2 / (2 + 3 - 2) = 2/3; classes 2 and 3: absent
    assert evaluator.metrics()["miou"] == pytest.approx((0.5 + 2 / 3) / 2)
    assert evaluator.details()["per_class_iou"][2:] == [None, None]


def test_labels_outside_the_classes_are_an_error_not_a_silent_number() -> None:
    with pytest.raises(ValueError, match="outside the 3 classes"):
        confusion_matrix(np.zeros((1, 2, 2)), np.array([[[0, 7], [1, 255]]]), 3)


def test_output_kinds_and_their_measures() -> None:
    rng = np.random.RandomState(0)
    prob = rng.rand(2, 1, 8, 8).astype(np.float32)
    assert output_kind(prob) == "prob_map" and output_kind(rng.rand(2, 5)) == "scores"
    assert output_kind(rng.rand(2, 40, 97)) == "sequence" and output_kind(rng.rand(2, 19, 8, 8)) == "class_map"
    shifted = prob.copy()
    shifted[0, 0, :4] = 1.0 - shifted[0, 0, :4]  # half of one map flips around the threshold
    flat, details = compare_outputs({"maps": shifted, "scores": np.eye(2)}, {"maps": prob, "scores": np.eye(2)}, 0.3)
    assert details["maps"]["kind"] == "prob_map" and details["maps"]["threshold"] == 0.3
    a, b = shifted > 0.3, prob > 0.3
    assert flat["iou"] == pytest.approx((a & b).sum() / (a | b).sum())
    assert flat["max_abs_error"] == pytest.approx(np.abs(shifted - prob).max())
    assert details["scores"]["top1_agreement"] == 1.0  # every output is compared, the first is the headline


def test_sequence_outputs_are_compared_per_position() -> None:
    ref = np.eye(5)[np.array([[0, 1, 2, 3], [4, 4, 0, 1]])]  # (2, 4, 5) one-hot per position
    ours = ref.copy()
    ours[1, 3] = np.eye(5)[2]  # one of 8 positions differs
    flat, _ = compare_outputs({"rec": ours}, {"rec": ref})
    assert flat["position_agreement"] == pytest.approx(7 / 8)


def _run_evaluation(
    tmp_path: Path,
    name: str,
    task: str,
    outputs: list[np.ndarray],
    reference: Path | None,
    *,
    labels: np.ndarray | None = None,
    meta: dict | None = None,
    params: dict | None = None,
    batch_size: int | None = None,
) -> dict:
    """One stage's evaluation of fixed ``outputs``; unlabelled unless ``labels`` (class labels, with ``meta``)."""
    out = tmp_path / name
    out.mkdir()
    count = len(outputs[0])
    data = {"x_test": np.zeros((count, 1, 4, 4), np.float32), "y_test": -np.ones(count) if labels is None else labels}
    return evaluate(
        params={"task": task, "labels": True, **(params or {})},
        data=data,
        data_meta={
            "labelled": labels is not None,
            **({"label_kind": "class"} if labels is not None else {}),
            **(meta or {}),
        },
        input_names=["x"],
        output_names=[f"out{i}" for i in range(len(outputs))],
        predict=lambda feeds: [o[: len(feeds["x"])] for o in outputs],
        reference_dir=reference,
        out_dir=out,
        batch_size=batch_size or count,
    )


def test_a_text_detection_map_gets_iou_not_a_flattened_argmax(tmp_path: Path) -> None:
    rng = np.random.RandomState(1)
    base = rng.rand(3, 1, 16, 16).astype(np.float32)
    noisy = np.clip(base + rng.randn(*base.shape).astype(np.float32) * 0.05, 0, 1)
    first = _run_evaluation(tmp_path, "baseline", "auto", [base, rng.rand(3, 7)], None)
    assert first["headline"] == "iou" and first["metrics"]["iou"] == 1.0
    second = _run_evaluation(tmp_path, "int8", "auto", [noisy, rng.rand(3, 7)], tmp_path / "baseline")
    assert second["headline"] == "iou" and 0.8 < second["metrics"]["iou"] < 1.0
    assert second["details"]["headline_output"] == "out0" and set(second["details"]["outputs"]) == {"out0", "out1"}


def test_a_segmentation_model_on_class_labels_is_a_plan_time_error() -> None:
    from recipecc.cli import main

    assert main(["plan", "recipe=deeplabv3_mnv2_quant", "dataset=digits"]) == 2


def test_the_plan_carries_the_task_to_every_scoring_node() -> None:
    from recipecc.plan import build_plan
    from recipecc.recipe import compose_recipe, validate_recipe

    plan = build_plan(validate_recipe(compose_recipe(["recipe=fastscnn_prune48"])))
    for node in plan.nodes:
        if node.pass_name.split(".")[1] in ("train", "sensitivity", "finetune", "bench"):
            assert node.params["task"] == "segmentation" and node.params["num_classes"] == 5, node.id
    assert plan.node("data").pass_name == "data.segmentation"
    assert any(c.name == "task" and "mIoU" in c.detail for c in plan.checks)


def test_renamed_outputs_of_a_reexported_model_are_paired_by_position() -> None:
    """Paddle names a pruned model's output differently from the baseline's: fidelity must still compare them."""
    import numpy as np

    from recipecc.tasks import classification

    rng = np.random.RandomState(0)
    logits = rng.randn(20, 10).astype("float32")
    flat, details = classification.fidelity(
        {"save_infer_model/scale_0.tmp_1": logits}, {"save_infer_model/scale_0.tmp_0": logits}
    )
    assert flat["top1_agreement"] == 1.0 and flat["cosine"] > 0.999
    assert details["save_infer_model/scale_0.tmp_0"]["kind"] != "missing"


def test_a_declared_output_kind_wins_over_the_shapes_guess(tmp_path: Path) -> None:
    """A (N, K) landmark regression looks like K class scores: "top-1 agreement" 40% on MediaPipe's face landmarks
    at int8 while cosine was 0.9999. ``model.outputs`` says what it is; a name the model lacks is an error."""
    rng = np.random.RandomState(2)
    landmarks = rng.rand(4, 12).astype(np.float32)
    nudged = landmarks + rng.randn(4, 12).astype(np.float32) * 1e-3  # argmax flips, values barely move
    _, guessed = compare_outputs({"lm": nudged}, {"lm": landmarks})
    flat, declared = compare_outputs({"lm": nudged}, {"lm": landmarks}, kinds={"lm": "tensor"})
    assert guessed["lm"]["kind"] == "scores" and guessed["lm"]["kind_from"] == "shape"
    assert declared["lm"]["kind"] == "tensor" and declared["lm"]["kind_from"] == "model.outputs"
    assert flat["cosine"] > 0.999 and "top1_agreement" not in flat
    with pytest.raises(ValueError, match=r"model.outputs names \['lmk'\].*its outputs are \['lm'\]"):
        compare_outputs({"lm": nudged}, {"lm": landmarks}, kinds={"lmk": "tensor"})
    assert compare_outputs({"v": np.ones(3)}, {"v": np.ones(3)}, kinds={"v": "scores"})[1]["v"]["kind"] == "mismatch"

    # the stage's task: digits labels would make it "classification"; a declared non-score first output does not
    result = _run_evaluation(
        tmp_path, "baseline", "auto", [landmarks], None, labels=np.arange(4), params={"outputs": {"out0": "tensor"}}
    )
    assert result["headline"] == "cosine" and "top1" not in result["metrics"]


def test_output_kinds_are_checked_at_plan_time() -> None:
    from recipecc.cli import main

    assert main(["plan", "+model.outputs={scores: landmarks}"]) == 2  # not a kind
    assert main(["plan", "recipe=deeplabv3_mnv2_quant", "+model.outputs={out: tensor}"]) == 2  # decoded by its task


def test_labels_that_are_not_the_models_classes_do_not_make_a_top1(tmp_path: Path) -> None:
    """PP-OCR's 2-way direction classifier on the default digits data reported "top-1 12.50%" from labels 0-9:
    labels beyond the model's class count are not its classes; each stage is compared with the baseline then."""
    rng = np.random.RandomState(3)
    scores = rng.rand(6, 2).astype(np.float32)
    result = _run_evaluation(tmp_path, "baseline", "auto", [scores], None, labels=np.arange(6) % 10 + 4, batch_size=3)
    assert result["headline"] == "top1_agreement" and "top1" not in result["metrics"]
    assert "labels go up to 9 but the model scores 2 classes" in result["details"]["labels_note"]
    assert re.search(
        "digits data.s 10 classes are not the model.s 1000",
        str(foreign_labels(np.zeros((2, 1000)), np.arange(2), stand_in=True)),
    )
    assert foreign_labels(np.zeros((2, 10)), np.arange(2), stand_in=True) is None
    assert not result["details"]["labelled"]


def test_a_map_model_on_class_labels_is_compared_with_its_baseline_not_scored_by_top1(tmp_path: Path) -> None:
    """PP-OCRv4's text detector (a (N, 1, H, W) probability map) on the default digits data reported "Top-1
    8.89%": the task was guessed from the labels. A first output that is not class scores makes it generic."""
    maps = np.random.RandomState(4).rand(4, 1, 8, 8).astype(np.float32)
    result = _run_evaluation(
        tmp_path, "baseline", "auto", [maps], None, labels=np.arange(4), meta={"name": "digits"}, batch_size=2
    )
    assert result["details"]["task"] == "generic" and result["headline"] == "iou"
    assert (
        "top1" not in result["metrics"] and "shape [N, 1, 8, 8], not class scores" in result["details"]["labels_note"]
    )
