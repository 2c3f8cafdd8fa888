"""Datastores and datasets.

The default datastore `workspaceblobstore` is the studio's own blob store: a DatastoreFile row
maps a path to the sha256 of its bytes, so an upload over a path only moves the row and a
dataset version that pinned the old hash keeps reading the old bytes. A local datastore is a
folder every worker node sees (an NFS mount), read in place and never copied in.
"""

import uuid

from django.conf import settings
from django.db import models

from mlstudio.names import asset_name_validator
from workspaces.models import Workspace

DEFAULT_DATASTORE = "workspaceblobstore"


class Datastore(models.Model):
    class Kind(models.TextChoices):
        BLOB = "blob", "studio blob store"
        LOCAL = "local", "local folder"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="datastores")
    name = models.CharField(max_length=255, validators=[asset_name_validator])
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.BLOB)
    local_path = models.CharField(max_length=1024, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "name"], name="one_datastore_per_name")
        ]

    def __str__(self) -> str:
        return self.name


class DatastoreFile(models.Model):
    """One file of a blob datastore: its path and the blob that holds its bytes now."""

    datastore = models.ForeignKey(Datastore, on_delete=models.CASCADE, related_name="files")
    path = models.CharField(max_length=1024)
    sha256 = models.CharField(max_length=64)
    size = models.BigIntegerField()
    mode = models.PositiveIntegerField(default=0o644)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["path"]
        constraints = [
            models.UniqueConstraint(fields=["datastore", "path"], name="one_file_per_path")
        ]

    def __str__(self) -> str:
        return self.path


class Dataset(models.Model):
    class Kind(models.TextChoices):
        FILE = "file", "File"
        TABULAR = "tabular", "Tabular"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="datasets")
    name = models.CharField(max_length=255, validators=[asset_name_validator])
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "name"], name="one_dataset_per_name")
        ]

    def __str__(self) -> str:
        return self.name


class DatasetVersion(models.Model):
    """An immutable version: `manifest` pins each file's sha256, so what version 1 reads never
    changes. manifest: [{"path", "size", "sha256", "mode", "datastore", "datastore_path"}]
    sorted by path; `path` is relative to the common folder of the files the definition
    matched. `definition` is how it was made (paths, kind, parsing options)."""

    uid = models.UUIDField("id", default=uuid.uuid4, unique=True, editable=False)
    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="versions")
    version = models.PositiveIntegerField()
    kind = models.CharField(max_length=10, choices=Dataset.Kind.choices)
    description = models.TextField(blank=True)
    tags = models.JSONField(default=dict, blank=True)
    definition = models.JSONField(default=dict)
    manifest = models.JSONField()
    file_count = models.PositiveIntegerField()
    total_size = models.BigIntegerField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["dataset__name", "-version"]
        constraints = [
            models.UniqueConstraint(
                fields=["dataset", "version"], name="one_dataset_version_per_number"
            )
        ]

    def __str__(self) -> str:
        return f"{self.dataset.name}:{self.version}"


class DatasetUse(models.Model):
    """A run that read (input) or wrote (output) a dataset version. The run is named by its
    id, not a foreign key: data sits below runs, and the lineage stays after the run goes."""

    class Role(models.TextChoices):
        INPUT = "input", "input"
        OUTPUT = "output", "output"

    version = models.ForeignKey(DatasetVersion, on_delete=models.CASCADE, related_name="uses")
    run_id = models.CharField(max_length=300, db_index=True)
    experiment_name = models.CharField(max_length=255, blank=True)
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.INPUT)
    input_name = models.CharField(max_length=255, blank=True)
    mode = models.CharField(max_length=20, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["version", "run_id", "role", "input_name"], name="one_use_per_run_input"
            )
        ]

    def __str__(self) -> str:
        return f"{self.version} {self.role} of {self.run_id}"
