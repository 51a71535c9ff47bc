"""The pass registry: every pass by name, merged from the per-backend spec modules in ``specs/``.

A new pass is one module under ``recipecc/passes/<backend>/`` (or ``recipecc/bench/runners/``) plus one
``PassSpec`` in ``specs/<backend>.py``. Entry points are strings, imported only inside the backend's worker process,
so this registry (and ``recipecc list``/``plan``) never pays for importing paddle, tensorflow or onnxruntime.
"""

from __future__ import annotations

from recipecc.plan.optional import present_modules
from recipecc.plan.spec import PassSpec

__all__ = ["BACKEND_EXTRAS", "BACKEND_MODULES", "PASSES", "PassSpec"]

#: spec modules, one per backend (a module that does not exist yet is skipped: its backend is not built)
_SPEC_MODULES = ("data", "deploy", "paddle", "onnx", "tf")

#: the pip extra that installs each backend, for the error a user sees when it is missing
BACKEND_EXTRAS: dict[str, str] = {"paddle": "paddle", "onnx": "onnx", "tf": "tf", "local": ""}

#: the importable module that proves a backend is installed
BACKEND_MODULES: dict[str, tuple[str, ...]] = {
    "paddle": ("paddle", "paddleslim"),
    "onnx": ("onnx", "onnxruntime"),
    "tf": ("tensorflow", "tf_keras", "tensorflow_model_optimization", "ai_edge_litert"),
    "local": (),
}


def _load() -> dict[str, PassSpec]:
    specs: dict[str, PassSpec] = {}
    for module in present_modules("recipecc.plan.specs", _SPEC_MODULES).values():
        for spec in module.SPECS:
            if spec.name in specs:
                raise ValueError(f"pass '{spec.name}' is registered twice")
            specs[spec.name] = spec
    return specs


PASSES: dict[str, PassSpec] = _load()
