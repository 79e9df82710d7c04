"""Errors raised by the host side of ku7s.

    Ku7sError                 every error ku7s raises on purpose
    ├── UserInputError        the user asked for something invalid (name, flag, config file)
    │   └── ConfigError       the cluster config file is malformed or inconsistent
    ├── NotFoundError         a cluster or node that does not exist
    ├── AlreadyExistsError    a cluster or node name already taken
    ├── DockerUnavailableError the Docker engine does not answer
    ├── ImageBuildError       building an image failed (carries the tool's output)
    └── ClusterCreateError    a cluster did not come up (carries what was seen)

The CLI prints ``ERROR: <message>`` for any of these and exits non-zero.
"""

from __future__ import annotations


class Ku7sError(Exception):
    """Root of the errors ku7s raises on purpose."""


class UserInputError(Ku7sError):
    """The user asked for something invalid."""


class ConfigError(UserInputError):
    """The cluster config file is malformed or inconsistent."""


class NotFoundError(Ku7sError):
    """A cluster or node that does not exist."""


class AlreadyExistsError(Ku7sError):
    """A cluster or node name that is already taken."""


class DockerUnavailableError(Ku7sError):
    """The Docker engine does not answer."""


class ImageBuildError(Ku7sError):
    """Building an image failed."""

    def __init__(self, message: str, output: str = "") -> None:
        super().__init__(message)
        self.output = output


class ClusterCreateError(Ku7sError):
    """A cluster did not come up."""
