"""The controller pattern: informers enqueue keys, workers reconcile them one at a time."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import ClassVar

from ku7s.client.informer import Informer, InformerFactory
from ku7s.client.rest import APIClient
from ku7s.client.workqueue import WorkQueue

log = logging.getLogger("controller")


class Controller:
    name: ClassVar[str] = "controller"

    def __init__(
        self,
        client: APIClient,
        informers: InformerFactory | None = None,
        *,
        workers: int = 2,
    ) -> None:
        self.client = client
        self.factory = informers or InformerFactory(client)
        self.queue: WorkQueue[str] = WorkQueue()
        self.informers: list[Informer] = []
        self._workers = workers

    async def reconcile(self, key: str) -> None:
        """Bring the world in line with the object named by key; raise to retry later."""
        raise NotImplementedError

    async def run(self, stop: asyncio.Event) -> None:
        async with asyncio.TaskGroup() as group:
            for informer in self.informers:
                group.create_task(informer.run(stop))
            await asyncio.gather(*(i.synced.wait() for i in self.informers))
            log.info("%s: caches synced, %d workers", self.name, self._workers)
            workers = [group.create_task(self._work()) for _ in range(self._workers)]
            await stop.wait()
            self.queue.shut_down()
            for worker in workers:
                worker.cancel()

    async def _work(self) -> None:
        while True:
            key = await self.queue.get()
            try:
                await self.reconcile(key)
                self.queue.forget(key)
            except asyncio.CancelledError:
                raise
            except Exception as e:  # every failure retries; the log says why
                log.info("%s: %s failed (%s); retrying", self.name, key, e)
                self.queue.add_rate_limited(key)
            finally:
                self.queue.done(key)


async def run_all(controllers: list[Controller], stop: asyncio.Event) -> None:
    async with asyncio.TaskGroup() as group:
        for controller in controllers:
            group.create_task(controller.run(stop))
        with contextlib.suppress(asyncio.CancelledError):
            await stop.wait()
