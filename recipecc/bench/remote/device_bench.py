"""Benchmark one model on this device with its own runtime; print one JSON document. Copied to the device by
recipecc's SSH measurer and run there with ``target.ssh.python``: it needs only numpy and the runtime.

    python device_bench.py config.json

``config.json``: ``runtime`` (onnxruntime | tflite | paddle_inference | paddle_inference_gpu | paddle_tensorrt |
paddle_lite), ``model`` (file names in this folder), ``sample`` (an .npy input), ``threads``, ``warmup``,
``repeats``, ``precision``. ``--probe RUNTIME`` only checks that the runtime imports and prints its version.
The protocol is the host's: untimed warmup calls, then each call timed with ``time.perf_counter_ns``; median, p90,
mean, min, standard deviation and coefficient of variation; a measurement whose spread is large is flagged noisy.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from typing import Any

NOISY_CV = 0.10  # coefficient of variation above which a measurement is flagged noisy


def _version(runtime: str) -> str:
    if runtime == "onnxruntime":
        import onnxruntime

        return f"ONNX Runtime {onnxruntime.__version__}"
    if runtime == "tflite":
        try:
            import ai_edge_litert

            return f"ai-edge-litert {getattr(ai_edge_litert, '__version__', '')}".strip()
        except ImportError:
            import tflite_runtime

            return f"tflite-runtime {tflite_runtime.__version__}"
    if runtime == "paddle_lite":
        import paddlelite

        return f"Paddle Lite {getattr(paddlelite, '__version__', '')}".strip()
    import paddle

    return f"Paddle Inference {paddle.__version__}"


def _onnx_call(files: list[str], sample: Any, threads: int) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(files[0], options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    return lambda: session.run(None, {name: sample})


def _tflite_call(files: list[str], sample: Any, threads: int) -> Any:
    import numpy as np

    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        from tflite_runtime.interpreter import Interpreter
    interpreter = Interpreter(model_path=files[0], num_threads=threads)
    interpreter.allocate_tensors()
    inp = interpreter.get_input_details()[0]
    out = interpreter.get_output_details()[0]
    data = sample
    if np.issubdtype(inp["dtype"], np.integer):
        scale, zero = inp["quantization"]
        info = np.iinfo(inp["dtype"])
        data = np.clip(np.round(sample / scale + zero), info.min, info.max).astype(inp["dtype"])

    def call() -> Any:
        interpreter.set_tensor(inp["index"], data)
        interpreter.invoke()
        return interpreter.get_tensor(out["index"])

    return call


def _paddle_call(files: list[str], sample: Any, threads: int, runtime: str, precision: str) -> Any:
    import paddle.inference as pi

    config = pi.Config(files[0], files[1])
    if runtime == "paddle_inference":
        config.disable_gpu()
        config.enable_mkldnn()
        if precision == "int8":
            config.enable_mkldnn_int8()
        config.set_cpu_math_library_num_threads(threads)
    else:
        config.enable_use_gpu(256, 0)
        if runtime == "paddle_tensorrt":
            mode = {"int8": pi.PrecisionType.Int8, "fp16": pi.PrecisionType.Half}.get(
                precision, pi.PrecisionType.Float32
            )
            config.enable_tensorrt_engine(1 << 30, 1, 3, mode, False, False)
    config.disable_glog_info()
    predictor = pi.create_predictor(config)
    feed = predictor.get_input_handle(predictor.get_input_names()[0])
    out = predictor.get_output_handle(predictor.get_output_names()[0])
    feed.reshape(sample.shape)

    def call() -> Any:
        feed.copy_from_cpu(sample)
        predictor.run()
        return out.copy_to_cpu()

    return call


def _paddle_lite_call(files: list[str], sample: Any, threads: int) -> Any:
    from paddlelite.lite import MobileConfig, Opt, create_paddle_predictor

    opt = Opt()  # the conversion to .nb happens here, on the device, with its own Paddle Lite
    opt.set_model_file(files[0])
    opt.set_param_file(files[1])
    opt.set_valid_places("arm")
    opt.set_model_type("naive_buffer")
    opt.set_optimize_out("model_lite")
    opt.run()
    config = MobileConfig()
    config.set_model_from_file("model_lite.nb")
    config.set_threads(threads)
    predictor = create_paddle_predictor(config)
    tensor = predictor.get_input(0)
    tensor.from_numpy(sample)

    def call() -> Any:
        predictor.run()
        return predictor.get_output(0).numpy()

    return call


def _make_call(config: dict[str, Any], sample: Any, threads: int) -> Any:
    runtime, files = config["runtime"], config["model"]
    if runtime == "onnxruntime":
        return _onnx_call(files, sample, threads)
    if runtime == "tflite":
        return _tflite_call(files, sample, threads)
    if runtime == "paddle_lite":
        return _paddle_lite_call(files, sample, threads)
    return _paddle_call(files, sample, threads, runtime, config.get("precision", "fp32"))


def _stats(samples: Any) -> dict[str, Any]:
    import numpy as np

    median = float(np.median(samples))
    mean = float(samples.mean())
    std = float(samples.std())
    cv = std / mean if mean > 0 else 0.0
    return {
        "median_ms": median,
        "p90_ms": float(np.percentile(samples, 90)),
        "mean_ms": mean,
        "min_ms": float(samples.min()),
        "std_ms": std,
        "cv": cv,
        "noisy": bool(cv > NOISY_CV),
    }


def measure(config: dict[str, Any]) -> dict[str, Any]:
    import numpy as np

    sample = np.load(config["sample"])
    rows = []
    for threads in config["threads"]:
        call = _make_call(config, sample, int(threads))
        for _ in range(int(config["warmup"])):
            call()
        samples = np.empty(int(config["repeats"]))
        for index in range(len(samples)):
            start = time.perf_counter_ns()
            call()
            samples[index] = (time.perf_counter_ns() - start) / 1e6
        rows.append({"threads": int(threads), **_stats(samples)})
    return {
        "runtime": _version(config["runtime"]),
        "device": {
            "machine": platform.machine(),
            "system": f"{platform.system()} {platform.release()}",
            "node": platform.node(),
            "cores": os.cpu_count(),
            "python": platform.python_version(),
        },
        "rows": rows,
    }


def main(argv: list[str]) -> int:
    if len(argv) == 2 and argv[0] == "--probe":
        try:
            import numpy  # noqa: F401  - the benchmark needs it beside the runtime

            print(json.dumps({"ok": True, "runtime": _version(argv[1]), "machine": platform.machine()}))
        except ImportError as exc:
            print(json.dumps({"ok": False, "error": f"{type(exc).__name__}: {exc}"}))
        return 0
    with open(argv[0]) as handle:
        config = json.load(handle)
    os.chdir(os.path.dirname(os.path.abspath(argv[0])))
    print(json.dumps(measure(config)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
