"""Datasets: a definition (datastore paths, globs, the tabular format and options) resolved to
a manifest of files, and versions that pin that manifest by content hash, so a later upload
over the same datastore path never changes what a version reads."""

from __future__ import annotations

import csv
import hashlib
import io
import os
import re
from collections.abc import Iterable
from pathlib import Path

from django.db import IntegrityError, transaction
from django.db.models import Max

from data import services
from data.models import Dataset, DatasetVersion, Datastore
from mlstudio.errors import Conflict, NotFound, UserError
from mlstudio.names import asset_name_check
from mlstudio.paths import clean_relative_path
from runs.blobs import blobs_purge
from runs.submission import string_map
from workspaces.models import Workspace

GLOB = re.compile(r"[*?\[]")
KINDS = ("file", "tabular")
FORMATS = ("delimited", "parquet")
MAX_TEXT = 5000
PARSE_CHECK_BYTES = 4 * 1024**3


def _glob_regex(pattern: str) -> re.Pattern:
    """`**` crosses folders, `*` and `?` do not, `[...]` is a set, as in glob."""
    out, index = [], 0
    while index < len(pattern):
        char = pattern[index]
        if pattern.startswith("**/", index):
            out.append("(?:.*/)?")
            index += 3
            continue
        if pattern.startswith("**", index):
            out.append(".*")
            index += 2
            continue
        out.append({"*": "[^/]*", "?": "[^/]"}.get(char) or (char if char == "[" or char == "]"
                   else re.escape(char)))  # fmt: skip
        index += 1
    return re.compile("".join(out))


def _match(files: list[dict], pattern: str) -> list[dict]:
    if GLOB.search(pattern):
        regex = _glob_regex(pattern)
        return [f for f in files if regex.fullmatch(f["path"])]
    folder = pattern.rstrip("/")
    return [f for f in files if f["path"] == folder or f["path"].startswith(folder + "/")]


def _pattern_clean(raw: object) -> str:
    text = str(raw or "").strip()
    if text in ("", "/", ".", "./", "**", "**/*"):
        return "**"
    return clean_relative_path(text.lstrip("/") if text.startswith("/") else text,
                               what="dataset path")  # fmt: skip


def _paths_clean(paths: object) -> list[dict]:
    if not isinstance(paths, list) or not paths:
        raise UserError(
            "A dataset needs at least one path: (datastore, 'folder/'), datastore.path('a.csv') "
            "or a glob such as (datastore, 'data/**/*.csv')."
        )
    cleaned = []
    for item in paths:
        if not isinstance(item, dict) or not isinstance(item.get("datastore"), str):
            raise UserError(f"Path {item!r} names no datastore; send {{'datastore', 'path'}}.")
        cleaned.append({"datastore": item["datastore"], "path": _pattern_clean(item.get("path"))})
    return cleaned


def definition_clean(definition: object) -> dict:
    if not isinstance(definition, dict):
        raise UserError("The dataset definition must be an object with 'kind' and 'paths'.")
    kind = definition.get("kind")
    if kind not in KINDS:
        raise UserError(f"Dataset kind {kind!r} is not one of {', '.join(KINDS)}.")
    clean = dict(definition)
    clean["paths"] = _paths_clean(definition.get("paths"))
    if kind == "tabular" and definition.get("format") not in FORMATS:
        raise UserError(f"A tabular dataset's format must be one of {', '.join(FORMATS)}.")
    return clean


def _hash_local(datastore: Datastore, entry: dict) -> str:
    return services.file_sha256(Path(datastore.local_path) / entry["path"])


def _root(pattern: str, matched: list[dict]) -> str:
    """The folder a pattern names, that its files are relative to: a folder pattern's own
    folder, a file's parent, a glob's part before its first wildcard."""
    if GLOB.search(pattern):
        head = GLOB.split(pattern, maxsplit=1)[0]
        return head.rsplit("/", 1)[0] if "/" in head else ""
    folder = pattern.rstrip("/")
    if len(matched) == 1 and matched[0]["path"] == folder:
        return folder.rsplit("/", 1)[0] if "/" in folder else ""
    return folder


def _base(roots: list[str]) -> str:
    return os.path.commonpath(roots) if roots and all(roots) else ""


def definition_resolve(*, workspace: Workspace, definition: dict) -> list[dict]:
    """The files a definition matches, each pinned by sha256, named relative to their common
    folder. A path that matches nothing is refused with the closest paths."""
    definition = definition_clean(definition)
    found: dict[tuple[str, str], dict] = {}
    roots = []
    for item in definition["paths"]:
        datastore = services.datastore_get(workspace=workspace, name=item["datastore"])
        matched = _match(services.datastore_files(datastore=datastore), item["path"])
        if not matched:
            raise services.no_match_error(datastore, item["path"])
        roots.append(_root(item["path"], matched))
        for entry in matched:
            if entry["sha256"] is None:
                entry = {**entry, "sha256": _hash_local(datastore, entry)}
            found[(datastore.name, entry["path"])] = {**entry, "datastore": datastore.name}
    entries = sorted(found.values(), key=lambda e: (e["path"], e["datastore"]))
    base = _base(roots)
    manifest, seen = [], set()
    for entry in entries:
        relative = entry["path"][len(base) + 1 :] if base else entry["path"]
        if relative in seen:
            raise UserError(
                f"{relative!r} is matched in two datastores; give paths that do not overlap."
            )
        seen.add(relative)
        manifest.append(
            {"path": relative, "size": entry["size"], "sha256": entry["sha256"],
             "mode": entry["mode"], "datastore": entry["datastore"],
             "datastore_path": entry["path"]}
        )  # fmt: skip
    if definition["kind"] == "tabular" and definition.get("validate", True):
        tabular_check(workspace=workspace, definition=definition, manifest=manifest)
    return manifest


def manifest_digest(manifest: list[dict]) -> str:
    """What names a manifest's files: the SDK's cache key (mlstudio/sdk/_data_files.py
    digest_of), which the SDK sends back as `unless` when it holds those files."""
    canonical = "\n".join(f"{e['path']}\0{e['sha256']}" for e in manifest)
    return hashlib.sha256(canonical.encode()).hexdigest()


# --- tabular ------------------------------------------------------------------------------


def _open_entry(workspace: Workspace, entry: dict):
    datastore = services.datastore_get(workspace=workspace, name=entry["datastore"])
    handle, _ = services.datastore_file_open(datastore=datastore, path=entry["datastore_path"])
    return handle


def _reader(handle, options: dict):
    text = io.TextIOWrapper(handle, encoding=_encoding(options), newline="")
    return csv.reader(text, delimiter=options.get("separator") or ",", strict=True)


def _encoding(options: dict) -> str:
    name = str(options.get("encoding") or "utf8")
    return {"utf8": "utf-8", "iso88591": "latin-1", "latin1": "latin-1"}.get(name, name)


def _check_rows(name: str, rows: Iterable[list[str]], header: bool) -> None:
    width = None
    line = 0
    try:
        for line, row in enumerate(rows, start=1):
            if width is None:
                width = len(row)
                continue
            if row and len(row) != width:
                column = min(len(row), width) + 1
                raise UserError(
                    f"{name}: line {line}, column {column}: expected {width} fields, "
                    f"found {len(row)}. Fix the row or pick the right separator."
                )
    except csv.Error as exc:
        raise UserError(f"{name}: line {line + 1}: {exc}. Fix the quoting of that row.") from None
    except UnicodeDecodeError as exc:
        raise UserError(
            f"{name}: after line {line}, byte {exc.start}: not {exc.encoding}; pass the file's "
            "encoding, e.g. encoding='iso88591'."
        ) from None


def tabular_check(*, workspace: Workspace, definition: dict, manifest: list[dict]) -> None:
    """Every delimited file parses with the definition's separator, header and encoding; a
    row that does not is named by file, line and column."""
    if definition.get("format") != "delimited":
        return
    if sum(e["size"] for e in manifest) > PARSE_CHECK_BYTES:
        return  # too big to read at definition time; the reader names the row instead
    options = definition.get("options") or {}
    for entry in manifest:
        with _open_entry(workspace, entry) as handle:
            _check_rows(entry["datastore_path"], _reader(handle, options), options.get("header"))


def tabular_preview(*, version: DatasetVersion, rows: int = 100) -> dict:
    """The first `rows` rows of a delimited dataset: {"columns": [...], "rows": [[...]]}."""
    definition = version.definition
    if definition.get("format") != "delimited":
        return {"columns": [], "rows": [], "note": "Preview shows delimited files only."}
    options = definition.get("options") or {}
    workspace = version.dataset.workspace
    columns: list[str] = []
    out: list[list[str]] = []
    for entry in version.manifest:
        with _open_entry(workspace, entry) as handle:
            reader = _reader(handle, options)
            first = next(reader, None)
            if first is None:
                continue
            if not columns:
                columns = (
                    first
                    if options.get("header", True)
                    else [f"Column{i + 1}" for i in range(len(first))]
                )
                if not options.get("header", True):
                    out.append(first)
            for row in reader:
                if len(out) >= rows:
                    return {"columns": columns, "rows": out}
                out.append(row)
    return {"columns": columns, "rows": out[:rows]}


# --- versions -----------------------------------------------------------------------------


def _name_check(name: object) -> str:
    return asset_name_check(name, what="Dataset", example="mnist")


def dataset_register(
    *, workspace: Workspace, user, name: str, definition: dict, description: str | None = None,
    tags: dict | None = None, create_new_version: bool = False,
) -> DatasetVersion:  # fmt: skip
    """Version n+1 of `name`, pinning the files the definition matches now. An existing name
    needs create_new_version=True; the same files and definition return the latest as is."""
    _name_check(name)
    tags = string_map(tags, "tags")
    description = description or ""
    if len(description) > MAX_TEXT:
        raise UserError(f"The description is {len(description)} characters; keep it to {MAX_TEXT}.")
    definition = definition_clean(definition)
    manifest = definition_resolve(workspace=workspace, definition=definition)
    latest = DatasetVersion.objects.filter(dataset__workspace=workspace, dataset__name=name).first()
    if latest is not None:
        if latest.manifest == manifest and latest.definition == definition:
            return latest
        if not create_new_version:
            raise Conflict(
                f"Dataset {name!r} already exists (latest version {latest.version}); pass "
                "create_new_version=True to register version "
                f"{latest.version + 1}, or pick another name."
            )
    try:
        with transaction.atomic():
            dataset, _ = Dataset.objects.get_or_create(workspace=workspace, name=name)
            number = (dataset.versions.aggregate(n=Max("version"))["n"] or 0) + 1
            return DatasetVersion.objects.create(
                dataset=dataset, version=number, kind=definition["kind"],
                description=description, tags=tags, definition=definition, manifest=manifest,
                file_count=len(manifest), total_size=sum(e["size"] for e in manifest),
                created_by=user,
            )  # fmt: skip
    except IntegrityError:
        raise Conflict(f"Dataset {name!r} got a new version meanwhile; try again.") from None


def dataset_version_get(*, workspace: Workspace, name: str, version: str | int | None = None):
    versions = DatasetVersion.objects.select_related("dataset").filter(
        dataset__workspace=workspace, dataset__name=name
    )
    if version in (None, "", "latest"):
        found = versions.first()
    elif str(version).isdigit():
        found = versions.filter(version=int(version)).first()
    else:
        raise UserError(f"Version {version!r} is not a number or 'latest'.")
    if found is None:
        numbers = list(versions.values_list("version", flat=True))
        if numbers:
            raise NotFound(
                f"Dataset {name!r} has no version {version}; its versions: "
                f"{', '.join(map(str, numbers))}."
            )
        names = list(Dataset.objects.filter(workspace=workspace).values_list("name", flat=True))
        raise NotFound(
            f"No dataset {name!r} in workspace {workspace.name!r}; registered: "
            f"{', '.join(names[:20]) or 'none yet'}."
        )
    return found


def dataset_version_by_id(*, workspace: Workspace, uid: str) -> DatasetVersion:
    import uuid

    try:
        key = uuid.UUID(str(uid))
    except ValueError:
        key = None
    found = (
        DatasetVersion.objects.select_related("dataset")
        .filter(dataset__workspace=workspace, uid=key)
        .first()
        if key
        else None
    )
    if found is None:
        raise NotFound(f"No dataset with id {uid!r} in workspace {workspace.name!r}.")
    return found


def dataset_version_update(*, version: DatasetVersion, description=None, tags=None):
    if description is not None:
        version.description = str(description)[:MAX_TEXT]
    if tags is not None:
        version.tags = string_map(tags, "tags")
    version.save(update_fields=["description", "tags"])
    return version


def dataset_version_delete(*, version: DatasetVersion) -> None:
    """Delete one version (the name goes with its last one), then forget the blobs nothing
    else (snapshots, models, datastore paths, other versions) uses."""
    shas = {e["sha256"] for e in version.manifest}
    workspace_id = version.dataset.workspace_id
    with transaction.atomic():
        dataset = version.dataset
        version.delete()
        if not dataset.versions.exists():
            dataset.delete()
    transaction.on_commit(lambda: blobs_purge(workspace_id=workspace_id, candidates=shas))


def version_file_open(*, version: DatasetVersion, path: str):
    """One pinned file of a version: the blob with the sha256 the version recorded (a local
    datastore's file is read in place)."""
    from django.core.files.storage import default_storage

    from runs.blobs import blob_name

    clean = clean_relative_path(path, what="file path")
    entry = next((e for e in version.manifest if e["path"] == clean), None)
    if entry is None:
        raise NotFound(f"{clean!r} is not a file of dataset {version}.")
    datastore = services.datastore_get(workspace=version.dataset.workspace, name=entry["datastore"])
    if datastore.kind == Datastore.Kind.LOCAL:
        handle, _ = services.datastore_file_open(datastore=datastore, path=entry["datastore_path"])
        return handle, entry
    return default_storage.open(blob_name(sha256=entry["sha256"]), "rb"), entry
