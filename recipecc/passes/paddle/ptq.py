"""``paddle.ptq``: static int8 post-training quantization with PaddleSlim's ``quant_post_static``.

Weights and activations become int8; activation ranges come from ``batch_nums`` batches of the training split
(never the held-out split that measures accuracy). The model is written in the ONNX-style quantize/dequantize
format (``onnx_format=True``), which Paddle Inference runs with oneDNN int8 kernels and paddle2onnx converts.
Only the operator types in ``op_types`` are quantized: the planner chooses those the target runtime can run in int8
(``plan/pipelines/paddle.py:quantizable_op_types``).

Batch norm is folded into the convolutions before calibration (``optimize_model=True``: Paddle's
``conv_bn_fuse_pass`` family on the program): the folded weights are what gets quantized, as every int8 runtime
would fold them anyway, and the shipped model no longer carries fp32 batch-norm parameters beside its int8 weights
(DeepLabv3-MobileNetV2: 51 batch norms, 253 KB of its 2.41 MB). The artifact records how many were folded.
"""

from __future__ import annotations

import zlib  # noqa: F401  - before paddle
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import paddle
from numpy.typing import NDArray

from recipecc.passes.base import PassContext, PassFailure, read_artifact
from recipecc.passes.data.arrays import load_split
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


def run(ctx: PassContext) -> dict[str, Any]:
    from paddleslim.quant import quant_post_static

    p = ctx.params
    source = ctx.input("model")
    meta = read_artifact(source)
    if meta.get("format") != "paddle-inference":
        raise PassFailure(f"needs a Paddle inference model, got {meta.get('format')}")
    data = load_split(ctx.input("data"))
    batch_size, batch_nums = int(p["batch_size"]), int(p["batch_nums"])
    rng = np.random.RandomState(int(p["seed"]))
    count = min(len(data["x_train"]), batch_size * batch_nums)
    images = data["x_train"][rng.permutation(len(data["x_train"]))[:count]]

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
                quantize_model_path=str(ctx.out_dir),
                save_model_filename=model_file,
                save_params_filename=params_file,
                data_loader=loader,
                batch_size=batch_size,
                batch_nums=batch_nums,
                algo=str(p["algo"]),
                weight_bits=int(p["bits"]),
                activation_bits=int(p["bits"]),
                weight_quantize_type="channel_wise_abs_max" if p["weight_per_channel"] else "abs_max",
                onnx_format=True,
                quantizable_op_type=list(p["op_types"]),
                optimize_model=True,
            )
    finally:
        paddle.disable_static()
    return {
        **{k: v for k, v in meta.items() if k not in ("size_bytes", "precision")},
        "batch_norms_folded": _count_ops(source / meta["model_files"][0], "batch_norm")
        - _count_ops(ctx.out_dir / meta["model_files"][0], "batch_norm"),
        "precision": f"int{p['bits']}",
        "size_bytes": sum((ctx.out_dir / name).stat().st_size for name in meta["model_files"]),
        "calibration": {"images": count, "algo": p["algo"], "per_channel_weights": bool(p["weight_per_channel"])},
        "quantized_op_types": list(p["op_types"]),
    }
