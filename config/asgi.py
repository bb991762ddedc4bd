"""ASGI entry point: HTTP goes to Django (each request in one call to a lane thread, core/http.py), WebSockets to
the routed consumers."""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django.setup(set_prefix=False)

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from core.http import ThreadedASGIHandler  # noqa: E402
from core.origins import SameOriginValidator  # noqa: E402
from config.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": ThreadedASGIHandler(),
        # Handshakes from the server's own pages only (core/origins.py). Device authentication happens
        # in each consumer (cookie or bearer token), so an unpaired client is refused with a close code
        # it can act on rather than a bare handshake failure.
        "websocket": SameOriginValidator(URLRouter(websocket_urlpatterns)),
    }
)
