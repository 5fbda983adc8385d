"""Twilio request parameters: form or query, PascalCase, repeated keys for arrays, JSON objects."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from starlette.datastructures import FormData, QueryParams

from pipeline.error_codes import UNKNOWN_PARAMETER

from .errors import ApiError, invalid

MAX_NAME = 128
MAX_JSON_DEPTH = 32  # the deepest layout or rule list needs a handful of levels


def nesting(value: Any) -> int:
    """How deeply `value` nests lists and objects (iteratively: it may be arbitrarily deep)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, depth)
            stack.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


class Params:
    """Read typed parameters and refuse any this endpoint does not know."""

    def __init__(self, data: FormData | QueryParams, allowed: set[str]) -> None:
        self.data = data
        unknown = sorted(set(data.keys()) - allowed)
        if unknown:
            raise ApiError(400, UNKNOWN_PARAMETER, f"{unknown[0]} is not a parameter of this resource")

    def __contains__(self, name: str) -> bool:
        return name in self.data

    def str(
        self,
        name: str,
        default: str | None = None,
        *,
        required: bool = False,
        max_len: int = MAX_NAME,
        choices: tuple[str, ...] | None = None,
    ) -> str | None:
        if name not in self.data:
            if required:
                raise invalid(name, "is required")
            return default
        value = str(self.data.get(name))
        if "\x00" in value:
            raise invalid(name, "must not contain NUL characters")
        if required and not value:
            raise invalid(name, "is required")
        if len(value) > max_len:
            raise invalid(name, f"must be at most {max_len} characters")
        if choices and value not in choices:
            raise invalid(name, f"must be one of {', '.join(choices)}")
        return value

    def bool(self, name: str, default: bool | None = None) -> bool | None:
        if name not in self.data:
            return default
        value = str(self.data.get(name)).lower()
        if value in ("true", "1"):
            return True
        if value in ("false", "0"):
            return False
        raise invalid(name, "must be true or false")

    def int(
        self, name: str, default: int | None = None, lo: int | None = None, hi: int | None = None
    ) -> int | None:
        if name not in self.data:
            return default
        try:
            value = int(str(self.data.get(name)))
        except ValueError:
            raise invalid(name, "must be an integer") from None
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            if hi is None:
                raise invalid(name, f"must be at least {lo}")
            if lo is None:
                raise invalid(name, f"must be at most {hi}")
            raise invalid(name, f"must be between {lo} and {hi}")
        return value

    def list(self, name: str) -> list[str] | None:
        if name not in self.data:
            return None
        values = [str(v) for v in self.data.getlist(name)]
        # Some clients send one comma-separated value.
        if len(values) == 1 and "," in values[0]:
            values = [v.strip() for v in values[0].split(",") if v.strip()]
        for value in values:
            if "\x00" in value:
                raise invalid(name, "items must not contain NUL characters")
            if len(value) > MAX_NAME:
                raise invalid(name, f"items must be at most {MAX_NAME} characters")
        return values

    def callback(self, name: str = "StatusCallback") -> str | None:
        """A URL roomreel will call: http or https with a host, nothing else ever delivers."""
        url = self.str(name, max_len=2048)
        if not url:
            return url
        parts = urlsplit(url)
        if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
            raise invalid(name, "must be an http or https URL")
        return url

    def json(self, name: str, field: str) -> Any:
        """The parameter as JSON; nesting deeper than any layout or rule needs is refused, since
        the code that reads it recurses."""
        if name not in self.data:
            return None
        text = str(self.data.get(name))
        try:
            value = json.loads(text) if text.strip() else None
        except json.JSONDecodeError as exc:
            raise invalid(field, f"is not valid JSON: {exc.msg} at position {exc.pos}") from None
        except RecursionError:
            value = None
            deep = True
        else:
            deep = nesting(value) > MAX_JSON_DEPTH
        if deep:
            raise invalid(field, f"is nested more than {MAX_JSON_DEPTH} levels deep")
        return value

    def date(self, name: str) -> datetime | None:
        if name not in self.data:
            return None
        text = str(self.data.get(name)).strip()
        try:
            value = datetime.fromisoformat(text.replace("Z", "+00:00").replace(" ", "+"))
        except ValueError:
            raise invalid(name, "must be an ISO-8601 date, e.g. 2026-11-23T10:00:00Z") from None
        return value if value.tzinfo else value.replace(tzinfo=UTC)


PAGING = {"PageSize", "Page", "PageToken"}


def created_between(query, column, params: Params):
    """Twilio's date filters: DateCreatedAfter is inclusive, DateCreatedBefore exclusive."""
    if (after := params.date("DateCreatedAfter")) is not None:
        query = query.where(column >= after)
    if (before := params.date("DateCreatedBefore")) is not None:
        query = query.where(column < before)
    return query


DATE_FILTERS = {"DateCreatedAfter", "DateCreatedBefore"}
