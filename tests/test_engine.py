"""The engine: optional nodes may fail without failing the run; their dependents are skipped and reported."""

from __future__ import annotations

from pathlib import Path

import pytest

from recipecc import engine
from recipecc.plan.graph import Plan, PlanNode
from recipecc.plan.spec import PassSpec
from recipecc.worker import PassError

FAKE = {
    "test.echo": PassSpec("test.echo", "fake", "passes_for_tests:echo", "test", "echo", ()),
    "test.fail": PassSpec("test.fail", "fake", "passes_for_tests:fail", "test", "fail", ()),
}


def plan(tmp_path: Path, optional: bool) -> Plan:
    nodes = (
        PlanNode("a", "test.echo", {"x": 1}, {}, "key-a"),
        PlanNode("b", "test.fail", {"value": 3}, {"src": "a"}, "key-b", optional=optional),
        PlanNode("c", "test.echo", {"x": 2}, {"src": "b"}, "key-c"),
        PlanNode("d", "test.echo", {"x": 3}, {"src": "a"}, "key-d"),
    )
    return Plan("r", "host", "hash", str(tmp_path / "cache"), nodes)


def test_optional_failure_skips_dependents_and_the_run_goes_on(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine, "PASSES", FAKE)
    monkeypatch.setattr(engine, "BACKEND_MODULES", {"fake": ()})
    outputs, log = engine.execute_plan(plan(tmp_path, optional=True))
    assert set(outputs) == {"a", "d"}
    failures = {entry["node"]: entry["failed"] for entry in log if "failed" in entry}
    assert failures == {"b": "pass 'b' failed: ValueError: bad value 3", "c": "skipped: its input 'b' failed"}


def test_a_required_failure_stops_the_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine, "PASSES", FAKE)
    monkeypatch.setattr(engine, "BACKEND_MODULES", {"fake": ()})
    with pytest.raises(PassError, match="pass 'b' failed"):
        engine.execute_plan(plan(tmp_path, optional=False))
    assert not (tmp_path / "cache" / "key-b").exists()


def test_a_run_waiting_for_a_shared_entry_starts_its_own_workers_meanwhile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two jobs of a parallel sweep: while one waits for the other's shared stage (its lock is held here), the
    worker of its own later stage is started, so its framework import overlaps the wait instead of following it."""
    import threading
    import time

    from recipecc.plan.cache import ArtifactCache
    from recipecc.worker import BackendWorkers

    specs = {
        "test.shared": PassSpec("test.shared", "fake", "passes_for_tests:echo", "test", "echo", ()),
        "test.own": PassSpec("test.own", "fake_own", "passes_for_tests:echo", "test", "echo", ()),
    }
    monkeypatch.setattr(engine, "PASSES", specs)
    monkeypatch.setattr(engine, "BACKEND_MODULES", {"fake": (), "fake_own": ()})
    nodes = (
        PlanNode("shared", "test.shared", {"x": 1}, {}, "key-shared"),
        PlanNode("own", "test.own", {"x": 2}, {"src": "shared"}, "key-own"),
    )
    job = Plan("r", "host", "hash", str(tmp_path / "cache"), nodes)
    (tmp_path / "cache").mkdir()
    other_run = ArtifactCache(tmp_path / "cache").lock("key-shared")
    other_run.acquire()
    outcome: dict[str, object] = {}
    with BackendWorkers() as workers:
        thread = threading.Thread(target=lambda: outcome.update(engine.execute_plan(job, workers=workers)[0]))
        thread.start()
        for _ in range(200):  # the run is blocked on the lock; its own stage's worker starts meanwhile
            if "fake_own" in workers.started:
                break
            time.sleep(0.05)
        assert workers.started == ("fake_own",) and thread.is_alive()
        other_run.release()
        thread.join(timeout=120)
    assert set(outcome) == {"shared", "own"}
