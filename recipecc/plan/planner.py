"""Build the execution plan of a validated recipe on its target, deciding legality before anything runs.

The target's runtime picks the backend pipeline (``pipelines/<backend>.py``) that turns the recipe into nodes;
checks common to every backend (precision support, threads, device, backend installed) are made here. Illegal
combinations raise a :class:`RecipeError`, so the user hears about them before the first pass starts.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import asdict, replace
from typing import cast

from recipecc.paths import cache_root, targets_dir
from recipecc.plan.builder import PlanBuilder
from recipecc.plan.cache import canonical_json, tool_versions
from recipecc.plan.cpu_checks import check_int8_cpu
from recipecc.plan.estimates import plan_estimates
from recipecc.plan.graph import Plan
from recipecc.plan.neutral import resolve_neutral
from recipecc.plan.pipelines import PIPELINES
from recipecc.plan.registry import BACKEND_EXTRAS
from recipecc.plan.requirements import STRATEGY_SECTIONS, check_strategy_carried
from recipecc.recipe.catalog import RUNTIMES, Runtime
from recipecc.recipe.errors import RecipeError
from recipecc.recipe.schema import RecipeConfig, TargetConfig
from recipecc.recipe.targets import ResolvedTarget, resolve_target
from recipecc.tasks import TASKS

__all__ = ["build_plan", "recipe_hash"]

#: distributions whose versions show that a backend is installed (read from metadata; nothing is imported)
_BACKEND_DISTRIBUTIONS = {
    "paddle": ("paddlepaddle", "paddleslim"),
    "onnx": ("onnx", "onnxruntime"),
    "tf": ("tensorflow", "tf-keras", "tensorflow-model-optimization", "ai-edge-litert"),
}


def _targets_running(precision: str) -> list[str]:
    """Names of the shipped targets whose runtime runs ``precision`` (for the error that suggests one)."""
    from omegaconf import OmegaConf

    names = []
    for path in sorted(targets_dir().glob("*.yaml")):
        runtime = RUNTIMES.get(str(OmegaConf.select(OmegaConf.load(path), "runtime", default="")))
        if runtime is not None and runtime.backend in PIPELINES and precision in runtime.precisions:
            names.append(path.stem)
    return names


def recipe_hash(recipe: RecipeConfig) -> str:
    """A hash of everything that changes results (free-text descriptions and a sweep's objective do not)."""
    data = asdict(recipe)
    data.pop("description", None)
    data.pop("objective", None)  # what a sweep optimises changes no result of the run
    data["target"].pop("description", None)
    return hashlib.sha256(canonical_json(data).encode()).hexdigest()[:16]


def _precision_of(recipe: RecipeConfig) -> str | None:
    quant = recipe.strategy.quant
    if quant is None:
        return None
    return "fp16" if quant.mode == "fp16" else f"int{quant.bits}"


def _task_detail(b: PlanBuilder) -> str:
    task = TASKS.get(b.task)
    if task is None:  # "auto": a user's model of unknown task
        return (
            "task not given (model.task): scored as classification if the data has class labels, otherwise every "
            "output is compared with the baseline's by its shape (agreement, IoU, error)"
        )
    return f"{task.name}: {task.description}; headline {task.headline_label} ({task.headline})"


def _target_checks(b: PlanBuilder, target: ResolvedTarget) -> None:
    """Threads, measurer and format conversion: what the plan tells the user about where latency comes from."""
    cores = os.cpu_count() or 1
    threads = list(target.threads)
    if target.measurer == "measured-host" and max(threads) > cores:
        too_many = [t for t in threads if t > cores]
        b.check("threads", "warn", f"threads {too_many} exceed this host's {cores} cores: latency will be inflated")
    else:
        b.check("threads", "ok", f"latency at threads {threads}")
    how = {
        "measured-host": "measured on this machine",
        "measured-remote": f"measured on the device over SSH ({target.ssh_host}:{target.ssh_port}) with its own "
        f"{target.runtime.label or target.runtime.name}",
        "estimated": "estimated (no such device here): analytic model of the exported graph, calibrated on "
        "published measurements; accuracy is measured here on the model before conversion",
    }[target.measurer]
    b.check("measurer", "ok", f"{target.device.name} ({target.describe()}): latency {how}")
    conversion = target.runtime.conversion
    if conversion is not None:
        who = "on the device at load time" if conversion.where == "device" else "with your toolchain"
        b.check(
            "conversion",
            "warn" if conversion.where == "toolchain" else "ok",
            f"{target.runtime.name} needs {conversion.tool} ({conversion.from_format} -> "
            f"{target.runtime.model_format}), run {who}: {conversion.why}",
        )


def _common_checks(b: PlanBuilder, runtime: Runtime, resolved: ResolvedTarget) -> None:
    recipe = b.recipe
    target = recipe.target
    if runtime.backend not in PIPELINES:
        raise RecipeError(
            f"target '{target.name}' runs '{runtime.name}' (backend '{runtime.backend}'), which this version of "
            "recipecc cannot execute",
            key="target",
            value=target.name,
            valid=[name for name, rt in RUNTIMES.items() if rt.backend in PIPELINES],
        )
    b.check("runtime", "ok", f"target '{target.name}' runs {runtime.name}: {runtime.description}")
    b.check_task_data()
    b.check("task", "ok", _task_detail(b))
    precision = _precision_of(recipe)
    if precision is not None:
        if precision not in runtime.precisions:
            capable = _targets_running(precision)
            raise RecipeError(
                f"target '{target.name}' cannot run strategy '{recipe.strategy.name}': its runtime {runtime.name} "
                f"runs {', '.join(runtime.precisions)}, not {precision}",
                key="target",
                value=target.name,
                valid=f"a target whose runtime runs {precision} ({', '.join(capable) or 'none'}), "
                "or a strategy without quant",
            )
        quant = recipe.strategy.quant
        assert quant is not None
        b.check("precision", "ok", f"{runtime.name} runs {precision} ({quant.mode})")
        if quant.mode != "ptq_dynamic":  # weight-only models are measured through an fp32 twin
            check_int8_cpu(b, runtime.name, resolved.measurer, precision)
    _target_checks(b, resolved)
    versions = tool_versions(_BACKEND_DISTRIBUTIONS.get(runtime.backend, ()))
    missing = [name for name, version in versions.items() if version == "not-installed"]
    detail = (
        f"{', '.join(missing)} not installed: pip install -e '.[{BACKEND_EXTRAS.get(runtime.backend, '')}]'"
        if missing
        else ", ".join(f"{k} {v}" for k, v in versions.items())
    )
    b.check("backend", "warn" if missing else "ok", f"{runtime.backend}: {detail}")


def _shipped_targets() -> list[TargetConfig]:
    from omegaconf import OmegaConf

    found = []
    for path in sorted(targets_dir().glob("*.yaml")):
        try:
            merged = OmegaConf.merge(OmegaConf.structured(TargetConfig), OmegaConf.load(path))
            found.append(cast(TargetConfig, OmegaConf.to_object(merged)))
        except Exception:  # a malformed target file is reported when it is used, not here
            continue
    return found


def _build_nodes(recipe: RecipeConfig) -> PlanBuilder:
    resolved = resolve_target(recipe.target)
    runtime = resolved.runtime
    builder = PlanBuilder(recipe, target=resolved)
    _common_checks(builder, runtime, resolved)
    resolve_neutral(builder, runtime)
    PIPELINES[runtime.backend](builder, runtime)
    plan_estimates(builder)
    return builder


def _targets_carrying(recipe: RecipeConfig) -> list[str]:
    """The shipped targets whose pipeline carries out every strategy section of ``recipe`` (for the refusal)."""
    names = []
    for target in _shipped_targets():
        if target.runtime not in RUNTIMES or target.name == recipe.target.name:
            continue
        try:
            builder = _build_nodes(replace(recipe, target=target))
        except RecipeError:
            continue
        if all(getattr(recipe.strategy, name) is None or name in builder.carried for name in STRATEGY_SECTIONS):
            names.append(target.name)
    return names


def build_plan(recipe: RecipeConfig) -> Plan:
    """The plan that ``recipecc run`` executes for ``recipe`` (already validated)."""
    builder = _build_nodes(recipe)
    if builder.unmeasurable:
        builder.check(
            "quality",
            "warn",
            f"quality cannot be measured for {', '.join(builder.unmeasurable)}: the baseline is untrained (random "
            "weights) and these stages are trained on the data, so agreement with the baseline measures nothing; "
            "sizes, FLOPs and latencies stand. For a quality figure give a trained baseline: model.path=<weights> "
            "or model.train.epochs > 0",
        )
    if any(getattr(recipe.strategy, name) is not None and name not in builder.carried for name in STRATEGY_SECTIONS):
        check_strategy_carried(builder, _targets_carrying(recipe))
    return Plan(
        recipe_name=recipe.name,
        target_name=recipe.target.name,
        recipe_hash=recipe_hash(recipe),
        cache_root=str(cache_root(recipe.cache_dir)),
        nodes=tuple(builder.nodes),
        checks=tuple(builder.checks),
        quality_notes=dict(builder.unmeasurable),
    )
