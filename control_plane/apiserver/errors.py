"""API errors and their Kubernetes ``Status`` form.

Every failure an API client can see is an APIError carrying the HTTP code, the machine
reason kubectl switches on (``NotFound``, ``AlreadyExists``, ``Conflict``, ...) and a message
worded like kube-apiserver's, so ``kubectl`` prints the same ``Error from server (...)`` lines.
"""

from __future__ import annotations

from typing import Any


class APIError(Exception):
    def __init__(
        self,
        code: int,
        reason: str,
        message: str,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details

    def status(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.details:
            body["details"] = self.details
        return body


def _details(resource: str, name: str, group: str = "") -> dict[str, Any]:
    details: dict[str, Any] = {"name": name, "kind": resource}
    if group:
        details["group"] = group
    return details


def _qualified(resource: str, group: str) -> str:
    return f"{resource}.{group}" if group else resource


def not_found(resource: str, name: str, group: str = "") -> APIError:
    return APIError(
        404,
        "NotFound",
        f'{_qualified(resource, group)} "{name}" not found',
        _details(resource, name, group),
    )


def already_exists(resource: str, name: str, group: str = "") -> APIError:
    return APIError(
        409,
        "AlreadyExists",
        f'{_qualified(resource, group)} "{name}" already exists',
        _details(resource, name, group),
    )


def conflict(resource: str, name: str, group: str = "") -> APIError:
    return APIError(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {_qualified(resource, group)} "{name}": '
        "the object has been modified; please apply your changes to the latest version "
        "and try again",
        _details(resource, name, group),
    )


def forbidden(resource: str, name: str, reason: str, group: str = "") -> APIError:
    return APIError(
        403,
        "Forbidden",
        f'{_qualified(resource, group)} "{name}" is forbidden: {reason}',
        _details(resource, name, group),
    )


def bad_request(message: str) -> APIError:
    return APIError(400, "BadRequest", message)


def invalid(kind: str, name: str, causes: list[tuple[str, str, str]], group: str = "") -> APIError:
    """422 Invalid listing each (field, reason, message) cause, worded as kube-apiserver:
    ``Deployment.apps "web" is invalid: spec.replicas: Invalid value: -1: must be ...``."""
    texts = [f"{field}: {message}" for field, _, message in causes]
    text = texts[0] if len(texts) == 1 else "[" + ", ".join(texts) + "]"
    details = _details(kind, name, group)
    details["causes"] = [
        {"reason": reason, "message": message, "field": field} for field, reason, message in causes
    ]
    return APIError(
        422, "Invalid", f'{_qualified(kind, group)} "{name}" is invalid: {text}', details
    )


def unauthorized() -> APIError:
    return APIError(401, "Unauthorized", "Unauthorized")


def route_not_found() -> APIError:
    return APIError(404, "NotFound", "the server could not find the requested resource")


def method_not_supported(verb: str, resource: str) -> APIError:
    return APIError(
        405, "MethodNotAllowed", f"{verb} is not supported on resources of kind {resource!r}"
    )


def unsupported_media_type(content_type: str) -> APIError:
    return APIError(
        415,
        "UnsupportedMediaType",
        f"the body of the request was in an unknown format: {content_type}",
    )


def gone(message: str) -> APIError:
    return APIError(410, "Expired", message)


def internal(message: str) -> APIError:
    return APIError(500, "InternalError", f"Internal error occurred: {message}")


def unavailable(message: str) -> APIError:
    return APIError(503, "ServiceUnavailable", message)
