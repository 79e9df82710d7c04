"""A Python program served over HTTPS from a pod behind a Service, as webhooks and
extension API servers are deployed: its certificate (for <service>.<namespace>.svc, from a
CA made here) in a Secret mounted at /tls, the program in a ConfigMap mounted at /app, a
Deployment that runs it with a readiness probe on port 8443, and a Service on 443."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from ku7s.pki import CertificateAuthority

Object = dict[str, Any]


#: Serves answer(path, request) (defined by the program this is appended to) to POSTs of a
#: review: the JSON body's "request" in, the returned review out.
REVIEW_SERVER = """
import http.server, json, ssl

class Reviews(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        review = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        body = json.dumps(answer(self.path, review["request"])).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

server = http.server.HTTPServer(("", 8443), Reviews)
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain("/tls/tls.crt", "/tls/tls.key")
server.socket = context.wrap_socket(server.socket, server_side=True)
server.serve_forever()
"""


@dataclass(frozen=True)
class HTTPSPod:
    objects: list[Object]
    #: The CA that signed the server's certificate, as the caBundle configurations carry.
    ca_bundle: str


def https_pod(name: str, namespace: str, program: str, image: str, **pod_spec: Any) -> HTTPSPod:
    """The objects that run `program` (a Python script listening on 8443 with
    /tls/tls.crt and /tls/tls.key); pod_spec adds to the pod's spec (serviceAccountName)."""
    ca = CertificateAuthority.create(name)
    pair = ca.issue_server(name, [f"{name}.{namespace}.svc"], [])

    def meta(kind_name: str) -> Object:
        return {"name": kind_name, "namespace": namespace}

    container = {
        "name": name, "image": image, "command": ["python3", "/app/main.py"],
        "ports": [{"containerPort": 8443}],
        "readinessProbe": {"tcpSocket": {"port": 8443}, "periodSeconds": 1},
        "volumeMounts": [{"name": "tls", "mountPath": "/tls"},
                         {"name": "app", "mountPath": "/app"}],
    }  # fmt: skip
    objects = [
        {"apiVersion": "v1", "kind": "Secret", "metadata": meta(f"{name}-tls"),
         "type": "kubernetes.io/tls",
         "data": {"tls.crt": base64.b64encode(pair.cert_pem).decode(),
                  "tls.key": base64.b64encode(pair.key_pem).decode()}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta(name),
         "data": {"main.py": program}},
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta(name),
         "spec": {"selector": {"matchLabels": {"app": name}}, "template": {
             "metadata": {"labels": {"app": name}},
             "spec": {"containers": [container], **pod_spec, "volumes": [
                 {"name": "tls", "secret": {"secretName": f"{name}-tls"}},
                 {"name": "app", "configMap": {"name": name}}]}}}},
        {"apiVersion": "v1", "kind": "Service", "metadata": meta(name),
         "spec": {"selector": {"app": name}, "ports": [{"port": 443, "targetPort": 8443}]}},
    ]  # fmt: skip
    return HTTPSPod(objects, base64.b64encode(ca.cert_pem).decode())
