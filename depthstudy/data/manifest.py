"""Dataset manifests (``data_manifests/*.yaml``): load, verify files on disk, fetch with resume.

A manifest lists the files of a dataset relative to a user-chosen ``root`` folder; the format is
described in ``data_manifests/README.md``. Each entry of ``files`` has ``name`` (path below
root) and optionally ``kind`` (``file``, the default, or ``dir``), ``url``, ``mirrors``,
``bytes``, ``sha256``, ``lines`` (non-empty lines of a text list) and ``obtain`` (how to get it
by hand).

:func:`verify` checks presence, size, line count and SHA-256 and raises
:class:`DataVerificationError` listing every problem. :func:`fetch` downloads what is missing or
invalid:

- into ``<file>.part``; a ``.part`` left by an interrupted run is resumed with an HTTP Range
  request (a server that ignores Range sends the whole file, which restarts the ``.part``);
- size and SHA-256 are checked before an atomic rename onto ``<file>``;
- a file already present and valid is never touched;
- decision: a checksum mismatch, or a present file that fails verification, is moved to
  ``<file>.bad`` (replacing an older one) rather than deleted, so the user can inspect it, and
  the next fetch starts afresh instead of resuming corrupt bytes. A present invalid file is moved
  only once its replacement has been downloaded and verified: a fetch that fails (no network)
  leaves it in place (Decision X19). A short ``.part`` is kept for resuming;
- without network (URLError, socket errors) it raises :class:`DataFetchError` naming the URL and
  the manual route.

``cli_verify`` and ``cli_fetch`` print a report and return an exit code for the command line.
"""

from __future__ import annotations

import http.client
import os
import re
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import yaml
from tqdm.auto import tqdm

from ..io import sha256_file
from ..paths import manifests_dir

FILE_KINDS = ("file", "dir")
CHUNK = 1 << 20
TIMEOUT_S = 60.0

__all__ = [
    "DataFetchError", "DataVerificationError", "FileStatus", "UnknownManifestError",
    "available_manifests", "cli_fetch", "cli_verify", "fetch", "load_manifest", "verify",
]


class UnknownManifestError(ValueError):
    """A manifest name that is not in the manifests folder."""


class DataVerificationError(RuntimeError):
    """Files on disk do not match their manifest; ``statuses`` holds every :class:`FileStatus`."""

    def __init__(self, message: str, statuses: list["FileStatus"]) -> None:
        super().__init__(message)
        self.statuses = statuses


class DataFetchError(RuntimeError):
    """A download could not be completed (no network, HTTP error, size or checksum mismatch)."""


@dataclass
class FileStatus:
    """What :func:`verify` found for one manifest entry."""

    name: str
    path: Path
    kind: str
    exists: bool
    size: int | None = None
    expected_bytes: int | None = None
    sha256: str | None = None
    expected_sha256: str | None = None
    lines: int | None = None
    expected_lines: int | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def available_manifests(manifest_dir: str | os.PathLike | None = None) -> list[str]:
    """Names of the manifests (``<name>.yaml``) in ``manifest_dir`` (default: the project's)."""
    folder = Path(manifest_dir) if manifest_dir is not None else manifests_dir()
    return sorted(p.stem for p in folder.glob("*.yaml")) if folder.is_dir() else []


def _manifest_path(name: str | os.PathLike, manifest_dir: str | os.PathLike | None) -> Path:
    candidate = Path(name)
    if candidate.suffix in (".yaml", ".yml") and candidate.is_file():
        return candidate
    folder = Path(manifest_dir) if manifest_dir is not None else manifests_dir()
    path = folder / f"{name}.yaml"
    if not path.is_file():
        valid = available_manifests(folder)
        raise UnknownManifestError(f"unknown dataset manifest {str(name)!r}; valid names: {valid or 'none'} "
                                   f"(in {folder})")
    return path


def _check_entry_fields(path: Path, i: int, entry: Any) -> None:
    where = f"{path}: files[{i}]"
    if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
        raise ValueError(f"{where}: expected a mapping with a string 'name'; got {entry!r}")
    if entry.get("kind", "file") not in FILE_KINDS:
        raise ValueError(f"{where}: kind={entry.get('kind')!r}; expected one of {FILE_KINDS}")
    for key in ("bytes", "lines"):
        if entry.get(key) is not None and not isinstance(entry[key], int):
            raise ValueError(f"{where}: {key}={entry[key]!r}; expected an integer or null")
    sha = entry.get("sha256")
    if sha is not None and not (isinstance(sha, str) and re.fullmatch(r"[0-9a-f]{64}", sha)):
        raise ValueError(f"{where}: sha256={sha!r}; expected 64 lowercase hex digits or null")


def load_manifest(name: str | os.PathLike, manifest_dir: str | os.PathLike | None = None) -> dict[str, Any]:
    """Load and check a manifest by name (``nyuv2``) or by the path of a ``.yaml`` file.

    Raises:
        UnknownManifestError: no such name; the message lists the valid names.
        ValueError: the YAML does not have the manifest format (message names file and field).
    """
    path = _manifest_path(name, manifest_dir)
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not isinstance(data.get("files"), list) or "name" not in data:
        raise ValueError(f"{path}: expected a mapping with 'name' and a list 'files'")
    for i, entry in enumerate(data["files"]):
        _check_entry_fields(path, i, entry)
    return data


def _hash(path: Path, progress: bool) -> str:
    if not progress:
        return sha256_file(path, CHUNK)
    with tqdm(total=path.stat().st_size, unit="B", unit_scale=True, unit_divisor=1024,
              desc=f"sha256 {path.name}") as bar:
        return sha256_file(path, CHUNK, on_chunk=bar.update)


def _count_lines(path: Path) -> int:
    with open(path, "rb") as fh:
        return sum(1 for line in fh if line.strip())


def _check_entry(entry: dict[str, Any], root: Path, checksums: bool, progress: bool) -> FileStatus:
    kind = entry.get("kind", "file")
    path = root / entry["name"]
    st = FileStatus(entry["name"], path, kind, exists=path.is_dir() if kind == "dir" else path.is_file(),
                    expected_bytes=entry.get("bytes"), expected_sha256=entry.get("sha256"),
                    expected_lines=entry.get("lines"))
    if not st.exists:
        st.problems.append(f"missing {kind} {path}")
        return st
    if kind == "dir":
        return st
    st.size = path.stat().st_size
    if st.expected_bytes is not None and st.size != st.expected_bytes:
        st.problems.append(f"size {st.size} bytes, expected {st.expected_bytes}")
        return st
    if st.expected_lines is not None:
        st.lines = _count_lines(path)
        if st.lines != st.expected_lines:
            st.problems.append(f"{st.lines} non-empty lines, expected {st.expected_lines}")
    if checksums and st.expected_sha256 is not None:
        st.sha256 = _hash(path, progress)
        if st.sha256 != st.expected_sha256:
            st.problems.append(f"sha256 {st.sha256}, expected {st.expected_sha256}")
    return st


def verify(name: str | os.PathLike, root: str | os.PathLike, checksums: bool = True, progress: bool = False,
           manifest_dir: str | os.PathLike | None = None) -> list[FileStatus]:
    """Check every manifest entry under ``root``: presence, size, line count, SHA-256.

    Returns one :class:`FileStatus` per entry when all are fine; otherwise raises
    :class:`DataVerificationError` whose message lists every problem (``.statuses`` has them all).
    ``checksums=False`` skips the SHA-256 (about 10 s per GB).
    """
    manifest = load_manifest(name, manifest_dir)
    root = Path(root)
    statuses = [_check_entry(e, root, checksums, progress) for e in manifest["files"]]
    problems = [f"  {s.name}: {p}" for s in statuses for p in s.problems]
    if problems:
        raise DataVerificationError(
            f"dataset {manifest['name']!r} under {root}: {len(problems)} problem(s)\n" + "\n".join(problems)
            + f"\nRun `depthstudy data fetch {manifest['name']} --root {root}` or see data_manifests/"
              f"{manifest['name']}.yaml for how to obtain the files.", statuses)
    return statuses


def _manual_hint(entry: dict[str, Any], root: Path, dataset: str) -> str:
    facts = [f"{k} {entry[k]}" for k in ("bytes", "sha256") if entry.get(k) is not None]
    hint = f"download it by hand into {root / entry['name']}"
    if facts:
        hint += f" ({', '.join(facts)})"
    if entry.get("obtain"):
        hint += f"; {entry['obtain']}"
    return hint + f", then run `depthstudy data verify {dataset} --root {root}`"


def _set_aside(src: Path, final: Path) -> Path:
    """Move ``src`` (``final`` or its ``.part``) to ``<final>.bad``, replacing an older one."""
    bad = final.with_name(final.name + ".bad")
    os.replace(src, bad)
    return bad


def _content_range_start(header: str | None) -> int | None:
    m = re.match(r"bytes (\d+)-", header or "")
    return int(m.group(1)) if m else None


def _stream(url: str, part: Path, expected: int | None, opener: Callable[..., Any], progress: bool,
            timeout: float) -> None:
    """Download ``url`` into ``part``, resuming from its current size with a Range request."""
    offset = part.stat().st_size if part.exists() else 0
    headers = {"User-Agent": "depthstudy-fetch"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    try:
        with opener(urllib.request.Request(url, headers=headers), timeout=timeout) as resp:
            status = resp.status
            if offset and status == 206 and _content_range_start(resp.headers.get("Content-Range")) != offset:
                raise DataFetchError(f"{url}: the server answered the Range request for byte {offset} with "
                                     f"Content-Range {resp.headers.get('Content-Range')!r}")
            if offset and status != 206:
                offset = 0  # the server ignored Range: it sends the whole file
            with open(part, "ab" if offset else "wb") as out, tqdm(
                    total=expected, initial=offset, unit="B", unit_scale=True, unit_divisor=1024,
                    desc=part.name[: -len(".part")], disable=not progress) as bar:
                for chunk in iter(lambda: resp.read(CHUNK), b""):
                    out.write(chunk)
                    bar.update(len(chunk))
    except urllib.error.HTTPError as err:
        raise DataFetchError(f"{url}: HTTP {err.code} {err.reason}") from err
    except (urllib.error.URLError, http.client.HTTPException, ConnectionError, TimeoutError) as err:
        reason = getattr(err, "reason", err)
        kept = part.stat().st_size if part.exists() else 0
        raise DataFetchError(f"could not download {url} ({reason}); {kept} bytes kept in {part} "
                             "(a rerun resumes)") from err


def _download(entry: dict[str, Any], root: Path, dataset: str, opener: Callable[..., Any], progress: bool,
              checksums: bool, timeout: float, replaces: bool = False) -> Path:
    """Download one entry into ``<file>.part``, verify it and rename it onto ``<file>``; with
    ``replaces`` the invalid file already there is moved to ``<file>.bad`` just before the rename."""
    path = root / entry["name"]
    part = path.with_name(path.name + ".part")
    expected, sha = entry.get("bytes"), entry.get("sha256")
    path.parent.mkdir(parents=True, exist_ok=True)
    if part.exists() and expected is not None and part.stat().st_size > expected:
        part.unlink()
    if not (expected is not None and part.exists() and part.stat().st_size == expected):
        errors = []
        for url in [entry["url"], *entry.get("mirrors", [])]:
            try:
                _stream(url, part, expected, opener, progress, timeout)
                break
            except DataFetchError as err:
                errors.append(str(err))
        else:
            raise DataFetchError("\n  ".join([f"{entry['name']}:", *errors, _manual_hint(entry, root, dataset)]))
    size = part.stat().st_size
    if expected is not None and size != expected:
        if size < expected:
            raise DataFetchError(f"{entry['name']}: download stopped at {size} of {expected} bytes; "
                                 f"{part} is kept and a rerun resumes it")
        raise DataFetchError(f"{entry['name']}: got {size} bytes, expected {expected}; "
                             f"the download is kept as {_set_aside(part, path)}")
    if checksums and sha is not None:
        got = _hash(part, progress)
        if got != sha:
            source = f" (reference checksum: {entry['checksum_source']})" if entry.get("checksum_source") else ""
            raise DataFetchError(f"{entry['name']}: sha256 {got} does not match the manifest's {sha}{source}; "
                                 f"the download is kept as {_set_aside(part, path)} and the next fetch starts afresh")
    if replaces and path.exists():
        print(f"{entry['name']}: the invalid file is moved to {_set_aside(path, path)}", file=sys.stderr)
    os.replace(part, path)
    return path


def fetch(name: str | os.PathLike, root: str | os.PathLike, progress: bool = True,
          urlopen: Callable[..., Any] | None = None, checksums: bool = True,
          manifest_dir: str | os.PathLike | None = None, timeout: float = TIMEOUT_S) -> list[Path]:
    """Download every missing or invalid file of a manifest into ``root``; return the downloaded paths.

    Files already present and valid are left alone and are not in the returned list. ``urlopen``
    replaces :func:`urllib.request.urlopen` (called as ``urlopen(request, timeout=...)``).
    ``checksums=False`` checks sizes only (for a reference checksum that is in doubt).

    Raises:
        DataFetchError: after trying every file, listing each that could not be obtained (no
            network, HTTP error, size or checksum mismatch, entries with no URL) and the manual way.
    """
    manifest = load_manifest(name, manifest_dir)
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    opener = urlopen or urllib.request.urlopen
    downloaded, problems = [], []
    for entry in manifest["files"]:
        status = _check_entry(entry, root, checksums, progress)
        if status.ok:
            continue
        if status.kind == "dir" or not entry.get("url"):
            hint = _manual_hint(entry, root, manifest["name"])
            problems.append(f"{entry['name']}: cannot be downloaded automatically; {hint}")
            continue
        if status.exists:
            print(f"{entry['name']}: {'; '.join(status.problems)}; downloading a replacement", file=sys.stderr)
        try:
            downloaded.append(_download(entry, root, manifest["name"], opener, progress, checksums, timeout,
                                        replaces=status.exists))
        except DataFetchError as err:
            problems.append(str(err) + (f"\n  {status.path} is left as it was" if status.exists else ""))
    if problems:
        raise DataFetchError(f"dataset {manifest['name']!r}: {len(problems)} file(s) not obtained\n"
                             + "\n".join(problems))
    return downloaded


def _describe(st: FileStatus) -> str:
    if st.kind == "dir":
        return "directory present" if st.exists else "directory missing"
    parts = [f"{st.size} bytes" if st.size is not None else "missing"]
    if st.lines is not None:
        parts.append(f"{st.lines} lines")
    if st.sha256 is not None:
        parts.append("sha256 " + ("ok" if st.sha256 == st.expected_sha256 else "MISMATCH"))
    return ", ".join(parts)


def _print_report(statuses: list[FileStatus], out: Any) -> None:
    for st in statuses:
        tag = "OK" if st.ok else "PROBLEM"
        print(f"  {tag:8s} {st.name}: {_describe(st)}", file=out)
        for p in st.problems:
            print(f"           - {p}", file=out)


def cli_verify(name: str, root: str | os.PathLike, checksums: bool = True,
               manifest_dir: str | os.PathLike | None = None) -> int:
    """``depthstudy data verify NAME --root DIR``: print a report; 0 all fine, 1 problems, 2 bad name."""
    try:
        statuses = verify(name, root, checksums=checksums, progress=True, manifest_dir=manifest_dir)
    except UnknownManifestError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except DataVerificationError as err:
        print(f"dataset {name!r} under {root}:")
        _print_report(err.statuses, sys.stdout)
        print(str(err).splitlines()[-1])
        return 1
    print(f"dataset {name!r} under {root}: all {len(statuses)} entries verified")
    _print_report(statuses, sys.stdout)
    return 0


def cli_fetch(name: str, root: str | os.PathLike, checksums: bool = True,
              manifest_dir: str | os.PathLike | None = None) -> int:
    """``depthstudy data fetch NAME --root DIR``: download, print a report; 0 fine, 1 problems, 2 bad name."""
    try:
        downloaded = fetch(name, root, progress=True, checksums=checksums, manifest_dir=manifest_dir)
    except UnknownManifestError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except DataFetchError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    for path in downloaded:
        print(f"  downloaded {path}")
    print(f"dataset {name!r} under {root}: complete ({len(downloaded)} file(s) downloaded)")
    return 0
