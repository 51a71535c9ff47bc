"""The ``recipecc`` command: thin verbs over functions the tests call too.

``run`` goes through Hydra's main (multirun ``-m``, ``--cfg job``, ``hydra.run.dir=...``); ``plan``, ``show`` and
``list`` use the compose API and never import a framework. A bad recipe is reported the same way by every verb:
one message, exit code 2, no traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from recipecc.recipe.errors import EXIT_BAD_INPUT, RecipeError

__all__ = ["main"]

EXIT_PASS_FAILED = 1
#: Hydra flags that take a value (kept out of the overrides that recipecc validates itself)
_HYDRA_FLAGS_WITH_VALUE = {"--cfg", "-c", "--package", "-p", "--config-dir", "-cd", "--info", "--experimental-rerun"}

_console = Console(stderr=True, highlight=False)
_stdout = Console(highlight=False)


def _split_argv(args: Sequence[str]) -> tuple[list[str], list[str]]:
    """Separate recipe overrides (validated by recipecc) from Hydra's own flags and ``hydra.*`` overrides."""
    overrides: list[str] = []
    hydra_args: list[str] = []
    expect_value = False
    for arg in args:
        if expect_value:
            hydra_args.append(arg)
            expect_value = False
        elif arg.startswith("-"):
            hydra_args.append(arg)
            expect_value = arg in _HYDRA_FLAGS_WITH_VALUE
        elif arg.lstrip("+~").startswith(("hydra.", "hydra/", "hydra=")):
            hydra_args.append(arg)
        else:
            overrides.append(arg)
    return overrides, hydra_args


def _load(overrides: Sequence[str]) -> Any:
    from recipecc.recipe import compose_recipe, validate_recipe

    return validate_recipe(compose_recipe(overrides))


def _expand_sweeps(overrides: list[str]) -> list[list[str]]:
    """Every job of a multirun (``key=a,b``), to validate and plan them all before the first one starts."""
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
    from hydra.core.override_parser.overrides_parser import OverridesParser

    from recipecc.recipe.compose import translate_error

    try:
        parsed = OverridesParser.create().parse_overrides(overrides)
        batches = BasicSweeper.split_arguments(parsed, max_batch_size=None)
    except Exception as exc:
        raise translate_error(exc) from None
    return [list(job) for batch in batches for job in batch] or [[]]


# --- verbs ------------------------------------------------------------------------------------------------


def cmd_show(overrides: list[str]) -> int:
    from dataclasses import asdict

    from omegaconf import OmegaConf

    _stdout.print(OmegaConf.to_yaml(OmegaConf.create(asdict(_load(overrides)))), end="", markup=False)
    return 0


def cmd_plan(overrides: list[str]) -> int:
    from recipecc.plan import ArtifactCache, build_plan

    recipe = _load(overrides)
    plan = build_plan(recipe)
    cache = ArtifactCache(plan.cache_root)
    _stdout.print(
        f"[bold]plan[/] {plan.recipe_name} on {plan.target_name} · recipe hash {plan.recipe_hash}\n"
        f"cache {plan.cache_root}"
    )
    from recipecc.plan.registry import PASSES

    for index, node in enumerate(plan.nodes, 1):
        status = "[green]cached[/]" if cache.has(node.key) else "[yellow]to run[/]"
        if cache.has(node.key) and cache.verify(node.key):
            status = "[bold red]corrupt: rebuilt by the next run[/]"
        inputs = ", ".join(f"{k}<-{v}" for k, v in node.inputs.items())
        _stdout.print(
            f"{index:>3}. [bold]{node.id:<18}[/] {node.pass_name:<18} {PASSES[node.pass_name].backend:<7} "
            f"key {node.key[:12]}  {status}" + (f"  [dim]({inputs})[/]" if inputs else "")
        )
        params = " ".join(f"{k}={v}" for k, v in node.params.items())
        _stdout.print(f"       [dim]{params}[/]", markup=True, soft_wrap=False)
    bench_inputs = ", ".join(n.id for n in plan.bench_nodes)
    _stdout.print(
        f"{len(plan.nodes) + 1:>3}. [bold]{'report':<18}[/] {'report.render':<18} {'local':<7} "
        f"[dim]always rendered[/]  [dim]({bench_inputs})[/]"
    )
    _stdout.print("       [dim]results.json, report.md, report.html into the run directory[/]")
    _stdout.print("[bold]legality and environment checks[/]")
    marks = {"ok": "[green]ok[/]", "warn": "[yellow]warn[/]", "skip": "[dim]skip[/]"}
    for check in plan.checks:
        _stdout.print(f"  {marks.get(check.status, check.status)} {check.name}: {check.detail}")
    return 0


def _latency_source(path: Path) -> str:
    """Where a shipped target's latency comes from here (``auto`` resolved: measured-host or estimated)."""
    from omegaconf import OmegaConf

    from recipecc.recipe.errors import RecipeError
    from recipecc.recipe.schema import TargetConfig
    from recipecc.recipe.targets import resolve_target

    try:
        target = OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(TargetConfig), OmegaConf.load(path)))
        assert isinstance(target, TargetConfig)
        return resolve_target(target).measurer
    except RecipeError as exc:
        return f"invalid: {exc}"


def cmd_list(_: list[str]) -> int:
    from omegaconf import OmegaConf

    from recipecc.paths import recipes_dir, targets_dir
    from recipecc.plan.registry import PASSES
    from recipecc.recipe.compose import group_options

    def describe(folder: Path, name: str, *keys: str) -> list[str]:
        data = OmegaConf.load(folder / f"{name}.yaml")
        return [str(OmegaConf.select(data, key, default="") or "") for key in keys]

    sections: list[tuple[str, list[str], list[list[str]]]] = [
        (
            "recipes",
            ["recipe", "description"],
            [[n, *describe(recipes_dir() / "recipe", n, "description")] for n in group_options("recipe")],
        ),
        (
            "targets",
            ["target", "device", "runtime", "threads", "latency", "description"],
            [
                [
                    n,
                    *describe(targets_dir(), n, "device", "runtime", "threads"),
                    _latency_source(targets_dir() / f"{n}.yaml"),
                    *describe(targets_dir(), n, "description"),
                ]
                for n in group_options("target")
            ],
        ),
        (
            "strategies",
            ["strategy", "steps"],
            [
                [
                    n,
                    ", ".join(
                        k
                        for k in ("prune", "finetune", "quant")
                        if OmegaConf.select(OmegaConf.load(recipes_dir() / "strategy" / f"{n}.yaml"), k) is not None
                    )
                    or "baseline only",
                ]
                for n in group_options("strategy")
            ],
        ),
        (
            "models",
            ["model", "arch"],
            [[n, *describe(recipes_dir() / "model", n, "arch")] for n in group_options("model")],
        ),
        (
            "datasets",
            ["dataset", "name"],
            [[n, *describe(recipes_dir() / "dataset", n, "name")] for n in group_options("dataset")],
        ),
        (
            "passes",
            ["pass", "backend", "produces", "description"],
            [[s.name, s.backend, s.produces, s.description] for s in PASSES.values()],
        ),
    ]
    for title, columns, rows in sections:
        table = Table(title=title, title_justify="left", title_style="bold", header_style="bold")
        for column in columns:
            table.add_column(column, overflow="fold")
        for row in rows:
            table.add_row(*row)
        _stdout.print(table)
    return 0


def _summary(outcome: Any) -> None:
    from recipecc.report.formatting import human_size, percent, signed_points, size_change, speed

    results = outcome.results
    threads = sorted({row["threads"] for stage in results["stages"] for row in stage["latency"]})
    table = Table(
        title=results.get("title", f"{results['recipe']} on {results['target']}"),
        title_justify="left",
        header_style="bold",
    )
    metric = results.get("quality_metric", "top1")
    quality = "top-1" if metric == "top1" else f"{metric} vs baseline"
    p90 = " / p90" if any("p90_ms" in row for stage in results["stages"] for row in stage["latency"]) else ""
    for column in ("stage", quality, "size", *[f"{t} thread{'s' if t > 1 else ''} median{p90}" for t in threads]):
        table.add_column(column)
    for index, stage in enumerate(results["stages"]):
        vs = stage["vs_baseline"]
        row = [
            stage["name"],
            percent(stage["metrics"].get(metric)) + ("" if index == 0 else f" ({signed_points(vs['quality_delta'])})"),
            human_size(stage["size_bytes"]) + ("" if index == 0 else f" ({size_change(vs['size_ratio'])})"),
        ]
        for t in threads:
            lat = next(r for r in stage["latency"] if r["threads"] == t)
            cell = f"{lat['median_ms']:.3f}" + (f" / {lat['p90_ms']:.3f}" if "p90_ms" in lat else "") + " ms"
            cell += f" [dim]{lat['source']}[/]"
            if index:
                sp = vs["speedup"][str(t)]
                cell += f" [{'green' if sp >= 1 else 'bold red'}]{speed(sp)}[/]"
            row.append(cell)
        table.add_row(*row)
    first = results["stages"][0]["latency"][0]
    _stdout.print(table)
    _reference_lines(results)
    if first["source"] == "estimated":
        error = first["estimator"]["fit_error"]
        how = (
            f"estimator v{first['estimator']['version']}, calibration {first['estimator']['calibration_sha256'][:12]}, "
            f"fit error on {error['scope']}: median {error.get('median_abs_pct')}%"
        )
    else:
        how = (
            f"{first['runtime']}, batch {first['batch_size']}, "
            f"{first['warmup']} warmup + {first['repeats']} timed calls"
        )
    _stdout.print(
        f"latency {first['source']}: {how} · {len(outcome.executed)} pass(es) ran, {len(outcome.cached)} cached"
    )
    _stdout.print(f"report: {outcome.reports['markdown']}  ({outcome.reports['html'].name}, results.json)")


def _reference_lines(results: dict[str, Any]) -> None:
    """Published figures for this device and model, printed beside the run's own and labelled as the reference."""
    table = results.get("latency_table") or {}
    reference = table.get("reference")
    if not reference:
        return
    for row in reference["rows"]:
        ours = next((r for r in table["rows"] if r["stage"] == row["stage"]), None)
        published = " / ".join(f"{c['median_ms']:.2f}" for c in row["cells"])
        mine = " / ".join(f"{c['median_ms']:.2f}" for c in ours["cells"]) if ours else "-"
        threads = "/".join(f"t{c['threads']}" for c in row["cells"])
        source = ours["cells"][0]["source"] if ours else ""
        _stdout.print(
            f"{row['stage']} {threads} on {table['device']} {table.get('abi') or ''}: {mine} ms ({source}) · "
            f"reference {published} ms (published, not measured here)"
        )


def cmd_run(args: list[str]) -> int:
    """Validate and plan every job first (exit 2 on a bad recipe), then hand over to Hydra's main."""
    overrides, hydra_args = _split_argv(args)
    from recipecc.plan import build_plan

    multirun = any(arg in ("-m", "--multirun") for arg in hydra_args)
    search_path = [arg for arg in hydra_args if arg.lstrip("+").startswith("hydra.searchpath=")]
    for job in _expand_sweeps(overrides) if multirun else [overrides]:
        build_plan(_load([*search_path, *job]))

    import hydra
    from hydra.core.hydra_config import HydraConfig
    from omegaconf import DictConfig

    from recipecc.paths import recipes_dir
    from recipecc.recipe.compose import register_configs

    register_configs()

    def task(cfg: DictConfig) -> None:
        from recipecc.engine import run_recipe
        from recipecc.recipe import validate_recipe
        from recipecc.worker import PassError

        try:
            recipe = validate_recipe(cfg)
            outcome = run_recipe(recipe, Path(HydraConfig.get().runtime.output_dir), _console)
        except RecipeError as exc:
            _console.print(f"[bold red]error:[/] {escape(str(exc))}", markup=True, highlight=False, soft_wrap=True)
            sys.exit(EXIT_BAD_INPUT)
        except PassError as exc:
            _console.print(f"[bold red]error:[/] {escape(str(exc))}", soft_wrap=True)
            if os.environ.get("RECIPECC_VERBOSE") and exc.detail:
                _console.print(exc.detail, markup=False)
            else:
                _console.print("(set RECIPECC_VERBOSE=1 for the worker's traceback)")
            sys.exit(EXIT_PASS_FAILED)
        _summary(outcome)

    main_fn = hydra.main(config_path=str(recipes_dir()), config_name="config", version_base="1.3")(task)
    saved = sys.argv
    sys.argv = ["recipecc run", *hydra_args, *overrides]
    try:
        main_fn()
    finally:
        sys.argv = saved
    return 0


def cmd_cache(args: list[str]) -> int:
    """``recipecc cache verify [cache_dir=PATH]``: re-hash every entry, drop the corrupt ones (exit 1 if any)."""
    from recipecc.paths import cache_root
    from recipecc.plan import ArtifactCache

    action = args[0] if args else ""
    rest = dict(arg.split("=", 1) for arg in args[1:] if "=" in arg)
    unknown = [arg for arg in args[1:] if not arg.startswith("cache_dir=")]
    if action != "verify" or unknown:
        raise RecipeError(
            f"unknown cache command: {' '.join(args) or '(none)'}", key="cache", valid="cache verify [cache_dir=PATH]"
        )
    cache = ArtifactCache(cache_root(rest.get("cache_dir")))
    keys = cache.keys()
    corrupt = 0
    for key in keys:
        problems = cache.verify(key, full=True)
        if problems:
            corrupt += 1
            cache.drop(key)
            _stdout.print(f"[bold red]corrupt[/] {key}: {escape('; '.join(problems))} (dropped)")
    _stdout.print(
        f"{len(keys)} entries in {cache.root} verified, {corrupt} corrupt" + (" and dropped" if corrupt else "")
    )
    return 1 if corrupt else 0


VERBS = {"run": cmd_run, "plan": cmd_plan, "show": cmd_show, "list": cmd_list, "cache": cmd_cache}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="recipecc",
        description="Compile and run model-compression recipes: recipecc run recipe=NAME target=NAME key=value ...",
    )
    parser.add_argument("verb", choices=sorted(VERBS), help="run | plan | show | list | cache")
    parser.add_argument("args", nargs=argparse.REMAINDER, help="Hydra overrides (and Hydra flags for run)")
    ns = parser.parse_args(argv)
    try:
        return VERBS[ns.verb](list(ns.args))
    except RecipeError as exc:
        _console.print(f"[bold red]error:[/] {escape(str(exc))}", markup=True, highlight=False, soft_wrap=True)
        return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
