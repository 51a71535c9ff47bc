"""The SSH measurer for real: an asyncssh server on 127.0.0.1 with throwaway keys runs commands in a shell and serves
SFTP, like a device would; recipecc copies the model there, measures with ONNX Runtime and brings the rows back."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from onnx_models import conv_model

from recipecc.plan import build_plan
from recipecc.recipe import compose_recipe, validate_recipe
from recipecc.recipe.errors import RecipeError

asyncssh = pytest.importorskip("asyncssh")
ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Device:
    port: int
    key: Path
    known_hosts: Path
    other_key: Path


async def _shell(process: Any) -> None:
    """Run the client's command in a shell, like sshd does, and return its output and exit status."""
    proc = await asyncio.create_subprocess_shell(
        process.command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await proc.communicate()
    process.stdout.write(out.decode())
    process.stderr.write(err.decode())
    process.exit(proc.returncode or 0)


@pytest.fixture(scope="module")
def device(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Device]:
    folder = tmp_path_factory.mktemp("ssh")
    host_key = asyncssh.generate_private_key("ssh-ed25519")
    client_key = asyncssh.generate_private_key("ssh-ed25519")
    stranger = asyncssh.generate_private_key("ssh-ed25519")
    (folder / "id").write_bytes(client_key.export_private_key())
    (folder / "stranger").write_bytes(stranger.export_private_key())
    os.chmod(folder / "id", 0o600)
    os.chmod(folder / "stranger", 0o600)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    (folder / "known_hosts").write_text(f"[127.0.0.1]:{port} {host_key.export_public_key().decode().strip()}\n")

    loop = asyncio.new_event_loop()
    ready = threading.Event()
    server: list[Any] = []

    async def start() -> None:
        server.append(
            await asyncssh.create_server(
                asyncssh.SSHServer,
                "127.0.0.1",
                port,
                server_host_keys=[host_key],
                authorized_client_keys=asyncssh.import_authorized_keys(client_key.export_public_key().decode()),
                process_factory=_shell,
                sftp_factory=True,
            )
        )
        ready.set()

    thread = threading.Thread(target=lambda: (loop.run_until_complete(start()), loop.run_forever()), daemon=True)
    thread.start()
    assert ready.wait(10), "the test SSH server did not start"
    yield Device(port, folder / "id", folder / "known_hosts", folder / "stranger")
    loop.call_soon_threadsafe(server[0].close)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)


def ssh_overrides(device: Device, *, key: Path | None = None, port: int | None = None) -> list[str]:
    return [
        "target.measurer=measured-remote",
        "target.ssh.host=127.0.0.1",
        f"target.ssh.port={port or device.port}",
        f"target.ssh.user={os.environ.get('USER', 'root')}",
        f"target.ssh.key={key or device.key}",
        f"target.ssh.known_hosts={device.known_hosts}",
        f"target.ssh.python={sys.executable}",
        "target.ssh.timeout=5",
    ]


def file_recipe(path: Path, image_dir: Path) -> list[str]:
    return [
        "target=host_ort", "model=file", f"model.path={path}", "dataset=image_folder", f"dataset.root={image_dir}",
        "dataset.size=[16,16]", "dataset.calibration_images=12", "dataset.eval_images=12", "strategy=none",
        "bench.warmup=3", "bench.repeats=20",
    ]  # fmt: skip


def plan_error(*overrides: str) -> str:
    """What ``recipecc plan`` says (exit code 2 expected), in a fresh process as a user would see it."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-m", "recipecc.cli", "plan", *overrides], capture_output=True, text=True, env=env, timeout=120
    )
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    return proc.stderr


def test_plan_probes_the_device_and_names_what_is_wrong(device: Device, tmp_path: Path, image_dir: Path) -> None:
    model = conv_model(tmp_path / "m.onnx")
    base = file_recipe(model, image_dir)
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        dead_port = closed.getsockname()[1]
    assert "cannot connect" in plan_error(*base, *ssh_overrides(device, port=dead_port))
    assert "authentication refused" in plan_error(*base, *ssh_overrides(device, key=device.other_key))
    no_runtime = [*ssh_overrides(device)[:-2], "target.ssh.python=/nonexistent/python3", "target.ssh.timeout=5"]
    message = plan_error(*base, *no_runtime)
    assert "/nonexistent/python3" in message and "failed" in message
    unknown = tmp_path / "empty_known_hosts"
    unknown.write_text("")
    message = plan_error(
        *base, *ssh_overrides(device)[:-3], f"target.ssh.known_hosts={unknown}", "target.ssh.timeout=5"
    )
    assert "host key is not known" in message


def test_measured_over_ssh_end_to_end(device: Device, tmp_path: Path, image_dir: Path) -> None:
    from recipecc.engine import run_recipe

    model = conv_model(tmp_path / "m.onnx")
    overrides = [*file_recipe(model, image_dir), *ssh_overrides(device), f"cache_dir={tmp_path / 'cache'}"]
    recipe = validate_recipe(compose_recipe(overrides))
    remote_keys = [n.key for n in build_plan(recipe).bench_nodes]
    local = validate_recipe(compose_recipe([*file_recipe(model, image_dir), f"cache_dir={tmp_path / 'cache'}"]))
    assert not set(remote_keys) & {n.key for n in build_plan(local).bench_nodes}  # never shares a host figure
    run_recipe(recipe, tmp_path / "run")
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    rows = results["stages"][0]["latency"]
    assert [row["threads"] for row in rows] == [1, 2]
    for row in rows:
        assert row["source"] == "measured-remote" and row["runtime"].startswith("ONNX Runtime")
        assert (row["warmup"], row["repeats"]) == (3, 20)
        assert 0 < row["median_ms"] <= row["p90_ms"] and row["cv"] >= 0 and isinstance(row["noisy"], bool)
        assert row["remote"]["address"].endswith(f"127.0.0.1:{device.port}")
    assert results["latency_table"]["sources"] == ["measured-remote"]
    assert "measured-remote" in (tmp_path / "run" / "report.md").read_text()


def test_measured_remote_needs_a_runtime_it_can_drive() -> None:
    with pytest.raises(RecipeError, match="cannot be measured over SSH"):
        validate_recipe(compose_recipe(["target=rb5_cpu", "target.ssh.host=10.0.0.9"]))
