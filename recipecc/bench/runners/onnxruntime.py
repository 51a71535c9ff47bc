"""``onnx.bench``: quality, size and latency of an ONNX model with ONNX Runtime's CPU execution provider.

Each thread count gets its own session: ``intra_op_num_threads`` = the count, ``inter_op_num_threads`` = 1 and
sequential execution (batch-1 vision models have no parallel branches worth a second pool), and the graph
optimization level of the target (``target.graph_optimization``), which the latency rows state in ``engine``.
The outputs on the held-out inputs are computed once, in batches of the model's batch size when it is fixed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from recipecc.bench.record import measure_stage
from recipecc.passes.base import PassContext, PassFailure
from recipecc.passes.data.arrays import load_split
from recipecc.passes.onnx.common import source_model

__all__ = ["run"]

_LEVELS = {
    "disable": "ORT_DISABLE_ALL",
    "basic": "ORT_ENABLE_BASIC",
    "extended": "ORT_ENABLE_EXTENDED",
    "all": "ORT_ENABLE_ALL",
}


def _session(path: Path, threads: int, level: str) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = getattr(ort.GraphOptimizationLevel, _LEVELS[level])
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def _check_shape(session: Any, images: NDArray[Any]) -> None:
    """The dataset's images must fit the model's input; say which dims disagree instead of an ORT trace."""
    expected = session.get_inputs()[0].shape
    got = list(images.shape)
    if len(expected) != len(got) or any(
        isinstance(e, int) and e != g for e, g in zip(expected[1:], got[1:], strict=False)
    ):
        raise PassFailure(
            f"the dataset gives inputs of shape [N, {', '.join(map(str, got[1:]))}] but the model expects "
            f"{expected}: set dataset.size / dataset.layout (or model.input_shape) to match"
        )


def _outputs(session: Any, images: NDArray[Any]) -> NDArray[Any]:
    info = session.get_inputs()[0]
    batch = info.shape[0] if isinstance(info.shape[0], int) and info.shape[0] > 0 else 50
    chunks: list[NDArray[Any]] = []
    for start in range(0, len(images), batch):
        chunk = images[start : start + batch]
        short = batch - len(chunk) if isinstance(info.shape[0], int) else 0
        if short:  # a fixed batch size: pad the last chunk, drop the padding's outputs
            chunk = np.concatenate([chunk, np.zeros((short, *chunk.shape[1:]), chunk.dtype)])
        result: NDArray[Any] = session.run(None, {info.name: np.ascontiguousarray(chunk)})[0]
        chunks.append(result[: len(result) - short])
    outputs: NDArray[Any] = np.concatenate(chunks).astype(np.float32)
    return outputs


def run(ctx: PassContext) -> dict[str, Any]:
    import onnxruntime as ort

    p = ctx.params
    path, meta = source_model(ctx.input("model"))
    data = load_split(ctx.input("data"))
    level = str(p.get("graph_optimization", "all"))
    threads_list = [int(t) for t in p["threads"]]
    images = np.ascontiguousarray(data["x_test"], dtype=np.float32)
    session = _session(path, max(threads_list), level)
    _check_shape(session, images)
    outputs = _outputs(session, images)
    input_name = session.get_inputs()[0].name
    fixed_batch = session.get_inputs()[0].shape[0]
    batch_size = fixed_batch if isinstance(fixed_batch, int) and fixed_batch > 0 else int(p["batch_size"])
    sample = np.ascontiguousarray(images[:batch_size])

    def make_call(threads: int) -> Any:
        timed = _session(path, threads, level)

        def call() -> object:
            return timed.run(None, {input_name: sample})

        return call

    describe = {
        "runtime": f"ONNX Runtime {ort.__version__}",
        "engine": f"CPUExecutionProvider, graph optimization {level} ({_LEVELS[level]}), inter_op 1",
        "batch_size": batch_size,
    }
    return measure_stage(
        ctx,
        model_meta=meta,
        labels=data.get("y_test"),
        outputs=outputs,
        make_call=make_call,
        describe=describe,
        model_paths=[path.parent / str(name) for name in meta["model_files"]],
        sample=sample,
    )
