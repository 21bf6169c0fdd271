"""A small HTTP server on 127.0.0.1 that serves files under the URL paths of the upstream manifest, for the tests
and ``bench/upstream_rebuild.py`` (point the fetch layer at it with ``base_url=server.base_url`` or
``NEURO_LIB_UPSTREAM_BASE``). Standard library only (``http.server`` in a thread).

It answers ``GET`` with ``Range: bytes=<start>-`` (206, for resumed downloads), keeps every request in
:attr:`LocalServer.log`, and can be told to misbehave for one path (:meth:`LocalServer.fault`): flip a byte, cut the
response off after ``n`` bytes, or answer with an HTTP status.
"""
from __future__ import annotations

import http.server
import socket
import threading
from dataclasses import dataclass
from pathlib import Path
from collections.abc import Mapping
from urllib.parse import unquote, urlsplit

__all__ = ["LocalServer", "Request"]


@dataclass(frozen=True)
class Request:
    """One request the server answered: ``path`` (as sent, percent-encoded), ``start`` (the Range start, 0 for a
    whole-file request), ``status`` and ``sent`` (body bytes written)."""

    path: str
    start: int
    status: int
    sent: int


class LocalServer:
    """Serve ``files`` (URL path, e.g. ``"/owner/repo/<commit>/a%20b.swc"``, or a full URL whose path is used ->
    a local file or bytes) on ``127.0.0.1`` at a free port. Use as a context manager, or ``start()``/``stop()``."""

    def __init__(self, files: Mapping[str, Path | bytes] | None = None):
        self.files: dict[str, Path | bytes] = {}
        for k, v in (files or {}).items():
            self.add(k, v)
        self.log: list[Request] = []
        self._faults: dict[str, tuple] = {}
        self._lock = threading.Lock()
        self._httpd = None
        self._thread = None

    @staticmethod
    def _key(path_or_url: str) -> str:
        return unquote(urlsplit(path_or_url).path)

    def add(self, path_or_url: str, content: Path | bytes) -> None:
        """Serve ``content`` (a file path or bytes) at the path of ``path_or_url``."""
        self.files[self._key(path_or_url)] = content

    def fault(self, path_or_url: str, kind: str, value: int = 0, times: int = 1) -> None:
        """Misbehave for the next ``times`` requests of a path: ``kind`` ``"flip"`` (byte ``value`` XOR 0xFF),
        ``"cut"`` (send only the first ``value`` body bytes, then drop the connection) or ``"status"`` (answer
        HTTP ``value`` with no body)."""
        if kind not in ("flip", "cut", "status"):
            raise ValueError(f"fault kind {kind!r}: expected 'flip', 'cut' or 'status'")
        self._faults[self._key(path_or_url)] = (kind, value, times)

    def requests_for(self, path_or_url: str) -> list[Request]:
        key = self._key(path_or_url)
        return [r for r in self.log if self._key(r.path) == key]

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> LocalServer:
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def _done(self, start, status, sent):
                with server._lock:
                    server.log.append(Request(self.path, start, status, sent))

            def do_GET(self):  # noqa: N802 (http.server's name)
                key = server._key(self.path)
                start = 0
                rng = self.headers.get("Range", "")
                if rng.startswith("bytes=") and rng.endswith("-"):
                    start = int(rng[6:-1])
                fault = None
                with server._lock:
                    if key in server._faults:
                        kind, value, times = server._faults[key]
                        fault = (kind, value)
                        if times <= 1:
                            del server._faults[key]
                        else:
                            server._faults[key] = (kind, value, times - 1)
                content = server.files.get(key)
                if fault and fault[0] == "status":
                    return self._empty(fault[1], start)
                if content is None:
                    return self._empty(404, start)
                data = content if isinstance(content, bytes) else Path(content).read_bytes()
                if fault and fault[0] == "flip":
                    i = fault[1] % max(1, len(data))
                    data = data[:i] + bytes([data[i] ^ 0xFF]) + data[i + 1:]
                if start >= len(data) and start:
                    return self._empty(416, start)
                body = data[start:]
                self.send_response(206 if start else 200)
                if start:
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Accept-Ranges", "bytes")
                self.end_headers()
                if fault and fault[0] == "cut":
                    part = body[: fault[1]]
                    self.wfile.write(part)
                    self.wfile.flush()
                    self.close_connection = True
                    try:
                        self.connection.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
                    return self._done(start, 206 if start else 200, len(part))
                self.wfile.write(body)
                self._done(start, 206 if start else 200, len(body))

            def _empty(self, status, start):
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()
                self._done(start, status, 0)

        self._httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="neuro_lib-localserver", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> LocalServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
