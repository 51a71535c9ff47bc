"""``paddle.bench``: top-1, size and latency of a Paddle inference model with Paddle Inference on the host CPU.

fp32 models run with oneDNN; int8 models run with oneDNN *and* its int8 kernels switched on
(``enable_mkldnn_int8``): without that switch a quantized model runs its fake-quant ops in fp32 and is many times
slower. Each thread count gets its own predictor (``set_cpu_math_library_num_threads``).
"""

from __future__ import annotations

import zlib  # noqa: F401  - before paddle
from typing import Any

import numpy as np
from numpy.typing import NDArray

from recipecc.bench.timing import host_description, measure_latency
from recipecc.passes.base import PassContext, read_artifact
from recipecc.passes.data.digits import load_split
from recipecc.passes.paddle.quiet import quiet_stdout

__all__ = ["run"]


def _predictor(model_dir: Any, files: list[str], precision: str, threads: int) -> Any:
    import paddle.inference as pi

    config = pi.Config(str(model_dir / files[0]), str(model_dir / files[1]))
    config.disable_gpu()
    config.disable_glog_info()
    config.enable_mkldnn()
    if precision == "int8":
        config.enable_mkldnn_int8()
    config.set_cpu_math_library_num_threads(threads)
    config.switch_ir_optim(True)
    with quiet_stdout():  # oneDNN int8 passes print their statistics on stdout
        return pi.create_predictor(config)


def _top1(predictor: Any, images: NDArray[Any], labels: NDArray[Any], batch_size: int = 50) -> float:
    feed = predictor.get_input_handle(predictor.get_input_names()[0])
    out = predictor.get_output_handle(predictor.get_output_names()[0])
    correct = 0
    for start in range(0, len(images), batch_size):
        batch = np.ascontiguousarray(images[start : start + batch_size])
        feed.reshape(batch.shape)
        feed.copy_from_cpu(batch)
        predictor.run()
        correct += int((out.copy_to_cpu().argmax(1) == labels[start : start + batch_size]).sum())
    return correct / len(images)


def run(ctx: PassContext) -> dict[str, Any]:
    import paddle

    from recipecc.passes.base import progress

    p = ctx.params
    model_dir = ctx.input("model")
    meta = read_artifact(model_dir)
    data = load_split(ctx.input("data"))
    precision, files = str(p["precision"]), list(meta["model_files"])
    threads_list = [int(t) for t in p["threads"]]
    sample = np.ascontiguousarray(data["x_test"][: int(p["batch_size"])])

    with quiet_stdout():  # the first run of an int8 predictor prints oneDNN pass statistics
        top1 = _top1(_predictor(model_dir, files, precision, max(threads_list)), data["x_test"], data["y_test"])
    latency = []
    with progress(f"bench {p['stage']}", len(threads_list)) as advance:
        for threads in threads_list:
            predictor = _predictor(model_dir, files, precision, threads)
            feed = predictor.get_input_handle(predictor.get_input_names()[0])
            out = predictor.get_output_handle(predictor.get_output_names()[0])
            feed.reshape(sample.shape)
            with quiet_stdout():
                feed.copy_from_cpu(sample)
                predictor.run()

            def call(feed: Any = feed, out: Any = out, predictor: Any = predictor) -> object:
                feed.copy_from_cpu(sample)
                predictor.run()
                return out.copy_to_cpu()

            stats = measure_latency(call, warmup=int(p["warmup"]), repeats=int(p["repeats"]))
            latency.append(
                {
                    "threads": threads,
                    **stats,
                    "source": "measured-host",
                    "runtime": f"Paddle Inference {paddle.__version__}",
                    "engine": "oneDNN int8 (enable_mkldnn_int8)" if precision == "int8" else "oneDNN fp32",
                    "batch_size": int(p["batch_size"]),
                }
            )
            advance(1, f"{threads} thread(s): median {stats['median_ms']:.3f} ms")
    return {
        "format": "benchmark",
        "stage": p["stage"],
        "model_format": meta["format"],
        "precision": precision,
        "size_bytes": int(meta["size_bytes"]),
        "model_files": files,
        "metrics": {"top1": top1},
        "latency": latency,
        "model": {
            k: meta[k]
            for k in ("params", "flops", "flops_reduction", "params_reduction", "selector_matches", "calibration")
            if k in meta
        },
        "host": host_description(),
    }
