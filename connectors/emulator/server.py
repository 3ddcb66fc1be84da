"""The emulator's HTTPS server core: one listener per emulated CRM, each serving an :class:`App`.

An app turns a :class:`Request` into a :class:`Response`; the server does TLS, HTTP/1.1
keep-alive, and the transport-level faults an app asks for (``delay`` before answering,
``reset`` to drop the connection without an answer).  Apps never touch sockets.
"""

from __future__ import annotations

import http.server
import logging
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import parse_qs, urlsplit

from connectors.emulator.tls import TlsFiles

log = logging.getLogger("kamsync.emulator")


class Headers:
    """Case-insensitive request headers."""

    def __init__(self, items: Iterable[tuple[str, str]]) -> None:
        self._items: dict[str, str] = {}
        for key, value in items:
            self._items[key.lower()] = value

    def get(self, name: str, default: str | None = None) -> str | None:
        """The header's value, or ``default``."""
        return self._items.get(name.lower(), default)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._items

    def items(self) -> Iterable[tuple[str, str]]:
        """All headers, names lower-cased."""
        return self._items.items()


@dataclass(frozen=True)
class Request:
    """One HTTP request as an app sees it."""

    method: str
    path: str
    query: Mapping[str, list[str]]
    headers: Headers
    body: bytes
    raw_target: str

    def param(self, name: str, default: str | None = None) -> str | None:
        """The first value of query parameter ``name``."""
        values = self.query.get(name)
        return values[0] if values else default


@dataclass
class Response:
    """What an app answers; ``delay`` and ``reset`` are transport faults the server applies.

    ``stream``, when set, is the body instead of ``body``: its parts are sent as they come, with
    chunked transfer encoding (the client reads the same bytes).  ``after`` is called once the
    response has been written (work that should not compete with writing it).
    """

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    reset: bool = False
    stream: Iterable[bytes] | None = None
    after: Callable[[], None] | None = None

    def read(self) -> bytes:
        """The whole body (a stream is consumed and kept as :attr:`body`)."""
        if self.stream is not None:
            self.body, self.stream = b"".join(self.stream), None
        return self.body


class App(Protocol):
    """An emulated CRM endpoint."""

    def handle(self, request: Request) -> Response: ...


def _make_handler(app: App, name: str) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = f"kamsync-emulator-{name}"
        sys_version = ""

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            target = urlsplit(self.path)
            request = Request(
                method=self.command,
                path=target.path,
                query=parse_qs(target.query, keep_blank_values=True),
                headers=Headers(self.headers.items()),
                body=body,
                raw_target=self.path,
            )
            try:
                response = app.handle(request)
            except Exception:  # an emulator bug must show as a 500, not a hung client
                log.exception("%s: %s %s failed", name, self.command, self.path)
                response = Response(500, b'{"error": "emulator internal error"}')
            if response.delay:
                time.sleep(response.delay)
            if response.reset:
                self._drop()
                return
            self._status_line(response)
            headers = {"Content-Type": "application/json;charset=UTF-8", **response.headers}
            for key, value in headers.items():
                self.send_header(key, value)
            if response.stream is not None and self.command != "HEAD" and self._chunked():
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                self._write_chunks(response.stream)
            else:
                self.send_header("Content-Length", str(len(response.read())))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(response.body)
            if response.after is not None:
                response.after()

        def _chunked(self) -> bool:
            """Whether the client reads chunked transfer encoding (HTTP/1.1 and later)."""
            return self.request_version not in ("HTTP/0.9", "HTTP/1.0")

        def _write_chunks(self, parts: Iterable[bytes]) -> None:
            """HTTP/1.1 chunked transfer: each non-empty part as one chunk, then the last."""
            write = self.wfile.write
            for part in parts:
                if part:
                    write(b"%x\r\n%b\r\n" % (len(part), part))
            write(b"0\r\n\r\n")

        def _status_line(self, response: Response) -> None:
            """Status line, Server and Date; an app's own ``Date`` (its org clock) wins."""
            if "Date" not in response.headers:
                self.send_response(response.status)
                return
            self.log_request(response.status)
            self.send_response_only(response.status)
            self.send_header("Server", self.version_string())

        def _drop(self) -> None:
            self.close_connection = True
            try:
                self.connection.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
                )
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _serve

        def log_message(self, format: str, *args: object) -> None:
            log.info("%s: %s", name, format % args)

    return Handler


class _Server(http.server.ThreadingHTTPServer):
    """Accepts plain TCP and does the TLS handshake in the connection's own thread."""

    daemon_threads = True
    request_queue_size = 64

    def __init__(self, address: tuple[str, int], handler: type, context: ssl.SSLContext) -> None:
        self.tls_context = context
        super().__init__(address, handler)

    def finish_request(self, request: socket.socket, client_address: object) -> None:  # type: ignore[override]
        # headers and body go out in two writes; without TCP_NODELAY the body waits for the
        # client's delayed ACK of the headers (about 40 ms per response)
        request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            wrapped = self.tls_context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError) as exc:
            log.info("TLS handshake with %s failed: %s", client_address, exc)
            return
        super().finish_request(wrapped, client_address)


class EmulatorServer:
    """An HTTPS listener on loopback serving one app, in a background thread."""

    def __init__(
        self, app: App, tls: TlsFiles, *, name: str, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self.name = name
        self._server = _Server((host, port), _make_handler(app, name), tls.server_context())
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The port it listens on."""
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """Its base URL, ``https://127.0.0.1:<port>``."""
        return f"https://127.0.0.1:{self.port}"

    def start(self) -> EmulatorServer:
        """Serve in a daemon thread."""
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},  # stop() returns within 50 ms
            name=f"emulator-{self.name}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)
