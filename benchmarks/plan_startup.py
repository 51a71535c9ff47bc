"""How long ``recipecc plan`` / ``list`` / ``show`` take as a user runs them (fresh process each time)."""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

from _common import stamp, write_result

REPEATS = 7
VERBS = {
    "plan": ["plan"],
    "plan_smoke": ["plan", "recipe=digits_smoke"],
    "list": ["list"],
    "show": ["show"],
}


def main() -> None:
    timings: dict[str, dict[str, float]] = {}
    for name, args in VERBS.items():
        samples = []
        for _ in range(REPEATS):
            start = time.perf_counter()
            subprocess.run([sys.executable, "-m", "recipecc.cli", *args], check=True, capture_output=True)
            samples.append(time.perf_counter() - start)
        timings[name] = {"median_s": statistics.median(samples), "max_s": max(samples), "repeats": REPEATS}
        print(f"{name:<12} median {timings[name]['median_s']:.3f} s  max {timings[name]['max_s']:.3f} s")
    path = write_result(
        "plan_startup",
        {
            **stamp(),
            "what": "wall time of `python -m recipecc.cli VERB` in a fresh process",
            "timings": timings,
        },
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
