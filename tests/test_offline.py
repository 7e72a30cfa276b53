import asyncio
import socket

import pytest


def test_resolving_a_public_host_fails_at_once() -> None:
    with pytest.raises(OSError, match="tests stay on this machine"):
        socket.getaddrinfo("api.telegram.org", 443)


async def test_asyncio_connections_to_public_hosts_fail_at_once() -> None:
    with pytest.raises(OSError, match="tests stay on this machine"):
        await asyncio.open_connection("api.telegram.org", 443)


def test_loopback_still_resolves() -> None:
    assert socket.getaddrinfo("127.0.0.1", 80)
