"""Container health check: exit 0 when URL answers with a 2xx status within 4 seconds.

    python docker/healthcheck.py [URL]     (default: the API's http://127.0.0.1:8080/openapi.json)

Standard library only; proxies from the environment are ignored (the target is local).
"""

from __future__ import annotations

import sys
import urllib.request

DEFAULT_URL = "http://127.0.0.1:8080/openapi.json"


def main(argv: list[str]) -> int:
    url = argv[1] if len(argv) > 1 else DEFAULT_URL
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=4) as response:
            status = response.status
    except Exception as exc:  # refused, timed out, 4xx/5xx (HTTPError): all unhealthy
        print(f"unhealthy: {url}: {exc}", file=sys.stderr)
        return 1
    if not 200 <= status < 300:
        print(f"unhealthy: {url}: HTTP {status}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
