"""Which shipped targets read a model format: the ``valid`` part of "this pipeline cannot read your file" errors."""

from __future__ import annotations

from functools import cache

from recipecc.paths import targets_dir
from recipecc.recipe.catalog import MODEL_FORMATS, RUNTIMES

__all__ = ["targets_of_backends", "targets_reading"]


@cache
def _target_runtimes() -> dict[str, str]:
    from omegaconf import OmegaConf

    found = {}
    for path in sorted(targets_dir().glob("*.yaml")):
        found[path.stem] = str(OmegaConf.select(OmegaConf.load(path), "runtime", default=""))
    return found


def targets_reading(fmt: str) -> str:
    """``"targets whose runtime reads tflite files: pc_xnnpack, rpi3"``, host targets first."""
    backend = MODEL_FORMATS.get(fmt)
    names = [
        name
        for name, runtime in _target_runtimes().items()
        if runtime in RUNTIMES and RUNTIMES[runtime].backend == backend
    ]
    names.sort(key=lambda name: RUNTIMES[_target_runtimes()[name]].processor != "cpu")
    if not names:
        return f"no shipped target reads {fmt} files"
    return f"a target whose runtime reads {fmt} files: {', '.join(f'target={n}' for n in names)}"


def targets_of_backends(backends: tuple[str, ...]) -> list[str]:
    """The shipped targets whose runtime is built by one of ``backends`` (host targets first)."""
    runtimes = _target_runtimes()
    names = [name for name, rt in runtimes.items() if rt in RUNTIMES and RUNTIMES[rt].backend in backends]
    return sorted(names, key=lambda name: RUNTIMES[runtimes[name]].processor != "cpu")
