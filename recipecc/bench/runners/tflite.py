"""``tf.bench``: quality, size and latency of a ``.tflite`` model with the LiteRT interpreter on the host CPU.

``ai_edge_litert.interpreter.Interpreter`` (``tf.lite.Interpreter`` is deprecated and gives identical outputs).
``delegate: xnnpack`` is LiteRT's default: the XNNPACK delegate is applied to every op it supports, fp32 and
int8. ``delegate: none`` uses ``BUILTIN_WITHOUT_DEFAULT_DELEGATES``: TFLite's own optimised builtin kernels
(ruy / gemmlowp / optimized_ops), i.e. what a runtime without XNNPACK runs; the reference kernels
(``BUILTIN_REF``) are debugging code and would misrepresent any deployment. Each thread count gets its own
interpreter (``num_threads``). Integer-I/O models get their inputs quantized and outputs dequantized with the
tensors' own scale and zero-point, in and outside the timed call, as an application has to.
"""

from __future__ import annotations

from importlib import metadata
from typing import Any

import numpy as np
from numpy.typing import NDArray

from recipecc.bench.evaluation import evaluate_stage, timing_feeds
from recipecc.bench.record import measure_stage
from recipecc.passes.base import PassContext, PassFailure, read_artifact
from recipecc.passes.data.arrays import load_split
from recipecc.passes.tf.interpreter import TFLiteModel
from recipecc.passes.tf.layer_table import layer_table

__all__ = ["TFLiteModel", "run"]

_ENGINES = {"xnnpack": "XNNPACK", "none": "TFLite builtin kernels (no delegate)"}


def _delegation_words(facts: dict[str, Any]) -> str:
    """``"31 of 35 ops in 1 partition(s); TFLite's kernels run RESHAPE x1"`` from :meth:`TFLiteModel.delegation`."""
    text = f"{facts['delegated']} of {facts['ops']} ops in {facts['partitions']} partition(s)"
    if facts["not_delegated"]:
        text += "; TFLite's kernels run " + ", ".join(f"{op} x{n}" for op, n in sorted(facts["not_delegated"].items()))
    return text


def _one_by_one(model: TFLiteModel, feeds: dict[str, NDArray[Any]]) -> list[NDArray[Any]]:
    """The interpreter was allocated for batch 1: run a batch image by image and stack each output."""
    count = len(next(iter(feeds.values())))
    results = [model.run({k: v[i : i + 1] for k, v in feeds.items()}) for i in range(count)]
    return [np.concatenate(parts) for parts in zip(*results, strict=True)]


def run(ctx: PassContext) -> dict[str, Any]:
    p = ctx.params
    model_dir = ctx.input("model")
    meta = read_artifact(model_dir)
    if meta["format"] != "tflite":
        raise PassFailure(f"tf.bench measures .tflite models, not '{meta['format']}'")
    path = model_dir / meta["model_files"][0]
    data_dir = ctx.input("data")
    data = load_split(data_dir)
    delegate = str(p.get("delegate", "xnnpack"))
    threads_list = [int(t) for t in p["threads"]]
    batch_size = int(p["batch_size"])

    model = TFLiteModel(path, max(threads_list), delegate)
    images = data["x_test"]
    data_meta = read_artifact(data_dir)
    if list(images.shape[1:]) != model.input_shape[1:]:
        if data_meta.get("name") != "digits":
            raise PassFailure(
                f"{path.name} takes inputs of shape {model.input_shape}, the dataset has "
                f"{['N', *images.shape[1:]]}: set dataset.size / image_size (and channels) to match the model"
            )
        # a user's .tflite measured without their data: the default digits cannot feed it, inputs shaped like the
        # model's can (seeded, so every stage of the run gets the same ones); the report says so
        rng = np.random.RandomState(0)
        images = rng.uniform(0.0, 1.0, size=(len(images), *model.input_shape[1:])).astype(np.float32)
        data = {**data, "x_test": images, "y_test": np.full(len(images), -1, dtype=np.int64)}
        meta = {
            **meta,
            "measurement_note": f"inputs: {len(images)} seeded uniform-random arrays in [0, 1] shaped like the "
            f"model's input {model.input_shape} (the default digits data does not fit it; give your own images "
            "with dataset=image_folder for meaningful quality numbers); latency does not depend on the values",
        }
    evaluation = evaluate_stage(
        ctx,
        data,
        input_names=model.input_names,
        output_names=model.output_names,
        predict=lambda feeds: _one_by_one(model, feeds),
        data_meta=data_meta,
    )
    sample = timing_feeds(p, model.input_names, images, batch_size)

    def make_call(threads: int) -> Any:
        timed = TFLiteModel(path, threads, delegate, batch_size)
        timed.run(sample)
        return lambda: timed.run(sample)

    describe = {
        "runtime": f"ai-edge-litert {metadata.version('ai-edge-litert')}",
        "engine": _ENGINES[delegate],
        "batch_size": batch_size,
        **({"delegation": _delegation_words(model.delegation())} if delegate == "xnnpack" else {}),
    }
    return measure_stage(
        ctx,
        model_meta=meta,
        evaluation=evaluation,
        make_call=make_call,
        describe=describe,
        model_paths=[path],
        layer_table=lambda: layer_table(path),
        sample=next(iter(sample.values())),
    )
