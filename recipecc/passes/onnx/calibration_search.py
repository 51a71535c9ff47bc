"""ONNX Runtime's side of the calibration search (``algo: auto``): candidates and how a candidate is measured.

MinMax, Percentile and Entropy, each with per-channel and per-tensor weights (ORT runs the two at different
speeds), measured with an ONNX Runtime session at one thread. Calibration is most of the search's time (histograms
over every activation for Percentile and Entropy): ``passes/onnx/quantize.py`` computes each method's activation
ranges once and both weight granularities reuse them. The search itself (scoring images, rule, record) is
backend-free: ``recipecc/passes/calibration_search.py``.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from recipecc.passes.calibration_search import Candidate, fidelity, median_ms, run_search

__all__ = ["CANDIDATE_METHODS", "Candidate", "fidelity", "search_calibration"]

#: ONNX Runtime's ``CalibrationMethod`` names: the report and results.json say them in ORT's words
CANDIDATE_METHODS = ("MinMax", "Percentile", "Entropy")


def _session(path: Path) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def _outputs(path: Path, input_name: str, images: NDArray[Any], batch: int, channels_last: bool) -> NDArray[Any]:
    """First outputs on ``images``, fed in the model's batch size; maps as (N, C, H, W), the layout the task
    layer's measures read (a model fed NHWC images, e.g. a converted Keras one, gives (N, H, W, C) maps)."""
    session = _session(path)
    chunks = [images[i : i + batch] for i in range(0, len(images) - batch + 1, batch)]
    result: NDArray[Any] = np.concatenate([session.run(None, {input_name: chunk})[0] for chunk in chunks])
    return np.asarray(result.transpose(0, 3, 1, 2)) if channels_last and result.ndim == 4 else result


def _latency(path: Path, input_name: str, images: NDArray[Any], batch: int) -> float:
    """Median one-thread latency in ms of one call on the first ``batch`` images."""
    session = _session(path)
    feed = {input_name: images[:batch]}
    return median_ms(lambda: session.run(None, feed))


def search_calibration(
    *,
    source: Path,
    out: Path,
    work_dir: Path,
    input_name: str,
    calibration: NDArray[Any],
    held_out: NDArray[Any],
    quantize: Callable[[Candidate, Path], None],
    timed: int,
    batch: int = 1,
    per_channel_choices: tuple[bool, ...] = (True, False),
    channels_last: bool = False,
) -> dict[str, Any]:
    """Quantize with every candidate (``quantize(candidate, path)``), score each, time the best few, keep the
    selected one at ``out``.

    Returns the record for the report: every candidate's numbers, the one selected and why.
    """
    record, chosen = run_search(
        candidates=[Candidate(algo, pc) for algo in CANDIDATE_METHODS for pc in per_channel_choices],
        work_dir=work_dir,
        calibration=calibration,
        held_out=held_out,
        quantize=quantize,
        outputs=lambda path, images: _outputs(path or source, input_name, images, batch, channels_last),
        latency=lambda path, images: _latency(path or source, input_name, images, batch),
        timed=timed,
        batch=batch,
        suffix=".onnx",
    )
    shutil.copyfile(chosen, out)
    shutil.rmtree(work_dir, ignore_errors=True)
    return record
