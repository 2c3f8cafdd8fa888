from django.conf import settings
from django.db import models

from compute.queues import LOCAL_TARGET, target_queue
from workspaces.models import Workspace

DEFAULT_DOCKER_HOST = "unix:///var/run/docker.sock"


class TargetType(models.TextChoices):
    LOCAL = "local", "Local"
    DOCKER = "docker", "Docker"
    CLUSTER = "cluster", "Cluster"


class ProvisioningState(models.TextChoices):
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"


class ComputeTarget(models.Model):
    """Where a workspace's runs execute. Every workspace has `local`; each target's runs go
    through its own Celery queue, which the worker nodes of that target consume.

    `max_nodes` is the most runs the target executes at once across all its nodes (a cluster
    "node" in azureml's sense is one run slot); local has none: its nodes' slots are the limit.
    """

    workspace = models.ForeignKey(
        Workspace, on_delete=models.CASCADE, related_name="compute_targets"
    )
    name = models.CharField(max_length=16)
    type = models.CharField(max_length=16, choices=TargetType.choices)
    description = models.CharField(max_length=1000, blank=True)
    tags = models.JSONField(default=dict, blank=True)
    docker_host = models.CharField(
        max_length=500, blank=True, help_text="Docker Engine URL, for docker targets."
    )
    vm_size = models.CharField(
        max_length=100, blank=True, help_text="A label only: MLStudio does not size machines."
    )
    min_nodes = models.PositiveIntegerField(default=0)
    max_nodes = models.PositiveIntegerField(null=True, blank=True)
    idle_seconds_before_scaledown = models.PositiveIntegerField(default=1800)
    provisioning_state = models.CharField(
        max_length=16, choices=ProvisioningState.choices, default=ProvisioningState.SUCCEEDED
    )
    provisioning_errors = models.JSONField(default=list, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    modified_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "name"], name="one_target_per_name")
        ]

    def __str__(self) -> str:
        return f"{self.workspace.name}/{self.name}"

    @property
    def queue(self) -> str:
        if self.is_local:
            return target_queue(LOCAL_TARGET)
        return target_queue(self.name, self.workspace.name)

    @property
    def is_local(self) -> bool:
        return self.name == LOCAL_TARGET


class Node(models.Model):
    """A Celery worker process that executes work; it proves it is alive by heartbeats.

    `slots` is the most runs it executes at once (the top of its autoscale range), `concurrency`
    the processes it has now, `busy_slots` the runs it executes now.
    """

    name = models.CharField(max_length=255, unique=True, help_text="Celery node name.")
    hostname = models.CharField(max_length=255)
    queues = models.CharField(max_length=1000, help_text="Comma-separated Celery queues.")
    target_queue = models.CharField(
        max_length=300, blank=True, db_index=True, help_text="The compute target queue it serves."
    )
    pid = models.PositiveIntegerField()
    concurrency = models.PositiveIntegerField(default=1)
    slots = models.PositiveIntegerField(default=1)
    busy_slots = models.IntegerField(default=0)
    cpu_count = models.PositiveIntegerField(default=0)
    gpu_count = models.PositiveIntegerField(default=0)
    memory_bytes = models.PositiveBigIntegerField(default=0)
    problem = models.CharField(
        max_length=1000, blank=True, help_text="Why the node cannot run work, when it says so."
    )
    version = models.CharField(max_length=32)
    started_at = models.DateTimeField()
    heartbeat_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class SlotLease(models.Model):
    """A claim on one of a target's `max_nodes` run slots, by a run (its holder) on a node.

    Granted while the run executes; not yet granted while it waits its turn on that node.
    A claim whose node stopped heartbeating is void, so a killed node frees its slots.
    """

    target = models.ForeignKey(ComputeTarget, on_delete=models.CASCADE, related_name="leases")
    holder = models.CharField(max_length=300, unique=True)
    node = models.CharField(max_length=255)
    requested_at = models.DateTimeField()
    granted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["requested_at", "holder"]

    def __str__(self) -> str:
        return f"{self.holder} on {self.target}"
