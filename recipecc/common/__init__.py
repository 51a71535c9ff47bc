"""Facts shared by the compiler and the passes, importing neither.

The planner checks a recipe against these facts at compile time and the passes apply them to the real model in
a worker process, so they live below both stages: nothing here imports the planner, a pass, a framework or
Hydra/OmegaConf (the layering contract in ``pyproject.toml`` keeps it so).
"""
