"""Hostile recipes and model files (issue 11): each is refused at plan time with one message naming the key or
file (exit code 2), nothing it carries runs (a marker file its code would create stays absent), nothing leaks into
what a run writes, and the cache stays untouched."""

from __future__ import annotations

import dataclasses
import json
import os
import pickle
import typing
from pathlib import Path
from typing import Any

import pytest

from recipecc.cli import main
from recipecc.common.weights import UnsafeWeights, load_weights
from recipecc.recipe import compose_recipe, validate_recipe
from recipecc.recipe.schema import RecipeConfig
from recipecc.recipe.validate import BOUNDS, numeric_fields


class _Evil:
    """A pickle that runs ``touch marker`` when loaded (what a malicious .pdparams does)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.system, (f"touch {self.marker}",))


def refused(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    """Run the CLI; it must exit 2 with one short message and no traceback. Returns the message."""
    assert main(list(args)) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "Traceback" not in err and len(err) < 1500, err
    return " ".join(err.split())


@pytest.fixture
def search_path(tmp_path: Path) -> tuple[Path, str]:
    """A team's recipe folder added with hydra.searchpath (recipes/ layout: recipe/*.yaml)."""
    folder = tmp_path / "shared"
    (folder / "recipe").mkdir(parents=True)
    return folder / "recipe", f"hydra.searchpath=[file://{folder}]"


def shared_recipe(search_path: tuple[Path, str], name: str, body: str) -> list[str]:
    (search_path[0] / f"{name}.yaml").write_text("# @package _global_\n" + body)
    return [search_path[1], f"recipe={name}"]


# --- keys --------------------------------------------------------------------------------------------------------


def test_a_typo_added_with_plus_is_an_unknown_key(capsys: pytest.CaptureFixture[str]) -> None:
    msg = refused(capsys, "plan", "+strategy.prune.ratoi=0.3")
    assert "unknown key 'strategy.prune.ratoi'; did you mean 'ratio'?" in msg
    assert "unknown key 'model.colour'" in refused(capsys, "plan", "+model.colour=red")


def test_free_mappings_still_take_new_entries() -> None:
    recipe = validate_recipe(compose_recipe(["+strategy.prune.per_layer={stage4*conv2:0.2}"]))
    assert recipe.strategy.prune is not None and recipe.strategy.prune.per_layer == {"stage4*conv2": 0.2}


# --- environment interpolation -------------------------------------------------------------------------------------


def test_env_interpolation_is_refused_and_never_resolved(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, search_path: tuple[Path, str], tmp_path: Path
) -> None:
    monkeypatch.setenv("RECIPECC_TEST_SECRET", "hunter2")
    overrides = shared_recipe(search_path, "leaky", "description: 'key ${oc.env:RECIPECC_TEST_SECRET}'\n")
    msg = refused(capsys, "run", *overrides, f"hydra.run.dir={tmp_path / 'run'}")
    assert "description" in msg and "resolver 'oc.env'" in msg and "hunter2" not in msg
    assert not (tmp_path / "run").exists()
    assert "resolver 'oc.decode'" in refused(capsys, "show", "description=${oc.decode:'1'}")
    # references to other keys are plain YAML features and stay allowed
    assert validate_recipe(compose_recipe(["description=${name}"])).description == "digits_prune_quant"


# --- bounded loading -------------------------------------------------------------------------------------------


def test_a_yaml_alias_bomb_is_refused_before_it_expands(
    capsys: pytest.CaptureFixture[str], search_path: tuple[Path, str]
) -> None:
    levels = ["a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for prev, name in zip("abcde", "bcdef", strict=True):
        levels.append(f"{name}: &{name} [{', '.join(['*' + prev] * 9)}]")
    overrides = shared_recipe(search_path, "laughs", "\n".join(levels) + "\n")
    msg = refused(capsys, "plan", *overrides)
    assert "laughs.yaml: expands to more than 20,000 values" in msg


def test_deep_nesting_is_one_line_not_a_recursion_error(
    capsys: pytest.CaptureFixture[str], search_path: tuple[Path, str]
) -> None:
    overrides = shared_recipe(search_path, "deep", "description: " + "[" * 200 + "]" * 200 + "\n")
    assert "deep.yaml: nested deeper than 32 levels" in refused(capsys, "plan", *overrides)
    assert "nested 200 levels deep" in refused(capsys, "plan", "description=" + "[" * 200 + "]" * 200)


# --- keys only the command line may set ----------------------------------------------------------------------


def test_a_recipe_file_cannot_configure_hydra(
    capsys: pytest.CaptureFixture[str], search_path: tuple[Path, str]
) -> None:
    marker = search_path[0] / "ran"
    body = f"hydra:\n  callbacks:\n    evil:\n      _target_: os.system\n      command: touch {marker}\n"
    msg = refused(capsys, "run", *shared_recipe(search_path, "callback", body))
    assert "may not configure Hydra" in msg and not marker.exists()


@pytest.mark.parametrize(
    ("body", "key"), [("model:\n  trusted: true\n", "model.trusted"), ("cache_dir: /tmp/elsewhere\n", "cache_dir")]
)
def test_trust_and_cache_dir_come_from_the_command_line_only(
    capsys: pytest.CaptureFixture[str], search_path: tuple[Path, str], body: str, key: str
) -> None:
    msg = refused(capsys, "plan", *shared_recipe(search_path, "sneaky", body))
    assert f"{key} is set to" in msg and "only the command line may set it" in msg
    assert not Path("/tmp/elsewhere").exists()


def test_a_name_cannot_leave_the_runs_folder(capsys: pytest.CaptureFixture[str]) -> None:
    assert "name = '../../x' is not a plain name" in refused(capsys, "plan", "name=../../x")


# --- numbers ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("model.train.lr=inf", "model.train.lr = inf is not a finite number"),
        ("model.width=1e-9", "model.width = 1e-09 is too small"),
        ("dataset.image_size=100000", "dataset.image_size = 100000 is too large"),
        ("model.input_shape=[1,3,-1,-1]", "model.input_shape = [1, 3, -1, -1] is not a valid shape"),
        ("bench.repeats=nan", "bench.repeats"),
    ],
)
def test_meaningless_numbers_are_refused(capsys: pytest.CaptureFixture[str], override: str, message: str) -> None:
    assert message in refused(capsys, "plan", override)


def _numeric_schema_fields(kind: Any, prefix: str = "") -> list[str]:
    fields: list[str] = []
    hints = typing.get_type_hints(kind)
    for field in dataclasses.fields(kind):
        path = f"{prefix}.{field.name}" if prefix else field.name
        hint = hints[field.name]
        inner = hint
        if typing.get_origin(hint) is typing.Union:  # Optional[X]
            inner = next(a for a in typing.get_args(hint) if a is not type(None))
        if typing.get_origin(inner) is list:
            (inner,) = typing.get_args(inner)
            path += "[]"
        if typing.get_origin(inner) is dict:
            path += ".*"
            inner = typing.get_args(inner)[1]
        if dataclasses.is_dataclass(inner):
            fields += _numeric_schema_fields(inner, path)
        elif inner in (int, float):
            fields.append(path)
    return fields


def test_every_numeric_field_of_the_schema_has_bounds() -> None:
    """A new numeric schema field needs its line in validate.BOUNDS (see DEVELOPERS.md)."""
    missing = [path for path in _numeric_schema_fields(RecipeConfig) if path not in BOUNDS]
    assert not missing, f"add bounds for {missing} to recipecc/recipe/validate.py:BOUNDS"
    shipped = validate_recipe(compose_recipe(["recipe=digits_ort_search"]))
    assert all(pattern in BOUNDS for _, pattern, _ in numeric_fields(dataclasses.asdict(shipped)))


# --- model and data files ----------------------------------------------------------------------------------------


def test_a_malicious_pdparams_is_refused_without_running(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    marker, evil = tmp_path / "marker", tmp_path / "evil.pdparams"
    evil.write_bytes(pickle.dumps({"conv.weight": _Evil(marker)}, protocol=4))
    for verb in ("plan", "run"):
        msg = refused(capsys, verb, "model=mobilenet_v1", f"model.path={evil}", f"hydra.run.dir={tmp_path / 'r'}")
        assert "model.path" in msg and "is refused" in msg and "system" in msg and "model.trusted=true" in msg
    with pytest.raises(UnsafeWeights):
        load_weights(evil)
    assert not marker.exists() and not (tmp_path / "r").exists()
    # the way out, for a file the user vouches for: on the command line, it plans (nothing is loaded yet)
    assert main(["plan", "model=mobilenet_v1", f"model.path={evil}", "model.trusted=true"]) == 0
    assert not marker.exists()


def test_plain_weights_load_as_arrays(tmp_path: Path) -> None:
    import numpy as np

    weights = tmp_path / "w.pdparams"
    state = {"conv.weight": np.ones((2, 3), np.float32), "StructuredToParameterName@@": {"conv.weight": "w_0"}}
    weights.write_bytes(pickle.dumps(state, protocol=4))
    loaded = load_weights(weights)
    assert list(loaded) == ["conv.weight"] and loaded["conv.weight"].shape == (2, 3)


def _h5_with_lambda(path: Path) -> Path:
    import h5py

    config = {"class_name": "Sequential", "config": {"layers": [{"class_name": "Lambda", "config": {"name": "hack"}}]}}
    with h5py.File(path, "w") as handle:
        handle.attrs["model_config"] = json.dumps(config)
    return path


@pytest.mark.parametrize(
    ("make", "extra", "message"),
    [
        (lambda d: d / "empty.onnx", (), "is empty (0 bytes)"),
        (lambda d: d / "text.onnx", (), "is not a complete protobuf model"),
        (lambda d: d / "cut.onnx", (), "is not a complete protobuf model"),
        (lambda d: d / "alone.pdmodel", (), "has no weights file beside it (alone.pdiparams)"),
        (lambda d: d / "empty.pdparams", ("model=digits_cnn",), "is empty (0 bytes)"),
        (lambda d: d / "cut.pdparams", ("model=digits_cnn",), "is refused: it is truncated"),
        (lambda d: d / "folder", (), "is a folder without a model"),
        (lambda d: d / "lambda.h5", ("target=pc_xnnpack",), "Lambda layer(s) ['hack'] hold Python bytecode"),
        (lambda d: d / "fake.tflite", ("target=pc_xnnpack",), "is not a TFLite flatbuffer"),
    ],
)
def test_broken_model_files_fail_at_plan_time(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, make: Any, extra: tuple[str, ...], message: str
) -> None:
    from onnx_models import conv_model

    path: Path = make(tmp_path)
    name = path.name
    if name == "text.onnx":
        path.write_text("not a model\n" * 10)
    elif name == "cut.onnx":
        whole = conv_model(tmp_path / "whole.onnx").read_bytes()
        path.write_bytes(whole[: len(whole) // 2])
    elif name == "alone.pdmodel":
        path.write_bytes(b"\x08\x01")
    elif name == "cut.pdparams":
        path.write_bytes(pickle.dumps({"w": list(range(100))}, protocol=4)[:-20])
    elif name == "folder":
        path.mkdir()
        (path / "README.txt").write_text("no model here")
    elif name == "lambda.h5":
        _h5_with_lambda(path)
    elif name == "fake.tflite":
        path.write_bytes(b"x" * 64)
    else:
        path.write_bytes(b"")
    model = list(extra) or ["model=file"]
    msg = refused(capsys, "plan", *model, f"model.path={path}")
    assert f"model.path: '{path}'" in msg and message in msg


def test_an_image_folder_without_images_fails_at_plan_time(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("x")
    msg = refused(capsys, "plan", "dataset=image_folder", f"dataset.root={tmp_path}")
    assert f"dataset.root: '{tmp_path}' holds no images" in msg


# --- the report -------------------------------------------------------------------------------------------------


def test_html_templates_are_autoescaped() -> None:
    from recipecc.report.render import _environment

    env = _environment()
    assert callable(env.autoescape)
    assert env.autoescape("report.html.j2") is True and env.autoescape("report.md.j2") is False


def test_the_cli_refusals_leave_the_cache_empty(isolated_cache: Path, capsys: pytest.CaptureFixture[str]) -> None:
    refused(capsys, "run", "+strategy.prune.ratoi=0.3")
    refused(capsys, "run", "description=${oc.env:HOME}")
    assert not any(isolated_cache.iterdir())


# --- Hydra's own failures ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("run_dir", "message"),
    [
        ("{file}", "is an existing file"),
        ("{file}/below", "lies below the file"),
        ("/proc/recipecc", "is inside a system folder"),
        ("", "hydra.run.dir is empty"),
        ("''", "hydra.run.dir is empty"),
    ],
)
def test_bad_run_folders_are_clean_errors(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, run_dir: str, message: str
) -> None:
    file = tmp_path / "a-file"
    file.write_text("x")
    msg = refused(capsys, "run", "recipe=digits_smoke", f"hydra.run.dir={run_dir.format(file=file)}")
    assert message in msg
    assert file.read_text() == "x" and not (Path.cwd() / "report.md").exists()


def test_cfg_hydra_resolve_prints_instead_of_a_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--cfg", "hydra", "--resolve"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith("# shown unresolved") and "run:" in out and "Traceback" not in out
    assert main(["run", "--cfg", "job", "--resolve", "strategy.prune.ratio=0.3"]) == 0
    assert "ratio: 0.3" in capsys.readouterr().out
    assert "--cfg 'nope' is not a config part" in refused(capsys, "run", "--cfg", "nope")


def test_onnx_external_data_must_stay_beside_the_model(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    import onnx
    from onnx_models import conv_model

    model = onnx.load(str(conv_model(tmp_path / "c.onnx")))
    (tmp_path / "m").mkdir()
    onnx.save_model(model, str(tmp_path / "m" / "ext.onnx"), save_as_external_data=True, location="ext.data",
                    size_threshold=0)  # fmt: skip
    good = tmp_path / "m" / "ext.onnx"
    assert main(["plan", "target=host_ort", "model=file", "strategy=quant", f"model.path={good}"]) == 0
    capsys.readouterr()
    evil = tmp_path / "m" / "evil.onnx"
    evil.write_bytes(good.read_bytes().replace(b"\x08ext.data", b"\x08../x.txt"))  # same length: still whole
    (tmp_path / "x.txt").write_text("secret")
    msg = refused(capsys, "plan", "target=host_ort", "model=file", "strategy=quant", f"model.path={evil}")
    assert "names external data outside its folder ('../x.txt')" in msg


_KERAS_LAMBDA_SCRIPT = """
import os, sys, json
os.environ["TF_USE_LEGACY_KERAS"] = "1"
from pathlib import Path
import numpy as np
from recipecc.passes.base import PassFailure
from recipecc.passes.tf.common import load_keras, tf_modules

_, keras = tf_modules()
folder, marker = Path(sys.argv[1]), sys.argv[2]
inputs = keras.Input((4,))
outputs = keras.layers.Lambda(lambda x: (open(marker, "w").close(), x)[1], name="hack")(inputs)
model = keras.Model(inputs, outputs)
model.save(str(folder / "m.h5"))
model.save(str(folder / "sm"), save_format="tf")
os.remove(marker)  # saving traced the lambda once
outcome = {}
for name in ("m.h5", "sm"):
    try:
        load_keras(folder / name)(np.zeros((1, 4), "float32"))
        outcome[name] = "loaded"
    except PassFailure as exc:
        outcome[name] = str(exc)
    outcome[name + " ran code"] = os.path.exists(marker)
load_keras(folder / "m.h5", trusted=True)(np.zeros((1, 4), "float32"))
outcome["trusted ran code"] = os.path.exists(marker)
print(json.dumps(outcome))
"""


@pytest.mark.backend
def test_keras_lambda_layers_are_refused_when_loaded_whatever_the_format(tmp_path: Path) -> None:
    """The plan refuses .h5 Lambda layers, but a file swapped after the plan, or a SavedModel (whose Lambda
    bytecode tf-keras runs when the model is called), must be refused where it is loaded too."""
    import subprocess
    import sys

    marker = tmp_path / "marker"
    done = subprocess.run(
        [sys.executable, "-c", _KERAS_LAMBDA_SCRIPT, str(tmp_path), str(marker)],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    outcome = json.loads(done.stdout.strip().splitlines()[-1])
    assert "Lambda layer with a Python `lambda`" in outcome["m.h5"] and not outcome["m.h5 ran code"]
    # a SavedModel's Lambda is not revived from its bytecode in safe mode: its traced graph runs instead
    assert not outcome["sm ran code"]
    assert outcome["trusted ran code"]  # model.trusted=true (command line only) loads it as Keras would
