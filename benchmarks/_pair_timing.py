"""Time an fp32 model and its int8 twin on one runtime, call for call in alternation (run as a subprocess).

    python benchmarks/_pair_timing.py RUNTIME FP32_PATH INT8_PATH --rounds N --threads T

RUNTIME is ``paddle_inference``, ``onnxruntime`` or ``tflite``; each path is what the run folder's
``files.model`` names (a Paddle model folder, an ``.onnx`` or a ``.tflite`` file). The two models are loaded with
recipecc's own runner settings (``bench/runners``; Paddle models take ``--shape``), warmed up, then called
alternately ``rounds`` times on the same seeded input, so a machine whose load changes during the measurement
slows both alike. Each call's process CPU time is taken too (at one thread the runtimes compute on the calling
thread: the CPU time is the call's cost without the waits for a core). Prints one JSON object; for TFLite it
includes which ops XNNPACK took over in each model. A framework is imported only here, one per process (Paddle and
TensorFlow crash in one process).
"""

from __future__ import annotations

import argparse
import json
import time
import zlib  # noqa: F401  - before paddle
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

Call = Callable[[], object]
Loaded = tuple[Call, list[int], dict[str, Any]]


def _paddle(path: Path, precision: str, threads: int, shape: list[int]) -> Loaded:
    from recipecc.bench.runners.paddle_inference import make_predictor

    model = next(path.glob("*.pdmodel"))
    predictor = make_predictor(path, [model.name, model.with_suffix(".pdiparams").name], precision, threads)
    handle = predictor.get_input_handle(predictor.get_input_names()[0])
    output = predictor.get_output_handle(predictor.get_output_names()[0])
    sample = np.random.RandomState(0).standard_normal(shape).astype(np.float32)

    def call() -> object:
        handle.reshape(sample.shape)
        handle.copy_from_cpu(sample)
        predictor.run()
        return output.copy_to_cpu()

    return call, shape, {}


def _onnx(path: Path, precision: str, threads: int, shape: list[int]) -> Loaded:
    from recipecc.bench.runners.onnxruntime import make_session

    session = make_session(path, threads, "all")
    first = session.get_inputs()[0]
    shape = [d if isinstance(d, int) and d > 0 else 1 for d in first.shape]
    feeds = {first.name: np.random.RandomState(0).standard_normal(shape).astype(np.float32)}

    def call() -> object:
        return session.run(None, feeds)

    return call, shape, {}


def _tflite(path: Path, precision: str, threads: int, shape: list[int]) -> Loaded:
    from recipecc.bench.runners.tflite import TFLiteModel

    model = TFLiteModel(path, threads, "xnnpack")
    sample = np.random.RandomState(0).standard_normal(model.input_shape).astype(np.float32)

    def call() -> object:
        return model(sample)

    return call, model.input_shape, {"xnnpack_delegation": model.delegation()}


_LOADERS = {"paddle_inference": _paddle, "onnxruntime": _onnx, "tflite": _tflite}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("runtime", choices=sorted(_LOADERS))
    parser.add_argument("fp32", type=Path)
    parser.add_argument("int8", type=Path)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--shape", default="1,3,224,224", help="the input shape (Paddle; the others read theirs)")
    args = parser.parse_args()
    load = _LOADERS[args.runtime]
    given = [int(d) for d in args.shape.split(",")]
    fp32, shape, fp32_facts = load(args.fp32, "fp32", args.threads, given)
    int8, _, int8_facts = load(args.int8, "int8", args.threads, given)
    for _ in range(args.warmup):
        fp32()
        int8()
    times: dict[str, list[float]] = {"fp32": [], "int8": []}
    cpu: dict[str, list[float]] = {"fp32": [], "int8": []}
    for _ in range(args.rounds):
        for name, call in (("fp32", fp32), ("int8", int8)):
            cpu_start = time.process_time()
            start = time.perf_counter()
            call()
            times[name].append((time.perf_counter() - start) * 1e3)
            cpu[name].append((time.process_time() - cpu_start) * 1e3)
    result: dict[str, Any] = {"input_shape": shape, "threads": args.threads, "rounds": args.rounds}
    for name, values in times.items():
        result[name] = {
            "median_ms": round(float(np.median(values)), 3),
            "p10_ms": round(float(np.percentile(values, 10)), 3),
            "min_ms": round(min(values), 3),
            "cpu_median_ms": round(float(np.median(cpu[name])), 3),
            "cpu_share": round(sum(cpu[name]) / sum(values) / args.threads, 3),
            **({"facts": facts} if (facts := {"fp32": fp32_facts, "int8": int8_facts}[name]) else {}),
        }
    result["speedup_median"] = round(result["fp32"]["median_ms"] / result["int8"]["median_ms"], 3)
    result["speedup_p10"] = round(result["fp32"]["p10_ms"] / result["int8"]["p10_ms"], 3)
    result["speedup_cpu_median"] = round(result["fp32"]["cpu_median_ms"] / result["int8"]["cpu_median_ms"], 3)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
