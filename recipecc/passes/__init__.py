"""Stage 3 — passes: the code that transforms models, one subpackage per backend (``paddle``, later ``tf``, ``onnx``).

Each pass module exposes ``run(ctx: PassContext) -> dict`` and imports its framework inside that function's
module only; the worker process of its backend imports the module. ``data`` passes need no framework.
"""
