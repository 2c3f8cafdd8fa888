"""TensorBoard pages: open a board for runs (a POST from the run page or the compare view),
then every request under /w/<workspace>/tensorboard/<key>/ is proxied to that board on
loopback, behind the studio's login and the workspace's access check."""

from __future__ import annotations

import http.client

from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from mlstudio.errors import NotFound, UserError
from runs import tensorboards

PROXY_TIMEOUT = 120.0
REQUEST_HEADERS = ("Accept", "Accept-Encoding", "Content-Type", "If-None-Match",
                   "X-XSRF-Protected")  # fmt: skip
RESPONSE_HEADERS = ("Content-Type", "Content-Encoding", "Cache-Control", "ETag", "Location",
                    "Content-Security-Policy", "X-Content-Type-Options")  # fmt: skip


@require_POST
def tensorboard_open(request, name: str):
    run_ids = request.POST.getlist("run") or request.POST.get("runs", "").split(",")
    try:
        board = tensorboards.tensorboard_open(
            user=request.user, workspace_name=name, run_ids=run_ids
        )
    except NotFound as exc:
        raise Http404(exc.message) from None
    except UserError as exc:
        return HttpResponse(exc.message, status=exc.status, content_type="text/plain")
    return HttpResponseRedirect(board.path)


# TensorBoard's own POSTs carry its X-XSRF-Protected header, which a cross-site form cannot
# set; the board only reads logs. Its pages may frame each other, never another site.
@csrf_exempt
@xframe_options_sameorigin
def tensorboard_proxy(request, name: str, key: str, path: str = ""):
    try:
        board = tensorboards.tensorboard_for_request(
            user=request.user, workspace_name=name, key=key
        )
    except NotFound as exc:
        raise Http404(exc.message) from None
    headers = {h: request.headers[h] for h in REQUEST_HEADERS if h in request.headers}
    connection = http.client.HTTPConnection("127.0.0.1", board.port, timeout=PROXY_TIMEOUT)
    try:
        connection.request(
            request.method, request.get_full_path(), body=request.body or None, headers=headers
        )
        upstream = connection.getresponse()
        body = upstream.read()
    except OSError as exc:
        return HttpResponse(
            f"TensorBoard did not answer ({exc}). Open it again from the run page.",
            status=502,
            content_type="text/plain",
        )
    finally:
        connection.close()
    response = HttpResponse(body, status=upstream.status)
    for header in RESPONSE_HEADERS:
        if value := upstream.getheader(header):
            response[header] = value
    return response
