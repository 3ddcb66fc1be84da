"""The server core: streamed (chunked) bodies and work done after a response is written."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator
from pathlib import Path

from connectors.emulator.server import EmulatorServer, Request, Response
from connectors.emulator.tls import create_ca
from connectors.http import CrmSession, RetryPolicy

PARTS = [b'"Id","Name"\n', b"", b'"1","' + b"x" * 100_000 + b'"\n', b'"2","y"\n']


class StreamingApp:
    """Answers /stream with a streamed body, anything else with the same bytes in one piece."""

    def __init__(self) -> None:
        self.after: list[str] = []

    def handle(self, request: Request) -> Response:
        def parts() -> Iterator[bytes]:
            yield from PARTS

        done = lambda: self.after.append(request.path)  # noqa: E731
        if request.path == "/stream":
            return Response(200, headers={"Content-Type": "text/csv"}, stream=parts(), after=done)
        return Response(200, b"".join(PARTS), {"Content-Type": "text/csv"}, after=done)


def test_a_streamed_body_reads_the_same_as_a_whole_one(tmp_path: Path) -> None:
    tls = create_ca(tmp_path)
    app = StreamingApp()
    server = EmulatorServer(app, tls, name="test").start()
    try:
        with CrmSession(ca_bundle=tls.ca_file, policy=RetryPolicy(max_retries=0)) as http:
            streamed = http.get(server.url + "/stream")
            whole = http.get(server.url + "/whole")
            again = http.get(server.url + "/stream", stream=True)  # same connection, kept alive
            pieces = b"".join(again.iter_content(chunk_size=None))
            head = http.head(server.url + "/stream")
    finally:
        server.stop()
    assert streamed.content == whole.content == pieces == b"".join(PARTS)
    assert streamed.headers["Transfer-Encoding"] == "chunked"
    assert "Content-Length" not in streamed.headers
    assert whole.headers["Content-Length"] == str(len(whole.content))
    assert head.content == b"" and head.headers["Content-Length"] == str(len(whole.content))
    assert app.after == ["/stream", "/whole", "/stream", "/stream"]


def test_an_http_1_0_client_gets_a_streamed_body_with_its_length(tmp_path: Path) -> None:
    tls = create_ca(tmp_path)
    server = EmulatorServer(StreamingApp(), tls, name="test").start()
    try:
        context = ssl.create_default_context(cafile=str(tls.ca_file))
        with (
            socket.create_connection(("127.0.0.1", server.port), timeout=10) as raw,
            context.wrap_socket(raw, server_hostname="127.0.0.1") as conn,
        ):
            conn.sendall(b"GET /stream HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
            answer = b""
            while chunk := conn.recv(65536):
                answer += chunk
    finally:
        server.stop()
    head, body = answer.split(b"\r\n\r\n", 1)
    assert b"Transfer-Encoding" not in head
    assert f"Content-Length: {len(body)}".encode() in head
    assert body == b"".join(PARTS)


def test_reading_a_response_joins_its_stream() -> None:
    response = Response(200, stream=iter([b"ab", b"", b"cd"]))
    assert response.read() == b"abcd" == response.body
    assert response.stream is None and response.read() == b"abcd"
