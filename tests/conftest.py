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


@pytest.fixture(scope="session")
def image_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A user-style image folder: two classes in sub-folders, small generated RGB images (png and jpg)."""
    import numpy as np
    from PIL import Image

    root = tmp_path_factory.mktemp("images")
    rng = np.random.RandomState(0)
    for cls in ("cat", "dog"):
        (root / cls).mkdir()
        for i in range(12):
            pixels = rng.randint(0, 255, size=(20 + i, 24, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / cls / f"{i}.{'png' if i % 2 else 'jpg'}")
    return root


@pytest.fixture(scope="session")
def seg_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small label-map set in VOC layout (the generated shapes set: 5 classes with 255 borders)."""
    from recipecc.datasets.shapes import write_shapes

    root = tmp_path_factory.mktemp("seg")
    write_shapes(root, splits={"train": 4, "val": 3}, image_size=48, seed=0)
    return root
