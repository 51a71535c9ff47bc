"""What every runner returns: one benchmark record per stage, in the shape ``results.json`` expects."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from numpy.typing import NDArray

from recipecc.bench.evaluation import Evaluation
from recipecc.bench.measurers import estimated_latency, remote_latency
from recipecc.bench.timing import host_description, measure_latency
from recipecc.passes.base import PassContext, progress

__all__ = ["MODEL_INFO_KEYS", "benchmark_record", "latency_rows", "measure_stage"]

#: model facts a pass records that the report shows beside the stage
MODEL_INFO_KEYS = (
    "params",
    "flops",
    "flops_reduction",
    "params_reduction",
    "selector_matches",
    "ratio_summary",
    "sensitivity_target",
    "measurement_note",
    "origin",
    "calibration",
    "sparsity",
    "quantization",
    "gzip_bytes",
    "conversion",
    "sparse_encoding",
)


def latency_rows(
    make_call: Callable[[int], Callable[[], object]],
    threads_list: Sequence[int],
    *,
    warmup: int,
    repeats: int,
    describe: Mapping[str, Any],
    on_done: Callable[[int, dict[str, Any]], None] | None = None,
) -> list[dict[str, Any]]:
    """Measure one call per thread count; ``make_call(threads)`` builds a ready-to-time call for that count."""
    rows = []
    for threads in threads_list:
        stats = measure_latency(make_call(threads), warmup=warmup, repeats=repeats, threads=threads)
        row = {"threads": threads, **stats, **describe}
        rows.append(row)
        if on_done is not None:
            on_done(threads, row)
    return rows


def benchmark_record(
    *,
    params: Mapping[str, Any],
    model_meta: Mapping[str, Any],
    evaluation: Evaluation,
    latency: list[dict[str, Any]],
) -> dict[str, Any]:
    """A stage's record: its task's metrics (and which is the headline), size, latency and model facts."""
    return {
        "format": "benchmark",
        "stage": params["stage"],
        "model_format": model_meta["format"],
        "precision": params["precision"],
        "size_bytes": int(model_meta["size_bytes"]),
        "metrics": evaluation["metrics"],
        "headline_metric": evaluation["headline"],
        "evaluation": evaluation["details"],
        "latency": latency,
        "model": {k: model_meta[k] for k in MODEL_INFO_KEYS if k in model_meta},
        "host": host_description(),
    }


def measure_stage(
    ctx: PassContext,
    *,
    model_meta: Mapping[str, Any],
    evaluation: Evaluation,
    make_call: Callable[[int], Callable[[], object]],
    describe: Mapping[str, Any],
    model_paths: Sequence[Path] = (),
    layer_table: Callable[[], Mapping[str, Any] | None] | None = None,
    sample: NDArray[Any] | None = None,
) -> dict[str, Any]:
    """What every runner ends with: the stage's latency from the target's measurer, then its record.

    Quality (``evaluation``, by the runner through :mod:`recipecc.bench.evaluation`) is always computed here,
    with this machine's runtime. The latency comes from the
    measurer the plan chose (``params["measurer"]``): timed here (``make_call``), timed on the device over SSH
    (``model_paths`` and the input ``sample`` are copied there), or estimated from the model's layer table
    (``layer_table``, walked from the exported model by the runner, else the built-in architecture's).
    """
    p = ctx.params
    measurer = str(p.get("measurer", "measured-host"))
    threads_list = [int(t) for t in p["threads"]]
    if measurer == "measured-host":
        with progress(f"bench {p['stage']}", len(threads_list)) as advance:
            latency = latency_rows(
                make_call,
                threads_list,
                warmup=int(p["warmup"]),
                repeats=int(p["repeats"]),
                describe={"source": "measured-host", **describe},
                on_done=lambda t, row: advance(1, f"{t} thread(s): median {row['median_ms']:.3f} ms"),
            )
    elif measurer == "estimated":
        latency = estimated_latency(p, model_meta, layer_table, sample)
    else:
        latency = remote_latency(p, model_paths, model_meta, sample)
    if p.get("abi"):  # arm targets: every row names the runtime build it is for
        latency = [{**row, "abi": row.get("abi", p["abi"])} for row in latency]
    record = benchmark_record(params=p, model_meta=model_meta, evaluation=evaluation, latency=latency)
    if measurer != "measured-host":
        record["quality_measured_on"] = (
            f"this machine, with {describe.get('runtime', 'the host runtime')} (latency: {measurer} on "
            f"{p.get('device')} with {p.get('runtime')})"
        )
    return record
