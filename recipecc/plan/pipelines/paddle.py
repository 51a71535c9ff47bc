"""The paddle pipeline: PaddleSlim pruning and quantization, Paddle inference export, Paddle Inference benchmarks.

    data -> train | load -> export -------------------------------> bench.baseline
                        \\-> [sensitivity] -> prune -> finetune -> export.pruned -> bench.pruned
                                         quantize (PTQ) or qat <-/       \\-> bench.<stage>+int8

A user's inference model (``model.arch=file``) enters through ``import`` and can be quantized and benchmarked;
structured pruning needs the network itself (a named architecture, with ``model.path`` pointing at its
``.pdparams`` checkpoint). ``model_stages`` (the fp32 part) is reused by pipelines that convert paddle models for
other runtimes.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from recipecc.common.selection import SelectionError, known_convolutions, resolve_ratios
from recipecc.plan.builder import PlanBuilder, Stage
from recipecc.plan.cache import fingerprint_path
from recipecc.plan.format_targets import targets_reading
from recipecc.plan.neutral import SEARCH_TIMED_CANDIDATES
from recipecc.plan.requirements import data_node, model_input, warn_untrained
from recipecc.recipe.catalog import Runtime
from recipecc.recipe.errors import RecipeError

__all__ = ["build", "model_stages", "quantizable_op_types", "quantize"]

PADDLE_CALIBRATION_ALGOS = ("avg", "hist", "KL", "mse", "abs_max")

#: Operator types PaddleSlim's static PTQ quantizes by default (weights and inputs).
PADDLESLIM_QUANTIZABLE = ("conv2d", "depthwise_conv2d", "conv2d_transpose", "mul", "matmul", "matmul_v2")

#: What each int8 runtime can run of them. Paddle Inference 2.6's oneDNN int8 path (``quant_dequant_mkldnn_pass``)
#: turns the int8 weights of an ONNX-format model back into floats only for conv2d, depthwise_conv2d, mul, matmul
#: and matmul_v2, and has no int8 ``conv2d_transpose`` kernel: a quantized transposed convolution keeps int8
#: weights that its fp32 kernel then reads ("The type of data we are trying to retrieve (float32) does not match
#: the type of data (int8)"; the DB head of a PP-OCR text detector has two). Paddle Lite and TensorRT take all six.
RUNTIME_INT8_OPS: dict[str, tuple[str, ...]] = {
    "paddle_inference": ("conv2d", "depthwise_conv2d", "mul", "matmul", "matmul_v2"),
}


def _detect_file_format(path: str, declared: str | None) -> str:
    if declared is not None:
        return declared
    lowered = path.lower()
    if lowered.endswith(".pdparams"):
        return "paddle_dygraph"
    if lowered.endswith(".onnx"):
        return "onnx"
    if lowered.endswith((".tflite", ".keras", ".h5")):
        return "tflite" if lowered.endswith(".tflite") else "keras"
    return "paddle"


def _source_model(b: PlanBuilder, data: str) -> tuple[str, str]:
    """The node giving the baseline network, and its kind: "dygraph" (can be pruned) or "inference"."""
    recipe = b.recipe
    model = recipe.model
    if model.arch == "file":
        assert model.path is not None  # validated
        fmt = _detect_file_format(model.path, model.format)
        if fmt != "paddle":
            raise RecipeError(
                f"model.path '{model.path}' is a {fmt} model; the paddle pipeline (target '{recipe.target.name}') "
                "reads Paddle inference models",
                key="model.format",
                value=fmt,
                valid=f"a Paddle inference model (folder or .pdmodel), or {targets_reading(fmt)}",
            )
        node = b.add(
            "import",
            "paddle.import",
            {
                "path": model.path,
                "fingerprint": fingerprint_path(model.path),
                "input_shape": model.input_shape,
            },
        )
        b.check("model", "ok", f"Paddle inference model from {model.path} (not trained here)")
        return node, "inference"
    params: dict[str, Any] = {
        "arch": model.arch,
        "width": model.width,
        "num_classes": model.num_classes,
        "seed": recipe.seed,
        **asdict(model.train),
        **b.task_params(),
    }
    if model.arch == "deeplabv3_mnv2":
        params["output_stride"] = model.output_stride
    if model.path is not None:
        fmt = _detect_file_format(model.path, model.format)
        if fmt != "paddle_dygraph":
            raise RecipeError(
                f"model.path '{model.path}' with model.arch={model.arch}: expected a .pdparams checkpoint of that "
                f"architecture, got a {fmt} file",
                key="model.path",
                value=model.path,
                valid="a .pdparams checkpoint, or model.arch=file for an inference model",
            )
        params |= {"checkpoint": model.path, "checkpoint_fingerprint": fingerprint_path(model.path), "epochs": 0}
        if model.trusted:  # the command line vouched for a pickle that is more than arrays
            params["trusted"] = True
        b.check("model", "ok", f"{model.arch} with weights from {model.path} (not trained here)")
    else:
        warn_untrained(b)
    return b.add("train", "paddle.train", params, {"data": data}), "dygraph"


def _selectors(b: PlanBuilder) -> None:
    """Check the pruning selectors against the built-in architecture's layer names, before anything runs."""
    prune = b.recipe.strategy.prune
    assert prune is not None
    convolutions = known_convolutions(b.recipe.model.arch)
    if convolutions is None:
        return
    try:
        ratios, matches = resolve_ratios(convolutions, prune.layers, prune.ratio, prune.per_layer)
    except SelectionError as exc:
        raise RecipeError(
            str(exc).split("; convolutions:")[0],
            key="strategy.prune.layers",
            value=list(prune.layers),
            valid=f"patterns over {b.recipe.model.arch}'s convolutions, e.g. {convolutions[0]}, "
            f"{convolutions[-1]}, '*'",
        ) from None
    counts = ", ".join(f"'{pattern}' {count}" for pattern, count in matches.items())
    b.check("prune selectors", "ok", f"{len(ratios)} of {len(convolutions)} convolutions selected ({counts})")


def model_stages(b: PlanBuilder, data: str) -> list[Stage]:
    """Nodes up to the fp32 Paddle inference models: the baseline, and the pruned model if the recipe prunes."""
    recipe = b.recipe
    strategy = recipe.strategy
    source, kind = _source_model(b, data)
    if kind == "inference":
        if (
            strategy.prune is not None
            or strategy.sensitivity is not None
            or (strategy.quant is not None and strategy.quant.mode == "qat")
        ):
            raise RecipeError(
                "structured pruning, sensitivity analysis and QAT need the network itself, not an inference model",
                key="strategy",
                value=strategy.name,
                valid="a strategy without prune/qat for model.arch=file, or model.arch=<architecture> with "
                "model.path=<checkpoint.pdparams>",
            )
        return [Stage("baseline", source, "fp32")]
    stages = [Stage("baseline", b.add("export", "paddle.export", {"stage": "baseline"}, {"model": source}), "fp32")]
    prune = strategy.prune
    if strategy.sensitivity is not None and prune is None:
        raise RecipeError(
            "strategy.sensitivity needs strategy.prune (its criterion and layers)",
            key="strategy.sensitivity",
            valid="a strategy with prune, e.g. strategy=sensitive",
        )
    if prune is not None:
        if prune.criterion not in ("l1_norm", "fpgm"):
            raise RecipeError(
                f"strategy.prune.criterion = '{prune.criterion}' is not available on paddle (filter pruning)",
                key="strategy.prune.criterion",
                value=prune.criterion,
                valid=["l1_norm", "fpgm"],
            )
        _selectors(b)
        params: dict[str, Any] = {
            "criterion": prune.criterion,
            "ratio": prune.ratio,
            "layers": list(prune.layers),
            "per_layer": dict(prune.per_layer),
        }
        inputs = {"model": source}
        sens = strategy.sensitivity
        if sens is not None:
            inputs["sensitivity"] = b.add(
                "sensitivity",
                "paddle.sensitivity",
                {
                    "criterion": prune.criterion,
                    "ratios": list(sens.ratios),
                    "layers": list(prune.layers),
                    "images": sens.images,
                    "labels": b.labels_score_model(),
                    **b.task_params(),
                },
                {"model": source, "data": data},
                carries="sensitivity",
            )
            params |= {"target": sens.target, "value": sens.value, "align": sens.align}
            b.check("sensitivity", "ok", f"per-layer ratios from sensitivity: {sens.target} {sens.value}")
        pruned = b.add("prune", "paddle.prune", params, inputs, carries="prune")
        tuned = pruned
        if strategy.finetune is not None and strategy.finetune.epochs > 0:
            tuned = b.add(
                "finetune",
                "paddle.finetune",
                {**asdict(strategy.finetune), "seed": recipe.seed, **b.task_params()},
                {"model": pruned, "data": data},
            )
        else:
            b.check("finetune", "skip", "no finetune after pruning: accuracy may drop")
        stages.append(
            Stage("pruned", b.add("export.pruned", "paddle.export", {"stage": "pruned"}, {"model": tuned}), "fp32")
        )
    elif strategy.finetune is not None:
        b.check("finetune", "skip", "strategy.finetune is set but nothing is pruned: skipped")
    return stages


def _dygraph_of(b: PlanBuilder, stage: Stage) -> str:
    """The dygraph node an exported stage came from (QAT trains the network, not the exported program)."""
    node = next(n for n in b.nodes if n.id == stage.node)
    return node.inputs["model"]


def quantize(b: PlanBuilder, source: Stage, data: str) -> Stage:
    """int8 with PaddleSlim: static PTQ of the exported model, or QAT of the network."""
    quant = b.recipe.strategy.quant
    assert quant is not None
    suffix = {"ptq_static": "int8", "ptq_dynamic": f"w-int{quant.bits}"}.get(quant.mode, quant.mode)
    name = suffix if source.name == "baseline" else f"{source.name}+{suffix}"
    if quant.mode not in ("ptq_static", "qat", "ptq_dynamic"):
        raise RecipeError(
            f"strategy.quant.mode = '{quant.mode}' is not available on {b.recipe.target.runtime}",
            key="strategy.quant.mode",
            value=quant.mode,
            valid=["ptq_static", "qat", "ptq_dynamic"],
        )
    if quant.mode == "ptq_dynamic":
        b.check(
            "weight-only",
            "warn",
            "ptq_dynamic on paddle is weight-only quantization for Paddle Lite (Paddle Inference returns NaN on "
            "its models): the report gives the shipped model's size and the accuracy and latency of its "
            "dequantized twin (fp32 compute); expect smaller files, not faster inference",
        )
        node = b.add("quantize", "paddle.weight_only", {"bits": quant.bits}, {"model": source.node}, carries="quant")
        return Stage(name, node, f"int{quant.bits}-weights")
    if quant.bits != 8:
        raise RecipeError(
            f"strategy.quant.bits = {quant.bits}: PaddleSlim int8 quantization for Paddle Inference is 8-bit only "
            "(weight-only ptq_dynamic takes 8 or 16)",
            key="strategy.quant.bits",
            value=quant.bits,
            valid=["8"],
        )
    params: dict[str, Any]
    if quant.mode == "qat":
        params = {
            "epochs": quant.epochs,
            "lr": quant.lr,
            "batch_size": b.recipe.model.train.batch_size,
            "weight_per_channel": quant.weight_per_channel,
            "seed": b.recipe.seed,
            **b.task_params(),
        }
        node = b.add("qat", "paddle.qat", params, {"model": _dygraph_of(b, source), "data": data}, carries="quant")
        return Stage(name, node, "int8")
    algo = quant.paddle.algo  # plan/neutral.py has mapped the neutral strategy.quant.algo onto it
    if algo not in (*PADDLE_CALIBRATION_ALGOS, "search"):
        raise RecipeError(
            f"strategy.quant.paddle.algo = '{algo}' is not a PaddleSlim calibration algorithm",
            key="strategy.quant.paddle.algo",
            value=algo,
            valid=PADDLE_CALIBRATION_ALGOS,
        )
    search: dict[str, Any] = {}
    if algo == "search":
        why = (
            f"calibration chosen for this model: PaddleSlim {', '.join(PADDLE_CALIBRATION_ALGOS)} "
            f"({'per-channel' if quant.weight_per_channel else 'per-tensor'} weights), each calibrated on the "
            "calibration images, run in Paddle Inference with oneDNN int8 on training images calibration did not "
            f"see and scored against fp32 (cosine; with IoU for dense maps); the {SEARCH_TIMED_CANDIDATES} "
            "best-scoring and fp32 are timed at 1 thread and the best-scoring one faster than fp32 is kept (all "
            "candidates in the report)"
        )
        b.check("strategy.quant", "ok", f"algo search: {why}")
        search = {
            "candidates": list(PADDLE_CALIBRATION_ALGOS),
            "timed_candidates": SEARCH_TIMED_CANDIDATES,
            "why": why,
        }
    params = {
        "mode": quant.mode,
        "bits": quant.bits,
        "algo": algo,
        "weight_per_channel": quant.weight_per_channel,
        "batch_nums": quant.batch_nums,
        "batch_size": quant.batch_size,
        "seed": b.recipe.seed,
        "op_types": quantizable_op_types(b),
        **search,
    }
    node = b.add("quantize", "paddle.ptq", params, {"model": source.node, "data": data}, carries="quant")
    return Stage(name, node, "int8")


def quantizable_op_types(b: PlanBuilder) -> list[str]:
    """The operator types static PTQ quantizes: ``strategy.quant.op_types`` or all the target's runtime runs in int8."""
    quant = b.recipe.strategy.quant
    assert quant is not None
    runtime = b.recipe.target.runtime
    runnable = RUNTIME_INT8_OPS.get(runtime, PADDLESLIM_QUANTIZABLE)
    if not quant.op_types:
        left_out = [op for op in PADDLESLIM_QUANTIZABLE if op not in runnable]
        detail = f"int8 for {', '.join(runnable)}"
        if left_out:
            detail += f"; {', '.join(left_out)} stay fp32 ({runtime} has no int8 path for them)"
        b.check("quant.op_types", "ok", detail)
        return list(runnable)
    for op in quant.op_types:
        if op not in runnable:
            reason = (
                f"{runtime} cannot run a PaddleSlim-quantized {op}"
                if op in PADDLESLIM_QUANTIZABLE
                else f"'{op}' is not an operator type PaddleSlim quantizes"
            )
            raise RecipeError(
                f"strategy.quant.op_types: {reason}",
                key="strategy.quant.op_types",
                value=op,
                valid=list(runnable),
            )
    b.check("quant.op_types", "ok", f"int8 for {', '.join(quant.op_types)} (strategy.quant.op_types)")
    return list(quant.op_types)


def build(b: PlanBuilder, runtime: Runtime) -> None:
    data = data_node(b, model_input(b.recipe.model, "paddle"))
    stages = model_stages(b, data)
    if b.recipe.strategy.quant is not None:
        stages.append(quantize(b, stages[-1], data))
    for stage in stages:
        b.bench(stage, "paddle.bench", data)
