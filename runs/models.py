import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q

from workspaces.models import Workspace, name_validator


class Experiment(models.Model):
    """A named group of runs. Archiving hides it; nothing is deleted."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="experiments")
    name = models.CharField(max_length=255, validators=[name_validator])
    tags = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    archived_at = models.DateTimeField(null=True, blank=True, db_index=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            # Archived experiments free their name, so only active ones must be unique.
            models.UniqueConstraint(
                fields=["workspace", "name"],
                condition=Q(archived_at__isnull=True),
                name="one_active_experiment_per_name",
            )
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_archived(self) -> bool:
        return self.archived_at is not None


class Blob(models.Model):
    """A content-addressed file body known to a workspace. The bytes live once per sha256 in
    the file store, under blobs/<aa>/<bb>/<sha256>; the row says this workspace uploaded it."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="blobs")
    sha256 = models.CharField(max_length=64)
    size = models.BigIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "sha256"], name="one_blob_per_workspace")
        ]

    def __str__(self) -> str:
        return self.sha256[:12]


class Snapshot(models.Model):
    """The source folder a run was submitted with: a manifest of blobs, immutable once made.

    manifest: [{"path": "a/b.py", "size": 12, "sha256": "…", "mode": 0o644}, …] sorted by path.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="snapshots")
    manifest = models.JSONField()
    digest = models.CharField(max_length=64, db_index=True, help_text="sha256 of the manifest")
    file_count = models.PositiveIntegerField()
    total_size = models.BigIntegerField()
    git = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"snapshot {self.id} ({self.file_count} files)"


# The Docker image a run executed in: a fact the executor records among the run's properties,
# as v1 kept its own `azureml.*` facts there.
IMAGE_PROPERTY = "mlstudio.image"


class RunStatus(models.TextChoices):
    NOT_STARTED = "NotStarted"
    QUEUED = "Queued"
    PREPARING = "Preparing"
    STARTING = "Starting"
    RUNNING = "Running"
    FINALIZING = "Finalizing"
    CANCEL_REQUESTED = "CancelRequested"
    COMPLETED = "Completed"
    FAILED = "Failed"
    CANCELED = "Canceled"


FINAL_STATUSES = frozenset({RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.CANCELED})
ACTIVE_STATUSES = frozenset(set(RunStatus) - FINAL_STATUSES)


class Run(models.Model):
    """One execution of a script. Its id reads `<experiment>_<unix time>_<8 hex>`."""

    id = models.CharField(max_length=300, primary_key=True)
    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="runs")
    number = models.PositiveIntegerField()
    parent = models.ForeignKey(
        "self", on_delete=models.CASCADE, null=True, blank=True, related_name="children"
    )
    display_name = models.CharField(max_length=255, blank=True)
    description = models.TextField(blank=True, default="")
    status = models.CharField(
        max_length=20, choices=RunStatus.choices, default=RunStatus.NOT_STARTED, db_index=True
    )
    status_detail = models.CharField(max_length=500, blank=True)
    status_history = models.JSONField(default=list, blank=True)
    snapshot = models.ForeignKey(
        Snapshot, on_delete=models.PROTECT, null=True, blank=True, related_name="runs"
    )
    definition = models.JSONField(default=dict, blank=True)
    tags = models.JSONField(default=dict, blank=True)
    properties = models.JSONField(default=dict, blank=True)
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    api_token = models.ForeignKey(
        "workspaces.ApiToken",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="The token the running script uses; revoked when the run ends.",
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    exit_code = models.IntegerField(null=True, blank=True)
    error = models.JSONField(null=True, blank=True)
    worker = models.CharField(max_length=255, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True, db_index=True)
    cancel_requested_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["experiment", "number"], name="run_number_per_experiment"
            )
        ]

    def __str__(self) -> str:
        return self.id

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES


class MetricKind(models.TextChoices):
    SCALAR = "scalar"  # numbers from log(); the series lives in a binary file
    LIST = "list"  # numbers from log_list(); a binary file too
    VALUE = "value"  # text, booleans, None from log()
    ROW = "row"
    TABLE = "table"
    IMAGE = "image"
    CONFUSION_MATRIX = "confusion_matrix"
    ACCURACY_TABLE = "accuracy_table"
    RESIDUALS = "residuals"
    PREDICTIONS = "predictions"


NUMERIC_KINDS = frozenset({MetricKind.SCALAR, MetricKind.LIST})


class Metric(models.Model):
    """One named metric of a run, with a summary that the runs table reads cheaply.

    Numeric points live in <file store>/series/<run id>/<id>.f64 as (step, value, time) float64
    triples, appended in log order; other values are MetricRecord rows.
    """

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="metrics")
    name = models.CharField(max_length=255)
    kind = models.CharField(max_length=20, choices=MetricKind.choices)
    description = models.CharField(max_length=1000, blank=True)
    source = models.CharField(max_length=20, default="sdk")
    count = models.BigIntegerField(default=0)
    last_value = models.FloatField(null=True, blank=True)
    min_value = models.FloatField(null=True, blank=True)
    max_value = models.FloatField(null=True, blank=True)
    last_step = models.FloatField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["run", "name"], name="metric_name_per_run")]

    def __str__(self) -> str:
        return f"{self.run_id}/{self.name}"

    @property
    def is_numeric(self) -> bool:
        return self.kind in NUMERIC_KINDS


class MetricRecord(models.Model):
    """A non-numeric metric value: a row, a table, an image reference, text, JSON."""

    metric = models.ForeignKey(Metric, on_delete=models.CASCADE, related_name="records")
    seq = models.PositiveIntegerField()
    value = models.JSONField(null=True)
    logged_at = models.FloatField()

    class Meta:
        ordering = ["metric", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["metric", "seq"], name="record_seq_per_metric")
        ]

    def __str__(self) -> str:
        return f"{self.metric} #{self.seq}"


class RunNode(models.Model):
    """One node's part of a multi-node run: which Celery node executes rank `rank`, at what
    address, and how its processes ended. Rank 0 is the node that took the run's own task and
    leads; it publishes its address for rendezvous and waits for the others."""

    class State(models.TextChoices):
        DISPATCHED = "dispatched"
        STARTED = "started"
        FINISHED = "finished"

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="nodes")
    rank = models.PositiveIntegerField()
    node = models.CharField(max_length=255)
    address = models.CharField(max_length=255, blank=True)
    state = models.CharField(max_length=20, choices=State.choices, default=State.DISPATCHED)
    exit_code = models.IntegerField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["run", "rank"]
        constraints = [models.UniqueConstraint(fields=["run", "rank"], name="node_rank_per_run")]

    def __str__(self) -> str:
        return f"{self.run_id} rank {self.rank} on {self.node}"
