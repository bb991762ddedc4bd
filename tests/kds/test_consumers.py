"""The kitchen WebSocket, driven with channels' WebsocketCommunicator on whatever channel layer the
settings name (in-memory by default; CI runs these again with REDIS_URL set)."""

import json
import re

import pytest
import pytest_asyncio
from channels.layers import get_channel_layer
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from kds import consumers, frames, selectors, services
from core.lanes import in_service_lane
from kds.models import Station, Ticket
from tests.kds.test_printing import station_printer
from config.routing import websocket_urlpatterns
from accounts.access import device_cookie_value
from accounts.models import Device
from tests.kds.conftest import add_line, make_order

pytestmark = [pytest.mark.channels, pytest.mark.asyncio, pytest.mark.django_db(transaction=True),
              pytest.mark.usefixtures("hubs_settled")]

application = URLRouter(websocket_urlpatterns)


@pytest_asyncio.fixture(autouse=True)
async def clean_layer():
    layer = get_channel_layer()
    await layer.flush()
    frames.frame_cache.clear()
    yield
    await layer.flush()


def socket(path: str, *, token: str | None = None, cookie: str | None = None) -> WebsocketCommunicator:
    headers = []
    if token:
        headers.append((b"authorization", f"Bearer {token}".encode()))
    if cookie:
        headers.append((b"cookie", f"{settings.DEVICE_COOKIE_NAME}={cookie}".encode()))
    return WebsocketCommunicator(application, path, headers=headers)


async def opened(path: str, token: str) -> tuple[WebsocketCommunicator, str]:
    """A connected screen and its first frame (the snapshot)."""
    ws = socket(path, token=token)
    connected, _ = await ws.connect()
    assert connected
    return ws, await ws.receive_from(timeout=5)


async def closed_with(ws: WebsocketCommunicator) -> int:
    connected, _ = await ws.connect()
    assert connected  # accepted, then closed with a code the screen can act on
    message = await ws.receive_output(timeout=5)
    assert message["type"] == "websocket.close"
    return message["code"]


async def next_html(ws: WebsocketCommunicator) -> str:
    """The next HTML frame, skipping control frames (pong, ack)."""
    while True:
        frame = await ws.receive_from(timeout=5)
        if not frame.startswith("{"):
            return frame


async def answer_and_frame(ws: WebsocketCommunicator) -> tuple[dict, str]:
    """After an action: its answer (JSON) and the frame showing it, in whichever order they come (the
    frame is drawn as the change commits, the answer once the action returns)."""
    first, second = await ws.receive_from(timeout=5), await ws.receive_from(timeout=5)
    answer, frame = (first, second) if first.startswith("{") else (second, first)
    return json.loads(answer), frame


def seq_of(frame: str) -> int:
    return int(re.search(r'id="kds-meta"[^>]*data-seq="(\d+)"', frame).group(1))


@in_service_lane
def place(menu, item="steak", *, table=None, rollback=False):
    """An order sent to the kitchen in its own transaction, as orders.actions do."""
    try:
        with transaction.atomic():
            order = make_order(table=table)
            line = add_line(order, menu[item], note="sans sel <b>")
            services.send_lines_to_kitchen(order=order, lines=[line])
            if rollback:
                raise RuntimeError("rolled back")
    except RuntimeError:
        return None
    return order


@in_service_lane
def ticket_of(order, slug):
    return Ticket.objects.get(order=order, station__slug=slug)


# --- Who may connect ------------------------------------------------------------------------------


async def test_it_closes_4401_for_an_unpaired_client(stations):
    assert await closed_with(socket("/ws/kds/grill/")) == 4401
    assert await closed_with(socket("/ws/kds/grill/", token="not-a-token")) == 4401


async def test_it_closes_4403_for_a_till(stations, till):
    assert await closed_with(socket("/ws/kds/grill/", token=till.token)) == 4403


async def test_it_closes_4404_for_an_unknown_station(stations, kds_screen):
    assert await closed_with(socket("/ws/kds/nowhere/", token=kds_screen.token)) == 4404


async def test_it_closes_4401_for_a_revoked_screen(stations, kds_screen):
    await in_service_lane(Device.objects.filter(pk=kds_screen.pk).update)(revoked_at=timezone.now())
    assert await closed_with(socket("/ws/kds/grill/", token=kds_screen.token)) == 4401


async def test_it_accepts_the_paired_device_cookie(stations, menu, kds_screen):
    await place(menu)
    ws = socket("/ws/kds/grill/", cookie=await in_service_lane(device_cookie_value)(kds_screen))
    connected, _ = await ws.connect()
    assert connected
    assert "STEAK FRITES" in await ws.receive_from(timeout=5)
    await ws.disconnect()


# --- Snapshot, live frames, resume --------------------------------------------------------------


async def test_it_sends_a_snapshot_of_open_tickets_on_connect(stations, menu, kds_screen, table4):
    order = await place(menu, table=table4)
    ws, frame = await opened("/ws/kds/grill/", kds_screen.token)
    grill = await ticket_of(order, "grill")
    assert 'id="tickets"' in frame and 'hx-swap-oob="true"' in frame
    assert f'data-order-id="{order.pk}"' in frame and f'data-seq="{grill.seq}"' in frame
    assert "STEAK FRITES" in frame and "Table 4" in frame
    assert "sans sel &lt;b&gt;" in frame  # notes are escaped
    assert seq_of(frame) == 1
    await ws.disconnect()


async def test_it_pushes_a_new_ticket_to_every_screen_of_the_station_and_expo(stations, menu, kds_screen):
    grill_a, _ = await opened("/ws/kds/grill/", kds_screen.token)
    grill_b, _ = await opened("/ws/kds/grill/", kds_screen.token)
    expo, _ = await opened("/ws/kds/expo/", kds_screen.token)
    bar, _ = await opened("/ws/kds/bar/", kds_screen.token)
    order = await place(menu)
    for ws in (grill_a, grill_b, expo):
        frame = await next_html(ws)
        assert f'data-order-id="{order.pk}"' in frame and 'data-kds-upsert="tickets"' in frame
        assert 'data-beep="1"' in frame
    assert await bar.receive_nothing(timeout=0.3)  # steak frites is not a bar item
    for ws in (grill_a, grill_b, expo, bar):
        await ws.disconnect()


async def test_it_shows_nothing_when_the_order_rolls_back(stations, menu, kds_screen):
    ws, _ = await opened("/ws/kds/grill/", kds_screen.token)
    assert await place(menu, rollback=True) is None
    assert await ws.receive_nothing(timeout=0.5)
    await ws.send_to(text_data=json.dumps({"action": "ping"}))
    assert json.loads(await ws.receive_from(timeout=5)) == {"type": "pong", "seq": 0}
    await ws.disconnect()


async def test_it_resumes_from_the_last_seq_the_screen_saw(stations, menu, kds_screen):
    first = await place(menu)
    second = await place(menu)
    ws, frame = await opened("/ws/kds/grill/?since=1", kds_screen.token)
    assert f'data-order-id="{second.pk}"' in frame and f'data-order-id="{first.pk}"' not in frame
    assert 'data-mode="replay"' in frame and seq_of(frame) == 2
    await ws.disconnect()
    up_to_date = socket("/ws/kds/grill/?since=2", token=kds_screen.token)
    assert (await up_to_date.connect())[0]
    assert await up_to_date.receive_nothing(timeout=0.3)  # nothing it has not seen
    await up_to_date.disconnect()


async def test_it_pushes_new_tickets_to_a_screen_that_resumed_up_to_date(stations, menu, kds_screen):
    """The answer "nothing after 1" given at connect must not be reused for the doorbell of 2."""
    await place(menu)
    ws = socket("/ws/kds/grill/?since=1", token=kds_screen.token)
    assert (await ws.connect())[0]
    order = await place(menu)
    frame = await next_html(ws)
    assert f'data-order-id="{order.pk}"' in frame and seq_of(frame) == 2
    await ws.disconnect()


async def test_it_sends_a_snapshot_to_a_screen_from_the_future(stations, menu, kds_screen):
    """A seq the station has not reached (the database was restored): start again from scratch."""
    order = await place(menu)
    ws, frame = await opened("/ws/kds/grill/?since=99", kds_screen.token)
    assert 'data-mode="snapshot"' in frame and f'data-order-id="{order.pk}"' in frame
    await ws.disconnect()


async def test_it_catches_up_on_ping_after_a_lost_doorbell(stations, menu, kds_screen, monkeypatch):
    ws, _ = await opened("/ws/kds/grill/", kds_screen.token)
    monkeypatch.setattr("core.events.publish_now", lambda group, event: None)  # e.g. another process
    order = await place(menu)
    assert await ws.receive_nothing(timeout=0.3)
    await ws.send_to(text_data='{"action": "ping"}')
    frame = await ws.receive_from(timeout=5)
    assert f'data-order-id="{order.pk}"' in frame
    assert json.loads(await ws.receive_from(timeout=5)) == {"type": "pong", "seq": 1}
    await ws.disconnect()


# --- Bumps and bad input ----------------------------------------------------------------------------


async def test_it_bumps_over_the_socket_and_removes_the_card_from_every_screen(stations, menu, kds_screen):
    order = await place(menu)
    grill = await ticket_of(order, "grill")
    a, _ = await opened("/ws/kds/grill/", kds_screen.token)
    b, _ = await opened("/ws/kds/grill/", kds_screen.token)
    await a.send_to(text_data=json.dumps({"action": "bump", "ticket": str(grill.pk), "to": "done", "HEADERS": {}}))
    ack, frame_a = await answer_and_frame(a)
    assert ack == {"type": "ack", "action": "bump", "ticket": grill.pk, "status": "done"}
    for frame in (frame_a, await next_html(b)):
        assert f'<div id="ticket-{grill.pk}" hx-swap-oob="delete">' in frame
        assert "recall-btn" in frame  # it is in the recently-bumped list now
    # The same message again (htmx resends its queue after a reconnect): refused, nothing changes.
    await a.send_to(text_data=json.dumps({"action": "bump", "ticket": grill.pk, "to": "done"}))
    error = json.loads(await a.receive_from(timeout=5))
    assert error["type"] == "error" and error["error"] == "already" and error["ticket"] == grill.pk
    assert await b.receive_nothing(timeout=0.3)
    # Recall brings it back on both screens.
    await b.send_to(text_data=json.dumps({"action": "recall"}))
    ack, frame_b = await answer_and_frame(b)
    assert ack["status"] == "new"
    for frame in (await next_html(a), frame_b):
        assert f'id="ticket-{grill.pk}"' in frame
    await a.disconnect()
    await b.disconnect()


@pytest.mark.parametrize(
    ("message", "code"),
    [
        ("not json", "bad_json"),
        ("[1, 2]", "bad_json"),
        ('{"action": "bump", "ticket": 999999, "to": "done"}', "unknown_ticket"),
        ('{"action": "bump", "ticket": {"$gt": 1}, "to": "done"}', "unknown_ticket"),
        ('{"action": "bump", "ticket": "BAR", "to": "done"}', "wrong_station"),
        ('{"action": "bump", "ticket": "GRILL", "to": "toggle"}', "invalid"),
        ('{"action": "item", "item": "x", "to": "done"}', "unknown_item"),
        ('{"action": "explode"}', "unknown_action"),
        ('{"action": "recall"}', "nothing_to_recall"),
    ],
)
async def test_it_answers_bad_messages_with_an_error_frame_and_keeps_going(stations, menu, kds_screen, message, code):
    order = await place(menu)
    bar_order = await place(menu, "cola")
    message = message.replace('"GRILL"', str((await ticket_of(order, "grill")).pk))
    message = message.replace('"BAR"', str((await ticket_of(bar_order, "bar")).pk))
    ws, _ = await opened("/ws/kds/grill/", kds_screen.token)
    await ws.send_to(text_data=message)
    error = json.loads(await ws.receive_from(timeout=5))
    assert error["type"] == "error" and error["error"] == code
    await ws.send_to(text_data='{"action": "ping"}')
    assert json.loads(await ws.receive_from(timeout=5))["type"] == "pong"
    assert await in_service_lane(Ticket.objects.filter(status="done").count)() == 0
    await ws.disconnect()


async def test_it_closes_1009_on_a_huge_frame(stations, kds_screen):
    ws, _ = await opened("/ws/kds/grill/", kds_screen.token)
    await ws.send_to(text_data=json.dumps({"action": "ping", "junk": "x" * 100_000}))
    message = await ws.receive_output(timeout=5)
    assert message == {"type": "websocket.close", "code": 1009, "reason": None} or message.get("code") == 1009


async def test_it_refuses_binary_frames(stations, kds_screen):
    ws, _ = await opened("/ws/kds/grill/", kds_screen.token)
    await ws.send_to(bytes_data=b"\x00\x01")
    assert json.loads(await ws.receive_from(timeout=5))["error"] == "binary"
    await ws.disconnect()


# --- Other groups: alerts, menu, ready board --------------------------------------------------------


async def test_it_ignores_event_types_it_does_not_know(stations, kds_screen):
    ws, _ = await opened("/ws/kds/grill/", kds_screen.token)
    await get_channel_layer().group_send("alerts", {"type": "sync.status", "backlog": 3})
    await ws.send_to(text_data='{"action": "ping"}')
    assert json.loads(await ws.receive_from(timeout=5))["type"] == "pong"
    await ws.disconnect()


async def test_it_shows_printer_alerts(stations, kds_screen):
    ws, _ = await opened("/ws/kds/grill/", kds_screen.token)
    await in_service_lane(station_printer)(stations["grill"], name="Grill", host="127.0.0.1", port=9, down_since=timezone.now())
    await get_channel_layer().group_send("alerts", {"type": "kds.alert"})
    frame = await ws.receive_from(timeout=5)
    assert 'id="kds-alerts"' in frame and "Grill" in frame
    await ws.disconnect()


async def test_it_marks_86d_items_on_menu_events(stations, menu, kds_screen):
    ws, _ = await opened("/ws/kds/grill/", kds_screen.token)
    await in_service_lane(type(menu["burger"]).objects.filter(pk=menu["burger"].pk).update)(available=False)
    await get_channel_layer().group_send(
        "menu", {"type": "menu.item", "item_id": menu["burger"].pk, "available": False, "remaining": None}
    )
    frame = await ws.receive_from(timeout=5)
    assert 'id="kds-stock"' in frame and "Burger" in frame and "86" in frame
    await ws.disconnect()


async def test_it_moves_an_order_to_ready_on_the_ready_board(stations, menu, kds_screen):
    order = await place(menu, "cola")
    board, frame = await opened("/ws/kds/ready/", kds_screen.token)
    assert re.search(r'ready-preparing">.*?data-order-id="%d"' % order.pk, frame, re.S)
    bar = await ticket_of(order, "bar")
    await in_service_lane(services.set_ticket_status)(station=stations["bar"], ticket_id=bar.pk, to="done")
    frame = await next_html(board)
    ready_column = frame.split("ready-ready", 1)[1]
    assert f'data-order-id="{order.pk}"' in ready_column
    await board.send_to(text_data=json.dumps({"action": "bump", "ticket": bar.pk, "to": "new"}))
    assert json.loads(await board.receive_from(timeout=5))["error"] == "read_only"
    await board.disconnect()


async def test_it_rejoins_its_groups_periodically(stations, kds_screen, joined, monkeypatch):
    """channels-redis forgets group members after group_expiry; screens stay open for days."""
    ws, _ = await opened("/ws/kds/grill/", kds_screen.token)
    assert joined == ["station.grill", "alerts", "menu"]
    monkeypatch.setattr(consumers, "REJOIN_EVERY", 0)
    await ws.send_to(text_data='{"action": "ping"}')
    assert json.loads(await ws.receive_from(timeout=5))["type"] == "pong"
    assert joined == ["station.grill", "alerts", "menu"] * 2
    await ws.disconnect()


async def test_it_uses_one_render_for_every_screen_of_a_station(stations, menu, kds_screen, monkeypatch):
    screens = [(await opened("/ws/kds/grill/", kds_screen.token))[0] for _ in range(4)]
    renders = []
    real = frames.render_station
    monkeypatch.setattr(frames, "render_station", lambda station, result: renders.append(station.slug) or real(station, result))
    await place(menu)
    sent = [await next_html(ws) for ws in screens]
    assert len(set(sent)) == 1 and renders == ["grill"]
    for ws in screens:
        await ws.disconnect()


async def test_it_reads_the_frames_of_every_station_an_order_rings_in_one_pass(stations, menu, kds_screen, monkeypatch):
    screens = {slug: (await opened(f"/ws/kds/{slug}/", kds_screen.token))[0] for slug in ("grill", "fry", "expo", "bar")}
    passes = []
    real = selectors.catch_up_many
    monkeypatch.setattr(selectors, "catch_up_many", lambda wanted: passes.append(sorted(s.slug for s, _ in wanted)) or real(wanted))
    order = await place(menu)  # steak frites: grill, fry and expo
    for slug in ("grill", "fry", "expo"):
        assert f'data-order-id="{order.pk}"' in await next_html(screens[slug])
    assert await screens["bar"].receive_nothing(timeout=0.3)
    assert len(passes) == 1 and passes[0] == ["bar", "expo", "fry", "grill"]
    for ws in screens.values():
        await ws.disconnect()


async def test_it_redraws_the_alert_banner_on_ping_when_a_printer_went_down_unannounced(stations, kds_screen):
    """A printer marked down by another process (no shared channel layer): the heartbeat notices."""
    ws, _ = await opened("/ws/kds/grill/", kds_screen.token)
    await in_service_lane(station_printer)(stations["grill"], name="Grill", host="127.0.0.1", port=9, down_since=timezone.now())
    await ws.send_to(text_data='{"action": "ping"}')
    assert 'id="kds-alerts"' in await ws.receive_from(timeout=5)
    assert json.loads(await ws.receive_from(timeout=5))["type"] == "pong"
    await ws.send_to(text_data='{"action": "ping"}')
    assert json.loads(await ws.receive_from(timeout=5))["type"] == "pong"  # unchanged: not redrawn
    await ws.disconnect()


async def test_it_names_cards_to_remove_without_thousand_separators(stations, menu, kds_screen):
    order = await place(menu)
    grill = await ticket_of(order, "grill")
    await in_service_lane(Ticket.objects.filter(pk=grill.pk).update)(status="done", bumped_at=timezone.now())
    await in_service_lane(Ticket.objects.create)(id=4321, order=order, station=stations["grill"], status="done",
                                               bumped_at=timezone.now())
    from kds.models import StationEvent

    await in_service_lane(StationEvent.objects.create)(station=stations["grill"], seq=2, kind="bumped", ticket_id=4321)
    await in_service_lane(Station.objects.filter(pk=stations["grill"].pk).update)(last_seq=2)
    ws, frame = await opened("/ws/kds/grill/?since=1", kds_screen.token)
    assert '<div id="ticket-4321" hx-swap-oob="delete">' in frame
    await ws.disconnect()
