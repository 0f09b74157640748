"""``fluvius iex replay``: datagrams really leave, the JSON summary, and user errors."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fluvius.cli.app import app
from fluvius.feeds.iex.encode import synthetic_tops
from fluvius.feeds.iex.replay import iter_datagrams

runner = CliRunner()


@pytest.mark.slow
def test_replay_sends_every_segment_and_reports_json(tmp_path: Path) -> None:
    # about 60 datagrams: they must all wait in the socket buffer until the command returns
    path = synthetic_tops(200, n_symbols=20, seed=4).write(tmp_path / "t.pcap")
    expected = [payload for _, payload in iter_datagrams(path)]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(2.0)
        port = sock.getsockname()[1]
        result = runner.invoke(
            app, ["iex", "replay", str(path), "--to", f"127.0.0.1:{port}", "--speed", "0", "--json"]
        )
        assert result.exit_code == 0, result.output
        received = [sock.recv(65536) for _ in expected]
    doc = json.loads(result.stdout)
    assert received == expected
    assert (doc["datagrams"], doc["to"]) == (len(expected), f"127.0.0.1:{port}")
    assert doc["bytes"] == sum(map(len, expected))


def test_user_errors(tmp_path: Path) -> None:
    bad = runner.invoke(app, ["iex", "replay", "x.pcap", "--to", "localhost"])
    assert bad.exit_code == 2, bad.output
    assert "--to expects HOST:PORT" in bad.output
    missing = runner.invoke(app, ["iex", "replay", str(tmp_path / "no.pcap"), "--to", "h:1"])
    assert missing.exit_code == 1, missing.output
    assert "No such file" in missing.output
    speed = runner.invoke(app, ["iex", "replay", "x", "--to", "h:1", "--speed", "-2"])
    assert speed.exit_code == 2, speed.output
