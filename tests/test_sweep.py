"""Sweeps: the jobs listed and validated up front, each job's record, best-so-far, and the report over all jobs.

The unit tests build job folders by hand (fast); the end-to-end sweeps run real backends through the CLI, with
Hydra's basic sweeper and the Optuna sweeper, the basic and the joblib launcher.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from recipecc.recipe.errors import RecipeError
from recipecc.report.sweep import pareto_front, render_sweep_report
from recipecc.sweep.expand import plan_sweep, sweep_jobs
from recipecc.sweep.jobs import BEST_FILE, collect_jobs, record_job


def fake_results(path: Path, top1: float, size: int, ms: float, *, ratio: float) -> Path:
    """A results.json with a baseline (99%, 1000 B, 1.0 ms) and one compressed stage."""
    baseline = {
        "name": "baseline",
        "precision": "fp32",
        "size_bytes": 1000,
        "metrics": {"top1": 0.99},
        "latency": [{"threads": 1, "median_ms": 1.0, "p90_ms": 1.1, "source": "measured-host", "runtime": "rt"}],
        "vs_baseline": {},
    }
    final = {
        "name": "pruned",
        "precision": "fp32",
        "size_bytes": size,
        "metrics": {"top1": top1},
        "latency": [{"threads": 1, "median_ms": ms, "p90_ms": ms, "source": "measured-host", "runtime": "rt"}],
        "vs_baseline": {"quality_delta": top1 - 0.99, "size_ratio": 1000 / size, "speedup": {"1": 1.0 / ms}},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "recipe": "fake",
        "target": "host",
        "recipe_hash": f"h{ratio}",
        "quality_metric": "top1",
        "stages": [baseline, final],
        "provenance": {"recipe": {"strategy": {"prune": {"ratio": ratio}}}, "created": "now"},
    }
    path.write_text(json.dumps(document))
    return path


def completed(sweep: Path, num: int, ratio: float, top1: float, size: int, ms: float) -> dict[str, Any]:
    results = fake_results(sweep / str(num) / "results.json", top1, size, ms, ratio=ratio)
    return {
        "num": num,
        "overrides": ["recipe=fake", f"strategy.prune.ratio={ratio}"],
        "status": "completed",
        "results": str(results),
    }


def test_pareto_front_keeps_only_points_nothing_beats() -> None:
    # (quality, cost): the second is beaten by the first (better quality, same cost); the last ties nothing
    points = [(0.98, 1.0), (0.97, 1.0), (0.95, 0.5), (0.90, 0.6), (0.99, 2.0)]
    assert pareto_front(points) == [True, False, True, False, True]


def test_report_has_one_row_per_job_failed_ones_included(tmp_path: Path) -> None:
    sweep = tmp_path / "sweep"
    record_job(sweep / "0", sweep, completed(sweep, 0, 0.3, 0.98, 500, 0.8))
    record_job(sweep / "1", sweep, completed(sweep, 1, 0.5, 0.96, 300, 0.9))  # slower and worse than #0: dominated
    record_job(
        sweep / "2",
        sweep,
        {"num": 2, "overrides": ["recipe=fake", "strategy.prune.ratio=0.7"], "status": "failed", "error": "boom"},
    )
    (sweep / "3" / ".hydra").mkdir(parents=True)  # started, never finished (a killed worker)
    (sweep / "3" / ".hydra" / "overrides.yaml").write_text("- recipe=fake\n- strategy.prune.ratio=0.9\n")

    paths = render_sweep_report(collect_jobs(sweep), sweep)
    summary = json.loads(paths["json"].read_text())
    jobs = {job["num"]: job for job in summary["jobs"]}
    assert summary["swept"] == ["strategy.prune.ratio"]
    assert [jobs[n]["status"] for n in range(4)] == ["completed", "completed", "failed", "unfinished"]
    assert jobs[0]["results"].endswith("0/results.json") and jobs[2]["results"] is None
    assert [jobs[n]["pareto"] for n in range(4)] == [True, False, False, False]
    assert jobs[1]["pareto_size"] and jobs[0]["pareto_size"]  # 300 B is the smallest: on the size front
    assert jobs[0]["speedup"]["1"] == pytest.approx(1.25)
    markdown = paths["markdown"].read_text()
    assert "| 2 | 0.7 | failed |" in markdown and "boom" in markdown
    assert "| 3 | 0.9 | unfinished |" in markdown
    assert paths["html"].read_text().count("<tr") >= 5 and paths["plot"].stat().st_size > 1000


def test_best_so_far_is_rewritten_after_every_trial_and_survives_a_failing_one(tmp_path: Path) -> None:
    sweep = tmp_path / "sweep"

    def objective(value: float, feasible: bool = True) -> dict[str, Any]:
        return {"measure": "latency", "value": value, "feasible": feasible, "loss": value}

    record_job(sweep / "0", sweep, {**completed(sweep, 0, 0.3, 0.98, 500, 0.8), "objective": objective(0.8)})
    assert json.loads((sweep / BEST_FILE).read_text())["best"]["num"] == 0
    failed = {"num": 1, "overrides": ["x=1"], "status": "failed", "error": "crash", "objective": None}
    record_job(sweep / "1", sweep, failed)
    best = json.loads((sweep / BEST_FILE).read_text())
    assert best["best"]["num"] == 0 and [t["status"] for t in best["trials"]] == ["completed", "failed"]
    over = {**completed(sweep, 2, 0.7, 0.90, 200, 0.5), "objective": objective(0.5, feasible=False)}
    record_job(sweep / "2", sweep, over)  # faster, but over the budget
    assert json.loads((sweep / BEST_FILE).read_text())["best"]["num"] == 0
    record_job(sweep / "3", sweep, {**completed(sweep, 3, 0.4, 0.98, 400, 0.6), "objective": objective(0.6)})
    assert json.loads((sweep / BEST_FILE).read_text())["best"]["num"] == 3


def test_basic_sweeper_jobs_are_listed_in_hydras_order() -> None:
    jobs = sweep_jobs(["recipe=digits_smoke", "strategy.prune.ratio=0.3,0.5", "target=choice(host,host_ort)"], False)
    assert jobs == [
        ["recipe=digits_smoke", "strategy.prune.ratio=0.3", "target=host"],
        ["recipe=digits_smoke", "strategy.prune.ratio=0.3", "target=host_ort"],
        ["recipe=digits_smoke", "strategy.prune.ratio=0.5", "target=host"],
        ["recipe=digits_smoke", "strategy.prune.ratio=0.5", "target=host_ort"],
    ]
    assert sweep_jobs(["model.train.epochs=range(1,4)"], False) == [[f"model.train.epochs={n}"] for n in (1, 2, 3)]


def test_interval_needs_a_sampling_sweeper_and_optuna_needs_an_objective() -> None:
    with pytest.raises(RecipeError, match=r"interval\(\.\.\.\).*basic sweeper") as info:
        plan_sweep(["recipe=digits_smoke", "strategy.prune.ratio=interval(0.1,0.7)"], [])
    assert "hydra/sweeper=optuna" in str(info.value)
    with pytest.raises(RecipeError, match="needs an objective"):
        plan_sweep(["recipe=digits_smoke", "strategy.prune.ratio=interval(0.1,0.7)"], ["hydra/sweeper=optuna"])
    plan = plan_sweep(
        ["recipe=digits_smoke", "strategy.prune.ratio=interval(0.1,0.7)", "objective.measure=latency"],
        ["hydra/sweeper=optuna"],
    )
    assert plan.sampling and "OptunaSweeper" in plan.sweeper
    assert [job[-1] for job in plan.jobs] == ["strategy.prune.ratio=0.1", "strategy.prune.ratio=0.7"]


def test_a_drop_means_the_same_to_the_objective_and_the_search_selection() -> None:
    """top-1 drops by baseline - stage; an error metric is a drop already; unmeasured is None, never 0."""
    from recipecc.metrics.drop import metric_drop
    from recipecc.sweep.objective import score

    baseline = {"name": "baseline", "metrics": {"top1": 0.99, "cosine": 1.0}, "latency": [], "size_bytes": 100}
    stage = {"name": "int8", "metrics": {"top1": 0.97, "max_abs_error": 0.25}, "latency": [], "size_bytes": 25}
    assert metric_drop("top1", stage, baseline) == pytest.approx(0.02)
    assert metric_drop("max_abs_error", stage, baseline) == 0.25
    assert metric_drop("cosine", stage, baseline) is None
    results = {"stages": [baseline, stage], "quality_metric": "top1"}
    scored = score({"measure": "size", "max_drop": 0.01}, results)
    assert scored["drop"] == pytest.approx(0.02) and not scored["feasible"]


def test_every_job_is_validated_before_the_first_starts(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "recipecc.cli", "run", "-m", "recipe=digits_smoke", "strategy.prune.ratio=0.5,1.5",
         "hydra/sweeper=optuna", "objective.measure=latency", f"hydra.sweep.dir={tmp_path}"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 2 and "strategy.prune.ratio = 1.5 is out of range" in proc.stderr
    assert "Traceback" not in proc.stderr and not any(tmp_path.iterdir())


def test_objective_values_are_checked() -> None:
    from recipecc.recipe import compose_recipe, validate_recipe

    with pytest.raises(RecipeError, match="neither a result measure nor a numeric recipe key"):
        validate_recipe(compose_recipe(["recipe=digits_smoke", "objective.measure=strategy.prune.ratoi"]))
    with pytest.raises(RecipeError, match=r"not measured by this recipe[\s\S]*bench.metrics=\[cosine\]"):
        validate_recipe(compose_recipe(["recipe=digits_smoke", "objective.measure=size", "objective.metric=cosine"]))
    ok = validate_recipe(compose_recipe(["recipe=digits_smoke", "objective.measure=strategy.prune.ratio"]))
    assert ok.objective.measure == "strategy.prune.ratio"


# --- end to end ---------------------------------------------------------------------------------------------------


def cli(*args: str, cache: Path, timeout: int = 900) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "RECIPECC_CACHE": str(cache)}
    return subprocess.run(
        [sys.executable, "-m", "recipecc.cli", *args], capture_output=True, text=True, env=env, timeout=timeout
    )


@pytest.fixture(scope="module")
def onnx_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A small ONNX conv net, one that cannot run on the images, and a labelled image folder."""
    import numpy as np
    from onnx_models import conv_model
    from PIL import Image

    root = tmp_path_factory.mktemp("onnx-sweep")
    images = root / "images"
    rng = np.random.RandomState(0)
    for cls in ("cat", "dog"):
        (images / cls).mkdir(parents=True)
        for i in range(12):
            Image.fromarray(rng.randint(0, 255, size=(20, 24, 3), dtype=np.uint8)).save(images / cls / f"{i}.png")
    # a valid model that declares free height and width but reshapes its input to 24x24 inside: it plans (the plan
    # reads the declared input), and fails when run on the 16x16 images (a trial that fails late)
    broken = _reshapes_to_24(conv_model(root / "conv24.onnx", opset=13, size=24, dynamic=False))
    return {"model": conv_model(root / "conv.onnx", opset=13), "broken": broken, "images": images}


def _reshapes_to_24(path: Path) -> Path:
    import numpy as np
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(str(path))
    graph = model.graph
    dims = graph.input[0].type.tensor_type.shape.dim
    dims[2].dim_param, dims[3].dim_param = "height", "width"
    graph.initializer.append(numpy_helper.from_array(np.array([-1, 3, 24, 24], np.int64), "shape24"))
    for node in graph.node:
        node.input[:] = ["image24" if name == "image" else name for name in node.input]
    graph.node.insert(0, helper.make_node("Reshape", ["image", "shape24"], ["image24"], name="fixed24"))
    onnx.checker.check_model(model)
    onnx.save_model(model, str(path))
    return path


def onnx_recipe(files: dict[str, Path]) -> list[str]:
    return [
        "target=host_ort", "model=file", "dataset=image_folder", f"dataset.root={files['images']}",
        "dataset.size=[16,16]", "dataset.calibration_images=12", "dataset.eval_images=12", "strategy=quant",
        "bench.warmup=2", "bench.repeats=10", "target.threads=[1]",
    ]  # fmt: skip


@pytest.mark.backend
def test_three_point_sweep_writes_one_report_and_reuses_the_shared_stages(tmp_path: Path) -> None:
    sweep = tmp_path / "sweep"
    proc = cli(
        "run", "-m", "recipe=digits_smoke", "strategy=prune", "model.train.epochs=2", "strategy.finetune.epochs=1",
        "target.threads=[1]", "strategy.prune.ratio=0.3,0.5,0.7", f"hydra.sweep.dir={sweep}",
        cache=tmp_path / "cache",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads((sweep / "sweep.json").read_text())
    jobs = summary["jobs"]
    assert [job["status"] for job in jobs] == ["completed"] * 3
    assert [job["swept"]["strategy.prune.ratio"] for job in jobs] == ["0.3", "0.5", "0.7"]
    for job in jobs:
        results = json.loads(Path(job["results"]).read_text())
        assert results["stages"][-1]["size_bytes"] == job["size_bytes"]
        assert job["measured_together"] and job["latency"]["1"] > 0
    # a larger ratio leaves a smaller model, so every job is on the quality-vs-size front ...
    sizes = [job["size_bytes"] for job in jobs]
    assert sizes == sorted(sizes, reverse=True) and all(job["pareto_size"] for job in jobs)
    # ... and the quality-vs-latency flags agree with the numbers
    points = [(job["quality"], job["latency"]["1"]) for job in jobs]
    assert [job["pareto"] for job in jobs] == pareto_front(points) and any(job["pareto"] for job in jobs)
    # the stages every job shares ran once, in job 0; jobs 1 and 2 took them from the cache
    records = [json.loads((sweep / str(n) / "job.json").read_text()) for n in range(3)]
    assert {"data", "train", "export"} <= set(records[0]["executed"])
    for record in records[1:]:
        assert {"data", "train", "export"} <= set(record["cached"])
        assert "prune" in record["executed"]
    markdown = (sweep / "sweep.md").read_text()
    assert "## Model-library table" in markdown and "measured again **together**" in markdown
    assert (sweep / "sweep_pareto.png").stat().st_size > 10_000 and "sweep report:" in proc.stdout


@pytest.mark.backend
def test_optuna_search_finds_the_known_best_and_survives_a_failing_trial(
    tmp_path: Path, onnx_files: dict[str, Path]
) -> None:
    """Smallest model within a cosine budget: int8 (about 4x smaller weights) beats fp16 (2x); the trials of the
    model that cannot run on the images fail, are recorded as failed rows, and the search goes on."""
    sweep = tmp_path / "sweep"
    proc = cli(
        "run", "-m", *onnx_recipe(onnx_files), "bench.metrics=[cosine]", "objective.measure=size",
        "objective.metric=cosine", "objective.max_drop=0.05", "strategy.quant.mode=choice(fp16,ptq_static)",
        f"model.path=choice({onnx_files['model']},{onnx_files['broken']})", "hydra/sweeper=optuna",
        "hydra/sweeper/sampler=grid", f"hydra.sweep.dir={sweep}",
        cache=tmp_path / "cache",
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr[-3000:]  # two trials failed: the exit code says so
    best = json.loads((sweep / BEST_FILE).read_text())
    assert "strategy.quant.mode=ptq_static" in best["best"]["overrides"]
    assert f"model.path={onnx_files['model']}" in best["best"]["overrides"]
    statuses = sorted(t["status"] for t in best["trials"])
    assert statuses == ["completed", "completed", "failed", "failed"]
    summary = json.loads((sweep / "sweep.json").read_text())
    assert len(summary["jobs"]) == 4 and summary["best"] == best["best"]["num"]
    failed = [job for job in summary["jobs"] if job["status"] == "failed"]
    assert len(failed) == 2 and all(job["error"].startswith("pass '") for job in failed)
    assert (sweep / "optimization_results.yaml").is_file()  # Optuna's own summary is there too
    assert "## Search" in (sweep / "sweep.md").read_text()


@pytest.mark.backend
def test_parallel_joblib_sweep_leaves_a_consistent_cache(tmp_path: Path, onnx_files: dict[str, Path]) -> None:
    from recipecc.plan.cache import ARTIFACT_FILE

    cache = tmp_path / "cache"
    args = ["run", "-m", *onnx_recipe(onnx_files), f"model.path={onnx_files['model']}",
            "strategy.quant.mode=fp16,ptq_static", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2"]  # fmt: skip
    proc = cli(*args, f"hydra.sweep.dir={tmp_path / 'a'}", cache=cache)
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads((tmp_path / "a" / "sweep.json").read_text())
    assert [job["status"] for job in summary["jobs"]] == ["completed", "completed"]
    entries = [p for p in cache.iterdir() if not p.name.startswith(".")]
    assert entries and all((entry / ARTIFACT_FILE).is_file() for entry in entries)
    assert not any((cache / ".tmp").iterdir()) if (cache / ".tmp").exists() else True
    # the passes both jobs need ran once: the other job waited on the entry's lock and took it from the cache
    first = [json.loads((tmp_path / "a" / n / "job.json").read_text()) for n in ("0", "1")]
    for shared in ("data", "load"):
        assert sum(shared in record["executed"] for record in first) == 1
        assert sum(shared in record["cached"] for record in first) == 1
    # the same sweep again finds every pass in the cache
    again = cli(*args, f"hydra.sweep.dir={tmp_path / 'b'}", cache=cache)
    assert again.returncode == 0, again.stderr[-3000:]
    records = [json.loads((tmp_path / "b" / n / "job.json").read_text()) for n in ("0", "1")]
    assert all(not (set(r["executed"]) - {n for n in r["executed"] if n.startswith("bench.")}) for r in records)


@pytest.mark.backend
def test_a_local_ray_instance_runs_two_jobs(tmp_path: Path, onnx_files: dict[str, Path]) -> None:
    """hydra-ray-launcher starts a local Ray instance (no address given) and runs both jobs in Ray workers."""
    if not os.environ.get("CI"):  # CI installs the ray extra (.ci/run): there a missing launcher is a failure
        pytest.importorskip("hydra_plugins.hydra_ray_launcher", reason="the ray extra is not installed")
    sweep = tmp_path / "sweep"
    proc = cli(
        "run", "-m", *onnx_recipe(onnx_files), f"model.path={onnx_files['model']}",
        "strategy.quant.mode=fp16,ptq_static", "hydra/launcher=ray", "+hydra.launcher.ray.init.num_cpus=2",
        "+hydra.launcher.ray.init.include_dashboard=false", f"hydra.sweep.dir={sweep}",
        cache=tmp_path / "cache",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    output = proc.stdout + proc.stderr
    assert "Ray Launcher is launching 2 jobs" in output and "Started a local Ray instance" in output
    summary = json.loads((sweep / "sweep.json").read_text())
    assert [job["status"] for job in summary["jobs"]] == ["completed", "completed"]
    precisions = {json.loads(Path(job["results"]).read_text())["stages"][-1]["precision"] for job in summary["jobs"]}
    assert precisions == {"fp16", "int8"}


def test_the_slurm_and_joblib_launcher_configs_compose_with_a_recipe() -> None:
    """hydra-submitit-launcher is documented, not run here (no SLURM): its config composes with a recipe and the
    jobs are still listed and validated up front."""
    from hydra import compose

    from recipecc.recipe.compose import PRIMARY_CONFIG, hydra_context

    with hydra_context():
        cfg = compose(
            PRIMARY_CONFIG,
            overrides=["recipe=digits_smoke", "hydra/launcher=submitit_slurm", "hydra.launcher.partition=gpu"],
            return_hydra_config=True,
        )
    assert cfg.hydra.launcher._target_.endswith("SlurmLauncher") and cfg.hydra.launcher.partition == "gpu"
    assert cfg.hydra.callbacks.sweep_report._target_ == "recipecc.sweep.callback.SweepReport"
    plan = plan_sweep(["recipe=digits_smoke", "strategy.prune.ratio=0.3,0.5"], ["hydra/launcher=submitit_slurm"])
    assert not plan.sampling and len(plan.jobs) == 2
