"""Default static int8 for ONNX Runtime: choose the calibration per model, by measured fidelity and speed.

The calibration method decides whether an int8 model is usable: on a text detector's probability map MinMax leaves
IoU at 0.5 while Percentile keeps 0.94 at the same speed (``../shared/STACK.md``). Users do not know which knob to
turn, so ``algo: auto`` calibrates every candidate (MinMax, Percentile, Entropy, each with per-channel and
per-tensor weights) on the calibration images, scores each against the fp32 model on training images that
calibration did not see (cosine of the outputs, and for dense maps the mean of cosine and IoU of the thresholded
maps), times each at one thread, and keeps the best-scoring candidate that is faster than fp32 (the best-scoring
one when none is, and the record says so). Every candidate's numbers are recorded for the report. The whole
search is one cached pass: it runs again only when the model, the data or the parameters change.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from recipecc.passes.base import PassFailure, progress
from recipecc.passes.quiet import output_to_log
from recipecc.tasks.outputs import compare_tensor, cosine

__all__ = ["CANDIDATE_METHODS", "Candidate", "fidelity", "search_calibration"]

log = logging.getLogger(__name__)

CANDIDATE_METHODS = ("minmax", "percentile", "entropy")
#: held-out images the candidates are scored on, and timed calls per candidate (after warmup)
_SCORE_IMAGES = 32
_TIMED_CALLS = 30
_WARMUP_CALLS = 5


@dataclass(frozen=True)
class Candidate:
    algo: str
    per_channel: bool

    @property
    def name(self) -> str:
        return f"{self.algo}-{'per-channel' if self.per_channel else 'per-tensor'}"


def fidelity(ours: NDArray[Any], theirs: NDArray[Any]) -> dict[str, float]:
    """How close a candidate's outputs are to fp32's: ``cosine``, ``iou`` for dense maps, and the ``score``.

    The measures are the task layer's (``recipecc/tasks/outputs.py``), so a candidate is chosen by the numbers the
    report later shows: IoU of the binarized probability map, or mIoU agreement of a class map.
    """
    result = {"cosine": cosine(ours, theirs)}
    if ours.ndim == 4 and ours.shape[2] * ours.shape[3] > 1:
        measures = compare_tensor(ours, theirs)
        result["iou"] = float(measures["iou"] if measures["kind"] == "prob_map" else measures["miou_agreement"])
        result["score"] = (result["cosine"] + result["iou"]) / 2
    else:
        result["score"] = result["cosine"]
    return result


def _session(path: Path) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def _measure(path: Path, input_name: str, images: NDArray[Any], batch: int) -> tuple[NDArray[Any], float]:
    """First outputs on ``images`` (in the model's batch size) and the median one-thread latency in ms."""
    session = _session(path)
    chunks = [images[i : i + batch] for i in range(0, len(images) - batch + 1, batch)]
    outputs = np.concatenate([session.run(None, {input_name: chunk})[0] for chunk in chunks])
    feed = {input_name: chunks[0]}
    for _ in range(_WARMUP_CALLS):
        session.run(None, feed)
    times = []
    for _ in range(_TIMED_CALLS):
        start = time.perf_counter_ns()
        session.run(None, feed)
        times.append(time.perf_counter_ns() - start)
    return outputs, float(np.median(times)) / 1e6


def search_calibration(
    *,
    source: Path,
    out: Path,
    work_dir: Path,
    input_name: str,
    calibration: NDArray[Any],
    held_out: NDArray[Any],
    quantize: Callable[[Candidate, Path], None],
    batch: int = 1,
    per_channel_choices: tuple[bool, ...] = (True, False),
) -> dict[str, Any]:
    """Quantize with every candidate (``quantize(candidate, path)``), score and time each, keep the best at ``out``.

    Returns the record for the report: every candidate's numbers, the one selected and why.
    """
    scored_on = "held-out training images"
    if len(held_out) < 4:  # a tiny data set: every image went into calibration
        held_out, scored_on = calibration[:_SCORE_IMAGES], "calibration images (no other training images left)"
    held_out = held_out[: max(batch, _SCORE_IMAGES - _SCORE_IMAGES % batch)]
    candidates = [Candidate(algo, pc) for algo in CANDIDATE_METHODS for pc in per_channel_choices]
    reference, fp32_ms = _measure(source, input_name, held_out, batch)
    rows: list[dict[str, Any]] = []
    work_dir.mkdir(parents=True, exist_ok=True)
    with progress("calibration search", len(candidates)) as advance:
        for candidate in candidates:
            path = work_dir / f"{candidate.name}.onnx"
            row: dict[str, Any] = {"algo": candidate.algo, "per_channel": candidate.per_channel}
            try:
                with output_to_log(log, "onnxruntime.quantization"):
                    quantize(candidate, path)
                outputs, ms = _measure(path, input_name, held_out, batch)
            except Exception as exc:  # one candidate ORT cannot build or run does not stop the others
                rows.append({**row, "status": "failed", "error": str(exc).splitlines()[0][:300]})
                advance(1, f"{candidate.name}: failed")
                continue
            row |= {**fidelity(outputs, reference), "median_ms": ms, "faster_than_fp32": ms < fp32_ms}
            rows.append({**row, "status": "ok", "file": path.name})
            advance(1, f"{candidate.name}: score {row['score']:.4f}, {ms:.3f} ms")
    ok = [r for r in rows if r["status"] == "ok"]
    if not ok:
        raise PassFailure("no calibration candidate produced a model ONNX Runtime can run: " + rows[0]["error"])
    faster = [r for r in ok if r["faster_than_fp32"]]
    best = max(faster or ok, key=lambda r: (r["score"], -r["median_ms"]))
    shutil.copyfile(work_dir / best["file"], out)
    shutil.rmtree(work_dir, ignore_errors=True)
    for r in rows:
        r["selected"] = r is best
        r.pop("file", None)
    rule = (
        "the best fidelity score among the candidates faster than fp32 at 1 thread"
        if faster
        else "the best fidelity score: no candidate was faster than fp32 at 1 thread on this host"
    )
    return {
        "selected": f"{best['algo']}, {'per-channel' if best['per_channel'] else 'per-tensor'} weights",
        "algo": best["algo"],
        "per_channel": best["per_channel"],
        "rule": rule,
        "score": "mean of cosine and IoU of the thresholded maps (dense outputs), else cosine, vs fp32",
        "scored_on": f"{len(held_out)} {scored_on}",
        "timing": f"median of {_TIMED_CALLS} calls at batch {batch}, 1 thread, after {_WARMUP_CALLS} warmup calls",
        "fp32_median_ms": fp32_ms,
        "candidates": rows,
    }
