"""HTTP handlers for resources: list, watch, create, get, update, patch, delete and
deletecollection, plus the status, scale, binding and finalize subresources.

One handler serves every kind; the path says which (requests.parse_resource_path) and the
Registry applies the semantics. Responses are JSON objects, or Tables when kubectl asks.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

import orjson
from aiohttp import web

from control_plane.apiserver import decoding, errors, tables
from control_plane.apiserver.authentication.user import USER
from control_plane.apiserver.field_management.managed_fields import Writer
from control_plane.apiserver.kinds import Kind
from control_plane.apiserver.kinds.base import ScalableKind
from control_plane.apiserver.kinds.pod_binding import BindingREST
from control_plane.apiserver.kinds.pod_eviction import EvictionREST
from control_plane.apiserver.kinds.scale_rest import ScaleREST
from control_plane.apiserver.kubelet_proxy import KubeletProxy
from control_plane.apiserver.registry import DeleteOptions, ListOptions, Registry, WatchEvent
from control_plane.apiserver.request_warnings import warn
from control_plane.apiserver.requests import (
    ResourcePath,
    accepts_json,
    is_true,
    parse_int,
    parse_resource_path,
    wants_table,
)
from ku7s.api import meta
from ku7s.api.patch import PatchConflict, PatchError, json_patch, merge_patch, strategic_merge_patch
from ku7s.api.schema import kind_struct

Object = dict[str, Any]

_JSON = "application/json"
_MERGE_PATCH = "application/merge-patch+json"
_STRATEGIC_PATCH = "application/strategic-merge-patch+json"
_JSON_PATCH = "application/json-patch+json"
_APPLY_PATCH = decoding.APPLY_YAML
_BODY_TYPES = (_JSON, _MERGE_PATCH, _STRATEGIC_PATCH, _JSON_PATCH, decoding.YAML, decoding.PROTOBUF)
#: How long a watch may stay quiet before a requested BOOKMARK carries the current revision.
BOOKMARK_INTERVAL = 5.0
_STREAMING = ("log", "exec", "attach", "portforward", "proxy")


def json_response(body: Object, status: int = 200) -> web.Response:
    return web.Response(
        body=orjson.dumps(body, option=orjson.OPT_NON_STR_KEYS), status=status, content_type=_JSON
    )


def success_status(kind: Kind, obj: Object) -> Object:
    """The Status a delete answers with once the object is gone."""
    rt = kind.resource
    details: Object = {
        "name": meta.name_of(obj),
        "kind": rt.plural,
        "uid": obj.get("metadata", {}).get("uid", ""),
    }
    if rt.group:
        details["group"] = rt.group
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": details,
    }


async def read_body(request: web.Request, allowed: tuple[str, ...] = _BODY_TYPES) -> Any:
    """The request body as JSON (it may come as JSON, YAML or protobuf)."""
    content_type = decoding.content_type(request)
    if content_type not in allowed:
        raise errors.unsupported_media_type(content_type)
    return decoding.parse(content_type, await request.read())


async def read_object(request: web.Request) -> Object:
    body = await read_body(request, (_JSON, decoding.YAML, decoding.PROTOBUF))
    if not isinstance(body, dict):
        raise errors.bad_request("the request body must be a JSON object")
    if not isinstance(body.get("metadata", {}), dict):
        raise errors.bad_request("metadata must be an object")
    return body


def _check_type(kind: Kind, body: Object) -> None:
    """An object sent to a URL must be of that URL's kind and version."""
    rt = kind.resource
    if body.get("apiVersion") not in (None, "", rt.api_version):
        raise errors.bad_request(
            f"the API version in the data ({body['apiVersion']}) does not match the expected "
            f"API version ({rt.api_version})"
        )
    if body.get("kind") not in (None, "", rt.kind):
        raise errors.bad_request(
            f"the kind in the data ({body['kind']}) does not match the expected kind ({rt.kind})"
        )


def _list_options(request: web.Request) -> ListOptions:
    q = request.query
    return ListOptions(
        label_selector=q.get("labelSelector"),
        field_selector=q.get("fieldSelector"),
        limit=parse_int("limit", q.get("limit")),
        continue_token=q.get("continue") or None,
        resource_version=q.get("resourceVersion"),
    )


def _dry_run(request: web.Request) -> bool:
    values = request.query.getall("dryRun", [])
    for value in values:
        if value != "All":
            raise errors.bad_request(f"dryRun values must be All, not {value!r}")
    return bool(values)


def _delete_options(request: web.Request, body: Any) -> DeleteOptions:
    q = request.query
    options = body if isinstance(body, dict) else {}
    grace = options.get("gracePeriodSeconds")
    if grace is None and q.get("gracePeriodSeconds") not in (None, ""):
        try:
            grace = int(q["gracePeriodSeconds"])
        except ValueError:
            raise errors.bad_request("gracePeriodSeconds must be an integer") from None
    if grace is not None and (isinstance(grace, bool) or not isinstance(grace, int)):
        raise errors.bad_request("gracePeriodSeconds must be an integer")
    policy = options.get("propagationPolicy") or q.get("propagationPolicy")
    orphan = options.get("orphanDependents")
    if orphan is None and q.get("orphanDependents") is not None:
        orphan = is_true(q.get("orphanDependents"))
    if orphan is not None and policy is None:
        policy = "Orphan" if orphan else "Background"
    preconditions = options.get("preconditions") or {}
    dry_run = _dry_run(request) or options.get("dryRun") == ["All"]
    return DeleteOptions(
        grace_period_seconds=grace,
        propagation_policy=policy,
        precondition_uid=preconditions.get("uid"),
        precondition_resource_version=preconditions.get("resourceVersion"),
        dry_run=dry_run,
    )


def _patcher(content_type: str, kind: Kind) -> Callable[[Object, Any], Any]:
    if content_type == _MERGE_PATCH:
        return merge_patch
    if content_type == _JSON_PATCH:
        return json_patch
    if content_type == _STRATEGIC_PATCH and not kind.strategic_merge:
        raise errors.APIError(
            415,
            "UnsupportedMediaType",
            "the body of the request was in an unknown format - accepted media types include: "
            f"{_JSON_PATCH}, {_MERGE_PATCH}, {_APPLY_PATCH}",
        )
    if content_type == _STRATEGIC_PATCH:
        struct = kind_struct(kind.resource.group, kind.resource.kind, kind.resource.version)
        return lambda current, patch: strategic_merge_patch(current, patch, struct)
    raise errors.unsupported_media_type(content_type)


class ResourceHandlers:
    def __init__(
        self,
        registry: Registry,
        bookmark_interval: float = BOOKMARK_INTERVAL,
        kubelets: KubeletProxy | None = None,
    ) -> None:
        self._registry = registry
        self._bookmark_interval = bookmark_interval
        self._kubelets = kubelets or KubeletProxy(None)

    async def core(self, request: web.Request) -> web.StreamResponse:
        return await self._dispatch(request, "", "v1", request.match_info["tail"])

    async def grouped(self, request: web.Request) -> web.StreamResponse:
        info = request.match_info
        return await self._dispatch(request, info["group"], info["version"], info["tail"])

    async def _dispatch(
        self, request: web.Request, group: str, version: str, tail: str
    ) -> web.StreamResponse:
        path = parse_resource_path(self._registry.kinds, group, version, tail)
        if not accepts_json(request.headers.get("Accept", "")):
            raise errors.APIError(
                406,
                "NotAcceptable",
                f"only the following media types are accepted: application/json, "
                f"application/json;as=Table;v=v1;g=meta.k8s.io (asked for "
                f"{request.headers.get('Accept')})",
            )
        method = request.method
        kind_name = path.kind.resource.kind
        try:
            if path.subresource in _STREAMING:
                return await self._streaming(request, path)
            if path.name is None:
                if method == "GET":
                    if is_true(request.query.get("watch")):
                        return await self._watch(request, path)
                    return await self._list(request, path)
                if method == "POST":
                    return await self._create(request, path)
                if method == "DELETE":
                    return await self._delete_collection(request, path)
                raise errors.method_not_supported(method.lower(), kind_name)
            if path.subresource == "scale":
                return await self._scale(request, path)
            if path.subresource == "binding":
                if method != "POST":
                    raise errors.method_not_supported(method.lower(), "Binding")
                return await self._bind(request, path)
            if path.subresource == "eviction":
                if method != "POST":
                    raise errors.method_not_supported(method.lower(), "Eviction")
                return await self._evict(request, path)
            if path.subresource == "finalize" and method not in ("PUT",):
                raise errors.method_not_supported(method.lower(), kind_name)
            if method == "GET":
                return await self._get(request, path)
            if method == "PUT":
                return await self._update(request, path)
            if method == "PATCH":
                return await self._patch(request, path)
            if method == "DELETE" and path.subresource is None:
                return await self._delete(request, path)
            raise errors.method_not_supported(method.lower(), kind_name)
        except (TypeError, AttributeError, KeyError) as e:
            # A field of the wrong type got past the checks: the client's fault, not ours.
            raise errors.bad_request(
                f'{kind_name} in version "{path.kind.resource.version}" cannot be handled as a '
                f"{kind_name}: a field has the wrong type ({type(e).__name__}: {e})"
            ) from e

    def _namespace(self, path: ResourcePath) -> str:
        return path.namespace or ""

    async def _streaming(self, request: web.Request, path: ResourcePath) -> web.StreamResponse:
        """log, exec, attach and portforward, served by the pod's kubelet."""
        assert path.name is not None
        if path.subresource == "log" and request.method == "GET":
            pod = await self._registry.get(path.kind, self._namespace(path), path.name)
            return await self._kubelets.logs(request, pod)
        if path.subresource == "exec" and request.method in ("GET", "POST"):
            pod = await self._registry.get(path.kind, self._namespace(path), path.name)
            return await self._kubelets.exec(request, pod)
        if path.subresource == "attach" and request.method in ("GET", "POST"):
            pod = await self._registry.get(path.kind, self._namespace(path), path.name)
            return await self._kubelets.attach(request, pod)
        if path.subresource == "portforward" and request.method in ("GET", "POST"):
            pod = await self._registry.get(path.kind, self._namespace(path), path.name)
            return await self._kubelets.port_forward(request, pod)
        if path.subresource in ("log", "exec", "attach", "portforward"):
            raise errors.method_not_supported(request.method.lower(), f"pods/{path.subresource}")
        raise errors.bad_request(f"{path.subresource} is not served by ku7s")

    def _table(self, request: web.Request, kind: Kind, items: list[Object], **kw: Any) -> Object:
        return tables.to_table(
            kind.columns,
            kind.row,
            items,
            include_object=request.query.get("includeObject", "Metadata"),
            **kw,
        )

    async def _list(self, request: web.Request, path: ResourcePath) -> web.Response:
        page = await self._registry.list(path.kind, path.namespace, _list_options(request))
        if wants_table(request.headers.get("Accept", "")):
            return json_response(
                self._table(
                    request,
                    path.kind,
                    page.items,
                    resource_version=page.resource_version,
                    continue_token=page.continue_token,
                )
            )
        rt = path.kind.resource
        body: Object = {
            "kind": rt.list_kind,
            "apiVersion": rt.api_version,
            "metadata": {"resourceVersion": page.resource_version},
            "items": page.items,
        }
        if page.continue_token:
            body["metadata"]["continue"] = page.continue_token
        return json_response(body)

    async def _watch(self, request: web.Request, path: ResourcePath) -> web.StreamResponse:
        as_table = wants_table(request.headers.get("Accept", ""))
        bookmarks = is_true(request.query.get("allowWatchBookmarks"))
        timeout = parse_int("timeoutSeconds", request.query.get("timeoutSeconds"), 1800)
        events = await self._registry.watch(path.kind, path.namespace, _list_options(request))
        response = web.StreamResponse(status=200, headers={"Content-Type": _JSON})
        response.enable_chunked_encoding()
        await response.prepare(request)
        kind = path.kind
        columns_sent = False

        async def send(event: WatchEvent) -> None:
            nonlocal columns_sent
            obj = event.object
            if as_table and event.type not in ("ERROR", "BOOKMARK"):
                obj = self._table(
                    request,
                    kind,
                    [obj],
                    include_columns=not columns_sent,
                    resource_version=obj.get("metadata", {}).get("resourceVersion", ""),
                )
                columns_sent = True
            event_line = {"type": event.type, "object": obj}
            await response.write(orjson.dumps(event_line, option=orjson.OPT_NON_STR_KEYS) + b"\n")

        iterator = events.__aiter__()
        try:
            async with asyncio.timeout(timeout):
                pending: asyncio.Task[WatchEvent] | None = None
                while True:
                    if pending is None:
                        pending = asyncio.ensure_future(iterator.__anext__())
                    done, _ = await asyncio.wait(
                        {pending}, timeout=self._bookmark_interval if bookmarks else None
                    )
                    if not done:
                        await send(await self._bookmark(kind))
                        continue
                    try:
                        event = pending.result()
                    except StopAsyncIteration:
                        break
                    pending = None
                    await send(event)
        except (TimeoutError, ConnectionResetError):
            pass
        finally:
            if pending is not None:
                pending.cancel()
                with contextlib.suppress(BaseException):
                    await pending
            with contextlib.suppress(Exception):
                await events.aclose()  # type: ignore[attr-defined]
        with contextlib.suppress(ConnectionResetError):
            await response.write_eof()
        return response

    async def _bookmark(self, kind: Kind) -> WatchEvent:
        revision = await self._registry.current_revision()
        rt = kind.resource
        return WatchEvent(
            "BOOKMARK",
            {
                "kind": rt.kind,
                "apiVersion": rt.api_version,
                "metadata": {"resourceVersion": str(revision)},
            },
            revision,
        )

    async def _create(self, request: web.Request, path: ResourcePath) -> web.Response:
        body = await read_object(request)
        _check_type(path.kind, body)
        warnings = _validate_fields(request, path.kind, body)
        if (user := request.get(USER)) is not None:
            path.kind.record_requester(body, user.to_user_info())
        created = await self._registry.create(
            path.kind,
            self._namespace(path),
            body,
            dry_run=_dry_run(request),
            writer=_writer(request, path),
        )
        return _warn(json_response(created, status=201), warnings)

    async def _get(self, request: web.Request, path: ResourcePath) -> web.Response:
        assert path.name is not None
        obj = await self._registry.get(path.kind, self._namespace(path), path.name)
        if wants_table(request.headers.get("Accept", "")) and path.subresource is None:
            return json_response(
                self._table(
                    request, path.kind, [obj], resource_version=obj["metadata"]["resourceVersion"]
                )
            )
        return json_response(obj)

    async def _update(self, request: web.Request, path: ResourcePath) -> web.Response:
        assert path.name is not None
        body = await read_object(request)
        _check_type(path.kind, body)
        warnings = _validate_fields(request, path.kind, body)
        updated = await self._registry.update(
            path.kind,
            self._namespace(path),
            path.name,
            body,
            path.subresource,
            dry_run=_dry_run(request),
            writer=_writer(request, path),
        )
        return _warn(json_response(updated), warnings)

    async def _patch(self, request: web.Request, path: ResourcePath) -> web.Response:
        assert path.name is not None
        if request.content_type == _APPLY_PATCH:
            return await self._apply(request, path)
        if "force" in request.query:
            raise errors.invalid("PatchOptions", "", [(
                "force", "FieldValueForbidden",
                "Forbidden: may not be specified for non-apply patch",
            )], "meta.k8s.io")  # fmt: skip
        patcher = _patcher(request.content_type, path.kind)
        patch = await read_body(request)
        kind = path.kind
        warnings: list[str] = []

        def apply(current: Object) -> Object:
            patched = _apply_patch(patcher, current, patch)
            wanted = (patched.get("metadata") or {}).get("resourceVersion")
            if wanted and wanted != current["metadata"]["resourceVersion"]:
                raise errors.conflict(kind.resource.plural, path.name or "", kind.resource.group)
            _check_type(kind, patched)
            warnings[:] = _validate_fields(request, kind, patched, patch=True)
            return patched

        patched = await self._registry.mutate(
            kind,
            self._namespace(path),
            path.name,
            apply,
            path.subresource,
            dry_run=_dry_run(request),
            writer=_writer(request, path),
        )
        return _warn(json_response(patched), warnings)

    async def _apply(self, request: web.Request, path: ResourcePath) -> web.Response:
        """Server-side apply (application/apply-patch+yaml)."""
        assert path.name is not None
        if not request.query.get("fieldManager"):
            raise errors.invalid("PatchOptions", "", [(
                "fieldManager", "FieldValueRequired", "Required value: is required for apply patch"
            )], "meta.k8s.io")  # fmt: skip
        config = await read_body(request, (_APPLY_PATCH,))
        if not isinstance(config, dict) or not isinstance(config.get("metadata", {}), dict):
            raise errors.bad_request("the applied configuration must be an object")
        kind = path.kind
        rt = kind.resource
        if not config.get("apiVersion") or not config.get("kind"):
            raise errors.bad_request(
                f'{rt.kind} in version "{rt.version}" cannot be handled as a {rt.kind}: '
                "apiVersion and kind must be set in an applied configuration"
            )
        _check_type(kind, config)
        named = (config.get("metadata") or {}).get("name")
        if named and named != path.name:
            raise errors.bad_request(
                f"the name of the object ({named}) does not match the name on the URL ({path.name})"
            )
        warnings = _validate_fields(request, kind, config, patch=True)
        obj, created = await self._registry.apply(
            kind,
            self._namespace(path),
            path.name,
            config,
            _writer(request, path),
            force=is_true(request.query.get("force")),
            dry_run=_dry_run(request),
        )
        return _warn(json_response(obj, status=201 if created else 200), warnings)

    async def _delete(self, request: web.Request, path: ResourcePath) -> web.Response:
        assert path.name is not None
        body = await read_body(request) if request.can_read_body else None
        obj, gone = await self._registry.delete(
            path.kind, self._namespace(path), path.name, _delete_options(request, body)
        )
        # A deletion still pending answers with the object, as does one of a kind that
        # returns deleted objects; any other answers with a Status (upstream's rule).
        answer = obj if not gone or path.kind.returns_deleted_object else None
        return json_response(answer or success_status(path.kind, obj))

    async def _delete_collection(self, request: web.Request, path: ResourcePath) -> web.Response:
        body = await read_body(request) if request.can_read_body else None
        removed = await self._registry.delete_collection(
            path.kind, path.namespace, _list_options(request), _delete_options(request, body)
        )
        rt = path.kind.resource
        return json_response(
            {"kind": rt.list_kind, "apiVersion": rt.api_version, "metadata": {}, "items": removed}
        )

    async def _scale(self, request: web.Request, path: ResourcePath) -> web.Response:
        assert path.name is not None
        kind = path.kind
        if not isinstance(kind, ScalableKind):
            raise errors.route_not_found()
        namespace, scales = self._namespace(path), ScaleREST(self._registry)
        if request.method == "GET":
            return json_response(await scales.get(kind, namespace, path.name))
        if request.method not in ("PUT", "PATCH"):
            raise errors.method_not_supported(request.method.lower(), "Scale")
        if request.method == "PUT":
            body = await read_object(request)
            patcher: Callable[[Object, Any], Any] = lambda current, new: new  # noqa: E731
        else:
            patcher = _patcher(request.content_type, kind)
            body = await read_body(request)
        scale = await scales.update(
            kind, namespace, path.name, lambda current: _apply_patch(patcher, current, body),
            dry_run=_dry_run(request),
        )  # fmt: skip
        return json_response(scale)

    async def _bind(self, request: web.Request, path: ResourcePath) -> web.Response:
        assert path.name is not None
        await BindingREST(self._registry).create(
            self._namespace(path), path.name, await read_object(request), dry_run=_dry_run(request)
        )
        return json_response(_CREATED, status=201)

    async def _evict(self, request: web.Request, path: ResourcePath) -> web.Response:
        assert path.name is not None
        eviction = await read_object(request)
        if not isinstance(eviction, dict) or eviction.get("kind") not in (None, "Eviction"):
            raise errors.bad_request("the body of an eviction must be a policy/v1 Eviction")
        named = (eviction.get("metadata") or {}).get("name")
        if named and named != path.name:
            raise errors.bad_request("name in URL does not match name in Eviction object")
        options = _delete_options(request, eviction.get("deleteOptions"))
        await EvictionREST(self._registry).create(self._namespace(path), path.name, options)
        return json_response(_CREATED, status=201)


#: What a subresource that makes something (a binding, an eviction) answers.
_CREATED = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}


#: The longest field manager name upstream accepts.
MAX_MANAGER_LENGTH = 128


def _writer(request: web.Request, path: ResourcePath) -> Writer:
    """Who writes: the fieldManager asked for, else the User-Agent's product, as upstream."""
    manager = request.query.get("fieldManager") or (
        request.headers.get("User-Agent", "").split("/")[0] or "unknown"
    )
    if len(manager) > MAX_MANAGER_LENGTH:
        raise errors.invalid("PatchOptions", "", [(
            "fieldManager", "FieldValueTooLong",
            f"Too long: may not be more than {MAX_MANAGER_LENGTH} bytes",
        )], "meta.k8s.io")  # fmt: skip
    return Writer(manager, path.kind.resource.api_version, path.subresource or "")


def _validate_fields(
    request: web.Request, kind: Kind, obj: Object, *, patch: bool = False
) -> list[str]:
    return decoding.validate_fields(kind, obj, request.query.get("fieldValidation"), patched=patch)


def _warn(response: web.Response, warnings: list[str]) -> web.Response:
    """Field validation's warnings join the request's others (sent as Warning headers)."""
    for warning in warnings:
        warn(warning)
    return response


def _apply_patch(patcher: Callable[[Object, Any], Any], current: Object, patch: Any) -> Object:
    try:
        patched = patcher(current, patch)
    except PatchConflict as e:
        raise errors.APIError(422, "Invalid", f"the patch could not be applied: {e}") from e
    except PatchError as e:
        raise errors.bad_request(str(e)) from e
    if not isinstance(patched, dict):
        raise errors.bad_request("the patched object is not a JSON object")
    return patched
