"""A target resolved: the device, the runtime on it, the ABI, and the measurer that will produce its latencies.

``targets/*.yaml`` name a device and a runtime and may pin the ABI, the threads, the measurer and an SSH
connection; :func:`resolve_target` checks that they fit together (the runtime runs on one of the device's
processors and has a build for its ABI, thread counts fit the cores, the measurer can reach the device) and
decides the measurer when the target says ``auto``:

- the device is this machine (``reach: local``)      -> ``measured-host``
- ``target.ssh.host`` is given                        -> ``measured-remote`` (the device's own runtime, over SSH)
- otherwise (a phone, a board or a GPU out of reach)  -> ``estimated`` (``recipecc/estimate``), labelled as such

Every bad combination is a :class:`RecipeError` naming the key, the value and what would be valid.
"""

from __future__ import annotations

from dataclasses import dataclass

from recipecc.recipe.catalog import RUNTIMES, Runtime
from recipecc.recipe.devices import DEVICES, MEASURERS, Device
from recipecc.recipe.errors import RecipeError
from recipecc.recipe.schema import TargetConfig

__all__ = ["MEASURER_CHOICES", "ResolvedTarget", "resolve_target"]

MEASURER_CHOICES = ("auto", *MEASURERS)


@dataclass(frozen=True)
class ResolvedTarget:
    """What a target means once checked: everything the planner, the measurers and the report need."""

    name: str
    device: Device
    runtime: Runtime
    abi: str
    measurer: str
    threads: tuple[int, ...]
    ssh_host: str | None = None
    ssh_port: int = 22

    @property
    def is_arm(self) -> bool:
        return self.abi in ("armv7", "armv8")

    def identity(self) -> str:
        """The device + runtime build + measurer a latency belongs to: part of every bench node's cache key, so
        two phones on one runtime, or an estimate and a measurement of one phone, never share a cached latency."""
        where = f"ssh://{self.ssh_host}:{self.ssh_port}" if self.measurer == "measured-remote" else ""
        return "|".join(filter(None, (self.device.identity(), self.runtime.name, self.abi, self.measurer, where)))

    def describe(self) -> str:
        abi = f" {self.abi}" if self.is_arm else ""
        return f"{self.device.soc}{abi}, {self.runtime.label or self.runtime.name}, {self.measurer}"


def _pick_abi(target: TargetConfig, device: Device, runtime: Runtime) -> str:
    common = [abi for abi in device.abis if abi in runtime.abis]
    if target.abi is None:
        if not common:
            raise RecipeError(
                f"target '{target.name}': runtime {runtime.name} has no build for device {device.name} "
                f"(device ABIs {', '.join(device.abis)}; runtime builds {', '.join(runtime.abis)})",
                key="target.runtime",
                value=runtime.name,
                valid=[name for name, rt in RUNTIMES.items() if set(rt.abis) & set(device.abis)],
            )
        return "armv8" if "armv8" in common else common[0]
    if target.abi not in common:
        raise RecipeError(
            f"target.abi = '{target.abi}' is not available for {runtime.name} on {device.name}",
            key="target.abi",
            value=target.abi,
            valid=common or f"none: {runtime.name} has no build for {device.name}",
        )
    return target.abi


def _pick_measurer(target: TargetConfig, device: Device, runtime: Runtime) -> str:
    wanted = target.measurer
    if wanted not in MEASURER_CHOICES:
        raise RecipeError.choice("target.measurer", wanted, list(MEASURER_CHOICES))
    if wanted == "auto":
        if device.reach == "local":
            return "measured-host"
        wanted = "measured-remote" if target.ssh.host else "estimated"
    if wanted == "measured-host" and device.reach != "local":
        raise RecipeError(
            f"target.measurer = measured-host, but device '{device.name}' is not this machine",
            key="target.measurer",
            value=wanted,
            valid="measured-remote with target.ssh.host=<address of the device>, or estimated",
        )
    if wanted == "measured-remote":
        if not target.ssh.host:
            raise RecipeError(
                "target.measurer = measured-remote needs target.ssh.host",
                key="target.ssh.host",
                valid="the device's address, e.g. target.ssh.host=192.168.1.20 target.ssh.user=pi",
            )
        if runtime.remote is None:
            raise RecipeError(
                f"runtime {runtime.name} cannot be measured over SSH by recipecc (its models are converted "
                f"outside recipecc: {runtime.conversion.tool if runtime.conversion else 'no benchmark'})",
                key="target.measurer",
                value=wanted,
                valid="estimated, or a runtime the device runs from Python (onnxruntime, tflite, paddle_inference)",
            )
    return wanted


def resolve_target(target: TargetConfig) -> ResolvedTarget:
    """Check a target's device, runtime, ABI, threads and measurer; raise :class:`RecipeError` if they clash."""
    if target.device not in DEVICES:
        raise RecipeError.choice("target.device", target.device, list(DEVICES), what="device")
    if target.runtime not in RUNTIMES:
        raise RecipeError.choice("target.runtime", target.runtime, list(RUNTIMES), what="runtime")
    device, runtime = DEVICES[target.device], RUNTIMES[target.runtime]
    if runtime.processor not in device.processors:
        raise RecipeError(
            f"target '{target.name}': runtime {runtime.name} runs on a {runtime.processor}, and device "
            f"{device.name} has none here ({', '.join(device.processors)})",
            key="target.runtime",
            value=runtime.name,
            valid=[n for n, rt in RUNTIMES.items() if rt.processor in device.processors],
        )
    abi = _pick_abi(target, device, runtime)
    if not target.threads:
        raise RecipeError("target.threads is empty", key="target.threads", valid="a list of thread counts >= 1")
    for threads in target.threads:
        if threads < 1:
            raise RecipeError(
                f"target.threads = {threads} is too small", key="target.threads", value=threads, valid=">= 1"
            )
    if runtime.thread_model == "runtime" and list(target.threads) != [1]:
        raise RecipeError(
            f"target.threads = {list(target.threads)}: {runtime.name} manages its own parallelism, "
            "thread counts do not apply",
            key="target.threads",
            value=list(target.threads),
            valid="[1]",
        )
    if device.reach != "local" and runtime.processor == "cpu" and max(target.threads) > device.cores:
        raise RecipeError(
            f"target.threads = {list(target.threads)}: device {device.name} has {device.cores} CPU cores",
            key="target.threads",
            value=list(target.threads),
            valid=f"thread counts from 1 to {device.cores}",
        )
    if target.ssh.port < 1 or target.ssh.port > 65535:
        raise RecipeError(
            f"target.ssh.port = {target.ssh.port} is not a TCP port", key="target.ssh.port", valid="1..65535"
        )
    measurer = _pick_measurer(target, device, runtime)
    return ResolvedTarget(
        name=target.name,
        device=device,
        runtime=runtime,
        abi=abi,
        measurer=measurer,
        threads=tuple(int(t) for t in target.threads),
        ssh_host=target.ssh.host if measurer == "measured-remote" else None,
        ssh_port=target.ssh.port,
    )
