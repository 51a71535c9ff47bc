"""The run matrix: every shipped recipe on every shipped target, shrunk to smoke size, planned and then run.

The rule it checks is the compiler's promise: a plan either runs or is refused at plan time (exit 2, one message).
Recipes and targets are discovered from ``recipes/recipe/*.yaml`` and ``targets/*.yaml``, so a new one joins the
matrix by existing. A target measured on a remote device over SSH may be refused by ``run`` when the device cannot
be reached (exit 2, before any pass starts); every other accepted pair (this host, or a device whose latency is
estimated) must run to a report.

Smoke size comes from overrides, never from editing the recipe: one epoch wherever a recipe trains, the smallest
image the architecture takes, 100 digits, a narrow network where the architecture has a width, three timed
calls, one thread. Values a recipe sets to zero stay zero (``train.epochs: 0`` means untrained: that path is
tested as shipped).

No work is done twice. Every pair runs against ONE artifact cache (content-addressed keys, a file lock per key),
so a step that two pairs plan identically (the same training on two targets, the same trained model under four
strategies) is computed once and taken from the cache by the other: a pair whose plan is wholly cached runs no
pass. Recipes that train the same model (equal ``model`` and ``dataset`` sections once composed) form a family
that one child runs from start to end, so two children never wait on each other's lock for the same training.
Families go into a queue, largest first, and the children (``python run_matrix.py QUEUE.json OUT.json CACHE
RUNS``) take the next family whenever they finish one, so both cores stay busy to the end. Each child keeps its
backend workers alive across pairs, so frameworks are imported once per child.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import traceback
from dataclasses import asdict, dataclass
from io import StringIO
from pathlib import Path
from typing import Any

import yaml

__all__ = ["PairOutcome", "discover", "families", "results_problem", "run_matrix", "smoke_overrides", "violation"]

ROOT = Path(__file__).resolve().parents[1]
#: architectures with a width multiplier that the matrix narrows (resnet50 has none)
_NARROWABLE = ("mobilenet_v1", "mobilenet_v2", "yolov3_mobilenet_v1", "deeplabv3_mnv2", "fastscnn")


@dataclass
class PairOutcome:
    recipe: str
    target: str
    overrides: list[str]
    #: "accepted" | "refused" (RecipeError, exit 2) | "crashed" (any other exception while planning)
    plan: str
    #: None when not run; "ok" | "refused" (RecipeError, exit 2) | "failed" (a pass failed, exit 1) | "crashed"
    run: str | None = None
    message: str = ""
    #: the target's latencies come from a remote device (run may refuse when it cannot be reached)
    remote: bool = False
    #: the exit code of ``recipecc plan`` for a refused pair (2: one message, no traceback)
    plan_exit: int | None = None
    executed: int = 0
    seconds: float = 0.0
    log_tail: str = ""


def _on_the_host(target_file: Path) -> bool:
    """A target whose device is this machine (``device: host``): its runs measure here, nothing is estimated."""
    return bool(yaml.safe_load(target_file.read_text()).get("device") == "host")


def discover(*, host_only: bool = False) -> list[tuple[str, str]]:
    """Every (recipe, target) pair the project ships; with ``host_only``, only the targets on this machine."""
    recipes = sorted(p.stem for p in (ROOT / "recipes" / "recipe").glob("*.yaml"))
    files = sorted((ROOT / "targets").glob("*.yaml"))
    targets = [p.stem for p in files if not host_only or _on_the_host(p)]
    return [(recipe, target) for recipe in recipes for target in targets]


def smoke_overrides(recipe_name: str, target: str) -> list[str]:
    """Overrides that shrink ``recipe_name`` to smoke size without changing what it does."""
    from recipecc.plan.requirements import model_input
    from recipecc.recipe import compose_recipe, validate_recipe
    from recipecc.recipe.catalog import RUNTIMES

    recipe = validate_recipe(compose_recipe([f"recipe={recipe_name}", f"target={target}"]))
    model, data, strategy = recipe.model, recipe.dataset, recipe.strategy
    out = ["bench.warmup=1", "bench.repeats=3", "target.threads=[1]"]
    if model.train.epochs > 1:
        out.append("model.train.epochs=1")
    if model.arch in _NARROWABLE and model.width > 0.25:
        out.append("model.width=0.25")
    if model.input_size is not None and model.input_size > 64:  # detectors: 608 as shipped, 64 is their smallest
        out.append("model.input_size=64")
    if data.max_images is not None and data.max_images > 8 and data.name != "digits":
        out.append("dataset.max_images=8")
    if data.name == "digits":
        smallest = max(8, model_input(model, "tf").min_size, model_input(model, "paddle").min_size)
        if data.image_size > smallest:
            out.append(f"dataset.image_size={smallest}")
        out.append("dataset.max_images=100")
    else:  # a user's folder or a generated set (segmentation shapes, ...): fewer and smaller images
        out += ["dataset.calibration_images=8", "dataset.eval_images=8"]
        if data.name != "image_folder":
            smallest = max(64, model_input(model, "paddle").min_size)
            if data.image_size > smallest:
                out.append(f"dataset.image_size={smallest}")
            if data.max_images is None or data.max_images > 50:
                out.append("dataset.max_images=50")
    if strategy.finetune is not None and strategy.finetune.epochs > 1:
        out.append("strategy.finetune.epochs=1")
    if strategy.quant is not None:
        out += ["strategy.quant.batch_nums=1", "strategy.quant.batch_size=16", "strategy.quant.epochs=1"]
        if strategy.quant.algo == "auto" and RUNTIMES[recipe.target.runtime].backend == "onnx":
            # ORT's `auto` calibrates, scores and times six candidates (covered by its own tests): one here
            out.append("strategy.quant.algo=minmax")
    if strategy.prune is not None and strategy.prune.criterion == "magnitude":
        out.append("strategy.prune.frequency=1")  # tfmot prunes every `frequency` steps: a smoke finetune has few
    if strategy.sensitivity is not None:  # layers x ratios evaluations: the largest ratio alone keeps the target
        out += ["strategy.sensitivity.images=8", f"strategy.sensitivity.ratios=[{max(strategy.sensitivity.ratios)}]"]
    return out


def _run_pair(recipe_name: str, target: str, cache: Path, out_dir: Path, workers: Any) -> PairOutcome:
    from rich.console import Console

    from recipecc.engine import run_recipe
    from recipecc.plan import build_plan
    from recipecc.recipe import compose_recipe, validate_recipe
    from recipecc.recipe.errors import RecipeError
    from recipecc.recipe.targets import resolve_target
    from recipecc.worker import PassError

    started = time.perf_counter()
    outcome = PairOutcome(recipe_name, target, [], plan="crashed")
    overrides = [f"recipe={recipe_name}", f"target={target}", f"cache_dir={cache}"]
    try:
        outcome.overrides = smoke_overrides(recipe_name, target)
        overrides += outcome.overrides
        recipe = validate_recipe(compose_recipe(overrides))
        build_plan(recipe)
        outcome.remote = resolve_target(recipe.target).measurer == "measured-remote"
    except RecipeError as exc:
        outcome.plan, outcome.message = "refused", str(exc)
        outcome.plan_exit = _cli_plan_exit(overrides)
        return outcome
    except Exception:
        outcome.message = traceback.format_exc()
        return outcome
    outcome.plan = "accepted"
    log = StringIO()
    try:
        result = run_recipe(recipe, out_dir / f"{recipe_name}@{target}", Console(file=log, width=160), workers=workers)
        outcome.run, outcome.executed = "ok", len(result.executed)
        problem = results_problem(result.run_dir / "results.json")
        if problem:
            outcome.run, outcome.message = "failed", problem
    except RecipeError as exc:
        outcome.run, outcome.message = "refused", str(exc)
    except PassError as exc:
        outcome.run, outcome.message = "failed", f"{exc}\n{exc.detail[-1500:]}"
    except Exception:
        outcome.run, outcome.message = "crashed", traceback.format_exc()[-3000:]
    outcome.executed = outcome.executed or log.getvalue().count(" done in ")
    outcome.seconds = round(time.perf_counter() - started, 1)
    outcome.log_tail = log.getvalue()[-1500:]
    return outcome


def _cli_plan_exit(overrides: list[str]) -> int:
    """The exit code of ``recipecc plan OVERRIDES`` (the CLI's entry point, in this process: no start-up cost)."""
    from contextlib import redirect_stderr, redirect_stdout

    from recipecc.cli import main

    with redirect_stdout(StringIO()), redirect_stderr(StringIO()):
        return main(["plan", *overrides])


def results_problem(path: Path) -> str | None:
    """What is missing from a run's ``results.json``: every stage needs its size, a latency per thread (measured
    or estimated, with its source) and its headline quality metric, or a note saying why quality is unmeasurable."""
    if not path.is_file():
        return "no results.json written"
    results = json.loads(path.read_text())
    if not results.get("stages"):
        return "results.json has no stages"
    threads = set((results.get("latency_table") or {}).get("threads") or [1])
    for stage in results["stages"]:
        name = stage.get("name")
        if not stage.get("size_bytes", 0) > 0:
            return f"stage {name}: no size"
        latency = stage.get("latency") or []
        timed = {row.get("threads") for row in latency if (row.get("median_ms") or 0) > 0 and row.get("source")}
        if not threads <= timed:
            return f"stage {name}: latency for threads {sorted(timed, key=str)}, the target asks {sorted(threads)}"
        headline = stage.get("headline_metric")
        if not stage.get("quality_note") and (headline is None or headline not in stage.get("metrics", {})):
            return f"stage {name}: no quality figure ({headline} not in {sorted(stage.get('metrics', {}))})"
    return None


def violation(o: PairOutcome) -> str | None:
    """Why ``o`` breaks "a plan either runs or is refused at plan time", or None."""
    where = f"recipe={o.recipe} target={o.target} ({' '.join(o.overrides)})"
    if o.plan == "crashed":
        return f"{where}: planning raised instead of refusing with exit 2:\n{o.message}"
    if o.plan == "refused":
        return None if o.plan_exit == 2 else f"{where}: refused, but `recipecc plan` exited {o.plan_exit}: {o.message}"
    if o.run == "ok":
        return None
    if o.run == "refused" and o.remote and o.executed == 0:
        return None  # a remote device out of reach: `plan` shows the plan, `run` refuses before starting
    return f"{where}: plan accepted, run {o.run} after {o.seconds} s:\n{o.message}\n{o.log_tail}"


def _claim_next(queue_file: Path) -> list[list[str]] | None:
    """Take the first family off the shared queue (None when it is empty)."""
    from filelock import FileLock

    while not queue_file.is_file():  # the parent groups the families while the children start
        time.sleep(0.1)
    with FileLock(f"{queue_file}.lock"):
        queue = json.loads(queue_file.read_text())
        if not queue:
            return None
        queue_file.write_text(json.dumps(queue[1:]))
    family: list[list[str]] = queue[0]
    return family


def _child(queue_file: Path, result_file: Path, cache: Path, out_dir: Path) -> None:
    """Run families from the queue, one after the other, with shared backend workers, until the queue is empty."""
    import logging

    from recipecc.worker import BackendWorkers

    logging.disable(logging.WARNING)
    claimed: list[list[str]] = []
    outcomes: list[dict[str, Any]] = []
    with BackendWorkers() as workers:
        while (family := _claim_next(queue_file)) is not None:
            claimed += family
            for recipe_name, target in family:
                result_file.write_text(json.dumps({"claimed": claimed, "outcomes": outcomes}))
                outcomes.append(asdict(_run_pair(recipe_name, target, cache, out_dir, workers)))
            # partial results survive a crash of this process: its claimed pairs without outcome are reported
            result_file.write_text(json.dumps({"claimed": claimed, "outcomes": outcomes}))


def families(pairs: list[tuple[str, str]]) -> list[list[tuple[str, str]]]:
    """``pairs`` grouped by what their recipes train: recipes whose composed ``model`` and ``dataset`` sections are
    equal share their trained models (the same cache keys), so their pairs belong to one child. Largest first."""
    from omegaconf import OmegaConf

    from recipecc.recipe import compose_recipe

    trains: dict[str, str] = {}
    grouped: dict[str, list[tuple[str, str]]] = {}
    for recipe_name, target in pairs:
        if recipe_name not in trains:
            composed = compose_recipe([f"recipe={recipe_name}"])
            sections = {name: OmegaConf.to_container(composed[name], resolve=True) for name in ("model", "dataset")}
            trains[recipe_name] = json.dumps(sections, sort_keys=True, default=str)
        grouped.setdefault(trains[recipe_name], []).append((recipe_name, target))
    return sorted(grouped.values(), key=lambda family: (-len(family), family))


def run_matrix(pairs: list[tuple[str, str]], work: Path, processes: int = 2) -> list[PairOutcome]:
    """Run ``pairs`` in ``processes`` children sharing one cache and one queue of :func:`families`."""
    work.mkdir(parents=True, exist_ok=True)
    queue_file, cache, out_dir = work / "queue.json", work / "cache", work / "runs"
    children = []
    for index in range(processes):
        result_file = work / f"result{index}.json"
        command = [sys.executable, __file__, str(queue_file), str(result_file), str(cache), str(out_dir)]
        log = (work / f"child{index}.log").open("w")
        children.append((subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT), result_file))
    queue: list[list[tuple[str, str]]] = []
    try:
        queue = families(pairs)
    finally:  # written whatever happens (then empty), so the children never wait for it forever
        (work / "queue.json.tmp").write_text(json.dumps(queue))
        (work / "queue.json.tmp").replace(queue_file)
    outcomes: list[PairOutcome] = []
    for child, result_file in children:
        child.wait()
        record = json.loads(result_file.read_text()) if result_file.is_file() else {"claimed": [], "outcomes": []}
        done = [PairOutcome(**o) for o in record["outcomes"]]
        outcomes += done
        for recipe_name, target in record["claimed"][len(done) :]:  # the child died: its claimed pairs did not run
            outcomes.append(
                PairOutcome(recipe_name, target, [], "accepted", "crashed", f"matrix child exited {child.returncode}")
            )
    for family in json.loads(queue_file.read_text()):  # every child died before the queue was empty
        for recipe_name, target in family:
            outcomes.append(
                PairOutcome(recipe_name, target, [], "accepted", "crashed", "no matrix child left to run it")
            )
    return outcomes


if __name__ == "__main__":
    _child(*(Path(arg) for arg in sys.argv[1:5]))
