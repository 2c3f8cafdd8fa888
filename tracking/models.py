"""What MLflow's protocol has and an MLStudio run does not: params, dataset inputs, model
outputs, a soft delete; and MLflow 3's logged models. Everything else of an MLflow run is the
MLStudio run itself (status, tags, metrics, files)."""

from django.db import models

from runs.models import Experiment, Run


class MlflowRunData(models.Model):
    """The MLflow side of one run. Params never change once logged, as in MLflow."""

    run = models.OneToOneField(
        Run, on_delete=models.CASCADE, primary_key=True, related_name="mlflow"
    )
    params = models.JSONField(default=dict, blank=True)
    inputs = models.JSONField(default=list, blank=True, help_text="log_inputs' dataset inputs")
    outputs = models.JSONField(default=list, blank=True, help_text="models the run logged")
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "MLflow run data"
        verbose_name_plural = "MLflow run data"

    def __str__(self) -> str:
        return f"MLflow data of {self.run_id}"


class LoggedModel(models.Model):
    """An MLflow 3 logged model. Its files are the source run's files under outputs/<name>/,
    or, without a run, the model's own folder in the file store."""

    class Status(models.TextChoices):
        PENDING = "LOGGED_MODEL_PENDING"
        READY = "LOGGED_MODEL_READY"
        FAILED = "LOGGED_MODEL_UPLOAD_FAILED"

    id = models.CharField(max_length=40, primary_key=True)
    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="+")
    source_run = models.ForeignKey(
        Run, on_delete=models.CASCADE, null=True, blank=True, related_name="logged_models"
    )
    name = models.CharField(max_length=255)
    model_type = models.CharField(max_length=255, blank=True)
    status = models.CharField(max_length=40, choices=Status.choices, default=Status.PENDING)
    tags = models.JSONField(default=dict, blank=True)
    params = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.id})"
