"""The OpenAPI v3 documents: ``/openapi/v3`` lists one document per group-version, each
with the paths of its kinds and the schemas they use.

``kubectl explain`` reads the schemas; kubectl's apply and create read the paths to learn
that the server checks fields itself (the ``fieldValidation`` parameter of each kind's
PATCH), and then send ``fieldValidation=Strict`` instead of checking client-side. The
documents are built when first asked for and kept until the served kinds change.
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

from control_plane.apiserver.kinds import Kind, Kinds
from control_plane.apiserver.kinds.custom_resource import CustomResourceKind
from control_plane.apiserver.openapi.schemas import SchemaSet, ref
from control_plane.apiserver.openapi.swagger import swagger, to_protobuf
from ku7s import KUBERNETES_VERSION
from ku7s.api.schema import kind_struct

Object = dict[str, Any]

#: Query parameters every write takes, as upstream documents them.
_WRITE_PARAMETERS = ("dryRun", "fieldManager", "fieldValidation")


def document_path(group: str, version: str) -> str:
    """The key in /openapi/v3's index: "api/v1" or "apis/<group>/<version>"."""
    return f"apis/{group}/{version}" if group else f"api/{version}"


def _parameters(names: tuple[str, ...]) -> list[Object]:
    return [{"name": n, "in": "query", "schema": {"type": "string", "uniqueItems": True}}
            for n in names]  # fmt: skip


def _operation(kind: Kind, action: str, schema: Object | None) -> Object:
    rt = kind.resource
    op: Object = {
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": {"group": rt.group, "version": rt.version,
                                            "kind": rt.kind},
        "responses": {"200": {"description": "OK"}},
    }  # fmt: skip
    if action in ("post", "put", "patch"):
        op["parameters"] = _parameters(_WRITE_PARAMETERS)
        if schema is not None:
            op["requestBody"] = {"content": {"application/json": {"schema": schema}}}
    return op


def _paths(kind: Kind, schema: Object | None) -> dict[str, Object]:
    rt = kind.resource
    base = f"/{document_path(rt.group, rt.version)}"
    collection = (
        f"{base}/namespaces/{{namespace}}/{rt.plural}" if rt.namespaced else f"{base}/{rt.plural}"
    )
    verbs = set(rt.verbs)
    paths: dict[str, Object] = {}
    listing = {m: _operation(kind, a, schema) for m, a, v in (
        ("get", "list", "list"), ("post", "post", "create"),
        ("delete", "deletecollection", "deletecollection"),
    ) if v in verbs}  # fmt: skip
    if listing:
        paths[collection] = listing
    item = {m: _operation(kind, a, schema) for m, a, v in (
        ("get", "get", "get"), ("put", "put", "update"), ("patch", "patch", "patch"),
        ("delete", "delete", "delete"),
    ) if v in verbs}  # fmt: skip
    if item:
        paths[f"{collection}/{{name}}"] = item
    for sub in rt.subresources:
        if sub in ("status", "scale"):
            paths[f"{collection}/{{name}}/{sub}"] = {
                m: _operation(kind, a, None) for m, a in (("get", "get"), ("put", "put"),
                                                          ("patch", "patch"))
            }  # fmt: skip
    return paths


class OpenAPIDocuments:
    def __init__(self, kinds: Kinds) -> None:
        self._kinds = kinds
        self._generation = -1
        self._documents: dict[str, bytes] = {}
        self._index = b""
        #: The v2 document as (JSON, protobuf), made when first asked for.
        self._v2: tuple[bytes, bytes] | None = None

    def index(self) -> bytes:
        self._refresh()
        return self._index

    def document(self, path: str) -> bytes | None:
        """The document for "api/v1" or "apis/<group>/<version>", as JSON."""
        self._refresh()
        return self._documents.get(path.strip("/"))

    def v2(self, *, protobuf: bool) -> bytes:
        """/openapi/v2: every group-version in one Swagger 2.0 document."""
        self._refresh()
        if self._v2 is None:
            document = swagger([orjson.loads(body) for body in self._documents.values()])
            self._v2 = (orjson.dumps(document), to_protobuf(document))
        return self._v2[1] if protobuf else self._v2[0]

    def _refresh(self) -> None:
        if self._generation == self._kinds.generation:
            return
        by_path: dict[str, list[Kind]] = {}
        for kind in self._kinds.all():
            if kind.stored:
                rt = kind.resource
                by_path.setdefault(document_path(rt.group, rt.version), []).append(kind)
        documents = {path: orjson.dumps(_build(kinds)) for path, kinds in by_path.items()}
        index = {
            "paths": {
                path: {
                    "serverRelativeURL": f"/openapi/v3/{path}?hash="
                    + hashlib.sha512(body).hexdigest()[:32].upper()
                }
                for path, body in documents.items()
            }
        }
        self._documents, self._index = documents, orjson.dumps(index)
        self._v2 = None
        self._generation = self._kinds.generation


def _build(kinds: list[Kind]) -> Object:
    schemas = SchemaSet()
    paths: dict[str, Object] = {}
    for kind in kinds:
        rt = kind.resource
        gvk = {"group": rt.group, "kind": rt.kind, "version": rt.version}
        if isinstance(kind, CustomResourceKind):
            name: str | None = schemas.add_custom(kind.definition, kind.version_spec)
        else:
            struct = kind_struct(rt.group, rt.kind, rt.version)
            name = schemas.add_struct(struct, gvk) if struct else None
        paths.update(_paths(kind, ref(name) if name else None))
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": KUBERNETES_VERSION},
        "paths": paths,
        "components": {"schemas": schemas.schemas},
    }
