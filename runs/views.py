from django.http import Http404
from django.shortcuts import render
from django.views.decorators.http import require_GET

from mlstudio.errors import NotFound
from runs import selectors, store
from runs.presenters import run_details

LOG_TAIL_BYTES = 64 * 1024


@require_GET
def run_detail(request, name: str, run_id: str):
    try:
        run = selectors.run_get_for_user(user=request.user, workspace_name=name, run_id=run_id)
    except NotFound as exc:
        raise Http404(exc.message) from None
    sizes = store.log_files(run.pk)
    logs = {
        log: store.read_log(run.pk, log, max(0, size - LOG_TAIL_BYTES), LOG_TAIL_BYTES)[0]
        for log, size in sizes.items()
    }
    context = {
        "run": run,
        "details": run_details(run),
        "logs": logs,
        "files": store.list_files(run.pk),
        "api": f"/api/workspaces/{name}/runs/{run.pk}",
    }
    return render(request, "runs/detail.html", context)
