"""The SSH measurer: time a model on the device itself, with the device's own runtime.

Over one SSH connection (asyncssh; the device's host key must be in ``target.ssh.known_hosts`` or
``~/.ssh/known_hosts``), the model files, the input sample and ``device_bench.py`` are copied (SFTP) into a
per-model folder under ``target.ssh.workdir``; ``target.ssh.python device_bench.py config.json`` runs there and
prints JSON, which comes back as latency rows labelled ``measured-remote`` with the host protocol's fields (warmup,
repeats, median, p90, coefficient of variation, noisy flag) and the device's description.

:func:`probe` is the quick check ``recipecc plan``/``run`` make first (connect, authenticate, import the runtime):
host down, authentication refused, unknown host key or runtime missing on the device become one clear message.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import shlex
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["SCRIPT", "RemoteError", "measure_remote", "probe"]

log = logging.getLogger(__name__)
SCRIPT = Path(__file__).with_name("device_bench.py")


class RemoteError(RuntimeError):
    """The device cannot be reached or cannot measure: the message says which and what to do."""


def _where(ssh: Mapping[str, Any]) -> str:
    user = f"{ssh['user']}@" if ssh.get("user") else ""
    return f"{user}{ssh['host']}:{ssh.get('port', 22)}"


def _connect_options(ssh: Mapping[str, Any]) -> dict[str, Any]:
    options: dict[str, Any] = {
        "host": ssh["host"],
        "port": int(ssh.get("port") or 22),
        "connect_timeout": float(ssh.get("timeout") or 10.0),
    }
    if ssh.get("user"):
        options["username"] = ssh["user"]
    if ssh.get("key"):
        options["client_keys"] = [str(Path(str(ssh["key"])).expanduser())]
    if ssh.get("known_hosts"):
        options["known_hosts"] = str(Path(str(ssh["known_hosts"])).expanduser())
    return options


async def _connection(ssh: Mapping[str, Any]) -> Any:
    import asyncssh

    where = _where(ssh)
    try:
        return await asyncssh.connect(**_connect_options(ssh))
    except asyncssh.PermissionDenied:
        raise RemoteError(f"SSH to {where}: authentication refused; check target.ssh.user and target.ssh.key") from None
    except asyncssh.HostKeyNotVerifiable as exc:
        raise RemoteError(
            f"SSH to {where}: the device's host key is not known ({exc.reason}); add it with "
            f"`ssh-keyscan -p {ssh.get('port', 22)} {ssh['host']} >> ~/.ssh/known_hosts` after checking it, or set "
            "target.ssh.known_hosts"
        ) from None
    except (OSError, asyncio.TimeoutError, asyncssh.Error) as exc:
        reason = getattr(exc, "strerror", None) or getattr(exc, "reason", None) or str(exc) or type(exc).__name__
        raise RemoteError(f"SSH to {where}: cannot connect ({reason}); is the device up and the port right?") from None


async def _run(conn: Any, command: str, where: str) -> str:
    result = await conn.run(command, check=False)
    if result.exit_status != 0:
        detail = str(result.stderr or result.stdout).strip().splitlines()
        raise RemoteError(f"on {where}: `{command}` failed (exit {result.exit_status}): {' / '.join(detail[-3:])}")
    return str(result.stdout)


async def _probe(conn: Any, ssh: Mapping[str, Any]) -> dict[str, Any]:
    where, python, runtime = _where(ssh), str(ssh.get("python") or "python3"), str(ssh["remote"])
    workdir = str(ssh.get("workdir") or "/tmp/recipecc-bench")
    await _run(conn, f"mkdir -p {shlex.quote(workdir)}", where)
    async with conn.start_sftp_client() as sftp:
        await sftp.put(str(SCRIPT), f"{workdir}/device_bench.py")
    out = await _run(conn, f"cd {shlex.quote(workdir)} && {python} device_bench.py --probe {runtime}", where)
    answer: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    if not answer.get("ok"):
        raise RemoteError(
            f"on {where}: runtime '{runtime}' is not usable with {python} ({answer.get('error')}); install it "
            "on the device or point target.ssh.python at an interpreter that has it"
        )
    return answer


def probe(ssh: Mapping[str, Any]) -> dict[str, Any]:
    """Connect, authenticate and check the runtime imports on the device; raise :class:`RemoteError` if not."""

    async def go() -> dict[str, Any]:
        conn = await _connection(ssh)
        async with conn:
            return await _probe(conn, ssh)

    return asyncio.run(go())


def measure_remote(
    ssh: Mapping[str, Any],
    model_paths: Sequence[Path],
    *,
    precision: str,
    threads: Sequence[int],
    warmup: int,
    repeats: int,
    sample: NDArray[Any] | None,
) -> list[dict[str, Any]]:
    """Latency rows measured on the device (see the module docstring)."""
    if sample is None:
        raise RemoteError("the runner gave no input sample to send to the device")
    digest = hashlib.sha256()
    for path in model_paths:
        digest.update(path.read_bytes())
    folder = f"{ssh.get('workdir') or '/tmp/recipecc-bench'}/{digest.hexdigest()[:16]}"
    config = {
        "runtime": ssh["remote"],
        "model": [path.name for path in model_paths],
        "sample": "sample.npy",
        "threads": [int(t) for t in threads],
        "warmup": warmup,
        "repeats": repeats,
        "precision": precision,
    }
    where, python = _where(ssh), str(ssh.get("python") or "python3")

    async def go() -> dict[str, Any]:
        conn = await _connection(ssh)
        async with conn:
            await _probe(conn, ssh)
            await _run(conn, f"mkdir -p {shlex.quote(folder)}", where)
            with tempfile.TemporaryDirectory() as tmp:
                np.save(Path(tmp) / "sample.npy", np.ascontiguousarray(sample))
                (Path(tmp) / "config.json").write_text(json.dumps(config))
                async with conn.start_sftp_client() as sftp:
                    for path in [*model_paths, SCRIPT, Path(tmp) / "sample.npy", Path(tmp) / "config.json"]:
                        await sftp.put(str(path), f"{folder}/{path.name}")
            out = await _run(conn, f"cd {shlex.quote(folder)} && {python} device_bench.py config.json", where)
            result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
            return result

    result = asyncio.run(go())
    rows = []
    for row in result["rows"]:
        if row["noisy"]:
            log.warning("noisy measurement on %s at %s thread(s): cv %.2f", where, row["threads"], row["cv"])
        rows.append(
            {
                **row,
                "source": "measured-remote",
                "runtime": result["runtime"],
                "remote": {"address": where, **result["device"]},
                "warmup": warmup,
                "repeats": repeats,
                "batch_size": int(sample.shape[0]),
                "clock": "time.perf_counter_ns on the device, per call (input copy + run + output copy)",
            }
        )
    return rows
