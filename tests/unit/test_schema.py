"""The type schema: strict decoding and protobuf bodies as kubectl sends them."""

from __future__ import annotations

import base64
import datetime

import pytest

from ku7s.api.schema import SCHEMA, kind_struct, strict
from ku7s.api.schema.protobuf import MAGIC, ProtobufError, decode, envelope


def varint(n: int) -> bytes:
    n &= (1 << 64) - 1
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def field(number: int, value) -> bytes:
    if isinstance(value, bool | int):
        return varint(number << 3) + varint(int(value))
    data = value.encode() if isinstance(value, str) else value
    return varint(number << 3 | 2) + varint(len(data)) + data


def test_every_reference_resolves_and_numbers_are_unique():
    for name in (
        "core.PodSpec",
        "core.Container",
        "apps.DeploymentSpec",
        "batch.JobSpec",
        "core.ServiceSpec",
        "meta.ObjectMeta",
        "discovery.EndpointSlice",
    ):
        struct = SCHEMA.struct(name)
        numbers = [f.number for f in struct.fields]
        assert len(numbers) == len(set(numbers)), name
    assert kind_struct("apps", "Deployment") == "apps.Deployment"
    assert kind_struct("", "Widget") is None


def test_strict_check_finds_unknown_fields_and_prunes_them():
    obj = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "extra": 1,
        "metadata": {"name": "d", "bogus": True},
        "spec": {"template": {"spec": {"containers": [{"name": "c", "imag": "x"}]}}},
    }
    report = strict.check("apps.Deployment", obj)
    assert report.unknown == ["extra", "metadata.bogus", "spec.template.spec.containers[0].imag"]
    assert "extra" not in obj and "imag" not in obj["spec"]["template"]["spec"]["containers"][0]


def test_strict_check_reports_wrong_types_with_the_go_struct():
    report = strict.check("apps.Deployment", {"spec": {"replicas": "three"}})
    assert report.wrong_types == [("DeploymentSpec", "spec.replicas", "int32", "string")]
    report = strict.check("core.Pod", {"spec": {"containers": {"name": "x"}}})
    assert report.wrong_types[0][1:] == ("spec.containers", "[]Container", "object")
    ok = strict.check(
        "core.Pod",
        {
            "spec": {
                "containers": [
                    {
                        "name": "c",
                        "resources": {"limits": {"cpu": 1, "memory": "1Gi"}},
                        "ports": [{"containerPort": 80}],
                        "livenessProbe": {"httpGet": {"port": "http"}},
                    }
                ]
            }
        },
    )
    assert not ok.wrong_types and not ok.unknown


def test_protobuf_envelope_and_a_deployment_from_kubectl_create():
    labels = field(1, "app") + field(2, "web")  # map entry
    container = (
        field(1, "web")
        + field(2, "nginx")
        + field(3, "nginx")
        + field(3, "-g")
        + field(6, field(3, 80))
    )
    template = field(1, field(11, labels)) + field(2, field(2, container))
    spec = field(1, 0) + field(2, field(1, labels)) + field(3, template)
    created = field(1, 1_700_000_000)
    metadata = field(1, "web") + field(8, created) + field(11, labels) + field(6, "")
    raw = field(1, metadata) + field(2, spec)
    type_meta = field(1, "apps/v1") + field(2, "Deployment")
    body = MAGIC + field(1, type_meta) + field(2, raw)
    api_version, kind, payload = envelope(body)
    assert (api_version, kind) == ("apps/v1", "Deployment")
    obj = decode("apps.Deployment", payload)
    assert obj["metadata"] == {
        "name": "web",
        "labels": {"app": "web"},
        "creationTimestamp": datetime.datetime.fromtimestamp(1_700_000_000, datetime.UTC).strftime(
            "%Y-%m-%dT%H:%M:%SZ"
        ),
    }
    assert obj["spec"]["replicas"] == 0  # meaningful zero kept
    container_json = obj["spec"]["template"]["spec"]["containers"][0]
    assert container_json == {
        "name": "web",
        "image": "nginx",
        "command": ["nginx", "-g"],
        "ports": [{"containerPort": 80}],
    }


def test_protobuf_scalars_bytes_intstr_and_negative_numbers():
    secret = field(2, field(1, "k") + field(2, b"\x00\x01"))
    assert decode("core.Secret", secret)["data"] == {"k": base64.b64encode(b"\x00\x01").decode()}
    port = field(1, "http") + field(3, 80) + field(4, field(1, 1) + field(3, "web"))
    assert decode("core.ServicePort", port) == {"name": "http", "port": 80, "targetPort": "web"}
    assert decode("core.Toleration", field(5, -1)) == {"tolerationSeconds": -1}


def test_protobuf_errors_are_reported():
    with pytest.raises(ProtobufError, match="magic"):
        envelope(b"{}")
    with pytest.raises(ProtobufError, match="not known"):
        decode("core.ConfigMap", field(99, "x"))
    with pytest.raises(ProtobufError):
        decode("core.ConfigMap", b"\x0a\x05ab")  # truncated
