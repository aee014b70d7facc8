import socket

import pytest


def test_connections_off_loopback_are_refused() -> None:
    with pytest.raises(OSError, match="must not reach the network"):
        socket.create_connection(("example.com", 443), timeout=1)


def test_loopback_is_allowed() -> None:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    client = socket.create_connection(server.getsockname(), timeout=1)
    client.close()
    server.close()


def test_subprocesses_are_offline_too() -> None:
    import subprocess
    import sys

    code = "import socket; socket.create_connection(('example.com', 443), timeout=1)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert done.returncode != 0
    assert "tests must not reach the network" in done.stderr
