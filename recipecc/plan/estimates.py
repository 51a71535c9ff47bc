"""Plan-time latency estimates for targets out of reach: what ``recipecc plan`` shows before anything runs.

Only the built-in architectures have a layer table without building the network (``recipecc/estimate/layers``);
a pruned stage applies the recipe's per-layer ratios to it (the plan-time approximation: the run estimates from the
exported pruned graph itself). Sensitivity-derived ratios are known only after the analysis runs.
"""

from __future__ import annotations

from recipecc.common.selection import SelectionError, resolve_ratios
from recipecc.estimate import builtin_table, estimate_rows, pruned_table
from recipecc.plan.builder import PlanBuilder

__all__ = ["plan_estimates"]


def _input_size(b: PlanBuilder) -> list[int] | None:
    """The model's input height and width in this recipe (None when the data decides it at run time)."""
    data = b.recipe.dataset
    if b.recipe.model.input_size:
        return [b.recipe.model.input_size, b.recipe.model.input_size]
    if data.name == "digits":
        return [data.image_size, data.image_size]
    return list(data.size) if data.size else None


def plan_estimates(b: PlanBuilder) -> None:
    """Add one ``estimate`` check per benchmarked stage (estimated targets only)."""
    target = b.resolved_target
    if target.measurer != "estimated":
        return
    recipe = b.recipe
    base = builtin_table(recipe.model.arch) if recipe.model.arch != "file" else None
    if base is None:
        b.check("estimate", "skip", "no layer table for this model at plan time: the run estimates from its graph")
        return
    size = _input_size(b)
    if size is not None and list(base["input"][1:]) != size:
        b.check(
            "estimate",
            "skip",
            f"{recipe.model.arch}'s layer table is for {base['input'][1]}x{base['input'][2]} inputs, this recipe feeds "
            f"{size[0]}x{size[1]}: the run estimates from the exported graph",
        )
        return
    for node in b.nodes:
        if node.stage is None:
            continue
        table = base
        if node.stage.startswith("pruned"):
            prune = recipe.strategy.prune
            if prune is None or recipe.strategy.sensitivity is not None:
                b.check("estimate", "skip", f"{node.stage}: ratios come from the sensitivity analysis (run time)")
                continue
            names = [str(r["name"]) for r in base["layers"] if r["kind"] in ("conv", "conv1x1")]
            try:
                ratios, _ = resolve_ratios(names, prune.layers, prune.ratio, prune.per_layer)
            except SelectionError:
                continue
            table = pruned_table(base, ratios)
        precision = str(node.params.get("precision", "fp32"))
        rows = estimate_rows(
            table,
            device=target.device.name,
            runtime=target.runtime.name,
            abi=target.abi,
            precision="int8" if precision == "int8" else ("fp16" if precision == "fp16" else "fp32"),
            threads=list(target.threads),
            basis="plan-time layer table",
        )
        cells = ", ".join(f"t{r['threads']} {r['median_ms']:.2f} ms" for r in rows)
        error = rows[0]["estimator"]["fit_error"]
        b.check(
            "estimate",
            "ok",
            f"{node.stage} ({precision}, {table['macs'] / 1e6:.0f} MMACs) on {target.describe()}: {cells} "
            f"[estimated; fit error on {error['scope']}: median {error.get('median_abs_pct')}%]",
        )
