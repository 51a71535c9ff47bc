"""The input shape a Keras or TFLite model file declares, read at plan time without importing a framework.

A user's model file says what it takes: a ``.keras`` archive's ``config.json`` and a ``.h5`` file's
``model_config`` name the input layer's batch shape, a ``.tflite`` flatbuffer holds its input tensor's shape
(``tflite_file.read_tflite``). The planner uses it to give the default data the channel count (and, where fixed
and square, the size) the model takes, instead of assuming 1-channel digits and failing at run time. Unreadable or
undeclared: ``None`` (the planner then keeps its conventions and ``model.input_shape`` can say it).
"""

from __future__ import annotations

import json
import logging
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from recipecc.recipe.tflite_file import read_tflite

__all__ = ["declared_input_shape"]

log = logging.getLogger(__name__)

#: a declared shape: None for a dynamic dimension
Shape = list[int | None]


def declared_input_shape(path: str | Path) -> Shape | None:
    """The (first) input shape ``path`` declares, batch dimension included, or None when it declares none."""
    file = Path(path).expanduser()
    suffix = file.suffix.lower()
    try:
        if suffix == ".keras":
            with zipfile.ZipFile(file) as archive:
                return _from_keras_config(json.loads(archive.read("config.json")))
        if suffix == ".h5":
            import h5py

            with h5py.File(file, "r") as handle:
                raw = handle.attrs.get("model_config")
            if raw is None:
                return None
            return _from_keras_config(json.loads(raw.decode() if isinstance(raw, bytes) else raw))
        if suffix == ".tflite":
            facts = read_tflite(file)
            return facts.input_shapes[0] if facts is not None and facts.input_shapes else None
    except (OSError, ValueError, KeyError, IndexError, zipfile.BadZipFile, ImportError) as exc:
        log.debug("cannot read the input shape of %s: %s", file, exc)
    return None


def _input_layers(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        if node.get("class_name") == "InputLayer" and isinstance(node.get("config"), dict):
            yield node["config"]
        for value in node.values():
            yield from _input_layers(value)
    elif isinstance(node, list):
        for item in node:
            yield from _input_layers(item)


def _from_keras_config(config: Any) -> Shape | None:
    """The first InputLayer's batch shape (``batch_shape`` in Keras 3, ``batch_input_shape`` in tf_keras)."""
    for layer in _input_layers(config):
        shape = layer.get("batch_shape") or layer.get("batch_input_shape")
        if isinstance(shape, list) and shape:
            return [int(d) if isinstance(d, int) and d > 0 else None for d in shape]
    return None
