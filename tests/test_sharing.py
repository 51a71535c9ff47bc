"""Sharing recipes: a team's folder or package on the search path for every verb, export -> run with the same
recipe hash, and run.lock naming every difference when a run is repeated."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from recipecc.cli import main

TEAM_RECIPE = """# @package _global_
defaults:
  - override /strategy: team_prune
  - override /target: team_host
name: team_smoke
description: the team's smoke recipe
model:
  width: 0.5
dataset:
  image_size: 8
"""


@pytest.fixture
def team(tmp_path: Path) -> Path:
    """A team's folder in the recipes/ layout: a recipe using the team's own strategy and target."""
    root = tmp_path / "team"
    for group in ("recipe", "strategy", "target"):
        (root / group).mkdir(parents=True)
    (root / "recipe" / "team_smoke.yaml").write_text(TEAM_RECIPE)
    (root / "strategy" / "team_prune.yaml").write_text(
        "name: team_prune\nprune:\n  ratio: 0.4\nfinetune:\n  epochs: 1\n"
    )
    (root / "target" / "team_host.yaml").write_text(
        "name: team_host\ndescription: the team's 1-thread host\n"
        "device: host\nruntime: paddle_inference\nthreads: [1]\n"
    )
    return root


def run_main(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("how", ["env", "searchpath", "config-dir"])
def test_a_team_folder_works_for_plan_show_list_and_export(
    how: str, team: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    extra = {"env": [], "searchpath": [f"hydra.searchpath=[file://{team}]"], "config-dir": ["--config-dir", str(team)]}
    if how == "env":
        monkeypatch.setenv("RECIPECC_PATH", f"/nonexistent-is-not-used-here:{team}".split(":", 1)[1])
    code, out, _ = run_main(capsys, "plan", "recipe=team_smoke", *extra[how])
    assert code == 0 and "plan team_smoke on team_host" in out
    code, out, _ = run_main(capsys, "show", "recipe=team_smoke", *extra[how])
    assert code == 0 and "ratio: 0.4" in out and "threads:\n  - 1" in out
    code, out, _ = run_main(capsys, "list", *extra[how])
    assert code == 0 and "team_smoke" in out and "team_host" in out and "team_prune" in out
    code, out, _ = run_main(capsys, "export", "recipe=team_smoke", *extra[how])
    assert code == 0 and "name: team_smoke" in out
    # the folder was for that command only
    code, _, err = run_main(capsys, "plan", "recipe=team_smoke")
    assert (code == 2 and "recipe 'team_smoke' not found" in err) or how == "env"


def test_a_team_folder_works_for_run_and_multirun(team: Path, tmp_path: Path) -> None:
    """``run`` validates, plans and composes through Hydra's main with the team's groups (``--cfg job`` stops
    there); a multirun validates every job with them (the second job's bad ratio is named, so the team recipe was
    found). The sweep tests run real jobs."""
    env = {**os.environ, "RECIPECC_PATH": str(team)}
    cli = [sys.executable, "-m", "recipecc.cli", "run"]
    proc = subprocess.run(
        [*cli, "--cfg", "job", "recipe=team_smoke", f"hydra.run.dir={tmp_path / 'run'}"],
        capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "name: team_smoke" in proc.stdout and "name: team_host" in proc.stdout
    proc = subprocess.run(
        [*cli, "-m", "recipe=team_smoke", "strategy.prune.ratio=0.3,1.5", f"hydra.sweep.dir={tmp_path / 'sweep'}"],
        capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
    assert proc.returncode == 2 and "strategy.prune.ratio = 1.5 is out of range" in proc.stderr
    assert not (tmp_path / "sweep").exists()


def test_a_team_package_and_file_paths(
    team: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / "site" / "team_recipes"
    package.parent.mkdir()
    team.rename(package)
    (package / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(package.parent))
    code, out, _ = run_main(capsys, "plan", "recipe=team_smoke", "hydra.searchpath=[pkg://team_recipes]")
    assert code == 0 and "plan team_smoke on team_host" in out
    code, _, err = run_main(capsys, "plan", "hydra.searchpath=[pkg://no_such_team_pkg]")
    assert code == 2 and "package 'no_such_team_pkg' is not installed" in err
    # recipe=<path> of a file inside a recipe/ folder: its folder joins the search path
    code, out, _ = run_main(capsys, "show", f"recipe={package / 'recipe' / 'team_smoke.yaml'}")
    assert code == 0 and "name: team_smoke" in out
    loose = tmp_path / "loose.yaml"
    loose.write_text(TEAM_RECIPE)
    code, _, err = run_main(capsys, "show", f"recipe={loose}")
    assert code == 2 and "must sit in a folder named 'recipe/'" in err and "--recipe-file" in err
    monkeypatch.setenv("RECIPECC_PATH", str(tmp_path / "missing"))
    code, _, err = run_main(capsys, "list")
    assert code == 2 and "RECIPECC_PATH" in err and "is not a folder" in err


def test_a_lock_mismatch_is_named_and_strict_refuses(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from omegaconf import OmegaConf
    from onnx_models import conv_model

    from recipecc.lock import write_lock
    from recipecc.plan import build_plan
    from recipecc.recipe import compose_recipe, validate_recipe

    weights = conv_model(tmp_path / "model.onnx", opset=13)
    recipe = validate_recipe(
        compose_recipe(["target=host_ort", "model=file", f"model.path={weights}", "strategy=quant"])
    )
    lock = write_lock(tmp_path, recipe, build_plan(recipe))
    document = OmegaConf.to_container(OmegaConf.load(lock))
    assert isinstance(document, dict)
    assert document["inputs"]["model.path"]["fingerprint"].startswith("file:")
    assert document["versions"]["onnxruntime"] and document["recipe"]["model"]["path"] == str(weights)
    document["versions"]["onnxruntime"] = "1.20.0"  # as if locked on another machine
    lock.write_text(OmegaConf.to_yaml(OmegaConf.create(document)))
    conv_model(weights, opset=11)  # the same network, exported again: other bytes
    code, _, err = run_main(capsys, "run", "--lock", str(lock), "--strict")
    assert code == 2
    assert "onnxruntime: locked 1.20.0, here 1.32" in err
    assert f"model.path: {weights} changed" in err and "--strict refuses to run" in err
    weights.unlink()
    code, _, err = run_main(capsys, "run", "--lock", str(lock), "--strict")
    assert code == 2 and "does not exist" in err  # the recipe itself names a missing file: refused up front


@pytest.mark.backend
def test_export_then_run_anywhere_gives_the_same_recipe_hash(tmp_path: Path, image_dir: Path) -> None:
    from onnx_models import conv_model

    model = conv_model(tmp_path / "conv.onnx", opset=13)
    overrides = ["target=host_ort", "model=file", f"model.path={model}", "dataset=image_folder",
                 f"dataset.root={image_dir}", "dataset.size=[16,16]", "dataset.calibration_images=12",
                 "dataset.eval_images=12", "strategy=quant", "bench.warmup=2", "bench.repeats=10",
                 "target.threads=[1]"]  # fmt: skip
    env = {**os.environ, "RECIPECC_CACHE": str(tmp_path / "cache")}
    exported = subprocess.run(
        [sys.executable, "-m", "recipecc.cli", "export", *overrides], capture_output=True, text=True, env=env
    )
    assert exported.returncode == 0, exported.stderr
    recipe_file = tmp_path / "elsewhere" / "team_recipe.yaml"
    recipe_file.parent.mkdir()
    recipe_file.write_text(exported.stdout)
    planned = subprocess.run(
        [sys.executable, "-m", "recipecc.cli", "plan", *overrides], capture_output=True, text=True, env=env
    )
    expected = planned.stdout.split("recipe hash ")[1].split()[0]
    assert f"recipe hash {expected}" in exported.stdout
    run_dir = tmp_path / "run"
    proc = subprocess.run(
        [sys.executable, "-m", "recipecc.cli", "run", "--recipe-file", str(recipe_file), f"hydra.run.dir={run_dir}"],
        capture_output=True, text=True, env=env, cwd=recipe_file.parent, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads((run_dir / "results.json").read_text())["recipe_hash"] == expected
    lock = (run_dir / "run.lock").read_text()
    assert f"recipe_hash: {expected}" in lock and "onnxruntime:" in lock and "model.path:" in lock
    refused = subprocess.run(
        [sys.executable, "-m", "recipecc.cli", "run", "--recipe-file", str(recipe_file), "strategy=none"],
        capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
    assert refused.returncode == 2 and "runs the file as it is" in refused.stderr
