"""Worker processes contain failures: a crash or an exception names the pass and leaves the cache intact."""

from __future__ import annotations

from pathlib import Path

import pytest

from recipecc.passes.base import PassContext
from recipecc.plan.cache import ArtifactCache
from recipecc.worker import BackendWorkers, PassError, WorkerCrashed


def context(node: str, out: Path, **params: object) -> PassContext:
    return PassContext(node_id=node, params=params, inputs={}, out_dir=out)


def test_a_worker_crash_names_the_pass_and_commits_nothing(tmp_path: Path) -> None:
    cache = ArtifactCache(tmp_path)
    tmp = cache.begin("crash")
    with BackendWorkers() as workers, pytest.raises(WorkerCrashed) as caught:
        workers.run("fake", "passes_for_tests:segfault", context("quantize", tmp))
    assert "pass 'quantize' failed" in str(caught.value)
    assert "worker process died" in str(caught.value)
    cache.abandon(tmp)
    assert not cache.has("crash")
    assert not any((tmp_path / ".tmp").iterdir())


def test_an_exception_in_a_pass_comes_back_with_its_message(tmp_path: Path) -> None:
    with BackendWorkers() as workers, pytest.raises(PassError) as caught:
        workers.run("fake", "passes_for_tests:fail", context("train", tmp_path, value=7))
    assert str(caught.value) == "pass 'train' failed: ValueError: bad value 7"
    assert "Traceback" in caught.value.detail


def test_the_worker_survives_to_run_the_next_pass(tmp_path: Path) -> None:
    with BackendWorkers() as workers:
        with pytest.raises(PassError):
            workers.run("fake", "passes_for_tests:fail", context("a", tmp_path))
        assert workers.run("fake", "passes_for_tests:echo", context("b", tmp_path, x=1)) == {"params": {"x": 1}}
