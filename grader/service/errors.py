"""The service's errors: each a :class:`GraderError` with its fix hint and the HTTP status it answers with."""

from __future__ import annotations

from grader.errors import GraderError


class ServiceError(GraderError):
    """A request the service refuses; ``status_code`` is its HTTP answer."""

    status_code = 400


class Unauthorized(ServiceError):
    status_code = 401


class Forbidden(ServiceError):
    status_code = 403


class NotFound(ServiceError):
    status_code = 404


class AttemptsUsed(ServiceError):
    status_code = 409


class TooLarge(ServiceError):
    status_code = 413


class Unacceptable(ServiceError):
    """An upload the intake refuses (a broken or hostile archive, no file): 422."""

    status_code = 422
