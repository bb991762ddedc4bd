"""Every WebSocket route of the project (one list, so asgi.py stays tiny)."""

from django.urls import path

from kds import consumers

websocket_urlpatterns = [
    path("ws/kds/<slug:station>/", consumers.StationConsumer.as_asgi()),
]
