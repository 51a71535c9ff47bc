"""Default static int8: choose the calibration per model, by measured fidelity and speed (every backend).

The calibration method decides whether an int8 model is usable: on a text detector's probability map MinMax leaves
IoU at 0.5 while Percentile keeps 0.94 at the same speed (``../shared/STACK.md``). Users do not know which knob to
turn, so ``algo: auto`` calibrates every candidate on the calibration images, scores each against the fp32 model on
training images that calibration did not see (cosine of the outputs, and for dense maps the mean of cosine and IoU
of the thresholded maps: the task layer's measures), times the ``timed`` best-scoring ones (the planner's
``SEARCH_TIMED_CANDIDATES``, 3) and fp32 at one thread, and keeps the best-scoring timed candidate that is faster
than fp32 (the best-scoring one when none is, and the record says so). Every candidate's numbers are recorded for
the report; the ones not timed say so.

Why only the best few are timed: timing is the search's cost on a large model (PP-OCRv4's detector: 35 calls of
~0.2 s per candidate, more under load; six candidates took over 20 minutes on a loaded host), and a candidate that
scores below three others would only be kept if all three were slower than fp32 while it was faster: the
candidates share the model's graph and differ in scales and weight granularity, so their speeds differ far less
than their fidelity. The whole search is one cached pass: it runs again only when the model, the data or the
parameters change.

This module is the backend-free part: which images score, the loop, the rule, the record. A backend gives
``quantize(candidate, path)`` (its own calibration names in ``Candidate.algo``), ``outputs(path, images)`` (first
output on the images) and ``latency(path, images)`` (median one-thread latency in ms); ``path=None`` is the fp32
source. ``passes/onnx/calibration_search.py`` (ONNX Runtime) and ``passes/paddle/ptq.py`` (PaddleSlim + Paddle
Inference) use it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from recipecc.passes.base import PassFailure, progress
from recipecc.tasks.outputs import compare_tensor, cosine

__all__ = [
    "SCORE_IMAGES",
    "TIMED_CALLS",
    "WARMUP_CALLS",
    "Candidate",
    "fidelity",
    "median_ms",
    "run_search",
    "split_for_search",
]

log = logging.getLogger(__name__)

#: held-out images the candidates are scored on, and timed calls per candidate (after warmup)
SCORE_IMAGES = 32
TIMED_CALLS = 30
WARMUP_CALLS = 5
#: what a candidate row that was scored but not timed says
NOT_TIMED = "not timed (lower fidelity)"


@dataclass(frozen=True)
class Candidate:
    """One calibration to try: the backend's own method name and the weight granularity."""

    algo: str
    per_channel: bool

    @property
    def name(self) -> str:
        return f"{self.algo}-{'per-channel' if self.per_channel else 'per-tensor'}"


#: ``(path or None for fp32, images) -> first output`` and ``-> median one-thread latency in ms``
Outputs = Callable[[Path | None, NDArray[Any]], NDArray[Any]]
Latency = Callable[[Path | None, NDArray[Any]], float]


def split_for_search(pool_size: int, wanted: int, *, search: bool) -> int:
    """How many of ``pool_size`` training images calibrate (``wanted`` at most): a search keeps some back to score
    the candidates on images calibration did not see."""
    count = min(pool_size, wanted)
    if search and pool_size - count < SCORE_IMAGES:
        count = min(count, pool_size - min(SCORE_IMAGES, pool_size // 4))
    return count


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


def median_ms(call: Callable[[], object]) -> float:
    """Median latency of ``call`` in ms: ``WARMUP_CALLS`` untimed calls, then ``TIMED_CALLS`` timed ones."""
    for _ in range(WARMUP_CALLS):
        call()
    times = []
    for _ in range(TIMED_CALLS):
        start = time.perf_counter_ns()
        call()
        times.append(time.perf_counter_ns() - start)
    return float(np.median(times)) / 1e6


def run_search(
    *,
    candidates: Sequence[Candidate],
    work_dir: Path,
    calibration: NDArray[Any],
    held_out: NDArray[Any],
    quantize: Callable[[Candidate, Path], None],
    outputs: Outputs,
    latency: Latency,
    timed: int,
    batch: int = 1,
    suffix: str = "",
) -> tuple[dict[str, Any], Path]:
    """Quantize with every candidate into ``work_dir/<name><suffix>``, score each, time fp32 and the ``timed``
    best-scoring ones; the record for the report (every candidate's numbers, the one selected
    and why) and the selected candidate's path."""
    scored_on = "held-out training images"
    if len(held_out) < 4:  # a tiny data set: every image went into calibration
        held_out, scored_on = calibration[:SCORE_IMAGES], "calibration images (no other training images left)"
    held_out = held_out[: max(batch, SCORE_IMAGES - SCORE_IMAGES % batch)]
    reference = outputs(None, held_out)
    rows: list[dict[str, Any]] = []
    work_dir.mkdir(parents=True, exist_ok=True)
    with progress("calibration search", len(candidates)) as advance:
        for candidate in candidates:
            path = work_dir / f"{candidate.name}{suffix}"
            row: dict[str, Any] = {"algo": candidate.algo, "per_channel": candidate.per_channel}
            try:
                started = time.perf_counter()
                quantize(candidate, path)
                scoring = time.perf_counter()
                row |= fidelity(outputs(path, held_out), reference)
                row["seconds"] = {
                    "calibrate": round(scoring - started, 3),
                    "score": round(time.perf_counter() - scoring, 3),
                }
            except Exception as exc:  # one candidate the backend cannot build or run does not stop the others
                rows.append({**row, "status": "failed", "error": str(exc).splitlines()[0][:300]})
                advance(1, f"{candidate.name}: failed")
                continue
            rows.append({**row, "status": "ok", "file": path.name})
            advance(1, f"{candidate.name}: score {row['score']:.4f}")
    ok = [r for r in rows if r["status"] == "ok"]
    if not ok:
        raise PassFailure("no calibration candidate produced a model the runtime can run: " + rows[0]["error"])
    ranked = sorted(ok, key=lambda r: -r["score"])  # stable: the candidates' order breaks ties
    started = time.perf_counter()
    fp32_ms = latency(None, held_out)
    fp32_seconds = round(time.perf_counter() - started, 3)
    top = ranked[: max(1, timed)]
    for r in ok:
        if any(r is t for t in top):
            started = time.perf_counter()
            ms = latency(work_dir / r["file"], held_out)
            r["seconds"]["time"] = round(time.perf_counter() - started, 3)
            r |= {"timed": True, "median_ms": ms, "faster_than_fp32": ms < fp32_ms}
        else:
            r |= {"timed": False, "median_ms": None, "faster_than_fp32": None, "note": NOT_TIMED}
    faster = [r for r in top if r["faster_than_fp32"]]
    best = max(faster or top, key=lambda r: (r["score"], -r["median_ms"]))
    chosen = work_dir / best["file"]
    for r in rows:
        r["selected"] = r is best
        r.pop("file", None)
    rule = (
        f"the best fidelity score among the candidates faster than fp32 at 1 thread (the {len(top)} "
        "best-scoring candidates and fp32 were timed)"
        if faster
        else f"the best fidelity score: none of the {len(top)} best-scoring candidates was faster than fp32 at 1 "
        "thread on this host"
    )
    record = {
        "selected": f"{best['algo']}, {'per-channel' if best['per_channel'] else 'per-tensor'} weights",
        "algo": best["algo"],
        "per_channel": best["per_channel"],
        "rule": rule,
        "score": "mean of cosine and IoU of the thresholded maps (dense outputs), else cosine, vs fp32",
        "scored_on": f"{len(held_out)} {scored_on}",
        "timing": f"median of {TIMED_CALLS} calls at batch {batch}, 1 thread, after {WARMUP_CALLS} warmup calls, "
        f"for fp32 and the {len(top)} best-scoring of {len(ok)} candidates",
        "timed_candidates": len(top),
        "fp32_median_ms": fp32_ms,
        "fp32_timing_seconds": fp32_seconds,
        # where the search's time went (the pass is cached: a user pays it once per model, data and parameters)
        "seconds": {
            phase: round(sum(r["seconds"].get(phase, 0.0) for r in ok) + (fp32_seconds if phase == "time" else 0), 1)
            for phase in ("calibrate", "score", "time")
        },
        "candidates": rows,
    }
    return record, chosen
