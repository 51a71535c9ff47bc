"""``onnx.quantize``: ONNX Runtime quantization of an fp32 ONNX model, or its fp16 conversion.

Modes (``mode``):

- ``ptq_static``: int8 weights and activations; activation ranges calibrated (MinMax, Entropy or Percentile) on
  the dataset's training/calibration part through a ``CalibrationDataReader`` over ``data.npz`` (never the
  held-out part that measures quality). ``format`` qdq (QuantizeLinear/DequantizeLinear pairs that ORT fuses into
  integer kernels) or qoperator (QLinearConv, ...).
- ``ptq_dynamic``: int8 weights, activations quantized at run time. On convolutions this means ``ConvInteger``,
  which ORT runs several times slower than fp32 Conv; the planner warns when asked for it on a conv net.
- ``fp16``: half-precision weights and compute via ``onnxruntime.transformers.float16`` (the same converter as
  onnxconverter-common, shipped inside onnxruntime), keeping float32 inputs/outputs.

``op_types`` / ``exclude_op_types`` pick the op types quantized; ``exclude_nodes`` are shell-style patterns
matched against node names (``fnmatch``); the names that matched are recorded.
"""

from __future__ import annotations

import contextlib
import fnmatch
import importlib
import logging
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from numpy.typing import NDArray

from recipecc.passes.base import PassContext, PassFailure, read_artifact
from recipecc.passes.calibration_search import split_for_search
from recipecc.passes.data.arrays import load_split
from recipecc.passes.onnx.calibration_search import search_calibration
from recipecc.passes.onnx.common import MODEL_FILE, describe, op_histogram, source_model
from recipecc.passes.onnx.entropy import entropy_threshold
from recipecc.passes.quiet import output_to_log

__all__ = ["run"]

log = logging.getLogger(__name__)


#: Entropy (KL) calibration histogram: TensorRT's 2048 bins searched for the best 128-bin window
ENTROPY_BINS = {"num_bins": 2048, "num_quantized_bins": 128}


@contextlib.contextmanager
def _entropy_bins() -> Iterator[None]:
    """Give ORT's Entropy calibrator a histogram it can search.

    ``quantize_static`` (onnxruntime 1.32) forwards no histogram options to ``create_calibrator``, whose Entropy
    defaults are ``num_bins=128`` and ``num_quantized_bins=128``: the KL search then has exactly one window, the
    whole range, and Entropy is MinMax under another name (measured: identical outputs to 10 digits). The
    calibrator is created with TensorRT's 2048/128 instead, for the duration of one call, and its 960-window KL
    search runs in array operations (``passes/onnx/entropy.py``: the same thresholds, ~6x faster).
    """
    ort_quantize = importlib.import_module("onnxruntime.quantization.quantize")
    ort_calibrate = importlib.import_module("onnxruntime.quantization.calibrate")

    original = getattr(ort_quantize, "create_calibrator")  # noqa: B009 - not in the module's type stubs
    collector = ort_calibrate.HistogramCollector
    original_search = collector.get_entropy_threshold

    def create(*args: Any, **kwargs: Any) -> Any:
        if kwargs.get("calibrate_method") == ort_quantize.CalibrationMethod.Entropy:
            kwargs["extra_options"] = {**ENTROPY_BINS, **(kwargs.get("extra_options") or {})}
        return original(*args, **kwargs)

    setattr(ort_quantize, "create_calibrator", create)  # noqa: B010
    collector.get_entropy_threshold = entropy_threshold
    try:
        yield
    finally:
        setattr(ort_quantize, "create_calibrator", original)  # noqa: B010
        collector.get_entropy_threshold = original_search


def _calibration_reader(images: NDArray[Any], input_name: str, batch: int) -> Any:
    from onnxruntime.quantization import CalibrationDataReader

    class Reader(CalibrationDataReader):  # type: ignore[misc]
        """Feeds the calibration images in batches of the model's batch size."""

        def __init__(self) -> None:
            self.batches = [images[i : i + batch] for i in range(0, len(images) - batch + 1, batch)]
            self.index = 0

        def get_next(self) -> dict[str, NDArray[Any]] | None:
            if self.index >= len(self.batches):
                return None
            self.index += 1
            return {input_name: np.ascontiguousarray(self.batches[self.index - 1])}

        def rewind(self) -> None:
            self.index = 0

    return Reader()


def _selection(model: onnx.ModelProto, p: dict[str, Any]) -> tuple[list[str] | None, list[str]]:
    """Op types to quantize (None: ORT's default set) and the node names excluded by pattern."""
    present = set(op_histogram(model))
    op_types: list[str] | None = list(p.get("op_types") or []) or None
    excluded_types = set(p.get("exclude_op_types") or [])
    if excluded_types:
        op_types = sorted((set(op_types) if op_types else present) - excluded_types)
    patterns = list(p.get("exclude_nodes") or [])
    names = [node.name for node in model.graph.node if node.name]
    excluded = sorted({n for n in names for pattern in patterns if fnmatch.fnmatchcase(n, pattern)})
    unmatched = [pat for pat in patterns if not any(fnmatch.fnmatchcase(n, pat) for n in names)]
    if unmatched:
        raise PassFailure(
            f"strategy.quant.exclude_nodes patterns {unmatched} match no node; node names look like {names[:5]}"
        )
    return op_types, excluded


def _calibration_images(
    ctx: PassContext, p: dict[str, Any], fixed: int | None
) -> tuple[NDArray[Any], int, NDArray[Any]]:
    """Up to batch_size x batch_nums training images (seeded draw), the batch size to feed them in, and the
    training images calibration does not see (the calibration search scores candidates on those)."""
    data = load_split(ctx.input("data"))
    pool = data["x_train"]
    count = split_for_search(len(pool), int(p["batch_size"]) * int(p["batch_nums"]), search=p.get("algo") == "auto")
    batch = fixed if fixed is not None else max(1, min(int(p["batch_size"]), count))
    count -= count % batch
    if count < batch:
        raise PassFailure(f"static quantization needs at least {batch} calibration images, the dataset has {len(pool)}")
    order = np.random.RandomState(int(p["seed"])).permutation(len(pool))
    images = np.ascontiguousarray(pool[order[:count]], dtype=np.float32)
    return images, batch, np.ascontiguousarray(pool[order[count:]], dtype=np.float32)


def run(ctx: PassContext) -> dict[str, Any]:
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_dynamic, quantize_static

    p = dict(ctx.params)
    path, meta = source_model(ctx.input("model"))
    out = ctx.out_dir / MODEL_FILE
    model = onnx.load(str(path))
    mode = str(p["mode"])
    external = len(meta["model_files"]) > 1
    facts: dict[str, Any] = {"mode": mode, "why": p.get("why", "")}
    if mode == "fp16":
        from onnxruntime.transformers.float16 import convert_float_to_float16

        from recipecc.passes.onnx.rewrite import omit_empty_resize_inputs

        resized = omit_empty_resize_inputs(model)  # else the converter's casts make ORT refuse these Resize nodes
        half = convert_float_to_float16(model, keep_io_types=True)
        onnx.save_model(half, str(out), save_as_external_data=external)
        facts |= {"converter": "onnxruntime.transformers.float16 (keep_io_types=True)"}
        if resized:
            facts["rewritten"] = {"empty Resize roi/scales omitted": resized}
        precision = "fp16"
    else:
        op_types, excluded = _selection(model, p)
        types = {"uint8": QuantType.QUInt8, "int8": QuantType.QInt8}
        common: dict[str, Any] = {
            "op_types_to_quantize": op_types,
            "per_channel": bool(p["per_channel"]),
            "weight_type": types[str(p["weight_type"])],
            "nodes_to_exclude": excluded,
            "use_external_data_format": external,
        }
        facts |= {
            "per_channel": bool(p["per_channel"]),
            "weight_type": p["weight_type"],
            "op_types": op_types or "onnxruntime default",
            "excluded_nodes": excluded,
        }
        if mode == "ptq_static":
            first = meta["input_shape"][0]
            fixed = first if isinstance(first, int) and first > 0 else None
            images, batch, held_out = _calibration_images(ctx, p, fixed)
            # the plan's neutral names (minmax, ...) and the search candidates' ORT names (MinMax, ...) alike
            methods = {m.name.lower(): m for m in CalibrationMethod} | {m.name: m for m in CalibrationMethod}

            ranges_dir = ctx.out_dir / "activation_ranges"

            def calibrate(algo: str, per_channel: bool, target: Path, *, share_ranges: bool = False) -> None:
                """``quantize_static`` with ``algo``; ``share_ranges``: the activation ranges of ``algo`` are
                computed once and reused (ORT's ``calibration_cache_path``): the weight granularity does not change
                them, so the search's per-channel and per-tensor candidates of one method calibrate once."""
                entropy = methods[algo] == CalibrationMethod.Entropy
                cache: dict[str, Any] = {}
                if share_ranges:
                    ranges_dir.mkdir(parents=True, exist_ok=True)
                    cache["calibration_cache_path"] = ranges_dir / f"{methods[algo].name}.json"
                with _entropy_bins() if entropy else contextlib.nullcontext():
                    quantize_static(
                        str(path),
                        str(target),
                        _calibration_reader(images, str(meta["input_name"]), batch),
                        quant_format=QuantFormat.QDQ if p["format"] == "qdq" else QuantFormat.QOperator,
                        activation_type=types[str(p["activation_type"])],
                        calibrate_method=methods[algo],
                        **(common | {"per_channel": per_channel}),
                        **cache,
                    )

            def logged(call: Callable[..., None], *args: Any) -> None:
                with output_to_log(log, "onnxruntime.quantization"):  # its progress lines go to the log
                    call(*args)

            if p["algo"] == "auto":
                search = search_calibration(
                    source=path,
                    out=out,
                    work_dir=ctx.out_dir / "candidates",
                    input_name=str(meta["input_name"]),
                    calibration=images,
                    held_out=held_out,
                    quantize=lambda c, target: logged(
                        lambda: calibrate(c.algo, c.per_channel, target, share_ranges=True)
                    ),
                    timed=int(p["timed_candidates"]),
                    batch=fixed or 1,
                    channels_last=read_artifact(ctx.input("data")).get("layout") == "NHWC",
                )
                shutil.rmtree(ranges_dir, ignore_errors=True)
                search["activation_ranges"] = (
                    "computed once per calibration method and shared by its per-channel and per-tensor candidates "
                    "(the weight granularity does not change them)"
                )
                algo, per_channel = str(search["algo"]), bool(search["per_channel"])
                facts |= {"per_channel": per_channel, "calibration_search": search}
            else:
                algo, per_channel = str(p["algo"]), bool(p["per_channel"])
                with output_to_log(log, "onnxruntime.quantization"):
                    calibrate(algo, per_channel, out)
            method = methods[algo].name  # ONNX Runtime's own word for it (CalibrationMethod.Percentile)
            facts |= {"format": p["format"], "activation_type": p["activation_type"], "calibrate_method": method}
            calibration = {"images": len(images), "algo": method, "per_channel_weights": per_channel}
            if p["algo"] == "auto":
                calibration["chosen_by"] = "calibration search"
            facts["calibration"] = calibration
        elif mode == "ptq_dynamic":
            with output_to_log(log, "onnxruntime.quantization"):
                quantize_dynamic(str(path), str(out), **common)
            facts |= {"format": "dynamic (activations quantized at run time)"}
        else:
            raise PassFailure(f"strategy.quant.mode '{mode}' is not an ONNX Runtime quantization mode")
        precision = f"int{p['bits']}"
    _check_loads(out)
    described = describe(ctx.out_dir, meta)
    facts["ops_after"] = described["ops"]
    result = {**described, "precision": precision, "quantization": facts}
    if "calibration" in facts:
        result["calibration"] = facts.pop("calibration")
    return result


def _check_loads(path: Any) -> None:
    """A quantized graph ORT cannot load is this pass's failure, not the benchmark's."""
    import onnxruntime as ort

    try:
        ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except Exception as exc:
        raise PassFailure(f"ONNX Runtime cannot load the quantized model: {str(exc).splitlines()[0]}") from None
