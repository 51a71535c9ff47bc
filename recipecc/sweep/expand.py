"""The jobs of a multirun, listed before the first one starts, so every one of them is validated and planned.

Hydra's basic sweeper runs the cartesian product of the command line's sweeps (``key=a,b``, ``choice(...)``,
``range(...)``, ``glob(...)``): :func:`sweep_jobs` lists exactly those jobs, in the same order. Sweepers that
sample (Optuna) cannot list their trials in advance, but their search space can be checked: every discrete value
and both ends of every ``interval(...)``, each with the other dimensions at their first value. This uses Hydra's
public override parser; it never goes through a sweeper's private code.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["SweepPlan", "SweepSpace", "parse_sweep", "plan_sweep", "sweep_jobs"]

log = logging.getLogger(__name__)

#: above this many grid points, a sampling sweeper's space is checked one dimension at a time
_FULL_GRID_LIMIT = 64


@dataclass(frozen=True)
class SweepSpace:
    """The command line's overrides split into fixed ones and swept dimensions (``key`` -> candidate values)."""

    fixed: tuple[str, ...]
    #: key (with its ``+``/``~`` prefix) -> the values to run (discrete) or to check (interval ends)
    dimensions: tuple[tuple[str, tuple[str, ...]], ...]
    #: keys swept with ``interval(...)``: only a sampling sweeper can run them
    intervals: tuple[str, ...]

    def grid(self) -> list[list[str]]:
        """Every combination, in Hydra's basic sweeper's order (the first key varies slowest)."""
        keys = [key for key, _ in self.dimensions]
        combos = itertools.product(*(values for _, values in self.dimensions))
        return [[*self.fixed, *(f"{k}={v}" for k, v in zip(keys, combo, strict=True))] for combo in combos] or [
            list(self.fixed)
        ]

    def corners(self) -> list[list[str]]:
        """Each dimension's values with the others at their first value (a sampling sweeper's space, checked)."""
        first = {key: values[0] for key, values in self.dimensions}
        jobs: list[list[str]] = []
        seen: set[tuple[str, ...]] = set()
        for key, values in self.dimensions or (("", ("",)),):
            for value in values:
                chosen = {**first, key: value} if key else first
                job = [*self.fixed, *(f"{k}={v}" for k, v in chosen.items())]
                if tuple(job) not in seen:
                    seen.add(tuple(job))
                    jobs.append(job)
        return jobs


def parse_sweep(overrides: Sequence[str]) -> SweepSpace:
    """Parse the recipe overrides of a multirun (``hydra.*`` ones excluded) into a :class:`SweepSpace`."""
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.core.override_parser.types import IntervalSweep

    from recipecc.recipe.compose import hydra_context, translate_error

    fixed: list[str] = []
    dimensions: list[tuple[str, tuple[str, ...]]] = []
    intervals: list[str] = []
    with hydra_context():
        parser = OverridesParser.create(config_loader=GlobalHydra.instance().config_loader())
        try:
            parsed = parser.parse_overrides(list(overrides))
        except Exception as exc:
            raise translate_error(exc) from None
        for override, text in zip(parsed, overrides, strict=True):
            key = override.get_key_element()
            if not override.is_sweep_override():
                fixed.append(text)
                continue
            value = override.value()
            if isinstance(value, IntervalSweep):
                intervals.append(key)
                dimensions.append((key, (_number(value.start), _number(value.end))))
            else:
                dimensions.append((key, tuple(override.sweep_string_iterator())))
    return SweepSpace(tuple(fixed), tuple(dimensions), tuple(intervals))


def _number(value: float | None) -> str:
    return str(value)


def sweep_jobs(overrides: Sequence[str], sampling: bool) -> list[list[str]]:
    """The override lists to validate before a multirun starts.

    ``sampling``: the sweeper picks its trials itself (Optuna): its space is checked instead of listed, in full
    when it is small. A basic sweep with ``interval(...)`` is refused: only a sampling sweeper can run it.
    """
    from recipecc.recipe.errors import RecipeError

    space = parse_sweep(overrides)
    if space.intervals and not sampling:
        raise RecipeError(
            f"'{space.intervals[0]}' is swept with interval(...), which Hydra's basic sweeper cannot enumerate",
            key=space.intervals[0],
            valid="a list (a,b,c), choice(...), range(start,stop,step), or a sampling sweeper: hydra/sweeper=optuna",
        )
    if not sampling:
        return space.grid()
    size = 1
    for _, values in space.dimensions:
        size *= len(values)
    return space.grid() if size <= _FULL_GRID_LIMIT else space.corners()


@dataclass(frozen=True)
class SweepPlan:
    """What ``recipecc run -m`` will do, known before the first job: the sweeper and the jobs to validate."""

    sweeper: str
    sampling: bool
    jobs: tuple[tuple[str, ...], ...]


_BASIC_SWEEPER = "hydra._internal.core_plugins.basic_sweeper.BasicSweeper"


def plan_sweep(overrides: Sequence[str], hydra_overrides: Sequence[str]) -> SweepPlan:
    """Read the sweeper Hydra will use (``hydra/sweeper=optuna``, or one a recipe selects) and its ``params``,
    and list the jobs to validate up front (:func:`sweep_jobs`)."""
    from hydra import compose
    from omegaconf import OmegaConf

    from recipecc.recipe.compose import PRIMARY_CONFIG, hydra_context, translate_error
    from recipecc.recipe.errors import RecipeError

    space = parse_sweep(overrides)
    first = [*space.fixed, *(f"{key}={values[0]}" for key, values in space.dimensions)]
    with hydra_context():
        try:
            cfg = compose(PRIMARY_CONFIG, overrides=[*first, *hydra_overrides], return_hydra_config=True)
        except Exception as exc:
            raise translate_error(exc) from None
    sweeper_cfg = cfg.hydra.sweeper
    target = str(sweeper_cfg.get("_target_", _BASIC_SWEEPER))
    sampling = target != _BASIC_SWEEPER
    params = OmegaConf.to_container(sweeper_cfg.params) if sweeper_cfg.get("params") else {}
    from_config = [f"{key!s}={value}" for key, value in params.items()] if isinstance(params, dict) else []
    jobs = sweep_jobs([*from_config, *overrides], sampling)
    if sampling:
        direction = str(sweeper_cfg.get("direction", "minimize")).rsplit(".", 1)[-1]
        if OmegaConf.select(cfg, "objective.measure", default=None) is None:
            raise RecipeError(
                f"the sweeper {target.rsplit('.', 1)[-1]} needs an objective to optimise, and this recipe has none",
                key="objective",
                valid="e.g. objective.measure=latency objective.threads=1 objective.max_drop=0.01 "
                "(or an objective: section in the recipe)",
            )
        if direction not in ("minimize", "Direction.minimize", "1"):
            raise RecipeError(
                f"hydra.sweeper.direction = {direction}: recipecc returns a loss to minimise",
                key="hydra.sweeper.direction",
                value=direction,
                valid="minimize (set objective.direction=maximize to maximise the measure)",
            )
    return SweepPlan(target, sampling, tuple(tuple(job) for job in jobs))
