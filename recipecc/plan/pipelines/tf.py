"""The tf pipeline: Keras models, tfmot magnitude pruning / QAT, the TFLite converter, LiteRT benchmarks.

    data -> train | load -> convert (fp32) -------------------------------> bench.baseline
                        \\-> prune (tfmot, finetune, strip) -> convert.pruned -> bench.pruned
            last Keras model -> quantize (convert: int8 | dynamic | fp16)  -> bench.<stage>
                             \\-> qat (tfmot quantize_model -> int8 .tflite) -> bench.qat
            last fp32 .tflite -> quantize (quantize_file: static int8)    -> bench.<stage>

A user's ``.tflite`` file is the baseline itself; the TFLite converter cannot start from it, so its int8 stage
comes from ai-edge-quantizer (``tf.quantize_file``: static with calibration, dynamic, or weight-only int8). Static
int8 whose calibration the converter cannot do (the calibration search, the default for a user's model file;
percentile, MSE, entropy) also goes through ai-edge-quantizer, from the last fp32 ``.tflite`` (``_searches_or_clips``).
Stage names: baseline, pruned, int8 / pruned+int8, fp16, dynamic, weight-only, qat (prefixed ``pruned+`` after
pruning).
"""

from __future__ import annotations

import math
from dataclasses import asdict
from pathlib import Path
from typing import Any

from recipecc.plan.builder import PlanBuilder, Stage
from recipecc.plan.cache import fingerprint_path
from recipecc.plan.neutral import AUTO, SEARCH, SEARCH_TIMED_CANDIDATES
from recipecc.plan.requirements import data_node, model_input, warn_untrained
from recipecc.recipe.catalog import ARCHITECTURES, MODEL_FORMATS, Runtime
from recipecc.recipe.errors import RecipeError
from recipecc.recipe.tflite_file import read_tflite

__all__ = ["build", "detect_format"]

#: Keras applications (their input needs are in ``plan/requirements.py``)
_APPLICATIONS = ("mobilenet_v1", "mobilenet_v2", "resnet50")
#: strategy.quant.mode -> (converter mode, stage name, stage precision)
_QUANT_STAGES = {
    "ptq_static": ("int8", "int8", "int8"),
    "ptq_dynamic": ("dynamic", "dynamic", "dynamic-int8"),
    "fp16": ("fp16", "fp16", "fp16"),
    "qat": ("qat", "qat", "int8"),
}
_TF_FORMATS = [name for name, framework in MODEL_FORMATS.items() if framework == "tf"]


def detect_format(path: str) -> str | None:
    """The tf format of a user's model path from its name (a SavedModel is a folder with saved_model.pb)."""
    target = Path(path).expanduser()
    if target.is_dir():
        return "savedmodel" if (target / "saved_model.pb").is_file() else None
    return {".tflite": "tflite", ".keras": "keras", ".h5": "keras", ".hdf5": "keras"}.get(target.suffix.lower())


def _source(b: PlanBuilder, data: str) -> tuple[str, str]:
    """The node giving the model to compress, and its format (keras | savedmodel | tflite)."""
    recipe = b.recipe
    model = recipe.model
    if model.framework not in (None, "tf"):
        raise RecipeError(
            f"model.framework = '{model.framework}' but the target's runtime is a tf one",
            key="model.framework",
            value=model.framework,
            valid=["tf"],
        )
    if model.arch != "file":
        if "tf" not in ARCHITECTURES[model.arch].frameworks:
            raise RecipeError(
                f"model.arch = '{model.arch}' cannot be built by the tf backend",
                key="model.arch",
                value=model.arch,
                valid=[name for name, arch in ARCHITECTURES.items() if "tf" in arch.frameworks],
            )
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
        warn_untrained(b)
        return b.add("train", "tf.train", params, {"data": data}), "keras"
    assert model.path is not None  # validation requires it for arch=file
    fmt = model.format or detect_format(model.path)
    if fmt is None or MODEL_FORMATS.get(fmt) != "tf":
        raise RecipeError(
            f"model.path '{model.path}' is not a model the tf backend reads"
            + (f" (format '{fmt}')" if fmt else " (cannot tell its format from the name)"),
            key="model.format" if fmt else "model.path",
            value=fmt or model.path,
            valid=f"{', '.join(_TF_FORMATS)}: a SavedModel folder, a .keras/.h5 file or a .tflite file",
        )
    params = {"path": str(Path(model.path).expanduser().resolve()), "format": fmt}
    params["fingerprint"] = fingerprint_path(model.path)
    if model.trusted:  # the command line vouched for a Keras file whose Lambda layers run code
        params["trusted"] = True
    return b.add("load", "tf.load", params), fmt


def _check_data(b: PlanBuilder) -> None:
    recipe = b.recipe
    if recipe.model.arch in _APPLICATIONS and recipe.dataset.name == "digits":
        b.check(
            "data",
            "warn",
            "no ImageNet here: accuracy is measured on the fallback data (scikit-learn digits upscaled to "
            f"{recipe.dataset.image_size}x{recipe.dataset.image_size}, grey replicated to 3 channels), not "
            "comparable with ImageNet top-1; give your images with dataset=image_folder dataset.root=DIR",
        )


#: images in scikit-learn's digits data set
_DIGITS_IMAGES = 1797


def _check_schedule(b: PlanBuilder) -> None:
    """A polynomial pruning schedule needs a pruning step before the finetune ends (``tf.prune`` fails otherwise);
    with the digits data the step count is known at plan time."""
    recipe = b.recipe
    prune, finetune, data = recipe.strategy.prune, recipe.strategy.finetune, recipe.dataset
    assert prune is not None and finetune is not None
    if prune.schedule != "polynomial" or data.name != "digits":
        return
    images = min(data.max_images or _DIGITS_IMAGES, _DIGITS_IMAGES)
    train = images - math.ceil(data.test_fraction * images)
    steps = finetune.epochs * math.ceil(train / finetune.batch_size)
    if (steps - 1) // prune.frequency * prune.frequency < 1:
        raise RecipeError(
            f"the finetune has {steps} steps ({train} training images, batch {finetune.batch_size}, "
            f"{finetune.epochs} epoch(s)): too few for a polynomial schedule pruning every {prune.frequency} steps",
            key="strategy.prune.frequency",
            value=prune.frequency,
            valid=f"a frequency below {steps}, more strategy.finetune.epochs, or schedule=constant",
        )


def _check_strategy(b: PlanBuilder, fmt: str) -> None:
    """Plan-time legality of the strategy for this model format on the tf backend."""
    strategy = b.recipe.strategy
    trains = strategy.prune is not None or (strategy.quant is not None and strategy.quant.mode == "qat")
    if fmt == "tflite" and trains:
        what = "pruning" if strategy.prune is not None else "quantization-aware training"
        raise RecipeError(
            f"model '{b.recipe.model.path}' is a .tflite file: {what} needs the source model (tfmot trains a Keras "
            "model); a .tflite file takes post-training quantization (ai-edge-quantizer)",
            key="strategy",
            value=strategy.name,
            valid="strategy=int8 (or quant, tflite_dynamic) with a .tflite file, or give the .keras / .h5 file",
        )
    if fmt == "tflite" and strategy.quant is not None:
        _check_file_quant(b)
        return
    if strategy.quant is not None and strategy.quant.tflite.recipe != "auto":
        raise RecipeError(
            f"strategy.quant.tflite.recipe = '{strategy.quant.tflite.recipe}' chooses how ai-edge-quantizer "
            f"quantizes a .tflite file; this model ('{b.recipe.model.path or b.recipe.model.arch}') goes through "
            "the TFLite converter, whose modes are strategy.quant.mode",
            key="strategy.quant.tflite.recipe",
            value=strategy.quant.tflite.recipe,
            valid="auto (or model=file model.path=x.tflite)",
        )
    if fmt == "savedmodel" and trains:
        raise RecipeError(
            f"strategy '{strategy.name}' trains the model (pruning / QAT), which needs a Keras model; "
            f"'{b.recipe.model.path}' is a SavedModel",
            key="model.path",
            value=b.recipe.model.path,
            valid="a .keras / .h5 file for pruning or QAT; a SavedModel takes fp32 / fp16 / ptq_dynamic / ptq_static",
        )
    prune = strategy.prune
    if prune is not None:
        if prune.criterion != "magnitude":
            raise RecipeError(
                f"strategy.prune.criterion = '{prune.criterion}' is not available on tf (filter pruning is "
                "PaddleSlim's); tfmot prunes by weight magnitude",
                key="strategy.prune.criterion",
                value=prune.criterion,
                valid=["magnitude"],
            )
        if strategy.finetune is None or strategy.finetune.epochs < 1:
            raise RecipeError(
                "tfmot prunes during training: magnitude pruning needs strategy.finetune.epochs >= 1",
                key="strategy.finetune.epochs",
                value=None if strategy.finetune is None else strategy.finetune.epochs,
                valid="strategy.finetune.epochs >= 1",
            )
        _check_schedule(b)
        if prune.block is not None:
            n, _, m = prune.block.partition(":")
            b.check(
                "prune",
                "ok",
                f"structured {prune.block} sparsity (tfmot sparsity_m_by_n): {int(n) / int(m):.0%} of the "
                "weights of the selected layers; strategy.prune.ratio and schedule do not apply",
            )
        b.check(
            "sparsity",
            "warn",
            "unstructured zeros stay in the .tflite file (only its gzipped size shrinks) and XNNPACK runs dense "
            "kernels: expect no speed-up from pruning alone; the report shows plain and gzipped sizes",
        )
    elif strategy.finetune is not None:
        b.check("finetune", "skip", "strategy.finetune is set but nothing is pruned: skipped")
    quant = strategy.quant
    if quant is not None:
        if quant.mode != "fp16" and quant.bits != 8:
            raise RecipeError(
                f"strategy.quant.bits = {quant.bits}: the TFLite converter makes 8-bit integer models",
                key="strategy.quant.bits",
                value=quant.bits,
                valid=["8"],
            )
        if quant.tflite.io_type == "int8" and quant.mode not in ("ptq_static", "qat"):
            raise RecipeError(
                f"strategy.quant.tflite.io_type = int8 needs a fully integer model; mode '{quant.mode}' keeps float "
                "parts",
                key="strategy.quant.tflite.io_type",
                value=quant.tflite.io_type,
                valid="float, or mode ptq_static / qat",
            )
        if quant.mode == "ptq_static" and not _searches_or_clips(b, fmt):
            b.check(
                "calibration",
                "ok",
                "TFLite converter calibration: min/max over the representative inputs (the converter's only method)"
                + (
                    f"; algo auto -> min/max for the built-in architecture '{b.recipe.model.arch}' (the same on every "
                    "run of the recipes compared with reference rows); strategy.quant.algo=search scores min/max, "
                    "percentile, MSE and entropy ranges for this model with ai-edge-quantizer (user model files get "
                    "that search by default)"
                    if quant.algo == AUTO
                    else ""
                ),
            )


#: ai-edge-quantizer recipe -> (tf.quantize_file mode, stage name, precision)
_FILE_RECIPES = {
    "static_wi8_ai8": ("static", "int8", "int8"),
    "dynamic_wi8_afp32": ("dynamic", "dynamic", "dynamic-int8"),
    "weight_only_wi8_afp32": ("weight_only", "weight-only", "weight-only-int8"),
}
_FILE_RECIPE_OF_MODE = {"ptq_static": "static_wi8_ai8", "ptq_dynamic": "dynamic_wi8_afp32"}


def _file_recipe(b: PlanBuilder) -> str:
    quant = b.recipe.strategy.quant
    assert quant is not None
    return quant.tflite.recipe if quant.tflite.recipe != "auto" else _FILE_RECIPE_OF_MODE[quant.mode]


def _check_file_quant(b: PlanBuilder) -> None:
    """What ai-edge-quantizer can do to a user's .tflite file: int8 static, dynamic or weight-only."""
    quant = b.recipe.strategy.quant
    assert quant is not None
    if quant.tflite.recipe == "auto" and quant.mode not in _FILE_RECIPE_OF_MODE:
        raise RecipeError(
            f"strategy.quant.mode = '{quant.mode}' on a .tflite file: ai-edge-quantizer makes int8 models from it "
            "(the float16 converter mode needs the source model)",
            key="strategy.quant.mode",
            value=quant.mode,
            valid=f"{', '.join(_FILE_RECIPE_OF_MODE)}, or strategy.quant.tflite.recipe=weight_only_wi8_afp32",
        )
    recipe = _file_recipe(b)  # (bits other than 8: the target's precision check refuses them)
    assert b.recipe.model.path is not None
    facts = read_tflite(b.recipe.model.path)
    if facts is not None and facts.integer_weights:
        raise RecipeError(
            f"model '{b.recipe.model.path}' is quantized already ({facts.integer_weights} weight tensors stored as "
            "integers): ai-edge-quantizer would leave them as they are",
            key="strategy",
            value=b.recipe.strategy.name,
            valid="strategy=none to benchmark it as it is, or the float .tflite file to quantize",
        )
    if facts is not None and recipe == "static_wi8_ai8" and len(facts.inputs) != 1:
        raise RecipeError(
            f"model '{b.recipe.model.path}' takes {len(facts.inputs)} inputs "
            f"({', '.join(name for name, _ in facts.inputs)}): static int8 calibrates single-input models here",
            key="strategy.quant.mode",
            value=quant.mode,
            valid="ptq_dynamic, or strategy.quant.tflite.recipe=weight_only_wi8_afp32 (no calibration)",
        )
    if quant.tflite.io_type == "int8" and recipe != "static_wi8_ai8":
        raise RecipeError(
            f"strategy.quant.tflite.io_type = int8 needs a fully integer model; ai-edge-quantizer recipe {recipe} "
            "keeps float activations",
            key="strategy.quant.tflite.io_type",
            value=quant.tflite.io_type,
            valid="float, or the static_wi8_ai8 recipe (strategy.quant.mode=ptq_static)",
        )
    b.check(
        "quant.tflite",
        "ok",
        f"the .tflite file is quantized by ai-edge-quantizer, recipe {recipe}"
        + (f", {_calibration_words(b)}" if recipe == "static_wi8_ai8" else "")
        + " (strategy.quant.tflite.recipe chooses another recipe)",
    )


def _file_algo(b: PlanBuilder) -> str:
    """The calibration ``tf.quantize_file`` runs: ``auto`` (the search), or one of minmax, percentile, mse,
    entropy."""
    quant = b.recipe.strategy.quant
    assert quant is not None
    return AUTO if quant.algo == SEARCH else quant.algo


def _calibration_words(b: PlanBuilder) -> str:
    quant = b.recipe.strategy.quant
    assert quant is not None
    images = quant.batch_nums * quant.batch_size
    algo = _file_algo(b)
    if algo == AUTO:
        return (
            f"calibration chosen for this model over {images} calibration inputs: ai-edge-quantizer's min/max "
            "(moving average 0.95), percentile 99.9 / 99.99 / 99.999, MSE and entropy ranges from histograms, with "
            "per-channel weights, scored against fp32 on training images calibration did not see (cosine; with IoU "
            f"for dense maps); the {SEARCH_TIMED_CANDIDATES} best-scoring and fp32 are timed at 1 thread and the "
            "best-scoring one faster than fp32 is kept (all candidates in the report)"
        )
    if algo == "minmax":
        return f"activation ranges from a moving average (0.95) of each of {images} calibration inputs' min/max"
    what = {
        "percentile": "the 99.99 percentile",
        "mse": "the range minimising the 8-bit error",
        "entropy": "the KL-divergence threshold",
    }[algo]
    return f"activation ranges clipped at {what} of histograms over {images} calibration inputs"


def _searches_or_clips(b: PlanBuilder, fmt: str) -> bool:
    """Whether static int8 of a Keras model / SavedModel goes through ai-edge-quantizer from the fp32 ``.tflite``
    instead of the converter's int8: the calibration search (``auto`` for a user's model file, ``search``) and the
    clipped ranges (``percentile``, ``mse``, ``entropy``) exist only there; the converter has min/max only."""
    quant = b.recipe.strategy.quant
    if fmt == "tflite" or quant is None or quant.mode != "ptq_static":
        return False
    return quant.algo in (SEARCH, "percentile", "mse", "entropy") or (
        quant.algo == AUTO and b.recipe.model.arch == "file"
    )


def _check_custom_ops(b: PlanBuilder) -> None:
    """Custom ops need kernels the application registers; LiteRT's Python interpreter has only its own few."""
    assert b.recipe.model.path is not None
    facts = read_tflite(b.recipe.model.path)
    if facts is not None and facts.custom_ops:
        b.check(
            "custom_ops",
            "warn",
            f"the .tflite file uses custom ops ({', '.join(facts.custom_ops)}): unless LiteRT has their kernels "
            "(MediaPipe's, for instance, come with MediaPipe), the interpreter cannot load it and the run stops there",
        )


def _quantize_file(b: PlanBuilder, source: Stage, data: str) -> Stage:
    quant = b.recipe.strategy.quant
    assert quant is not None
    mode, name, precision = _FILE_RECIPES[_file_recipe(b)]
    if source.name != "baseline":
        name = f"{source.name}+{name}"
    params: dict[str, Any] = {"mode": mode, "seed": b.recipe.seed}
    inputs = {"model": source.node}
    if mode == "static":
        algo = _file_algo(b)
        params |= {
            "io_type": quant.tflite.io_type,
            "calibration_images": quant.batch_nums * quant.batch_size,
            "algo": algo,
        }
        if algo == AUTO:
            params |= {"timed_candidates": SEARCH_TIMED_CANDIDATES, "delegate": b.recipe.target.delegate}
        inputs["data"] = data
    return Stage(name, b.add("quantize", "tf.quantize_file", params, inputs, carries="quant"), precision)


def _quantize(b: PlanBuilder, source: Stage, keras_node: str, data: str) -> Stage:
    recipe = b.recipe
    quant = recipe.strategy.quant
    assert quant is not None
    mode, name, precision = _QUANT_STAGES[quant.mode]
    if source.name != "baseline":
        name = f"{source.name}+{name}"
    if quant.mode == "qat":
        params: dict[str, Any] = {
            "epochs": quant.epochs,
            "lr": quant.lr,
            "batch_size": quant.batch_size,
            "io_type": quant.tflite.io_type,
            "seed": recipe.seed,
            **b.task_params(),
        }
        return Stage(
            name, b.add("qat", "tf.qat", params, {"model": keras_node, "data": data}, carries="quant"), precision
        )
    params = {"mode": mode, "precision": precision, "seed": recipe.seed}
    if mode == "int8":
        params |= {"io_type": quant.tflite.io_type, "calibration_images": quant.batch_nums * quant.batch_size}
    if recipe.model.input_shape is not None:
        params["input_shape"] = list(recipe.model.input_shape)
    node = b.add("quantize", "tf.convert", params, {"model": keras_node, "data": data}, carries="quant")
    return Stage(name, node, precision)


def build(b: PlanBuilder, runtime: Runtime) -> None:
    recipe = b.recipe
    _check_data(b)
    data = data_node(b, model_input(recipe.model, "tf"))
    source, fmt = _source(b, data)
    _check_strategy(b, fmt)
    convert: dict[str, Any] = {"mode": "fp32", "precision": "fp32"}
    if recipe.model.input_shape is not None:
        convert["input_shape"] = list(recipe.model.input_shape)
    if fmt == "tflite":
        _check_custom_ops(b)
        stages = [Stage("baseline", source, "fp32")]
    else:
        stages = [Stage("baseline", b.add("convert", "tf.convert", convert, {"model": source, "data": data}), "fp32")]
    keras_node = source
    prune = recipe.strategy.prune
    if prune is not None:
        finetune = recipe.strategy.finetune
        assert finetune is not None
        params: dict[str, Any] = {
            "ratio": prune.ratio,
            "layers": list(prune.layers),
            "per_layer": dict(prune.per_layer),
            "schedule": prune.schedule,
            "frequency": prune.frequency,
            "block": prune.block,
            "epochs": finetune.epochs,
            "lr": finetune.lr,
            "batch_size": finetune.batch_size,
            "optimizer": finetune.optimizer,
            "seed": recipe.seed,
            **b.task_params(),
        }
        keras_node = b.add("prune", "tf.prune", params, {"model": source, "data": data}, carries="prune")
        pruned = b.add("convert.pruned", "tf.convert", convert, {"model": keras_node, "data": data})
        stages.append(Stage("pruned", pruned, "fp32"))
    quant_source = stages[-1]
    if prune is not None and prune.sparse_encoding:
        sparse = b.add(
            "convert.pruned_sparse",
            "tf.convert",
            {**convert, "sparse_encoding": True},
            {"model": keras_node, "data": data},
        )
        stages.append(Stage("pruned-sparse", sparse, "fp32"))
        b.check(
            "sparse_encoding",
            "ok",
            "the pruned model is also converted with Optimize.EXPERIMENTAL_SPARSITY (stage pruned-sparse): its zeros "
            "are stored sparse, so the file itself shrinks; both files are measured",
        )
    if recipe.strategy.quant is not None and fmt == "tflite":
        stages.append(_quantize_file(b, quant_source, data))
    elif _searches_or_clips(b, fmt):
        b.check(
            "calibration",
            "ok",
            f"int8 of the fp32 .tflite ({quant_source.name}) by ai-edge-quantizer, {_calibration_words(b)}; the "
            "TFLite converter has min/max only",
        )
        stages.append(_quantize_file(b, quant_source, data))
    elif recipe.strategy.quant is not None:
        stages.append(_quantize(b, quant_source, keras_node, data))
    for stage in stages:
        b.bench(stage, "tf.bench", data, delegate=recipe.target.delegate)
