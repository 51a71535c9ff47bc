"""Per-layer cost of a Paddle inference program: what the latency estimator (``recipecc/estimate``) reads.

For every compute op (conv2d, depthwise_conv2d, matmul/mul) one row: kind, multiply-adds, weights, input and
output elements, kernel, stride and groups, plus the producer convolutions its channels come from (so a plan can
scale a built-in architecture's table by per-layer pruning ratios without building the network). Element-wise,
pooling and normalisation ops are summed into one memory-only row: they move bytes, not MACs. Quantize/dequantize
ops are skipped (Paddle Lite's opt fuses them away).

Run as a script to (re)generate the table of a built-in architecture (needs the paddle extra; run it in its own
process, never in a TensorFlow one)::

    python -m recipecc.passes.paddle.layer_table mobilenet_v1 --input 3,224,224
    python -m recipecc.passes.paddle.layer_table --all

It writes ``recipecc/estimate/layers/<arch>.json``; ``tests/test_estimate.py`` checks the shipped tables against
the architectures' MAC counts. A new architecture (issue: detection/segmentation models) gets its table the same
way once ``models.build_model`` can build it.
"""

from __future__ import annotations

import zlib  # noqa: F401  - before paddle
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["DEFAULT_INPUTS", "layer_table", "program_layer_table", "write_table"]

#: built-in architectures and the input (C, H, W) their tables are generated at
DEFAULT_INPUTS: dict[str, tuple[int, int, int]] = {
    "mobilenet_v1": (3, 224, 224),
    "mobilenet_v2": (3, 224, 224),
    "resnet50": (3, 224, 224),
    "digits_cnn": (1, 32, 32),
    "yolov3_mobilenet_v1": (3, 608, 608),
    "yolov3_resnet34": (3, 608, 608),
    "deeplabv3_mnv2": (3, 769, 769),  # PaddleSeg's Cityscapes crop
    "fastscnn": (3, 1024, 2048),  # Cityscapes at full resolution
}
#: classes of the head the table is generated with (COCO's 80 for detectors: PaddleDetection's default;
#: Cityscapes' 19 for segmentation)
_CLASSES = {
    "digits_cnn": 10,
    "yolov3_mobilenet_v1": 80,
    "yolov3_resnet34": 80,
    "yolov3_r34": 80,
    "deeplabv3_mnv2": 19,
    "fastscnn": 19,
}
_PASS_THROUGH = {
    "batch_norm",
    "relu",
    "relu6",
    "hard_swish",
    "swish",
    "sigmoid",
    "leaky_relu",
    "scale",
    "dropout",
    "pool2d",
    "quantize_linear",
    "dequantize_linear",
    "fake_quantize_dequantize_moving_average_abs_max",
    "fake_channel_wise_quantize_dequantize_abs_max",
    "fake_quantize_moving_average_abs_max",
    "fake_dequantize_max_abs",
    "fake_channel_wise_dequantize_max_abs",
}


def _numel(shape: Sequence[int]) -> int:
    total = 1
    for dim in shape:
        total *= max(1, int(dim))  # the batch dimension (-1) counts as one image
    return total


def program_layer_table(program: Any, conv_names: Sequence[str] | None = None) -> dict[str, Any]:
    """The layer table of a static Paddle program (batch 1). ``conv_names`` names the conv ops in order."""
    block = program.global_block()
    producer: dict[str, Any] = {}
    for op in block.ops:
        for name in op.output_arg_names:
            producer[name] = op
    layers: list[dict[str, Any]] = []
    conv_index = 0
    op_layer: dict[int, str] = {}
    other_elems = 0
    other_ops = 0

    def source_conv(var: str) -> str | None:
        """The groups=1 convolution whose output channels this variable carries (through BN, activations, pools
        and depthwise convolutions), or None (inputs, residual sums, concatenations)."""
        seen = 0
        while var in producer and seen < 64:
            seen += 1
            op = producer[var]
            if id(op) in op_layer:
                row = next(r for r in layers if r["name"] == op_layer[id(op)])
                return str(row["name"]) if row["kind"] != "dwconv" else row.get("channels_from")
            if op.type not in _PASS_THROUGH:
                return None
            inputs = op.input("X") if "X" in op.input_names else op.input_arg_names[:1]
            if not inputs:
                return None
            var = inputs[0]
        return None

    for op in block.ops:
        kind = op.type
        if "quant" in kind or kind in ("feed", "fetch"):
            continue
        if kind in ("conv2d", "depthwise_conv2d"):
            weight = block.var(op.input("Filter")[0]).shape
            out_shape = block.var(op.output("Output")[0]).shape
            in_shape = block.var(op.input("Input")[0]).shape
            cout, cin_per_group, kh, kw = (int(d) for d in weight)
            groups = int(op.attr("groups") or 1)
            depthwise = groups > 1 and groups == cout
            name = conv_names[conv_index] if conv_names and conv_index < len(conv_names) else f"conv{conv_index}"
            conv_index += 1
            row: dict[str, Any] = {
                "name": name,
                "kind": "dwconv" if depthwise else ("conv1x1" if kh * kw == 1 else "conv"),
                "macs": cout * cin_per_group * kh * kw * _numel(out_shape[2:]),
                "params": cout * cin_per_group * kh * kw,
                "in_elems": _numel(in_shape),
                "out_elems": _numel(out_shape),
                "kernel": [kh, kw],
                "stride": [int(s) for s in op.attr("strides")],
                "groups": groups,
            }
            source = source_conv(op.input("Input")[0])
            if depthwise:
                row["channels_from"] = source
            else:
                row["inputs_from"] = source
            layers.append(row)
            op_layer[id(op)] = name
        elif kind in ("matmul_v2", "matmul", "mul"):
            x_name, y_name = op.input("X")[0], op.input("Y")[0]
            y_var = block.var(y_name)
            if not y_var.persistable:
                other_ops += 1
                continue
            fan_in, fan_out = (int(d) for d in y_var.shape[-2:])
            rows_in = _numel(block.var(x_name).shape) // max(1, fan_in)
            name = f"fc{sum(1 for r in layers if r['kind'] == 'fc')}"
            layers.append(
                {
                    "name": name,
                    "kind": "fc",
                    "macs": rows_in * fan_in * fan_out,
                    "params": fan_in * fan_out,
                    "in_elems": rows_in * fan_in,
                    "out_elems": rows_in * fan_out,
                    "inputs_from": source_conv(x_name),
                }
            )
            op_layer[id(op)] = name
        else:
            other_ops += 1
            for out in op.output_arg_names:
                var = block._find_var_recursive(out)
                if var is not None and var.shape is not None and not var.persistable:
                    other_elems += _numel(var.shape)
    return {
        "layers": layers,
        "other": {"ops": other_ops, "elems": other_elems},
        "macs": sum(r["macs"] for r in layers),
        "params": sum(r["params"] for r in layers),
    }


def layer_table(model_dir: Path, files: Sequence[str], conv_names: Sequence[str] | None = None) -> dict[str, Any]:
    """The layer table of a saved Paddle inference model (``files`` = program, params)."""
    import paddle

    from recipecc.passes.quiet import quiet_stdout

    paddle.enable_static()
    try:
        exe = paddle.static.Executor(paddle.CPUPlace())
        scope = paddle.static.Scope()
        with paddle.static.scope_guard(scope), quiet_stdout():
            stem = Path(files[0]).stem
            if files[0] == f"{stem}.pdmodel" and files[1] == f"{stem}.pdiparams":
                program, _, _ = paddle.static.load_inference_model(str(model_dir / stem), exe)
            else:
                program, _, _ = paddle.static.load_inference_model(
                    str(model_dir), exe, model_filename=files[0], params_filename=files[1]
                )
        return program_layer_table(program, conv_names)
    finally:
        paddle.disable_static()


def _traced_conv_names(model: Any, input_shape: Sequence[int]) -> list[str]:
    """Conv2D layer paths in execution order (the order the exported program's conv ops appear in)."""
    import paddle
    from paddle import nn

    order: list[str] = []
    hooks = []
    for path, layer in model.named_sublayers():
        if isinstance(layer, nn.Conv2D):
            hooks.append(layer.register_forward_post_hook(lambda _l, _i, _o, p=path: order.append(p)))
    model.eval()
    with paddle.no_grad():
        model(paddle.zeros([1, *input_shape], dtype="float32"))
    for hook in hooks:
        hook.remove()
    return order


def write_table(
    arch: str,
    input_shape: Sequence[int],
    out_dir: Path,
    width: float = 1.0,
    *,
    name: str | None = None,
    classes: int | None = None,
) -> Path:
    """Build ``arch`` (random weights), export it, walk the program and write ``<name or arch>.json`` (a named
    variant, e.g. another width or input size, for calibration rows that were measured on it)."""
    import json
    import tempfile

    import paddle

    from recipecc.passes.paddle.models import build_model
    from recipecc.passes.quiet import quiet_stdout

    paddle.seed(0)
    classes = classes or _CLASSES.get(arch, 1000)
    if arch.startswith("yolov3_"):
        from recipecc.passes.paddle.yolov3 import YOLOv3

        backbone = {"yolov3_mobilenet_v1": "mobilenet_v1", "yolov3_resnet34": "resnet34", "yolov3_r34": "resnet34"}[
            arch
        ]
        model = YOLOv3(backbone, classes, width)
    else:
        model = build_model(arch, input_shape, classes, width)
    names = _traced_conv_names(model, input_shape)
    with tempfile.TemporaryDirectory() as tmp:
        spec = [paddle.static.InputSpec([None, *input_shape], "float32", "image")]
        with quiet_stdout():
            paddle.jit.save(model, str(Path(tmp) / "model"), input_spec=spec)
        table = layer_table(Path(tmp), ["model.pdmodel", "model.pdiparams"], names)
    table = {"arch": arch, "input": list(input_shape), "width": width, "num_classes": classes, **table}
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{name or arch}.json"
    path.write_text(json.dumps(table, indent=1) + "\n")
    return path


def main(argv: Sequence[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("arch", nargs="*", help="built-in architectures (default with --all: every one)")
    parser.add_argument("--all", action="store_true", help="every architecture of DEFAULT_INPUTS")
    parser.add_argument("--input", help="C,H,W (default: the architecture's usual input)")
    parser.add_argument("--width", type=float, default=1.0)
    parser.add_argument("--classes", type=int, help="classes of the head (default: the architecture's usual)")
    parser.add_argument("--name", help="file name of a variant (default: the architecture's name)")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[2] / "estimate" / "layers")
    args = parser.parse_args(argv)
    archs = list(DEFAULT_INPUTS) if args.all else list(args.arch)
    for arch in archs:
        shape = tuple(int(v) for v in args.input.split(",")) if args.input else DEFAULT_INPUTS[arch]
        path = write_table(arch, shape, args.out, args.width, name=args.name, classes=args.classes)
        print(f"{arch} {shape}: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
