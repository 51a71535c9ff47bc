"""``paddle.bench``: quality, size and latency of a Paddle inference model with Paddle Inference on the host CPU.

fp32 models run with oneDNN; int8 models run with oneDNN *and* its int8 kernels switched on
(``enable_mkldnn_int8``): without that switch a quantized model runs its fake-quant ops in fp32 and is many times
slower. Each thread count gets its own predictor (``set_cpu_math_library_num_threads``). On a CPU without AVX-512
the ``self_attention_fuse_pass`` is switched off: Paddle 2.6.2 executes AVX-512 instructions in it unasked and dies
with SIGILL on attention models such as PP-OCRv4's recognizer (``recipecc/common/cpu.py``).
"""

from __future__ import annotations

import zlib  # noqa: F401  - before paddle
from typing import Any

import numpy as np
from numpy.typing import NDArray

from recipecc.bench.evaluation import evaluate_stage, timing_feeds
from recipecc.bench.record import measure_stage
from recipecc.passes.base import PassContext, read_artifact
from recipecc.passes.data.arrays import load_split
from recipecc.passes.paddle.layer_table import layer_table
from recipecc.passes.paddle.predictor import fp32_pool_reason, make_predictor, skipped_passes
from recipecc.passes.quiet import quiet_stdout

__all__ = ["make_predictor", "run"]


class _Model:
    """A predictor fed by input name, returning every output in the model's order."""

    def __init__(self, predictor: Any) -> None:
        self.predictor = predictor
        self.input_names = list(predictor.get_input_names())
        self.output_names = list(predictor.get_output_names())
        self.inputs = {name: predictor.get_input_handle(name) for name in self.input_names}
        self.outputs = [predictor.get_output_handle(name) for name in self.output_names]

    def feed(self, feeds: dict[str, NDArray[Any]]) -> None:
        for name, value in feeds.items():
            handle = self.inputs[name]
            value = np.ascontiguousarray(value)
            handle.reshape(value.shape)
            handle.copy_from_cpu(value)

    def __call__(self, feeds: dict[str, NDArray[Any]]) -> list[NDArray[Any]]:
        self.feed(feeds)
        self.predictor.run()
        return [out.copy_to_cpu() for out in self.outputs]


def run(ctx: PassContext) -> dict[str, Any]:
    import paddle

    p = ctx.params
    model_dir = ctx.input("model")
    meta = read_artifact(model_dir)
    data_dir = ctx.input("data")
    data = load_split(data_dir)
    precision, files = str(p["precision"]), list(meta["model_files"])
    threads_list = [int(t) for t in p["threads"]]

    model = _Model(make_predictor(model_dir, files, precision, max(threads_list)))
    with quiet_stdout():  # the first run of an int8 predictor prints oneDNN pass statistics
        evaluation = evaluate_stage(
            ctx, data, input_names=model.input_names, output_names=model.output_names, predict=model
        )
    sample = timing_feeds(p, model.input_names, data["x_test"], int(p["batch_size"]))

    def make_call(threads: int) -> Any:
        timed = _Model(make_predictor(model_dir, files, precision, threads))
        with quiet_stdout():
            timed(sample)

        def call() -> object:
            return timed(sample)

        return call

    fp32_pools = fp32_pool_reason(model_dir / files[0]) if precision == "int8" else None
    describe = {
        "runtime": f"Paddle Inference {paddle.__version__}",
        "engine": ("oneDNN int8 (enable_mkldnn_int8)" if precision == "int8" else "oneDNN fp32")
        + (f", pool2d in fp32 ({fp32_pools}: oneDNN has no int8 kernel for it)" if fp32_pools else "")
        + "".join(f", without {name} (no AVX-512 here)" for name in skipped_passes()),
        "batch_size": int(p["batch_size"]),
    }
    return measure_stage(
        ctx,
        model_meta=meta,
        evaluation=evaluation,
        make_call=make_call,
        describe=describe,
        model_paths=[model_dir / name for name in files],
        layer_table=lambda: layer_table(model_dir, files),
        sample=next(iter(sample.values())),
    )
