"""Pickled weights (``.pdparams``) read without running code.

``paddle.load`` is ``pickle.load``: a ``.pdparams`` file from someone else can run any code the moment it is read.
A Paddle state dict only needs arrays in a dict, so it is read here with an unpickler that resolves nothing but
numpy's array reconstruction (the same few globals ``paddle.save`` writes); anything else is refused before it is
called, with the way out (``model.trusted=true`` on the command line, or re-save the weights as a plain state
dict). This module imports numpy only, so the planner checks a file at plan time with the same code the worker
uses to load it.
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["ALLOWED_GLOBALS", "UnsafeWeights", "load_weights"]

#: what ``paddle.save(layer.state_dict())`` pickles: numpy arrays (numpy 1.x and 2.x paths), dtypes, containers
ALLOWED_GLOBALS = frozenset(
    {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("collections", "OrderedDict"),
        ("builtins", "tuple"),
    }
)
#: paddle.save's bookkeeping entry (structured name -> parameter name), not a weight
_NAME_TABLE = "StructuredToParameterName@@"


class UnsafeWeights(ValueError):
    """A weights file that is not a plain pickled dict of arrays (or not a complete pickle at all).

    ``runs_code``: the pickle would call something (the refusal a trusted file may override).
    """

    def __init__(self, message: str, *, runs_code: bool = False) -> None:
        super().__init__(message)
        self.runs_code = runs_code


class _ArraysOnly(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in ALLOWED_GLOBALS:
            return super().find_class(module, name)
        raise UnsafeWeights(
            f"it references {module}.{name}, which a plain state dict of arrays never does (loading it would "
            "call that code)",
            runs_code=True,
        )

    def persistent_load(self, pid: Any) -> Any:
        raise UnsafeWeights(
            "it uses pickle persistent ids, which a plain state dict of arrays never does", runs_code=True
        )


def _as_array(name: str, value: Any) -> np.ndarray[Any, Any]:
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[1], np.ndarray):
        value = value[1]  # paddle.save of a Tensor outside a state dict: (name, array)
    if not isinstance(value, np.ndarray) or value.dtype.hasobject:
        raise UnsafeWeights(f"entry '{name}' is a {type(value).__name__}, not a numeric array")
    return value


def load_weights(path: str | Path) -> dict[str, np.ndarray[Any, Any]]:
    """The state dict in a ``.pdparams`` file, as numpy arrays; :class:`UnsafeWeights` if it holds anything else.

    Also refuses what would fail later with a worse message: an empty file, a file that is not a pickle, a
    truncated pickle.
    """
    data = Path(path).read_bytes()
    if not data:
        raise UnsafeWeights("the file is empty (0 bytes)")
    if data[:1] != b"\x80":
        raise UnsafeWeights("it is not a pickled state dict (no pickle protocol header)")
    if data[-1:] != b".":
        raise UnsafeWeights("it is truncated (the pickle does not end)")
    try:
        loaded = _ArraysOnly(io.BytesIO(data)).load()
    except UnsafeWeights:
        raise
    except Exception as exc:  # a corrupt pickle raises many types
        raise UnsafeWeights(f"it cannot be read as a pickle ({type(exc).__name__}: {exc})") from None
    if not isinstance(loaded, dict):
        raise UnsafeWeights(f"it holds a {type(loaded).__name__}, not a state dict")
    return {str(name): _as_array(str(name), value) for name, value in loaded.items() if name != _NAME_TABLE}
