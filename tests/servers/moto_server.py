"""moto's S3/CloudTrail server on 127.0.0.1, with a log of the requests it served.

Tests point real boto3 clients at it (`endpoint_url`), so our code runs unchanged; the
request log lets a test check from the server's side what the tool actually asked for
(e.g. how many GETs a load made, or that nothing but reads reached AWS).
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from urllib.parse import unquote

from moto.server import ThreadedMotoServer

#: Credentials moto accepts; set so boto3 never looks for real ones.
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}


@dataclass(frozen=True)
class Request:
    method: str
    path: str      # URL-decoded, e.g. "/bucket/AWSLogs/1234/…json.gz"
    query: str


class MotoServer:
    """A running ThreadedMotoServer plus every request it has served, in order."""

    def __init__(self) -> None:
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._lock = threading.Lock()
        self.requests: list[Request] = []

    def start(self) -> "MotoServer":
        self._server.start()
        wsgi = self._server._server  # werkzeug server; its handler calls `server.app`
        app = wsgi.app

        def logging_app(environ, start_response):
            with self._lock:
                self.requests.append(Request(environ["REQUEST_METHOD"],
                                             unquote(environ.get("PATH_INFO", "")),
                                             environ.get("QUERY_STRING", "")))
            return app(environ, start_response)

        wsgi.app = logging_app
        return self

    def stop(self) -> None:
        self._server.stop()

    @property
    def url(self) -> str:
        host, port = self._server.get_host_and_port()
        return f"http://{host}:{port}"

    def mark(self) -> int:
        """Position in the request log; pass to `requests_since` to see only later ones."""
        with self._lock:
            return len(self.requests)

    def requests_since(self, mark: int) -> list[Request]:
        with self._lock:
            return self.requests[mark:]

    def object_gets(self, bucket: str, since: int = 0) -> list[str]:
        """Keys of S3 GetObject calls on `bucket` (GETs of a key, not of the bucket listing)."""
        prefix = f"/{bucket}/"
        return [r.path[len(prefix):] for r in self.requests_since(since)
                if r.method == "GET" and r.path.startswith(prefix) and len(r.path) > len(prefix)]
