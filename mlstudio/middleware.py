"""Compression of the studio's own answers; static files come compressed from whitenoise."""

from __future__ import annotations

from django.middleware.gzip import GZipMiddleware

COMPRESSED_TYPES = ("text/html", "application/json")


class PageGZipMiddleware(GZipMiddleware):
    """Gzip pages and JSON, never streams (logs, file downloads and zips are read from their
    offsets or are compressed already, and gzipping hundreds of MB costs the server's CPU).

    BREACH: Django masks the CSRF token anew in every response and pads the gzip header with
    random bytes; a response that shows a secret (a new API token, config.json) is marked
    `Cache-Control: no-store`, and such a response is never compressed."""

    def process_response(self, request, response):
        if (
            response.streaming
            or not response.get("Content-Type", "").startswith(COMPRESSED_TYPES)
            or "no-store" in response.get("Cache-Control", "")
        ):
            return response
        return super().process_response(request, response)
