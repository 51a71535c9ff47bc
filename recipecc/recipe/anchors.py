"""``model.anchors``: which anchors a YOLOv3 detector uses, checked at plan time.

- ``auto`` (the default): fitted to the training boxes by the data pass (k-means with 1 - IoU, as PaddleDetection's
  ``anchor_cluster`` and YOLOv5's autoanchor do) when recipecc trains the detector from scratch; COCO's otherwise,
  because weights given with ``model.path`` (or a user's exported detector) were trained with the anchors of their
  own config, which for PaddleDetection's YOLOv3 models are COCO's.
- ``coco``: PaddleDetection's COCO anchors for 608x608, scaled to ``model.input_size`` (the reference rows pin it).
- nine ``[w, h]`` pairs in input pixels, smallest first (three per output level, stride 8 / 16 / 32): used as given
  (the anchors your weights were trained with, or your own clustering).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from recipecc.recipe.errors import RecipeError

if TYPE_CHECKING:
    from recipecc.recipe.schema import ModelConfig

__all__ = ["ANCHOR_COUNT", "ANCHOR_MODES", "AnchorChoice", "anchor_choice", "validate_anchors"]

#: YOLOv3: three anchors on each of its three output levels
ANCHOR_COUNT = 9
ANCHOR_MODES = ("auto", "coco")
_VALID = "auto, coco, or nine [w, h] pairs of whole pixels of the input (e.g. [[10,13],[16,30],...])"
#: anchors this much larger than the input are certainly a unit mistake (pixels of another input size)
_MAX_FACTOR = 4


def validate_anchors(model: ModelConfig) -> None:
    """Refuse a malformed ``model.anchors`` (exit 2 naming the value); normalise pairs to lists of ints."""
    value: Any = model.anchors
    if isinstance(value, str):
        if value not in ANCHOR_MODES:
            raise RecipeError(
                f"model.anchors = {value!r} is not an anchor choice", key="model.anchors", value=value, valid=_VALID
            )
        return
    if not isinstance(value, (list, tuple)) or len(value) != ANCHOR_COUNT:
        count = f"{len(value)} entries" if isinstance(value, (list, tuple)) else type(value).__name__
        raise RecipeError(
            f"model.anchors has {count}; YOLOv3 takes {ANCHOR_COUNT} [w, h] pairs (3 per output level)",
            key="model.anchors",
            value=value,
            valid=_VALID,
        )
    pairs: list[list[int]] = []
    limit = _MAX_FACTOR * int(model.input_size or 608)
    for index, pair in enumerate(value):
        if (
            not isinstance(pair, (list, tuple))
            or len(pair) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) for v in pair)
        ):
            raise RecipeError(
                f"model.anchors[{index}] = {pair!r} is not a [w, h] pair of whole pixels",
                key=f"model.anchors[{index}]",
                value=pair,
                valid="[w, h] with whole numbers (Paddle's yolo_loss takes integer anchors)",
            )
        if not all(1 <= v <= limit for v in pair):
            raise RecipeError(
                f"model.anchors[{index}] = {list(pair)} is out of range for a {model.input_size or 608}px input",
                key=f"model.anchors[{index}]",
                value=list(pair),
                valid=f"1 <= w, h <= {limit} (pixels of the model's input)",
            )
        pairs.append([int(pair[0]), int(pair[1])])
    areas = [w * h for w, h in pairs]
    if areas != sorted(areas):
        raise RecipeError(
            "model.anchors must go from the smallest to the largest (area): the first three go to the stride-8 "
            "output, the last three to the stride-32 one",
            key="model.anchors",
            value=pairs,
            valid="pairs sorted by w * h",
        )
    model.anchors = pairs


@dataclass(frozen=True)
class AnchorChoice:
    """What the plan decided: ``source`` is ``fitted``, ``coco`` or ``given``, with the reason shown in the plan."""

    source: str
    reason: str
    pairs: list[list[int]] | None = None


def anchor_choice(model: ModelConfig) -> AnchorChoice:
    """Resolve ``auto``: fitted when recipecc trains the network from scratch, COCO's when weights come with it."""
    value: Any = model.anchors
    if isinstance(value, list):
        return AnchorChoice("given", "model.anchors: the nine pairs given", [list(p) for p in value])
    if value == "coco":
        return AnchorChoice("coco", "model.anchors=coco: PaddleDetection's COCO anchors, scaled to the input")
    if model.arch == "file" or model.path is not None:
        return AnchorChoice(
            "coco",
            "model.anchors=auto with trained weights: COCO's (PaddleDetection's YOLOv3 configs), the anchors such "
            "weights were trained with; set model.anchors=[[w,h],...] if yours used others",
        )
    if model.train.epochs == 0:
        return AnchorChoice("coco", "model.anchors=auto on an untrained network: COCO's (nothing learns them)")
    return AnchorChoice(
        "fitted", "model.anchors=auto: fitted to the training boxes by the data pass (k-means, 1 - IoU)"
    )
