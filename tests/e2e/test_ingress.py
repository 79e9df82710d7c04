"""The built-in ingress controller on real nodes: an Ingress routes two hosts and a TLS host
(SNI, certificate from a Secret) to two Services, reached from the host through the mock
cloud's load balancer; path types behave as the API says; an edit is served within
seconds by a reload (the nginx pods are not restarted); a missing Service answers 503
with an event; the Ingress's status carries the load balancer's address."""

from __future__ import annotations

import datetime
import http.client
import json
import socket
import ssl
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ku7s.api.ingresses import NAME, NAMESPACE
from tests.e2e.conftest import Cluster, unique

#: nginx answering every request with the name of its Deployment.
ECHO = (
    'printf \'server { listen 8080; location / { return 200 "%s"; } }\' "$NAME" '
    "> /etc/nginx/conf.d/default.conf && exec nginx -g 'daemon off;'"
)


@pytest.fixture
def ns(cluster: Cluster) -> Iterator[str]:
    with cluster.namespace("ing") as name:
        yield name


def apply(cluster: Cluster, ns: str, manifest: str, tmp_path: Path) -> None:
    path = tmp_path / f"{unique('m')}.yaml"
    path.write_text(textwrap.dedent(manifest))
    cluster.kubectl("apply", "-n", ns, "-f", str(path))


def backends(cluster: Cluster, ns: str, tmp_path: Path, *names: str) -> None:
    for name in names:
        apply(
            cluster,
            ns,
            f"""
            apiVersion: apps/v1
            kind: Deployment
            metadata: {{name: {name}}}
            spec:
              selector: {{matchLabels: {{app: {name}}}}}
              template:
                metadata: {{labels: {{app: {name}}}}}
                spec:
                  terminationGracePeriodSeconds: 0
                  containers:
                  - name: echo
                    image: nginx
                    env: [{{name: NAME, value: {name}}}]
                    command: [sh, -c, {json.dumps(ECHO)}]
                    ports: [{{containerPort: 8080, name: http}}]
            ---
            apiVersion: v1
            kind: Service
            metadata: {{name: {name}}}
            spec:
              selector: {{app: {name}}}
              ports: [{{port: 80, targetPort: http}}]
            """,
            tmp_path,
        )
    for name in names:
        cluster.kubectl(
            "rollout", "status", f"deploy/{name}", "-n", ns, "--timeout=60s", timeout=70
        )


def self_signed(host: str, directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "tls.crt", directory / "tls.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def route(path: str, path_type: str, service: str) -> str:
    backend = {"service": {"name": service, "port": {"number": 80}}}
    return json.dumps({"path": path, "pathType": path_type, "backend": backend})


def get(address: str, host: str, path: str = "/") -> tuple[int, str]:
    connection = http.client.HTTPConnection(address, 80, timeout=5)
    try:
        connection.request("GET", path, headers={"Host": host})
        response = connection.getresponse()
        return response.status, response.read().decode()
    finally:
        connection.close()


def get_tls(address: str, host: str, ca: Path) -> tuple[int, str]:
    """HTTPS to the address, naming host by SNI and checking its certificate against ca."""
    context = ssl.create_default_context(cafile=str(ca))
    with (
        socket.create_connection((address, 443), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname=host) as tls,
    ):
        tls.sendall(f"GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := tls.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body.decode()


def test_an_ingress_routes_hosts_paths_and_tls_from_the_host(
    cluster: Cluster, ns: str, tmp_path: Path
):
    backends(cluster, ns, tmp_path, "alpha", "beta")
    a, b, secure = (f"{unique(h)}.example" for h in ("a", "b", "secure"))
    cert, key = self_signed(secure, tmp_path)
    cluster.kubectl("create", "secret", "tls", "secure-tls", "-n", ns,
                    f"--cert={cert}", f"--key={key}")  # fmt: skip
    apply(
        cluster,
        ns,
        f"""
        apiVersion: networking.k8s.io/v1
        kind: Ingress
        metadata: {{name: site}}
        spec:
          tls: [{{hosts: [{secure}], secretName: secure-tls}}]
          rules:
          - host: {a}
            http:
              paths:
              - {route("/", "Prefix", "alpha")}
          - host: {b}
            http:
              paths:
              - {route("/api", "Prefix", "beta")}
              - {route("/exact", "Exact", "alpha")}
              - {route("/gone", "Prefix", "missing")}
          - host: {secure}
            http:
              paths:
              - {route("/", "Prefix", "beta")}
        """,
        tmp_path,
    )

    def address() -> str:
        found = cluster.get_json("ingress", "site", "-n", ns).get("status", {})
        addresses = (found.get("loadBalancer") or {}).get("ingress") or []
        return addresses[0]["ip"] if addresses else ""

    cluster.wait_for(address, 90, interval=0.5, what="the Ingress's load balancer address")
    ip = address()
    service = cluster.get_json("svc", NAME, "-n", NAMESPACE)
    assert service["status"]["loadBalancer"]["ingress"][0]["ip"] == ip
    assert cluster.get_json("ingress", "site", "-n", ns)["spec"]["ingressClassName"] == "ku7s"
    assert ip in cluster.kubectl("get", "ingress", "site", "-n", ns).stdout

    cluster.wait_for(lambda: get(ip, a) == (200, "alpha"), 60, interval=0.5, what="a served")
    assert get(ip, a, "/any/path") == (200, "alpha")
    assert get(ip, b, "/api") == (200, "beta")
    assert get(ip, b, "/api/v1/things") == (200, "beta")
    assert get(ip, b, "/apiary")[0] == 404  # Prefix matches whole path elements
    assert get(ip, b, "/exact") == (200, "alpha")
    assert get(ip, b, "/exact/more")[0] == 404
    assert get(ip, b, "/gone")[0] == 503
    assert get(ip, "unknown.example")[0] == 404
    assert get_tls(ip, secure, cert) == (200, "beta")
    with pytest.raises(ssl.SSLError):
        get_tls(ip, "unknown.example", cert)  # no certificate for that name: refused
    events = cluster.get_json("events", "-n", ns, "--field-selector", "involvedObject.name=site")[
        "items"
    ]
    assert any(
        e["reason"] == "BackendUnavailable" and f'"{ns}/missing" not found' in e["message"]
        for e in events
    )

    # A default backend catches the hosts no rule names.
    apply(
        cluster,
        ns,
        """
        apiVersion: networking.k8s.io/v1
        kind: Ingress
        metadata: {name: catch-all}
        spec:
          defaultBackend: {service: {name: alpha, port: {number: 80}}}
        """,
        tmp_path,
    )
    cluster.wait_for(
        lambda: get(ip, "unknown.example") == (200, "alpha"), 30, interval=0.2,
        what="the default backend",
    )  # fmt: skip
    cluster.kubectl("delete", "ingress", "catch-all", "-n", ns)
    cluster.wait_for(
        lambda: get(ip, "unknown.example")[0] == 404, 30, interval=0.2, what="404 again"
    )

    # An edit is served within seconds, by a reload: the nginx pods stay as they were.
    pods_before = {
        p["metadata"]["uid"]: p["status"]["containerStatuses"][0]["restartCount"]
        for p in cluster.get_json("pods", "-n", NAMESPACE)["items"]
    }
    cluster.kubectl("patch", "ingress", "site", "-n", ns, "--type=json", "-p",
                    '[{"op": "replace", "path": "/spec/rules/0/http/paths/0/backend/service/name",'
                    ' "value": "beta"}]')  # fmt: skip
    took = cluster.wait_for(lambda: get(ip, a) == (200, "beta"), 30, interval=0.1, what="the edit")
    assert took < 10
    pods_after = {
        p["metadata"]["uid"]: p["status"]["containerStatuses"][0]["restartCount"]
        for p in cluster.get_json("pods", "-n", NAMESPACE)["items"]
    }
    assert pods_after == pods_before


def test_an_ingress_of_another_class_is_left_alone_and_bad_paths_are_refused(
    cluster: Cluster, ns: str, tmp_path: Path
):
    apply(
        cluster,
        ns,
        """
        apiVersion: networking.k8s.io/v1
        kind: Ingress
        metadata: {name: elsewhere}
        spec:
          ingressClassName: other
          defaultBackend: {service: {name: web, port: {number: 80}}}
        """,
        tmp_path,
    )
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: bad}\nspec:\n"
        "  rules:\n  - http:\n      paths:\n      - {path: relative, pathType: Prefix,"
        " backend: {service: {name: web, port: {number: 80}}}}\n"
    )
    result = cluster.kubectl("apply", "-n", ns, "-f", str(bad), check=False)
    assert result.returncode != 0 and "must be an absolute path" in result.stderr
    time.sleep(2)  # what the controller would have done by now
    ingress = cluster.get_json("ingress", "elsewhere", "-n", ns)
    assert not (ingress.get("status") or {}).get("loadBalancer")
