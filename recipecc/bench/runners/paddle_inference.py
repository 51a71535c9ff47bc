"""``paddle.bench``: quality, size and latency of a Paddle inference model with Paddle Inference on the host CPU.

fp32 models run with oneDNN; int8 models run with oneDNN *and* its int8 kernels switched on
(``enable_mkldnn_int8``): without that switch a quantized model runs its fake-quant ops in fp32 and is many times
slower. Each thread count gets its own predictor (``set_cpu_math_library_num_threads``).
"""

from __future__ import annotations

import zlib  # noqa: F401  - before paddle
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from recipecc.bench.record import measure_stage
from recipecc.passes.base import PassContext, read_artifact
from recipecc.passes.data.arrays import load_split
from recipecc.passes.paddle.layer_table import layer_table
from recipecc.passes.quiet import quiet_stdout

__all__ = ["run"]


def _predictor(model_dir: Path, files: list[str], precision: str, threads: int) -> Any:
    import paddle.inference as pi

    config = pi.Config(str(model_dir / files[0]), str(model_dir / files[1]))
    config.disable_gpu()
    config.disable_glog_info()
    config.enable_mkldnn()
    if precision == "int8":
        config.enable_mkldnn_int8()
    config.set_cpu_math_library_num_threads(threads)
    config.switch_ir_optim(True)
    with quiet_stdout():  # oneDNN int8 passes print their statistics
        return pi.create_predictor(config)


def _outputs(predictor: Any, images: NDArray[Any], batch_size: int = 50) -> NDArray[Any]:
    feed = predictor.get_input_handle(predictor.get_input_names()[0])
    out = predictor.get_output_handle(predictor.get_output_names()[0])
    chunks = []
    for start in range(0, len(images), batch_size):
        batch = np.ascontiguousarray(images[start : start + batch_size])
        feed.reshape(batch.shape)
        feed.copy_from_cpu(batch)
        predictor.run()
        chunks.append(out.copy_to_cpu())
    return np.concatenate(chunks)


def run(ctx: PassContext) -> dict[str, Any]:
    import paddle

    p = ctx.params
    model_dir = ctx.input("model")
    meta = read_artifact(model_dir)
    data = load_split(ctx.input("data"))
    precision, files = str(p["precision"]), list(meta["model_files"])
    threads_list = [int(t) for t in p["threads"]]
    sample = np.ascontiguousarray(data["x_test"][: int(p["batch_size"])])

    with quiet_stdout():  # the first run of an int8 predictor prints oneDNN pass statistics
        outputs = _outputs(_predictor(model_dir, files, precision, max(threads_list)), data["x_test"])

    def make_call(threads: int) -> Any:
        predictor = _predictor(model_dir, files, precision, threads)
        feed = predictor.get_input_handle(predictor.get_input_names()[0])
        out = predictor.get_output_handle(predictor.get_output_names()[0])
        feed.reshape(sample.shape)
        with quiet_stdout():
            feed.copy_from_cpu(sample)
            predictor.run()

        def call() -> object:
            feed.copy_from_cpu(sample)
            predictor.run()
            return out.copy_to_cpu()

        return call

    describe = {
        "runtime": f"Paddle Inference {paddle.__version__}",
        "engine": "oneDNN int8 (enable_mkldnn_int8)" if precision == "int8" else "oneDNN fp32",
        "batch_size": int(p["batch_size"]),
    }
    return measure_stage(
        ctx,
        model_meta=meta,
        labels=data.get("y_test"),
        outputs=outputs,
        make_call=make_call,
        describe=describe,
        model_paths=[model_dir / name for name in files],
        layer_table=lambda: layer_table(model_dir, files),
        sample=sample,
    )
