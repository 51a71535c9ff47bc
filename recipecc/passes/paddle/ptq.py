"""``paddle.ptq``: static int8 post-training quantization with PaddleSlim's ``quant_post_static``.

Weights and activations become int8; activation ranges come from ``batch_nums`` batches of the training split
(never the held-out split that measures accuracy). The model is written in the ONNX-style quantize/dequantize
format (``onnx_format=True``), which Paddle Inference runs with oneDNN int8 kernels and paddle2onnx converts.
Only the operator types in ``op_types`` are quantized: the planner chooses those the target runtime can run in int8
(``plan/pipelines/paddle.py:quantizable_op_types``).

``algo: search`` is a calibration search (``recipecc/passes/calibration_search.py``, shared with ONNX Runtime): every
PaddleSlim method in ``candidates`` calibrates on the calibration images, each candidate runs in Paddle Inference
with oneDNN int8 (the engine the benchmark measures, with this CPU's int8 numerics) on training images calibration
did not see and is scored against the fp32 model; the best-scoring few and fp32 are timed at one thread, and the
best-scoring one faster than fp32 is kept; every candidate's numbers go into the report. ``algo: auto`` plans this
search for a user's own inference model on Paddle Inference targets (``plan/neutral.py``). Weights keep the
recipe's granularity (per-channel by default): oneDNN runs per-channel and per-tensor int8 weights with the same
kernels, so that axis would double the search's cost for no speed difference.

Batch norm is folded into the convolutions before calibration (``optimize_model=True``: Paddle's
``conv_bn_fuse_pass`` family on the program): the folded weights are what gets quantized, as every int8 runtime
would fold them anyway, and the shipped model no longer carries fp32 batch-norm parameters beside its int8 weights
(DeepLabv3-MobileNetV2: 51 batch norms, 253 KB of its 2.41 MB). The artifact records how many were folded.
"""

from __future__ import annotations

import shutil
import zlib  # noqa: F401  - before paddle
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import paddle
from numpy.typing import NDArray

from recipecc.passes.base import PassContext, PassFailure, read_artifact
from recipecc.passes.calibration_search import Candidate, median_ms, run_search, split_for_search
from recipecc.passes.data.arrays import load_split
from recipecc.passes.paddle.predictor import make_predictor
from recipecc.passes.quiet import quiet_stdout

__all__ = ["run"]


class _Calibration(paddle.io.Dataset):  # type: ignore[misc]
    def __init__(self, images: NDArray[Any]) -> None:
        super().__init__()
        self.images = images

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> tuple[NDArray[Any]]:
        return (self.images[index],)


_FLOAT_DTYPES = ("float32", "float16", "float64", "bfloat16")


@contextmanager
def _float_activations_only() -> Iterator[None]:
    """Calibrate floating-point tensors only.

    PaddleSlim observes the outputs of many non-quantized ops (``slice``, ``shape``, ...) to record their ranges.
    A model that slices its own shape (PP-OCRv4's recognizer: three 0-D int64 sequence lengths) hands those integer
    tensors to the sampler, and Paddle 2.6's ``avg`` sampler reshapes every tensor by its first dimension: "tuple
    index out of range" on a 0-D one. Integer tensors have no range to calibrate; they go where Paddle puts
    tensors it cannot calibrate (its zero-size list: skipped with a warning, never quantized).
    """
    from paddle.static.quantization.post_training_quantization import PostTrainingQuantization

    original = PostTrainingQuantization._collect_target_varnames

    def collect(self: Any) -> None:
        original(self)
        block_vars = {var.name: var for var in self._program.list_vars()}
        for name in list(self._quantized_act_var_name):
            var = block_vars.get(name)
            if var is not None and str(var.dtype).rsplit(".", 1)[-1] not in _FLOAT_DTYPES:
                self._quantized_act_var_name.discard(name)
                self._zero_size_var_names.add(name)

    PostTrainingQuantization._collect_target_varnames = collect
    try:
        yield
    finally:
        PostTrainingQuantization._collect_target_varnames = original


def _count_ops(program_file: Path, op_type: str) -> int:
    """How many ops of ``op_type`` a saved inference program holds."""
    from paddle.base.proto import framework_pb2  # the raw ProgramDesc: no op needs to be registered to count it

    program = framework_pb2.ProgramDesc()
    program.ParseFromString(program_file.read_bytes())
    return sum(op.type == op_type for block in program.blocks for op in block.ops)


def _quantize(
    source: Path, meta: dict[str, Any], images: NDArray[Any], out_dir: Path, p: Any, *, algo: str, per_channel: bool
) -> None:
    """PaddleSlim's ``quant_post_static`` of the inference model in ``source`` into ``out_dir``."""
    from paddleslim.quant import quant_post_static

    batch_size, batch_nums = int(p["batch_size"]), int(p["batch_nums"])
    paddle.enable_static()
    try:
        feed_program = paddle.static.Program()
        with paddle.static.program_guard(feed_program, paddle.static.Program()):
            feed = paddle.static.data(meta["input_name"], [-1, *meta["input_shape"]], "float32")
        loader = paddle.io.DataLoader(
            _Calibration(images),
            feed_list=[feed],
            batch_size=batch_size,
            return_list=False,
            places=paddle.CPUPlace(),
            shuffle=False,
            drop_last=False,
        )
        model_file, params_file = meta["model_files"]
        with quiet_stdout(), _float_activations_only():
            quant_post_static(
                executor=paddle.static.Executor(paddle.CPUPlace()),
                model_dir=str(source),
                model_filename=model_file,
                params_filename=params_file,
                quantize_model_path=str(out_dir),
                save_model_filename=model_file,
                save_params_filename=params_file,
                data_loader=loader,
                batch_size=batch_size,
                batch_nums=batch_nums,
                algo=algo,
                weight_bits=int(p["bits"]),
                activation_bits=int(p["bits"]),
                weight_quantize_type="channel_wise_abs_max" if per_channel else "abs_max",
                onnx_format=True,
                quantizable_op_type=list(p["op_types"]),
                optimize_model=True,
            )
    finally:
        paddle.disable_static()


#: images per predictor call while a candidate's outputs are collected (timing uses one image)
_SCORE_BATCH = 8


def _feeder(model_dir: Path, files: list[str], precision: str) -> Any:
    """A call ``images -> first output`` on a Paddle Inference predictor (oneDNN, as the benchmark runs it)."""
    predictor = make_predictor(model_dir, files, precision, 1)
    feed = predictor.get_input_handle(predictor.get_input_names()[0])
    fetch = predictor.get_output_handle(predictor.get_output_names()[0])

    def call(batch: NDArray[Any]) -> NDArray[Any]:
        batch = np.ascontiguousarray(batch, dtype=np.float32)
        feed.reshape(batch.shape)
        feed.copy_from_cpu(batch)
        predictor.run()
        return np.asarray(fetch.copy_to_cpu())

    return call


def _outputs(model_dir: Path, files: list[str], precision: str, images: NDArray[Any]) -> NDArray[Any]:
    """First output on ``images`` with Paddle Inference."""
    call = _feeder(model_dir, files, precision)
    with quiet_stdout():  # oneDNN's int8 passes print statistics on the first run
        return np.concatenate([call(images[i : i + _SCORE_BATCH]) for i in range(0, len(images), _SCORE_BATCH)])


def _latency(model_dir: Path, files: list[str], precision: str, images: NDArray[Any]) -> float:
    """Median one-thread latency in ms at batch 1 with Paddle Inference."""
    call = _feeder(model_dir, files, precision)
    one = images[:1]
    with quiet_stdout():
        return median_ms(lambda: call(one))


def run(ctx: PassContext) -> dict[str, Any]:
    p = ctx.params
    source = ctx.input("model")
    meta = read_artifact(source)
    if meta.get("format") != "paddle-inference":
        raise PassFailure(f"needs a Paddle inference model, got {meta.get('format')}")
    data = load_split(ctx.input("data"))
    pool = data["x_train"]
    search = p["algo"] == "search"
    rng = np.random.RandomState(int(p["seed"]))
    order = rng.permutation(len(pool))
    count = split_for_search(len(pool), int(p["batch_size"]) * int(p["batch_nums"]), search=search)
    images = pool[order[:count]]
    per_channel = bool(p["weight_per_channel"])
    files = list(meta["model_files"])
    result: dict[str, Any] = {}
    if search:
        record, chosen = run_search(
            candidates=[Candidate(str(algo), per_channel) for algo in p["candidates"]],
            work_dir=ctx.out_dir / "candidates",
            calibration=images,
            held_out=np.ascontiguousarray(pool[order[count:]], dtype=np.float32),
            quantize=lambda c, target: _quantize(source, meta, images, target, p, algo=c.algo, per_channel=per_channel),
            outputs=lambda path, held: _outputs(path or source, files, "fp32" if path is None else "int8", held),
            latency=lambda path, held: _latency(path or source, files, "fp32" if path is None else "int8", held),
            timed=int(p["timed_candidates"]),
        )
        for name in files:
            shutil.copyfile(chosen / name, ctx.out_dir / name)
        shutil.rmtree(ctx.out_dir / "candidates", ignore_errors=True)
        algo = str(record["algo"])
        result["quantization"] = {"mode": "ptq_static", "why": str(p.get("why", "")), "calibration_search": record}
    else:
        algo = str(p["algo"])
        _quantize(source, meta, images, ctx.out_dir, p, algo=algo, per_channel=per_channel)
    calibration: dict[str, Any] = {"images": count, "algo": algo, "per_channel_weights": per_channel}
    if search:
        calibration["chosen_by"] = "calibration search"
    return {
        **{k: v for k, v in meta.items() if k not in ("size_bytes", "precision")},
        "batch_norms_folded": _count_ops(source / meta["model_files"][0], "batch_norm")
        - _count_ops(ctx.out_dir / meta["model_files"][0], "batch_norm"),
        **result,
        "precision": f"int{p['bits']}",
        "size_bytes": sum((ctx.out_dir / name).stat().st_size for name in files),
        "calibration": calibration,
        "quantized_op_types": list(p["op_types"]),
    }
