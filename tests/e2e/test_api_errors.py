"""Every error case answers with a Kubernetes Status of the documented code and reason."""

from __future__ import annotations

import base64
import http.client
import json
import ssl
import urllib.parse

import pytest
import yaml

from tests.e2e.conftest import Cluster


class API:
    def __init__(self, cluster: Cluster, tmp_path) -> None:
        config = yaml.safe_load(cluster.kubeconfig.read_text())
        self.server = config["clusters"][0]["cluster"]["server"]
        user = config["users"][0]["user"]
        ca = base64.b64decode(config["clusters"][0]["cluster"]["certificate-authority-data"])
        pair = tmp_path / "admin.pem"
        pair.write_bytes(
            base64.b64decode(user["client-certificate-data"])
            + b"\n"
            + base64.b64decode(user["client-key-data"])
        )
        self.context = ssl.create_default_context(cadata=ca.decode())
        self.context.load_cert_chain(pair)

    def call(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        content_type: str | None = "application/json",
    ) -> tuple[int, dict]:
        """One request; with content_type None the request carries no Content-Type at all."""
        url = urllib.parse.urlsplit(self.server)
        connection = http.client.HTTPSConnection(
            url.hostname, url.port, context=self.context, timeout=10
        )
        headers = {"Content-Type": content_type} if content_type and body is not None else {}
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            if response.status >= 400:
                assert response.getheader("Content-Type") == "application/json"
            return response.status, json.loads(response.read().splitlines()[0] or b"{}")
        finally:
            connection.close()


@pytest.fixture
def api(cluster: Cluster, tmp_path) -> API:
    return API(cluster, tmp_path)


CM = "/api/v1/namespaces/default/configmaps"


@pytest.mark.parametrize(
    ("method", "path", "body", "content_type", "code", "reason"),
    [
        ("GET", f"{CM}/missing", None, None, 404, "NotFound"),
        ("POST", CM, b'{"metadata":{"name":"dup-e2e"}}', "application/json", 201, None),
        ("POST", CM, b'{"metadata":{"name":"dup-e2e"}}', "application/json", 409, "AlreadyExists"),
        (
            "PUT",
            f"{CM}/dup-e2e",
            b'{"metadata":{"name":"dup-e2e","resourceVersion":"1"}}',
            "application/json",
            409,
            "Conflict",
        ),
        ("POST", CM, b'{"metadata":{"name":"Bad_Name"}}', "application/json", 422, "Invalid"),
        ("POST", CM, b"{not json", "application/json", 400, "BadRequest"),
        (
            "POST",
            CM,
            b'{"metadata":{"name":"t"},"data":[1]}',
            "application/json",
            400,
            "BadRequest",
        ),
        (
            "POST",
            CM,
            b'{"kind":"Pod","metadata":{"name":"k"}}',
            "application/json",
            400,
            "BadRequest",
        ),
        (
            "POST",
            "/api/v1/namespaces/other/configmaps",
            b'{"metadata":{"name":"n","namespace":"default"}}',
            "application/json",
            400,
            "BadRequest",
        ),
        (
            "PUT",
            "/api/v1/namespaces/default/configmaps",
            b"{}",
            "application/json",
            405,
            "MethodNotAllowed",
        ),
        ("POST", CM, b"<xml/>", "application/xml", 415, "UnsupportedMediaType"),
        ("POST", CM, b'{"metadata":{"name":"nocontenttype"}}', None, 201, None),
        (
            "GET",
            "/api/v1/namespaces/default/configmaps?watch=1&resourceVersion=1",
            None,
            None,
            200,
            None,
        ),
        ("DELETE", f"{CM}/dup-e2e", None, None, 200, None),
        ("DELETE", f"{CM}/nocontenttype", None, None, 200, None),
    ],
    ids=[
        "not-found",
        "create",
        "already-exists",
        "conflict",
        "invalid",
        "malformed",
        "wrong-type",
        "wrong-kind",
        "wrong-namespace",
        "method",
        "media-type",
        "no-content-type",
        "watch-ok",
        "delete",
        "delete-2",
    ],
)
def test_error_statuses(api, method, path, body, content_type, code, reason):
    if path.endswith("watch=1&resourceVersion=1"):
        path += "&timeoutSeconds=1"
    status, payload = api.call(method, path, body, content_type)
    assert status == code, payload
    if reason:
        assert payload["kind"] == "Status" and payload["reason"] == reason
        assert payload["code"] == code and payload["message"]


def test_too_large_and_expired(api):
    big = json.dumps({"metadata": {"name": "big"}, "data": {"x": "a" * (3 * 1024 * 1024)}})
    status, payload = api.call("POST", CM, big.encode())
    assert (status, payload["reason"]) == (413, "RequestEntityTooLarge")
    status, payload = api.call("GET", f"{CM}?limit=1&continue=bm90LWEtdG9rZW4=")
    assert (status, payload["reason"]) == (400, "BadRequest")
