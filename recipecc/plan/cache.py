"""Content-addressed artifact cache.

A node's key hashes everything its output depends on: the pass and its version, the resolved parameters, the keys
of its input artifacts (which hash theirs in turn, down to the fingerprints of user files) and the versions of
the tools the pass uses. Same key, same artifact: an unchanged recipe re-runs nothing, and changing one
parameter re-runs only the passes downstream of it.

An entry is a folder ``<root>/<key>/`` holding the pass's files, ``artifact.json`` and ``manifest.json`` (written
last: the size, mtime and sha256 of every file). Passes write into ``<root>/.tmp/<key>.<pid>.<n>/`` and the
finished folder is renamed into place, so a run killed midway leaves no entry that looks complete; the next run
cleans the leftovers and resumes.

Reuse verifies an entry cheaply against its manifest (every file present with its recorded size; a file whose
mtime moved is re-hashed; no file that the pass did not write), ``recipecc cache verify`` re-hashes everything. A
corrupt entry is dropped (one rename) and rebuilt. Runs that share a cache take a lock per key (``filelock``)
around "is it there? else compute and commit", so two runs of one recipe compute each entry once, and a reader
never sees an entry half-replaced.
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

from filelock import FileLock

from recipecc.recipe.files import model_files

__all__ = ["ARTIFACT_FILE", "MANIFEST_FILE", "ArtifactCache", "cache_key", "fingerprint_path", "tool_versions"]

ARTIFACT_FILE = "artifact.json"
MANIFEST_FILE = "manifest.json"
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
        # and every other file the model consists of: a .pdmodel's .pdiparams, an ONNX file's external data
        for extra in model_files(target)[1:]:
            digest.update(f"\0{extra.name}\0{_file_digest(extra)}".encode())
        return "file:" + digest.hexdigest()[:24]
    for item in sorted(target.rglob("*")):
        if item.is_file():
            stat = item.stat()
            digest.update(f"{item.relative_to(target)}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return "dir:" + digest.hexdigest()[:24]


def _file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _manifest(folder: Path) -> dict[str, list[Any]]:
    """``relative path -> [size, mtime_ns, sha256]`` for every file of an entry (the manifest excluded)."""
    table: dict[str, list[Any]] = {}
    for item in sorted(folder.rglob("*")):
        if item.is_file() and item.name != MANIFEST_FILE:
            stat = item.stat()
            table[item.relative_to(folder).as_posix()] = [stat.st_size, stat.st_mtime_ns, _file_digest(item)]
    return table


class ArtifactCache:
    """The folder of finished artifacts, keyed by :func:`cache_key`."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def path(self, key: str) -> Path:
        return self.root / key

    def has(self, key: str) -> bool:
        """An entry that finished (its manifest is written last); :meth:`verify` says whether it is intact."""
        return (self.path(key) / MANIFEST_FILE).is_file() and (self.path(key) / ARTIFACT_FILE).is_file()

    def finished_at(self, key: str) -> float:
        """When an entry was committed (its manifest's mtime, seconds since the epoch)."""
        return (self.path(key) / MANIFEST_FILE).stat().st_mtime

    def lock(self, key: str) -> FileLock:
        """The lock of one key, for "is it there? else compute it" across runs sharing this cache."""
        folder = self.root / ".locks"
        folder.mkdir(parents=True, exist_ok=True)
        return FileLock(str(folder / f"{key}.lock"))

    def verify(self, key: str, *, full: bool = False) -> list[str]:
        """What is wrong with an entry (empty: intact). Cheap unless ``full``: sizes always, and a re-hash of only
        the files whose mtime moved since the manifest was written."""
        folder = self.path(key)
        try:
            recorded: dict[str, list[Any]] = json.loads((folder / MANIFEST_FILE).read_text())["files"]
            json.loads((folder / ARTIFACT_FILE).read_text())
        except (OSError, ValueError, KeyError, TypeError) as exc:
            return [f"unreadable manifest or artifact.json ({type(exc).__name__})"]
        problems: list[str] = []
        present = {
            item.relative_to(folder).as_posix(): item
            for item in folder.rglob("*")
            if item.is_file() and item.name != MANIFEST_FILE
        }
        for name in sorted(set(present) - set(recorded)):
            problems.append(f"{name}: not written by the pass")
        for name, (size, mtime_ns, sha256) in sorted(recorded.items()):
            item = present.get(name)
            if item is None:
                problems.append(f"{name}: missing")
                continue
            stat = item.stat()
            if stat.st_size != size:
                problems.append(f"{name}: {stat.st_size} bytes, {size} when written")
            elif (full or stat.st_mtime_ns != mtime_ns) and _file_digest(item) != sha256:
                problems.append(f"{name}: content changed since it was written")
        return problems

    def drop(self, key: str) -> None:
        """Remove an entry: one rename out of place (readers never see it half-deleted), then delete."""
        final = self.path(key)
        if not final.exists():
            return
        gone = self.root / ".tmp" / f"{key}.{os.getpid()}.{next(_tmp_counter)}.dropped"
        gone.parent.mkdir(parents=True, exist_ok=True)
        os.replace(final, gone)
        shutil.rmtree(gone, ignore_errors=True)

    def keys(self) -> list[str]:
        """Every finished entry."""
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if not p.name.startswith(".") and self.has(p.name))

    def meta(self, key: str) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.path(key) / ARTIFACT_FILE).read_text())
        return data

    def begin(self, key: str) -> Path:
        """A fresh, private folder for a pass to write its output into."""
        tmp = self.root / ".tmp" / f"{key}.{os.getpid()}.{next(_tmp_counter)}"
        tmp.mkdir(parents=True, exist_ok=False)
        return tmp

    def commit(self, tmp: Path, key: str, meta: Mapping[str, Any], replace: bool = False) -> Path:
        """Finish an entry: ``artifact.json``, then ``manifest.json`` last, then move the folder into place
        atomically.

        ``replace`` swaps out an existing entry (a re-measurement); otherwise an entry that a concurrent run
        finished first is kept, being as good as ours.
        """
        (tmp / ARTIFACT_FILE).write_text(json.dumps(dict(meta), indent=2, sort_keys=True, default=str))
        staging = tmp / (MANIFEST_FILE + ".part")
        staging.write_text(json.dumps({"version": 1, "files": _manifest(tmp)}, indent=1, sort_keys=True))
        staging.rename(tmp / MANIFEST_FILE)
        final = self.path(key)
        if final.exists():
            if not replace and self.has(key):
                shutil.rmtree(tmp, ignore_errors=True)
                return final
            retired = tmp.with_name(tmp.name + ".retired")
            # the old entry leaves in one rename; a crash here loses only it. Runs of recipecc read an entry
            # holding its key's lock, as the replacing run does, so none sees the moment between the renames.
            os.replace(final, retired)
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
