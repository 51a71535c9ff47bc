"""Deployment steps done outside recipecc (runs in process: it only writes instructions)."""

from __future__ import annotations

from recipecc.plan.spec import PassSpec

SPECS = (
    PassSpec(
        "deploy.convert",
        "local",
        "recipecc.passes.deploy:run",
        "external-conversion",
        "A conversion the target's runtime needs that runs on the device or in your toolchain (command recorded; "
        "the converted file is never faked)",
        (),
    ),
)
