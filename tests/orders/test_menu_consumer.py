"""/ws/menu/: tills and kiosks hear 86'ing live (in-memory channel layer; Redis in CI with REDIS_URL)."""

import pytest
from asgiref.sync import sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.conf import settings

from config.routing import websocket_urlpatterns
from orders.actions import menu as menu_actions
from orders.actions import ordering
from accounts.access import device_cookie_value

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio, pytest.mark.channels]

application = URLRouter(websocket_urlpatterns)


def cookie_header(device) -> tuple[bytes, bytes]:
    return (b"cookie", f"{settings.DEVICE_COOKIE_NAME}={device_cookie_value(device)}".encode())


async def connect(*headers):
    communicator = WebsocketCommunicator(application, "/ws/menu/", headers=list(headers))
    connected, _ = await communicator.connect(timeout=5)
    return communicator, connected


async def test_it_closes_for_an_unpaired_browser():
    communicator, connected = await connect()
    assert connected
    assert (await communicator.receive_output(timeout=5)) == {"type": "websocket.close", "code": 4401}


async def test_it_closes_for_a_kitchen_screen(kds_screen):
    communicator, _ = await connect((b"authorization", f"Bearer {kds_screen.token}".encode()))
    assert (await communicator.receive_output(timeout=5)) == {"type": "websocket.close", "code": 4403}


async def test_it_sends_a_snapshot_then_live_86s_to_a_till(till, menu):
    await sync_to_async(menu_actions.set_item_availability)(item=menu.salad, remaining=2)
    communicator, connected = await connect(cookie_header(till))
    assert connected

    snapshot = await communicator.receive_json_from(timeout=5)
    assert snapshot["type"] == "menu.snapshot"
    assert {"item_id": menu.salad.pk, "available": True, "remaining": 2} in snapshot["items"]

    await sync_to_async(menu_actions.set_item_availability)(item=menu.steak, available=False)
    event = await communicator.receive_json_from(timeout=5)
    assert event == {"type": "menu.item", "item_id": menu.steak.pk, "available": False, "remaining": None}
    await communicator.disconnect()


async def test_it_tells_a_kiosk_when_an_order_takes_the_last_portion(kiosk, till, alice, menu):
    from tests.orders.conftest import line

    await sync_to_async(menu_actions.set_item_availability)(item=menu.dessert, remaining=1)
    communicator, _ = await connect((b"authorization", f"Bearer {kiosk.token}".encode()))
    await communicator.receive_json_from(timeout=5)  # snapshot

    await sync_to_async(ordering.place_order)(
        device=till, server=alice, order_type="eat_in", lines=[line(menu.dessert)], source="till", send=False
    )
    event = await communicator.receive_json_from(timeout=5)
    assert (event["item_id"], event["remaining"]) == (menu.dessert.pk, 0)
    await communicator.disconnect()


async def test_it_ignores_what_a_screen_sends(till, menu):
    communicator, _ = await connect(cookie_header(till))
    await communicator.receive_json_from(timeout=5)
    await communicator.send_json_to({"type": "menu.item", "item_id": menu.steak.pk, "available": False})
    assert await communicator.receive_nothing(timeout=0.3)
    await communicator.disconnect()
