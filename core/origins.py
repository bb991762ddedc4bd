"""WebSocket handshakes from the server's own pages only.

A browser sends its cookies with a WebSocket handshake to any site, whatever page opened it: without a
check, a page on another origin (another port of the same host, a page on the guest Wi-Fi) could open a
kitchen screen's socket with a paired screen's cookie and read its feed. Browsers always send the
page's Origin, so the handshake is accepted when that origin is the server itself (the same host and
port as the request's Host header) or one of CSRF_TRUSTED_ORIGINS (a TLS proxy on another origin).

A handshake without an Origin header comes from a program, not a browser page (a kitchen screen app,
the bench, an integration): it carries no cookie of a browser and must bring its bearer token, which
each consumer checks.
"""

from urllib.parse import urlsplit

from channels.security.websocket import WebsocketDenier
from django.conf import settings


def _header(scope: dict, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return value.decode("latin-1")
    return None


def _host_port(netloc: str, scheme: str) -> tuple[str, int | None]:
    parts = urlsplit(f"{scheme}://{netloc}")
    try:
        port = parts.port
    except ValueError:
        return "", None
    if port is None:
        port = 443 if scheme in ("https", "wss") else 80
    return (parts.hostname or "").lower(), port


def origin_allowed(scope: dict) -> bool:
    origin = _header(scope, b"origin")
    if origin is None:
        return True
    if origin in getattr(settings, "CSRF_TRUSTED_ORIGINS", ()):
        return True
    parts = urlsplit(origin)
    host = _header(scope, b"host")
    if parts.scheme not in ("http", "https") or not parts.netloc or not host:
        return False
    # The Host header has no scheme: the page's own scheme gives its default port.
    return _host_port(parts.netloc, parts.scheme) == _host_port(host, parts.scheme)


class SameOriginValidator:
    """ASGI middleware for the websocket route: refuses the handshake (HTTP 403) from another origin."""

    def __init__(self, application):
        self.application = application

    async def __call__(self, scope, receive, send):
        if scope["type"] == "websocket" and not origin_allowed(scope):
            denier = WebsocketDenier()
            return await denier(scope, receive, send)
        return await self.application(scope, receive, send)
