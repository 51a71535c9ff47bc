"""The devices a target can name: what hardware a latency is for, and how recipecc can reach it.

A *device* is hardware only (SoC, CPU clusters and clocks, the ABIs its CPU runs, memory, other processors). What
runs on it is the *runtime* (``catalog.RUNTIMES``); who produces a latency is the *measurer* (:data:`MEASURERS`).
A target (``targets/*.yaml``) names one of each; ``recipecc/recipe/targets.py`` resolves and checks the
combination. This is data, so that ``recipecc plan`` can answer without importing a framework.

Adding a device: one entry in ``devices.yaml`` beside this module (figures from the vendor's datasheet), then a
target file that names it. The latency estimator (``recipecc/estimate``) reads the clusters and memory bandwidth as
its prior; its fitted per-device figures (``recipecc/estimate/coefficients.json``) refine them where published
measurements exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import yaml

__all__ = ["ABIS", "DEVICES", "MEASURERS", "PROCESSORS", "REACHES", "Cluster", "Device"]

#: who produces a latency: measured on this machine, measured on a device over SSH, or estimated analytically
MEASURERS = ("measured-host", "measured-remote", "estimated")
#: CPU instruction sets a runtime build can target (the host's own is ``native``)
ABIS = ("armv7", "armv8", "native")
#: processors a runtime can execute on
PROCESSORS = ("cpu", "gpu", "dsp")
#: how recipecc reaches a device: ``local`` (this machine), ``remote`` (over SSH when ``target.ssh.host`` is
#: given, otherwise out of reach: latency is estimated)
REACHES = ("local", "remote")


class Cluster(NamedTuple):
    """A group of identical CPU cores (big.LITTLE SoCs have two or three)."""

    cores: int
    core: str
    ghz: float


@dataclass(frozen=True)
class Device:
    """One piece of hardware. ``clusters`` are listed fastest first: a runtime's threads go there first."""

    name: str
    description: str
    soc: str
    clusters: tuple[Cluster, ...]
    abis: tuple[str, ...]
    memory: str
    #: memory bandwidth (GB/s, theoretical peak of the DRAM interface): the estimator's prior for bytes moved
    memory_gbps: float
    processors: tuple[str, ...] = ("cpu",)
    #: for GPUs: peak fp32 TFLOPS (the estimator's prior); 0 for devices without a GPU runtime
    gpu_tflops: float = 0.0
    gpu: str = ""
    reach: str = "remote"

    @property
    def cores(self) -> int:
        return sum(c.cores for c in self.clusters)

    @property
    def big_cores(self) -> int:
        """Cores outside the slowest cluster of a big.LITTLE SoC (all cores otherwise): where threads run first."""
        fast = self.clusters[:-1] if len(self.clusters) > 1 else self.clusters
        return sum(c.cores for c in fast)

    def identity(self) -> str:
        """What distinguishes this device's measurements from another's (part of every bench cache key)."""
        cpu = "+".join(f"{c.cores}x{c.core}@{c.ghz}GHz" for c in self.clusters)
        return f"{self.name}:{self.soc}:{cpu}" + (f":{self.gpu}" if self.gpu else "")


def _load_devices() -> dict[str, Device]:
    """The devices of ``devices.yaml`` (one short entry each; defaults are :class:`Device`'s)."""
    table = yaml.safe_load((Path(__file__).with_name("devices.yaml")).read_text(encoding="utf-8"))
    devices: dict[str, Device] = {}
    for name, entry in table.items():
        fields = dict(entry)
        fields["clusters"] = tuple(Cluster(int(n), str(core), float(ghz)) for n, core, ghz in fields["clusters"])
        for key in ("abis", "processors"):
            if key in fields:
                fields[key] = tuple(fields[key])
        devices[str(name)] = Device(name=str(name), **fields)
    return devices


DEVICES: dict[str, Device] = _load_devices()
