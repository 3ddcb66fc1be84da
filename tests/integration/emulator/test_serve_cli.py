"""``kamsync emulator serve`` as a separate process: one JSON line, real clients, clean stops."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import simple_salesforce

from connectors.http import CrmSession, RetryPolicy
from sync.commands.emulator_cmd import serve_argv


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_serve_prints_one_json_line_serves_and_stops_cleanly(stop_signal: signal.Signals) -> None:
    command = serve_argv("--accounts", "120", "--seed", "3", "--as-of", "2024-06-30")
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        ready = json.loads(process.stdout.readline())
        assert set(ready) == {"ca_file", "salesforce", "dynamics"}
        assert {"instance_url", "login_url", "client_id", "client_secret"} <= set(
            ready["salesforce"]
        )
        assert {"url", "authority", "client_id", "client_secret"} <= set(ready["dynamics"])
        assert Path(ready["salesforce"]["jwt_key_file"]).is_file()

        salesforce = ready["salesforce"]
        http = CrmSession(ca_bundle=Path(ready["ca_file"]), policy=RetryPolicy(max_retries=0))
        token = http.post(
            salesforce["login_url"] + "/services/oauth2/token",
            data={
                "grant_type": "client_credentials",
                "client_id": salesforce["client_id"],
                "client_secret": salesforce["client_secret"],
            },
        ).json()["access_token"]
        sf = simple_salesforce.Salesforce(
            instance_url=salesforce["instance_url"], session_id=token, session=http, version="62.0"
        )
        assert sf.query("SELECT COUNT() FROM Account")["totalSize"] > 0
        discovery = http.get(
            ready["dynamics"]["authority"] + "/v2.0/.well-known/openid-configuration"
        )
        assert discovery.status_code == 200
        log = http.get(salesforce["instance_url"] + "/__emulator/write-log").json()
        assert log == {"entries": []}
    finally:
        process.send_signal(stop_signal)
        out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert out == ""  # nothing after the one JSON line
    assert "/services/data/v62.0/query" in err  # requests are logged on stderr


def test_serve_with_a_bad_fault_spec_exits_2() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "sync", "emulator", "serve", "--faults", "429:lots"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert "--faults: 429: 'lots' is not a probability" in result.stderr


def test_serve_on_a_busy_port_exits_2() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            serve_argv("--accounts", "50", "--port", str(port)),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert result.returncode == 2
    assert result.stdout == ""
    assert f"--port {port}: cannot listen" in result.stderr
