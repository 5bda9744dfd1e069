"""A small request-handling service with a leak, to find with memviz:

    python -m memviz run examples/leaky_service.py

The service answers ``REQUESTS`` requests, each with a new request id. A request is parsed
into a ``Request`` (its headers in a dict), handled (the path split into words, a body
built from them) and answered with a ``Response``. All of that is freed when the request
ends -- by reference counting, no cycles -- except what the response cache keeps: every
response is cached under its request id "in case the request is repeated", as a list of
its status line (str), its body (bytes) and the ``Response`` itself, and nothing ever
evicts an entry. Request ids never repeat, so the cache only grows.

memviz's report shows what the run left behind: ``__main__.Response`` up by exactly
``REQUESTS`` (one per cache entry), the entries' lists, and the pymalloc blocks of their
strings and bytes; the transient ``__main__.Request`` objects are gone. The run is
deterministic (no clock, no randomness, nothing from outside) and takes well under a
second.
"""
from __future__ import annotations

REQUESTS = 2_000   #: requests served; each leaves one cache entry behind
BODY_BYTES = 96    #: size of each response body

#: request id -> [status line, body, Response]. Never evicted: this is the leak.
_response_cache: dict[int, list] = {}


class Request:
    """One parsed request."""

    def __init__(self, request_id: int, path: str, headers: dict[str, str]):
        self.request_id = request_id
        self.path = path
        self.headers = headers


class Response:
    """One answer, as the cache keeps it."""

    def __init__(self, request_id: int, status: str, body: bytes):
        self.request_id = request_id
        self.status = status
        self.body = body


def parse(raw: str) -> Request:
    request_line, *header_lines = raw.split("\n")
    _method, path = request_line.split(" ", 1)
    headers = dict(line.split(": ", 1) for line in header_lines)
    return Request(int(headers["X-Request-Id"]), path, headers)


def handle(request: Request) -> Response:
    words = request.path.strip("/").split("/")
    text = " ".join(reversed(words)) + " " + request.headers["Host"]
    body = (text * (BODY_BYTES // len(text) + 1)).encode()[:BODY_BYTES]
    response = Response(request.request_id, "200 OK", body)
    # The leak: cached "for repeated requests", which never come, and never evicted.
    _response_cache[request.request_id] = [f"HTTP/1.1 {response.status}", body, response]
    return response


def serve(requests: int) -> int:
    """Serves ``requests`` requests; returns the bytes sent."""
    sent = 0
    for request_id in range(requests):
        raw = (f"GET /items/{request_id % 37}/details\nHost: shop.example\n"
               f"X-Request-Id: {request_id}")
        sent += len(handle(parse(raw)).body)
    return sent


def main() -> None:
    sent = serve(REQUESTS)
    print(f"served {REQUESTS:,} requests ({sent:,} bytes); "
          f"{len(_response_cache):,} responses cached")


if __name__ == "__main__":
    main()
