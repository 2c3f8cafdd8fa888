"""A small JSON-over-HTTP client for the studio's REST API, on the standard library only."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from mlstudio.sdk.exceptions import (
    AuthenticationException,
    NotFoundException,
    ServiceUnreachableException,
    UserErrorException,
)

if TYPE_CHECKING:
    import urllib.error

DEFAULT_TIMEOUT = 30.0


class Client:
    def __init__(self, url: str, token: str, *, timeout: float = DEFAULT_TIMEOUT):
        if not url or not url.startswith(("http://", "https://")):
            raise UserErrorException(
                f"The studio URL {url!r} is not an http(s) address, e.g. http://127.0.0.1:8000"
            )
        self.url = url.rstrip("/")
        self._token = token
        self.timeout = timeout

    def __repr__(self) -> str:
        return f"Client(url={self.url!r})"

    def request(self, method: str, path: str, body: Any = None) -> Any:
        """Send JSON (or nothing), return the parsed JSON answer."""
        data = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"} if data is not None else {}
        with self.open(method, path, data=data, headers=headers) as response:
            payload = response.read()
        return json.loads(payload) if payload else None

    def open(self, method: str, path: str, *, data=None, headers: dict | None = None):
        """Send a request and return the open response (use it as a context manager).

        `data` may be bytes or a binary file object (then give Content-Length in headers).
        HTTP errors become the SDK's exceptions, with the studio's own message.
        """
        # Imported here: urllib.request brings http.client, ssl and email, a third of a run's
        # start-up when its script only logs metrics (files, no HTTP).
        import urllib.error
        import urllib.request

        request = urllib.request.Request(  # noqa: S310 - the scheme is checked in __init__
            f"{self.url}/api/{path.lstrip('/')}", data=data, method=method
        )
        request.add_header("Authorization", f"Bearer {self._token}")
        request.add_header("Accept", "application/json")
        for name, value in (headers or {}).items():
            request.add_header(name, value)
        try:
            return urllib.request.urlopen(request, timeout=self.timeout)  # noqa: S310
        except urllib.error.HTTPError as exc:
            raise _error_for(exc) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise ServiceUnreachableException(
                f"Cannot reach the studio at {self.url} ({reason}). Is it running? "
                "Check `url` in config.json or MLSTUDIO_URL."
            ) from None

    def get(self, path: str) -> Any:
        return self.request("GET", path)

    def post(self, path: str, body: Any = None) -> Any:
        return self.request("POST", path, body if body is not None else {})


def segment(value: str) -> str:
    """Quote a value for use as one URL path segment."""
    return quote(str(value), safe="")


def _error_for(exc: urllib.error.HTTPError) -> Exception:
    try:
        detail = json.loads(exc.read() or b"{}").get("detail")
    except (ValueError, AttributeError):
        detail = None
    detail = detail or f"HTTP {exc.code} {exc.reason}"
    if exc.code == 401:
        return AuthenticationException(detail)
    if exc.code == 404:
        return NotFoundException(detail)
    return UserErrorException(detail)
