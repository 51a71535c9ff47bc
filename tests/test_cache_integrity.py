"""Cache integrity (issue 11): entries carry their files' sizes and hashes, reuse verifies them, a corrupt entry
is dropped and rebuilt (and the run says so), keys cover every file of a model, and runs sharing a cache compute
each entry once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from rich.console import Console

from recipecc import engine
from recipecc.cli import main
from recipecc.plan.cache import MANIFEST_FILE, ArtifactCache, fingerprint_path
from recipecc.plan.graph import Plan, PlanNode
from recipecc.plan.spec import PassSpec

FAKE = {"test.counted": PassSpec("test.counted", "fake", "passes_for_tests:counted", "test", "counted", ())}
TESTS = Path(__file__).parent


def one_node_plan(cache: Path, counter: Path, hold: float = 0.0) -> Plan:
    node = PlanNode("model", "test.counted", {"counter": str(counter), "hold": hold}, {}, "key-model")
    return Plan("r", "host", "hash", str(cache), (node,))


@pytest.fixture
def fake_passes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine, "PASSES", FAKE)
    monkeypatch.setattr(engine, "BACKEND_MODULES", {"fake": ()})


def test_an_entry_records_size_and_hash_of_every_file(tmp_path: Path) -> None:
    cache = ArtifactCache(tmp_path)
    tmp = cache.begin("k")
    (tmp / "sub").mkdir()
    (tmp / "sub" / "w.bin").write_bytes(b"abc")
    cache.commit(tmp, "k", {"format": "test"})
    files = json.loads((tmp_path / "k" / MANIFEST_FILE).read_text())["files"]
    assert set(files) == {"sub/w.bin", "artifact.json"} and files["sub/w.bin"][0] == 3
    assert cache.verify("k") == [] and cache.verify("k", full=True) == []


@pytest.mark.parametrize(
    ("damage", "problem"),
    [
        (lambda e: (e / "model.bin").write_bytes(b"weig"), "model.bin: 4 bytes, 700 when written"),
        (lambda e: (e / "model.bin").unlink(), "model.bin: missing"),
        (lambda e: (e / "planted.pdparams").write_bytes(b"\x80\x04."), "planted.pdparams: not written by the pass"),
        (lambda e: (e / "model.bin").write_bytes(b"WEIGHTS" * 100), "model.bin: content changed since it was written"),
        (lambda e: (e / "artifact.json").write_text("{"), "unreadable manifest or artifact.json"),
    ],
)
def test_a_corrupt_entry_is_dropped_rebuilt_and_reported(
    tmp_path: Path, fake_passes: None, damage: object, problem: str
) -> None:
    counter = tmp_path / "runs.txt"
    plan = one_node_plan(tmp_path / "cache", counter)
    engine.execute_plan(plan)
    entry = tmp_path / "cache" / "key-model"
    damage(entry)  # type: ignore[operator]
    if "content changed" in problem:
        os.utime(entry / "model.bin", ns=(1, 1))  # same size, other bytes: the mtime moved, so it is re-hashed
    assert main(["cache", "verify", f"cache_dir={tmp_path / 'unrelated'}"]) == 0
    console = Console(record=True, width=200)
    _, log = engine.execute_plan(plan, console)
    said = console.export_text()
    assert "corrupt cache entry" in said and problem in said and "dropped, rebuilding" in said
    assert counter.read_text().count("model") == 2  # it ran again
    assert log[0]["rebuilt"] and problem in log[0]["rebuilt"][0]
    assert ArtifactCache(tmp_path / "cache").verify("key-model", full=True) == []


def test_cache_verify_rehashes_everything_and_drops_what_is_corrupt(
    tmp_path: Path, fake_passes: None, capsys: pytest.CaptureFixture[str]
) -> None:
    plan = one_node_plan(tmp_path / "cache", tmp_path / "runs.txt")
    engine.execute_plan(plan)
    entry = tmp_path / "cache" / "key-model"
    stat = (entry / "model.bin").stat()
    (entry / "model.bin").write_bytes(b"X" * stat.st_size)
    os.utime(entry / "model.bin", ns=(stat.st_atime_ns, stat.st_mtime_ns))  # size and mtime as recorded
    assert ArtifactCache(tmp_path / "cache").verify("key-model") == []  # the cheap check cannot see it
    assert main(["cache", "verify", f"cache_dir={tmp_path / 'cache'}"]) == 1
    out = capsys.readouterr().out
    assert "corrupt key-model: model.bin: content changed" in out and "1 corrupt and dropped" in out
    assert not entry.exists()
    assert main(["cache", "verify", f"cache_dir={tmp_path / 'cache'}"]) == 0


def test_two_runs_at_once_compute_an_entry_once(tmp_path: Path) -> None:
    counter = tmp_path / "runs.txt"
    script = textwrap.dedent(
        f"""
        import sys
        from pathlib import Path
        from rich.console import Console
        from recipecc import engine
        from recipecc.plan.graph import Plan, PlanNode
        from recipecc.plan.spec import PassSpec
        engine.PASSES = {{"test.counted": PassSpec("test.counted", "fake", "passes_for_tests:counted", "t", "c", ())}}
        engine.BACKEND_MODULES = {{"fake": ()}}
        node = PlanNode("model", "test.counted", {{"counter": {str(counter)!r}, "hold": 3.0}}, {{}}, "key-model")
        outputs, log = engine.execute_plan(Plan("r", "host", "h", {str(tmp_path / "cache")!r}, (node,)))
        print("cached" if log[0]["cached"] else "computed", outputs["model"]["format"])
        """
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS.parent), str(TESTS)])}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    results = [proc.communicate(timeout=300) for proc in procs]
    assert all(proc.returncode == 0 for proc in procs), results
    said = sorted(out.strip() for out, _ in results)
    assert said == ["cached test", "computed test"]
    assert counter.read_text() == "model\n"  # the pass ran once
    assert any("waiting for another run" in err for _, err in results)


def test_keys_cover_every_file_of_a_model(tmp_path: Path) -> None:
    program = tmp_path / "m.pdmodel"
    program.write_bytes(b"\x08\x01")
    params = tmp_path / "m.pdiparams"
    params.write_bytes(b"weights")
    before = fingerprint_path(program)
    params.write_bytes(b"WEIGHTS")
    assert fingerprint_path(program) != before
    # an ONNX file's external data, found through the tensors' `location` entries
    import onnx
    from onnx_models import conv_model

    model = onnx.load(str(conv_model(tmp_path / "c.onnx")))
    onnx.save_model(model, str(tmp_path / "ext.onnx"), save_as_external_data=True, location="ext.data",
                    size_threshold=0)  # fmt: skip
    first = fingerprint_path(tmp_path / "ext.onnx")
    data = tmp_path / "ext.data"
    data.write_bytes(data.read_bytes()[:-4] + b"\0\0\0\1")
    assert fingerprint_path(tmp_path / "ext.onnx") != first


def test_a_pass_writes_only_inside_its_own_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_passes: None
) -> None:
    monkeypatch.setattr(
        engine, "PASSES", {"test.stray": PassSpec("test.stray", "fake", "passes_for_tests:stray", "t", "s", ())}
    )
    here = tmp_path / "cwd"
    here.mkdir()
    monkeypatch.chdir(here)
    node = PlanNode("model", "test.stray", {}, {}, "key-stray")
    engine.execute_plan(Plan("r", "host", "h", str(tmp_path / "cache"), (node,)))
    assert list(here.iterdir()) == []  # nothing left in the working folder
    entry = tmp_path / "cache" / "key-stray"
    assert sorted(p.name for p in entry.iterdir()) == ["artifact.json", "manifest.json", "model.bin"]
