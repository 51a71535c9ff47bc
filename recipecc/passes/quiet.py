"""Silence the chatter frameworks print from native code during a call.

Paddle, PaddleSlim and oneDNN print statistics and deprecation notes; TensorFlow 2.21 prints absl INFO lines (oneDNN,
missing CUDA drivers) whatever ``TF_CPP_MIN_LOG_LEVEL`` says; LiteRT announces its XNNPACK delegate. That output
would tear the progress display apart and hide recipecc's own messages. Exceptions still propagate as usual; only
what is printed during the call is dropped.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import sys
import tempfile
from collections.abc import Iterator

__all__ = ["output_to_log", "quiet_native_stderr", "quiet_stdout"]


@contextlib.contextmanager
def quiet_stdout() -> Iterator[None]:
    """Redirect Python-level and C-level stdout and stderr to /dev/null for the duration."""
    with _quiet_fds((1, 2)):
        yield


@contextlib.contextmanager
def quiet_native_stderr() -> Iterator[None]:
    """Redirect stderr only (fd 2 and ``sys.stderr``); stdout stays, for callers that print results."""
    with _quiet_fds((2,)):
        yield


@contextlib.contextmanager
def _quiet_fds(fds: tuple[int, ...]) -> Iterator[None]:
    sys.stdout.flush()
    sys.stderr.flush()
    saved = {fd: os.dup(fd) for fd in fds}
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        for fd in saved:
            os.dup2(devnull, fd)
        with contextlib.ExitStack() as stack:
            if 1 in fds:
                stack.enter_context(contextlib.redirect_stdout(io.StringIO()))
            if 2 in fds:
                stack.enter_context(contextlib.redirect_stderr(io.StringIO()))
            yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        for fd, copy in saved.items():
            os.dup2(copy, fd)
            os.close(copy)
        os.close(devnull)


@contextlib.contextmanager
def output_to_log(logger: logging.Logger, label: str) -> Iterator[None]:
    """Send what a third-party call prints (Python and native stdout/stderr) to ``logger``, not the console.

    ONNX Runtime's calibration prints progress ("Collecting tensor data and making histogram ...") with
    ``print``; the user's console shows recipecc's own progress, the log keeps the tool's.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    saved = {fd: os.dup(fd) for fd in (1, 2)}
    python_out, python_err = io.StringIO(), io.StringIO()
    with tempfile.TemporaryFile(mode="w+b") as sink:
        try:
            for fd in saved:
                os.dup2(sink.fileno(), fd)
            with contextlib.redirect_stdout(python_out), contextlib.redirect_stderr(python_err):
                yield
        finally:
            for fd, copy in saved.items():
                os.dup2(copy, fd)
                os.close(copy)
            sink.seek(0)
            text = python_out.getvalue() + python_err.getvalue() + sink.read().decode(errors="replace")
            for line in text.splitlines():
                if line.strip():
                    logger.info("%s: %s", label, line)
