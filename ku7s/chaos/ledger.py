"""The faults in force, kept in the cluster: one ConfigMap per fault in ``kube-system``,
labelled ``ku7s.dev/chaos``. It is written before the fault is injected and deleted after it
is reverted, so what is there is either in force or left behind by a run that died; any
``ku7s`` process can list and recover them."""

from __future__ import annotations

import datetime
import json
import os
import secrets
import socket
from dataclasses import asdict, dataclass, field
from typing import Any

from ku7s.client.rest import APIClient, APIStatusError
from ku7s.names import CHAOS_LABEL as LABEL
from ku7s.names import CHAOS_NAMESPACE as NAMESPACE

PREFIX = "ku7s-chaos-"


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


@dataclass
class FaultRecord:
    id: str
    kind: str
    targets: list[str]
    duration_seconds: float
    started: str
    expires: str
    seed: int
    parameters: dict[str, Any] = field(default_factory=dict)
    #: Who runs the fault: a record whose process is gone and whose time is up is a leftover.
    host: str = ""
    pid: int = 0

    @classmethod
    def new(
        cls,
        kind: str,
        targets: list[str],
        duration: float,
        seed: int,
        parameters: dict[str, Any] | None = None,
    ) -> FaultRecord:
        started = _now()
        return cls(
            id=secrets.token_hex(4),
            kind=kind,
            targets=list(targets),
            duration_seconds=duration,
            started=started.isoformat(timespec="seconds"),
            expires=(started + datetime.timedelta(seconds=duration)).isoformat(timespec="seconds"),
            seed=seed,
            parameters=dict(parameters or {}),
            host=socket.gethostname(),
            pid=os.getpid(),
        )

    @property
    def expired(self) -> bool:
        return _now() > datetime.datetime.fromisoformat(self.expires)

    @property
    def owner_alive(self) -> bool:
        if self.host != socket.gethostname():
            return not self.expired  # another machine's: trust its clock
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True

    @property
    def leftover(self) -> bool:
        return not self.owner_alive


class Ledger:
    def __init__(self, client: APIClient) -> None:
        self._client = client
        self._path = f"/api/v1/namespaces/{NAMESPACE}/configmaps"

    async def add(self, record: FaultRecord) -> None:
        await self._client.create(
            self._path,
            {
                "metadata": {
                    "name": PREFIX + record.id,
                    "labels": {LABEL: "fault", f"{LABEL}-kind": record.kind},
                },
                "data": {"record": json.dumps(asdict(record), sort_keys=True)},
            },
        )

    async def remove(self, record: FaultRecord) -> None:
        try:
            await self._client.delete(f"{self._path}/{PREFIX}{record.id}")
        except APIStatusError as e:
            if e.code != 404:
                raise

    async def records(self) -> list[FaultRecord]:
        listing = await self._client.get(self._path, {"labelSelector": f"{LABEL}=fault"})
        found = []
        for item in listing.get("items", []):
            try:
                found.append(FaultRecord(**json.loads((item.get("data") or {})["record"])))
            except (KeyError, TypeError, ValueError):
                continue  # not ours to read
        return sorted(found, key=lambda r: r.started)
