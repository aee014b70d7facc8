"""Refuse every connection and name lookup that is not for this machine.

Installed in the test process by conftest.py, and in every Python subprocess the tests
start through ``sitecustomize.py`` beside this file (conftest puts this folder on
PYTHONPATH), so no test, and no `roadmap-bot` a test runs, reaches the internet.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex
_real_getaddrinfo = socket.getaddrinfo

_LOCAL_NAMES = {"localhost", "127.0.0.1", "::1", "", None}


def is_local(host: Any) -> bool:
    if isinstance(host, bytes):
        host = host.decode()
    if host in _LOCAL_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check(address: Any) -> None:
    if isinstance(address, tuple) and not is_local(address[0]):
        raise OSError(f"tests must not reach the network: connect to {address!r} refused")


def _connect(self: socket.socket, address: Any) -> Any:
    _check(address)
    return _real_connect(self, address)


def _connect_ex(self: socket.socket, address: Any) -> Any:
    _check(address)
    return _real_connect_ex(self, address)


def _getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
    if not is_local(host):
        raise OSError(f"tests must not reach the network: lookup of {host!r} refused")
    return _real_getaddrinfo(host, *args, **kwargs)


def install() -> None:
    socket.socket.connect = _connect  # type: ignore[method-assign]
    socket.socket.connect_ex = _connect_ex  # type: ignore[method-assign]
    socket.getaddrinfo = _getaddrinfo


def uninstall() -> None:
    socket.socket.connect = _real_connect  # type: ignore[method-assign]
    socket.socket.connect_ex = _real_connect_ex  # type: ignore[method-assign]
    socket.getaddrinfo = _real_getaddrinfo
