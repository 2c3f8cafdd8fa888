"""Writes for experiments and runs. The API, the SDK, admin actions and the UI all call these."""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from compute.selectors import queued_details, target_for_run
from data.inputs import inputs_resolve
from environments.selectors import environment_version_get
from environments.services import environment_check, environment_resolve
from mlstudio import live, wakeups
from mlstudio.errors import Conflict, UserError
from runs import queueing, signals
from runs.definition import RunDefinition
from runs.models import ACTIVE_STATUSES, FINAL_STATUSES, Experiment, Run, RunStatus, Snapshot
from runs.statuses import EXECUTING, sources_of, stop_wakeup
from runs.submission import RunConfig, string_map, tags_checked
from workspaces.models import Workspace, name_validator
from workspaces.services import api_tokens_revoke

CHILD_SUFFIX = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]*")

# --- experiments ---------------------------------------------------------------------------


def _check_experiment_name(name: str) -> None:
    try:
        name_validator(name)
    except ValidationError:
        raise UserError(
            f"Invalid experiment name {name!r}: start with a letter or digit, then use letters, "
            "digits, '_' or '-' (at most 255 characters)."
        ) from None


@contextmanager
def _name_unique_among_active(name: str) -> Iterator[None]:
    """The database keeps active experiment names unique; its refusal becomes a Conflict."""
    try:
        with transaction.atomic():
            yield
    except IntegrityError:
        raise Conflict(f"An active experiment named {name!r} already exists.") from None


def experiment_create(*, workspace: Workspace, name: str, user, tags: dict | None = None):
    _check_experiment_name(name)
    with _name_unique_among_active(name):
        return Experiment.objects.create(
            workspace=workspace,
            name=name,
            created_by=user,
            tags=tags_checked(string_map(tags, "tags")),
        )


def experiment_get_or_create(*, workspace: Workspace, name: str, user) -> Experiment:
    """The active experiment of that name, else a new one, as azureml's Experiment(ws, name)
    does: archiving frees a name, so submitting to it starts a new active experiment."""
    _check_experiment_name(name)
    found = Experiment.objects.filter(
        workspace=workspace, name=name, archived_at__isnull=True
    ).first()
    if found is not None:
        return found
    try:
        return experiment_create(workspace=workspace, name=name, user=user)
    except Conflict:
        return Experiment.objects.get(workspace=workspace, name=name, archived_at__isnull=True)


def experiment_archive(*, experiment: Experiment) -> Experiment:
    """Hide the experiment from default lists; nothing is deleted and its runs stay readable."""
    if not experiment.is_archived:
        experiment.archived_at = timezone.now()
        experiment.save(update_fields=["archived_at"])
    return experiment


def experiment_reactivate(*, experiment: Experiment) -> Experiment:
    if not experiment.is_archived:
        return experiment
    active = Experiment.objects.filter(workspace=experiment.workspace, name=experiment.name)
    if active.filter(archived_at__isnull=True).exists():
        raise Conflict(
            f"Cannot reactivate {experiment.name!r}: an active experiment with that name exists. "
            "Archive that one first."
        )
    experiment.archived_at = None
    with _name_unique_among_active(experiment.name):
        experiment.save(update_fields=["archived_at"])
    return experiment


def experiment_rename(*, experiment: Experiment, name: str) -> Experiment:
    _check_experiment_name(name)
    experiment.name = name
    with _name_unique_among_active(name):
        experiment.save(update_fields=["name"])
    return experiment


def experiment_set_tags(*, experiment: Experiment, tags: dict) -> Experiment:
    experiment.tags = tags_checked({**experiment.tags, **string_map(tags, "tags")})
    experiment.save(update_fields=["tags"])
    return experiment


# --- runs ----------------------------------------------------------------------------------


def run_submit_check(*, experiment: Experiment, config: RunConfig, paths=None) -> None:
    """What a submit would refuse, asked before the source folder is uploaded, so a refused
    submit stores nothing. `paths` are the files the snapshot will hold."""
    if experiment.is_archived:
        raise UserError(
            f"Experiment {experiment.name!r} is archived; reactivate it first "
            "(experiment.reactivate() or the Reactivate button), then submit."
        )
    config.use_target(target_for_run(workspace=experiment.workspace, name=config.compute_target))
    config.datasets = inputs_resolve(workspace=experiment.workspace, raw=config.datasets)
    if paths is not None:
        config.check_paths(paths)
    spec = config.environment_spec
    if spec is not None:
        if _names_a_version(spec):
            environment_version_get(
                workspace=experiment.workspace, name=str(spec["name"]), version=str(spec["version"])
            )
        elif not spec.get("version"):
            environment_check(spec=spec)


def _names_a_version(spec: dict) -> bool:
    return bool(spec.get("version")) and set(spec) <= {"name", "version"}


def _resolve_environment(*, experiment: Experiment, config: RunConfig, user) -> None:
    """Registers an unregistered Environment, as azureml did at submit."""
    spec = config.environment_spec
    if spec is None:
        return
    if _names_a_version(spec):
        version = environment_version_get(
            workspace=experiment.workspace, name=str(spec["name"]), version=str(spec["version"])
        )
    else:
        version = environment_resolve(workspace=experiment.workspace, spec=spec, user=user)
    config.use_environment(version)


def run_submit(
    *, experiment: Experiment, user, snapshot: Snapshot | None, config: RunConfig,
    parent: Run | None = None, run_id: str | None = None,
) -> Run:  # fmt: skip
    """Validate everything, then create the run as Queued and enqueue it after commit."""
    run_submit_check(experiment=experiment, config=config)
    config.check_against(snapshot)
    _resolve_environment(experiment=experiment, config=config, user=user)
    properties = dict(config.properties)
    if snapshot is not None and snapshot.git:
        from mlstudio.sdk._git import git_properties

        properties = {**git_properties(snapshot.git), **properties}
    return _run_create(
        experiment=experiment, run_id=run_id or run_id_new(experiment), status=RunStatus.QUEUED,
        after_commit=_enqueue, parent=parent, display_name=config.display_name,
        snapshot=snapshot, definition=config.as_definition(), tags=config.tags,
        properties=properties, submitted_by=user,
    )  # fmt: skip


def run_id_new(experiment: Experiment) -> str:
    """A new top-level run's id: the experiment's name, the time and a random part."""
    return f"{experiment.name}_{int(time.time())}_{secrets.token_hex(4)}"


def _run_create(*, experiment: Experiment, run_id: str, status: str, after_commit,
                **fields) -> Run:  # fmt: skip
    """Create the run with the experiment's next number; a number another create took at
    the same moment is retried with the next one."""
    for _ in range(5):
        try:
            with transaction.atomic():
                number = (experiment.runs.aggregate(n=Max("number"))["n"] or 0) + 1
                now = timezone.now().isoformat()
                history = [{"status": s, "at": now} for s in (RunStatus.NOT_STARTED, status)]
                run = Run.objects.create(
                    id=run_id, experiment=experiment, number=number, status=status,
                    status_history=history, **fields,
                )  # fmt: skip
                transaction.on_commit(lambda run=run: after_commit(run))
                return run
        except IntegrityError:
            if Run.objects.filter(pk=run_id).exists():
                raise Conflict(f"A run with id {run_id!r} already exists.") from None
    raise Conflict("Too many simultaneous submissions to this experiment; try again.")


def _enqueue(run: Run) -> None:
    queueing.run_enqueue(run)
    _publish_status(run)


def run_transition(*, run_id: str, to: str, detail: str = "", **fields) -> Run | None:
    """Move a run to `to` if the lifecycle allows it from its current status.

    Returns the updated run, or None when the run is not in a status that may move to `to`
    (for example a redelivered task finding its run already finished). Every transition is
    timestamped in status_history.
    """
    now = timezone.now()
    with transaction.atomic():
        run = Run.objects.select_for_update().filter(pk=run_id).first()
        if run is None or run.status not in sources_of(to):
            return None
        if run.status in EXECUTING and to not in EXECUTING:  # its nodes must notice at once
            transaction.on_commit(lambda: wakeups.wake(stop_wakeup(run_id)))
        run.status = to
        run.status_detail = _short_detail(detail)
        run.status_history = [*run.status_history, {"status": to, "at": now.isoformat()}]
        for name, value in fields.items():
            setattr(run, name, value)
        if to == RunStatus.RUNNING and run.started_at is None:
            run.started_at = now
        if run.is_final:
            run.ended_at = now
        run.save()
        transaction.on_commit(lambda: _publish_status(run))
        transaction.on_commit(lambda: signals.run_status_changed.send(sender=Run, run=run))
    return run


def run_cancel(*, run: Run, reason: str = "Canceled by the user.") -> Run:
    """Cancel a run: one that has not started never will; a started one is stopped by its
    executor, which kills the whole process tree and collects its files; one that nothing
    executes (interactive or child) ends Canceled at once. Canceling twice is harmless."""
    for _ in range(10):
        run.refresh_from_db()
        if run.is_final or run.status == RunStatus.FINALIZING:
            return run
        executed = not RunDefinition.of(run.definition).interactive
        if run.status in (RunStatus.NOT_STARTED, RunStatus.QUEUED) or not executed:
            moved = run_transition(
                run_id=run.pk, to=RunStatus.CANCELED, detail=reason, error={"message": reason}
            )
        elif run.status == RunStatus.CANCEL_REQUESTED:
            return run  # its executor is stopping it
        else:
            moved = run_transition(
                run_id=run.pk,
                to=RunStatus.CANCEL_REQUESTED,
                detail=reason,
                cancel_requested_at=timezone.now(),
            )
        if moved is not None:
            if not executed:
                run_children_finish(parent=moved, ending=RunStatus.CANCELED)
            return moved
    return run  # it kept moving; the caller sees its latest status


def runs_fail_lost(*, stale_after: timedelta) -> list[str]:
    """Fail every started run whose executor stopped heartbeating: its worker is gone."""
    cutoff = timezone.now() - stale_after
    started = ACTIVE_STATUSES - {RunStatus.NOT_STARTED, RunStatus.QUEUED}
    lost = Run.objects.filter(status__in=started, heartbeat_at__lt=cutoff).values_list(
        "pk", flat=True
    )
    failed = []
    for run_id in lost:
        message = (
            f"Worker lost: no heartbeat from its executor for {stale_after.total_seconds():.0f} s. "
            "Every log line received before the loss is kept. Resubmit the run."
        )
        run = run_transition(
            run_id=run_id, to=RunStatus.FAILED, detail="worker lost", error={"message": message}
        )
        if run is not None:
            run_children_finish(parent=run, ending=RunStatus.FAILED)
            api_tokens_revoke(tokens=[run.api_token_id])
            failed.append(run_id)
    return failed


def _short_detail(detail: str) -> str:
    """A status detail that fits its column; the whole message stays in the run's error."""
    limit = Run._meta.get_field("status_detail").max_length
    return detail if len(detail) <= limit else detail[: limit - 1] + "…"


def run_detail_set(*, run_id: str, status: str, detail: str) -> bool:
    """Tell a run's pages what it is doing while in `status` ("building environment …");
    False, changing nothing, when it has moved on meanwhile."""
    if not Run.objects.filter(pk=run_id, status=status).update(status_detail=_short_detail(detail)):
        return False
    _publish_status(Run.objects.select_related("experiment").get(pk=run_id))
    return True


def runs_queue_positions() -> int:
    """Tell each Queued run what it waits for, e.g. "waiting for a free node (3 ahead)";
    returns how many details changed."""
    queued = list(
        Run.objects.filter(status=RunStatus.QUEUED)
        .order_by("created_at", "pk")
        .values_list("pk", "experiment__workspace_id", "definition__compute_target",
                     "status_detail")
    )  # fmt: skip
    details = queued_details(queued=[row[:3] for row in queued])
    changed = 0
    for run_id, _, _, detail in queued:
        if details.get(run_id, detail) == detail:
            continue
        if Run.objects.filter(pk=run_id, status=RunStatus.QUEUED).update(
            status_detail=details[run_id]
        ):
            changed += 1
            _publish_status(Run.objects.select_related("experiment").get(pk=run_id))
    return changed


def _publish_status(run: Run) -> None:
    event = live.status_event(run_id=run.pk, status=run.status, detail=run.status_detail,
                              seq=len(run.status_history))  # fmt: skip
    live.publish(live.run_group(run.pk), event)
    live.publish(live.workspace_group(run.experiment.workspace_id), event)


# --- runs without an executor: interactive runs and child runs ----------------------------


def _run_create_running(
    *, experiment: Experiment, user, run_id: str, parent: Run | None, display_name: str, tags
) -> Run:
    """A run that starts Running at once: nothing executes it; its owner completes it."""
    if experiment.is_archived:
        raise UserError(f"Experiment {experiment.name!r} is archived; reactivate it first.")
    return _run_create(
        experiment=experiment, run_id=run_id, status=RunStatus.RUNNING,
        after_commit=_publish_status, parent=parent, display_name=str(display_name or "")[:255],
        definition={"interactive": True, "compute_target": "local"},
        tags=tags_checked(string_map(tags, "tags")), submitted_by=user, started_at=timezone.now(),
    )  # fmt: skip


def run_start_interactive(*, experiment: Experiment, user, display_name: str = "", tags=None):
    return _run_create_running(
        experiment=experiment, user=user, run_id=run_id_new(experiment), parent=None,
        display_name=display_name, tags=tags,
    )  # fmt: skip


def run_create_child(*, parent: Run, run_id: str | None = None, name: str = "") -> Run:
    """A child of `parent`. Its id is `<parent id>_<suffix>`, so a script can name it
    without asking the studio (inside a run with no network)."""
    run_id = run_id or f"{parent.pk}_{secrets.token_hex(4)}"
    suffix = run_id[len(parent.pk) + 1 :] if run_id.startswith(parent.pk + "_") else ""
    if not CHILD_SUFFIX.fullmatch(suffix) or len(run_id) > 300:
        raise UserError(
            f"A child run id must be '{parent.pk}_' followed by letters, digits, '_', '-' or "
            f"'.' (got {str(run_id)[:120]!r})."
        )
    if parent.is_final:
        raise UserError(f"Run {parent.pk} is {parent.status}; it cannot get new child runs.")
    return _run_create_running(
        experiment=parent.experiment, user=parent.submitted_by, run_id=run_id, parent=parent,
        display_name=name or run_id, tags=None,
    )  # fmt: skip


def run_complete(*, run: Run, failed: bool = False, error: str = "") -> Run:
    """Finish a run that has no executor (interactive or child); a submitted script's exit
    code decides its own status instead."""
    if not RunDefinition.of(run.definition).interactive:
        if failed:
            return run_fail_submitted(run=run, error=error)
        raise Conflict(
            f"Run {run.pk} is executed by a worker: its exit code decides its status. "
            "Call complete() on interactive or child runs only; fail() or cancel() stops it."
        )
    run.refresh_from_db()
    if run.is_final:
        return run
    run_transition(run_id=run.pk, to=RunStatus.FINALIZING)
    to = RunStatus.FAILED if failed else RunStatus.COMPLETED
    details = {"error": {"message": error or "Marked failed."}} if failed else {}
    return run_transition(run_id=run.pk, to=to, detail=error, **details) or run


def run_fail_submitted(*, run: Run, error: str = "") -> Run:
    """v1's `run.fail()` from a notebook on a submitted run: it ends Failed at once, and its
    executor, which watches the status, stops the script if it is still going."""
    message = error or "Marked failed by the user."
    for _ in range(10):
        run.refresh_from_db()
        if run.is_final:
            return run
        moved = run_transition(
            run_id=run.pk, to=RunStatus.FAILED, detail=message, error={"message": message}
        )
        if moved is not None:
            return moved
    return run


def run_children_finish(*, parent: Run, ending: str) -> None:
    """Before a parent ends `ending`, children still running end with it, so nobody sees a
    finished parent with running children."""
    for child in parent.children.exclude(status__in=FINAL_STATUSES):
        run_complete(run=child, failed=ending != RunStatus.COMPLETED,
                     error=f"Parent run ended {ending}.")  # fmt: skip
