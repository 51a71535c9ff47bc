"""Each class of bad input gives one message naming the key, the bad value and what is valid (exit code 2)."""

from __future__ import annotations

from pathlib import Path

import pytest
from planning import error_for, run_cli

from recipecc.cli import main


def test_unknown_group_option_suggests_the_closest() -> None:
    err = error_for("strategy=prun")
    assert str(err).startswith("strategy 'prun' not found; did you mean 'prune'?")
    valid = str(err).split("valid: ")[1].split(", ")
    assert {"none", "prune", "prune_quant", "quant"} <= set(valid)


def test_unknown_recipe_and_target() -> None:
    assert "did you mean 'digits_smoke'" in str(error_for("recipe=digits_smok"))
    assert "target 'hots' not found; did you mean 'host'?" in str(error_for("target=hots"))


def test_unknown_key_names_the_key_and_the_valid_ones() -> None:
    err = error_for("strategy.prune.ratoi=0.3")
    assert "unknown key 'strategy.prune.ratoi'; did you mean 'ratio'?" in str(err)
    assert "valid: criterion, ratio, layers" in str(err)
    assert "unknown key 'foo'" in str(error_for("foo=1"))


def test_wrong_type() -> None:
    err = error_for("strategy.prune.ratio=half")
    assert "strategy.prune.ratio = 'half' has the wrong type" in str(err)
    assert "a number" in str(err)
    assert "a whole number" in str(error_for("model.train.epochs=1.5"))


@pytest.mark.parametrize("ratio", ["0", "1", "1.5", "-0.2"])
def test_prune_ratio_out_of_range(ratio: str) -> None:
    err = error_for(f"strategy.prune.ratio={ratio}")
    assert f"strategy.prune.ratio = {float(ratio)} is out of range" in str(err)
    assert "0.0 < strategy.prune.ratio < 1.0" in str(err)


def test_bits_must_be_8_or_16() -> None:
    err = error_for("strategy.quant.bits=4")
    assert "strategy.quant.bits = 4 is not a valid choice" in str(err)
    assert "valid: 8, 16" in str(err)


def test_threads_at_least_one() -> None:
    err = error_for("target.threads=[1,0]")
    assert "target.threads = 0 is too small" in str(err)


def test_missing_files() -> None:
    err = error_for("model.arch=file", "+model.path=/no/such/model.pdmodel")
    assert "model.path: file or folder '/no/such/model.pdmodel' does not exist" in str(err)
    assert "model.path is required" in str(error_for("model.arch=file"))
    assert "dataset.root: file or folder '/no/such/dir'" in str(error_for("dataset.root=/no/such/dir"))


def test_setting_a_key_of_a_section_the_strategy_lacks() -> None:
    err = error_for("strategy=none", "strategy.prune.ratio=0.3")
    assert "'strategy.prune' is not part of this recipe" in str(err)
    assert "a strategy that has it (" in str(err) and "prune_quant" in str(err)
    assert "strategy.prune.ratio=0.3" in str(err)


def test_target_that_cannot_run_int8_is_rejected_at_plan_time() -> None:
    err = error_for("target=v100")
    assert "target 'v100' cannot run strategy 'prune_quant'" in str(err)
    assert "paddle_inference_gpu runs fp32, fp16, not int8" in str(err)
    assert "host" in str(err)


def test_bits_16_is_illegal_for_static_ptq_on_paddle_inference() -> None:
    # int16 is a valid recipe value in general, but the runtime cannot run it: legality, decided by the planner
    err = error_for("strategy.quant.bits=16")
    assert "cannot run strategy" in str(err) or "8-bit models only" in str(err)


def test_cli_prints_one_message_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "strategy=prun"]) == 2
    err = capsys.readouterr().err
    assert "strategy 'prun' not found; did you mean 'prune'?" in err
    assert "Traceback" not in err


def test_run_verb_rejects_bad_recipe_before_hydra_starts(tmp_path: Path) -> None:
    proc = run_cli("run", "strategy.prune.ratio=1.5", f"hydra.run.dir={tmp_path}")
    assert proc.returncode == 2
    assert "strategy.prune.ratio = 1.5 is out of range" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "results.json").exists()


def test_multirun_validates_every_job_first() -> None:
    proc = run_cli("run", "-m", "strategy.prune.ratio=0.3,1.2")
    assert proc.returncode == 2
    assert "strategy.prune.ratio = 1.2 is out of range" in proc.stderr
