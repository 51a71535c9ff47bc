"""Parameters every labelled image-set node shares (detection, segmentation): which set, which splits, how many
images and how pixels become the model's input. The task's own keys (input size, ignore index, format) are added
by ``plan/data_detection.py`` / ``plan/data_segmentation.py``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from recipecc.plan.builder import PlanBuilder

__all__ = ["image_set_params"]


def image_set_params(b: PlanBuilder, layout: str) -> dict[str, Any]:
    """The shared data-node parameters: read by :class:`recipecc.passes.data.arrays.ImageWriter` and the readers."""
    model, data = b.recipe.model, b.recipe.dataset
    return {
        "name": data.name,
        "seed": data.seed,
        "layout": layout,
        "mean": list(data.mean),
        "std": list(data.std),
        "scale": data.scale,
        "color": data.color,
        "train_split": data.train_split or "train",
        "split": data.split or "val",
        "max_images": data.max_images,
        "eval_images": data.eval_images,
        "num_classes": model.num_classes,
    }
