"""How accurate the latency estimator is: its error on the published calibration rows and held out (leave one model
out, leave one device out, pruned rows predicted from an unpruned fit), plus the designer's example (MobileNetV1 on
Snapdragon 845, baseline and -30% FLOPs) next to the published figures. No wall-clock timing involved."""

from __future__ import annotations

import datetime as dt

from _common import write_result

from recipecc.estimate import builtin_table, estimate_rows, pruned_table
from recipecc.estimate.fit import CALIBRATION_DIR, evaluate, fit, load_observations, uniform_ratio_for_flops


def main() -> None:
    observations, skipped, digest = load_observations(sorted(CALIBRATION_DIR.glob("*.yaml")))
    coef = fit(observations)
    report = evaluate(coef, observations)
    table = builtin_table("mobilenet_v1")
    assert table is not None
    convs = [str(r["name"]) for r in table["layers"] if r["kind"] in ("conv", "conv1x1")]
    pruned = pruned_table(table, dict.fromkeys(convs, uniform_ratio_for_flops(table, 0.30)))
    example = {}
    for name, layers, published in (
        ("baseline", table, [66.05, 35.80, 19.58]),
        ("prune -30%", pruned, [46.60, 25.31, 13.70]),
    ):
        rows = estimate_rows(
            layers,
            device="sd845",
            runtime="paddle_lite",
            abi="armv8",
            precision="fp32",
            threads=[1, 2, 4],
            basis="plan",
        )
        example[name] = {"estimated_ms": [round(r["median_ms"], 2) for r in rows], "published_ms": published}
    write_result(
        "estimator",
        {
            "date": dt.date.today().isoformat(),
            "calibration_sha256": digest,
            "skipped": skipped,
            "calibration": report["overall"],
            "by_cell": report["by_cell"],
            "held_out": report["held_out"],
            "sd845_mobilenet_v1": example,
        },
    )


if __name__ == "__main__":
    main()
