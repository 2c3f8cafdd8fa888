"""/static/ through the served ASGI application: a path that climbs out is a 404."""

import pytest
from asgiref.testing import ApplicationCommunicator

from mlstudio.asgi import application


async def get(path: str) -> int:
    """The status the served application answers a GET of `path` with."""
    scope = {"type": "http", "http_version": "1.1", "method": "GET", "path": path,
             "raw_path": path.encode(), "query_string": b"", "headers": [],
             "server": ("testserver", 80), "client": ("127.0.0.1", 1)}  # fmt: skip
    talk = ApplicationCommunicator(application, scope)
    await talk.send_input({"type": "http.request", "body": b""})
    start = await talk.receive_output(timeout=10)
    await talk.wait(timeout=10)
    return start["status"]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "path",
    ["/static/../settings.py", "/static/../../etc/passwd", "/static/%2e%2e/settings.py",
     "/static/js/../../mlstudio/settings.py", "/static/..%2fsettings.py"],
)  # fmt: skip
async def test_it_answers_404_for_a_path_that_climbs_out(path):
    assert await get(path) == 404


@pytest.mark.asyncio
async def test_it_still_serves_a_real_file():
    assert await get("/static/css/studio.css") in (200, 304)
