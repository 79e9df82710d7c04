"""The built-in ingress controller (IngressClass ``ku7s``, controller ku7s.dev/ingress-nginx):
serves the Ingresses of its class, and those naming no class while it is the default.

It deploys its data plane when the first such Ingress appears (so a cluster that uses
none pays nothing), renders the nginx configuration from the Ingresses, Services and TLS
Secrets into a ConfigMap and a Secret, touches the nginx pods so they pick it up at once,
reports what cannot be served as events on the Ingress, and fills each Ingress's
``status.loadBalancer`` with the address the mock cloud gave its Service.
"""

from __future__ import annotations

import base64
import logging
from typing import Any, ClassVar

from control_plane.controllers.ingress import data_plane
from control_plane.controllers.ingress.nginx_config import Rendered, render
from control_plane.controllers.pod_owner import apps_path, patch_status, pod_informer
from ku7s.api import meta
from ku7s.api.ingresses import CONTROLLER, DEFAULT_CLASS, NAME, NAMESPACE, class_of
from ku7s.client.controller import Controller
from ku7s.client.events import EventRecorder
from ku7s.client.informer import InformerFactory, object_key
from ku7s.client.rest import APIClient, APIStatusError, create_or_replace

Object = dict[str, Any]

log = logging.getLogger("ingress-controller")

KEY = "ingresses"
TLS_SECRET = "kubernetes.io/tls"


class IngressController(Controller):
    name: ClassVar[str] = "ingress"

    def __init__(
        self, client: APIClient, informers: InformerFactory | None = None, *, workers: int = 1
    ) -> None:
        super().__init__(client, informers, workers=workers)
        self.ingresses = self.factory.informer("/apis/networking.k8s.io/v1/ingresses")
        self.classes = self.factory.informer("/apis/networking.k8s.io/v1/ingressclasses")
        self.services = self.factory.informer("/api/v1/services")
        self.secrets = self.factory.informer("/api/v1/secrets")
        self.pods = pod_informer(self.factory)
        for informer in (self.ingresses, self.classes, self.services):
            informer.on_change(lambda _, __: self.queue.add(KEY))
        self.secrets.on_change(self._secret_changed)
        self.pods.on_change(self._pod_changed)
        self.informers = [self.ingresses, self.classes, self.services, self.secrets, self.pods]
        self._events = EventRecorder(client, "ku7s-ingress-controller")
        self._reported: dict[str, set[str]] = {}
        self._written = ""

    def _secret_changed(self, _: str, secret: Object) -> None:
        if secret.get("type") == TLS_SECRET:
            self.queue.add(KEY)

    def _pod_changed(self, _: str, pod: Object) -> None:
        if meta.namespace_of(pod) == NAMESPACE:
            self.queue.add(KEY)

    def served(self) -> list[Object]:
        """The Ingresses of this controller's classes, oldest first."""
        mine = [
            c for c in self.classes.list() if (c.get("spec") or {}).get("controller") == CONTROLLER
        ]
        names = {meta.name_of(c) for c in mine}
        default = any(meta.annotations_of(c).get(DEFAULT_CLASS) == "true" for c in mine)
        chosen = [
            i
            for i in self.ingresses.list()
            if class_of(i) in names or (not class_of(i) and default)
        ]
        return sorted(
            chosen,
            key=lambda i: (i["metadata"].get("creationTimestamp", ""), object_key(i)),
        )

    async def reconcile(self, key: str) -> None:
        served = self.served()
        service = self.services.get(f"{NAMESPACE}/{NAME}")
        if not served and service is None:
            return
        if service is None:
            await self._deploy()
        services = {object_key(s): s for s in self.services.list()}
        secrets = {object_key(s): s for s in self.secrets.list() if s.get("type") == TLS_SECRET}
        rendered = render(served, services, secrets)
        if rendered.digest != self._written:
            await self._write(rendered)
            self._written = rendered.digest
        await self._touch_pods(rendered.digest)
        self._report(served, rendered)
        await self._write_statuses(served, service)

    async def _deploy(self) -> None:
        log.info("deploying the ingress data plane in %s", NAMESPACE)
        for path, body in (
            ("/api/v1/namespaces", data_plane.namespace()),
            (f"/apis/apps/v1/namespaces/{NAMESPACE}/daemonsets", data_plane.daemon_set()),
            (f"/api/v1/namespaces/{NAMESPACE}/services", data_plane.service()),
        ):
            try:
                await self.client.create(path, body)
            except APIStatusError as e:
                if e.code != 409:
                    raise

    async def _write(self, rendered: Rendered) -> None:
        base = f"/api/v1/namespaces/{NAMESPACE}"
        await create_or_replace(
            self.client,
            f"{base}/configmaps",
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": data_plane.CONFIG_MAP, "labels": data_plane.LABELS},
                "data": {"nginx.conf": rendered.conf},
            },
        )
        await create_or_replace(
            self.client,
            f"{base}/secrets",
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": data_plane.CERTS_SECRET, "labels": data_plane.LABELS},
                "type": "Opaque",
                "data": {
                    name: base64.b64encode(pem.encode()).decode()
                    for name, pem in rendered.certs.items()
                },
            },
        )

    async def _touch_pods(self, digest: str) -> None:
        """A pod update makes its kubelet refresh the mounted configuration now."""
        for pod in self.pods.by_index("namespace", NAMESPACE):
            if meta.annotations_of(pod).get(data_plane.CONFIG_ANNOTATION) == digest:
                continue
            try:
                await self.client.patch(
                    f"/api/v1/namespaces/{NAMESPACE}/pods/{meta.name_of(pod)}",
                    {"metadata": {"annotations": {data_plane.CONFIG_ANNOTATION: digest}}},
                )
            except APIStatusError as e:
                if e.code != 404:
                    raise

    def _report(self, served: list[Object], rendered: Rendered) -> None:
        """An event for each new problem of an Ingress (not again while it lasts), and
        one when the controller first takes an Ingress up, as ingress-nginx does."""
        now: dict[str, set[str]] = {meta.uid_of(i): set() for i in served}
        for ingress, message in rendered.problems:
            uid = meta.uid_of(ingress)
            now.setdefault(uid, set()).add(message)
            if message not in self._reported.get(uid, set()):
                self._events.record(ingress, "Warning", "BackendUnavailable", message)
        for ingress in served:
            if meta.uid_of(ingress) not in self._reported:
                self._events.record(ingress, "Normal", "Sync", "Scheduled for sync")
        self._reported = now

    async def _write_statuses(self, served: list[Object], service: Object | None) -> None:
        addresses = ((service or {}).get("status") or {}).get("loadBalancer", {}).get("ingress")
        if not addresses:
            return
        wanted = {"ingress": [{"ip": a["ip"]} for a in addresses if a.get("ip")]}
        for ingress in served:
            await patch_status(
                self.client,
                apps_path("ingresses", ingress, "networking.k8s.io/v1"),
                ingress.get("status") or {},
                {"loadBalancer": wanted},
            )
