"""Plan-time checks of the files and folders a recipe names: what can be checked cheaply fails here, with exit
code 2 and one message naming the key and the file, instead of as a worker traceback after work has started.

The checks read bytes only (no framework is imported): empty files, text where a binary model is expected,
truncated protobufs (``.onnx``, ``.pdmodel``) and pickles, a Paddle program without its ``.pdiparams``, a folder
holding no model, an image folder without images, pickled weights that would run code, and Keras ``.h5`` files
with Lambda layers (Python bytecode run when loaded).
"""

from __future__ import annotations

import json
import os
import zipfile
from collections.abc import Iterator
from pathlib import Path

from recipecc.common.weights import UnsafeWeights, load_weights
from recipecc.recipe.errors import RecipeError
from recipecc.recipe.protobuf_fields import fields

__all__ = ["IMAGE_SUFFIXES", "check_dataset_root", "check_model_path", "model_files", "paddle_params_file"]

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")  # as passes/data/image_folder.py reads
_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
_TRUST_HINT = (
    "a file you trust: pass model.trusted=true on the command line (never in a shared recipe), "
    "or convert it to a safe format"
)


def _bad(key: str, path: Path, problem: str, valid: str) -> RecipeError:
    return RecipeError(f"{key}: '{path}' {problem}", key=key, value=str(path), valid=valid)


def _protobuf_complete(data: bytes) -> bool:
    """Whether ``data`` walks as a sequence of protobuf fields that ends exactly at the end (not truncated)."""
    try:
        for _ in fields(data):
            pass
    except ValueError:
        return False
    return True


def paddle_params_file(program: Path) -> Path | None:
    """The weights file of a Paddle inference program, found as ``paddle.import`` finds it: ``x.pdmodel`` ->
    ``x.pdiparams``, else the only ``*.pdiparams`` beside it; ``__model__`` -> ``__params__``."""
    if program.name == "__model__":
        legacy = program.with_name("__params__")
        return legacy if legacy.is_file() else None
    params = program.with_suffix(".pdiparams")
    if params.is_file():
        return params
    candidates = sorted(program.parent.glob("*.pdiparams"))
    return candidates[0] if len(candidates) == 1 else None


def model_files(path: Path) -> list[Path]:
    """Every file a model consists of: the file itself, a ``.pdmodel``'s ``.pdiparams``, an ONNX file's
    external data (read from the file's tensor ``location`` entries), or every file of a model folder."""
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.is_file())
    files = [path]
    params = paddle_params_file(path) if path.suffix == ".pdmodel" else None
    if params is not None:
        files.append(params)
    if path.suffix == ".onnx":
        files += _onnx_external_files(path)
    return files


def _onnx_external_files(path: Path) -> list[Path]:
    """External data files named by an ONNX model (``location`` entries) that exist beside it."""
    return sorted({path.parent / name for name in _onnx_locations(path) if (path.parent / name).is_file()})


def _check_onnx_external_data(key: str, path: Path) -> None:
    """External data must stay in the model's folder (a ``location`` of ``../../etc/passwd`` would read any file
    into the model) and exist."""
    folder = path.parent.resolve()
    for name in _onnx_locations(path):
        target = (folder / name).resolve()
        if Path(name).is_absolute() or folder not in target.parents:
            raise _bad(
                key, path, f"names external data outside its folder ({name!r}); refused", "data beside the model"
            )
        if not target.is_file():
            raise _bad(key, path, f"names external data {name!r}, which is missing", "the .onnx with its data files")


def _onnx_locations(path: Path) -> list[str]:
    """``location`` values of an ONNX model's external tensors, found without parsing the model: the key string
    sits next to its value in the protobuf bytes."""
    data = path.read_bytes()
    marker = b"\x0a\x08location\x12"
    found: set[str] = set()
    start = 0
    while (index := data.find(marker, start)) >= 0:
        pos = index + len(marker)
        length = shift = 0
        while pos < len(data):
            byte = data[pos]
            pos += 1
            length |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80 or shift > 28:
                break
        found.add(data[pos : pos + length].decode("utf-8", "replace"))
        start = pos
    return sorted(found)


def _h5_lambda_layers(path: Path) -> list[str]:
    """Names of Lambda layers (marshalled Python bytecode) in a Keras ``.h5`` file's model config."""
    import h5py

    with h5py.File(path, "r") as handle:
        raw = handle.attrs.get("model_config")
    if raw is None:
        return []
    config = json.loads(raw.decode() if isinstance(raw, bytes) else str(raw))

    def walk(node: object) -> Iterator[str]:
        if isinstance(node, dict):
            if node.get("class_name") == "Lambda":
                yield str(node.get("config", {}).get("name", "?"))
            for value in node.values():
                yield from walk(value)
        elif isinstance(node, list):
            for item in node:
                yield from walk(item)

    return list(walk(config))


def _check_model_file(key: str, path: Path, trusted: bool) -> None:
    size = path.stat().st_size
    if size == 0:
        raise _bad(key, path, "is empty (0 bytes)", "a model file")
    suffix = path.suffix.lower()
    head = path.open("rb").read(16)
    if suffix == ".pdparams":
        try:
            load_weights(path)
        except UnsafeWeights as exc:
            if exc.runs_code and trusted:
                return
            hint = _TRUST_HINT if exc.runs_code else "a state dict saved with paddle.save(model.state_dict(), path)"
            raise _bad(key, path, f"is refused: {exc}", hint) from None
    elif suffix in (".onnx", ".pdmodel") or path.name == "__model__":
        if not _protobuf_complete(path.read_bytes()):
            raise _bad(key, path, "is not a complete protobuf model (truncated, or not a model file)", "a model file")
        if suffix == ".onnx":
            _check_onnx_external_data(key, path)
        if suffix != ".onnx" and paddle_params_file(path) is None:
            wanted = "__params__" if path.name == "__model__" else path.with_suffix(".pdiparams").name
            raise _bad(key, path, f"has no weights file beside it ({wanted})", "x.pdmodel + x.pdiparams")
    elif suffix == ".tflite":
        if head[4:8] != b"TFL3":
            raise _bad(key, path, "is not a TFLite flatbuffer (no TFL3 identifier)", "a .tflite model")
    elif suffix == ".keras":
        if not zipfile.is_zipfile(path) or "config.json" not in zipfile.ZipFile(path).namelist():
            raise _bad(key, path, "is not a Keras v3 archive (a zip with config.json)", "a .keras model")
    elif suffix == ".h5":
        if not head.startswith(_HDF5_SIGNATURE):
            raise _bad(key, path, "is not an HDF5 file", "a Keras .h5 model")
        try:
            lambdas = _h5_lambda_layers(path)
        except (OSError, ValueError) as exc:
            raise _bad(key, path, f"cannot be read as a Keras .h5 model ({exc})", "a Keras .h5 model") from None
        if lambdas and not trusted:
            raise _bad(
                key,
                path,
                f"is refused: its Lambda layer(s) {lambdas[:3]} hold Python bytecode that runs when the model loads",
                _TRUST_HINT + " (e.g. rewrite the Lambda as a built-in layer and save as .keras)",
            )


def check_model_path(key: str, value: str, *, trusted: bool) -> None:
    """``model.path`` names a readable model: checks above for a file; a folder must hold model files."""
    path = Path(value).expanduser()
    if path.is_dir():
        files = model_files(path)
        known = [
            f
            for f in files
            if f.suffix in (".pdmodel", ".onnx", ".tflite") or f.name in ("saved_model.pb", "__model__")
        ]
        if not known:
            raise _bad(
                key,
                path,
                "is a folder without a model (no .pdmodel, __model__, .onnx, .tflite or saved_model.pb)",
                "a model file, or a folder holding one",
            )
        for program in (f for f in known if f.suffix == ".pdmodel" or f.name == "__model__"):
            if program.parent == path:
                _check_model_file(key, program, trusted)
        return
    _check_model_file(key, path, trusted)


def check_dataset_root(key: str, value: str) -> None:
    """An image folder holds at least one image (the walk stops at the first one)."""
    root = Path(value).expanduser()
    if not root.is_dir():
        raise _bad(key, root, "is not a folder", "a folder of jpg/png images (sub-folders name the classes)")
    for _, _, names in os.walk(root):
        if any(name.lower().endswith(IMAGE_SUFFIXES) for name in names):
            return
    raise _bad(key, root, f"holds no images ({', '.join(IMAGE_SUFFIXES)})", "a folder of jpg/png images")
