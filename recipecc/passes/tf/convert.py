"""``tf.convert``: a Keras model or SavedModel to a ``.tflite`` file, in one of the TFLite converter's modes.

Modes (``strategy.quant.mode`` → here): no quant → ``fp32``; ``fp16`` → float16 weights (dequantized to float32
at run time on CPU); ``ptq_dynamic`` → ``dynamic`` (int8 weights, activations quantized on the fly by the
kernels that support it); ``ptq_static`` → ``int8`` (weights and activations int8, calibrated on a
representative dataset drawn from the training split, builtins restricted to int8 so that nothing silently
stays float; ``io_type: int8`` makes the inputs and outputs int8 too, and the runner then quantizes inputs and
dequantizes outputs with the tensors' scale and zero-point). ``tf.qat`` uses :func:`to_tflite` too.

The zeros of a pruned model stay in the flatbuffer: the file shrinks only gzipped, so ``gzip_bytes`` is recorded
for every model.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from recipecc.passes.base import PassContext, PassFailure, read_artifact
from recipecc.passes.data.arrays import load_split
from recipecc.passes.tf.common import TFLITE_FILE, gzip_size, load_keras, quiet_native_stderr, tf_modules

__all__ = ["CONVERTER_MODES", "check_input_shape", "run", "to_tflite"]

CONVERTER_MODES = ("fp32", "fp16", "dynamic", "int8", "qat")

_DESCRIPTIONS = {
    "fp32": "TFLite fp32",
    "fp16": "TFLite float16 weights (Optimize.DEFAULT + supported_types=[float16])",
    "dynamic": "TFLite dynamic-range int8 weights (Optimize.DEFAULT, no representative dataset)",
    "int8": "TFLite full int8 (Optimize.DEFAULT + representative dataset, TFLITE_BUILTINS_INT8)",
    "qat": "TFLite int8 from a quantization-aware-trained model (tfmot quantize_model)",
}


def check_input_shape(model_shape: Sequence[int | None], data_shape: Sequence[int], what: str) -> None:
    """Fail clearly when the data does not fit the model (instead of a converter or interpreter crash)."""
    fixed = [(m, d) for m, d in zip(model_shape[1:], data_shape, strict=False) if m is not None and m > 0]
    if len(model_shape) - 1 != len(data_shape) or any(m != d for m, d in fixed):
        raise PassFailure(
            f"{what} takes inputs of shape {list(model_shape)}, the dataset has {['N', *data_shape]}: "
            "set dataset.image_size (and channels/layout) to match the model"
        )


def _representative(images: NDArray[Any], count: int, seed: int) -> Iterator[list[NDArray[Any]]]:
    rng = np.random.RandomState(seed)
    for index in rng.permutation(len(images))[:count]:
        yield [images[index : index + 1].astype(np.float32)]


def _keras_converter(tf: Any, model: Any, input_shape: Sequence[int] | None) -> Any:
    """A converter for the Keras ``model`` in inference mode, through a plain ``tf.Module`` holding its weights.

    ``from_keras_model`` (and ``from_concrete_functions`` given the Keras model) exports the model as a Keras
    SavedModel first, which traces every layer's call functions for Keras' own serialization: 35 CPU-seconds
    for a 32x32 MobileNetV2 here, 5 through the module, with the same flatbuffer (``serving_default`` signature,
    same outputs). ``input_shape`` fixes the model's dynamic dimensions.
    """
    if input_shape is not None:
        specs = [tf.TensorSpec([int(d) for d in input_shape], tf.float32)]
    else:
        specs = [tf.TensorSpec(tensor.shape, tensor.dtype) for tensor in model.inputs]
    module = tf.Module()
    module.weights = list(model.variables)  # tracked, so the export saves them (the function only captures them)
    if len(specs) == 1:
        module.serve = tf.function(lambda x: model(x, training=False), input_signature=specs)
    else:
        module.serve = tf.function(lambda *xs: model(list(xs), training=False), input_signature=specs)
    return tf.lite.TFLiteConverter.from_concrete_functions([module.serve.get_concrete_function()], module)


def to_tflite(
    source: Any,
    mode: str,
    *,
    images: NDArray[Any] | None = None,
    io_type: str = "float",
    calibration_images: int = 0,
    seed: int = 0,
    input_shape: Sequence[int] | None = None,
    sparse: bool = False,
) -> tuple[bytes, dict[str, Any]]:
    """Convert ``source`` (a Keras model in memory, or a SavedModel directory path) in ``mode``.

    ``sparse`` adds ``Optimize.EXPERIMENTAL_SPARSITY``: the zeros of a pruned model are stored in TFLite's sparse
    tensor format (the file shrinks without gzip; LiteRT densifies or runs XNNPACK's sparse kernels at load time).
    """
    tf, _ = tf_modules()
    if isinstance(source, Path):
        converter = tf.lite.TFLiteConverter.from_saved_model(str(source))
    else:
        converter = _keras_converter(tf, source, input_shape)
    facts: dict[str, Any] = {"conversion": _DESCRIPTIONS[mode]}
    if mode == "fp16":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
        facts["quantization"] = {"weights": "float16", "activations": "float32"}
    elif mode == "dynamic":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        facts["quantization"] = {"weights": "int8", "activations": "float32 (int8 on the fly where supported)"}
    elif mode in ("int8", "qat"):
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        if mode == "int8":
            if images is None or calibration_images < 1:
                raise PassFailure("full int8 conversion needs calibration images from the training split")
            count = min(calibration_images, len(images))
            converter.representative_dataset = lambda: _representative(images, count, seed)
            converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
            facts["calibration"] = {"images": count, "algo": "min/max (TFLite converter)", "per_channel_weights": True}
        if io_type == "int8":
            converter.inference_input_type = tf.int8
            converter.inference_output_type = tf.int8
        facts["quantization"] = {"weights": "int8", "activations": "int8", "io": io_type}
    elif mode != "fp32":
        raise PassFailure(f"unknown TFLite conversion mode '{mode}'; valid: {', '.join(CONVERTER_MODES)}")
    if sparse:
        converter.optimizations = [*converter.optimizations, tf.lite.Optimize.EXPERIMENTAL_SPARSITY]
        facts["conversion"] += " + sparse encoding of zero weights (Optimize.EXPERIMENTAL_SPARSITY)"
        facts["sparse_encoding"] = True
    try:
        with quiet_native_stderr():  # the calibrator prints its settings; failures raise with their message
            flatbuffer = converter.convert()
    except Exception as exc:
        raise PassFailure(f"the TFLite converter failed in mode '{mode}' ({type(exc).__name__}: {exc})") from exc
    return bytes(flatbuffer), facts


def write_tflite(flatbuffer: bytes, folder: Path, facts: dict[str, Any], precision: str) -> dict[str, Any]:
    path = folder / TFLITE_FILE
    path.write_bytes(flatbuffer)
    return {
        "format": "tflite",
        "model_files": [path.name],
        "size_bytes": path.stat().st_size,
        "gzip_bytes": gzip_size(path),
        "precision": precision,
        **facts,
    }


def run(ctx: PassContext) -> dict[str, Any]:
    p = ctx.params
    model_dir = ctx.input("model")
    meta = read_artifact(model_dir)
    mode = str(p["mode"])
    data = load_split(ctx.input("data"))
    model_file = model_dir / meta["model_files"][0]
    input_shape = p.get("input_shape")
    if meta["format"] == "savedmodel":
        source: Any = model_file
        model_shape = input_shape or meta.get("input_shape") or []
    elif meta["format"] == "keras":
        source = load_keras(model_file, trusted=bool(meta.get("trusted")))
        model_shape = input_shape or list(source.input_shape)
    else:
        raise PassFailure(f"tf.convert takes a Keras model or a SavedModel, not '{meta['format']}'")
    if model_shape:
        check_input_shape(model_shape, list(data["x_train"].shape[1:]), f"model '{model_file.name}'")
    flatbuffer, facts = to_tflite(
        source,
        mode,
        images=data["x_train"],
        io_type=str(p.get("io_type", "float")),
        calibration_images=int(p.get("calibration_images", 0)),
        seed=int(p.get("seed", 0)),
        input_shape=input_shape,
        sparse=bool(p.get("sparse_encoding", False)),
    )
    carried: dict[str, Any] = {
        k: meta[k] for k in ("params", "sparsity", "selector_matches", "arch", "input_shape") if k in meta
    }
    return {**carried, **write_tflite(flatbuffer, ctx.out_dir, facts, str(p["precision"]))}
