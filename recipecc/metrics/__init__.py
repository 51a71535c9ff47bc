"""Task metrics with the field's reference implementations (pycocotools for COCO AP; the VOC devkit's algorithm).

Pure numpy / pycocotools, no framework: passes (sensitivity analysis in a worker) and the benchmark stage use the
same functions, so a number means the same thing wherever it is computed.
"""

from __future__ import annotations

__all__: list[str] = []
