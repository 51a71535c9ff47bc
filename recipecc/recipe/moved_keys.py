"""Recipe keys that moved, and the one message that tells a user exactly what to write instead.

Recipes travel as YAML between teams, so a key renamed in the schema must not become a bare "unknown key": the
message names the new key. Backend-specific quantization knobs moved under the backend's own key
(``strategy.quant.onnx.*``, ``strategy.quant.tflite.*``, ``strategy.quant.paddle.*``), and ``strategy.quant.algo``
speaks framework-neutral words only (PaddleSlim's names live in ``strategy.quant.paddle.algo``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from recipecc.recipe.errors import RecipeError

__all__ = ["MOVED_QUANT_KEYS", "PADDLE_ALGO_AS_NEUTRAL", "moved_key_error", "moved_keys_in", "paddle_algo_error"]

#: old flat strategy.quant key -> its place now (relative to the same quant section)
MOVED_QUANT_KEYS = {
    "format": "onnx.format",
    "activation_type": "onnx.activation_type",
    "weight_type": "onnx.weight_type",
    "io_type": "tflite.io_type",
}

#: PaddleSlim calibration names once accepted by strategy.quant.algo -> the neutral method that maps to them
PADDLE_ALGO_AS_NEUTRAL: dict[str, str | None] = {
    "abs_max": "minmax",
    "hist": "percentile",
    "KL": "entropy",
    "avg": None,
}

_READERS = {"onnx": "ONNX Runtime", "tflite": "TFLite", "paddle": "PaddleSlim"}

#: a quant section: strategy.quant, or one search candidate (OmegaConf writes strategy.search.candidates[0])
_QUANT_SECTION = re.compile(
    r"^(?P<section>strategy\.quant|strategy\.search\.candidates(?:\[\d+\]|\.\d+))\.(?P<key>\w+)$"
)


def moved_key_error(full_key: str, *, quant_list_item: bool = False) -> RecipeError | None:
    """The migration message for ``full_key`` if it is a key that moved, else None (a plain unknown key).

    OmegaConf names a key inside a list item by itself (``format``, not ``strategy.search.candidates[1].format``);
    ``quant_list_item`` says the item is a quant section, i.e. a search candidate.
    """
    bare = full_key.lstrip("+~")
    if quant_list_item and "." not in bare:
        full_key = f"strategy.search.candidates[N].{bare}"
        bare = f"strategy.search.candidates[0].{bare}"
    match = _QUANT_SECTION.match(bare)
    if match is None or match["key"] not in MOVED_QUANT_KEYS:
        return None
    section = full_key.rsplit(".", 1)[0].lstrip("+~")
    new = f"{section}.{MOVED_QUANT_KEYS[match['key']]}"
    backend = new.split(".")[-2]
    return RecipeError(
        f"{full_key} moved to {new}: backend-specific quantization knobs live under the backend's own key "
        f"({section}.{backend}.*), read by {_READERS[backend]} only",
        key=full_key,
        valid=f"{new}=... (in a YAML file: {backend}: {{{match['key']}: ...}} under the quant section)",
    )


def paddle_algo_error(key: str, algo: str) -> RecipeError | None:
    """``strategy.quant.algo=KL``: a PaddleSlim name where only neutral methods are read; say where it goes now."""
    if algo not in PADDLE_ALGO_AS_NEUTRAL:
        return None
    section = key.rsplit(".", 1)[0]
    neutral = PADDLE_ALGO_AS_NEUTRAL[algo]
    alternative = f", or {key}={neutral} (every backend; {algo} on Paddle)" if neutral else ""
    return RecipeError(
        f"{key} = '{algo}' is PaddleSlim's name; {key} takes framework-neutral methods, PaddleSlim's names "
        f"moved to {section}.paddle.algo",
        key=key,
        value=algo,
        valid=f"{section}.paddle.algo={algo} (Paddle targets){alternative}",
    )


def _quant_sections(data: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    strategy = data.get("strategy")
    if not isinstance(strategy, Mapping):
        return
    if isinstance(strategy.get("quant"), Mapping):
        yield "strategy.quant", strategy["quant"]
    search = strategy.get("search")
    candidates = search.get("candidates") if isinstance(search, Mapping) else None
    for index, candidate in enumerate(candidates if isinstance(candidates, list) else []):
        if isinstance(candidate, Mapping):
            yield f"strategy.search.candidates[{index}]", candidate


def moved_keys_in(data: Mapping[str, Any], source: str) -> RecipeError | None:
    """Every moved key of a whole resolved recipe (``recipecc export``, ``run.lock``) in one message, or None.

    A file written by ``recipecc export`` before the move holds all of them (with their default values), so naming
    only the first would make the user edit and re-run once per key.
    """
    moves = [
        f"{section}.{key} -> {section}.{MOVED_QUANT_KEYS[key]}"
        for section, quant in _quant_sections(data)
        for key in quant
        if key in MOVED_QUANT_KEYS
    ]
    if not moves:
        return None
    return RecipeError(
        f"{source}: {len(moves)} key(s) moved under the backend's own key: {'; '.join(moves)}",
        key=moves[0].split(" -> ")[0],
        valid="the new keys (values unchanged), or `recipecc export` the recipe again",
    )
