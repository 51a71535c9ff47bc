"""The exact graph rewrites of exporters' ONNX models (recipecc/passes/onnx/rewrite.py), checked in ONNX Runtime.

Both were found by the run matrix: Fast-SCNN's pyramid pooling exported by paddle2onnx did not load (stride 0),
and DeepLabv3's fp16 model did not load (its Resize scales, empty, were cast by the fp16 converter).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray

pytestmark = pytest.mark.backend
onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from recipecc.passes.onnx.rewrite import adaptive_windows, exact_adaptive_pools, omit_empty_resize_inputs  # noqa: E402


def _adaptive_average(x: NDArray[Any], out_h: int, out_w: int) -> NDArray[Any]:
    """Adaptive average pooling written out loop by loop (Paddle's definition of the windows)."""
    h, w = x.shape[2:]
    out = np.zeros((*x.shape[:2], out_h, out_w), dtype=np.float32)
    for i in range(out_h):
        for j in range(out_w):
            r0, r1 = (i * h) // out_h, -(-(i + 1) * h // out_h)
            c0, c1 = (j * w) // out_w, -(-(j + 1) * w // out_w)
            out[:, :, i, j] = x[:, :, r0:r1, c0:c1].mean(axis=(2, 3))
    return out


def _run(model: Any, x: NDArray[Any]) -> NDArray[Any]:
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return np.asarray(session.run(None, {"x": x})[0])


def _pool_model(size: int, kernel: int, stride: int, bins: int) -> Any:
    """One AveragePool as paddle2onnx writes an adaptive pool of ``size`` to ``bins``."""
    pool = helper.make_node(
        "AveragePool", ["x"], ["pool2d_0.tmp_0"], name="AveragePool.0", kernel_shape=[kernel] * 2, strides=[stride] * 2
    )
    graph = helper.make_graph(
        [pool],
        "pool",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, size, size])],
        [helper.make_tensor_value_info("pool2d_0.tmp_0", TensorProto.FLOAT, [1, 4, bins, bins])],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])


@pytest.mark.parametrize(
    ("size", "bins", "kernel", "stride"),
    [(4, 6, 4, 0), (32, 6, 7, 5), (4, 3, 2, 1)],
    ids=["smaller-than-bins", "not-a-multiple", "already-exact"],
)
def test_adaptive_pools_become_exact(size: int, bins: int, kernel: int, stride: int) -> None:
    x = np.random.RandomState(0).rand(1, 4, size, size).astype(np.float32)
    model = _pool_model(size, kernel, stride, bins)
    rewritten = exact_adaptive_pools(model, {"pool2d_0.tmp_0": (size, size, bins, bins)})
    exact = adaptive_windows(size, bins) == [(i * stride, i * stride + kernel) for i in range(bins)]
    assert rewritten == ([] if exact else ["AveragePool.0"])
    onnx.checker.check_model(model, full_check=True)
    np.testing.assert_allclose(_run(model, x), _adaptive_average(x, bins, bins), rtol=1e-5, atol=1e-6)


def test_empty_resize_inputs_are_omitted_so_fp16_conversion_loads() -> None:
    from onnxruntime.transformers.float16 import convert_float_to_float16

    empty = numpy_helper.from_array(np.zeros((0,), dtype=np.float32))
    nodes = [
        helper.make_node("Constant", [], ["roi"], value=empty),
        helper.make_node("Constant", [], ["scales"], value=empty),
        helper.make_node("Constant", [], ["sizes"], value=numpy_helper.from_array(np.array([1, 2, 8, 8]))),
        helper.make_node("Resize", ["x", "roi", "scales", "sizes"], ["y"], name="Resize.0", mode="linear"),
    ]
    graph = helper.make_graph(
        nodes,
        "resize",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 4, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    x = np.random.RandomState(0).rand(1, 2, 4, 4).astype(np.float32)
    reference = _run(model, x)
    with pytest.raises(Exception, match="Either `sizes` or `scales`"):
        _run(convert_float_to_float16(model, keep_io_types=True), x)
    assert omit_empty_resize_inputs(model) == ["Resize.0"]
    assert [n.op_type for n in model.graph.node] == ["Constant", "Resize"]  # the emptied constants are gone
    half = convert_float_to_float16(model, keep_io_types=True)
    np.testing.assert_allclose(_run(half, x), reference, atol=2e-3)
