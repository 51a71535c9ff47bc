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
