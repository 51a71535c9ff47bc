"""Sweeps and searches over recipes: the jobs of a multirun listed and validated up front, each job's record,
the best configuration so far, and the Hydra callback that writes the report over all jobs."""

from __future__ import annotations

__all__: list[str] = []
