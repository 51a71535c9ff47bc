"""The artifact cache: atomic commits, no half-written entries, stale temp folders cleaned."""

from __future__ import annotations

import json
import os
from pathlib import Path

from recipecc.plan.cache import ArtifactCache, cache_key, fingerprint_path


def test_commit_is_atomic_and_complete(tmp_path: Path) -> None:
    cache = ArtifactCache(tmp_path)
    tmp = cache.begin("k1")
    (tmp / "model.bin").write_bytes(b"x")
    assert not cache.has("k1")
    cache.commit(tmp, "k1", {"format": "test"})
    assert cache.has("k1")
    assert cache.meta("k1") == {"format": "test"}
    assert not tmp.exists()


def test_uncommitted_work_is_not_an_entry_and_is_cleaned_after_a_kill(tmp_path: Path) -> None:
    cache = ArtifactCache(tmp_path)
    dead = tmp_path / ".tmp" / "k2.999999999.0"  # a pid that cannot be alive
    dead.mkdir(parents=True)
    (dead / "model.bin").write_bytes(b"half")
    mine = cache.begin("k3")
    assert not cache.has("k2")
    removed = cache.clean_stale()
    assert removed == [dead]
    assert mine.exists()


def test_keys_depend_on_every_ingredient() -> None:
    base = cache_key("p", 1, {"a": 1}, {"in": "k"}, {"tool": "1.0"})
    assert base == cache_key("p", 1, {"a": 1}, {"in": "k"}, {"tool": "1.0"})
    variants = [
        cache_key("q", 1, {"a": 1}, {"in": "k"}, {"tool": "1.0"}),
        cache_key("p", 2, {"a": 1}, {"in": "k"}, {"tool": "1.0"}),
        cache_key("p", 1, {"a": 2}, {"in": "k"}, {"tool": "1.0"}),
        cache_key("p", 1, {"a": 1}, {"in": "k2"}, {"tool": "1.0"}),
        cache_key("p", 1, {"a": 1}, {"in": "k"}, {"tool": "1.1"}),
    ]
    assert base not in variants and len(set(variants)) == len(variants)


def test_fingerprints_follow_content(tmp_path: Path) -> None:
    model = tmp_path / "m.onnx"
    model.write_bytes(b"abc")
    first = fingerprint_path(model)
    model.write_bytes(b"abd")
    assert fingerprint_path(model) != first
    folder = tmp_path / "images"
    folder.mkdir()
    (folder / "a.png").write_bytes(b"1")
    listing = fingerprint_path(folder)
    (folder / "b.png").write_bytes(b"2")
    assert fingerprint_path(folder) != listing
    os.utime(folder / "b.png", ns=(1, 1))
    assert fingerprint_path(folder) != listing
    assert json.dumps(listing)


def test_a_remeasurement_replaces_the_entry(tmp_path: Path) -> None:
    cache = ArtifactCache(tmp_path)
    first = cache.begin("bench")
    cache.commit(first, "bench", {"median_ms": 2.0})
    second = cache.begin("bench")
    cache.commit(second, "bench", {"median_ms": 1.0})  # a concurrent twin: the first entry stays
    assert cache.meta("bench") == {"median_ms": 2.0}
    third = cache.begin("bench")
    cache.commit(third, "bench", {"median_ms": 1.5}, replace=True)
    assert cache.meta("bench") == {"median_ms": 1.5}
    assert not any((tmp_path / ".tmp").iterdir())
