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

from recipecc.bench.evaluation import evaluate_stage, timing_feeds
from recipecc.bench.record import measure_stage
from recipecc.passes.base import PassContext, PassFailure
from recipecc.passes.data.arrays import load_split
from recipecc.passes.onnx.common import source_model
from recipecc.passes.onnx.layer_table import layer_table

__all__ = ["make_session", "run"]

_LEVELS = {
    "disable": "ORT_DISABLE_ALL",
    "basic": "ORT_ENABLE_BASIC",
    "extended": "ORT_ENABLE_EXTENDED",
    "all": "ORT_ENABLE_ALL",
}


def make_session(path: Path, threads: int, level: str) -> Any:
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


class _Session:
    """A session fed by input name; a fixed batch dimension gets its last chunk padded (and the padding dropped)."""

    def __init__(self, session: Any) -> None:
        self.session = session
        self.input_names = [i.name for i in session.get_inputs()]
        self.output_names = [o.name for o in session.get_outputs()]
        batch = session.get_inputs()[0].shape[0]
        self.fixed_batch = batch if isinstance(batch, int) and batch > 0 else None

    def __call__(self, feeds: dict[str, NDArray[Any]]) -> list[NDArray[Any]]:
        count = len(next(iter(feeds.values())))
        if self.fixed_batch is None or count == self.fixed_batch:
            return list(self.session.run(None, feeds))
        results: list[list[NDArray[Any]]] = []
        for start in range(0, count, self.fixed_batch):
            chunk = {name: value[start : start + self.fixed_batch] for name, value in feeds.items()}
            short = self.fixed_batch - len(next(iter(chunk.values())))
            if short:
                chunk = {k: np.concatenate([v, np.zeros((short, *v.shape[1:]), v.dtype)]) for k, v in chunk.items()}
            outs = self.session.run(None, chunk)
            results.append([o[: len(o) - short] for o in outs])
        return [np.concatenate(parts) for parts in zip(*results, strict=True)]


def run(ctx: PassContext) -> dict[str, Any]:
    import onnxruntime as ort

    p = ctx.params
    path, meta = source_model(ctx.input("model"))
    data_dir = ctx.input("data")
    data = load_split(data_dir)
    level = str(p.get("graph_optimization", "all"))
    threads_list = [int(t) for t in p["threads"]]
    session = make_session(path, max(threads_list), level)
    _check_shape(session, np.asarray(data["x_test"][:1]))
    model = _Session(session)
    evaluation = evaluate_stage(
        ctx,
        data,
        input_names=model.input_names,
        output_names=model.output_names,
        predict=lambda feeds: [np.asarray(o, dtype=np.float32) for o in model(feeds)],
        batch_size=model.fixed_batch or 16,
    )
    batch_size = model.fixed_batch or int(p["batch_size"])
    sample = timing_feeds(p, model.input_names, data["x_test"], batch_size)

    def make_call(threads: int) -> Any:
        timed = make_session(path, threads, level)

        def call() -> object:
            return timed.run(None, sample)

        return call

    describe = {
        "runtime": f"ONNX Runtime {ort.__version__}",
        "engine": f"CPUExecutionProvider, graph optimization {level} ({_LEVELS[level]}), inter_op 1",
        "batch_size": batch_size,
    }
    return measure_stage(
        ctx,
        model_meta=meta,
        evaluation=evaluation,
        make_call=make_call,
        describe=describe,
        model_paths=[path.parent / str(name) for name in meta["model_files"]],
        layer_table=lambda: layer_table(path),
        sample=next(iter(sample.values())),
    )
