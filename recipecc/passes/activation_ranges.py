"""Activation ranges from histograms, for runtimes whose quantizer takes ranges but computes only min/max itself.

ai-edge-quantizer (``.tflite`` files) calibrates activations with a moving average of each input's min/max and takes
any other ranges as its ``calibration_result``; the TFLite converter has min/max only. On a dense map behind
long-tailed activations (a text detector's: ``tests/test_tflite_calibration.py``) min/max spends the int8 range on
a few outliers and the thresholded map falls apart. This module turns observed activations into clipped ranges:

- ``percentile-<p>``: the values at the ``100 - p`` and ``p`` percentiles of the observed distribution (NVIDIA's
  pytorch-quantization and TensorRT calibrators try 99.9, 99.99 and 99.999; ONNX Runtime defaults to 99.999).
- ``mse``: the range ``[alpha * lo, alpha * hi]`` that minimises the expected squared error of the 8-bit
  quantization, clipping error outside the range and a uniform rounding error (step squared / 12) inside it.
- ``entropy``: the magnitude threshold whose 128-level quantization keeps the distribution closest to the float one
  (KL divergence over a 2048-bin linear histogram of magnitudes): TensorRT's entropy calibrator, ONNX Runtime's
  Entropy, PaddleSlim's KL.
- ``extent``: the observed minimum and maximum (what plain min/max calibration would take, for comparison).

Why a histogram of log2 of the magnitude, per sign, rather than linear bins: the outliers that break min/max are
orders of magnitude above the bulk (an exponential's output spans 1e-5 to 1e6), so 2048 linear bins put the whole
bulk in the first bin and the percentile or error of any clip below the top bins cannot be computed. Bins of equal
width in log2 (``BINS_PER_OCTAVE`` over ``OCTAVES`` octaves below the largest magnitude) keep a relative resolution
of ~0.5% at every scale; magnitudes below that window count as zero (they round to zero in int8 anyway). Every
range includes zero, as an affine int8 range must (zero has to be exactly representable).

Hand-written: ONNX Runtime's ``HistogramCollector`` (linear bins, ONNX Runtime only) is the nearest library code; the
TFLite worker does not depend on onnxruntime.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["DEFAULT_PERCENTILE", "SEARCH_PERCENTILES", "LogHistogram", "clip_range", "percentile_method"]

OCTAVES = 40
BINS_PER_OCTAVE = 128
_BINS = OCTAVES * BINS_PER_OCTAVE
#: ``strategy.quant.algo=percentile`` (one method asked for by name); the search tries ``SEARCH_PERCENTILES``
DEFAULT_PERCENTILE = 99.99
SEARCH_PERCENTILES = (99.9, 99.99, 99.999)
#: the entropy (KL) method's linear histogram, quantized levels and window step, as in TensorRT's calibrator
#: (2048 bins, 128 levels); windows every 8 bins instead of every bin (240 instead of 1920 divergences per tensor)
ENTROPY_BINS = 2048
ENTROPY_LEVELS = 128
ENTROPY_STRIDE = 8
#: range shrink factors the MSE method tries: 1 down to 2^-30 in steps of 2^-0.1
_MSE_FACTORS = 2.0 ** (-np.arange(301) / 10)
_LEVELS = 255  # an 8-bit range has 255 steps


def percentile_method(p: float) -> str:
    """The method name for percentile ``p`` (``percentile-99.99``)."""
    return f"percentile-{p:g}"


@dataclass
class LogHistogram:
    """Counts of observed values by sign and log2 magnitude, in the ``OCTAVES`` octaves below ``2 ** top``.

    The window follows the largest magnitude seen: when a larger one arrives, ``top`` moves up by whole bins and
    the counts shift down with it (the ones that fall out of the window count as zeros), so one pass over the
    calibration inputs is enough.
    """

    top: float | None = None
    positive: NDArray[np.float64] = field(default_factory=lambda: np.zeros(_BINS))
    negative: NDArray[np.float64] = field(default_factory=lambda: np.zeros(_BINS))
    zeros: int = 0

    def edges(self) -> NDArray[np.float64]:
        """Magnitudes at the bin edges (``len(bins) + 1``, increasing)."""
        top = 0.0 if self.top is None else self.top
        return np.asarray(2.0 ** (top - OCTAVES + np.arange(_BINS + 1) / BINS_PER_OCTAVE))

    def _raise_top(self, largest: float) -> None:
        wanted = float(np.floor(np.log2(largest) * BINS_PER_OCTAVE) + 1) / BINS_PER_OCTAVE
        if self.top is None:
            self.top = wanted
            return
        shift = round((wanted - self.top) * BINS_PER_OCTAVE)
        for counts in (self.positive, self.negative):
            self.zeros += int(counts[:shift].sum())
            counts[:] = np.concatenate([counts[shift:], np.zeros(min(shift, _BINS))])[:_BINS]
        self.top = wanted

    def add(self, values: NDArray[Any]) -> None:
        flat = np.asarray(values, dtype=np.float64).ravel()
        finite = flat[np.isfinite(flat)]
        magnitude = np.abs(finite)
        largest = float(magnitude.max()) if magnitude.size else 0.0
        self.zeros += int(flat.size - finite.size)
        if largest > 0 and (self.top is None or largest >= 2.0**self.top):
            self._raise_top(largest)
        if self.top is None:  # only zeros so far
            self.zeros += int(finite.size)
            return
        with np.errstate(divide="ignore"):
            index = np.floor((np.log2(magnitude) - (self.top - OCTAVES)) * BINS_PER_OCTAVE)
        small = index < 0  # also exact zeros (-inf)
        self.zeros += int(small.sum())
        index = np.minimum(np.where(small, 0, index), _BINS - 1).astype(np.int64)
        self.positive += np.bincount(index[~small & (finite > 0)], minlength=_BINS)
        self.negative += np.bincount(index[~small & (finite < 0)], minlength=_BINS)

    @property
    def total(self) -> float:
        return float(self.positive.sum() + self.negative.sum() + self.zeros)


def _side_extent(counts: NDArray[np.float64], edges: NDArray[np.float64]) -> float:
    nonzero = np.nonzero(counts)[0]
    return float(edges[nonzero[-1] + 1]) if nonzero.size else 0.0


def _side_percentile(counts: NDArray[np.float64], edges: NDArray[np.float64], outside: float) -> float:
    """The magnitude above which ``outside`` of this side's values lie (0 when the side holds no more than that)."""
    if counts.sum() <= outside:
        return 0.0
    from_top = np.cumsum(counts[::-1])
    kept_bins = len(counts) - int(np.searchsorted(from_top, outside, side="right"))
    return float(edges[kept_bins])


def _mse_range(histogram: LogHistogram, lo: float, hi: float) -> tuple[float, float]:
    edges = histogram.edges()
    centers = np.sqrt(edges[:-1] * edges[1:])  # geometric centres: the bins are equal in log2
    low, high = lo * _MSE_FACTORS, hi * _MSE_FACTORS
    rounding = ((high - low) / _LEVELS) ** 2 / 12

    def error(counts: NDArray[np.float64], bound: NDArray[np.float64]) -> NDArray[np.float64]:
        clipped = np.maximum(centers[None, :] - bound[:, None], 0.0) ** 2
        per_value = np.where(centers[None, :] <= bound[:, None], rounding[:, None], clipped)
        return np.asarray((per_value * counts[None, :]).sum(axis=1))

    best = int(np.argmin(error(histogram.positive, high) + error(histogram.negative, -low)))
    return float(low[best]), float(high[best])


def _linear_magnitudes(histogram: LogHistogram, largest: float) -> NDArray[np.float64]:
    """The magnitudes' counts in ``ENTROPY_BINS`` equal bins over ``[0, largest]`` (each log bin's count goes to the
    linear bin holding its geometric centre; values below the log window are zeros, in the first bin)."""
    edges = histogram.edges()
    centers = np.sqrt(edges[:-1] * edges[1:])
    index = np.minimum((centers / largest * ENTROPY_BINS).astype(np.int64), ENTROPY_BINS - 1)
    linear = np.bincount(index, weights=histogram.positive + histogram.negative, minlength=ENTROPY_BINS)
    linear[0] += histogram.zeros
    return np.asarray(linear, dtype=np.float64)


def _kl_divergence(p: NDArray[np.float64], q: NDArray[np.float64]) -> float:
    """KL(p || q) of two count vectors, with q's empty bins where p has mass given a small share (as the TensorRT,
    ONNX Runtime and PaddleSlim calibrators smooth)."""
    p, q = p / p.sum(), q / q.sum()
    q = np.where((q == 0) & (p > 0), 1e-4 / max(1, int(p.size)), q)
    mask = p > 0
    return float(np.sum(p[mask] * np.log(p[mask] / q[mask])))


def _entropy_range(histogram: LogHistogram, lo: float, hi: float) -> tuple[float, float]:
    """The magnitude threshold that keeps the int8 distribution closest to the float one (KL divergence), as
    TensorRT's entropy calibrator, ONNX Runtime's Entropy and PaddleSlim's KL choose it: over a linear histogram of
    magnitudes, every window of at least ``ENTROPY_LEVELS`` bins is merged into ``ENTROPY_LEVELS`` levels and
    compared with the window whose outliers are clipped into its last bin. The range is clipped at that threshold
    on both sides (an affine int8 range keeps its own sign extents within it)."""
    largest = max(-lo, hi)
    if largest <= 0:
        return lo, hi
    counts = _linear_magnitudes(histogram, largest)
    best, threshold = np.inf, largest
    for stop in range(ENTROPY_LEVELS, ENTROPY_BINS + 1, ENTROPY_STRIDE):
        window = counts[:stop]
        reference = window.copy()
        reference[-1] += counts[stop:].sum()
        if reference.sum() == 0:
            continue
        level = np.arange(stop) * ENTROPY_LEVELS // stop
        merged = np.bincount(level, weights=window, minlength=ENTROPY_LEVELS)
        occupied = np.bincount(level, weights=window > 0, minlength=ENTROPY_LEVELS)
        expanded = np.where(window > 0, merged[level] / np.maximum(occupied[level], 1), 0.0)
        if expanded.sum() == 0:
            continue
        divergence = _kl_divergence(reference, expanded)
        if divergence < best:
            best, threshold = divergence, stop / ENTROPY_BINS * largest
    return max(lo, -threshold), min(hi, threshold)


def clip_range(histogram: LogHistogram, method: str) -> tuple[float, float]:
    """``(lo, hi)`` for ``method`` (``extent``, ``mse``, ``entropy`` or ``percentile-<p>``); ``lo <= 0 <= hi``."""
    edges = histogram.edges()
    lo, hi = -_side_extent(histogram.negative, edges), _side_extent(histogram.positive, edges)
    if method == "extent":
        return lo, hi
    if method == "mse":
        return _mse_range(histogram, lo, hi)
    if method == "entropy":
        return _entropy_range(histogram, lo, hi)
    if method.startswith("percentile-"):
        p = float(method.removeprefix("percentile-"))
        outside = histogram.total * (100.0 - p) / 100.0
        return (
            -_side_percentile(histogram.negative, edges, outside),
            _side_percentile(histogram.positive, edges, outside),
        )
    raise ValueError(f"unknown range method '{method}'; valid: extent, mse, entropy, percentile-<p>")
