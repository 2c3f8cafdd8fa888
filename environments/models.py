from django.conf import settings
from django.db import models
from django.db.models import Q

from environments import spec as specs
from workspaces.models import Workspace


class Environment(models.Model):
    """A named line of versions. Curated environments belong to no workspace and are visible
    in every one; their names start with the reserved `MLStudio-`."""

    workspace = models.ForeignKey(
        Workspace,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="environments",
        help_text="Empty for curated environments, which every workspace sees.",
    )
    name = models.CharField(max_length=255)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "name"],
                condition=Q(workspace__isnull=False),
                name="one_environment_name_per_workspace",
            ),
            models.UniqueConstraint(
                fields=["name"],
                condition=Q(workspace__isnull=True),
                name="one_curated_environment_per_name",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_curated(self) -> bool:
        return self.workspace_id is None


class BuildStatus(models.TextChoices):
    NOT_BUILT = "NotBuilt", "Not built"
    BUILDING = "Building", "Building"
    SUCCEEDED = "Succeeded", "Succeeded"
    FAILED = "Failed", "Failed"


class EnvironmentVersion(models.Model):
    """One immutable version: its spec never changes once stored; only the build fields do.

    `spec_digest` identifies the version's whole definition (spec and password), so
    registering the same thing again finds it; `content_hash` keys the build cache.
    """

    environment = models.ForeignKey(Environment, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    spec = models.JSONField()
    spec_digest = models.CharField(max_length=64)
    content_hash = models.CharField(max_length=64, db_index=True)
    registry_password_encrypted = models.TextField(blank=True, default="")
    build_status = models.CharField(
        max_length=16, choices=BuildStatus.choices, default=BuildStatus.NOT_BUILT
    )
    build_detail = models.TextField(blank=True, default="")
    built_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["environment__name", "-number"]
        constraints = [
            models.UniqueConstraint(
                fields=["environment", "number"], name="one_environment_version_per_number"
            )
        ]

    def __str__(self) -> str:
        return f"{self.environment.name} v{self.number}"

    @property
    def version(self) -> str:
        return str(self.number)

    @property
    def name(self) -> str:
        return self.environment.name

    @property
    def kind(self) -> str:
        return specs.kind_of(self.spec)

    @property
    def password_set(self) -> bool:
        return bool(self.registry_password_encrypted)

    @property
    def label(self) -> str:
        """How logs and messages name this version: "Environment 'x' version 2"."""
        return f"environment {self.environment.name!r} version {self.number}"
