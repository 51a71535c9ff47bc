"""Fit the latency model's coefficients to published (or your own) measurements, and report the fit error.

    python -m recipecc.estimate.fit                       # refit on calibration/*.yaml, write coefficients.json
    python -m recipecc.estimate.fit --extra my_rows.yaml  # add your own measurements (same format)
    python -m recipecc.estimate.fit --check               # print the errors, write nothing

Calibration files (YAML):

- ``rows``: Paddle Lite rows, ``ms = [armv7 t1, t2, t4, armv8 t1, t2, t4]`` for ``device``, ``model``,
  ``precision`` (the PaddleX model-library layout);
- ``prune_rows``: ``device`` at armv8, ``ms = [t1, t2, t4]`` of ``model`` with ``prune`` of its FLOPs removed
  (uniform filter pruning);
- ``cells``: one measurement each: ``device``, ``runtime``, ``abi``, ``model``, ``precision``, ``threads``, ``ms``
  (e.g. what the SSH measurer brought back: ``results.json`` rows with ``source: measured-remote``).

A row whose model has no layer table (``layers/<model>.json``) is listed as skipped. The fit minimises the log
error of every cell with weak priors tying devices to their core speed and clocks (so a device with few rows, or
none, still gets a sensible figure) and reports: the error on every calibration row, per device/runtime, and
held-out errors (leave one model out, leave one device out, the pruned rows predicted from the unpruned fit),
which is what to expect on models and pruning ratios it has not seen.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from numpy.typing import NDArray

from recipecc.estimate import builtin_table, pruned_table
from recipecc.estimate.model import Cell, core_speed, layer_features, precision_class, predict_ms
from recipecc.recipe.catalog import RUNTIMES
from recipecc.recipe.devices import DEVICES

__all__ = ["Observation", "fit", "load_observations", "main"]

_HERE = Path(__file__).resolve().parent
CALIBRATION_DIR = _HERE / "calibration"
COEFFICIENTS = _HERE / "coefficients.json"
_ABI_ORDER = (("armv7", 1), ("armv7", 2), ("armv7", 4), ("armv8", 1), ("armv8", 2), ("armv8", 4))
_KINDS = ("conv3x3", "conv", "dwconv", "fc")


@dataclass(frozen=True)
class Observation:
    """One measured latency and what it was measured on."""

    device: str
    runtime: str
    abi: str
    model: str
    precision: str
    threads: int
    ms: float
    prune: float = 0.0
    source: str = ""

    @property
    def cell(self) -> Cell:
        return Cell(
            DEVICES[self.device], self.runtime, RUNTIMES[self.runtime].processor, self.abi, self.precision, self.threads
        )

    def label(self) -> str:
        pruned = f" -{self.prune:.0%} FLOPs" if self.prune else ""
        return f"{self.device} {self.runtime} {self.abi} {self.model}{pruned} {self.precision} t{self.threads}"


def uniform_ratio_for_flops(table: Mapping[str, Any], removed: float) -> float:
    """The uniform filter ratio that removes ``removed`` of the table's MACs (bisection)."""
    convs = [str(r["name"]) for r in table["layers"] if r["kind"] in ("conv", "conv1x1")]
    total = float(table["macs"])
    low, high = 0.0, 0.95
    for _ in range(40):
        mid = (low + high) / 2
        kept = float(pruned_table(table, dict.fromkeys(convs, mid))["macs"]) / total
        low, high = (mid, high) if 1 - kept < removed else (low, mid)
    return (low + high) / 2


def _table(model: str, prune: float) -> dict[str, Any] | None:
    table = builtin_table(model)
    if table is None or not prune:
        return table
    ratio = uniform_ratio_for_flops(table, prune)
    convs = [str(r["name"]) for r in table["layers"] if r["kind"] in ("conv", "conv1x1")]
    return pruned_table(table, dict.fromkeys(convs, ratio))


def load_observations(paths: Sequence[Path]) -> tuple[list[Observation], list[str], str]:
    """Observations from calibration files, the rows skipped (no layer table), and the files' sha256."""
    observations: list[Observation] = []
    skipped: list[str] = []
    digest = hashlib.sha256()
    for path in sorted(paths):
        raw = path.read_bytes()
        digest.update(raw)
        data = yaml.safe_load(raw) or {}
        source = path.name
        for row in data.get("rows", []):
            for (abi, threads), ms in zip(_ABI_ORDER, row["ms"], strict=True):
                observations.append(
                    Observation(
                        row["device"], "paddle_lite", abi, row["model"], row["precision"], threads, ms, 0.0, source
                    )
                )
        for row in data.get("prune_rows", []):
            for threads, ms in zip((1, 2, 4), row["ms"], strict=True):
                observations.append(
                    Observation(
                        row["device"],
                        "paddle_lite",
                        "armv8",
                        row["model"],
                        row.get("precision", "fp32"),
                        threads,
                        ms,
                        float(row.get("prune", 0.0)),
                        source,
                    )
                )
        for row in data.get("cells", []):
            observations.append(
                Observation(
                    row["device"],
                    row["runtime"],
                    row["abi"],
                    row["model"],
                    row["precision"],
                    int(row["threads"]),
                    float(row["ms"]),
                    float(row.get("prune", 0.0)),
                    source,
                )
            )
    for path in sorted(paths):
        for pair in (yaml.safe_load(path.read_bytes()) or {}).get("precision_ratios", []):
            for precision in ("fp32", "int8"):
                observations.append(
                    Observation(
                        pair["device"], pair["runtime"], pair["abi"], pair["model"], precision, int(pair["threads"]),
                        float(pair[f"{precision}_ms"]), 0.0, f"{path.name}:ratio",
                    )
                )  # fmt: skip
    usable = []
    for obs in observations:
        if builtin_table(obs.model) is None:
            skipped.append(f"{obs.label()} ({obs.source}): no layer table for '{obs.model}'")
        else:
            usable.append(obs)
    return usable, sorted(set(skipped)), digest.hexdigest()


# --- the parameter vector -----------------------------------------------------------------------------------

_PRIORS: dict[str, tuple[float, float]] = {
    # name: (prior mean, prior sigma) in the parameter's own (log / logit) space
    "nu": (math.log(3.0), 2.0),
    "abi:armv7": (math.log(0.9), 0.3),
    "prec:int8": (math.log(1.3), 0.5),
    "prec:int8-dot": (math.log(2.0), 0.5),
    "eta": (math.log(0.5), 1.0),
    "op_overhead": (math.log(20.0), 1.5),
    "mem_threads": (0.0, 1.5),
    **{f"eff:{p}:{k}": (0.0, 1.0) for p in ("fp32", "int8") for k in _KINDS},
}
_OBS_SIGMA = 0.15  # expected log error of one published cell (run-to-run spread, model simplifications)
_DEVICE_SIGMA = 0.35  # how far a device may sit from its core-speed prior
_DEV_PREC_SIGMA = 0.3
_THREAD_PRIOR = (1.0, 1.0)  # logit of the per-extra-thread efficiency (0.73)


def _logit_inv(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


@dataclass
class _Space:
    names: list[str]
    devices: list[str]

    def coef(self, x: NDArray[np.float64], scales: Mapping[str, float] | None = None) -> dict[str, Any]:
        v = dict(zip(self.names, (float(a) for a in x), strict=True))
        eff = {p: {"conv1x1": 0.0, **{k: v[f"eff:{p}:{k}"] for k in _KINDS}} for p in ("fp32", "int8")}
        eff["int8-dot"] = eff["int8"]
        eff["fp16"] = eff["fp32"]
        thread = {d: _logit_inv(v[f"thread:{d}"]) for d in self.devices}
        return {
            "base": {d: v[f"base:{d}"] for d in self.devices},
            "nu": v["nu"],
            "abi": {"armv8": 0.0, "armv7": v["abi:armv7"], "native": 0.0},
            "prec": {"fp32": 0.0, "fp16": math.log(1.2), "int8": v["prec:int8"], "int8-dot": v["prec:int8-dot"]},
            "dev_prec": {n.split(":", 1)[1]: v[n] for n in self.names if n.startswith("devprec:")},
            "runtime": {},
            "eff": eff,
            "thread_eff": thread,
            "thread_eff_default": float(np.mean(list(thread.values()))) if thread else 0.73,
            "mem_threads": _logit_inv(v["mem_threads"]),
            "eta": v["eta"],
            "eta_gpu": math.log(0.6),
            "op_overhead": v["op_overhead"],
            "op_overhead_gpu": math.log(5.0),
            "gpu_runtime": {
                "paddle_tensorrt": math.log(0.25),
                "paddle_inference_gpu": math.log(0.12),
                "snpe_gpu": math.log(0.3),
            },
            "gpu_prec": {"fp32": 0.0, "fp16": math.log(2.0), "int8": math.log(3.0), "int8-dot": math.log(3.0)},
            "cell_scale": dict(scales or {}),
        }


def _space(
    observations: Sequence[Observation],
) -> tuple[_Space, NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    cpu_devices = sorted({o.device for o in observations if o.runtime == "paddle_lite"})
    names = list(_PRIORS)
    means = [m for m, _ in _PRIORS.values()]
    sigmas = [s for _, s in _PRIORS.values()]
    for device in cpu_devices:
        names += [f"base:{device}", f"thread:{device}"]
        means += [math.log(core_speed(DEVICES[device])) + _PRIORS["nu"][0], _THREAD_PRIOR[0]]
        sigmas += [_DEVICE_SIGMA, _THREAD_PRIOR[1]]
        for pclass in ("int8", "int8-dot"):
            names.append(f"devprec:{device}/{pclass}")
            means.append(0.0)
            sigmas.append(_DEV_PREC_SIGMA)
    return _Space(names, cpu_devices), np.array(means), np.array(sigmas), np.array(means)


def _residuals(
    space: _Space,
    observations: Sequence[Observation],
    features: Sequence[Mapping[str, float]],
    means: NDArray[np.float64],
    sigmas: NDArray[np.float64],
) -> Callable[[NDArray[np.float64]], NDArray[np.float64]]:
    base_index = {d: space.names.index(f"base:{d}") for d in space.devices}
    nu_index = space.names.index("nu")

    def residuals(x: NDArray[np.float64]) -> NDArray[np.float64]:
        coef = space.coef(x)
        errors = [
            math.log(predict_ms(coef, f, o.cell) / o.ms) / _OBS_SIGMA
            for o, f in zip(observations, features, strict=True)
        ]
        prior = list((x - means) / sigmas)
        # devices are tied to core speed x clock through nu (not to a fixed prior mean)
        for device, index in base_index.items():
            prior[index] = (x[index] - math.log(core_speed(DEVICES[device])) - x[nu_index]) / _DEVICE_SIGMA
        return np.array(errors + prior)

    return residuals


def fit(observations: Sequence[Observation]) -> dict[str, Any]:
    """Coefficients fitted to ``observations`` (CPU rows by least squares, single GPU/other cells by scale)."""
    from scipy.optimize import least_squares

    main_rows = [o for o in observations if o.runtime == "paddle_lite"]
    features = [layer_features(_table(o.model, o.prune) or {}, o.precision) for o in main_rows]
    space, means, sigmas, start = _space(main_rows)
    result = least_squares(_residuals(space, main_rows, features, means, sigmas), start, method="trf")
    coef = space.coef(result.x)
    # other runtimes: one scale per device/runtime from their own cells (few rows: reported as such)
    coef["cell_scale"] = {}
    coef["runtime_prec"] = {}
    ratio_rows = [o for o in observations if o.source.endswith(":ratio")]
    observations = [o for o in observations if not o.source.endswith(":ratio")]
    by_cell: dict[str, list[float]] = {}
    for _ in range(8):  # the memory and overhead terms do not scale with throughput: iterate to the fixed point
        by_cell.clear()
        for obs in observations:
            if obs.runtime == "paddle_lite" or (obs.cell.processor == "gpu" and precision_class(obs.cell) != "fp32"):
                continue
            f = layer_features(_table(obs.model, obs.prune) or {}, obs.precision)
            by_cell.setdefault(f"{obs.device}/{obs.runtime}", []).append(
                math.log(obs.ms / predict_ms(coef, f, obs.cell))
            )
        for key, values in by_cell.items():
            coef["cell_scale"][key] = coef["cell_scale"].get(key, 0.0) - float(np.mean(values))
    # precision_ratios: how much faster int8 runs than fp32 on a runtime, from pairs measured on one model (the
    # ratio holds even where the model's absolute figures are not used)
    for fp32 in [o for o in ratio_rows if o.precision == "fp32"]:
        int8 = next(o for o in ratio_rows if o.precision == "int8" and (o.device, o.model) == (fp32.device, fp32.model))
        table = _table(fp32.model, 0.0) or {}
        predicted = predict_ms(coef, layer_features(table, "int8"), int8.cell) / predict_ms(
            coef, layer_features(table, "fp32"), fp32.cell
        )
        key = f"{int8.runtime}/{precision_class(int8.cell)}"
        coef["runtime_prec"][key] = math.log(predicted) - math.log(int8.ms / fp32.ms)
    for _ in range(8):
        for obs in observations:
            if obs.runtime != "paddle_lite" and obs.cell.processor == "gpu" and precision_class(obs.cell) != "fp32":
                f = layer_features(_table(obs.model, obs.prune) or {}, obs.precision)
                coef["gpu_prec"][precision_class(obs.cell)] -= math.log(obs.ms / predict_ms(coef, f, obs.cell))
    return coef


def _errors(coef: Mapping[str, Any], observations: Sequence[Observation]) -> list[dict[str, Any]]:
    rows = []
    for obs in observations:
        predicted = predict_ms(coef, layer_features(_table(obs.model, obs.prune) or {}, obs.precision), obs.cell)
        rows.append(
            {
                "row": obs.label(),
                "device": obs.device,
                "runtime": obs.runtime,
                "model": obs.model,
                "measured_ms": obs.ms,
                "estimated_ms": round(predicted, 3),
                "error_pct": round(100 * (predicted - obs.ms) / obs.ms, 2),
            }
        )
    return rows


def _summary(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    errors = np.abs([float(r["error_pct"]) for r in rows]) if rows else np.array([np.nan])
    return {
        "rows": len(rows),
        "median_abs_pct": round(float(np.median(errors)), 2),
        "p90_abs_pct": round(float(np.percentile(errors, 90)), 2),
        "max_abs_pct": round(float(np.max(errors)), 2),
    }


def _held_out(observations: Sequence[Observation], key: Callable[[Observation], str]) -> dict[str, Any]:
    """Fit without each group (by ``key``) and score that group: the error on data the fit has not seen."""
    out: dict[str, Any] = {}
    pooled: list[dict[str, Any]] = []
    for group in sorted({key(o) for o in observations if o.runtime == "paddle_lite"}):
        train = [o for o in observations if key(o) != group]
        test = [o for o in observations if key(o) == group and o.runtime == "paddle_lite"]
        if not train or not test or not any(o.runtime == "paddle_lite" for o in train):
            continue
        rows = _errors(fit(train), test)
        pooled += rows
        out[group] = _summary(rows)
    out["pooled"] = _summary(pooled)
    return out


def evaluate(coef: dict[str, Any], observations: Sequence[Observation], held_out: bool = True) -> dict[str, Any]:
    """Errors on the absolute calibration rows (precision-ratio pairs only fix a ratio: not scored here)."""
    rows = _errors(coef, [o for o in observations if not o.source.endswith(":ratio")])
    by_cell: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_cell.setdefault(f"{row['device']}/{row['runtime']}", []).append(row)
    report: dict[str, Any] = {
        "overall": _summary(rows),
        "by_cell": {key: _summary(value) for key, value in sorted(by_cell.items())},
        "rows": rows,
    }
    if held_out:
        report["held_out"] = {
            "leave_one_model_out": _held_out(observations, lambda o: o.model),
            "leave_one_device_out": _held_out(observations, lambda o: o.device),
            "pruned_from_unpruned": _pruned_held_out(observations),
        }
    return report


def _pruned_held_out(observations: Sequence[Observation]) -> dict[str, Any]:
    train = [o for o in observations if not o.prune]
    test = [o for o in observations if o.prune]
    return _summary(_errors(fit(train), test)) if test and train else {"rows": 0}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Fit the latency estimator (recipecc/estimate) to measurements.")
    parser.add_argument("--extra", type=Path, action="append", default=[], help="more calibration YAML files")
    parser.add_argument("--check", action="store_true", help="print the fit errors, do not write coefficients")
    parser.add_argument("--out", type=Path, default=COEFFICIENTS)
    args = parser.parse_args(argv)
    files = sorted(CALIBRATION_DIR.glob("*.yaml")) + list(args.extra)
    observations, skipped, digest = load_observations(files)
    coef = fit(observations)
    report = evaluate(coef, observations)
    coef |= {
        "calibration_sha256": digest,
        "calibration_files": [p.name for p in files],
        "fitted": dt.date.today().isoformat(),
        "fit": {k: v for k, v in report.items() if k != "rows"} | {"skipped": skipped},
        "fit_rows": report["rows"],
    }
    for row in report["rows"]:
        print(
            f"{row['row']:<58} measured {row['measured_ms']:>9.2f}  estimated {row['estimated_ms']:>9.2f}"
            f"  {row['error_pct']:+7.1f}%"
        )
    print(json.dumps({k: v for k, v in coef["fit"].items()}, indent=1))
    if not args.check:
        args.out.write_text(json.dumps(coef, indent=1) + "\n")
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
