"""``tf.load``: take a user's model (SavedModel directory, ``.keras``/``.h5`` file or ``.tflite`` file) into the cache.

The file is copied (the cache must not change when the user's file does; the plan keys it by a fingerprint) and
inspected: its input shape, so a mismatch with the dataset is reported here rather than as a converter crash.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from recipecc.passes.base import PassContext, PassFailure
from recipecc.passes.tf.common import copy_model, count_params, gzip_size, load_keras, tf_modules

__all__ = ["run"]


def _saved_model_input(path: Path) -> list[int | None]:
    tf, _ = tf_modules()
    try:
        loaded = tf.saved_model.load(str(path))
    except Exception as exc:
        raise PassFailure(f"cannot load SavedModel {path} ({type(exc).__name__}: {exc})") from exc
    signature = loaded.signatures.get("serving_default")
    if signature is None:
        raise PassFailure(f"SavedModel {path} has no 'serving_default' signature: the TFLite converter needs one")
    specs = list(signature.structured_input_signature[1].values())
    if len(specs) != 1:
        raise PassFailure(f"SavedModel {path} takes {len(specs)} inputs; recipecc handles single-input models")
    return [None if d is None else int(d) for d in specs[0].shape]


def run(ctx: PassContext) -> dict[str, Any]:
    p = ctx.params
    source = Path(str(p["path"])).expanduser()
    fmt = str(p["format"])
    if not source.exists():
        raise PassFailure(f"model.path '{source}' does not exist")
    copied = copy_model(source, ctx.out_dir)
    meta: dict[str, Any] = {"format": fmt, "model_files": [copied.name], "precision": "fp32", "source": str(source)}
    trusted = bool(p.get("trusted"))
    if trusted:  # the command line vouched for a file whose loading runs code: later passes load it the same way
        meta["trusted"] = True
    if fmt == "keras":
        model = load_keras(copied, trusted=trusted)
        meta |= {
            "input_shape": [None if d is None else int(d) for d in model.input_shape],
            "params": count_params(model),
            "size_bytes": copied.stat().st_size,
        }
    elif fmt == "savedmodel":
        meta |= {
            "input_shape": _saved_model_input(copied),
            "size_bytes": sum(f.stat().st_size for f in copied.rglob("*") if f.is_file()),
        }
    elif fmt == "tflite":
        from ai_edge_litert.interpreter import Interpreter

        try:
            interpreter = Interpreter(model_path=str(copied))
        except Exception as exc:
            raise PassFailure(f"cannot load {source} as a TFLite model ({type(exc).__name__}: {exc})") from exc
        detail = interpreter.get_input_details()[0]
        precision = "int8" if detail["dtype"].__name__ in ("int8", "uint8") else "fp32"
        meta |= {
            "input_shape": [int(d) for d in detail["shape_signature"]],
            "size_bytes": copied.stat().st_size,
            "gzip_bytes": gzip_size(copied),
            "precision": precision,
            "conversion": "user-supplied .tflite file (benchmarked as is)",
        }
    else:
        raise PassFailure(f"model.format '{fmt}' is not a tf format (keras, savedmodel, tflite)")
    return meta
