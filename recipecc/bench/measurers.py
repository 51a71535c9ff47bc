"""The two measurers besides timing on this machine: estimated (analytic model) and measured-remote (SSH).

``record.measure_stage`` dispatches on the bench node's ``measurer`` parameter, which the planner resolved from the
target (``recipecc/recipe/targets.py``). Both return latency rows in the shape of host rows (``threads``,
``median_ms``, ``source``...), each labelled with where it came from.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from numpy.typing import NDArray

from recipecc.estimate import builtin_table, estimate_rows
from recipecc.passes.base import PassFailure

__all__ = ["compute_precision", "estimated_latency", "remote_latency"]

log = logging.getLogger(__name__)


def compute_precision(precision: str) -> str:
    """The arithmetic a stage runs in: weight-only and dynamic-range int8 models compute in float."""
    if precision == "int8":
        return "int8"
    return "fp16" if precision == "fp16" else "fp32"


def _scaled(table: Mapping[str, Any], factor: float) -> dict[str, Any]:
    layers = [{**row, "macs": row["macs"] * factor, "params": row["params"] * factor} for row in table["layers"]]
    return {**table, "layers": layers, "macs": sum(r["macs"] for r in layers)}


def _resized(table: Mapping[str, Any], shape: Sequence[int]) -> tuple[dict[str, Any], str]:
    """``table`` at the input size of ``shape`` (NCHW or NHWC): convolution costs and activations scale with the
    image area, dense layers do not."""
    channels_first = shape[1] in (1, 3)
    height, width = (shape[2], shape[3]) if channels_first else (shape[1], shape[2])
    area = float(height * width) / float(table["input"][1] * table["input"][2])
    if abs(area - 1.0) < 1e-9:
        return dict(table), ""
    layers = [
        row if row["kind"] == "fc" else {**row, "macs": row["macs"] * area, "in_elems": row["in_elems"] * area,
                                          "out_elems": row["out_elems"] * area}
        for row in table["layers"]
    ]  # fmt: skip
    other = {**table.get("other", {}), "elems": float(table.get("other", {}).get("elems", 0)) * area}
    resized = {**table, "layers": layers, "other": other, "macs": sum(r["macs"] for r in layers)}
    return resized, f", rescaled to the {height}x{width} input"


def estimated_latency(
    params: Mapping[str, Any],
    model_meta: Mapping[str, Any],
    layer_table: Callable[[], Mapping[str, Any] | None] | None,
    sample: NDArray[Any] | None = None,
) -> list[dict[str, Any]]:
    """Estimated rows for this stage: from its own exported graph when the runner can walk it, else from the
    built-in architecture's table scaled by the FLOPs the passes recorded."""
    table = layer_table() if layer_table is not None else None
    basis = "per-layer MACs and bytes walked from this stage's exported model"
    if table is None:
        arch = str(params.get("arch") or "")
        base = builtin_table(arch)
        if base is None:
            raise PassFailure(
                f"cannot estimate the latency of this {model_meta.get('format')} model on {params.get('device')}: "
                "its runner cannot walk its graph and it is not a built-in architecture with a layer table"
            )
        basis = f"built-in layer table of {arch} at {base['input']}"
        if sample is not None and sample.ndim == 4:
            base, resized = _resized(base, sample.shape)
            basis += resized
        flops, before = model_meta.get("flops"), model_meta.get("flops_before")
        if flops and before:
            table = _scaled(base, float(flops) / float(before))
            basis += f", scaled by the recorded FLOPs ratio {float(flops) / float(before):.3f}"
        else:
            table = base
    return estimate_rows(
        table,
        device=str(params["device"]),
        runtime=str(params["runtime"]),
        abi=str(params.get("abi", "native")),
        precision=compute_precision(str(params["precision"])),
        threads=[int(t) for t in params["threads"]],
        basis=basis,
    )


def remote_latency(
    params: Mapping[str, Any],
    model_paths: Sequence[Path],
    model_meta: Mapping[str, Any],
    sample: NDArray[Any] | None,
) -> list[dict[str, Any]]:
    """Rows timed on the device over SSH with its own runtime (``recipecc/bench/remote``)."""
    from recipecc.bench.remote import RemoteError, measure_remote

    if not model_paths:
        raise PassFailure(f"the {model_meta.get('format')} runner cannot ship its model to a device")
    try:
        return measure_remote(
            params["ssh"],
            model_paths,
            precision=str(params["precision"]),
            threads=[int(t) for t in params["threads"]],
            warmup=int(params["warmup"]),
            repeats=int(params["repeats"]),
            sample=sample,
        )
    except RemoteError as exc:
        raise PassFailure(str(exc)) from None
