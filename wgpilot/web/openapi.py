"""OpenAPI 3.1 generated from the operation list and the schemas that validate
requests — there is no second, hand-written description to drift."""

from __future__ import annotations

import re
from typing import Any

from wgpilot.version import info as version_info
from wgpilot.web import wire
from wgpilot.web.api import ID_MAX, Op
from wgpilot.web.schemas import Schema

_PARAM = re.compile(r"\{(\w+)(?::(\w+))?\}")
_ERRORS = {
    "400": "Malformed request",
    "401": "Not logged in",
    "403": "Forbidden",
    "404": "Not found",
    "409": "Conflicts with the current state",
    "413": "Body too large",
    "415": "Wrong content type",
    "421": "Host not allowed",
    "422": "Invalid field values",
    "429": "Too many requests",
}


# One Server-Sent Event as a client parses it (OpenAPI 3.1 has no schema for a stream
# of items; 3.2's itemSchema says the same thing). `data` is JSON text: {peers:
# [PeerStatus]} for snapshot and status, {ts} for heartbeat.
SSE_EVENT = {
    "type": "object",
    "description": "one event of the stream: snapshot first, then status and heartbeat",
    "required": ["event", "data"],
    "properties": {
        "event": {"type": "string", "enum": ["snapshot", "status", "heartbeat"]},
        "data": {
            "type": "string",
            "contentMediaType": "application/json",
            "contentSchema": {
                "oneOf": [
                    {
                        "type": "object",
                        "required": ["peers"],
                        "properties": {
                            "peers": {"type": "array", "items": {"$ref": "#/components/schemas/PeerStatus"}}
                        },
                    },
                    {"type": "object", "required": ["ts"], "properties": {"ts": {"type": "number"}}},
                ]
            },
        },
        "id": {"type": "string"},
        "retry": {"type": "integer"},
    },
}


def _media(kind: str) -> dict[str, Any]:
    if kind == "text/event-stream":
        return {kind: {"schema": SSE_EVENT}}
    if kind.startswith("text/") or kind.endswith("json"):
        return {kind: {"schema": {"type": "string"}}}
    return {kind: {"schema": {"type": "string", "contentMediaType": kind}}}


def document(ops: list[Op]) -> dict[str, Any]:
    schemas: dict[str, Any] = {s.name: s.json_schema() for s in wire.RESPONSE_SCHEMAS}
    paths: dict[str, dict[str, Any]] = {}
    error_ref = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for op in ops:
        path = _PARAM.sub(lambda m: "{" + m.group(1) + "}", op.path)
        params = [
            {
                "name": m.group(1),
                "in": "path",
                "required": True,
                "schema": {"type": "integer", "minimum": 1, "maximum": ID_MAX},
            }
            for m in _PARAM.finditer(op.path)
        ] + op.query.parameters()
        responses: dict[str, Any] = {}
        if op.response is None:
            responses[str(op.status)] = {"description": "Done"}
        elif isinstance(op.response, Schema):
            schemas.setdefault(op.response.name, op.response.json_schema())
            responses[str(op.status)] = {
                "description": "OK",
                "content": {
                    "application/json": {"schema": {"$ref": f"#/components/schemas/{op.response.name}"}}
                },
            }
            if op.path.startswith("/api/setup/") and op.status == 201:
                responses["200"] = responses["201"] | {"description": "Already done (idempotent repeat)"}
        else:
            kinds = [op.response] + (["image/svg+xml"] if op.response == "image/png" else [])
            content: dict[str, Any] = {}
            for kind in kinds:
                content.update(_media(kind))
            responses[str(op.status)] = {"description": "OK", "content": content}
        for code, text in _ERRORS.items():
            if code == "401" and op.auth == "public":
                continue
            responses.setdefault(code, {"description": text, "content": error_ref})
        responses["default"] = {"description": "Error", "content": error_ref}
        entry: dict[str, Any] = {
            "operationId": op.operation_id,
            "summary": op.summary,
            "tags": [op.tag],
            "parameters": params,
            "responses": responses,
        }
        if op.body is not None:
            name = op.body.name
            schemas[name] = op.body.json_schema()
            if op.partial:
                schemas[name].pop("required", None)
            entry["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}}},
            }
        elif op.raw_body is not None:
            entry["requestBody"] = {
                "required": True,
                "content": {op.raw_body: {"schema": {"type": "string", "contentMediaType": op.raw_body}}},
            }
        entry["security"] = {"public": [], "bearer": [{"metrics": []}]}.get(op.auth, [{"session": []}])
        paths.setdefault(path, {})[op.method.lower()] = entry
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "wgpilot",
            "version": version_info()["version"],
            "description": "Self-hosted WireGuard management. Errors are "
            '{"error": {"code", "message", "fields": [{"field", "message"}]}}.',
        },
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "session": {"type": "apiKey", "in": "cookie", "name": "__Host-wgpilot_session"},
                "metrics": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "the metrics token shown in Settings (or metrics.token)",
                },
            },
        },
    }
