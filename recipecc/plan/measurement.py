"""What a benchmark node must know about where its latency comes from, as parameters of its cache key.

A latency belongs to a device, a runtime build (ABI) and a measurer. All three enter every bench node's parameters
(so its cache key): two phones on one runtime, an estimate and a measurement of one phone, or this machine and
another one sharing a cache never reuse each other's numbers. An estimate's key also holds the estimator's version
and the hash of its calibration, so a refit re-estimates; a remote measurement's key holds the SSH address.
"""

from __future__ import annotations

import functools
import os
import platform
from typing import Any

from recipecc.common.cpu import cpu_facts
from recipecc.estimate import estimator_fingerprint
from recipecc.recipe.schema import SshConfig
from recipecc.recipe.targets import ResolvedTarget

__all__ = ["cpu_model", "host_identity", "measurement_params"]


def cpu_model() -> str:
    """This machine's CPU model name (``/proc/cpuinfo``; the platform's name where there is none)."""
    return cpu_facts().model


@functools.cache
def host_identity() -> str:
    """This machine's CPU model and core count (``/proc/cpuinfo``; no framework import)."""
    return f"{cpu_model()}:{os.cpu_count()} cpus:{platform.machine()}"


def measurement_params(target: ResolvedTarget, ssh: SshConfig) -> dict[str, Any]:
    """Bench-node parameters naming the device, runtime build and measurer (and how to reach or model it)."""
    identity = target.identity()
    if target.measurer == "measured-host":
        identity = f"{identity}|{host_identity()}"
    params: dict[str, Any] = {
        "device": target.device.name,
        "measurer": target.measurer,
        "target_identity": identity,
    }
    if target.is_arm:
        params["abi"] = target.abi
    if target.measurer == "estimated":
        params["estimator"] = estimator_fingerprint()
    if target.measurer == "measured-remote":
        params["ssh"] = {
            "host": ssh.host,
            "port": ssh.port,
            "user": ssh.user,
            "key": ssh.key,
            "known_hosts": ssh.known_hosts,
            "python": ssh.python,
            "workdir": ssh.workdir,
            "timeout": ssh.timeout,
            "remote": target.runtime.remote,
        }
    return params
