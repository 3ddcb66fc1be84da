"""Fixtures shared by every test layer."""

from __future__ import annotations

import http.server
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from connectors.emulator.tls import TlsFiles, create_ca

SECRET_ENV = {
    "SF_CLIENT_ID": "3MVG9-test-client-id",
    "SF_CLIENT_SECRET": "sf-very-secret-value-123",
    "D365_CLIENT_ID": "11111111-2222-3333-4444-555555555555",
    "D365_CLIENT_SECRET": "d365-very-secret-value-456",
}


@pytest.fixture
def secret_env(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The example configuration's environment variables, set to recognisable secrets."""
    for name, value in SECRET_ENV.items():
        monkeypatch.setenv(name, value)
    return dict(SECRET_ENV)


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    """A CA and loopback server certificate, as the emulator makes them."""
    return create_ca(tmp_path_factory.mktemp("tls"))


class _Hello(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b'{"hello": "kamsync"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="session")
def tls_server(tls_files: TlsFiles) -> Iterator[str]:
    """A loopback HTTPS server (in a thread) whose certificate only the emulator CA trusts."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hello)
    context: ssl.SSLContext = tls_files.server_context()
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def example_config() -> Path:
    """The shipped example configuration."""
    return Path(__file__).resolve().parents[1] / "config" / "example.toml"
