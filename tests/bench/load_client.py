"""A lean HTTP/1.1-over-TLS load generator for the benchmarks.

The figures are of the server: on a 2-core machine a full client (aiohttp, JSON parsing of
every answer) costs about as much CPU as the server it measures, and takes it from the
server. Like wrk, this client sends prepared request bytes over kept-alive connections
and reads each answer only as far as its status and length.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class LoadResult:
    requests: int
    seconds: float
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds

    def percentile_ms(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer

    async def exchange(self, request: bytes) -> int:
        """Send one request; read its whole answer; return the status code."""
        self._writer.write(request)
        head = await self._reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
                break
        else:
            raise RuntimeError("answer without Content-Length: " + head.decode(errors="replace"))
        await self._reader.readexactly(length)
        return status

    def close(self) -> None:
        self._writer.close()


class LoadClient:
    def __init__(
        self,
        host: str,
        port: int,
        ssl_context: ssl.SSLContext,
        tls_name: str,
        bearer_token: str | None = None,
    ) -> None:
        self._host, self._port = host, port
        self._ssl, self._tls_name = ssl_context, tls_name
        self._authorization = f"Authorization: Bearer {bearer_token}\r\n" if bearer_token else ""

    def request(
        self, method: str, path: str, body: bytes = b"", content_type: str = "application/json"
    ) -> bytes:
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: {self._tls_name}\r\n"
            f"Accept: application/json\r\nContent-Type: {content_type}\r\n"
            f"{self._authorization}Content-Length: {len(body)}\r\n\r\n"
        )
        return head.encode() + body

    async def run(self, requests: list[bytes], concurrency: int) -> LoadResult:
        """Send the requests over `concurrency` connections, each waiting for its answer
        before the next; connections are opened before the clock starts."""
        connections = [
            _Connection(
                *await asyncio.open_connection(
                    self._host, self._port, ssl=self._ssl, server_hostname=self._tls_name
                )
            )
            for _ in range(concurrency)
        ]
        pending = list(reversed(requests))
        result = LoadResult(len(requests), 0.0)
        clock: Callable[[], float] = time.perf_counter

        async def drive(connection: _Connection) -> None:
            while pending:
                request = pending.pop()
                started = clock()
                status = await connection.exchange(request)
                result.latencies.append(clock() - started)
                result.statuses[status] = result.statuses.get(status, 0) + 1

        try:
            started = clock()
            await asyncio.gather(*(drive(c) for c in connections))
            result.seconds = clock() - started
        finally:
            for connection in connections:
                connection.close()
        return result
