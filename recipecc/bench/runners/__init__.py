"""Benchmark runners, one per inference runtime; each runs in its backend's worker process."""
