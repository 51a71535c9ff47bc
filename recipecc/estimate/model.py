"""The analytic latency model: per-layer compute and memory time on a device, a runtime build and a thread count.

For one inference at batch 1::

    T(t) = sum_l MACs_l / (R * eff[kind_l] * P(t))  +  bytes / (BW * eta * M(t))  +  ops * c / P(t)

- ``R``: the runtime's 1x1-convolution throughput (GMAC/s, one thread) on the device, for the ABI and precision:
  ``exp(base[device] + abi[abi] + prec[class])`` where the precision class is fp32, int8 with the ARMv8.2
  dot-product instructions (Cortex-A55/A75/A76/A77 under an armv8 build) or int8 without them;
  devices without a fitted ``base`` get the prior ``core speed x GHz x nu`` (``nu`` fitted on the devices that have
  one); ``dev_prec`` is a device's own deviation from the class factor.
- ``eff[kind]``: how fast a stride-1 3x3 convolution (Winograd in ARM runtimes), another full convolution, a
  depthwise convolution or a fully connected layer runs per MAC relative to a 1x1 convolution (per precision).
- ``P(t) = 1 + (t - 1) * e[device]``: compute scaling over threads; ``M(t) = 1 + (t - 1) * m``: memory traffic
  scales less (one DRAM interface).
- ``bytes``: weights at the precision's width plus every layer's input and output activations; ``BW`` the device's
  DRAM bandwidth, ``eta`` the share a runtime reaches.
- GPU runtimes: the same form with ``R`` from the GPU's peak and no thread terms.

Coefficients live in ``coefficients.json``, written by ``python -m recipecc.estimate.fit`` from the calibration
files; every estimate carries the estimator version, the calibration hash and the fit error.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from recipecc.recipe.devices import Device

__all__ = [
    "CORE_TRAITS",
    "KINDS",
    "Cell",
    "core_speed",
    "has_dotprod",
    "layer_features",
    "precision_class",
    "predict_ms",
]

#: per core family: relative fp32 NEON throughput per GHz (Cortex-A73 = 1) and ARMv8.2 dot-product support
CORE_TRAITS: dict[str, tuple[float, bool]] = {
    "Cortex-A53": (0.45, False),
    "Cortex-A55": (0.5, True),
    "Cortex-A73": (1.0, False),
    "Cortex-A75": (1.1, True),
    "Cortex-A76": (1.8, True),
    "Cortex-A77": (2.0, True),
}
#: op kinds the model distinguishes; ``conv3x3`` is a stride-1 3x3 convolution (Winograd-eligible in the ARM
#: runtimes), ``conv`` every other full convolution (stems, strided, 5x5/7x7)
KINDS = ("conv1x1", "conv3x3", "conv", "dwconv", "fc")
_BYTES = {"fp32": (4, 4), "fp16": (2, 2), "int8": (1, 1)}


@dataclass(frozen=True)
class Cell:
    """What one estimate is for."""

    device: Device
    runtime: str
    processor: str
    abi: str
    precision: str
    threads: int


def _traits(device: Device) -> tuple[float, bool]:
    core = device.clusters[0].core
    for family, traits in CORE_TRAITS.items():
        if family in core:
            return traits
    return (1.0, False)


def core_speed(device: Device) -> float:
    """Prior fp32 throughput index of the device's fastest cores: relative speed per GHz x GHz."""
    speed, _ = _traits(device)
    return speed * device.clusters[0].ghz


def has_dotprod(device: Device, abi: str) -> bool:
    return _traits(device)[1] and abi == "armv8"


def precision_class(cell: Cell) -> str:
    """fp32 | fp16 | int8-dot | int8 (int8 with or without the dot-product instructions)."""
    if cell.precision.startswith("int8"):
        return "int8-dot" if cell.processor == "cpu" and has_dotprod(cell.device, cell.abi) else "int8"
    return "fp16" if cell.precision == "fp16" else "fp32"


def layer_features(table: Mapping[str, Any], precision: str) -> dict[str, float]:
    """MACs per kind, bytes moved and op count of a layer table at ``precision``."""
    wbytes, abytes = _BYTES.get("int8" if precision.startswith("int8") else precision, (4, 4))
    features = {kind: 0.0 for kind in KINDS}
    moved = 0.0
    for layer in table["layers"]:
        kind = str(layer["kind"])
        if kind == "conv" and list(layer.get("kernel", [])) == [3, 3] and list(layer.get("stride", [])) == [1, 1]:
            kind = "conv3x3"
        features[kind] += float(layer["macs"])
        moved += float(layer["params"]) * wbytes + (float(layer["in_elems"]) + float(layer["out_elems"])) * abytes
    other = table.get("other", {})
    moved += float(other.get("elems", 0)) * abytes * 2
    features["bytes"] = moved
    features["ops"] = float(len(table["layers"]) + int(other.get("ops", 0)))
    return features


def _get(mapping: Mapping[str, Any], key: str, default: float) -> float:
    value = mapping.get(key)
    return float(value) if value is not None else default


def throughput_log(coef: Mapping[str, Any], cell: Cell) -> tuple[float, bool]:
    """log GMAC/s of 1x1 convolutions at one thread, and whether the device itself was calibrated."""
    pclass = precision_class(cell)
    if cell.processor == "gpu":
        peak = max(cell.device.gpu_tflops, 0.1) * 500.0  # GMAC/s = TFLOPS * 1000 / 2
        base = math.log(peak) + _get(coef["gpu_runtime"], cell.runtime, math.log(0.1))
        base += _get(coef["gpu_prec"], pclass, 0.0)
        key = f"{cell.device.name}/{cell.runtime}"
        return base + _get(coef["cell_scale"], key, 0.0), key in coef["cell_scale"]
    device_base = coef["base"].get(cell.device.name)
    calibrated = device_base is not None
    if device_base is None:
        device_base = math.log(core_speed(cell.device)) + float(coef["nu"])
    value = float(device_base) + _get(coef["abi"], cell.abi, 0.0) + _get(coef["prec"], pclass, 0.0)
    value += _get(coef["dev_prec"], f"{cell.device.name}/{pclass}", 0.0)
    value += _get(coef["runtime"], cell.runtime, 0.0)
    value += _get(coef.get("runtime_prec", {}), f"{cell.runtime}/{pclass}", 0.0)
    key = f"{cell.device.name}/{cell.runtime}"
    value += _get(coef["cell_scale"], key, 0.0)
    return value, calibrated or key in coef["cell_scale"]


def predict_ms(coef: Mapping[str, Any], features: Mapping[str, float], cell: Cell) -> float:
    """Estimated median latency (ms) of one inference."""
    log_r, _ = throughput_log(coef, cell)
    rate = math.exp(log_r) * 1e9  # MAC/s
    pclass = precision_class(cell)
    eff = coef["eff"].get(pclass, coef["eff"]["fp32"])
    t = cell.threads if cell.processor == "cpu" else 1
    scale = 1.0 + (t - 1) * _get(coef["thread_eff"], cell.device.name, float(coef["thread_eff_default"]))
    memory_scale = 1.0 + (t - 1) * float(coef["mem_threads"])
    compute = sum(features[k] / (rate * math.exp(float(eff.get(k, 0.0)))) for k in KINDS) / scale
    bandwidth = cell.device.memory_gbps * 1e9 * math.exp(float(coef["eta_gpu" if cell.processor == "gpu" else "eta"]))
    memory = features["bytes"] / (bandwidth * memory_scale) if bandwidth > 0 else 0.0
    per_op = coef["op_overhead_gpu" if cell.processor == "gpu" else "op_overhead"]
    overhead = features["ops"] * math.exp(float(per_op)) * 1e-6 / scale
    return (compute + memory + overhead) * 1e3
