"""Run passes in a worker process per backend.

Paddle and TensorFlow crash when loaded into one process, and a framework crash must not take the compiler (and
its cache bookkeeping) down with it. Each backend gets one long-lived worker (spawned, so it starts clean and
imports its framework once); a pass is sent to it as a ``PassContext`` and its entry point is imported there.
A worker that dies mid-pass becomes a :class:`WorkerCrashed` naming the pass; nothing is committed to the cache.
"""

from __future__ import annotations

import importlib
import multiprocessing
import os
import shutil
import traceback
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from types import TracebackType
from typing import Any

from recipecc.passes.base import PassContext, PassFailure

__all__ = ["BackendWorkers", "PassError", "WorkerCrashed", "call_entry"]

#: environment for worker processes: quiet framework logs, TensorFlow on legacy Keras for tfmot
_WORKER_ENV = {
    "GLOG_minloglevel": "2",
    "FLAGS_call_stack_level": "1",
    "TF_CPP_MIN_LOG_LEVEL": "2",
    "TF_USE_LEGACY_KERAS": "1",
}


class PassError(Exception):
    """A pass raised: the message names the pass and keeps the worker's traceback for ``--verbose``."""

    def __init__(self, node_id: str, message: str, detail: str = "") -> None:
        super().__init__(f"pass '{node_id}' failed: {message}")
        self.node_id = node_id
        self.detail = detail


class WorkerCrashed(PassError):
    """The backend's worker process died (segfault, out of memory, killed) while running a pass."""


def call_entry(entry: str, ctx: PassContext) -> dict[str, Any]:
    """Import ``module:function`` and call it with ``ctx`` (runs inside the worker)."""
    import zlib  # noqa: F401  - load Python's zlib before paddle's own copy (see DEVELOPERS.md)

    module_name, _, function_name = entry.partition(":")
    function = getattr(importlib.import_module(module_name), function_name)
    result = function(ctx)
    if not isinstance(result, dict):
        raise TypeError(f"{entry} returned {type(result).__name__}, not a dict")
    return result


def _guarded_call(entry: str, ctx: PassContext) -> tuple[bool, Any, str]:
    """Run in the worker; exceptions come back as text so that any exception type survives the trip."""
    try:
        return True, call_entry(entry, ctx), ""
    except PassFailure as exc:
        return False, str(exc), traceback.format_exc()
    except Exception as exc:
        return False, f"{type(exc).__name__}: {exc}", traceback.format_exc()


def _isolated_call(entry: str, ctx: PassContext) -> tuple[bool, Any, str]:
    """:func:`_guarded_call` with the worker's working folder inside the pass's own output folder (and removed
    after): a library that writes into the current folder (onnxruntime's ``sym_shape_infer_temp.onnx``) then
    writes nowhere else. Passes get absolute paths, so nothing they read depends on the working folder."""
    scratch = ctx.out_dir / ".cwd"
    scratch.mkdir(exist_ok=True)
    previous = os.getcwd()
    os.chdir(scratch)
    try:
        return _guarded_call(entry, ctx)
    finally:
        os.chdir(previous)
        shutil.rmtree(scratch, ignore_errors=True)


def _exit_with_parent(parent: int) -> None:
    """Stop the worker when the compiler process is gone (killed runs must not leave a worker training on)."""
    import threading
    import time

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(3)

    threading.Thread(target=watch, name="recipecc-parent-watch", daemon=True).start()


def _warm_import(entry: str) -> bool:
    """Import a pass's module (so its framework) in the worker before the pass is sent; an import error is left
    for the pass itself to raise, with its name on it."""
    import zlib  # noqa: F401  - load Python's zlib before paddle's own copy (see DEVELOPERS.md)

    try:
        importlib.import_module(entry.partition(":")[0])
    except Exception:
        return False
    return True


def _init_worker(env: dict[str, str], parent: int) -> None:
    """Prepare a fresh worker: quiet framework logs and the warnings frameworks raise on every import."""
    import warnings

    _exit_with_parent(parent)
    os.environ.update(env)
    for module in ("paddle", "paddleslim", "_distutils_hack", "setuptools", "tensorflow", "keras", "onnxruntime"):
        warnings.filterwarnings("ignore", module=module)
    warnings.filterwarnings("ignore", message="Setuptools is replacing distutils")


def _standard_start_method() -> None:
    """Inside a joblib (loky) worker the process-wide start method is "loky", and a spawned child, told to use
    it, dies before running anything ("cannot find context for 'loky'"); our workers need a standard one."""
    if multiprocessing.get_start_method(allow_none=True) not in (None, "spawn", "fork", "forkserver"):
        multiprocessing.set_start_method("spawn", force=True)


class BackendWorkers:
    """One worker process per backend, created on first use and closed on exit."""

    def __init__(self, in_process: tuple[str, ...] = ("local",)) -> None:
        self._pools: dict[str, ProcessPoolExecutor] = {}
        self._in_process = in_process

    @property
    def started(self) -> tuple[str, ...]:
        """The backends whose worker process has been started."""
        return tuple(self._pools)

    def _pool(self, backend: str) -> ProcessPoolExecutor:
        pool = self._pools.get(backend)
        if pool is None:
            _standard_start_method()
            pool = ProcessPoolExecutor(
                max_workers=1,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_init_worker,
                initargs=(_WORKER_ENV, os.getpid()),
            )
            self._pools[backend] = pool
        return pool

    def warm(self, backend: str, entry: str) -> None:
        """Start ``backend``'s worker and import ``entry``'s module there, without waiting for it: a run that
        waits for another run's shared stage (a parallel sweep) gets its framework imported meanwhile. A worker
        that dies while importing surfaces as :class:`WorkerCrashed` on the first pass sent to it."""
        if backend in self._in_process or backend in self._pools:
            return
        self._pool(backend).submit(_warm_import, entry)

    def run(self, backend: str, entry: str, ctx: PassContext) -> dict[str, Any]:
        if backend in self._in_process:
            ok, value, detail = _guarded_call(entry, ctx)
        else:
            pool = self._pool(backend)
            try:
                ok, value, detail = pool.submit(_isolated_call, entry, ctx).result()
            except BrokenProcessPool:
                self._pools.pop(backend, None)
                raise WorkerCrashed(
                    ctx.node_id,
                    f"the {backend} worker process died (crash, out of memory or killed); "
                    "the cache is intact, re-run to retry",
                ) from None
        if not ok:
            raise PassError(ctx.node_id, str(value), detail)
        return dict(value)

    def close(self) -> None:
        for pool in self._pools.values():
            pool.shutdown(wait=True, cancel_futures=True)
        self._pools.clear()

    def __enter__(self) -> BackendWorkers:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
