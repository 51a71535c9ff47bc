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


# --- verbs ------------------------------------------------------------------------------------------------


def cmd_show(overrides: list[str]) -> int:
    from dataclasses import asdict

    from omegaconf import OmegaConf

    _stdout.print(OmegaConf.to_yaml(OmegaConf.create(asdict(_load(overrides)))), end="", markup=False)
    return 0


def cmd_export(overrides: list[str]) -> int:
    """The fully resolved recipe as a self-contained YAML file on stdout (``recipecc run --recipe-file`` runs it
    anywhere: no config groups, no search path, the same recipe hash)."""
    from dataclasses import asdict

    from omegaconf import OmegaConf

    from recipecc.plan.planner import recipe_hash

    recipe = _load(overrides)
    header = (
        f"# recipecc recipe '{recipe.name}', fully resolved (recipe hash {recipe_hash(recipe)}).\n"
        f"# Run it anywhere: recipecc run --recipe-file <this file>\n"
    )
    sys.stdout.write(header + OmegaConf.to_yaml(OmegaConf.create(asdict(recipe))))
    return 0


def cmd_plan(overrides: list[str]) -> int:
    from recipecc.engine import check_reachable
    from recipecc.plan import ArtifactCache, build_plan

    recipe = _load(overrides)
    plan = build_plan(recipe)
    check_reachable(plan)  # a device measured over SSH: host down, auth refused, runtime missing -> exit 2
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

    from recipecc.plan.registry import PASSES
    from recipecc.recipe.compose import group_options
    from recipecc.recipe.searchpath import option_files

    files: dict[str, dict[str, Path]] = {}
    for group in ("recipe", "target", "strategy", "model", "dataset"):
        files[group] = {}
        for path in option_files(group):
            files[group].setdefault(path.stem, path)

    def describe(group: str, name: str, *keys: str) -> list[str]:
        path = files[group].get(name)
        data = OmegaConf.load(path) if path else OmegaConf.create()
        return [str(OmegaConf.select(data, key, default="") or "") for key in keys]

    sections: list[tuple[str, list[str], list[list[str]]]] = [
        (
            "recipes",
            ["recipe", "description"],
            [[n, *describe("recipe", n, "description")] for n in group_options("recipe")],
        ),
        (
            "targets",
            ["target", "device", "runtime", "threads", "latency", "description"],
            [
                [
                    n,
                    *describe("target", n, "device", "runtime", "threads"),
                    _latency_source(files["target"][n]) if n in files["target"] else "",
                    *describe("target", n, "description"),
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
                        if n in files["strategy"]
                        and OmegaConf.select(OmegaConf.load(files["strategy"][n]), k) is not None
                    )
                    or "baseline only",
                ]
                for n in group_options("strategy")
            ],
        ),
        (
            "models",
            ["model", "arch"],
            [[n, *describe("model", n, "arch")] for n in group_options("model")],
        ),
        (
            "datasets",
            ["dataset", "name"],
            [[n, *describe("dataset", n, "name")] for n in group_options("dataset")],
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
    from recipecc.report.formatting import human_size, quality, quality_delta, size_change, speed

    results = outcome.results
    threads = sorted({row["threads"] for stage in results["stages"] for row in stage["latency"]})
    table = Table(
        title=results.get("title", f"{results['recipe']} on {results['target']}"),
        title_justify="left",
        header_style="bold",
    )
    metric = results.get("quality_metric", "top1")
    label = results.get("quality_label", metric)
    as_percent = bool(results.get("quality_percent", True))
    p90 = " / p90" if any("p90_ms" in row for stage in results["stages"] for row in stage["latency"]) else ""
    for column in ("stage", label, "size", *[f"{t} thread{'s' if t > 1 else ''} median{p90}" for t in threads]):
        table.add_column(column)
    for index, stage in enumerate(results["stages"]):
        vs = stage["vs_baseline"]
        row = [
            stage["name"],
            "not measurable"
            if "quality_note" in stage
            else quality(stage["metrics"].get(metric), as_percent)
            + ("" if index == 0 else f" ({quality_delta(vs['quality_delta'], as_percent)})"),
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
    if results.get("quality_note"):
        _stdout.print(f"[yellow]{results['quality_note']}[/]")
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


def _sweep_summary(sweep_dir: Path) -> int:
    """Print the sweep's jobs and where its report is; the exit code says whether every job completed."""
    import json

    from recipecc.report.sweep import SWEEP_FILES

    path = sweep_dir / SWEEP_FILES["json"]
    if not path.is_file():
        _console.print(f"[bold red]error:[/] the sweep wrote no report into {sweep_dir}")
        return EXIT_PASS_FAILED
    summary = json.loads(path.read_text())
    table = Table(title=f"sweep {sweep_dir}", title_justify="left", header_style="bold")
    for column in ("#", *summary["swept"], "status", "quality", "size", "pareto"):
        table.add_column(column)
    for job in summary["jobs"]:
        quality = job.get("quality")
        table.add_row(
            str(job["num"]) + (" best" if summary.get("best") is not None and job["num"] == summary["best"] else ""),
            *[job["swept"].get(key, "") for key in summary["swept"]],
            job["status"],
            "" if quality is None else f"{quality * 100:.2f}%",
            "" if job.get("size_bytes") is None else f"{job['size_bytes'] / 1e3:.1f} KB",
            "yes" if job.get("pareto") else "",
        )
    _stdout.print(table)
    _stdout.print(f"sweep report: {sweep_dir / SWEEP_FILES['markdown']}  (sweep.html, sweep.json)")
    return 0 if summary["counts"]["failed"] == 0 else EXIT_PASS_FAILED


def _task(cfg: Any) -> float | None:
    """Hydra's task function: one run, or one job of a multirun (module level, so that launchers that pickle it,
    such as Ray's, send a reference rather than its closure)."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    from recipecc.recipe import validate_recipe
    from recipecc.recipe.compose import describe_replacements

    hydra_cfg = HydraConfig.get()
    describe_replacements(cfg, list(hydra_cfg.overrides.task))
    if hydra_cfg.mode == RunMode.MULTIRUN:
        from recipecc.sweep.task import run_sweep_job

        return run_sweep_job(
            cfg,
            Path(hydra_cfg.runtime.output_dir),
            Path(hydra_cfg.sweep.dir).resolve(),
            int(hydra_cfg.job.num),
            list(hydra_cfg.overrides.task),
            _console,
        )
    try:
        recipe = validate_recipe(cfg)
    except RecipeError as exc:
        _console.print(f"[bold red]error:[/] {escape(str(exc))}", markup=True, highlight=False, soft_wrap=True)
        sys.exit(EXIT_BAD_INPUT)
    _run_one(recipe, Path(hydra_cfg.runtime.output_dir))
    return None


def _run_one(recipe: Any, run_dir: Path) -> Any:
    """Run one validated recipe into ``run_dir`` and print its summary; a failure exits (2: bad input, 1: a pass)."""
    from recipecc.engine import run_recipe
    from recipecc.worker import PassError

    try:
        outcome = run_recipe(recipe, run_dir, _console)
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
    return outcome


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


def _take_flag(args: list[str], flag: str, with_value: bool = True) -> tuple[list[str], str | None]:
    """``args`` without ``flag`` (and its value, also as ``flag=VALUE``), and that value ("" for a bare flag)."""
    rest: list[str] = []
    value: str | None = None
    items = iter(args)
    for arg in items:
        if arg == flag:
            value = (next(items, None) or "") if with_value else ""
            if with_value and not value:
                raise RecipeError(f"{flag} needs a file", key=flag, valid=f"{flag} FILE")
        elif with_value and arg.startswith(flag + "="):
            value = arg.split("=", 1)[1]
        else:
            rest.append(arg)
    return rest, value


def _run_file(recipe_file: str | None, lock_file: str | None, strict: bool, args: list[str]) -> int:
    """``run --recipe-file FILE`` / ``run --lock FILE``: a self-contained recipe, no config groups involved."""
    import datetime as dt

    from recipecc.lock import compare_lock, lock_document, read_lock, write_lock
    from recipecc.plan import build_plan
    from recipecc.recipe.resolved import load_recipe_file, resolved_recipe

    run_dirs = [a.split("=", 1)[1] for a in args if a.startswith("hydra.run.dir=")]
    others = [a for a in args if not a.startswith("hydra.run.dir=")]
    flag = "--lock" if lock_file else "--recipe-file"
    if recipe_file and lock_file:
        raise RecipeError("--recipe-file and --lock name the recipe twice", key=flag, valid="one of them")
    if others:
        raise RecipeError(
            f"{flag} runs the file as it is; got also: {' '.join(others)}",
            key=flag,
            valid="edit the file, or `recipecc export <overrides> > file.yaml` again (only hydra.run.dir=DIR may be "
            "added)",
        )
    problems: list[str] = []
    if lock_file:
        locked = read_lock(Path(lock_file).expanduser())
        recipe = resolved_recipe(locked["recipe"], source=f"lock file {lock_file}")
        problems = compare_lock(locked, lock_document(recipe, build_plan(recipe)))
        for problem in problems:
            _console.print(f"[bold yellow]lock mismatch:[/] {escape(problem)}", soft_wrap=True)
        if problems and strict:
            raise RecipeError(
                f"{len(problems)} difference(s) from {lock_file} (listed above); --strict refuses to run",
                key="--lock",
                value=lock_file,
                valid="the locked versions and inputs, or run without --strict to re-run anyway",
            )
        if not problems:
            _console.print(f"lock {lock_file}: versions, inputs and recipe hash match")
    else:
        assert recipe_file is not None
        recipe = load_recipe_file(recipe_file)
    build_plan(recipe)
    stamp = dt.datetime.now().strftime("%Y-%m-%d_%H-%M-%S")
    run_dir = Path(run_dirs[-1] if run_dirs else f"runs/{recipe.name}/{stamp}")
    outcome = _run_one(recipe, run_dir)
    if lock_file:
        write_lock(run_dir, recipe, outcome.plan, {"relocked_from": {"lock": str(lock_file), "differences": problems}})
    return 0


def _print_config(hydra_args: list[str], overrides: list[str]) -> int | None:
    """``run --cfg job|hydra|all [--resolve]``, answered here: Hydra's own printer fails on ``--cfg hydra
    --resolve`` (run-time values such as ``hydra.job.num`` are not known yet). ``None``: no ``--cfg`` given."""
    from omegaconf import OmegaConf

    which = next((hydra_args[i + 1] for i, a in enumerate(hydra_args[:-1]) if a in ("--cfg", "-c")), None)
    if which is None:
        return None
    if which not in ("job", "hydra", "all"):
        raise RecipeError(f"--cfg {which!r} is not a config part", key="--cfg", value=which, valid="job, hydra, all")
    from hydra import compose

    from recipecc.recipe.compose import PRIMARY_CONFIG, hydra_context

    hydra_overrides = [a for a in hydra_args if not a.startswith("-") and a not in ("job", "hydra", "all")]
    with hydra_context():
        try:
            cfg = compose(
                config_name=PRIMARY_CONFIG, overrides=[*hydra_overrides, *overrides], return_hydra_config=True
            )
        except Exception as exc:
            from recipecc.recipe.compose import translate_error

            raise translate_error(exc) from None
    part: Any = cfg
    if which == "job":
        part = OmegaConf.masked_copy(cfg, [str(k) for k in cfg if k != "hydra"])
    elif which == "hydra":
        part = OmegaConf.masked_copy(cfg, ["hydra"])
    note = ""
    try:
        text = OmegaConf.to_yaml(part, resolve="--resolve" in hydra_args)
    except Exception as exc:  # values only Hydra's run knows (hydra.job.num, hydra.runtime.*)
        text = OmegaConf.to_yaml(part)
        note = f"# shown unresolved: {' '.join(str(exc).split())[:200]} (known only while Hydra runs a job)\n"
    _stdout.print(note + text, end="", markup=False, highlight=False, soft_wrap=True)
    return 0


def cmd_run(args: list[str]) -> int:
    """Validate and plan every job first (exit 2 on a bad recipe), then hand over to Hydra's main."""
    args, recipe_file = _take_flag(args, "--recipe-file")
    args, lock_file = _take_flag(args, "--lock")
    args, strict = _take_flag(args, "--strict", with_value=False)
    if recipe_file is not None or lock_file is not None:
        return _run_file(recipe_file, lock_file, strict is not None, args)
    overrides, hydra_args = _split_argv(args)
    from recipecc.plan import build_plan

    multirun = any(arg in ("-m", "--multirun") for arg in hydra_args)
    search_path = [arg for arg in hydra_args if arg.lstrip("+").startswith("hydra.searchpath=")]
    hydra_overrides = [arg for arg in hydra_args if not arg.startswith("-") and "=" in arg]
    if multirun:
        from recipecc.sweep.expand import plan_sweep

        jobs = [list(job) for job in plan_sweep(overrides, hydra_overrides).jobs]
    else:
        jobs = [overrides]
    for job in jobs:
        build_plan(_load([*search_path, *job]))
    printed = _print_config(hydra_args, [*search_path, *overrides])
    if printed is not None:
        return printed
    from recipecc.recipe.guard import check_output_dir, check_yaml_tree

    # a config folder added with --config-dir is read by Hydra like ours: scanned with the same bounds first
    check_yaml_tree(Path(hydra_args[i + 1]) for i, a in enumerate(hydra_args[:-1]) if a in ("--config-dir", "-cd"))

    for arg in hydra_args:
        key, _, value = arg.lstrip("+").partition("=")
        if key in ("hydra.run.dir", "hydra.sweep.dir", "hydra.sweep.subdir"):
            check_output_dir(key, value)

    import hydra

    from recipecc.paths import recipes_dir
    from recipecc.recipe.compose import register_configs

    register_configs()

    main_fn = hydra.main(config_path=str(recipes_dir()), config_name="config", version_base="1.3")(_task)
    saved = sys.argv
    sys.argv = ["recipecc run", *hydra_args, *overrides]
    try:
        main_fn()
    finally:
        sys.argv = saved
        if multirun:
            _report_stopped_sweep()
    if multirun:
        from recipecc.sweep.callback import last_sweep_dir

        sweep_dir = last_sweep_dir()
        return _sweep_summary(sweep_dir) if sweep_dir is not None else 0
    return 0


def _report_stopped_sweep() -> None:
    """A sweep that stopped before its end (a sweeper's error, Ctrl-C) still gets its report, from the jobs that
    finished; the error itself has been printed by Hydra."""
    from recipecc.sweep.callback import last_sweep_dir, sweep_reported, write_sweep_report

    sweep_dir = last_sweep_dir()
    if sweep_dir is None or sweep_reported(sweep_dir):
        return
    paths = write_sweep_report(sweep_dir, remeasure=False)
    _console.print(f"[bold yellow]the sweep stopped early;[/] report of the jobs that ran: {paths['markdown']}")


def _with_search_path(args: list[str]) -> list[str]:
    """Team folders and packages for every verb: ``--config-dir DIR`` and ``hydra.searchpath=[...]`` join
    ``RECIPECC_PATH`` (checked here, so a missing folder is a clear error), which the search-path plugin reads in
    this process and in every worker or launcher process it starts."""
    from recipecc.recipe.searchpath import add_entries, extract_search_path_args, file_choices, search_path_entries

    rest, entries = extract_search_path_args(args)
    search_path_entries()
    add_entries(entries, "--config-dir / hydra.searchpath")
    return file_choices(rest)


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
            _stdout.print(f"[bold red]corrupt[/] {key}: {escape('; '.join(problems))} (dropped)", soft_wrap=True)
    dropped = " and dropped" if corrupt else ""
    _stdout.print(f"{len(keys)} entries in {cache.root} verified, {corrupt} corrupt{dropped}", soft_wrap=True)
    return 1 if corrupt else 0


VERBS = {
    "run": cmd_run,
    "plan": cmd_plan,
    "show": cmd_show,
    "list": cmd_list,
    "cache": cmd_cache,
    "export": cmd_export,
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="recipecc",
        description="Compile and run model-compression recipes: recipecc run recipe=NAME target=NAME key=value ...",
    )
    parser.add_argument("verb", choices=sorted(VERBS), help="run | plan | show | list | cache | export")
    parser.add_argument("args", nargs=argparse.REMAINDER, help="Hydra overrides (and Hydra flags for run)")
    ns = parser.parse_args(argv)
    from recipecc.recipe.searchpath import ENV_VAR

    saved_path = os.environ.get(ENV_VAR)
    try:
        return VERBS[ns.verb](_with_search_path(list(ns.args)))
    except RecipeError as exc:
        _console.print(f"[bold red]error:[/] {escape(str(exc))}", markup=True, highlight=False, soft_wrap=True)
        return EXIT_BAD_INPUT
    finally:  # the command's folders were for this command only (main() is also called in-process, by tests)
        if saved_path is None:
            os.environ.pop(ENV_VAR, None)
        else:
            os.environ[ENV_VAR] = saved_path


if __name__ == "__main__":
    # run the importable module's main, not this __main__ copy: launchers that pickle the task function (joblib,
    # Ray) send a reference to recipecc.cli._task, which only an importable module allows
    from recipecc.cli import main as _importable_main

    sys.exit(_importable_main())
