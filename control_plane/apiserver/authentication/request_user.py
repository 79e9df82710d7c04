"""The user of the request being served, for the admission plugins that need it (RBAC's
escalation check): set by the access control middleware, unset for the API server's own
writes (bootstrap objects, a namespace's companions)."""

from __future__ import annotations

from contextvars import ContextVar

from control_plane.apiserver.authentication.user import User

REQUEST_USER: ContextVar[User | None] = ContextVar("request_user", default=None)
