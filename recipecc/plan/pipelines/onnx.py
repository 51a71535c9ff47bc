"""The onnx pipeline: any ONNX model in, ONNX Runtime quantization / pruning, ONNX Runtime benchmarks.

    onnx file: data -> onnx.load -------------------------------------------> bench.baseline
                          [\\-> onnx.prune -------------------------------> bench.pruned]
                          \\-> [onnx.opset_upgrade] -> onnx.shape_prep -> onnx.quantize -> bench.int8
    paddle (built, or a user's inference model): data -> (paddle pipeline's fp32 stages) -> paddle.to_onnx per
            stage -> as above

Every pre-processing step a real exported model needs is a node of its own, so ``recipecc plan`` shows it:
the opset upgrade is inserted whenever per-channel QDQ is asked for on a user's file (the planner does not import
onnx to read the opset; the pass records a no-op when the opset is already >= 13), and quantization always reads
from the shape-inference pass. ``strategy.search`` adds one optional quantize + bench pair per candidate.

Defaults are the measured-good ones (``DEVELOPERS.md``): static QDQ, uint8 activations, int8 per-channel weights,
MinMax; PaddleSlim's calibration names in a shared strategy (``avg``, ``KL``, ...) map to their ORT counterparts,
and a plan check says what was chosen and why.
"""

from __future__ import annotations

import mmap
import re
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from recipecc.plan.builder import PlanBuilder, Stage
from recipecc.plan.cache import fingerprint_path
from recipecc.plan.format_targets import targets_reading
from recipecc.plan.neutral import AUTO, SEARCH, SEARCH_TIMED_CANDIDATES, calibration_method, check_backend_knobs
from recipecc.plan.pipelines.paddle import model_stages
from recipecc.plan.registry import PASSES
from recipecc.plan.requirements import data_node, model_input, warn_untrained
from recipecc.recipe.catalog import ARCHITECTURES, MODEL_FORMATS, Runtime
from recipecc.recipe.errors import RecipeError
from recipecc.recipe.schema import PruneConfig, QuantConfig

__all__ = ["CONVERT_OPSET", "QDQ_AXIS_OPSET", "build", "conv_share", "detect_format"]

#: opset for models this pipeline converts (paddle2onnx): new enough for per-channel QDQ
CONVERT_OPSET = 13
#: DequantizeLinear gets its ``axis`` attribute (per-channel) in opset 13
QDQ_AXIS_OPSET = 13

_SUFFIXES = {
    ".onnx": "onnx",
    ".pdmodel": "paddle",
    ".pdparams": "paddle_dygraph",
    ".tflite": "tflite",
    ".keras": "keras",
    ".h5": "keras",
}

_WHY_DEFAULT = (
    "static QDQ with uint8 activations is the form ONNX Runtime's CPU provider fuses into integer kernels; dynamic "
    "quantization turns Conv into ConvInteger, which it runs as a slow reference kernel (the latencies above are "
    "this run's measurements)"
)


def detect_format(path: str, given: str | None) -> str:
    """``model.format`` if given, else from the path's suffix (or a folder's contents); a RecipeError otherwise."""
    if given is not None:
        return given
    target = Path(path).expanduser()
    if target.is_dir():
        if (target / "saved_model.pb").is_file():
            return "savedmodel"
        if any(target.glob("*.pdmodel")):
            return "paddle"
        if any(target.glob("*.onnx")):
            raise RecipeError(
                f"model.path '{path}' is a folder: give the .onnx file itself",
                key="model.path",
                value=path,
                valid="a path to a .onnx file",
            )
    detected = _SUFFIXES.get(target.suffix.lower())
    if detected is None:
        raise RecipeError(
            f"cannot tell the format of model.path '{path}' from its suffix '{target.suffix}'",
            key="model.format",
            value=None,
            valid=list(MODEL_FORMATS),
            suggestion="set model.format=onnx (or another format) explicitly",
        )
    return detected


def conv_share(path: str) -> tuple[int, int] | None:
    """(Conv nodes, Conv+MatMul+Gemm nodes) of an ONNX file, counted without importing onnx.

    A NodeProto's ``op_type`` is protobuf field 4 (a length-delimited string), so ``b"\\x22\\x04Conv"`` is the
    serialized form of ``op_type: "Conv"``. Counting those byte strings in the file is a cheap plan-time estimate of
    what the model's compute is made of; None when the file cannot be read.
    """
    try:
        with open(Path(path).expanduser(), "rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as m:
            # regex over the mapped file: no copy of a (possibly large) model into memory
            conv = len(re.findall(rb"\x22\x04Conv|\x22\x0dConvTranspose", m))
            dense = len(re.findall(rb"\x22\x06MatMul|\x22\x04Gemm", m))
    except (OSError, ValueError):
        return None
    return conv, conv + dense


@dataclass
class _Prepared:
    """Memo of the pre-processing nodes per (source node, upgraded?), shared by quant and search candidates."""

    nodes: dict[tuple[str, bool], str] = field(default_factory=dict)


def _require_onnx_file(b: PlanBuilder) -> None:
    """Refuse a file ONNX Runtime cannot read, before the data check reads it as if it were ONNX."""
    model = b.recipe.model
    assert model.path is not None
    fmt = detect_format(model.path, model.format)
    if fmt != "onnx":
        raise RecipeError(
            f"model.format '{fmt}' files cannot be converted for ONNX Runtime yet; export the model to ONNX "
            "(paddle2onnx, tf2onnx, torch.onnx.export) and give the .onnx file",
            key="model.format",
            value=fmt,
            valid=f"an .onnx file or a Paddle inference model, or {targets_reading(fmt)}",
        )


def _file_stages(b: PlanBuilder, data: str) -> list[Stage]:
    """The ONNX file's stages (``build`` has refused other formats with ``_require_onnx_file``)."""
    model = b.recipe.model
    assert model.path is not None
    params: dict[str, object] = {
        "path": str(Path(model.path).expanduser().resolve()),
        "fingerprint": fingerprint_path(model.path),
        "input_shape": list(model.input_shape) if model.input_shape else None,
    }
    b.check("model", "ok", f"ONNX file {Path(model.path).name} (format {'given' if model.format else 'from suffix'})")
    return [Stage("baseline", b.add("load", "onnx.load", params), "fp32")]


def _paddle_stages(b: PlanBuilder, data: str) -> list[Stage]:
    """The paddle pipeline's fp32 stages, each converted by paddle2onnx; ONNX magnitude pruning after conversion."""
    recipe = b.recipe
    prune = recipe.strategy.prune
    magnitude = prune is not None and prune.criterion == "magnitude"
    if magnitude:  # paddle prunes filters only; unstructured magnitude pruning happens on the ONNX model
        b.recipe = replace(recipe, strategy=replace(recipe.strategy, prune=None, finetune=None))
        try:
            stages = model_stages(b, data)
        finally:
            b.recipe = recipe
    else:
        stages = model_stages(b, data)
    converted = []
    for stage in stages:
        node_id = "to_onnx" if stage.name == "baseline" else f"to_onnx.{stage.name}"
        node = b.add(node_id, "paddle.to_onnx", {"opset": CONVERT_OPSET}, {"model": stage.node})
        converted.append(Stage(stage.name, node, stage.precision))
    b.check("convert", "ok", f"paddle2onnx converts each Paddle stage to ONNX (opset {CONVERT_OPSET})")
    if magnitude:
        assert prune is not None
        converted.append(_magnitude(b, converted[0], prune))
        if recipe.strategy.finetune is not None:
            b.check("finetune", "skip", "magnitude pruning of the ONNX model has no training step: finetune skipped")
    return converted


def _keras_stages(b: PlanBuilder, data: str) -> list[Stage]:
    """A Keras model trained by the tf backend's ``tf.train`` pass, converted by tf2onnx (NHWC input kept)."""
    recipe = b.recipe
    model, prune = recipe.model, recipe.strategy.prune
    if "tf.train" not in PASSES:
        raise RecipeError(
            "model.framework=tf needs the tf backend, which this version of recipecc does not have",
            key="model.framework",
            value="tf",
            valid=["paddle"],
        )
    if prune is not None and prune.criterion != "magnitude":
        raise RecipeError(
            f"strategy.prune.criterion = '{prune.criterion}' on a Keras model converted to ONNX: the onnx "
            "pipeline prunes the converted model by weight magnitude",
            key="strategy.prune.criterion",
            value=prune.criterion,
            valid=["magnitude"],
        )
    params = {
        "arch": model.arch,
        "width": model.width,
        "num_classes": model.num_classes,
        "seed": recipe.seed,
        **asdict(model.train),
    }
    warn_untrained(b)
    train = b.add("train", "tf.train", params, {"data": data})
    baseline = Stage("baseline", b.add("to_onnx", "tf.to_onnx", {"opset": CONVERT_OPSET}, {"model": train}), "fp32")
    b.check("convert", "ok", f"tf2onnx converts the Keras model to ONNX (opset {CONVERT_OPSET}, NHWC input)")
    stages = [baseline]
    if prune is not None:
        stages.append(_magnitude(b, baseline, prune))
    return stages


def _magnitude(b: PlanBuilder, source: Stage, prune: PruneConfig) -> Stage:
    params = {
        "ratio": prune.ratio,
        "layers": list(prune.layers),
        "per_layer": dict(prune.per_layer),
    }
    b.check(
        "prune",
        "ok",
        f"unstructured magnitude pruning to {prune.ratio:.0%}: the file keeps its size (zeros are stored; the "
        "report gives the gzip size) and ONNX Runtime's dense CPU kernels run no faster",
    )
    node = b.add("prune", "onnx.prune", params, {"model": source.node}, carries="prune")
    return Stage("pruned", node, source.precision)


def _quant_params(b: PlanBuilder, quant: QuantConfig, key: str) -> dict[str, object]:
    """ORT parameters for a quant config, with the choices explained (plan checks, and the artifact's ``why``)."""
    if quant.mode == "qat":
        raise RecipeError(
            f"{key}.mode = 'qat' is not available for ONNX models",
            key=f"{key}.mode",
            value="qat",
            valid=["ptq_static", "ptq_dynamic", "fp16"],
        )
    # neutral: auto (= search on ORT), search, minmax, percentile, entropy (plan/neutral.py refused the others)
    algo = AUTO if quant.algo == SEARCH else quant.algo
    onnx = quant.onnx
    if quant.mode == "ptq_static" and algo == AUTO:
        chosen = (
            f"static {onnx.format.upper()}, {onnx.activation_type} activations, {onnx.weight_type} weights; "
            "calibration chosen for this model: MinMax, Percentile and Entropy, each with per-channel and per-tensor "
            "weights, calibrated on the calibration images, scored against fp32 on training images calibration did "
            f"not see (cosine; with IoU for dense maps); the {SEARCH_TIMED_CANDIDATES} best-scoring and fp32 are "
            "timed at 1 thread and the best-scoring one faster than fp32 is kept (all candidates in the report)"
        )
        b.check("quant", "ok", chosen)
        why = chosen
    elif quant.mode == "ptq_static":
        chosen = (
            f"static {onnx.format.upper()}, {onnx.activation_type} activations, {onnx.weight_type} "
            f"{'per-channel' if quant.weight_per_channel else 'per-tensor'} weights, "
            f"{calibration_method('onnx', algo)} calibration"
        )
        b.check("quant", "ok", chosen)
        if onnx.activation_type == "int8":
            b.check(
                "quant.activations",
                "warn",
                f"{key}.onnx.activation_type=int8: ONNX Runtime's x86 CPU integer kernels are built for uint8 "
                "activations (u8s8); signed int8 activations may run slower than fp32 (compare the latencies)",
            )
        why = chosen if onnx.activation_type == "int8" else f"{chosen}; why: {_WHY_DEFAULT}"
    elif quant.mode == "ptq_dynamic":
        why = "dynamic quantization (int8 weights, activations quantized at run time), as the recipe asks"
        b.check("quant", "ok", why)
    else:
        why = "fp16 conversion (onnxruntime.transformers.float16, float32 inputs/outputs kept)"
        b.check("quant", "ok", why)
    return {
        "mode": quant.mode,
        "bits": quant.bits,
        "algo": algo,
        "format": onnx.format,
        "per_channel": quant.weight_per_channel,
        "activation_type": onnx.activation_type,
        "weight_type": onnx.weight_type,
        "op_types": list(quant.op_types),
        "exclude_op_types": list(quant.exclude_op_types),
        "exclude_nodes": list(quant.exclude_nodes),
        "batch_nums": quant.batch_nums,
        "batch_size": quant.batch_size,
        "seed": b.recipe.seed,
        "why": why,
        **({"timed_candidates": SEARCH_TIMED_CANDIDATES} if quant.mode == "ptq_static" and algo == AUTO else {}),
    }


def _dynamic_check(b: PlanBuilder, key: str) -> None:
    """Dynamic quantization of a conv net means ConvInteger: say it before the user waits for a slower model."""
    model = b.recipe.model
    if model.arch == "file":
        assert model.path is not None
        counts = conv_share(model.path) if detect_format(model.path, model.format) == "onnx" else None
        if counts is None or counts[1] == 0:
            return
        conv, weighted = counts
        if conv / weighted < 0.5:
            b.check("quant.dynamic", "ok", f"{conv} of {weighted} weighted nodes are Conv: dynamic suits MatMul")
            return
        what = f"{conv} of its {weighted} Conv/MatMul/Gemm nodes are Conv"
    else:
        what = f"{model.arch} is a convolutional network"
    b.check(
        "quant.dynamic",
        "warn",
        f"{key}.mode=ptq_dynamic on a conv-heavy model ({what}): ONNX Runtime runs dynamically quantized "
        "convolutions as ConvInteger, a kernel without the fused integer fast path that can be several times "
        "slower than fp32; static QDQ "
        "(strategy.quant.mode=ptq_static) is the fast choice for conv nets, dynamic suits MatMul-heavy models "
        "(op_types=[MatMul])",
    )


def _prepared(b: PlanBuilder, memo: _Prepared, source: Stage, upgrade: bool) -> str:
    """The shape-inference node (after an opset upgrade if asked) for ``source``, created once."""
    key = (source.node, upgrade)
    if key in memo.nodes:
        return memo.nodes[key]
    model_node = source.node
    suffix = "" if source.name == "baseline" else f".{source.name}"
    if upgrade:
        model_node = b.add(
            f"opset_upgrade{suffix}", "onnx.opset_upgrade", {"min_opset": QDQ_AXIS_OPSET}, {"model": source.node}
        )
        b.check(
            "opset",
            "ok",
            f"per-channel QDQ needs opset >= {QDQ_AXIS_OPSET} (DequantizeLinear axis): onnx.opset_upgrade inserted "
            "before quantization; it is a recorded no-op if the file's opset is already new enough",
        )
    node_id = f"shape_prep{suffix}{'.opset13' if upgrade and (source.node, False) in memo.nodes else ''}"
    memo.nodes[key] = b.add(node_id, "onnx.shape_prep", {}, {"model": model_node})
    return memo.nodes[key]


def _quantize(
    b: PlanBuilder,
    memo: _Prepared,
    source: Stage,
    data: str,
    quant: QuantConfig,
    *,
    key: str,
    name: str,
    node_id: str,
    optional: bool = False,
) -> Stage:
    params = _quant_params(b, quant, key)
    precision = "fp16" if quant.mode == "fp16" else f"int{quant.bits}"
    if quant.mode == "ptq_dynamic":
        _dynamic_check(b, key)
    if quant.mode == "fp16":
        model_node = source.node
    else:
        model = b.recipe.model
        upgrade = (
            model.arch == "file"
            and model.path is not None
            and detect_format(model.path, model.format) == "onnx"
            and (quant.weight_per_channel or quant.algo in (AUTO, SEARCH))
            and (quant.mode == "ptq_dynamic" or quant.onnx.format == "qdq")
        )
        model_node = _prepared(b, memo, source, upgrade)
    inputs = {"model": model_node, "data": data}
    node = b.add(node_id, "onnx.quantize", params, inputs, optional=optional, carries="search" if optional else "quant")
    return Stage(name, node, precision)


def _tag(quant: QuantConfig) -> str:
    if quant.mode == "fp16":
        return "fp16"
    return f"int{quant.bits}" + ("-dynamic" if quant.mode == "ptq_dynamic" else "")


def build(b: PlanBuilder, runtime: Runtime) -> None:
    recipe = b.recipe
    model, strategy = recipe.model, recipe.strategy
    file_format = detect_format(model.path, model.format) if model.arch == "file" and model.path else None
    if file_format == "paddle":  # a user's Paddle inference model: imported by the paddle pipeline, then converted
        data = data_node(b, model_input(model, "paddle"))
        stages = _paddle_stages(b, data)
    elif model.arch == "file":
        _require_onnx_file(b)
        data = data_node(b, model_input(model, "onnx", recipe.dataset.layout))
        stages = _file_stages(b, data)
        if strategy.prune is not None:
            if strategy.prune.criterion != "magnitude":
                raise RecipeError(
                    f"strategy.prune.criterion = '{strategy.prune.criterion}' needs a model recipecc builds; an ONNX "
                    "file can be pruned by weight magnitude",
                    key="strategy.prune.criterion",
                    value=strategy.prune.criterion,
                    valid=["magnitude"],
                )
            stages.append(_magnitude(b, stages[0], strategy.prune))
    else:
        framework = model.framework or ARCHITECTURES[model.arch].frameworks[0]
        # the framework that trains the model states what it takes (the same answer its own pipeline gets)
        data = data_node(b, model_input(model, framework))
        stages = _keras_stages(b, data) if framework == "tf" else _paddle_stages(b, data)
    memo = _Prepared()
    source = stages[-1]
    prefix = "" if source.name == "baseline" else f"{source.name}+"
    candidates: list[Stage] = []
    if strategy.quant is not None:
        tag = _tag(strategy.quant)
        stages.append(
            _quantize(
                b, memo, source, data, strategy.quant, key="strategy.quant", name=f"{prefix}{tag}", node_id="quantize"
            )
        )
    if strategy.search is not None:
        search = strategy.search
        for index, candidate in enumerate(search.candidates):
            check_backend_knobs(b, runtime, candidate, f"strategy.search.candidates[{index}]")
            name = f"{prefix}{_tag(candidate)}[{index}]"
            candidates.append(
                _quantize(
                    b,
                    memo,
                    source,
                    data,
                    candidate,
                    key=f"strategy.search.candidates[{index}]",
                    name=name,
                    node_id=f"quantize[{index}]",
                    optional=True,
                )
            )
        b.check(
            "search",
            "ok",
            f"{len(search.candidates)} candidates (optional: a failing one does not stop the others); selection: "
            f"the fastest at 1 thread whose {search.metric} drop vs the baseline is <= {search.max_drop}",
        )
    level = recipe.target.graph_optimization
    metrics = list(recipe.bench.metrics)
    if strategy.search is not None:  # the selection metric is measured on every stage, the baseline included
        metric = strategy.search.metric
        metrics = list(dict.fromkeys([*metrics, *([metric] if metric != "top1" else [])]))
    for stage in stages:
        b.bench(stage, "onnx.bench", data, graph_optimization=level, metrics=metrics)
    if strategy.search is not None:
        for index, stage in enumerate(candidates):
            b.bench(
                stage, "onnx.bench", data, optional=True, graph_optimization=level, search_candidate=index,
                metrics=metrics,
            )  # fmt: skip
