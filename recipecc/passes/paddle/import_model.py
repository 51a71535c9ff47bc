"""``paddle.import``: a user's Paddle inference model, copied into the cache under canonical names.

Accepts a folder holding one ``*.pdmodel`` + ``*.pdiparams`` pair (any file names, e.g. ``inference.pdmodel``)
or the ``.pdmodel`` file itself. The program is read to learn its input; dimensions left dynamic (-1) are fixed
from ``model.input_shape``, which is then required.
"""

from __future__ import annotations

import shutil
import zlib  # noqa: F401  - before paddle
from pathlib import Path
from typing import Any

import numpy as np
import paddle

from recipecc.passes.base import PassContext, PassFailure
from recipecc.passes.paddle.export import MODEL_FILES
from recipecc.passes.quiet import quiet_stdout

__all__ = ["find_model_files", "run"]


def find_model_files(path: Path) -> tuple[Path, Path]:
    """The program and parameter files of an inference model given as a folder or as its ``.pdmodel``.

    Also reads the older export layout (``__model__`` + ``__params__``, PaddleX 1.x / ``save_inference_model``
    with combined parameters).
    """
    if path.is_dir() and (path / "__model__").is_file() and not list(path.glob("*.pdmodel")):
        if not (path / "__params__").is_file():
            raise PassFailure(
                f"model.path '{path}': __model__ without __params__ (one file per parameter) is not supported; "
                "re-export with combined parameters (paddle.jit.save or save_inference_model)"
            )
        return path / "__model__", path / "__params__"
    if path.is_file():
        program = path
        if program.suffix != ".pdmodel":
            raise PassFailure(f"model.path '{path}': expected a .pdmodel file or a folder holding one")
    else:
        programs = sorted(path.glob("*.pdmodel"))
        if len(programs) != 1:
            found = ", ".join(p.name for p in programs) or "none"
            raise PassFailure(f"model.path '{path}': expected one *.pdmodel file, found {found}")
        program = programs[0]
    params = program.with_suffix(".pdiparams")
    if not params.is_file():
        candidates = sorted(program.parent.glob("*.pdiparams"))
        if len(candidates) != 1:
            raise PassFailure(f"model.path '{path}': no parameters file {params.name} beside {program.name}")
        params = candidates[0]
    return program, params


def run(ctx: PassContext) -> dict[str, Any]:
    p = ctx.params
    program_file, params_file = find_model_files(Path(str(p["path"])).expanduser())
    shutil.copyfile(program_file, ctx.out_dir / MODEL_FILES[0])
    shutil.copyfile(params_file, ctx.out_dir / MODEL_FILES[1])
    paddle.enable_static()
    try:
        executor = paddle.static.Executor(paddle.CPUPlace())
        with quiet_stdout():
            program, feeds, fetches = paddle.static.load_inference_model(str(ctx.out_dir / "model"), executor)
        if len(feeds) != 1:
            raise PassFailure(f"the model has {len(feeds)} inputs ({feeds}); recipecc handles one image input")
        declared = list(program.global_block().var(feeds[0]).shape)
        params = sum(
            int(np.prod(var.shape))
            for var in program.list_vars()
            if var.persistable and var.name not in ("feed", "fetch") and all(d > 0 for d in var.shape)
        )
    finally:
        paddle.disable_static()
    requested = p.get("input_shape")
    if requested is not None:
        if len(requested) != len(declared) or any(d > 0 and d != r for d, r in zip(declared, requested, strict=True)):
            raise PassFailure(f"model.input_shape {requested} does not fit the model's input {declared}")
        shape = list(requested)
    elif any(d < 0 for d in declared[1:]):
        raise PassFailure(
            f"the model's input '{feeds[0]}' has dynamic dimensions {declared}: set model.input_shape, "
            f"e.g. model.input_shape=[1,{max(declared[1], 3)},224,224]"
        )
    else:
        shape = [1, *declared[1:]]
    return {
        "format": "paddle-inference",
        "precision": "fp32",
        "model_files": list(MODEL_FILES),
        "input_name": feeds[0],
        "input_shape": shape[1:],
        "declared_input_shape": declared,
        "source_files": [str(program_file), str(params_file)],
        "outputs": [str(f) for f in fetches],
        "params": params,
        "size_bytes": sum((ctx.out_dir / name).stat().st_size for name in MODEL_FILES),
    }
