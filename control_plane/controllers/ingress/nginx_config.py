"""The nginx configuration of the built-in ingress controller: a pure function of the
Ingresses it serves, the Services they name and the TLS Secrets, so a test reads exactly
what nginx gets.

One server per host (wildcards as nginx writes them), a default server for rules without
a host and the default backend (404 otherwise; TLS handshakes for unknown names are
refused). Paths map to locations as the Ingress API means them: Exact to ``location =``,
Prefix to the path itself and everything under it by whole elements, longest first
(nginx's prefix choice), Exact winning a tie. Backends are the Services' cluster IPs, so
kube-proxy spreads requests over the endpoints and an endpoint change needs no reload.
A backend that cannot be reached by name (no such Service or port) answers 503.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from ku7s.api import meta

Object = dict[str, Any]

CONFIG_DIR = "/etc/nginx/ku7s"
CERTS_DIR = "/etc/nginx/ku7s-certs"
HEALTH_PORT = 10254
_UNSAFE = set(" \t\n{};\"'\\$#")


@dataclass
class Rendered:
    conf: str
    #: file name -> PEM (certificate chain, then key) for each TLS Secret used
    certs: dict[str, str]
    #: (ingress, message) for what could not be served as written
    problems: list[tuple[Object, str]] = field(default_factory=list)

    @property
    def digest(self) -> str:
        text = self.conf + "".join(f"{k}\n{v}" for k, v in sorted(self.certs.items()))
        return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass
class _Server:
    name: str
    locations: dict[str, str] = field(default_factory=dict)  # "= /a" -> body
    cert: str = ""


def _location_keys(path: str, path_type: str) -> list[str]:
    if path_type == "Exact":
        return [f"= {path}"]
    if path_type == "Prefix":
        trimmed = path.rstrip("/") or "/"
        return ["/"] if trimmed == "/" else [f"= {trimmed}", f"{trimmed}/"]
    return [path or "/"]  # ImplementationSpecific: nginx's own prefix match


class _Renderer:
    def __init__(self, services: dict[str, Object], secrets: dict[str, Object]) -> None:
        self._services = services
        self._secrets = secrets
        self.upstreams: dict[str, str] = {}  # name -> "ip:port"
        self.certs: dict[str, str] = {}
        self.problems: list[tuple[Object, str]] = []

    def backend(self, ingress: Object, backend: Object) -> str:
        """A location's body for a backend: proxy to its Service, or 503 and a problem."""
        namespace = meta.namespace_of(ingress)
        service_ref = backend.get("service") or {}
        name = str(service_ref.get("name", ""))
        service = self._services.get(f"{namespace}/{name}")
        if not service_ref:
            self.problems.append((ingress, "resource backends are not supported by ku7s"))
            return "return 503;"
        if service is None:
            self.problems.append((ingress, f'service "{namespace}/{name}" not found'))
            return "return 503;"
        wanted = service_ref.get("port") or {}
        spec = service.get("spec") or {}
        port = next(
            (
                p
                for p in spec.get("ports") or []
                if (wanted.get("number") and p.get("port") == wanted["number"])
                or (wanted.get("name") and p.get("name") == wanted["name"])
            ),
            None,
        )
        cluster_ip = spec.get("clusterIP")
        if port is None:
            shown = wanted.get("number") or wanted.get("name")
            self.problems.append((ingress, f'service "{namespace}/{name}" has no port {shown}'))
            return "return 503;"
        if not cluster_ip or cluster_ip == "None":
            self.problems.append((ingress, f'service "{namespace}/{name}" has no cluster IP'))
            return "return 503;"
        upstream = f"{namespace}-{name}-{port['port']}"
        self.upstreams[upstream] = f"{cluster_ip}:{port['port']}"
        return f"proxy_pass http://{upstream};"

    def cert(self, ingress: Object, secret_name: str) -> str:
        namespace = meta.namespace_of(ingress)
        secret = self._secrets.get(f"{namespace}/{secret_name}")
        data = (secret or {}).get("data") or {}
        if not data.get("tls.crt") or not data.get("tls.key"):
            self.problems.append(
                (ingress, f'TLS secret "{namespace}/{secret_name}" not found or not a TLS secret')
            )
            return ""
        try:
            chain, key = base64.b64decode(data["tls.crt"]), base64.b64decode(data["tls.key"])
            x509.load_pem_x509_certificate(chain)
            serialization.load_pem_private_key(key, password=None)
        except ValueError:
            # nginx would refuse the whole configuration for it: leave the host out.
            self.problems.append(
                (
                    ingress,
                    f'TLS secret "{namespace}/{secret_name}" holds no valid certificate and key',
                )
            )
            return ""
        file_name = f"{namespace}_{secret_name}.pem"
        self.certs[file_name] = chain.decode().strip() + "\n" + key.decode().strip() + "\n"
        return file_name


def render(
    ingresses: list[Object], services: dict[str, Object], secrets: dict[str, Object]
) -> Rendered:
    """ingresses: those of the class, oldest first (the oldest wins a conflict);
    services and secrets: by namespace/name."""
    renderer = _Renderer(services, secrets)
    servers: dict[str, _Server] = {"_": _Server("_")}
    for ingress in ingresses:
        spec = ingress.get("spec") or {}
        tls_hosts: dict[str, str] = {}
        for tls in spec.get("tls") or []:
            if not tls.get("secretName"):
                continue
            certificate = renderer.cert(ingress, str(tls["secretName"]))
            for host in tls.get("hosts") or []:
                if certificate:
                    tls_hosts.setdefault(str(host), certificate)
        for rule in spec.get("rules") or []:
            host = str(rule.get("host") or "_")
            server = servers.setdefault(host, _Server(host))
            if host in tls_hosts and not server.cert:
                server.cert = tls_hosts[host]
            paths = ((rule.get("http") or {}).get("paths")) or []
            # Exact first: it wins the tie with a Prefix of the same path.
            for http_path in sorted(paths, key=lambda p: p.get("pathType") != "Exact"):
                path = str(http_path.get("path") or "/")
                if _UNSAFE & set(path):
                    renderer.problems.append((ingress, f"path {path!r} is not supported"))
                    continue
                body = renderer.backend(ingress, http_path.get("backend") or {})
                for key in _location_keys(path, str(http_path.get("pathType"))):
                    server.locations.setdefault(key, body)
        for host, certificate in tls_hosts.items():
            server = servers.setdefault(host, _Server(host))
            server.cert = server.cert or certificate
        if spec.get("defaultBackend"):
            body = renderer.backend(ingress, spec["defaultBackend"])
            servers["_"].locations.setdefault("/", body)
    return Rendered(_conf(servers, renderer.upstreams), renderer.certs, renderer.problems)


def _conf(servers: dict[str, _Server], upstreams: dict[str, str]) -> str:
    lines = [
        "worker_processes 1;",
        "pid /tmp/nginx.pid;",
        "error_log stderr notice;",
        "events { worker_connections 4096; }",
        "http {",
        "  include /etc/nginx/mime.types;",
        "  access_log /dev/stdout combined buffer=32k flush=1s;",
        "  server_names_hash_bucket_size 128;",
        "  proxy_http_version 1.1;",
        "  map $http_upgrade $connection_upgrade { default upgrade; '' ''; }",
        "  proxy_set_header Upgrade $http_upgrade;",
        "  proxy_set_header Connection $connection_upgrade;",
        "  proxy_set_header Host $host;",
        "  proxy_set_header X-Real-IP $remote_addr;",
        "  proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
        "  proxy_set_header X-Forwarded-Host $host;",
        "  proxy_set_header X-Forwarded-Proto $scheme;",
        "  proxy_connect_timeout 5s;",
        f"  server {{ listen {HEALTH_PORT}; access_log off;"
        " location /healthz { return 200 'ok'; } }",
    ]
    for name, address in sorted(upstreams.items()):
        lines.append(f"  upstream {name} {{ server {address}; keepalive 32; }}")
    for host in sorted(servers, key=lambda h: h != "_"):
        server = servers[host]
        if host == "_":
            lines += [
                "  server {",
                "    listen 80 default_server;",
                "    listen 443 ssl default_server;",
                "    ssl_reject_handshake on;",
                "    server_name _;",
            ]
        else:
            lines += ["  server {", "    listen 80;", f"    server_name {host};"]
            if server.cert:
                path = f"{CERTS_DIR}/{server.cert}"
                lines += [
                    "    listen 443 ssl;",
                    f"    ssl_certificate {path};",
                    f"    ssl_certificate_key {path};",
                ]
        locations = dict(server.locations)
        locations.setdefault("/", "return 404;")
        for key in sorted(locations):
            lines.append(f"    location {key} {{ {locations[key]} }}")
        lines.append("  }")
    lines.append("}")
    return "\n".join(lines) + "\n"
