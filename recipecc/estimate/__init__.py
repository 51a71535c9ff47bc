"""Estimated latency for devices out of reach: an analytic model of the exported graph, calibrated on published
measurements (``calibration/*.yaml``) by ``python -m recipecc.estimate.fit``.

This sits between ``recipe`` and ``plan`` (both the planner and the benchmark passes use it) and imports no
framework: a layer table (``layers/<arch>.json`` for the built-in architectures, or one walked from an exported
model by a backend) goes in, milliseconds with their provenance come out. Every estimated latency row says
``source: estimated`` and carries the estimator's version, the calibration data hash and its error on the
calibration set, instead of warmup/repeats.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from recipecc.estimate.model import Cell, layer_features, predict_ms, throughput_log
from recipecc.recipe.catalog import RUNTIMES
from recipecc.recipe.devices import DEVICES

__all__ = [
    "ESTIMATOR_VERSION",
    "builtin_table",
    "coefficients",
    "estimate_rows",
    "estimator_fingerprint",
    "pruned_table",
]

ESTIMATOR_VERSION = 1
_HERE = Path(__file__).resolve().parent


@functools.cache
def coefficients() -> dict[str, Any]:
    """The fitted coefficients (``coefficients.json``)."""
    data: dict[str, Any] = json.loads((_HERE / "coefficients.json").read_text())
    return data


def estimator_fingerprint() -> str:
    """Version, calibration hash and coefficients hash: part of estimated bench nodes' cache keys (a refit, or a
    change of the model that refits, re-estimates)."""
    import hashlib

    fitted = hashlib.sha256((_HERE / "coefficients.json").read_bytes()).hexdigest()[:16]
    return f"v{ESTIMATOR_VERSION}:{coefficients()['calibration_sha256'][:16]}:{fitted}"


def builtin_table(arch: str) -> dict[str, Any] | None:
    """The layer table of a built-in architecture at its usual input (None if none is shipped)."""
    path = _HERE / "layers" / f"{arch}.json"
    if not path.is_file():
        return None
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def pruned_table(table: Mapping[str, Any], ratios: Mapping[str, float]) -> dict[str, Any]:
    """``table`` with filter-pruning ``ratios`` (by layer path) applied: each convolution keeps ``1 - r`` of its
    outputs and ``1 - r`` of its producer's, depthwise ones follow their producer. Residual sums are not tracked,
    so this is the plan-time approximation; a run walks the pruned model itself."""
    layers = []
    for layer in table["layers"]:
        row = dict(layer)
        keep_out = 1.0 - float(ratios.get(str(layer["name"]), 0.0))
        keep_in = 1.0 - float(ratios.get(str(layer.get("inputs_from") or ""), 0.0))
        if layer["kind"] == "dwconv":
            keep_out = keep_in = 1.0 - float(ratios.get(str(layer.get("channels_from") or ""), 0.0))
            factor = keep_out
        else:
            factor = keep_out * keep_in
        row["macs"] = layer["macs"] * factor
        row["params"] = layer["params"] * factor
        row["in_elems"] = layer["in_elems"] * keep_in
        row["out_elems"] = layer["out_elems"] * keep_out
        layers.append(row)
    return {**table, "layers": layers, "macs": sum(r["macs"] for r in layers)}


def _fit_error(coef: Mapping[str, Any], device: str, runtime: str) -> dict[str, Any]:
    fit = coef.get("fit", {})
    cell = fit.get("by_cell", {}).get(f"{device}/{runtime}")
    if cell:
        return {"scope": f"{device}/{runtime}", **cell}
    return {"scope": "all calibration rows", **fit.get("overall", {})}


def estimate_rows(
    table: Mapping[str, Any],
    *,
    device: str,
    runtime: str,
    abi: str,
    precision: str,
    threads: Sequence[int],
    basis: str,
) -> list[dict[str, Any]]:
    """One latency row per thread count, labelled ``estimated``, with the estimator's provenance."""
    coef = coefficients()
    rt = RUNTIMES[runtime]
    features = layer_features(table, precision)
    rows = []
    for t in threads:
        cell = Cell(DEVICES[device], runtime, rt.processor, abi, precision, int(t))
        ms = predict_ms(coef, features, cell)
        _, calibrated = throughput_log(coef, cell)
        error = _fit_error(coef, device, runtime)
        rows.append(
            {
                "threads": int(t),
                "median_ms": ms,
                "source": "estimated",
                "runtime": rt.label or rt.name,
                "device": device,
                **({"abi": abi} if abi in ("armv7", "armv8") else {}),
                "estimator": {
                    "name": "recipecc analytic (per-layer MACs, bytes, op kinds, precision)",
                    "version": ESTIMATOR_VERSION,
                    "calibration_sha256": coef["calibration_sha256"],
                    "calibration_rows": coef["fit"]["overall"]["rows"],
                    "calibrated_for_device": calibrated,
                    "fit_error": error,
                    "basis": basis,
                    "macs": float(sum(float(r["macs"]) for r in table["layers"])),
                },
            }
        )
        if not math.isfinite(ms):  # pragma: no cover - coefficients are checked when fitted
            raise ValueError(f"estimator produced {ms} for {cell}")
    return rows
