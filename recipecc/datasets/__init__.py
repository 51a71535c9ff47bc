"""Data set formats users have (Pascal VOC, COCO instances, segmentation label maps) and the generated "shapes" set.

Pure Python (numpy, Pillow, defusedxml, json): no framework is imported, so the planner checks annotation files at
plan time with the same readers the data passes use at run time. A bad file raises :class:`DatasetFormatError`
naming the file.
"""

from __future__ import annotations

from recipecc.datasets.errors import DatasetFormatError

__all__ = ["DatasetFormatError"]
