"""Errors a user can cause. Each carries a message a person can act on; the API maps them to
4xx in one place (mlstudio/api.py), the UI shows them as form errors, the SDK re-raises them."""


class UserError(Exception):
    """`status` is the HTTP status the API answers with, `code` the word a client can act on.
    A subclass may name its own in the class line, `class NotFound(UserError, status=404,
    code="not_found")`; one that names neither keeps its parent's."""

    status = 400
    code = "bad_request"

    def __init_subclass__(cls, status: int | None = None, code: str | None = None, **kwargs):
        super().__init_subclass__(**kwargs)
        if status is not None:
            cls.status = status
        if code is not None:
            cls.code = code

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class Unauthorized(UserError, status=401, code="unauthorized"): ...


class Forbidden(UserError, status=403, code="forbidden"): ...


class NotFound(UserError, status=404, code="not_found"): ...


class Conflict(UserError, status=409, code="conflict"): ...


class TooLarge(UserError, status=413, code="too_large"): ...
