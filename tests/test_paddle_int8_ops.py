"""Paddle int8 on real inference models: what PP-OCRv4's detector and recognizer broke, rebuilt in miniature.

The detector (its DB head upsamples with two transposed convolutions) failed on Paddle Inference after PaddleSlim's
PTQ: PaddleSlim quantizes ``conv2d_transpose`` by default, but Paddle Inference 2.6's oneDNN int8 path turns int8
weights back into floats only for conv2d / depthwise_conv2d / mul / matmul, so the transposed convolution read
int8 weights as float32 ("The type of data we are trying to retrieve (float32) does not match the type of data
(int8)"). Static PTQ now quantizes only the operator types the target's runtime runs in int8.

The recognizer (SVTR attention blocks) broke twice: its program slices its own shape into 0-D integer tensors,
which PaddleSlim's ``avg`` calibration cannot reshape, and Paddle 2.6.2's ``self_attention_fuse_pass`` executes
AVX-512 instructions on CPUs without them (SIGILL while the predictor is created).

Each backend test rebuilds one of those shapes in a few kilobytes; the plan test needs no backend.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from recipecc.engine import run_recipe
from recipecc.plan import build_plan
from recipecc.recipe import RecipeError, compose_recipe, validate_recipe

_DB_HEAD = '''
class Net(nn.Layer):
    """PP-OCR's DB head in miniature: conv + BN + ReLU, then two stride-2 transposed convolutions."""

    def __init__(self):
        super().__init__()
        self.conv, self.bn = nn.Conv2D(1, 8, 3, padding=1), nn.BatchNorm2D(8)
        self.up1, self.bn1 = nn.Conv2DTranspose(8, 8, 2, stride=2), nn.BatchNorm2D(8)
        self.up2 = nn.Conv2DTranspose(8, 1, 2, stride=2)

    def forward(self, x):
        x = nn.functional.relu(self.bn(self.conv(x)))
        x = nn.functional.relu(self.bn1(self.up1(x)))
        return nn.functional.sigmoid(self.up2(x))
'''

_SVTR_BLOCK = '''
class Attention(nn.Layer):
    """SVTR's global mixing (PP-OCRv4's recognizer): it reads its token count from its input's shape."""

    def __init__(self, dim=16, heads=2):
        super().__init__()
        self.heads, self.scale = heads, (dim // heads) ** -0.5
        self.qkv, self.proj = nn.Linear(dim, dim * 3), nn.Linear(dim, dim)

    def forward(self, x):
        n, c = x.shape[1:]
        qkv = self.qkv(x).reshape((0, n, 3, self.heads, c // self.heads)).transpose((2, 0, 3, 1, 4))
        q, k, v = qkv[0] * self.scale, qkv[1], qkv[2]
        attn = nn.functional.softmax(q.matmul(k.transpose((0, 1, 3, 2))), axis=-1)
        return self.proj(attn.matmul(v).transpose((0, 2, 1, 3)).reshape((0, n, c)))


class Net(nn.Layer):
    def __init__(self):
        super().__init__()
        self.conv, self.attn, self.fc = nn.Conv2D(1, 16, 3, stride=2, padding=1), Attention(), nn.Linear(256, 10)

    def forward(self, x):
        x = nn.functional.relu(self.conv(x)).flatten(2).transpose((0, 2, 1))
        return self.fc(self.attn(x).flatten(1))
'''


def _export(tmp_path: Path, name: str, network: str) -> Path:
    """Write ``Net`` as a Paddle inference model with ``paddle.jit.save``, in a separate process (never paddle in
    pytest: TensorFlow tests share the process). Height and width stay dynamic, as in PP-OCR's exports: the
    program then computes shapes at run time."""
    model_dir = tmp_path / name
    script = tmp_path / f"{name}.py"  # a file, not -c: paddle.jit.save reads the layer's source
    script.write_text(
        "import zlib\nimport paddle\nfrom paddle import nn\n"
        + network
        + textwrap.dedent(
            f"""
            paddle.seed(0)
            net = Net()
            net.eval()
            spec = [paddle.static.InputSpec([None, 1, None, None], "float32", "x")]
            paddle.jit.save(net, "{model_dir}/inference", input_spec=spec)
            """
        )
    )
    subprocess.run([sys.executable, str(script)], check=True, capture_output=True)
    return model_dir


def _int8_stage(tmp_path: Path, model_dir: Path, *overrides: str) -> dict[str, Any]:
    """The int8 stage of ``strategy=quant target=host`` on the digits at 8x8."""
    recipe = validate_recipe(
        compose_recipe(
            [
                "recipe=digits_smoke",
                "model=file",
                f"model.path={model_dir}",
                "model.input_shape=[1,1,8,8]",
                "strategy=quant",
                "strategy.quant.paddle.algo=avg",  # one calibration (these shapes test the ops, not the search)
                "target=host",
                "target.threads=[1]",
                "bench.repeats=5",
                "bench.warmup=2",
                *overrides,
            ]
        )
    )
    outcome = run_recipe(recipe, tmp_path / "run")
    int8: dict[str, Any] = next(s for s in outcome.results["stages"] if s["name"] == "int8")
    assert int8["precision"] == "int8" and all(row["median_ms"] > 0 for row in int8["latency"])
    return int8


def test_host_quantizes_what_onednn_runs_in_int8(tmp_path: Path) -> None:
    (tmp_path / "m.pdmodel").write_bytes(b"\x08\x01")  # a whole protobuf; plan time never parses it further
    (tmp_path / "m.pdiparams").write_bytes(b"\0")
    base = ["model=file", f"model.path={tmp_path}", "model.input_shape=[1,1,8,8]", "strategy=quant"]
    plan = build_plan(validate_recipe(compose_recipe([*base, "target=host"])))
    op_types = plan.node("quantize").params["op_types"]
    assert "conv2d" in op_types and "depthwise_conv2d" in op_types and "conv2d_transpose" not in op_types
    check = next(c for c in plan.checks if c.name == "quant.op_types")
    assert "conv2d_transpose stay fp32" in check.detail and "paddle_inference" in check.detail

    lite = build_plan(validate_recipe(compose_recipe([*base, "target=sd855"])))
    assert "conv2d_transpose" in lite.node("quantize").params["op_types"]  # Paddle Lite has int8 kernels for it

    with pytest.raises(RecipeError) as caught:
        build_plan(
            validate_recipe(compose_recipe([*base, "target=host", "strategy.quant.op_types=[conv2d_transpose]"]))
        )
    assert caught.value.key == "strategy.quant.op_types" and "paddle_inference cannot run" in str(caught.value)
    only_conv = build_plan(validate_recipe(compose_recipe([*base, "strategy.quant.op_types=[conv2d]"])))
    assert only_conv.node("quantize").params["op_types"] == ["conv2d"]


@pytest.mark.backend
def test_a_detector_head_with_transposed_convolutions_runs_in_int8(tmp_path: Path) -> None:
    model_dir = _export(tmp_path, "db_head", _DB_HEAD)
    int8 = _int8_stage(tmp_path, model_dir, "model.task=generic", "model.threshold=0.5")
    # The convolution is int8, the transposed ones stay fp32: the map still agrees with fp32's.
    assert int8["metrics"]["iou"] > 0.8, int8["metrics"]


@pytest.mark.backend
def test_an_attention_block_that_slices_its_shape_runs_in_int8(tmp_path: Path) -> None:
    model_dir = _export(tmp_path, "svtr", _SVTR_BLOCK)
    int8 = _int8_stage(tmp_path, model_dir, "bench.metrics=[top1_agreement,cosine]")  # avg: the sampler that broke
    assert int8["metrics"]["cosine"] > 0.9, int8["metrics"]


_AVX2_CPU = "processor\t: 0\nmodel name\t: AMD EPYC 7B13\nflags\t\t: fpu sse2 avx avx2 fma\n"
_VNNI_CPU = "processor\t: 0\nmodel name\t: Intel Xeon\nflags\t\t: fpu sse2 avx avx2 avx512f avx512_vnni\n"


@pytest.mark.parametrize(("cpuinfo", "warned"), [(_AVX2_CPU, True), (_VNNI_CPU, False)])
def test_the_plan_warns_about_int8_on_a_cpu_without_vnni(
    monkeypatch: pytest.MonkeyPatch, cpuinfo: str, warned: bool
) -> None:
    from recipecc.common.cpu import parse_cpuinfo

    monkeypatch.setattr("recipecc.plan.cpu_checks.cpu_facts", lambda: parse_cpuinfo(cpuinfo))
    plan = build_plan(validate_recipe(compose_recipe(["strategy=quant", "target=host"])))
    found = [c for c in plan.checks if c.name == "int8 cpu"]
    assert bool(found) == warned
    if warned:
        assert found[0].status == "warn"
        assert "AMD EPYC 7B13, AVX2" in found[0].detail and "avx512_vnni" in found[0].detail
        assert "saturates" in found[0].detail
    # fp32 runs, ONNX Runtime and estimated targets get no such warning
    for overrides in (["strategy=none", "target=host"], ["strategy=quant", "target=host_ort"], ["target=sd855"]):
        other = build_plan(validate_recipe(compose_recipe(overrides)))
        assert not [c for c in other.checks if c.name == "int8 cpu"], overrides


@pytest.mark.backend
def test_a_paddle_programs_own_feed_shape_decides_the_channels_of_the_default_data(tmp_path: Path) -> None:
    """A 1-channel Paddle inference model without ``model.input_shape`` used to get 3-channel data (the paddle
    convention) and fail in PTQ; the plan now reads the program's feed shape (protobuf, no paddle import)."""
    from recipecc.recipe.declared_input import declared_input_shape

    model_dir = _export(tmp_path, "db_head", _DB_HEAD)
    assert declared_input_shape(model_dir / "inference.pdmodel") == [None, 1, None, None]
    recipe = validate_recipe(compose_recipe(["model=file", f"model.path={model_dir}", "strategy=int8", "target=host"]))
    shown = next(c.detail for c in build_plan(recipe).checks if c.name == "input")
    assert "1 channel " in shown and "declared by the file as [N, 1, N, N]" in shown
