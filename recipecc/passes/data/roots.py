"""Where a data pass reads its set from: the user's ``root``, or the generated shapes set written into the pass's
own folder first (:func:`recipecc.datasets.shapes.write_shapes`), then read like a user's."""

from __future__ import annotations

from pathlib import Path

from recipecc.passes.base import PassContext

__all__ = ["dataset_root"]


def dataset_root(ctx: PassContext) -> Path:
    """The set's root folder; with ``generate`` (splits and image size) the shapes set is written there first."""
    p = ctx.params
    generated = p.get("generate")
    if not generated:
        return Path(str(p["root"])).expanduser()
    from recipecc.datasets.shapes import write_shapes

    root = ctx.out_dir / "shapes"
    write_shapes(
        root,
        splits={str(k): int(v) for k, v in generated["splits"].items()},
        image_size=int(generated["image_size"]),
        seed=int(p["seed"]),
    )
    return root
