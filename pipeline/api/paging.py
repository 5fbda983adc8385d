"""Twilio list envelopes: `{key: [...], meta: {...}}` with Page, PageSize and PageToken."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import Select
from sqlalchemy.orm import Session

from .errors import invalid
from .params import Params

DEFAULT_PAGE_SIZE = 50
# Far beyond any real list, and inside every database's integer range.
MAX_OFFSET = 10**9


def _token(offset: int) -> str:
    return f"PT{offset}"


def _offset(token: str) -> int:
    if not token.startswith("PT") or not token[2:].isdigit() or int(token[2:]) > MAX_OFFSET:
        raise invalid("PageToken", "is not a token this server issued")
    return int(token[2:])


def page(
    session: Session,
    query: Select,
    params: Params,
    url: str,
    key: str,
    render: Callable[[Any], dict],
    max_page_size: int = 1000,
) -> dict:
    # Above the maximum is capped, not refused: the official clients send PageSize=limit.
    size = min(params.int("PageSize", DEFAULT_PAGE_SIZE, 1) or DEFAULT_PAGE_SIZE, max_page_size)
    number = params.int("Page", 0, 0, MAX_OFFSET // size) or 0
    token = params.str("PageToken")
    offset = _offset(token) if token else number * size
    rows = session.scalars(query.offset(offset).limit(size + 1)).all()
    more = len(rows) > size
    rows = rows[:size]
    filters = [(k, v) for k, v in params.data.multi_items() if k not in ("PageSize", "Page", "PageToken")]

    def link(page_number: int, page_offset: int | None) -> str:
        items = [*filters, ("PageSize", size), ("Page", page_number)]
        if page_offset is not None:
            items.append(("PageToken", _token(page_offset)))
        return f"{url}?{urlencode(items)}"

    return {
        key: [render(r) for r in rows],
        "meta": {
            "page": number,
            "page_size": size,
            "first_page_url": link(0, None),
            "previous_page_url": link(number - 1, max(0, offset - size)) if offset > 0 else None,
            "url": link(number, offset if token else None),
            "next_page_url": link(number + 1, offset + size) if more else None,
            "key": key,
        },
    }
