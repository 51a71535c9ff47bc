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
from recipecc.passes.calibration_search import SCORE_IMAGES, Candidate, run_search, split_for_search

#: per candidate: (noise added to the fp32 outputs, latency in ms); fp32 takes 1.0 ms
_FAKE = {"minmax": (0.5, 0.5), "percentile": (0.05, 0.6), "entropy": (0.01, 1.5)}


def _search(tmp_path: Path, fake: dict[str, tuple[float, float]], broken: str | None = None) -> tuple[dict, Path]:
    images = np.random.RandomState(0).rand(100, 3, 4, 4).astype(np.float32)
    seen: dict[Path, str] = {}

    def quantize(candidate: Candidate, path: Path) -> None:
        if candidate.algo == broken:
            raise RuntimeError("unsupported op\nsecond line")
        path.write_text(candidate.algo)
        seen[path] = candidate.algo

    def measure(path: Path | None, held: NDArray[np.float32]) -> tuple[NDArray[np.float32], float]:
        outputs = held.reshape(len(held), -1)[:, :10].copy()
        if path is None:
            return outputs, 1.0
        noise, ms = fake[seen[path]]
        return outputs + noise * np.random.RandomState(1).rand(*outputs.shape).astype(np.float32), ms

    return run_search(
        candidates=[Candidate(algo, True) for algo in fake],
        work_dir=tmp_path / "candidates",
        calibration=images[:60],
        held_out=images[60:],
        quantize=quantize,
        measure=measure,
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
    assert record["algo"] == "entropy" and "no candidate was faster than fp32" in record["rule"]


def test_every_candidate_failing_is_the_pass_failing(tmp_path: Path) -> None:
    with pytest.raises(PassFailure, match="no calibration candidate"):
        _search(tmp_path, {"minmax": (0.1, 0.5)}, broken="minmax")


def test_a_search_keeps_images_back_for_scoring() -> None:
    assert split_for_search(1000, 256, search=True) == 256
    assert split_for_search(270, 256, search=True) == 270 - SCORE_IMAGES
    assert split_for_search(40, 256, search=True) == 30  # a quarter kept back on a tiny set
    assert split_for_search(270, 256, search=False) == 256
