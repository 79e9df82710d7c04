"""The authenticated identity of a request (upstream's user.Info)."""

from __future__ import annotations

from dataclasses import dataclass, field

from aiohttp import web

AUTHENTICATED = "system:authenticated"
UNAUTHENTICATED = "system:unauthenticated"
ANONYMOUS_NAME = "system:anonymous"


@dataclass(frozen=True)
class User:
    name: str
    groups: tuple[str, ...]
    uid: str = ""
    #: Keys and values as SelfSubjectReview shows them (pod name and uid of a bound token).
    extra: dict[str, tuple[str, ...]] = field(default_factory=dict, compare=False, hash=False)

    @property
    def is_anonymous(self) -> bool:
        return self.name == ANONYMOUS_NAME

    def to_user_info(self) -> dict[str, object]:
        """The authentication.k8s.io UserInfo form."""
        info: dict[str, object] = {"username": self.name, "groups": list(self.groups)}
        if self.uid:
            info["uid"] = self.uid
        if self.extra:
            info["extra"] = {key: list(values) for key, values in self.extra.items()}
        return info


ANONYMOUS = User(ANONYMOUS_NAME, (UNAUTHENTICATED,))


#: The request key under which the access control middleware leaves the user.
USER = web.RequestKey("user", User)
