"""Shared fixtures: every test gets its own artifact cache, so tests never see each other's artifacts."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    cache = tmp_path_factory.mktemp("cache")
    monkeypatch.setenv("RECIPECC_CACHE", str(cache))
    yield cache


@pytest.fixture(scope="session")
def shared_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One cache for the end-to-end tests, so later tests reuse (and check) what earlier runs produced."""
    return tmp_path_factory.mktemp("shared-cache")
