"""Content-addressed artifact cache.

A node's key hashes everything its output depends on: the pass and its version, the resolved parameters, the keys
of its input artifacts (which hash theirs in turn, down to the fingerprints of user files) and the versions of
the tools the pass uses. Same key, same artifact: an unchanged recipe re-runs nothing, and changing one
parameter re-runs only the passes downstream of it.

An entry is a folder ``<root>/<key>/`` holding the pass's files and ``artifact.json`` (written last). Passes
write into ``<root>/.tmp/<key>.<pid>.<n>/`` and the finished folder is renamed into place, so a run killed midway
leaves no entry that looks complete; the next run cleans the leftovers and resumes.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Iterable, Mapping
from functools import cache
from importlib import metadata
from itertools import count
from pathlib import Path
from typing import Any

__all__ = ["ARTIFACT_FILE", "ArtifactCache", "cache_key", "fingerprint_path", "tool_versions"]

ARTIFACT_FILE = "artifact.json"
_tmp_counter = count()


@cache
def _distribution_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not-installed"


def tool_versions(tools: Iterable[str]) -> dict[str, str]:
    """Installed versions of the distributions a pass depends on (read from metadata, nothing is imported)."""
    return {name: _distribution_version(name) for name in sorted(tools)}


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def cache_key(
    pass_name: str,
    pass_version: int,
    params: Mapping[str, Any],
    input_keys: Mapping[str, str],
    tools: Mapping[str, str],
) -> str:
    """The content address of a pass's output (hex sha256, first 24 characters)."""
    payload = {
        "pass": pass_name,
        "version": pass_version,
        "params": params,
        "inputs": dict(input_keys),
        "tools": dict(tools),
    }
    return hashlib.sha256(canonical_json(payload).encode()).hexdigest()[:24]


def fingerprint_path(path: str | Path) -> str:
    """A fingerprint of a user's file or folder: content hash for files; names, sizes and mtimes for folders.

    Folders (image datasets) can hold gigabytes; their listing is fingerprinted instead of every byte.
    """
    target = Path(path).expanduser().resolve()
    digest = hashlib.sha256()
    if target.is_file():
        with target.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        return "file:" + digest.hexdigest()[:24]
    for item in sorted(target.rglob("*")):
        if item.is_file():
            stat = item.stat()
            digest.update(f"{item.relative_to(target)}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return "dir:" + digest.hexdigest()[:24]


class ArtifactCache:
    """The folder of finished artifacts, keyed by :func:`cache_key`."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def path(self, key: str) -> Path:
        return self.root / key

    def has(self, key: str) -> bool:
        return (self.path(key) / ARTIFACT_FILE).is_file()

    def meta(self, key: str) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.path(key) / ARTIFACT_FILE).read_text())
        return data

    def begin(self, key: str) -> Path:
        """A fresh, private folder for a pass to write its output into."""
        tmp = self.root / ".tmp" / f"{key}.{os.getpid()}.{next(_tmp_counter)}"
        tmp.mkdir(parents=True, exist_ok=False)
        return tmp

    def commit(self, tmp: Path, key: str, meta: Mapping[str, Any], replace: bool = False) -> Path:
        """Finish an entry: write ``artifact.json`` last, then move the folder into place atomically.

        ``replace`` swaps out an existing entry (a re-measurement); otherwise an entry that a concurrent run
        finished first is kept, being as good as ours.
        """
        staging = tmp / (ARTIFACT_FILE + ".part")
        staging.write_text(json.dumps(dict(meta), indent=2, sort_keys=True, default=str))
        staging.rename(tmp / ARTIFACT_FILE)
        final = self.path(key)
        if final.exists():
            if not replace:
                shutil.rmtree(tmp, ignore_errors=True)
                return final
            retired = tmp.with_name(tmp.name + ".retired")
            os.replace(final, retired)  # the old entry leaves in one rename; a crash here loses only a measurement
            os.replace(tmp, final)
            shutil.rmtree(retired, ignore_errors=True)
            return final
        os.replace(tmp, final)
        return final

    def abandon(self, tmp: Path) -> None:
        shutil.rmtree(tmp, ignore_errors=True)

    def clean_stale(self) -> list[Path]:
        """Remove temp folders of runs that are no longer alive (killed midway)."""
        removed: list[Path] = []
        tmp_root = self.root / ".tmp"
        if not tmp_root.is_dir():
            return removed
        for entry in tmp_root.iterdir():
            parts = entry.name.split(".")
            pid = int(parts[1]) if len(parts) >= 3 and parts[1].isdigit() else -1
            if pid == os.getpid() or _alive(pid):
                continue
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry)
        return removed


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
