"""Quality metrics: top-1 against labels, fidelity against the baseline's outputs."""

from __future__ import annotations

import numpy as np
import pytest

from recipecc.bench.quality import quality_metrics


def test_top1_and_fidelity() -> None:
    ref = np.array([[2.0, 1.0, 0.0], [0.0, 3.0, 1.0], [1.0, 0.0, 2.0], [0.0, 0.0, 1.0]])
    ours = ref.copy()
    ours[3] = [1.0, 0.0, 0.0]  # one prediction changes
    m = quality_metrics(ours, np.array([0, 1, 2, 2]), ref, ["top1_agreement", "cosine", "max_abs_error"])
    assert m["top1"] == 0.75 and m["top1_agreement"] == 0.75
    assert m["max_abs_error"] == 1.0
    assert 0.74 < m["cosine"] < 0.76  # three identical rows, one orthogonal


def test_cosine_is_scale_free_even_for_tiny_outputs() -> None:
    ref = np.random.RandomState(0).randn(8, 100).astype(np.float32) * 1e-17
    m = quality_metrics(ref * 1.0001, None, ref, [])
    assert m["cosine"] > 0.9999 and m["top1_agreement"] == 1.0


def test_baseline_without_labels_agrees_with_itself() -> None:
    m = quality_metrics(np.ones((4, 3)), None, None, ["iou", "mean_abs_error"])
    assert m == pytest.approx({"top1_agreement": 1.0, "cosine": 1.0, "iou": 1.0, "mean_abs_error": 0.0})


def test_baseline_metrics_are_computed_not_assumed() -> None:
    broken = np.full((4, 3), np.nan)  # a baseline that outputs NaN does not "agree perfectly" with itself
    m = quality_metrics(broken, None, None, ["mean_abs_error"])
    assert m["cosine"] == 0.0 and np.isnan(m["mean_abs_error"])


def test_labels_of_minus_one_mean_unlabelled() -> None:
    m = quality_metrics(np.eye(3), np.array([-1, -1, -1]), np.eye(3), [])
    assert "top1" not in m and m["top1_agreement"] == 1.0
