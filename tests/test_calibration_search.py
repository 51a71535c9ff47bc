"""The backend-free calibration search (``recipecc/passes/calibration_search.py``), with a fake backend.

ONNX Runtime and Paddle Inference plug their own ``quantize`` and ``measure`` into the same loop, so the rule (the
best fidelity among the candidates faster than fp32), the record the report renders, the failing candidate and the
held-out images are checked here once, in milliseconds; the real backends run in test_onnx_calibration.py and
test_paddle_calibration.py.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray

from recipecc.passes.base import PassFailure
from recipecc.passes.calibration_search import (
    NOT_TIMED,
    SCORE_IMAGES,
    Candidate,
    run_search,
    split_for_search,
)

#: per candidate: (noise added to the fp32 outputs, latency in ms); fp32 takes 1.0 ms
_FAKE = {"minmax": (0.5, 0.5), "percentile": (0.05, 0.6), "entropy": (0.01, 1.5)}


def _search(
    tmp_path: Path, fake: dict[str, tuple[float, float]], broken: str | None = None, timed: list[str] | None = None
) -> tuple[dict, Path]:
    """The search over ``fake``'s candidates; ``timed`` collects the candidates whose latency was measured."""
    images = np.random.RandomState(0).rand(100, 3, 4, 4).astype(np.float32)
    seen: dict[Path, str] = {}

    def quantize(candidate: Candidate, path: Path) -> None:
        if candidate.algo == broken:
            raise RuntimeError("unsupported op\nsecond line")
        path.write_text(candidate.algo)
        seen[path] = candidate.algo

    def outputs(path: Path | None, held: NDArray[np.float32]) -> NDArray[np.float32]:
        clean = held.reshape(len(held), -1)[:, :10].copy()
        if path is None:
            return clean
        noise = fake[seen[path]][0]
        return clean + noise * np.random.RandomState(1).rand(*clean.shape).astype(np.float32)

    def latency(path: Path | None, held: NDArray[np.float32]) -> float:
        if path is None:
            return 1.0
        if timed is not None:
            timed.append(seen[path])
        return fake[seen[path]][1]

    return run_search(
        candidates=[Candidate(algo, True) for algo in fake],
        work_dir=tmp_path / "candidates",
        calibration=images[:60],
        held_out=images[60:],
        quantize=quantize,
        outputs=outputs,
        latency=latency,
        timed=3,
    )


def test_the_best_candidate_faster_than_fp32_is_kept_and_every_candidate_is_recorded(tmp_path: Path) -> None:
    record, chosen = _search(tmp_path, _FAKE)
    assert chosen.read_text() == "percentile"  # entropy scores higher but is slower than fp32
    assert record["algo"] == "percentile" and record["per_channel"] is True
    assert [c["algo"] for c in record["candidates"]] == ["minmax", "percentile", "entropy"]
    assert [c["selected"] for c in record["candidates"]] == [False, True, False]
    scores = {c["algo"]: c["score"] for c in record["candidates"]}
    assert scores["entropy"] > scores["percentile"] > scores["minmax"]
    assert record["scored_on"] == f"{SCORE_IMAGES} held-out training images" and record["fp32_median_ms"] == 1.0
    assert "faster than fp32" in record["rule"]


def test_a_failing_candidate_is_recorded_and_the_others_still_compete(tmp_path: Path) -> None:
    record, _ = _search(tmp_path, _FAKE, broken="percentile")
    failed = next(c for c in record["candidates"] if c["algo"] == "percentile")
    assert failed["status"] == "failed" and failed["error"] == "unsupported op" and not failed["selected"]
    assert record["algo"] == "minmax"


def test_when_none_is_faster_the_best_score_wins_and_the_record_says_so(tmp_path: Path) -> None:
    slow = {algo: (noise, 2.0) for algo, (noise, _) in _FAKE.items()}
    record, _ = _search(tmp_path, slow)
    assert record["algo"] == "entropy" and "was faster than fp32" in record["rule"] and "none of the" in record["rule"]


def test_only_the_best_scoring_candidates_are_timed_and_the_others_say_so(tmp_path: Path) -> None:
    """Timing is the search's cost on a large model: fp32 and the best-scoring few are timed, the rest are
    recorded as scored but not timed, and never selected."""
    fake = _FAKE | {"mse": (0.02, 0.7), "abs_max": (0.9, 0.1)}  # abs_max: the fastest, but the worst score
    timed: list[str] = []
    record, chosen = _search(tmp_path, fake, timed=timed)
    assert sorted(timed) == ["entropy", "mse", "percentile"]
    rows = {c["algo"]: c for c in record["candidates"]}
    assert rows["abs_max"]["median_ms"] is None and rows["abs_max"]["note"] == NOT_TIMED
    assert rows["minmax"]["timed"] is False and rows["minmax"]["score"] < rows["percentile"]["score"]
    assert record["algo"] == "mse" and chosen.read_text() == "mse"  # entropy scores best but is slower than fp32
    assert "3 best-scoring of 5 candidates" in record["timing"] and record["timed_candidates"] == 3
    assert all({"calibrate", "score"} <= set(r["seconds"]) for r in rows.values())
    assert [a for a, r in rows.items() if "time" in r["seconds"]] == ["percentile", "entropy", "mse"]
    assert set(record["seconds"]) == {"calibrate", "score", "time"}


def test_every_candidate_failing_is_the_pass_failing(tmp_path: Path) -> None:
    with pytest.raises(PassFailure, match="no calibration candidate"):
        _search(tmp_path, {"minmax": (0.1, 0.5)}, broken="minmax")


def test_a_search_keeps_images_back_for_scoring() -> None:
    assert split_for_search(1000, 256, search=True) == 256
    assert split_for_search(270, 256, search=True) == 270 - SCORE_IMAGES
    assert split_for_search(40, 256, search=True) == 30  # a quarter kept back on a tiny set
    assert split_for_search(270, 256, search=False) == 256
