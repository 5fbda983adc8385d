"""OpenAPI descriptions of Twilio-style parameters, which routes read by hand (form or query)."""

from __future__ import annotations

from typing import Any

ARRAYS = {"AudioSources", "AudioSourcesExcluded", "VideoCodecs", "GroupingSid"}
BOOLEANS = {
    "RecordParticipantsOnConnect",
    "TranscribeParticipantsOnConnect",
    "AudioOnly",
    "LargeRoom",
    "EnableTurn",
    "Trim",
    "Enabled",
    "AwsStorageEnabled",
    "EncryptionEnabled",
}
INTEGERS = {
    "MaxParticipants",
    "MaxParticipantDuration",
    "EmptyRoomTimeout",
    "UnusedRoomTimeout",
    "PageSize",
    "Page",
    "Ttl",
}
JSON_TEXT = {"VideoLayout", "RecordingRules", "Rules", "TranscriptionsConfiguration"}
REQUIRED = {"RoomSid", "FriendlyName", "Status", "Rules"}


def _schema(name: str) -> dict[str, Any]:
    if name in ARRAYS:
        return {"type": "array", "items": {"type": "string"}}
    if name in BOOLEANS:
        return {"type": "boolean"}
    if name in INTEGERS:
        return {"type": "integer"}
    if name in JSON_TEXT:
        return {"type": "string", "description": "a JSON document"}
    return {"type": "string"}


def form(fields: set[str], required: set[str] | None = None) -> dict[str, Any]:
    required = REQUIRED & fields if required is None else required
    schema: dict[str, Any] = {"type": "object", "properties": {f: _schema(f) for f in sorted(fields)}}
    if required:
        schema["required"] = sorted(required)
    return {
        "requestBody": {
            "required": bool(required),
            "content": {"application/x-www-form-urlencoded": {"schema": schema}},
        }
    }


def query(fields: set[str]) -> dict[str, Any]:
    return {
        "parameters": [
            {"name": f, "in": "query", "required": False, "schema": _schema(f)} for f in sorted(fields)
        ]
    }


def install_security(app) -> None:
    """Every /v1 route takes HTTP Basic (account SID and auth token, or API key SID and secret)."""
    from fastapi.openapi.utils import get_openapi

    def custom():
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        schema.setdefault("components", {})["securitySchemes"] = {
            "basicAuth": {"type": "http", "scheme": "basic"}
        }
        for path, operations in schema.get("paths", {}).items():
            if path.startswith("/v1"):
                for operation in operations.values():
                    operation["security"] = [{"basicAuth": []}]
        app.openapi_schema = schema
        return schema

    app.openapi = custom
