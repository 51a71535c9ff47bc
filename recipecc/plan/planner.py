"""Build the execution plan of a validated recipe on its target, deciding legality before anything runs.

The DAG for a classification recipe::

    data -> train -> export ---------------------------> bench.baseline
                 \\-> prune -> finetune -> export.pruned -> bench.pruned
                                   quantize (PTQ) <-/   \\-> bench.<stage>+int8
    every bench node -> report (rendered by the engine, never cached)

Legality (can the target's runtime run this precision? is there a backend for it?) raises a
:class:`RecipeError`, so the user hears about it before the first pass starts.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

from recipecc.paths import cache_root, targets_dir
from recipecc.plan.cache import cache_key, canonical_json, fingerprint_path, tool_versions
from recipecc.plan.graph import Check, Plan, PlanNode
from recipecc.plan.registry import PASSES
from recipecc.recipe.catalog import ARCHITECTURES, RUNTIMES, Runtime
from recipecc.recipe.errors import RecipeError
from recipecc.recipe.schema import RecipeConfig

__all__ = ["build_plan", "recipe_hash"]

#: backends whose passes are implemented in this version of recipecc
IMPLEMENTED_BACKENDS = ("paddle",)


def _targets_running(precision: str) -> list[str]:
    """Names of the shipped targets whose runtime runs ``precision`` (for the error that suggests one)."""
    from omegaconf import OmegaConf

    names = []
    for path in sorted(targets_dir().glob("*.yaml")):
        runtime = RUNTIMES.get(str(OmegaConf.select(OmegaConf.load(path), "runtime", default="")))
        if runtime is not None and precision in runtime.precisions:
            names.append(path.stem)
    return names


def recipe_hash(recipe: RecipeConfig) -> str:
    """A hash of everything that changes results (the free-text description does not)."""
    data = asdict(recipe)
    data.pop("description", None)
    data["target"].pop("description", None)
    return hashlib.sha256(canonical_json(data).encode()).hexdigest()[:16]


class _Builder:
    def __init__(self) -> None:
        self.nodes: list[PlanNode] = []
        self.keys: dict[str, str] = {}

    def add(
        self,
        node_id: str,
        pass_name: str,
        params: Mapping[str, Any],
        inputs: Mapping[str, str] | None = None,
        stage: str | None = None,
    ) -> str:
        spec = PASSES[pass_name]
        inputs = dict(inputs or {})
        key = cache_key(
            pass_name,
            spec.version,
            params,
            {name: self.keys[src] for name, src in inputs.items()},
            tool_versions(spec.tools),
        )
        self.keys[node_id] = key
        self.nodes.append(PlanNode(node_id, pass_name, dict(params), inputs, key, stage))
        return node_id


def _runtime_checks(recipe: RecipeConfig, runtime: Runtime) -> list[Check]:
    target = recipe.target
    checks: list[Check] = []
    if runtime.backend not in IMPLEMENTED_BACKENDS:
        raise RecipeError(
            f"target '{target.name}' runs '{runtime.name}' (backend '{runtime.backend}'), which this version of "
            "recipecc cannot execute",
            key="target",
            value=target.name,
            valid=[name for name, rt in RUNTIMES.items() if rt.backend in IMPLEMENTED_BACKENDS],
        )
    checks.append(Check("runtime", "ok", f"target '{target.name}' runs {runtime.name}: {runtime.description}"))
    arch = ARCHITECTURES.get(recipe.model.arch)
    if arch is not None and arch.backend != runtime.backend:
        raise RecipeError(
            f"model.arch '{arch.name}' is a {arch.backend} model but target '{target.name}' runs {runtime.name} "
            f"({runtime.backend}); no conversion pass from {arch.backend} to {runtime.model_format} exists yet",
            key="target",
            value=target.name,
        )
    quant = recipe.strategy.quant
    if quant is not None:
        precision = f"int{quant.bits}"
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
        if quant.mode == "ptq_static" and quant.bits != 8:
            raise RecipeError(
                f"strategy.quant.bits = {quant.bits}: static post-training quantization on "
                f"{runtime.name} makes 8-bit models only",
                key="strategy.quant.bits",
                value=quant.bits,
                valid=["8"],
            )
        checks.append(Check("precision", "ok", f"{runtime.name} runs {precision} ({quant.mode}, algo {quant.algo})"))
    cores = os.cpu_count() or 1
    too_many = [t for t in target.threads if t > cores]
    if too_many and runtime.device == "cpu":
        checks.append(
            Check("threads", "warn", f"threads {too_many} exceed this host's {cores} cores: latency will be inflated")
        )
    else:
        checks.append(Check("threads", "ok", f"latency at threads {list(target.threads)}"))
    if runtime.device != "cpu":
        checks.append(
            Check("device", "warn", f"{runtime.device} device needed to measure; `run` refuses on a host without one")
        )
    versions = tool_versions(("paddlepaddle", "paddleslim"))
    missing = [name for name, version in versions.items() if version == "not-installed"]
    checks.append(
        Check(
            "backend",
            "warn" if missing else "ok",
            f"{runtime.backend}: "
            + (
                f"{', '.join(missing)} not installed: pip install 'recipecc[{runtime.backend}]'"
                if missing
                else ", ".join(f"{k} {v}" for k, v in versions.items())
            ),
        )
    )
    return checks


def build_plan(recipe: RecipeConfig) -> Plan:
    """The plan that ``recipecc run`` executes for ``recipe`` (already validated)."""
    runtime = RUNTIMES[recipe.target.runtime]
    checks = _runtime_checks(recipe, runtime)
    strategy = recipe.strategy
    model = recipe.model
    data_cfg = recipe.dataset
    bench = recipe.bench
    b = _Builder()

    data_params: dict[str, Any] = {
        "name": data_cfg.name,
        "image_size": data_cfg.image_size,
        "test_fraction": data_cfg.test_fraction,
        "seed": data_cfg.seed,
    }
    if data_cfg.root:
        data_params["root"] = data_cfg.root
        data_params["root_fingerprint"] = fingerprint_path(data_cfg.root)
    data = b.add("data", f"data.{data_cfg.name}", data_params)

    train = b.add(
        "train",
        "paddle.train",
        {
            "arch": model.arch,
            "width": model.width,
            "num_classes": model.num_classes,
            "seed": recipe.seed,
            **asdict(model.train),
        },
        {"data": data},
    )

    def bench_node(stage: str, model_node: str, precision: str) -> None:
        b.add(
            f"bench.{stage}",
            "paddle.bench",
            {
                "stage": stage,
                "precision": precision,
                "runtime": runtime.name,
                "threads": list(recipe.target.threads),
                "warmup": bench.warmup,
                "repeats": bench.repeats,
                "batch_size": bench.batch_size,
            },
            {"model": model_node, "data": data},
            stage=stage,
        )

    export = b.add("export", "paddle.export", {"stage": "baseline"}, {"model": train})
    bench_node("baseline", export, "fp32")
    last_fp32, last_stage = export, "baseline"

    if strategy.prune is not None:
        prune = b.add("prune", "paddle.prune", asdict(strategy.prune), {"model": train})
        tuned = prune
        if strategy.finetune is not None and strategy.finetune.epochs > 0:
            tuned = b.add(
                "finetune",
                "paddle.finetune",
                {**asdict(strategy.finetune), "seed": recipe.seed},
                {"model": prune, "data": data},
            )
        else:
            checks.append(Check("finetune", "skip", "no finetune after pruning: accuracy may drop"))
        last_fp32 = b.add("export.pruned", "paddle.export", {"stage": "pruned"}, {"model": tuned})
        last_stage = "pruned"
        bench_node("pruned", last_fp32, "fp32")
    elif strategy.finetune is not None:
        checks.append(Check("finetune", "skip", "strategy.finetune is set but nothing is pruned: skipped"))

    if strategy.quant is not None:
        quant = strategy.quant
        stage = "int8" if last_stage == "baseline" else f"{last_stage}+int8"
        quantized = b.add(
            "quantize",
            "paddle.ptq",
            {**asdict(quant), "seed": recipe.seed},
            {"model": last_fp32, "data": data},
        )
        bench_node(stage, quantized, "int8")

    return Plan(
        recipe_name=recipe.name,
        target_name=recipe.target.name,
        recipe_hash=recipe_hash(recipe),
        cache_root=str(cache_root(recipe.cache_dir)),
        nodes=tuple(b.nodes),
        checks=tuple(checks),
    )
