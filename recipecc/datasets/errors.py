"""The one error a data set reader raises: which file is missing or malformed, and what was expected."""

from __future__ import annotations

from pathlib import Path

__all__ = ["DatasetFormatError"]


class DatasetFormatError(ValueError):
    """A data set file is missing or malformed. ``path`` names the file; the message says what is wrong."""

    def __init__(self, path: Path | str, problem: str, *, expected: str | None = None) -> None:
        self.path = Path(path)
        self.problem = problem
        self.expected = expected
        message = f"{self.path}: {problem}"
        if expected:
            message += f" (expected {expected})"
        super().__init__(message)
