"""Execute a plan: run each pass in its backend's worker (or take it from the cache), then benchmark and report.

This is the only module that sees every stage; the CLI and the tests call :func:`run_recipe`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout
from rich.console import Console
from rich.markup import escape

from recipecc.bench.results import assemble_results
from recipecc.deliver import deliver_evaluation_files, deliver_models
from recipecc.passes.base import PassContext
from recipecc.plan import ArtifactCache, Plan, build_plan
from recipecc.plan.registry import BACKEND_EXTRAS, BACKEND_MODULES, PASSES
from recipecc.recipe.errors import RecipeError
from recipecc.recipe.schema import RecipeConfig
from recipecc.worker import BackendWorkers, PassError

__all__ = ["RunOutcome", "check_reachable", "execute_plan", "run_recipe"]

log = logging.getLogger(__name__)


@dataclass
class RunOutcome:
    plan: Plan
    results: dict[str, Any]
    run_dir: Path
    reports: dict[str, Path]
    executed: list[str] = field(default_factory=list)
    cached: list[str] = field(default_factory=list)


def check_reachable(plan: Plan) -> None:
    """A quick probe of a remote device before anything runs: host down, authentication refused, unknown host
    key or runtime missing there become one :class:`RecipeError` (exit 2), not a failure halfway through."""
    remote = next((n for n in plan.bench_nodes if n.params.get("measurer") == "measured-remote"), None)
    if remote is None:
        return
    from importlib.util import find_spec

    if find_spec("asyncssh") is None:
        raise RecipeError(
            "measuring over SSH needs asyncssh: pip install -e '.[remote]'",
            key="target.ssh.host",
            value=remote.params["ssh"]["host"],
        )
    from recipecc.bench.remote import RemoteError, probe

    try:
        probe(remote.params["ssh"])
    except RemoteError as exc:
        raise RecipeError(str(exc), key="target.ssh.host", value=remote.params["ssh"]["host"]) from None


def _missing_backend(backend: str) -> str | None:
    """Whether a backend's modules can be found (``find_spec`` imports nothing)."""
    from importlib.util import find_spec

    missing = [name for name in BACKEND_MODULES.get(backend, ()) if find_spec(name) is None]
    if missing:
        return f"the {backend} backend ({', '.join(missing)} missing): pip install -e '.[{BACKEND_EXTRAS[backend]}]'"
    return None


@contextmanager
def _holding(lock: FileLock, label: str, console: Console, meanwhile: Callable[[], None]) -> Iterator[None]:
    try:
        lock.acquire(timeout=0)
    except Timeout:
        console.print(f"{label} [yellow]waiting[/] for another run that is computing it")
        meanwhile()
        lock.acquire()
    try:
        yield
    finally:
        lock.release()


def _drop_if_corrupt(cache: ArtifactCache, key: str, label: str, console: Console) -> list[str]:
    """Verify a cached entry before it is reused; a corrupt one is dropped (and so rebuilt). Returns the faults."""
    if not cache.has(key):
        return []
    problems = cache.verify(key)
    if problems:
        more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
        console.print(
            f"{label} [bold red]corrupt cache entry[/] {key[:12]}: {escape(problems[0])}{more}; dropped, rebuilding"
        )
        log.warning("corrupt cache entry %s dropped: %s", key, "; ".join(problems))
        cache.drop(key)
    return problems


def execute_plan(
    plan: Plan, console: Console | None = None, workers: BackendWorkers | None = None
) -> tuple[dict[str, dict[str, Any]], list[dict[str, Any]]]:
    """Run (or fetch from the cache) every node; returns each node's artifact metadata and the pass log.

    ``workers``: backend worker processes to reuse (a caller running many recipes keeps the frameworks imported);
    by default the run starts its own and closes them at the end."""
    console = console or Console(stderr=True)
    cache = ArtifactCache(plan.cache_root)
    cache.root.mkdir(parents=True, exist_ok=True)
    for stale in cache.clean_stale():
        log.info("removed an unfinished artifact of an interrupted run: %s", stale)
    outputs: dict[str, dict[str, Any]] = {}
    pass_log: list[dict[str, Any]] = []
    failed: dict[str, str] = {}
    # Stages are compared with each other, so they are measured under the same conditions: when any benchmark
    # must run, every benchmark of the plan runs again (a fully cached plan measures nothing).
    measure_together = any(not cache.has(node.key) or cache.verify(node.key) for node in plan.bench_nodes)
    started = time.time()
    total = len(plan.nodes)
    with BackendWorkers() if workers is None else nullcontext(workers) as workers:

        def warm_own_workers(after: int) -> None:
            """While another run computes a shared entry, start the workers of the passes after it that are not
            cached (in a sweep, this job's own stages), so their framework imports overlap the wait."""
            for later in plan.nodes[after:]:
                spec = PASSES[later.pass_name]
                if not cache.has(later.key) and _missing_backend(spec.backend) is None:
                    workers.warm(spec.backend, spec.entry)

        for index, node in enumerate(plan.nodes, 1):
            spec = PASSES[node.pass_name]
            label = f"[{index}/{total}] {node.id:<18} {node.pass_name:<16}"
            broken = [src for src in node.inputs.values() if src in failed]
            if broken:
                failed[node.id] = f"skipped: its input '{broken[0]}' failed"
                console.print(f"{label} [red]skipped[/] ({failed[node.id]})")
                pass_log.append(
                    {
                        "node": node.id,
                        "pass": node.pass_name,
                        "key": node.key,
                        "cached": False,
                        "failed": failed[node.id],
                    }
                )
                continue
            # one run computes an entry, another run of the same key waits and then takes it from the cache
            with _holding(cache.lock(node.key), label, console, partial(warm_own_workers, index)):
                rebuilt = _drop_if_corrupt(cache, node.key, label, console)
                # (an entry another run measured while this one waited is as fresh as a re-measurement)
                remeasure = (
                    node.stage is not None
                    and measure_together
                    and cache.has(node.key)
                    and cache.finished_at(node.key) < started
                )
                if cache.has(node.key) and not remeasure:
                    outputs[node.id] = cache.meta(node.key)
                    console.print(f"{label} [green]cached[/] {node.key[:12]}")
                    pass_log.append({"node": node.id, "pass": node.pass_name, "key": node.key, "cached": True})
                    continue
                missing = _missing_backend(spec.backend)
                if missing:
                    raise RecipeError(f"pass '{node.id}' needs {missing}", key="target", value=plan.target_name)
                where = "in process" if spec.backend == "local" else f"{spec.backend} worker"
                console.print(f"{label} [yellow]{'re-measuring' if remeasure else 'running'}[/] ({where})")
                tmp = cache.begin(node.key)
                ctx = PassContext(
                    node_id=node.id,
                    params=dict(node.params),
                    inputs={name: cache.path(plan.node(src).key) for name, src in node.inputs.items()},
                    out_dir=tmp,
                )
                began = time.perf_counter()
                try:
                    meta = workers.run(spec.backend, spec.entry, ctx)
                except PassError as exc:
                    cache.abandon(tmp)
                    if not node.optional:
                        raise
                    failed[node.id] = str(exc)
                    console.print(f"{label} [bold red]failed[/] (optional: the run goes on) {exc}")
                    pass_log.append(
                        {"node": node.id, "pass": node.pass_name, "key": node.key, "cached": False, "failed": str(exc)}
                    )
                    continue
                except BaseException:
                    cache.abandon(tmp)
                    raise
                seconds = time.perf_counter() - began
                meta = {**meta, "pass": node.pass_name, "node": node.id, "key": node.key, "seconds": seconds}
                cache.commit(tmp, node.key, meta, replace=remeasure)
                outputs[node.id] = meta
                entry = {"node": node.id, "pass": node.pass_name, "key": node.key, "cached": False, "seconds": seconds}
                entry |= {"remeasured": True} if remeasure else {}
                pass_log.append(entry | ({"rebuilt": rebuilt} if rebuilt else {}))
                console.print(f"{label} [bold green]done[/] in {seconds:.1f} s")
    return outputs, pass_log


def run_recipe(
    recipe: RecipeConfig, run_dir: Path, console: Console | None = None, workers: BackendWorkers | None = None
) -> RunOutcome:
    """Plan, execute, benchmark and report one recipe into ``run_dir`` (``workers``: see :func:`execute_plan`)."""
    from recipecc.lock import write_lock
    from recipecc.report import render_reports

    console = console or Console(stderr=True)
    plan = build_plan(recipe)
    check_reachable(plan)
    outputs, pass_log = execute_plan(plan, console, workers)
    run_dir.mkdir(parents=True, exist_ok=True)
    files = deliver_models(plan, outputs, run_dir)
    dataset_files = deliver_evaluation_files(plan, outputs, run_dir, files)
    results = assemble_results(plan, outputs, asdict(recipe), pass_log, files)
    if dataset_files:
        results["dataset"] = dataset_files
    reports = render_reports(results, outputs, run_dir)
    write_lock(run_dir, recipe, plan)
    executed = [entry["node"] for entry in pass_log if not entry["cached"] and "failed" not in entry]
    cached = [entry["node"] for entry in pass_log if entry["cached"]]
    return RunOutcome(plan, results, run_dir, reports, executed, cached)
