"""Framework-neutral strategy values, resolved per backend before a pipeline plans.

``strategy=int8``, ``fp16``, ``prune`` and ``prune_int8`` work on every backend and on user model files: their
``auto`` values become what each backend does best, and a plan check says what was chosen.

- ``strategy.prune.criterion: auto``: filter pruning by L1 norm where the pipeline builds a Paddle network (the
  filters really go away: fewer FLOPs), weight-magnitude pruning everywhere else (tfmot; ONNX files).
- ``strategy.quant.algo`` (neutral: auto, minmax, percentile, entropy, mse, search) becomes each backend's
  calibration method (``CALIBRATION``): on Paddle ``strategy.quant.paddle.algo`` (auto: below, minmax -> abs_max,
  percentile -> hist, entropy -> KL, mse -> mse); ONNX Runtime's MinMax, Percentile, Entropy (auto: the
  calibration search); on TFLite the converter's min/max, or ai-edge-quantizer with min/max, percentile, MSE or
  entropy ranges (auto: the search for a user's model file, min/max through the converter for built-in architectures).
  ``search`` calibrates with each of the backend's methods, scores every candidate against fp32 and keeps the best
  (ONNX Runtime; Paddle Inference on this machine; TFLite): ``passes/calibration_search.py``. A method a backend
  does not have is a plan error naming the ones it has.
- Paddle's ``auto``: the calibration search for a user's model file on a Paddle Inference target (the issue's case:
  a model recipecc never saw, whose outputs may be dense maps that MinMax-style ranges break); PaddleSlim ``avg``
  for the built-in architectures (their recipes are compared with PaddleX's reference rows and run on every host
  target of the CI matrix: one fixed calibration, no five-way search per run; a Paddle knob pinned in those
  recipes would be refused on their ONNX Runtime and TFLite targets) and on Paddle Lite targets (their int8 does not
  run here, so no candidate can be scored).

Backend knobs live under the backend's own key (``strategy.quant.paddle.*``, ``onnx.*``, ``tflite.*``) and are read
by that backend only: one set on a target whose backend would ignore it is a plan-time error naming the key and
the targets that read it, never a silently ignored setting.
"""

from __future__ import annotations

from dataclasses import fields, replace

from recipecc.plan.builder import PlanBuilder
from recipecc.plan.format_targets import targets_of_backends
from recipecc.recipe.catalog import ARCHITECTURES, Runtime
from recipecc.recipe.errors import RecipeError
from recipecc.recipe.schema import QuantConfig

__all__ = [
    "AUTO",
    "CALIBRATION",
    "SEARCH",
    "SEARCH_TIMED_CANDIDATES",
    "calibration_method",
    "check_backend_knobs",
    "resolve_neutral",
]

AUTO = "auto"
#: the calibration search (``strategy.quant.algo=search``; ``auto`` on ONNX Runtime)
SEARCH = "search"
#: PaddleSlim's calibration for ``algo: auto``
PADDLE_DEFAULT_ALGO = "avg"
#: runtimes whose int8 models the Paddle calibration search runs on this machine (Paddle Inference on the CPU)
PADDLE_SEARCH_RUNTIMES = ("paddle_inference",)
#: calibration candidates a search times (its best-scoring ones, beside fp32); the others are scored only
SEARCH_TIMED_CANDIDATES = 3

#: neutral ``strategy.quant.algo`` -> each backend's own calibration method, in the backend's words
CALIBRATION: dict[str, dict[str, str]] = {
    "paddle": {"minmax": "abs_max", "percentile": "hist", "entropy": "KL", "mse": "mse"},
    "onnx": {"minmax": "MinMax", "percentile": "Percentile", "entropy": "Entropy"},
    "tf": {"minmax": "min/max", "percentile": "percentile", "entropy": "entropy", "mse": "mse"},
}


def _builds_paddle_network(b: PlanBuilder, runtime: Runtime) -> bool:
    model = b.recipe.model
    if runtime.backend == "paddle":
        return True
    if runtime.backend != "onnx" or model.arch == "file":
        return False
    return (model.framework or ARCHITECTURES[model.arch].frameworks[0]) == "paddle"


#: strategy.quant knobs that only some backends read (the others: every backend); the sections are whole backends
_KNOB_BACKENDS = {
    "op_types": ("paddle", "onnx"),
    "exclude_op_types": ("onnx",),
    "exclude_nodes": ("onnx",),
    "weight_per_channel": ("paddle", "onnx"),
    "paddle": ("paddle",),
    "onnx": ("onnx",),
    "tflite": ("tf",),
}
_BACKEND_NAMES = {"paddle": "PaddleSlim / Paddle Inference", "onnx": "ONNX Runtime", "tf": "TFLite"}


def _set_away_from_default(quant: QuantConfig, name: str) -> tuple[str, object, object] | None:
    """``(key under the quant section, value, default)`` of ``name`` (or of its first changed sub-key) if set."""
    value, default = getattr(quant, name), getattr(QuantConfig(), name)
    if value == default:
        return None
    if hasattr(value, "__dataclass_fields__"):
        for sub in fields(value):
            if getattr(value, sub.name) != getattr(default, sub.name):
                return f"{name}.{sub.name}", getattr(value, sub.name), getattr(default, sub.name)
    return name, value, default


def _backend_of(runtime: Runtime) -> str:
    return _BACKEND_NAMES.get(runtime.backend, runtime.backend)


def check_backend_knobs(b: PlanBuilder, runtime: Runtime, quant: QuantConfig, key: str) -> None:
    """Refuse a knob (or a backend's section) set away from its default on a backend that does not read it."""
    for field in fields(QuantConfig):
        owners = _KNOB_BACKENDS.get(field.name)
        changed = _set_away_from_default(quant, field.name) if owners is not None else None
        if owners is None or changed is None or runtime.backend in owners:
            continue
        name, value, default = changed
        readers = " and ".join(_BACKEND_NAMES[o] for o in owners)
        targets = ", ".join(f"target={t}" for t in targets_of_backends(owners))
        raise RecipeError(
            f"{key}.{name} = {value!r} is read by {readers} only; target '{b.recipe.target.name}' runs "
            f"{_backend_of(runtime)}, which would ignore it",
            key=f"{key}.{name}",
            value=value,
            valid=f"leave it at {default!r} here, or {targets or 'a target of that backend'}",
        )
    methods = CALIBRATION.get(runtime.backend)
    if quant.algo == SEARCH and runtime.backend == "paddle" and b.recipe.target.runtime not in PADDLE_SEARCH_RUNTIMES:
        raise RecipeError(
            f"{key}.algo = 'search' scores calibration candidates with Paddle Inference on this machine; target "
            f"'{b.recipe.target.name}' runs {b.recipe.target.runtime}",
            key=f"{key}.algo",
            value=quant.algo,
            valid=[AUTO, *CALIBRATION["paddle"]],
        )
    if quant.algo == SEARCH and runtime.backend in ("paddle", "onnx", "tf"):
        return
    if methods is not None and quant.algo != AUTO and quant.algo not in methods:
        raise RecipeError(
            f"{key}.algo = '{quant.algo}': {_backend_of(runtime)} has no {quant.algo} calibration",
            key=f"{key}.algo",
            value=quant.algo,
            valid=[AUTO, *methods],
        )


def calibration_method(backend: str, algo: str) -> str:
    """The backend's own name for a neutral calibration method (``auto`` stays ``auto``)."""
    return algo if algo == AUTO else CALIBRATION[backend][algo]


def _resolve_paddle_algo(b: PlanBuilder, quant: QuantConfig) -> QuantConfig:
    """``strategy.quant.paddle.algo``: the recipe's PaddleSlim name, or the neutral method mapped to one."""
    own = quant.paddle.algo
    if own != AUTO and quant.algo != AUTO:
        raise RecipeError(
            f"strategy.quant.algo = '{quant.algo}' and strategy.quant.paddle.algo = '{own}' both choose the "
            "calibration: set one",
            key="strategy.quant.paddle.algo",
            value=own,
            valid=f"strategy.quant.algo={AUTO} with paddle.algo={own}, or paddle.algo={AUTO} with algo={quant.algo}",
        )
    if own != AUTO:
        b.check("strategy.quant", "ok", f"calibration: PaddleSlim {own} (strategy.quant.paddle.algo)")
        return quant
    if quant.algo == SEARCH:  # the pipeline plans the calibration search (its plan check says how)
        return replace(quant, paddle=replace(quant.paddle, algo=SEARCH))
    runtime = b.recipe.target.runtime
    if quant.algo == AUTO and b.recipe.model.arch == "file" and runtime in PADDLE_SEARCH_RUNTIMES:
        b.check(
            "strategy.quant",
            "ok",
            "algo auto -> the calibration search: your own model's outputs decide which PaddleSlim calibration "
            "keeps them (abs-max style ranges break dense maps with rare large activations)",
        )
        return replace(quant, paddle=replace(quant.paddle, algo=SEARCH))
    if quant.algo == AUTO:
        algo = PADDLE_DEFAULT_ALGO
        if runtime not in PADDLE_SEARCH_RUNTIMES:
            how = (
                f"algo auto -> PaddleSlim {algo} (mean of the per-batch abs-max): {runtime}'s int8 does not run on "
                "this machine, so calibration candidates cannot be scored here (the search needs Paddle Inference "
                "targets); strategy.quant.algo=minmax|percentile|entropy|mse picks another method"
            )
        else:
            how = (
                f"algo auto -> PaddleSlim {algo} (mean of the per-batch abs-max) for the built-in architecture "
                f"'{b.recipe.model.arch}': a fixed method, the same on every run of the recipes compared with "
                "PaddleX's reference rows, one calibration; strategy.quant.algo=search scores PaddleSlim's five "
                "methods for this model (user model files get that search by default)"
            )
    else:
        algo = CALIBRATION["paddle"][quant.algo]
        how = f"algo {quant.algo} -> PaddleSlim {algo}"
    b.check("strategy.quant", "ok", how)
    return replace(quant, paddle=replace(quant.paddle, algo=algo))


def resolve_neutral(b: PlanBuilder, runtime: Runtime) -> None:
    """Replace ``auto`` values in ``b.recipe`` with the backend's choice and record it as a plan check; refuse
    knobs of another backend."""
    strategy = b.recipe.strategy
    prune, quant = strategy.prune, strategy.quant
    if quant is not None:  # (search candidates: checked by the pipeline that carries the search)
        check_backend_knobs(b, runtime, quant, "strategy.quant")
    if prune is not None and prune.criterion == AUTO:
        criterion = "l1_norm" if _builds_paddle_network(b, runtime) else "magnitude"
        prune = replace(prune, criterion=criterion)
        how = (
            "L1-norm filter pruning (PaddleSlim): whole filters are removed"
            if criterion == "l1_norm"
            else "weight-magnitude pruning (zeros in the weights)"
        )
        b.check("strategy.prune", "ok", f"criterion auto -> {criterion} on {runtime.backend}: {how}")
    if quant is not None and quant.mode == "ptq_static" and runtime.backend == "paddle":
        quant = _resolve_paddle_algo(b, quant)
    b.recipe = replace(b.recipe, strategy=replace(strategy, prune=prune, quant=quant))
