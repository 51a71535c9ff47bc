"""Stage 5 — report: render a run's results through the Jinja templates in ``templates/``.

Templates only format; every number (deltas, ratios, speed-ups) is computed in ``recipecc.bench``.
"""

from __future__ import annotations

from recipecc.report.render import render_reports

__all__ = ["render_reports"]
