"""Every WebSocket route of the project (one list, so asgi.py stays tiny)."""

from django.urls import path

from kds import consumers
from orders.consumers import FloorConsumer, MenuConsumer

websocket_urlpatterns = [
    path("ws/kds/<slug:station>/", consumers.StationConsumer.as_asgi()),
    path("ws/menu/", MenuConsumer.as_asgi()),
    path("ws/till/floor/", FloorConsumer.as_asgi()),
]
