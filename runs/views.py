from datetime import datetime

from django.conf import settings
from django.http import JsonResponse
from django.shortcuts import render
from django.templatetags.static import static
from django.utils import timezone
from django.views.decorators.http import require_GET

from compute.selectors import target_list
from compute.views import status_context
from data.selectors import dataset_uses_of_run
from environments.selectors import environments_latest
from runs import selectors, store
from runs.models import FINAL_STATUSES, Run, RunStatus
from runs.presenters import git_facts, properties_without_git, run_details
from workspaces.models import Role
from workspaces.selectors import workspace_get_for_user

VIEWS = {"active": "ActiveOnly", "archived": "ArchivedOnly", "all": "All"}


@require_GET
def experiment_list(request, name: str):
    workspace, membership = workspace_get_for_user(user=request.user, name=name)
    view = request.GET.get("view", "active")
    experiments = selectors.experiments_with_stats(
        workspace=workspace, view_type=VIEWS.get(view, "ActiveOnly"), query=request.GET.get("q", "")
    )
    return render(
        request,
        "runs/experiments.html",
        {"workspace": workspace, "membership": membership, "experiments": experiments,
         "view": view if view in VIEWS else "active", "q": request.GET.get("q", ""),
         "can_delete": membership.allows(Role.OWNER)},
    )  # fmt: skip


@require_GET
def experiment_detail(request, name: str, experiment_id: int):
    workspace, membership = workspace_get_for_user(user=request.user, name=name)
    experiment = selectors.experiment_get(workspace=workspace, experiment_id=experiment_id)
    # The rows go to the page as data, not markup: its script shows them a page at a time,
    # which keeps rendering, sorting and filtering quick with thousands of runs.
    runs, summaries, metric_names = selectors.runs_table(experiment=experiment)
    return render(
        request,
        "runs/experiment.html",
        {"workspace": workspace, "membership": membership, "experiment": experiment,
         "table": {"runs": runs, "metrics": summaries}, "metric_names": metric_names,
         "statuses": RunStatus.values,
         "can_delete": experiment.is_archived and membership.allows(Role.OWNER)},
    )  # fmt: skip


@require_GET
def run_children_table(request, name: str, run_id: str):
    """A run's children as the experiment table shows rows: fetched when its row expands, so
    a sweep of a thousand trials costs the table nothing until it is opened."""
    parent = selectors.run_get_for_user(user=request.user, workspace_name=name, run_id=run_id)
    runs, summaries, metric_names = selectors.runs_table_children(parent=parent)
    return JsonResponse({"runs": runs, "metrics": summaries, "metric_names": metric_names})


@require_GET
def run_detail(request, name: str, run_id: str):
    workspace, membership = workspace_get_for_user(user=request.user, name=name)
    run = selectors.run_get_for_user(user=request.user, workspace_name=name, run_id=run_id)
    files = store.list_files(run.pk)
    logs = store.logs_among(files)
    # The script's log tail is in the page itself: it shows at the first paint, with no
    # request after the modules load.
    tail, tail_start, tail_end = store.read_log_tail(
        run.pk, store.USER_LOG, logs.get(store.USER_LOG, 0), LOG_TAIL
    )
    context = {
        "workspace": workspace,
        "membership": membership,
        "run": run,
        "details": run_details(run),
        "git": git_facts(run.properties),
        "properties": properties_without_git(run.properties),
        # The script's own output first: what the viewer shows unless another log is chosen.
        "log_names": [store.USER_LOG, *sorted({store.SYSTEM_LOG, *logs} - {store.USER_LOG})],
        "files": files,
        "children": run.children.order_by("number"),
        "snapshot_files": run.snapshot.manifest if run.snapshot else [],
        # In the page, not fetched after it: one request fewer for every view of a run.
        "dataset_uses": dataset_uses_of_run(workspace=workspace, run_id=run.pk),
        "api": f"/api/workspaces/{name}/runs/{run.pk}",
        "is_final": run.status in FINAL_STATUSES,
        "log_tail": tail,
        "page_data": {
            "api": f"/api/workspaces/{name}/runs/{run.pk}",
            "runId": run.pk,
            "ws": f"/ws/runs/{run.pk}/",
            "logs": logs,
            "tail": {"start": tail_start, "end": tail_end},
            "plotly": static("vendor/plotly/plotly.min.js"),
            "final": run.status in FINAL_STATUSES,
            "statusAge": _status_age(run),
        },
    }
    return render(request, "runs/detail.html", context)


# How much of a log's end the run page shows first: run.js's TAIL.
LOG_TAIL = 256 * 1024


def _status_age(run: Run) -> float:
    """Seconds since the run's last status change, so the page can count up how long it has
    been Preparing (a first build of its environment takes minutes) whatever the browser's
    clock says."""
    if not run.status_history:
        return 0.0
    since = datetime.fromisoformat(run.status_history[-1]["at"])
    return max(0.0, (timezone.now() - since).total_seconds())


@require_GET
def workspace_home(request, name: str):
    workspace, membership = workspace_get_for_user(user=request.user, name=name)
    recent = (
        Run.objects.filter(experiment__workspace=workspace, parent__isnull=True)
        .select_related("experiment", "submitted_by")
        .order_by("-created_at")[:15]
    )
    experiments = selectors.experiments_with_stats(workspace=workspace)[:15]
    return render(
        request,
        "runs/home.html",
        {"workspace": workspace, "membership": membership, "recent": recent,
         "experiments": experiments, **status_context(workspace=workspace)},
    )  # fmt: skip


@require_GET
def submit_page(request, name: str):
    """The submit form; the browser uploads the folder and submits through the API."""
    workspace, membership = workspace_get_for_user(user=request.user, name=name)
    experiments = selectors.experiments_list(workspace=workspace)
    return render(
        request,
        "runs/submit.html",
        {"workspace": workspace, "membership": membership, "experiments": experiments,
         "targets": [t.name for t in target_list(workspace=workspace)],
         "environments": environments_latest(workspace=workspace).values(),
         "max_bytes": settings.MLSTUDIO_SNAPSHOT_MAX_BYTES,
         "max_files": settings.MLSTUDIO_SNAPSHOT_MAX_FILES},
    )  # fmt: skip
