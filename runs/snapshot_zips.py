"""Snapshots from one zip, as a browser or curl sends them: the zip is checked whole (kinds of
entry, paths, limits, .amlignore / .gitignore rules) before anything is stored, and the git
facts of a .git folder inside it (remote, branch, commit, dirty) are read without trusting it.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import zipfile
import zlib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from django.conf import settings
from django.db import transaction

from mlstudio.errors import UserError
from mlstudio.paths import clean_relative_path, confined
from mlstudio.sdk._git import without_credentials
from mlstudio.sdk._ignore import IgnoreRules
from runs import quotas
from runs.blobs import blob_put, blobs_present, copy_hashed, scratch_dir
from runs.models import Blob, Snapshot
from runs.snapshots import (
    DEFAULT_MODE,
    _limits_check,
    _snapshot_save,
    _tree_check,
    human_size,
)
from workspaces.models import Workspace

COMMIT = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
# A zip may carry .git and ignored files beside the snapshot, so it may be larger than one.
ZIP_UPLOAD_FACTOR = 2
MAX_IGNORE_FILE = 1024 * 1024
MAX_GIT_TEXT = 1024 * 1024
GIT_TIMEOUT_SECONDS = 60


# --- zips ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _ZipEntry:
    info: zipfile.ZipInfo
    path: str
    mode: int

    @property
    def has_unix_mode(self) -> bool:
        return self.info.external_attr >> 16 != 0


@dataclass(frozen=True)
class _ZipPlan:
    files: list[_ZipEntry]
    ignored: list[str]
    git: list[_ZipEntry]


_REFUSED_KINDS = {
    stat.S_IFLNK: "a symbolic link",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFIFO: "a FIFO (named pipe)",
    stat.S_IFSOCK: "a socket",
}
_FROM_INSIDE = "zip the folder's contents from inside it: cd folder && zip -r ../code.zip ."


def snapshot_create_from_zip(
    *, workspace: Workspace, user, archive: BinaryIO
) -> tuple[Snapshot, int]:
    """A snapshot from one zip; returns it with the number of files the ignore rules left out.

    Every entry is checked before anything is stored, and one bad entry (outside the folder,
    a link, a device) refuses the whole zip. Sizes are checked as declared before extracting
    and counted while extracting, so a zip bomb stops at the limit.
    """
    with scratch_dir() as scratch, _zip_open(archive, scratch) as opened:
        plan = _zip_plan(opened)
        tree = scratch / "tree"
        tree.mkdir()
        entries = _zip_extract(opened, plan, tree)
        git = _zip_git(opened, plan, tree)
        sizes = {e["sha256"]: e["size"] for e in entries}
        new = _within_quota(workspace, sizes)
        for entry in entries:
            blob_put(sha256=entry["sha256"], path=tree / entry["path"], size=entry["size"])
        with transaction.atomic():
            Blob.objects.bulk_create(
                [Blob(workspace=workspace, sha256=s, size=n) for s, n in sizes.items()],
                ignore_conflicts=True,
            )
            snapshot = _snapshot_save(workspace=workspace, user=user, entries=entries, git=git)
        quotas.workspace_stored(workspace=workspace, size=new)
    return snapshot, len(plan.ignored)


def _within_quota(workspace: Workspace, sizes: dict[str, int]) -> int:
    """The bytes the zip adds to the workspace (bodies it did not hold yet), refused with a
    413 before anything is stored when they do not fit its quota."""
    known = blobs_present(workspace, set(sizes))
    new = sum(size for sha256, size in sizes.items() if sha256 not in known)
    room = quotas.workspace_room(workspace=workspace)
    if new > room:
        raise quotas.over_quota(workspace=workspace, room=room)
    return new


@contextmanager
def _zip_open(archive: BinaryIO, scratch: Path) -> Iterator[zipfile.ZipFile]:
    limit = ZIP_UPLOAD_FACTOR * settings.MLSTUDIO_SNAPSHOT_MAX_BYTES
    too_big = (
        f"The zip is over {human_size(limit)} (twice MLSTUDIO_SNAPSHOT_MAX_BYTES, leaving room "
        "for .git and ignored files). Leave large data out of the zip, or raise that setting."
    )
    if getattr(archive, "seekable", lambda: False)():
        archive.seek(0, os.SEEK_END)
        if archive.tell() > limit:
            raise UserError(too_big)
        archive.seek(0)
        source: BinaryIO | Path = archive
    else:
        source = scratch / "upload.zip"
        with source.open("wb") as spooled:
            copy_hashed(archive, spooled, limit=limit, too_big=too_big)
    try:
        opened = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, EOFError) as exc:
        raise UserError(
            f"The upload is not a readable zip file ({exc}). Send a .zip made with "
            "`zip -r code.zip .` or your file manager's Compress command."
        ) from None
    with opened:
        yield opened


def _zip_plan(archive: zipfile.ZipFile) -> _ZipPlan:
    """Check every entry, split off .git, apply the ignore rules and the declared sizes."""
    candidates, git = [], []
    for info in archive.infolist():
        entry = _zip_entry(info)
        if entry is None:
            continue
        parts = entry.path.split("/")
        if parts[0] == ".git" and len(parts) > 1:
            git.append(entry)
        elif ".git" not in parts:
            candidates.append(entry)
    spec = _ignore_spec(archive, candidates)
    files = [e for e in candidates if spec is None or not spec.ignores(e.path, is_dir=False)]
    ignored = [e.path for e in candidates if spec is not None and spec.ignores(e.path, False)]
    _tree_check([e.path for e in files])
    _limits_check([{"path": e.path, "size": e.info.file_size} for e in files])
    return _ZipPlan(files=files, ignored=ignored, git=git)


def _zip_entry(info: zipfile.ZipInfo) -> _ZipEntry | None:
    """The entry as a file to take, None for a folder; UserError for anything unsafe."""
    name = info.filename
    unix_mode = info.external_attr >> 16
    kind = stat.S_IFMT(unix_mode)
    if kind in _REFUSED_KINDS:
        _zip_refuse(
            name,
            f"it is {_REFUSED_KINDS[kind]}",
            "zip the files themselves (zip stores links only when given -y)",
        )
    if "\\" in name:
        _zip_refuse(name, "its name contains a backslash", "make the zip with `zip -r`")
    if name.startswith("/") or re.match(r"[A-Za-z]:", name):
        _zip_refuse(name, "its name is absolute", _FROM_INSIDE)
    if ".." in name.split("/"):
        _zip_refuse(name, "its name contains '..', which leads outside the folder", _FROM_INSIDE)
    if info.is_dir() or kind == stat.S_IFDIR:
        return None
    if info.flag_bits & 0x1:
        _zip_refuse(name, "it is encrypted", "make the zip without a password")
    try:
        path = clean_relative_path(name, what="zip entry")
    except UserError as exc:
        raise UserError(f"{exc.message} Nothing was stored; make the zip without it.") from None
    return _ZipEntry(info=info, path=path, mode=unix_mode & 0o777 or DEFAULT_MODE)


def _zip_refuse(name: str, problem: str, way_out: str) -> None:
    raise UserError(f"The zip entry {name!r} is refused: {problem}. Nothing was stored; {way_out}.")


@contextmanager
def _zip_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> Iterator[BinaryIO]:
    try:
        with archive.open(info) as member:
            yield member
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as exc:
        raise UserError(
            f"The zip entry {info.filename!r} cannot be read ({exc}). Nothing was stored; "
            "make the zip again."
        ) from None


def _zip_read(archive: zipfile.ZipFile, info: zipfile.ZipInfo | None, *, limit: int) -> str:
    """A small text member, or "" when it is absent or larger than `limit`."""
    if info is None or info.file_size > limit:
        return ""
    with _zip_member(archive, info) as member:
        return member.read(limit).decode("utf-8", "replace")


def _ignore_spec(archive: zipfile.ZipFile, candidates: list[_ZipEntry]) -> IgnoreRules | None:
    """Rules from a top-level .amlignore, else a top-level .gitignore; None without either."""
    by_path = {e.path: e for e in candidates}
    rules = by_path.get(".amlignore") or by_path.get(".gitignore")
    if rules is None:
        return None
    if rules.info.file_size > MAX_IGNORE_FILE:
        raise UserError(
            f"{rules.path} is over {human_size(MAX_IGNORE_FILE)}; keep it to patterns, one a line."
        )
    text = _zip_read(archive, rules.info, limit=MAX_IGNORE_FILE)
    # The SDK's engine, so a zip and a folder submitted from the SDK leave out the same files.
    return IgnoreRules.from_lines(text.removeprefix("\ufeff").split("\n"))


def _zip_extract(archive: zipfile.ZipFile, plan: _ZipPlan, tree: Path) -> list[dict]:
    """Extract the kept files into `tree`, hashing them; their manifest entries, sorted."""
    entries = []
    for entry in plan.files:
        target = _tree_file(tree, entry.path)
        too_big = (
            f"The zip entry {entry.info.filename!r} holds more bytes than it declares. "
            "Nothing was stored; make the zip again."
        )
        with _zip_member(archive, entry.info) as member, target.open("xb") as out:
            sha256, size = copy_hashed(member, out, limit=entry.info.file_size, too_big=too_big)
        # Owner read/write keeps the copy movable; the exec bit keeps `git status` honest.
        target.chmod(entry.mode | 0o600)
        entries.append({"path": entry.path, "size": size, "sha256": sha256, "mode": entry.mode})
    return sorted(entries, key=lambda e: e["path"])


def _tree_file(tree: Path, path: str) -> Path:
    target = confined(tree, path, what="zip entry")
    target.parent.mkdir(parents=True, exist_ok=True)
    return target


# --- git facts from a zip ------------------------------------------------------------------


def _zip_git(archive: zipfile.ZipFile, plan: _ZipPlan, tree: Path) -> dict:
    """repository_uri, branch, commit and dirty from a top-level .git folder; {} without."""
    if not plan.git:
        return {}
    files = {e.path.removeprefix(".git/"): e.info for e in plan.git}
    head = _zip_read(archive, files.get("HEAD"), limit=MAX_GIT_TEXT).strip()
    branch = commit = None
    if head.startswith("ref:"):
        ref = head.removeprefix("ref:").strip()
        branch = ref.removeprefix("refs/heads/") if ref.startswith("refs/heads/") else None
        commit = _zip_read(archive, files.get(ref), limit=MAX_GIT_TEXT).strip() or _packed_ref(
            _zip_read(archive, files.get("packed-refs"), limit=MAX_GIT_TEXT), ref
        )
    elif COMMIT.fullmatch(head):
        commit = head
    config = _git_config(_zip_read(archive, files.get("config"), limit=MAX_GIT_TEXT))
    uri = config.get(("remote", "origin", "url"))
    return {
        "repository_uri": without_credentials(uri) if uri else None,
        "branch": branch,
        "commit": commit if commit and COMMIT.fullmatch(commit) else None,
        "dirty": _git_dirty(archive, plan, tree, config),
    }


def _packed_ref(text: str, ref: str) -> str | None:
    for line in text.splitlines():
        fields = line.split()
        if len(fields) == 2 and fields[1] == ref and not line.startswith(("#", "^")):
            return fields[0]
    return None


_SECTION = re.compile(r'\[\s*([A-Za-z0-9.-]+)(?:\s+"((?:[^"\\]|\\.)*)")?\s*\]')


def _git_config(text: str) -> dict[tuple[str, str, str], str]:
    """.git/config as {(section, subsection, key): value}; enough for remotes and core."""
    values: dict[tuple[str, str, str], str] = {}
    section = subsection = ""
    for raw in text.splitlines():
        line = raw.strip()
        if match := _SECTION.match(line):
            section, subsection = match[1].lower(), match[2] or ""
            if "." in section and match[2] is None:  # the old [remote.origin] spelling
                section, _, subsection = section.partition(".")
            line = line[match.end() :].strip()
        if not line or line[0] in "#;":
            continue
        key, _, value = line.partition("=")
        values[(section, subsection, key.strip().lower())] = _config_value(value)
    return values


def _config_value(raw: str) -> str:
    out, quoted = [], False
    for char in raw.strip():
        if char == '"':
            quoted = not quoted
        elif char in "#;" and not quoted:
            break
        else:
            out.append(char)
    return "".join(out).strip()


# Only what `git status` needs to compare the files with the commit. Hooks, config includes,
# config.worktree, commondir and alternates stay behind: the uploader wrote them.
_GIT_FILES = {"HEAD", "index", "packed-refs", "info/exclude", "info/attributes"}
_GIT_FOLDERS = ("refs/", "objects/")
_GIT_NEVER = {"objects/info/alternates", "objects/info/http-alternates"}
_GIT_SAFE_CORE = {"repositoryformatversion", "filemode", "autocrlf", "eol", "ignorecase"}
_GIT_VALUE = re.compile(r"[A-Za-z0-9._-]+")
_GIT_SAFE_FLAGS = (
    *("-c", "safe.directory=*"),
    *("-c", "core.fsmonitor=false"),
    *("-c", f"core.hooksPath={os.devnull}"),
)


def _git_dirty(
    archive: zipfile.ZipFile, plan: _ZipPlan, tree: Path, config: Mapping
) -> bool | None:
    """Whether the files differ from the commit, by `git status`; None when it can't tell.

    The zip's .git is untrusted, so git runs on its objects, refs and index beside a config
    written here: no fsmonitor, filter, hook or include from the uploader can run anything.
    Tracked files left out by the ignore rules are not counted as changes.
    """
    git = shutil.which("git")
    wanted = [e for e in plan.git if _git_file_needed(e.path.removeprefix(".git/"))]
    if git is None or sum(e.info.file_size for e in wanted) > settings.MLSTUDIO_SNAPSHOT_MAX_BYTES:
        return None
    git_dir = tree / ".git"
    try:
        for entry in wanted:
            target = _tree_file(tree, entry.path)
            with _zip_member(archive, entry.info) as member, target.open("wb") as out:
                copy_hashed(member, out, limit=entry.info.file_size)
        for folder in ("objects", "refs"):
            (git_dir / folder).mkdir(parents=True, exist_ok=True)
        (git_dir / "config").write_text(_git_config_safe(config, plan))
        result = subprocess.run(
            [git, *_GIT_SAFE_FLAGS, "status", "--porcelain=v1", "-z", "--ignore-submodules=all"],
            cwd=tree,
            env=_git_env(tree, git_dir),
            capture_output=True,
            timeout=GIT_TIMEOUT_SECONDS,
            check=False,
        )
    except (OSError, UserError, subprocess.TimeoutExpired):
        return None
    if result.returncode != 0:
        return None
    ignored = set(plan.ignored)
    return any(path not in ignored for path in _porcelain_paths(result.stdout))


def _git_file_needed(relative: str) -> bool:
    if relative in _GIT_NEVER:
        return False
    return relative in _GIT_FILES or relative.startswith(_GIT_FOLDERS)


def _git_config_safe(config: Mapping, plan: _ZipPlan) -> str:
    core = {
        key: value
        for (section, subsection, key), value in config.items()
        if section == "core"
        and not subsection
        and key in _GIT_SAFE_CORE
        and _GIT_VALUE.fullmatch(value)
    }
    core["bare"] = "false"
    if not all(e.has_unix_mode for e in plan.files):
        core["filemode"] = "false"  # a zip without unix modes says nothing about exec bits
    lines = ["[core]", *(f"\t{key} = {value}" for key, value in core.items())]
    object_format = config.get(("extensions", "", "objectformat"), "")
    if _GIT_VALUE.fullmatch(object_format):
        lines += ["[extensions]", f"\tobjectformat = {object_format}"]
    return "\n".join(lines) + "\n"


def _git_env(tree: Path, git_dir: Path) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", os.defpath),
        "HOME": str(tree.parent),
        # Explicit, so git never walks up into a repository around the data folder.
        "GIT_DIR": str(git_dir),
        "GIT_WORK_TREE": str(tree),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_OPTIONAL_LOCKS": "0",
        "GIT_TERMINAL_PROMPT": "0",
        "LC_ALL": "C",
    }


def _porcelain_paths(output: bytes) -> Iterator[str]:
    """Paths from `git status --porcelain=v1 -z`; a rename's source record is skipped."""
    records = iter(output.split(b"\0"))
    for record in records:
        if len(record) < 4:
            continue
        if record[0:1] in (b"R", b"C") or record[1:2] in (b"R", b"C"):
            next(records, None)
        yield record[3:].decode("utf-8", "surrogateescape")
