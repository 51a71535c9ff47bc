"""recipecc: a compiler for model-compression recipes.

Stages, each a subpackage, in the order data flows (a stage never imports a later one):
``recipe`` (compose + schema + errors) -> ``plan`` (passes DAG, cache keys) -> ``passes`` (per backend)
-> ``bench`` (runners, estimator) -> ``report``. ``engine`` and ``cli`` sit on top and drive them.
"""

from __future__ import annotations

__all__ = ["__version__"]
__version__ = "0.1.0"
