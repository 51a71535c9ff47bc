"""Activation ranges for ai-edge-quantizer other than its own min/max, and the TFLite calibration search.

ai-edge-quantizer 0.10 calibrates each activation with a moving average (0.95) of every calibration input's
min/max; ``quantize`` takes any ``{tensor name: {"min", "max"}}`` instead. This module runs the float model with
LiteRT keeping every intermediate tensor (the quantizer's own calibration interpreter, so the tensor names are the
ones its recipe expects), adds each activation to a histogram (``passes/activation_ranges.py``) and turns the
histograms into clipped ranges (``percentile-<p>``, ``mse``) in the shape of the quantizer's own result.

The search (``algo: auto`` for a user's model) tries ai-edge-quantizer's min/max, three percentiles, MSE and entropy
(KL) with per-channel weights and lets ``passes/calibration_search.py`` score, time and choose, as on ONNX Runtime
and Paddle. Per-tensor weights are not candidates: XNNPACK ran them no faster than per-channel ones on three
MediaPipe models (1 thread, this AVX2 host with a CI run beside it: hand_landmark_lite 6.09 vs 5.98 ms,
face_detection_short_range 1.960 vs 1.959 ms, palm_detection_lite 12.64 vs 12.52 ms), so they could only lose
fidelity.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from recipecc.passes.activation_ranges import (
    DEFAULT_PERCENTILE,
    SEARCH_PERCENTILES,
    LogHistogram,
    clip_range,
    percentile_method,
)
from recipecc.passes.calibration_search import Candidate, median_ms, run_search
from recipecc.passes.quiet import quiet_native_stderr
from recipecc.passes.tf.interpreter import TFLiteModel

__all__ = ["MINMAX", "SEARCH_METHODS", "calibration_for", "histograms", "method_of", "search_calibration"]

#: ai-edge-quantizer's own calibration, in the search's and the report's words
MINMAX = "minmax"
#: the search's candidates: the quantizer's min/max, clipped percentiles, and the MSE-optimal range
SEARCH_METHODS = (MINMAX, *(percentile_method(p) for p in SEARCH_PERCENTILES), "mse", "entropy")


def method_of(algo: str) -> str:
    """The range method of a plan's neutral ``algo`` (``percentile`` -> ``percentile-99.99``)."""
    return percentile_method(DEFAULT_PERCENTILE) if algo == "percentile" else algo


def histograms(
    flatbuffer: bytes, signature: str, samples: Iterable[dict[str, NDArray[Any]]], names: Iterable[str]
) -> dict[str, LogHistogram]:
    """One histogram per tensor in ``names`` over the float model's runs on ``samples`` (one pass, batch 1)."""
    from ai_edge_quantizer.utils import tfl_interpreter_utils as litert

    wanted = set(names)
    with quiet_native_stderr():
        interpreter = litert.create_tfl_interpreter(flatbuffer, num_threads=1, preserve_all_tensors=True)
    subgraph = litert.get_signature_main_subgraph_index(interpreter, signature)
    # the activations only, read the way the quantizer's calibrator reads them (not every weight copied per input)
    details = [
        detail
        for detail in interpreter.get_tensor_details(subgraph)
        if detail["name"] in wanted and np.all(detail["shape"]) and np.issubdtype(detail["dtype"], np.floating)
    ]
    result: dict[str, LogHistogram] = {}
    for sample in samples:
        litert.invoke_interpreter_signature(interpreter, sample, signature)
        for detail in details:
            result.setdefault(detail["name"], LogHistogram()).add(litert.get_tensor_data(interpreter, detail, subgraph))
    return result


def calibration_for(
    base: dict[str, dict[str, Any]], observed: dict[str, LogHistogram], method: str
) -> tuple[dict[str, dict[str, Any]], int]:
    """The quantizer's calibration result with ``method``'s ranges where a tensor was observed, and how many
    tensors kept the quantizer's own min/max (tensors of other subgraphs, or not float)."""
    if method == MINMAX:
        return base, 0
    result, kept = {}, 0
    for name, qsv in base.items():
        histogram = observed.get(name)
        if histogram is None or "min" not in qsv or histogram.total == 0:
            result[name], kept = qsv, kept + 1
            continue
        lo, hi = clip_range(histogram, method)
        result[name] = {
            **qsv,
            "min": np.full_like(np.asarray(qsv["min"], dtype=np.float32), lo),
            "max": np.full_like(np.asarray(qsv["max"], dtype=np.float32), hi),
        }
    return result, kept


def _write(path: Path, flatbuffer: bytes) -> None:
    path.write_bytes(flatbuffer)


def search_calibration(
    *,
    source: bytes,
    out: Path,
    work_dir: Path,
    calibration: NDArray[Any],
    held_out: NDArray[Any],
    quantize: Callable[[str], bytes],
    timed: int,
    delegate: str,
) -> dict[str, Any]:
    """Quantize with every method in ``SEARCH_METHODS`` (``quantize(method)`` -> flatbuffer), score each against
    the float model on ``held_out``, time the best ``timed`` and keep the selected one at ``out``; the record."""

    work_dir.mkdir(parents=True, exist_ok=True)
    fp32 = work_dir / "fp32.tflite"  # the prepared float model (a signature added, weights folded, ...)
    fp32.write_bytes(source)

    def outputs(path: Path | None, images: NDArray[Any]) -> NDArray[Any]:
        """First output on ``images``; maps as (N, C, H, W), the layout the task layer's measures read (TFLite
        models give (N, H, W, C): scored as is, a probability map would be taken for a class map over H)."""
        model = TFLiteModel(path or fp32, 1, delegate)
        result: NDArray[Any] = np.concatenate([model(images[i : i + 1]) for i in range(len(images))])
        return np.asarray(result.transpose(0, 3, 1, 2)) if result.ndim == 4 else result

    def latency(path: Path | None, images: NDArray[Any]) -> float:
        model = TFLiteModel(path or fp32, 1, delegate)
        return median_ms(lambda: model(images[:1]))

    record, chosen = run_search(
        candidates=[Candidate(method, True) for method in SEARCH_METHODS],
        work_dir=work_dir,
        calibration=calibration,
        held_out=held_out,
        quantize=lambda candidate, path: _write(path, quantize(candidate.algo)),
        outputs=outputs,
        latency=latency,
        timed=timed,
        suffix=".tflite",
    )
    shutil.copyfile(chosen, out)
    shutil.rmtree(work_dir, ignore_errors=True)
    return record
