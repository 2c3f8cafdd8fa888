"""The executor's writes to a run besides its status (runs.services.run_transition): the
claim, the heartbeat, its API token and the nodes of a multi-node run."""

from __future__ import annotations

from datetime import UTC, datetime

from django.conf import settings
from django.db import transaction
from django.db.models import Q

from compute.selectors import nodes_online
from runs.models import IMAGE_PROPERTY, Run, RunNode, RunStatus
from runs.statuses import EXECUTING
from workspaces.services import api_token_create


def run_claim(*, run_id: str, worker: str) -> bool:
    """Take a queued run for `worker` before it waits for a slot, with one conditional
    UPDATE: a second delivery of its task loses (False) and touches nothing the first holds.
    A run claimed by a worker that went offline may be taken over."""
    free = Q(worker="") | Q(worker=worker) | ~Q(worker__in=nodes_online().values("name"))
    claimed = Run.objects.filter(free, pk=run_id, status=RunStatus.QUEUED).update(worker=worker)
    return bool(claimed)


def run_heartbeat(*, run_id: str) -> bool:
    """Freshen the run's heartbeat; False when the run no longer executes (canceled, failed,
    over, gone). One conditional UPDATE while it does; a stopping run keeps beating too, so
    the lost-worker sweep leaves it alone while its executor winds it down."""
    now = datetime.now(UTC)
    if Run.objects.filter(pk=run_id, status__in=EXECUTING).update(heartbeat_at=now):
        return True
    Run.objects.filter(pk=run_id).update(heartbeat_at=now)
    return False


def run_status_of(*, run_id: str) -> tuple[str, str] | None:
    """The run's status and its detail, read now."""
    return Run.objects.filter(pk=run_id).values_list("status", "status_detail").first()


def run_token_issue(*, run: Run) -> tuple[object | None, dict[str, str]]:
    """A token for the run's script that reaches only its workspace and dies with the run
    (revoked when it ends), so the SDK can read metrics back and create child runs over the
    REST API; with the variables that hand it over. None without a public URL to reach."""
    if not settings.MLSTUDIO_PUBLIC_URL or run.submitted_by is None:
        return None, {}
    token, raw = api_token_create(
        user=run.submitted_by,
        name=f"run {run.pk}"[:100],
        workspace_name=run.experiment.workspace.name,
        for_run=True,
    )
    Run.objects.filter(pk=run.pk).update(api_token=token)
    return token, {"MLSTUDIO_URL": settings.MLSTUDIO_PUBLIC_URL, "MLSTUDIO_TOKEN": raw}


def run_image_record(*, run_id: str, image: str) -> None:
    """The Docker image the run executes in, shown beside its node as where it ran."""
    with transaction.atomic():
        run = Run.objects.select_for_update().get(pk=run_id)
        if run.properties.get(IMAGE_PROPERTY) != image:
            run.properties[IMAGE_PROPERTY] = image
            run.save(update_fields=["properties"])


def run_nodes_dispatch(*, run: Run, leader: str, address: str, others: list[str]) -> None:
    """The nodes of a multi-node run: rank 0 is the leader at `address`, the others follow in
    order. A redelivered leader starts afresh."""
    with transaction.atomic():
        RunNode.objects.filter(run=run).delete()
        RunNode.objects.create(run=run, rank=0, node=leader, address=address)
        for rank, name in enumerate(others, start=1):
            RunNode.objects.create(run=run, rank=rank, node=name)


def run_node_claim(*, run_id: str, rank: int, node: str, address: str) -> bool:
    """A follower takes its rank, once: a redelivered task finds the address already set."""
    return bool(
        RunNode.objects.filter(
            run_id=run_id, rank=rank, node=node, state=RunNode.State.DISPATCHED, address=""
        ).update(address=address)
    )


def run_node_started(*, run_id: str, rank: int, address: str | None = None) -> None:
    fields = {"state": RunNode.State.STARTED}
    if address is not None:
        fields["address"] = address
    RunNode.objects.filter(run_id=run_id, rank=rank).update(**fields)


def run_node_finished(*, run_id: str, rank: int, exit_code: int | None = None) -> None:
    RunNode.objects.filter(run_id=run_id, rank=rank).update(
        state=RunNode.State.FINISHED, exit_code=exit_code
    )
