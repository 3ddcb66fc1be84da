"""``kamsync emulator serve`` refuses bad arguments with exit 2 before starting anything."""

from __future__ import annotations

import pytest

from sync.cli import main


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--faults", "429:2"], "--faults: 429: probability 2.0 is not between 0 and 1"),
        (["--faults", "boom:0.1"], "--faults: unknown fault 'boom'"),
        (["--as-of", "30/06/2024"], "--as-of: '30/06/2024' is not a date"),
        (["--accounts", "0"], "--accounts: 0 is not between 1"),
        (["--port", "70000"], "--port: 70000 is not a port number"),
        (["--seed", "x"], "argument --seed: invalid int value"),
    ],
)
def test_bad_arguments_exit_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["emulator", "serve", *argv]) == 2
    captured = capsys.readouterr()
    assert message in captured.err
    assert captured.out == ""
