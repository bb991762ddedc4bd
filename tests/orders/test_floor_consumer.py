"""/ws/till/floor/: tills see the floor plan change live (in-memory channel layer; Redis with REDIS_URL)."""

import asyncio
import datetime as dt

import pytest
import pytest_asyncio
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.access import device_cookie_value
from config.routing import websocket_urlpatterns
from orders import floor_events, floor_plan
from orders.actions import floor as floor_actions
from orders.actions import ordering
from orders.models import Order

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio, pytest.mark.channels]

application = URLRouter(websocket_urlpatterns)
QUIET = 0.25 + 0.6  # the consumer's drawing delay, and then some


@pytest_asyncio.fixture(autouse=True)
async def clean_layer():
    layer = get_channel_layer()
    await layer.flush()
    yield
    await layer.flush()


def cookie_header(device) -> tuple[bytes, bytes]:
    return (b"cookie", f"{settings.DEVICE_COOKIE_NAME}={device_cookie_value(device)}".encode())


async def connect(*headers, path="/ws/till/floor/"):
    communicator = WebsocketCommunicator(application, path, headers=list(headers))
    connected, _ = await communicator.connect(timeout=5)
    assert connected  # accepted, then maybe closed with a code the page acts on
    return communicator


async def opened(till, path="/ws/till/floor/") -> tuple[WebsocketCommunicator, str]:
    communicator = await connect(cookie_header(till), path=path)
    return communicator, await communicator.receive_from(timeout=5)


def state_of(html: str, label: str) -> str:
    marker = f'data-table="{label}" data-state="'
    start = html.index(marker) + len(marker)
    return html[start:html.index('"', start)]


async def test_it_closes_4401_for_an_unpaired_browser():
    communicator = await connect()
    assert (await communicator.receive_output(timeout=5)) == {"type": "websocket.close", "code": 4401}


@pytest.mark.parametrize("device", ["kiosk", "kds_screen"])
async def test_it_closes_4403_for_other_devices(device, request):
    other = await sync_to_async(request.getfixturevalue)(device)
    communicator = await connect((b"authorization", f"Bearer {other.token}".encode()))
    assert (await communicator.receive_output(timeout=5)) == {"type": "websocket.close", "code": 4403}


async def test_it_sends_the_floor_on_connect_as_the_page_draws_it(till, menu, till_client):
    communicator, html = await opened(till, "/ws/till/floor/?lang=en")
    assert html.startswith('<div id="floor"')
    assert state_of(html, "4") == "free"
    assert "2 seats" in html or "4 seats" in html
    page = await sync_to_async(lambda: till_client.get("/till/", HTTP_ACCEPT_LANGUAGE="en").content.decode())()
    assert html.strip() in page  # the same fragment: a live update never differs from a load
    await communicator.disconnect()


async def test_it_speaks_the_language_asked_for(till, menu):
    communicator, html = await opened(till, "/ws/till/floor/?lang=fr")
    assert "places" in html and "seats" not in html
    await communicator.disconnect()
    communicator, html = await opened(till, "/ws/till/floor/?lang=xx")  # unknown: the restaurant's
    assert ("places" in html) == (settings.LANGUAGE_CODE == "fr")
    await communicator.disconnect()


async def test_a_table_opened_elsewhere_sends_one_frame_after_commit(till, alice, menu):
    communicator, first = await opened(till)
    assert state_of(first, "4") == "free"
    await sync_to_async(ordering.open_table)(device=till, server=alice, table=menu.tables["4"], covers=2)
    html = await communicator.receive_from(timeout=5)
    assert state_of(html, "4") == "occupied"
    assert await communicator.receive_nothing(timeout=QUIET)
    await communicator.disconnect()


async def test_nothing_is_sent_when_the_change_rolls_back(till, alice, menu):
    communicator, _first = await opened(till)

    def open_then_fail():
        with transaction.atomic():
            ordering.open_table(device=till, server=alice, table=menu.tables["4"], covers=2)
            raise RuntimeError("the till lost power")

    with pytest.raises(RuntimeError):
        await sync_to_async(open_then_fail)()
    assert await communicator.receive_nothing(timeout=QUIET)
    assert not await Order.objects.filter(table=menu.tables["4"]).aexists()
    await communicator.disconnect()


async def test_a_burst_of_changes_is_drawn_once(till, alice, menu):
    communicator, _first = await opened(till)

    def rush_at_the_door():
        for label in ("1", "2", "3"):
            ordering.open_table(device=till, server=alice, table=menu.tables[label], covers=2)
        floor_actions.move_table(table=menu.tables["6"], dx=1, dy=0)

    await sync_to_async(rush_at_the_door)()
    html = await communicator.receive_from(timeout=5)
    assert [state_of(html, label) for label in ("1", "2", "3", "4")] == ["occupied"] * 3 + ["free"]
    assert await communicator.receive_nothing(timeout=QUIET)
    await communicator.disconnect()


async def test_a_take_away_order_rings_no_floor(till, alice, menu):
    from tests.orders.conftest import line

    communicator, _first = await opened(till)
    await sync_to_async(ordering.place_order)(
        device=till, server=alice, order_type="take_away", source="till", lines=[line(menu.fries)]
    )
    assert await communicator.receive_nothing(timeout=QUIET)
    await communicator.disconnect()


async def test_pings_are_answered_and_garbage_is_refused_without_closing(till, menu):
    communicator, _first = await opened(till)
    await communicator.send_to(text_data='{"action": "ping"}')
    assert await communicator.receive_json_from(timeout=5) == {"type": "pong"}
    for garbage in ("not json", "[1, 2]", '"ping"', '{"action": "bump", "ticket": 1}', "{}"):
        await communicator.send_to(text_data=garbage)
        frame = await communicator.receive_json_from(timeout=5)
        assert frame["type"] == "error" and frame["error"] in ("bad_json", "unknown_action")
    await communicator.send_to(text_data='{"action": "ping"}')
    assert await communicator.receive_json_from(timeout=5) == {"type": "pong"}  # still open
    await communicator.disconnect()


async def test_a_binary_frame_closes_with_1003(till, menu):
    communicator, _first = await opened(till)
    await communicator.send_to(bytes_data=b"\x00\xff")
    assert (await communicator.receive_output(timeout=5)) == {"type": "websocket.close", "code": 1003}


async def test_an_oversized_frame_closes_with_1009(till, menu):
    communicator, _first = await opened(till)
    await communicator.send_to(text_data="x" * 5000)
    assert (await communicator.receive_output(timeout=5)) == {"type": "websocket.close", "code": 1009}


async def test_a_paid_table_turns_free_by_itself(till, alice, menu):
    order = await sync_to_async(ordering.open_table)(device=till, server=alice, table=menu.tables["5"], covers=2)
    # Paid nine minutes 59.5 seconds ago: green for another half second.
    closed_at = timezone.now() - floor_plan.PAID_SHOWN_FOR + dt.timedelta(seconds=0.5)
    await Order.objects.filter(pk=order.pk).aupdate(status=Order.Status.PAID, closed_at=closed_at)
    communicator, first = await opened(till)
    assert state_of(first, "5") == "paid"
    html = await communicator.receive_from(timeout=5)
    assert state_of(html, "5") == "free"
    await communicator.disconnect()


async def test_doorbells_from_outside_an_action_are_heard(till, menu):
    communicator, _first = await opened(till)
    await sync_to_async(floor_events.floor_changed)()
    await asyncio.sleep(0)
    assert (await communicator.receive_from(timeout=5)).startswith('<div id="floor"')
    await communicator.disconnect()
