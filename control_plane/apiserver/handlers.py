"""HTTP handlers for resources: list, watch, create, get, update, patch and delete.

One handler serves every type; the path says which (requests.parse_resource_path) and the
Registry applies the semantics. Responses are JSON objects, or Tables when kubectl asks.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

from aiohttp import web

from control_plane.apiserver import errors, tables
from control_plane.apiserver.registry import ListOptions, Registry
from control_plane.apiserver.requests import (
    ResourcePath,
    is_true,
    parse_int,
    parse_resource_path,
    wants_table,
)
from ku7s.api.patch import merge_patch

Object = dict[str, Any]

_MERGE_PATCH = "application/merge-patch+json"
_JSON = "application/json"


def json_response(body: Object, status: int = 200) -> web.Response:
    return web.Response(
        body=json.dumps(body, separators=(",", ":")).encode(),
        status=status,
        content_type=_JSON,
    )


async def read_json(request: web.Request) -> Object:
    content_type = request.content_type
    if content_type not in (
        _JSON,
        _MERGE_PATCH,
        "application/strategic-merge-patch+json",
        "application/json-patch+json",
        "application/octet-stream",
    ):
        raise errors.unsupported_media_type(content_type)
    raw = await request.read()
    try:
        body = json.loads(raw or b"null")
    except ValueError as e:
        raise errors.bad_request(f"the request body is not valid JSON: {e}") from e
    if not isinstance(body, dict):
        raise errors.bad_request("the request body must be a JSON object")
    return body


def _list_options(request: web.Request) -> ListOptions:
    q = request.query
    return ListOptions(
        label_selector=q.get("labelSelector"),
        field_selector=q.get("fieldSelector"),
        limit=parse_int("limit", q.get("limit")),
        continue_token=q.get("continue") or None,
        resource_version=q.get("resourceVersion"),
    )


class ResourceHandlers:
    def __init__(self, registry: Registry) -> None:
        self._registry = registry

    async def core(self, request: web.Request) -> web.StreamResponse:
        return await self._dispatch(request, "", "v1", request.match_info["tail"])

    async def grouped(self, request: web.Request) -> web.StreamResponse:
        info = request.match_info
        return await self._dispatch(request, info["group"], info["version"], info["tail"])

    async def _dispatch(
        self, request: web.Request, group: str, version: str, tail: str
    ) -> web.StreamResponse:
        path = parse_resource_path(self._registry.types, group, version, tail)
        method = request.method
        if path.name is None:
            if method == "GET":
                if is_true(request.query.get("watch")):
                    return await self._watch(request, path)
                return await self._list(request, path)
            if method == "POST":
                return await self._create(request, path)
            raise errors.method_not_supported(method.lower(), path.type.kind)
        if method == "GET":
            return await self._get(request, path)
        if method == "PUT":
            return await self._update(request, path)
        if method == "PATCH":
            return await self._patch(request, path)
        if method == "DELETE" and path.subresource is None:
            return await self._delete(request, path)
        raise errors.method_not_supported(method.lower(), path.type.kind)

    def _namespace(self, path: ResourcePath) -> str:
        return path.namespace or ""

    async def _list(self, request: web.Request, path: ResourcePath) -> web.Response:
        page = await self._registry.list(path.type, path.namespace, _list_options(request))
        if wants_table(request.headers.get("Accept", "")):
            return json_response(
                tables.to_table(
                    path.type,
                    page.items,
                    resource_version=page.resource_version,
                    continue_token=page.continue_token,
                    include_object=request.query.get("includeObject", "Metadata"),
                )
            )
        body: Object = {
            "kind": path.type.list_kind,
            "apiVersion": path.type.api_version,
            "metadata": {"resourceVersion": page.resource_version},
            "items": page.items,
        }
        if page.continue_token:
            body["metadata"]["continue"] = page.continue_token
        return json_response(body)

    async def _watch(self, request: web.Request, path: ResourcePath) -> web.StreamResponse:
        as_table = wants_table(request.headers.get("Accept", ""))
        include_object = request.query.get("includeObject", "Metadata")
        timeout = parse_int("timeoutSeconds", request.query.get("timeoutSeconds"), 1800)
        events = await self._registry.watch(path.type, path.namespace, _list_options(request))
        response = web.StreamResponse(status=200, headers={"Content-Type": _JSON})
        response.enable_chunked_encoding()
        await response.prepare(request)
        columns_sent = False
        try:
            async with asyncio.timeout(timeout):
                async for event in events:
                    obj = event.object
                    if as_table and event.type != "ERROR":
                        obj = tables.to_table(
                            path.type,
                            [obj],
                            resource_version=obj.get("metadata", {}).get("resourceVersion", ""),
                            include_object=include_object,
                            include_columns=not columns_sent,
                        )
                        columns_sent = True
                    line = json.dumps({"type": event.type, "object": obj}, separators=(",", ":"))
                    await response.write(line.encode() + b"\n")
        except (TimeoutError, ConnectionResetError):
            pass
        finally:
            await events.aclose()  # type: ignore[attr-defined]
        with contextlib.suppress(ConnectionResetError):
            await response.write_eof()
        return response

    async def _create(self, request: web.Request, path: ResourcePath) -> web.Response:
        body = await read_json(request)
        created = await self._registry.create(path.type, self._namespace(path), body)
        return json_response(created, status=201)

    async def _get(self, request: web.Request, path: ResourcePath) -> web.Response:
        assert path.name is not None
        obj = await self._registry.get(path.type, self._namespace(path), path.name)
        if wants_table(request.headers.get("Accept", "")) and path.subresource is None:
            return json_response(
                tables.to_table(
                    path.type,
                    [obj],
                    resource_version=obj["metadata"]["resourceVersion"],
                    include_object=request.query.get("includeObject", "Metadata"),
                )
            )
        return json_response(obj)

    async def _update(self, request: web.Request, path: ResourcePath) -> web.Response:
        assert path.name is not None
        body = await read_json(request)
        updated = await self._registry.update(
            path.type, self._namespace(path), path.name, body, path.subresource
        )
        return json_response(updated)

    async def _patch(self, request: web.Request, path: ResourcePath) -> web.Response:
        assert path.name is not None
        if request.content_type != _MERGE_PATCH:
            raise errors.unsupported_media_type(request.content_type)
        patch = await read_json(request)
        wanted_rv = (patch.get("metadata") or {}).get("resourceVersion")

        def apply(current: Object) -> Object:
            if wanted_rv and wanted_rv != current["metadata"]["resourceVersion"]:
                raise errors.conflict(path.type.plural, path.name or "", path.type.group)
            result: Object = merge_patch(current, patch)
            return result

        patched = await self._registry.mutate(
            path.type, self._namespace(path), path.name, apply, path.subresource
        )
        return json_response(patched)

    async def _delete(self, request: web.Request, path: ResourcePath) -> web.Response:
        assert path.name is not None
        preconditions: Object = {}
        if request.can_read_body:
            raw = await request.read()
            if raw.strip():
                try:
                    options = json.loads(raw)
                except ValueError as e:
                    raise errors.bad_request(f"invalid DeleteOptions: {e}") from e
                preconditions = (options or {}).get("preconditions") or {}
        deleted = await self._registry.delete(
            path.type,
            self._namespace(path),
            path.name,
            precondition_rv=preconditions.get("resourceVersion"),
            precondition_uid=preconditions.get("uid"),
        )
        return json_response(deleted)
