"""Render ``results.json``, ``report.md`` and ``report.html`` (self-contained: inline CSS and plot) into a run dir.

Every file is written to a temporary name and renamed, so a report that exists is a complete one.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from recipecc.paths import templates_dir
from recipecc.report.formatting import FILTERS
from recipecc.report.plots import latency_size_plot, sensitivity_plot

__all__ = ["HTML_TEMPLATE_SUFFIXES", "render_reports", "write_atomic"]

#: template names ending so are rendered with autoescape on (``select_autoescape`` matches the whole suffix)
HTML_TEMPLATE_SUFFIXES = ("html", "htm", "xml", "html.j2", "htm.j2", "xml.j2")


def write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(templates_dir())),
        # every HTML template is escaped: recipe text (description, layer patterns, errors) is someone else's
        autoescape=select_autoescape(enabled_extensions=HTML_TEMPLATE_SUFFIXES, default_for_string=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(FILTERS)
    return env


def render_reports(results: dict[str, Any], outputs: Mapping[str, Mapping[str, Any]], run_dir: Path) -> dict[str, Path]:
    """Write the three report files; returns their paths by kind."""
    env = _environment()
    plot_path = run_dir / "latency_size.png"
    plot_b64 = latency_size_plot(results, plot_path)
    training = {node: dict(meta) for node, meta in outputs.items() if meta.get("history")}
    threads = sorted({row["threads"] for stage in results["stages"] for row in stage["latency"]})
    sensitivity = next((dict(m) for m in outputs.values() if m.get("format") == "sensitivity"), None)
    sensitivity_b64 = ""
    if sensitivity:
        sensitivity_b64 = sensitivity_plot(
            sensitivity["sensitivities"], run_dir / "sensitivity.png", str(sensitivity.get("metric", "top1"))
        )
    context = {
        "r": results,
        "threads": threads,
        "training": training,
        "plot_file": plot_path.name,
        "sensitivity": sensitivity,
        "sensitivity_plot": "sensitivity.png",
    }
    paths = {
        "json": run_dir / "results.json",
        "markdown": run_dir / "report.md",
        "html": run_dir / "report.html",
    }
    write_atomic(paths["json"], json.dumps(results, indent=2, sort_keys=False, default=str) + "\n")
    write_atomic(paths["markdown"], env.get_template("report.md.j2").render(**context))
    html = env.get_template("report.html.j2").render(**context, plot_b64=plot_b64, sensitivity_b64=sensitivity_b64)
    write_atomic(paths["html"], html)
    paths["plot"] = plot_path
    return paths
