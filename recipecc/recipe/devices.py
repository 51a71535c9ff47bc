"""The devices a target can name: what hardware a latency is for, and how recipecc can reach it.

A *device* is hardware only (SoC, CPU clusters and clocks, the ABIs its CPU runs, memory, other processors). What
runs on it is the *runtime* (``catalog.RUNTIMES``); who produces a latency is the *measurer* (:data:`MEASURERS`).
A target (``targets/*.yaml``) names one of each; ``recipecc/recipe/targets.py`` resolves and checks the
combination. This is data, so that ``recipecc plan`` can answer without importing a framework.

Adding a device: one :class:`Device` entry below (figures from the vendor's datasheet), then a target file that
names it. The latency estimator (``recipecc/estimate``) reads the clusters and memory bandwidth as its prior; its
fitted per-device figures (``recipecc/estimate/coefficients.json``) refine them where published measurements exist.
"""

from __future__ import annotations

from dataclasses import dataclass

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


@dataclass(frozen=True)
class Cluster:
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


DEVICES: dict[str, Device] = {
    d.name: d
    for d in (
        Device(
            "host",
            "This machine (the CPU recipecc runs on); latency is measured here",
            soc="host CPU",
            clusters=(Cluster(0, "host", 0.0),),  # read at measurement time (results.json: provenance.host)
            abis=("native",),
            memory="host memory",
            memory_gbps=0.0,
            reach="local",
        ),
        Device(
            "sd835",
            "Qualcomm Snapdragon 835 phone SoC (e.g. Pixel 2, Galaxy S8)",
            soc="Snapdragon 835 (MSM8998)",
            clusters=(Cluster(4, "Kryo 280 Gold (Cortex-A73)", 2.45), Cluster(4, "Kryo 280 Silver (Cortex-A53)", 1.9)),
            abis=("armv7", "armv8"),
            memory="LPDDR4X-1866, 2x32-bit",
            memory_gbps=29.9,
            processors=("cpu", "gpu", "dsp"),
            gpu="Adreno 540",
        ),
        Device(
            "sd845",
            "Qualcomm Snapdragon 845 phone SoC (e.g. Pixel 3, Galaxy S9)",
            soc="Snapdragon 845 (SDM845)",
            clusters=(Cluster(4, "Kryo 385 Gold (Cortex-A75)", 2.8), Cluster(4, "Kryo 385 Silver (Cortex-A55)", 1.77)),
            abis=("armv7", "armv8"),
            memory="LPDDR4X-1866, 4x16-bit",
            memory_gbps=29.9,
            processors=("cpu", "gpu", "dsp"),
            gpu="Adreno 630",
        ),
        Device(
            "sd855",
            "Qualcomm Snapdragon 855 phone SoC (e.g. Pixel 4, Galaxy S10)",
            soc="Snapdragon 855 (SM8150)",
            clusters=(
                Cluster(1, "Kryo 485 Gold Prime (Cortex-A76)", 2.84),
                Cluster(3, "Kryo 485 Gold (Cortex-A76)", 2.42),
                Cluster(4, "Kryo 485 Silver (Cortex-A55)", 1.78),
            ),
            abis=("armv7", "armv8"),
            memory="LPDDR4X-2133, 4x16-bit",
            memory_gbps=34.1,
            processors=("cpu", "gpu", "dsp"),
            gpu="Adreno 640",
        ),
        Device(
            "kirin970",
            "HiSilicon Kirin 970 phone SoC (e.g. Huawei Mate 10, P20)",
            soc="Kirin 970",
            clusters=(Cluster(4, "Cortex-A73", 2.36), Cluster(4, "Cortex-A53", 1.8)),
            abis=("armv7", "armv8"),
            memory="LPDDR4X-1833, 4x16-bit",
            memory_gbps=29.8,
            processors=("cpu", "gpu"),
            gpu="Mali-G72 MP12",
        ),
        Device(
            "rpi3",
            "Raspberry Pi 3 Model B (Raspberry Pi OS; armv7 on the 32-bit OS, armv8 on the 64-bit one)",
            soc="Broadcom BCM2837",
            clusters=(Cluster(4, "Cortex-A53", 1.2),),
            abis=("armv7", "armv8"),
            memory="1 GB LPDDR2-900, 32-bit",
            memory_gbps=3.6,
        ),
        Device(
            "rb5",
            "Qualcomm Robotics RB5 development kit",
            soc="QRB5165 (Snapdragon 865 class)",
            clusters=(
                Cluster(1, "Kryo 585 Prime (Cortex-A77)", 2.84),
                Cluster(3, "Kryo 585 Gold (Cortex-A77)", 2.42),
                Cluster(4, "Kryo 585 Silver (Cortex-A55)", 1.8),
            ),
            abis=("armv8",),
            memory="8 GB LPDDR5-2750, 4x16-bit",
            memory_gbps=44.0,
            processors=("cpu", "gpu", "dsp"),
            gpu_tflops=1.2,
            gpu="Adreno 650",
        ),
        Device(
            "v100",
            "NVIDIA Tesla V100 (SXM2/PCIe) in an x86-64 server",
            soc="NVIDIA GV100 (Volta), 80 SMs, 640 tensor cores",
            clusters=(Cluster(8, "x86-64 server CPU", 2.5),),
            abis=("native",),
            memory="16/32 GB HBM2",
            memory_gbps=900.0,
            processors=("cpu", "gpu"),
            gpu_tflops=15.7,
            gpu="Tesla V100",
        ),
    )
}
