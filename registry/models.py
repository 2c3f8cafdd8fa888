"""The model registry: named models, their immutable versions and the aliases that point at them.

A version's files are a manifest of content-addressed blobs of the same store as snapshots, so
registering a run's outputs shares their bytes instead of copying them.
"""

from django.conf import settings
from django.db import models

from mlstudio.names import asset_name_validator
from runs.models import Run
from workspaces.models import Workspace

ALIAS_RULE = r"^[A-Za-z][A-Za-z0-9_-]{0,63}$"


class RegisteredModel(models.Model):
    """A name in a workspace's registry; registering the name again adds a version."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="models")
    name = models.CharField(max_length=255, validators=[asset_name_validator])
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "name"], name="one_model_per_name")
        ]

    def __str__(self) -> str:
        return self.name


class ModelVersion(models.Model):
    """One registered version: its files never change; tags and description may, and
    properties may only be added.

    manifest: [{"path": "model/weights.bin", "size": 12, "sha256": "…", "mode": 0o644}, …]
    sorted by path; every path starts with `root`, the file or folder name that download()
    writes into its target folder.
    """

    model = models.ForeignKey(RegisteredModel, on_delete=models.CASCADE, related_name="versions")
    version = models.PositiveIntegerField()
    description = models.TextField(blank=True)
    tags = models.JSONField(default=dict, blank=True)
    properties = models.JSONField(default=dict, blank=True)
    framework = models.CharField(max_length=100, blank=True)
    framework_version = models.CharField(max_length=100, blank=True)
    root = models.CharField(max_length=255)
    manifest = models.JSONField()
    file_count = models.PositiveIntegerField()
    total_size = models.BigIntegerField()
    # Lineage. The run may be deleted with its experiment; its id and names stay here.
    run = models.ForeignKey(
        Run, on_delete=models.SET_NULL, null=True, blank=True, related_name="model_versions"
    )
    run_id_text = models.CharField("run id", max_length=300, blank=True, db_index=True)
    experiment_name = models.CharField(max_length=255, blank=True)
    source_path = models.CharField(max_length=1024, blank=True)
    lineage = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["model__name", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["model", "version"], name="one_version_per_number")
        ]

    def __str__(self) -> str:
        return f"{self.model.name}:{self.version}"

    @property
    def v1_id(self) -> str:
        """v1's id: `name:version`."""
        return f"{self.model.name}:{self.version}"


class ModelAlias(models.Model):
    """A movable name for one version of a model (`champion`), as MLflow's aliases."""

    model = models.ForeignKey(RegisteredModel, on_delete=models.CASCADE, related_name="aliases")
    alias = models.CharField(max_length=64)
    version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="aliases")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["alias"]
        constraints = [
            models.UniqueConstraint(fields=["model", "alias"], name="one_alias_per_model")
        ]

    def __str__(self) -> str:
        return f"{self.model.name}@{self.alias}"
