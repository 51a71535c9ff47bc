"""Stage 4 — bench: measure each model stage (accuracy, size, latency) and say how every number was obtained.

Runners for a real runtime live in ``runners/`` and execute in that backend's worker process. ``timing`` holds
the runtime-independent measurement loop and statistics; ``results`` assembles the run's results document.
"""
