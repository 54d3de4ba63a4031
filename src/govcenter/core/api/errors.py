"""DRF exception handler: every API error as ``{"code", "message", "details"}``."""

from __future__ import annotations

import logging

from django.core.exceptions import PermissionDenied, RequestDataTooBig, SuspiciousOperation, TooManyFieldsSent
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DataError
from django.http import Http404
from rest_framework import exceptions
from rest_framework.views import exception_handler as drf_exception_handler

logger = logging.getLogger(__name__)


class ServiceError(exceptions.APIException):
    """A business rule refused the request (raised by services, shown as 4xx)."""

    status_code = 400
    default_code = "invalid"
    default_detail = "The request was refused."

    def __init__(self, message: str, *, code: str = "invalid", status: int = 400, details: dict | None = None):
        super().__init__(detail=message, code=code)
        self.status_code = status
        self.error_code = code
        self.details = details or {}


def exception_handler(exc, context):
    if isinstance(exc, DataError):
        # A value Python accepted but the database cannot hold (a UTC offset beyond ±16 h, a
        # NUL character in text, a number out of range): the caller's input, not our fault.
        logger.warning("database refused a request value: %s", exc)
        exc = ServiceError(
            "A value in the request is out of the range the database can store.",
            code="invalid_value",
            details={"database": str(exc).splitlines()[0][:200]},
        )
    if isinstance(exc, SuspiciousOperation):
        # Django's own request limits (DATA_UPLOAD_MAX_NUMBER_FIELDS, …_MEMORY_SIZE) and
        # malformed requests: the caller's fault, answered like any other bad request.
        exc = _suspicious(exc)
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(detail=exc.message_dict if hasattr(exc, "error_dict") else exc.messages)
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # unhandled: ApiErrorMiddleware turns it into a JSON 500
    if isinstance(exc, ServiceError):
        body = {"code": exc.error_code, "message": str(exc.detail), "details": exc.details}
    elif isinstance(exc, exceptions.ValidationError):
        body = {"code": "invalid", "message": "Invalid input.", "details": _details(exc.detail)}
    else:
        codes = exc.get_codes() if hasattr(exc, "get_codes") else "error"
        code = codes if isinstance(codes, str) else "error"
        body = {"code": code, "message": _message(exc.detail), "details": {}}
    response.data = body
    return response


def _suspicious(exc: SuspiciousOperation) -> ServiceError:
    logger.warning("suspicious request refused: %s", exc)
    if isinstance(exc, RequestDataTooBig):
        return ServiceError("The request body is too large.", code="request_too_large", status=413)
    if isinstance(exc, TooManyFieldsSent):
        return ServiceError("The request has too many fields.", code="too_many_fields")
    return ServiceError("The request is malformed.", code="bad_request")


def _message(detail) -> str:
    if isinstance(detail, list | tuple) and detail:
        return str(detail[0])
    if isinstance(detail, dict):
        return "; ".join(f"{k}: {_message(v)}" for k, v in detail.items())
    return str(detail)


def _details(detail):
    if isinstance(detail, dict):
        return {k: _details(v) for k, v in detail.items()}
    if isinstance(detail, list):
        return [_details(v) for v in detail]
    return str(detail)
