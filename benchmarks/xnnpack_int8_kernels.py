"""XNNPACK's int8 kernels against its fp32 ones, one layer kind at a time, on this CPU.

    python benchmarks/xnnpack_int8_kernels.py [--rounds 40]

Why MobileNetV1 int8 is barely faster than fp32 with TFLite XNNPACK on an AVX2 host (``int8_speed.json``): the
whole network is delegated, so the question is the kernels. Each model here is one layer kind repeated (MobileNet's
pointwise 1x1 convolution, its depthwise 3x3, a dense 3x3 convolution), converted by the TFLite converter as a
user's run converts it (fp32, and full int8 with per-channel weights and float I/O), run by the LiteRT interpreter
with XNNPACK at one thread. Calls alternate between the fp32 and the int8 model; each call's thread CPU time is
recorded beside its wall time (XNNPACK at one thread computes on the calling thread), so other jobs on a shared
machine do not bias the ratio. Multiply-accumulates per second show how close each kernel gets to the core's
arithmetic limit.

Writes ``benchmarks/results/xnnpack_int8_kernels.json``.
"""

from __future__ import annotations

import argparse
import logging
import os
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from _common import int8_machine, write_result

logger = logging.getLogger(__name__)

#: name -> (input shape HWC, layer builder arguments, repeats, multiply-accumulates of one layer)
LAYERS: dict[str, tuple[tuple[int, int, int], dict[str, Any], int, int]] = {
    "pointwise 1x1, 512->512 channels, 14x14": ((14, 14, 512), {"kind": "conv", "filters": 512, "k": 1}, 4,
                                                 14 * 14 * 512 * 512),
    "depthwise 3x3, 128 channels, 112x112": ((112, 112, 128), {"kind": "depthwise", "k": 3}, 4,
                                             112 * 112 * 128 * 9),
    "dense 3x3, 64->64 channels, 56x56": ((56, 56, 64), {"kind": "conv", "filters": 64, "k": 3}, 2,
                                          56 * 56 * 64 * 64 * 9),
}  # fmt: skip


def _convert(shape: tuple[int, int, int], spec: dict[str, Any], repeats: int) -> tuple[bytes, bytes]:
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    import tensorflow as tf
    import tf_keras as keras

    inputs = keras.Input(shape, batch_size=1)
    x = inputs
    for _ in range(repeats):
        if spec["kind"] == "depthwise":
            x = keras.layers.DepthwiseConv2D(spec["k"], padding="same", activation="relu")(x)
        else:
            x = keras.layers.Conv2D(spec["filters"], spec["k"], padding="same", activation="relu")(x)
    model = keras.Model(inputs, x)
    fp32 = tf.lite.TFLiteConverter.from_keras_model(model).convert()
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    rng = np.random.RandomState(0)
    converter.representative_dataset = lambda: ([rng.uniform(0, 1, (1, *shape)).astype(np.float32)] for _ in range(8))
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    return fp32, converter.convert()


def _call(blob: bytes) -> Callable[[], object]:
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=blob, num_threads=1)
    interpreter.allocate_tensors()
    detail = interpreter.get_input_details()[0]
    sample = np.random.RandomState(0).uniform(0, 1, detail["shape"]).astype(np.float32)

    def call() -> object:
        interpreter.set_tensor(detail["index"], sample)
        interpreter.invoke()
        return None

    return call


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=40)
    args = parser.parse_args()
    load_before = os.getloadavg()
    rows = []
    for name, (shape, spec, repeats, macs) in LAYERS.items():
        fp32_blob, int8_blob = _convert(shape, spec, repeats)
        calls = {"fp32": _call(fp32_blob), "int8": _call(int8_blob)}
        for call in calls.values():
            for _ in range(5):
                call()
        wall: dict[str, list[float]] = {k: [] for k in calls}
        cpu: dict[str, list[float]] = {k: [] for k in calls}
        for _ in range(args.rounds):
            for key, call in calls.items():
                cpu_start, start = time.thread_time_ns(), time.perf_counter_ns()
                call()
                wall[key].append((time.perf_counter_ns() - start) / 1e6)
                cpu[key].append((time.thread_time_ns() - cpu_start) / 1e6)
        row: dict[str, Any] = {"layer": name, "layers": repeats, "macs_per_layer": macs}
        for key in calls:
            median_cpu = float(np.median(cpu[key]))
            row[key] = {
                "cpu_median_ms": round(median_cpu, 3),
                "wall_median_ms": round(float(np.median(wall[key])), 3),
                "gmac_per_s_cpu": round(macs * repeats / median_cpu / 1e6, 1),
            }
        row["fp32_over_int8_cpu"] = round(row["fp32"]["cpu_median_ms"] / row["int8"]["cpu_median_ms"], 3)
        logger.info("%s: fp32 %.2f ms, int8 %.2f ms (CPU time): int8 %.2fx faster", name,
                    row["fp32"]["cpu_median_ms"], row["int8"]["cpu_median_ms"], row["fp32_over_int8_cpu"])  # fmt: skip
        rows.append(row)
    from importlib import metadata

    path = write_result(
        "xnnpack_int8_kernels",
        {
            "what": "XNNPACK fp32 vs int8 (TFLite converter full int8, per-channel weights) at 1 thread, one layer "
            "kind per model, calls alternating, median thread CPU time per call of `rounds` calls",
            "machine": int8_machine(load_before),
            "ai_edge_litert": metadata.version("ai-edge-litert"),
            "rounds": args.rounds,
            "rows": rows,
        },
    )
    logger.info("wrote %s", path)


if __name__ == "__main__":
    main()
