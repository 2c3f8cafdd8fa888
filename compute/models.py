from django.db import models


class Node(models.Model):
    """A Celery worker process that executes work; it proves it is alive by heartbeats."""

    name = models.CharField(max_length=255, unique=True, help_text="Celery node name.")
    hostname = models.CharField(max_length=255)
    queues = models.CharField(max_length=1000, help_text="Comma-separated Celery queues.")
    pid = models.PositiveIntegerField()
    concurrency = models.PositiveIntegerField(default=1)
    version = models.CharField(max_length=32)
    started_at = models.DateTimeField()
    heartbeat_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name
