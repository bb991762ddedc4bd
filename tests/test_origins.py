"""WebSocket handshakes from the server's own pages only (core/origins.py)."""

import pytest
from channels.testing import WebsocketCommunicator

from config.asgi import application
from core.origins import origin_allowed


def scope(origin=None, host="192.168.1.10:8000"):
    headers = [(b"host", host.encode())] if host else []
    if origin is not None:
        headers.append((b"origin", origin.encode()))
    return {"type": "websocket", "headers": headers}


@pytest.mark.parametrize("origin, host, allowed", [
    ("http://192.168.1.10:8000", "192.168.1.10:8000", True),  # the server's own page
    ("http://brigade.local", "brigade.local:80", True),  # default port on either side
    ("https://brigade.local", "brigade.local", True),
    ("HTTP://Brigade.Local:8000", "brigade.local:8000", True),
    ("http://192.168.1.10:9000", "192.168.1.10:8000", False),  # another port of the same host
    ("http://evil.example", "192.168.1.10:8000", False),
    ("https://192.168.1.10:8000", "192.168.1.10:8443", False),
    ("null", "192.168.1.10:8000", False),  # a sandboxed frame or a file
    ("http://192.168.1.10:notaport", "192.168.1.10:8000", False),
    ("http://192.168.1.10:8000", None, False),
    (None, "192.168.1.10:8000", True),  # a program, not a browser page: its bearer token decides
])
def test_it_accepts_the_servers_own_origin_only(origin, host, allowed):
    assert origin_allowed(scope(origin, host)) is allowed


def test_it_accepts_a_trusted_origin(settings):
    settings.CSRF_TRUSTED_ORIGINS = ["https://kitchen.example.org"]
    assert origin_allowed(scope("https://kitchen.example.org", "127.0.0.1:8000"))
    assert not origin_allowed(scope("https://other.example.org", "127.0.0.1:8000"))


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
@pytest.mark.parametrize("origin, accepted", [("http://127.0.0.1:8000", True), ("http://127.0.0.1:9999", False)])
async def test_a_page_on_another_port_cannot_open_a_kitchen_socket(origin, accepted):
    """Another origin: the handshake itself is refused, before any consumer runs. The same origin reaches
    the consumer, which then asks for a paired device (4401)."""
    communicator = WebsocketCommunicator(
        application, "/ws/kds/grill/", headers=[(b"host", b"127.0.0.1:8000"), (b"origin", origin.encode())]
    )
    connected, _subprotocol = await communicator.connect(timeout=5)
    assert connected is accepted
    if accepted:
        assert await communicator.receive_output(timeout=5) == {"type": "websocket.close", "code": 4401}
    await communicator.disconnect()
