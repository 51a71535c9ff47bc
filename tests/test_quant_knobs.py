"""Framework-neutral quantization knobs, each backend's own under its key, and the migration of the old flat keys.

Planning only (no framework is imported): ``strategy.quant.algo`` speaks neutral words that each backend maps to its
own method, ``strategy.quant.paddle`` / ``onnx`` / ``tflite`` are read by that backend only, and a recipe written
with the old flat keys gets one message naming the key to write instead.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from planning import error_for, plan_for, run_cli

from recipecc.plan import Plan


def _checks(plan: Plan) -> dict[str, str]:
    return {c.name: c.detail for c in plan.checks}


@pytest.mark.parametrize(
    ("override", "moved_to"),
    [
        ("strategy.quant.format=qoperator", "strategy.quant.onnx.format"),
        ("strategy.quant.activation_type=int8", "strategy.quant.onnx.activation_type"),
        ("strategy.quant.weight_type=uint8", "strategy.quant.onnx.weight_type"),
        ("strategy.quant.io_type=int8", "strategy.quant.tflite.io_type"),
    ],
)
def test_an_old_flat_key_says_where_it_moved(override: str, moved_to: str) -> None:
    err = error_for("target=host_ort", override)
    old = override.split("=", 1)[0]
    assert err.key == old and f"{old} moved to {moved_to}" in str(err), str(err)


@pytest.mark.parametrize(
    ("algo", "neutral"), [("avg", None), ("KL", "entropy"), ("hist", "percentile"), ("abs_max", "minmax")]
)
def test_a_paddleslim_name_in_the_neutral_algo_says_where_it_moved(algo: str, neutral: str | None) -> None:
    err = error_for("target=host", f"strategy.quant.algo={algo}")
    assert err.key == "strategy.quant.algo" and "PaddleSlim's name" in str(err)
    assert f"strategy.quant.paddle.algo={algo}" in str(err.valid)
    assert (f"strategy.quant.algo={neutral}" in str(err.valid)) == (neutral is not None), err.valid


def test_a_shared_yaml_recipe_with_old_keys_gets_the_migration_message(tmp_path: Path) -> None:
    """Recipes travel as YAML: the old keys inside a file (a search candidate too) name their new place."""
    (tmp_path / "recipe").mkdir()
    team = f"hydra.searchpath=[file://{tmp_path}]"
    (tmp_path / "recipe" / "old_search.yaml").write_text(
        "# @package _global_\ndefaults:\n  - override /strategy: none\n  - override /target: host_ort\n"
        "name: old_search\nstrategy:\n  name: ort_search\n  search:\n    candidates:\n"
        "      - {mode: ptq_static, format: qoperator, algo: percentile}\n"
    )
    err = error_for("recipe=old_search", team)
    assert "format moved to strategy.search.candidates[N].onnx.format" in str(err), str(err)
    (tmp_path / "recipe" / "old_quant.yaml").write_text(
        "# @package _global_\nname: old_quant\nstrategy:\n  quant:\n    io_type: int8\n"
    )
    err = error_for("recipe=old_quant", team)
    assert err.key == "strategy.quant.io_type" and "moved to strategy.quant.tflite.io_type" in str(err), str(err)


def test_the_cli_refuses_an_old_key_with_exit_code_2() -> None:
    result = run_cli("plan", "target=host_ort", "strategy.quant.format=qoperator")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "strategy.quant.format moved to strategy.quant.onnx.format" in result.stderr + result.stdout


@pytest.mark.parametrize(
    ("overrides", "key", "target"),
    [
        (("target=host_ort", "strategy.quant.paddle.algo=KL"), "strategy.quant.paddle.algo", "target=host"),
        (("target=host", "strategy.quant.onnx.format=qoperator"), "strategy.quant.onnx.format", "target=host_ort"),
        (("target=host", "strategy.quant.onnx.weight_type=uint8"), "strategy.quant.onnx.weight_type",
         "target=host_ort"),
        (("target=host_ort", "strategy.quant.tflite.io_type=int8"), "strategy.quant.tflite.io_type",
         "target=pc_xnnpack"),
        (("target=host", "strategy.quant.tflite.recipe=weight_only_wi8_afp32"), "strategy.quant.tflite.recipe",
         "target=pc_xnnpack"),
        (("recipe=digits_tflite_smoke", "strategy.quant.paddle.algo=hist"), "strategy.quant.paddle.algo",
         "target=host"),
        (("recipe=digits_ort_search", "strategy.search.candidates.0.paddle.algo=KL"),
         "strategy.search.candidates[0].paddle.algo", "target=host"),
    ],
)  # fmt: skip
def test_another_backends_section_is_refused_by_name(overrides: tuple[str, ...], key: str, target: str) -> None:
    err = error_for(*overrides)
    assert err.key == key and "which would ignore it" in str(err) and target in str(err.valid), str(err)


@pytest.mark.parametrize(
    ("algo", "paddle", "onnx"),
    [
        ("minmax", "abs_max", "MinMax"),
        ("percentile", "hist", "Percentile"),
        ("entropy", "KL", "Entropy"),
        ("mse", "mse", None),
    ],
)
def test_the_neutral_algo_becomes_each_backends_own_method(algo: str, paddle: str, onnx: str | None) -> None:
    on_paddle = plan_for("target=host", "strategy=int8", f"strategy.quant.algo={algo}")
    assert on_paddle.node("quantize").params["algo"] == paddle
    assert _checks(on_paddle)["strategy.quant"] == f"algo {algo} -> PaddleSlim {paddle}"
    if onnx is None:
        err = error_for("target=host_ort", "strategy=int8", f"strategy.quant.algo={algo}")
        assert err.key == "strategy.quant.algo" and err.valid == ["auto", "minmax", "percentile", "entropy"]
    else:
        on_ort = plan_for("target=host_ort", "strategy=int8", f"strategy.quant.algo={algo}")
        assert on_ort.node("quantize").params["algo"] == algo
        assert f"{onnx} calibration" in _checks(on_ort)["quant"] and "PaddleSlim" not in str(on_ort.checks)
    on_tflite = ("recipe=digits_tflite_smoke", f"strategy.quant.algo={algo}")
    if algo == "minmax":  # the converter's own (and only) method
        plan = plan_for(*on_tflite)
        assert "min/max" in _checks(plan)["calibration"] and plan.node("quantize").pass_name == "tf.convert"
    else:  # ranges from histograms, given to ai-edge-quantizer on the fp32 .tflite
        plan = plan_for(*on_tflite)
        quantize = plan.node("quantize")
        assert quantize.pass_name == "tf.quantize_file" and quantize.params["algo"] == algo
        assert quantize.inputs["model"] == "convert.pruned"  # the pruned fp32 .tflite the recipe ships
        assert "the TFLite converter has min/max only" in _checks(plan)["calibration"]


def test_paddles_own_algo_and_its_default() -> None:
    default = plan_for("target=host", "strategy=int8")
    assert default.node("quantize").params["algo"] == "avg"
    assert "algo auto -> PaddleSlim avg" in _checks(default)["strategy.quant"]
    own = plan_for("target=host", "strategy=int8", "strategy.quant.paddle.algo=hist")
    assert own.node("quantize").params["algo"] == "hist"
    err = error_for("target=host", "strategy=int8", "strategy.quant.paddle.algo=hist", "strategy.quant.algo=mse")
    assert err.key == "strategy.quant.paddle.algo" and "set one" in str(err)
    err = error_for("target=host", "strategy.quant.paddle.algo=minmax")
    assert err.key == "strategy.quant.paddle.algo" and "avg" in str(err.valid)


def test_paddles_auto_searches_for_a_users_model_where_paddle_inference_can_score(tmp_path: Path) -> None:
    """The issue's case: a model recipecc never saw gets the calibration search by default on Paddle Inference;
    a Paddle Lite target cannot score candidates here and a built-in architecture keeps one fixed method: both say
    why in the plan."""
    (tmp_path / "m.pdmodel").write_bytes(b"\x08\x01")  # a whole protobuf; plan time never parses it further
    (tmp_path / "m.pdiparams").write_bytes(b"\0")
    user = ("model=file", f"model.path={tmp_path}", "model.input_shape=[1,1,8,8]", "strategy=int8")
    searched = plan_for("target=host", *user)
    params = searched.node("quantize").params
    assert params["algo"] == "search" and params["candidates"] == ["avg", "hist", "KL", "mse", "abs_max"]
    assert params["timed_candidates"] == 3
    assert "algo auto -> the calibration search" in str(searched.checks)
    pinned = plan_for("target=host", *user, "strategy.quant.paddle.algo=avg")
    assert pinned.node("quantize").params["algo"] == "avg"
    lite = plan_for("target=sd855", *user)
    assert lite.node("quantize").params["algo"] == "avg"
    assert "paddle_lite's int8 does not run on this machine" in _checks(lite)["strategy.quant"]
    builtin = _checks(plan_for("target=host", "strategy=int8"))["strategy.quant"]
    assert "built-in architecture 'digits_cnn'" in builtin and "strategy.quant.algo=search" in builtin


def test_onnx_knobs_under_their_key_reach_the_quantize_pass() -> None:
    plan = plan_for(
        "target=host_ort", "strategy=int8", "strategy.quant.algo=percentile", "strategy.quant.onnx.format=qoperator",
        "strategy.quant.onnx.activation_type=int8",
    )  # fmt: skip
    params = plan.node("quantize").params
    assert (params["format"], params["activation_type"], params["weight_type"]) == ("qoperator", "int8", "int8")
    assert "strategy.quant.onnx.activation_type=int8" in _checks(plan)["quant.activations"]
    search = plan_for("recipe=digits_ort_search")
    assert [search.node(f"quantize[{i}]").params["format"] for i in range(3)] == ["qdq", "qoperator", "qdq"]


def test_search_is_a_neutral_choice_where_the_backend_can_score_candidates() -> None:
    paddle = plan_for("target=host", "strategy=int8", "strategy.quant.algo=search")
    params = paddle.node("quantize").params
    assert params["algo"] == "search" and params["candidates"] == ["avg", "hist", "KL", "mse", "abs_max"]
    assert "Paddle Inference with oneDNN int8" in _checks(paddle)["strategy.quant"]
    ort = plan_for("target=host_ort", "strategy=int8", "strategy.quant.algo=search")
    assert ort.node("quantize").params["algo"] == "auto"  # ONNX Runtime's auto is the search: the same pass
    assert ort.node("quantize").key == plan_for("target=host_ort", "strategy=int8").node("quantize").key
    lite = error_for("target=sd855", "strategy=int8", "strategy.quant.algo=search")
    assert lite.key == "strategy.quant.algo" and "paddle_lite" in str(lite)
    tflite = plan_for("recipe=digits_tflite_smoke", "strategy.quant.algo=search")
    quantize = tflite.node("quantize")  # ai-edge-quantizer on the fp32 .tflite: the converter has min/max only
    assert quantize.pass_name == "tf.quantize_file" and quantize.params["algo"] == "auto"
    assert quantize.params["timed_candidates"] == 3 and quantize.params["delegate"] == "xnnpack"
    builtin = plan_for("recipe=digits_tflite_smoke").node("quantize")  # the recipe's own: the converter's min/max
    assert builtin.pass_name == "tf.convert" and builtin.params["mode"] == "int8"


def test_an_exported_recipe_from_before_names_every_moved_key_at_once(tmp_path: Path) -> None:
    """``recipecc export`` wrote every quant key, defaults included: one message lists all of them."""
    from recipecc.recipe.errors import RecipeError
    from recipecc.recipe.resolved import load_recipe_file

    old = tmp_path / "team_recipe.yaml"
    old.write_text(
        "name: team\nstrategy:\n  name: ort_search\n"
        "  quant: {mode: ptq_static, algo: auto, format: qdq, activation_type: uint8, weight_type: int8, "
        "io_type: float}\n"
        "  search:\n    candidates:\n      - {mode: ptq_static, format: qoperator}\n"
    )
    with pytest.raises(RecipeError) as caught:
        load_recipe_file(old)
    message = str(caught.value)
    assert "5 key(s) moved" in message and caught.value.key == "strategy.quant.format"
    for move in (
        "strategy.quant.format -> strategy.quant.onnx.format",
        "strategy.quant.io_type -> strategy.quant.tflite.io_type",
        "strategy.search.candidates[0].format -> strategy.search.candidates[0].onnx.format",
    ):
        assert move in message, message
