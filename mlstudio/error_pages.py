"""One place that turns a user's mistake (mlstudio.errors.UserError) raised in an HTML view
into its page: not found 404, forbidden 403, anything else 400, with Django's own error pages.
The API maps the same errors to JSON in its single handler (mlstudio.api)."""

from __future__ import annotations

from django.core.exceptions import BadRequest, PermissionDenied
from django.core.handlers.exception import response_for_exception
from django.http import Http404

from mlstudio.errors import UserError


class UserErrorPages:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, UserError):
            return None
        mapped = {404: Http404, 403: PermissionDenied}.get(exception.status, BadRequest)
        return response_for_exception(request, mapped(exception.message))
