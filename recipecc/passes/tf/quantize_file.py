"""``tf.quantize_file``: quantize a user's ``.tflite`` file itself, with ai-edge-quantizer (no source model needed).

The TFLite converter starts from a Keras model or a SavedModel; a team that only has the ``.tflite`` (the common
case for on-device models) gets its int8 model from Google's ai-edge-quantizer, which rewrites the flatbuffer
directly. Modes (``strategy.quant.mode`` -> ai-edge-quantizer recipe):

- ``ptq_static`` -> ``static_wi8_ai8``: int8 weights (per channel, symmetric) and int8 activations (per tensor),
  calibrated by running the float model on calibration inputs (``algo``: ``minmax`` is the quantizer's own moving
  average of min/max; ``percentile``, ``mse`` and ``entropy`` are clipped ranges from histograms,
  ``passes/tf/calibration.py``; ``auto`` is the calibration search over them, for models recipecc did not build);
  ``io_type: float`` (default) keeps float inputs and outputs (the quantizer's INPUT/OUTPUT ops are left
  unquantized, so a QUANTIZE / DEQUANTIZE pair sits at each end), ``io_type: int8`` makes them int8.
- ``ptq_dynamic`` -> ``dynamic_wi8_afp32``: int8 weights, activations quantized on the fly by the kernels.
- ``weight_only`` -> ``weight_only_wi8_afp32``: int8 weights expanded to float at load time; smaller file, float
  compute.

The file is first made quantizable (``flatbuffer_prep.prepare``: operator codes, float16 / sparse weights, a
signature); which ops ended up int8 and which stayed float is recorded (``op_summary``), so a model that shrank
little or got slower says why. A file that stored its weights sparse gets its static int8 weights stored sparse
again (``sparse_int8``), when that computes bit-identical outputs.

Calibration inputs are the calibration split when it fits the model's input; with the default digits data and a
model that takes something else (MediaPipe's iris model: 1x64x64x3), they are seeded uniform-random arrays shaped
like the model's input, and the artifact says so: ranges calibrated on noise, quality unknown until the user
gives images (``dataset=image_folder``).
"""

from __future__ import annotations

import logging
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from recipecc.passes.base import PassContext, PassFailure, read_artifact
from recipecc.passes.calibration_search import SCORE_IMAGES, split_for_search
from recipecc.passes.data.arrays import load_split
from recipecc.passes.quiet import quiet_native_stderr
from recipecc.passes.tf.calibration import MINMAX, calibration_for, histograms, method_of, search_calibration
from recipecc.passes.tf.common import TFLITE_FILE, gzip_size
from recipecc.passes.tf.flatbuffer_prep import op_summary, prepare
from recipecc.passes.tf.sparse_int8 import quantization_parameter_bytes, same_outputs, store_weights_sparse

__all__ = ["FILE_MODES", "run"]

logger = logging.getLogger(__name__)

#: mode -> (ai-edge-quantizer recipe, precision of the stage)
FILE_MODES = {
    "static": ("static_wi8_ai8", "int8"),
    "dynamic": ("dynamic_wi8_afp32", "dynamic-int8"),
    "weight_only": ("weight_only_wi8_afp32", "weight-only-int8"),
}


def _recipe(mode: str, io_type: str) -> Any:
    from ai_edge_quantizer import qtyping, recipe, recipe_manager
    from ai_edge_quantizer.algorithm_manager import AlgorithmName

    if mode != "static":
        return getattr(recipe, FILE_MODES[mode][0])()
    manager = recipe_manager.RecipeManager()
    manager.add_static_config(
        regex=".*", operation_name=qtyping.TFLOperationName.ALL_SUPPORTED, activation_num_bits=8, weight_num_bits=8
    )
    if io_type == "float":
        for edge in (qtyping.TFLOperationName.INPUT, qtyping.TFLOperationName.OUTPUT):
            manager.add_quantization_config(".*", edge, algorithm_key=AlgorithmName.NO_QUANTIZE)
    return manager.get_quantization_recipe()


def _input_details(flatbuffer: bytes, signature: str) -> list[dict[str, Any]]:
    """The signature's inputs, named as the signature names them (the calibrator feeds them by those names, which
    differ from the tensor names in converter output: ``image`` for ``serving_default_image:0``)."""
    from ai_edge_litert.interpreter import Interpreter

    with quiet_native_stderr():
        runner = Interpreter(model_content=flatbuffer).get_signature_runner(signature)
        details = runner.get_input_details()
    return [{**detail, "name": name} for name, detail in details.items()]


def _calibration_images(
    details: list[dict[str, Any]],
    data: dict[str, NDArray[Any]],
    data_meta: dict[str, Any],
    count: int,
    seed: int,
    *,
    search: bool,
) -> tuple[str, NDArray[Any], NDArray[Any], str]:
    """The model's input name, up to ``count`` calibration images, the images a calibration search scores on
    (training images calibration did not see), and where they came from."""
    if len(details) != 1:
        raise PassFailure(
            f"the model takes {len(details)} inputs ({', '.join(str(d['name']) for d in details)}); recipecc "
            "calibrates single-input models (quantize it with strategy.quant.mode=ptq_dynamic, or weight_only)"
        )
    detail = details[0]
    shape = [int(d) for d in detail["shape"]]
    images = data["x_train"]
    rng = np.random.RandomState(seed)
    name = str(detail["name"])
    if list(images.shape[1:]) == shape[1:]:
        order = rng.permutation(len(images))
        count = split_for_search(len(images), count, search=search)
        calibration = np.asarray(images[order[:count]], dtype=np.float32)
        return (
            name,
            calibration,
            np.asarray(images[order[count:]], dtype=np.float32),
            (f"{len(calibration)} images of the calibration split"),
        )
    if data_meta.get("name") != "digits":
        raise PassFailure(
            f"the model takes inputs of shape {shape}, the dataset has {['N', *images.shape[1:]]}: set "
            "dataset.size / image_size (and channels, layout) to match the model"
        )
    noise = rng.uniform(0.0, 1.0, size=[count + (SCORE_IMAGES if search else 0), *shape[1:]]).astype(np.float32)
    return (
        name,
        noise[:count],
        noise[count:],
        (
            f"{count} seeded uniform-random arrays in [0, 1] shaped like the model's input {shape}: the default digits "
            "data does not fit it, so activation ranges come from noise; give images like the model's "
            "(dataset=image_folder) for a calibration that represents them"
        ),
    )


def _describe(prepared: dict[str, Any], ops: dict[str, dict[str, int]], left_float: dict[str, int], mode: str) -> str:
    """The report's account of what was done to the file and what ended up int8."""
    parts = []
    if prepared.get("operator_codes_fixed"):
        parts.append(f"{prepared['operator_codes_fixed']} operator codes read from the deprecated field")
    for name, count in prepared.get("constants_folded", {}).items():
        parts.append(f"{count} {name} ops of stored weights folded to float32 constants")
    if sparse := prepared.get("sparse_weights"):
        parts.append(
            f"{sparse['tensors']} sparse weight tensors ({sparse['nonzero'] / sparse['values']:.0%} of their "
            f"{sparse['values']:,} values nonzero) made dense for ai-edge-quantizer"
        )
        again = prepared.get("sparse_int8_weights")
        if again and "kept_dense" not in again:
            parts.append(
                f"{again['tensors']} int8 weight tensors stored sparse again behind DENSIFY ops "
                f"({again['dense_bytes']:,} -> {again['stored_bytes']:,} bytes, bit-identical outputs)"
            )
        if again and "quantization_parameters" in again:
            params = again["quantization_parameters"]
            parts.append(
                f"{params['bytes']:,} bytes of the int8 file are quantization parameters ({params['scales']:,} "
                f"float32 scales, {params['zero_points']:,} int64 zero points: per output channel for every weight "
                "and bias, and TFLite requires one zero point per scale; a float16 file has none)"
            )
        elif again:
            parts.append(f"the int8 weights stay dense: {again['kept_dense']}")
    if fused := prepared.get("activations_fused"):
        parts.append(
            "standalone activations fused into the op before them, as the TFLite converter does ("
            + ", ".join(f"{name} x{count}" for name, count in fused.items())
            + "; XNNPACK has no int8 RELU op)"
        )
    if prepared.get("signature_added"):
        parts.append(f"signature '{prepared['signature_added']}' added")
    text = f"; file prepared: {', '.join(parts)}" if parts else ""
    if mode == "static":
        compute = sum(row["ops"] for name, row in ops.items() if name not in ("QUANTIZE", "DEQUANTIZE"))
        int8 = sum(row["int8"] for row in ops.values())
        text += f"; {int8} of {compute} ops compute in int8"
        if left_float:
            text += " (float: " + ", ".join(f"{name} x{n}" for name, n in left_float.items()) + ")"
        conversions = sum(ops.get(name, {}).get("ops", 0) for name in ("QUANTIZE", "DEQUANTIZE"))
        if conversions:
            text += f", {conversions} QUANTIZE/DEQUANTIZE ops between them"
    return text


def _quantized(engine: Any, calibration: dict[str, Any] | None, file_name: str) -> bytes:
    """The flatbuffer ai-edge-quantizer writes with ``calibration`` (None: recipes without activation ranges)."""
    try:
        with quiet_native_stderr():
            result = engine.quantize(calibration, enable_progress_bar=False, enable_progress_report=False)
    except Exception as exc:
        raise PassFailure(f"ai-edge-quantizer could not quantize {file_name} ({type(exc).__name__}: {exc})") from exc
    return bytes(result.quantized_model)


def _quantize_static(
    ctx: PassContext, engine: Any, flatbuffer: bytes, signature: str, file_name: str, facts: dict[str, Any]
) -> bytes:
    """Calibrate and quantize: ai-edge-quantizer's min/max, ranges from histograms (percentile, mse, entropy), or
    the calibration search (``auto``); the calibration facts go into ``facts``."""
    p = ctx.params
    algo = str(p.get("algo", MINMAX))
    data_dir = ctx.input("data")
    name, images, held_out, origin = _calibration_images(
        _input_details(flatbuffer, signature),
        load_split(data_dir),
        read_artifact(data_dir),
        int(p["calibration_images"]),
        int(p.get("seed", 0)),
        search=algo == "auto",
    )
    samples = [{name: images[i : i + 1]} for i in range(len(images))]
    try:
        with quiet_native_stderr():
            own = engine.calibrate({signature: samples}, num_threads=1)
            observed = {} if algo == MINMAX else histograms(flatbuffer, signature, samples, own)
    except Exception as exc:  # LiteRT raises RuntimeError / ValueError, the quantizer more types
        raise PassFailure(f"ai-edge-quantizer could not calibrate {file_name} ({type(exc).__name__}: {exc})") from exc

    def quantize(method: str) -> bytes:
        calibration, kept = calibration_for(own, observed, method)
        if kept:
            facts.setdefault("ranges_kept_minmax", {})[method] = kept
        return _quantized(engine, calibration, file_name)

    calibration_facts: dict[str, Any] = {"images": len(samples), "origin": origin, "per_channel_weights": True}
    if algo == "auto":
        search = search_calibration(
            source=flatbuffer,
            out=ctx.out_dir / "selected.tflite",
            work_dir=ctx.out_dir / "candidates",
            calibration=images,
            held_out=held_out,
            quantize=quantize,
            timed=int(p["timed_candidates"]),
            delegate=str(p.get("delegate", "xnnpack")),
        )
        selected = ctx.out_dir / "selected.tflite"
        quantized = selected.read_bytes()
        selected.unlink()
        facts["quantization_search"] = search
        calibration_facts |= {"algo": _described(str(search["algo"])), "chosen_by": "calibration search"}
    else:
        quantized = quantize(method_of(algo))
        calibration_facts["algo"] = _described(method_of(algo))
    facts["calibration"] = calibration_facts
    facts["conversion"] += f"; activation ranges: {calibration_facts['algo']}, {origin}" + (
        " (chosen by the calibration search)" if algo == "auto" else ""
    )
    return quantized


def _described(method: str) -> str:
    """A range method as the report says it."""
    if method == MINMAX:
        return "min/max (ai-edge-quantizer: moving average 0.95 of each input's min/max)"
    if method == "mse":
        return "mse (range minimising the 8-bit quantization error, from histograms)"
    if method == "entropy":
        return "entropy (KL-divergence threshold over 128 levels, from histograms)"
    return f"percentile {method.removeprefix('percentile-')} (clipped range, from histograms)"


def run(ctx: PassContext) -> dict[str, Any]:
    p = ctx.params
    mode, io_type = str(p["mode"]), str(p.get("io_type", "float"))
    if mode not in FILE_MODES:
        raise PassFailure(f"unknown ai-edge-quantizer mode '{mode}'; valid: {', '.join(FILE_MODES)}")
    model_dir = ctx.input("model")
    meta = read_artifact(model_dir)
    if meta["format"] != "tflite":
        raise PassFailure(f"tf.quantize_file quantizes .tflite files, not '{meta['format']}'")
    source = model_dir / meta["model_files"][0]
    flatbuffer, signature, prepared = prepare(source)

    from ai_edge_quantizer import quantizer

    engine = quantizer.Quantizer(flatbuffer, _recipe(mode, io_type))
    facts: dict[str, Any] = {
        "conversion": f"ai-edge-quantizer {metadata.version('ai-edge-quantizer')} recipe {FILE_MODES[mode][0]}"
        + (f", {io_type} inputs/outputs" if mode == "static" else ""),
    }
    if engine.need_calibration:
        quantized = _quantize_static(ctx, engine, flatbuffer, signature, source.name, facts)
    else:
        quantized = _quantized(engine, None, source.name)
    if prepared.get("sparse_weights") and mode == "static":  # the source stored its weights sparse: so does int8
        resparse, counts = store_weights_sparse(quantized)
        stored: dict[str, Any] = dict(counts)
        if not stored["tensors"]:
            stored["kept_dense"] = "sparse storage would not save 20% of any int8 weight's bytes"
        elif same_outputs(quantized, resparse):
            quantized = resparse
        else:
            stored["kept_dense"] = "the sparse re-encoding did not give bit-identical outputs"
        stored["quantization_parameters"] = quantization_parameter_bytes(quantized)
        prepared = {**prepared, "sparse_int8_weights": stored}
    path: Path = ctx.out_dir / TFLITE_FILE
    path.write_bytes(quantized)
    ops = op_summary(quantized)
    left_float = {
        name: row["ops"] - row["int8"]
        for name, row in ops.items()
        if mode == "static" and name not in ("QUANTIZE", "DEQUANTIZE") and row["ops"] > row["int8"]
    }
    facts["quantization"] = {
        "tool": f"ai-edge-quantizer {metadata.version('ai-edge-quantizer')}",
        "recipe": FILE_MODES[mode][0],
        "weights": "int8",
        "activations": {"static": "int8", "dynamic": "float32 (int8 on the fly where supported)"}.get(mode, "float32"),
        "io": io_type if mode == "static" else "float",
        "prepared": prepared,
        "ops": ops,
        "ops_left_float": left_float,
        **({"calibration_search": facts.pop("quantization_search")} if "quantization_search" in facts else {}),
        **({"ranges_kept_minmax": facts.pop("ranges_kept_minmax")} if "ranges_kept_minmax" in facts else {}),
    }
    facts["conversion"] += _describe(prepared, ops, left_float, mode)
    carried: dict[str, Any] = {k: meta[k] for k in ("input_shape", "params") if k in meta}
    return {
        **carried,
        "format": "tflite",
        "model_files": [path.name],
        "size_bytes": path.stat().st_size,
        "gzip_bytes": gzip_size(path),
        "precision": FILE_MODES[mode][1],
        **facts,
    }
