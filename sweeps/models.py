from django.db import models

from runs.models import Run


class Sweep(models.Model):
    """A hyperparameter sweep: its parent run, its checked configuration and the state the
    controller tasks keep. Nothing else holds a sweep's state, so any worker can carry it on
    after a restart."""

    class State(models.TextChoices):
        RUNNING = "running"
        CANCELING = "canceling"
        ENDED = "ended"

    run = models.OneToOneField(
        Run, on_delete=models.CASCADE, primary_key=True, related_name="sweep"
    )
    config = models.JSONField(help_text="The HyperDriveConfig as checked at submit.")
    base = models.JSONField(help_text="The children's ScriptRunConfig, environment resolved.")
    state = models.CharField(max_length=20, choices=State.choices, default=State.RUNNING)
    launched = models.PositiveIntegerField(default=0, help_text="Children created so far.")
    seed = models.BigIntegerField(help_text="Seeds random and Bayesian draws.")
    warm = models.JSONField(
        default=list, blank=True, help_text="[{params, value}] from resume_from sweeps."
    )
    resume = models.JSONField(
        default=list, blank=True, help_text="Hyperparameters of resume_child_runs, launched first."
    )
    ending = models.JSONField(
        null=True, blank=True, help_text="How the sweep ends once it stops early: status, detail."
    )
    best_run = models.ForeignKey(
        Run, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"sweep {self.run_id}"

    @property
    def metric(self) -> str:
        return self.config["primary_metric_name"]

    @property
    def maximize(self) -> bool:
        return self.config["primary_metric_goal"] == "MAXIMIZE"


class Trial(models.Model):
    """One child of a sweep: its number and the hyperparameters it was given."""

    sweep = models.ForeignKey(Sweep, on_delete=models.CASCADE, related_name="trials")
    number = models.PositiveIntegerField()
    run = models.OneToOneField(Run, on_delete=models.CASCADE, related_name="trial")
    hyperparameters = models.JSONField()
    stop_reason = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["sweep", "number"]
        constraints = [
            models.UniqueConstraint(fields=["sweep", "number"], name="trial_number_per_sweep")
        ]

    def __str__(self) -> str:
        return self.run_id
