"""The built-in ingress controller's nginx configuration: servers per host, locations per
path type, TLS certificates from Secrets, and 503 for backends that are not there."""

from __future__ import annotations

import base64

from control_plane.controllers.ingress.nginx_config import CERTS_DIR, render


def _self_signed(host: str) -> tuple[bytes, bytes]:
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    pem_key = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return cert.public_bytes(serialization.Encoding.PEM), pem_key


def ingress(name: str, spec: dict, created: str = "2026-01-01T00:00:00Z") -> dict:
    return {
        "metadata": {
            "name": name,
            "namespace": "default",
            "uid": name,
            "creationTimestamp": created,
        },
        "spec": spec,
    }


def path(value: str, path_type: str, service: str, port: int = 80) -> dict:
    backend = {"service": {"name": service, "port": {"number": port}}}
    return {"path": value, "pathType": path_type, "backend": backend}


SERVICES = {
    "default/web": {"spec": {"clusterIP": "10.96.0.20", "ports": [{"name": "http", "port": 80}]}},
    "default/api": {"spec": {"clusterIP": "10.96.0.21", "ports": [{"port": 8080}]}},
}


def server_block(conf: str, name: str) -> str:
    start = conf.index(f"server_name {name};")
    return conf[start : conf.index("\n  }", start)]


def test_hosts_and_path_types_become_servers_and_locations():
    rendered = render(
        [
            ingress(
                "site",
                {
                    "rules": [
                        {
                            "host": "a.example",
                            "http": {
                                "paths": [
                                    path("/api/", "Prefix", "api", 8080),
                                    path("/api", "Exact", "web"),
                                    path("/", "Prefix", "web"),
                                ]
                            },
                        }
                    ]
                },
            )
        ],
        SERVICES,
        {},
    )
    block = server_block(rendered.conf, "a.example")
    # Exact wins the tie with the Prefix of the same path; the Prefix covers what is under it.
    assert "location = /api { proxy_pass http://default-web-80; }" in block
    assert "location /api/ { proxy_pass http://default-api-8080; }" in block
    assert "location / { proxy_pass http://default-web-80; }" in block
    assert "upstream default-api-8080 { server 10.96.0.21:8080; keepalive 32; }" in rendered.conf
    assert rendered.problems == []


def test_a_missing_service_or_port_answers_503_and_is_reported():
    rendered = render(
        [
            ingress(
                "broken",
                {
                    "rules": [
                        {
                            "host": "b.example",
                            "http": {
                                "paths": [
                                    path("/gone", "Prefix", "nowhere"),
                                    path("/wrong", "Prefix", "api", 9999),
                                ]
                            },
                        }
                    ]
                },
            )
        ],
        SERVICES,
        {},
    )
    block = server_block(rendered.conf, "b.example")
    assert "location /gone/ { return 503; }" in block
    assert [m for _, m in rendered.problems] == [
        'service "default/nowhere" not found',
        'service "default/api" has no port 9999',
    ]


def test_tls_hosts_get_their_certificate_and_the_default_backend_catches_the_rest():
    cert, key = _self_signed("s.example")
    secret = {
        "type": "kubernetes.io/tls",
        "data": {
            "tls.crt": base64.b64encode(cert).decode(),
            "tls.key": base64.b64encode(key).decode(),
        },
    }
    broken = {"type": "kubernetes.io/tls", "data": {"tls.crt": secret["data"]["tls.crt"],
              "tls.key": base64.b64encode(b"not a key").decode()}}  # fmt: skip
    rendered = render(
        [
            ingress(
                "secure",
                {
                    "defaultBackend": {"service": {"name": "web", "port": {"name": "http"}}},
                    "tls": [{"hosts": ["s.example"], "secretName": "s-tls"}],
                    "rules": [
                        {"host": "s.example", "http": {"paths": [path("/", "Prefix", "web")]}}
                    ],
                },
            )
        ],
        SERVICES,
        {"default/s-tls": secret},
    )
    block = server_block(rendered.conf, "s.example")
    assert f"ssl_certificate {CERTS_DIR}/default_s-tls.pem;" in block
    assert rendered.certs == {
        "default_s-tls.pem": cert.decode().strip() + "\n" + key.decode().strip() + "\n"
    }
    assert "location / { proxy_pass http://default-web-80; }" in server_block(rendered.conf, "_")
    missing = render(
        [ingress("x", {"tls": [{"hosts": ["t.example"], "secretName": "nope"}], "rules": []})],
        SERVICES,
        {},
    )
    assert "not found or not a TLS secret" in missing.problems[0][1]
    # A certificate nginx would refuse leaves its host without TLS, not the whole config.
    bad = render(
        [ingress("y", {"tls": [{"hosts": ["u.example"], "secretName": "bad"}], "rules": []})],
        SERVICES,
        {"default/bad": broken},
    )
    assert bad.certs == {} and "ssl_certificate" not in bad.conf
    assert "no valid certificate and key" in bad.problems[0][1]


def test_the_oldest_ingress_wins_a_path_both_claim():
    old = ingress(
        "old",
        {"rules": [{"host": "c.example", "http": {"paths": [path("/", "Prefix", "web")]}}]},
        "2026-01-01T00:00:00Z",
    )
    new = ingress(
        "new",
        {"rules": [{"host": "c.example", "http": {"paths": [path("/", "Prefix", "api", 8080)]}}]},
        "2026-01-02T00:00:00Z",
    )
    block = server_block(render([old, new], SERVICES, {}).conf, "c.example")
    assert "location / { proxy_pass http://default-web-80; }" in block
    assert render([old], SERVICES, {}).digest != render([new], SERVICES, {}).digest


async def test_the_controller_deploys_on_first_use_touches_its_pods_and_fills_statuses():
    from control_plane.controllers.ingress import data_plane
    from control_plane.controllers.ingress.controller import IngressController
    from ku7s.api.ingresses import DEFAULT_INGRESS_CLASS, NAME, NAMESPACE
    from tests.unit.test_controllers import RecordingAPI, feed

    class API(RecordingAPI):
        async def get(self, path, params=None):
            from ku7s.client.rest import APIStatusError

            raise APIStatusError(404, "NotFound", path)

        async def replace(self, path, body):
            self.calls.append(("replace", path, body))
            return body

    api = API()
    controller = IngressController(api)  # type: ignore[arg-type]
    feed(controller.classes, DEFAULT_INGRESS_CLASS)
    await controller.reconcile("ingresses")
    assert api.calls == []  # no Ingress of ours: nothing deployed
    feed(controller.services, *({"metadata": {"name": n, "namespace": "default"}, **s}
                                for n, s in (("web", SERVICES["default/web"]),)))  # fmt: skip
    mine = ingress("site", {"rules": [{"host": "a.example", "http": {"paths": [
        path("/", "Prefix", "web")]}}]})  # fmt: skip
    other = ingress("other", {"ingressClassName": "nginx", "defaultBackend": {}})
    feed(controller.ingresses, mine, other)
    assert [i["metadata"]["name"] for i in controller.served()] == ["site"]
    await controller.reconcile("ingresses")
    created = [path for verb, path, _ in api.calls if verb == "create"]
    assert created[:3] == [
        "/api/v1/namespaces",
        f"/apis/apps/v1/namespaces/{NAMESPACE}/daemonsets",
        f"/api/v1/namespaces/{NAMESPACE}/services",
    ]
    config = next(body for verb, p, body in api.calls if p.endswith("/configmaps"))
    assert "server_name a.example;" in config["data"]["nginx.conf"]
    # The data plane runs and has an address: its pods are touched, the Ingress gets it.
    api.calls.clear()
    feed(
        controller.services,
        {
            "metadata": {"name": NAME, "namespace": NAMESPACE},
            "spec": {},
            "status": {"loadBalancer": {"ingress": [{"ip": "172.18.0.9"}]}},
        },
    )
    feed(controller.pods, {"metadata": {"name": "nginx-1", "namespace": NAMESPACE}, "spec": {}})
    await controller.reconcile("ingresses")
    patches = {p: body for verb, p, body in api.calls if verb == "patch"}
    touched = patches[f"/api/v1/namespaces/{NAMESPACE}/pods/nginx-1"]
    assert touched["metadata"]["annotations"][data_plane.CONFIG_ANNOTATION]
    status = patches["/apis/networking.k8s.io/v1/namespaces/default/ingresses/site/status"]
    assert status == {"status": {"loadBalancer": {"ingress": [{"ip": "172.18.0.9"}]}}}
    assert not [p for p in patches if "/ingresses/other/" in p]
