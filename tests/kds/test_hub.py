"""core.hub: each process joins each kitchen group once and hands the group's messages to its screens.

First with stand-in screens on the in-memory layer, then with real kitchen sockets on whatever channel
layer the settings name (in-memory by default; CI runs those again with REDIS_URL set)."""

import asyncio
import json
import logging

import pytest
import pytest_asyncio
from channels.layers import InMemoryChannelLayer
from channels.layers import get_channel_layer
from django.db import transaction

from core import events
from kds import consumers, frames, services
from core import hub as hub_module
from core.hub import Hub, hub_for_loop
from core.lanes import in_service_lane
from tests.kds.conftest import add_line, make_order, settled
from tests.kds.test_consumers import next_html, opened, seq_of

pytestmark = pytest.mark.asyncio

GRILL = "station.grill"


class CountingLayer(InMemoryChannelLayer):
    """The in-memory layer, keeping count of the channels made and the groups joined."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.made: list[str] = []
        self.added: list[str] = []

    async def new_channel(self, prefix="specific."):
        channel = await super().new_channel(prefix)
        self.made.append(channel)
        return channel

    async def group_add(self, group, channel):
        self.added.append(group)
        await super().group_add(group, channel)


class SlowLayer(CountingLayer):
    """Lets the loop run inside each call, as a round trip to Redis does."""

    async def new_channel(self, prefix="specific."):
        await asyncio.sleep(0)
        return await super().new_channel(prefix)

    async def group_add(self, group, channel):
        await asyncio.sleep(0)
        await super().group_add(group, channel)

    async def group_discard(self, group, channel):
        await asyncio.sleep(0)
        await super().group_discard(group, channel)


class Screen:
    """Stands in for a StationConsumer: the hub calls its handlers by message type."""

    def __init__(self, name: str, log: list, *, fails: bool = False):
        self.name = name
        self.log = log
        self.fails = fails
        self.received: asyncio.Queue = asyncio.Queue()

    async def kds_event(self, message):
        self.log.append((self.name, message["seq"]))
        await self.received.put(message)
        if self.fails:
            raise RuntimeError("the socket closed under it")

    def __repr__(self):
        return f"Screen({self.name})"


async def next_message(screen: Screen) -> dict:
    return await asyncio.wait_for(screen.received.get(), timeout=5)


async def ring(layer, seq: int, group: str = GRILL) -> None:
    await layer.group_send(group, {"type": "kds.event", "station": "grill", "seq": seq})


@pytest_asyncio.fixture
async def stop_readers():
    """Hubs made by a test; their readers are stopped at the end whatever the test left behind."""
    hubs = []
    yield hubs.append
    readers = [reader for hub in hubs for reader in hub.readers.values()]
    for reader in readers:
        reader.cancel()
    await asyncio.gather(*readers, return_exceptions=True)


@pytest.fixture
def make_hub(stop_readers):
    def make(layer):
        hub = Hub(layer)
        stop_readers(hub)
        return hub

    return make


# --- The hub with stand-in screens on the in-memory layer ---------------------------------------------


async def test_it_joins_each_group_once_whatever_the_number_of_screens(make_hub):
    layer = CountingLayer()
    hub = make_hub(layer)
    log = []
    screens = [Screen(str(n), log) for n in range(5)]
    for screen in screens:
        await hub.join(GRILL, screen)
    for screen in screens[:2]:
        await hub.join("alerts", screen)
    assert layer.added == [GRILL, "alerts"]
    assert len(layer.made) == 2 and hub.channels[GRILL] != hub.channels["alerts"]
    assert set(layer.groups[GRILL]) == {hub.channels[GRILL]}
    assert set(layer.groups["alerts"]) == {hub.channels["alerts"]}
    assert list(hub.members[GRILL]) == screens
    assert sorted(hub.readers) == ["alerts", GRILL]


async def test_it_hands_each_message_to_every_screen_in_join_order(make_hub):
    layer = InMemoryChannelLayer()
    hub = make_hub(layer)
    log = []
    b, a, c = Screen("b", log), Screen("a", log), Screen("c", log)
    for screen in (b, a, c):
        await hub.join(GRILL, screen)
    await ring(layer, 1)
    await ring(layer, 2)
    for screen in (b, a, c):
        assert (await next_message(screen))["seq"] == 1
        assert (await next_message(screen))["seq"] == 2
    assert log == [("b", 1), ("a", 1), ("c", 1), ("b", 2), ("a", 2), ("c", 2)]


async def test_it_ignores_messages_no_screen_handles(make_hub):
    layer = InMemoryChannelLayer()
    hub = make_hub(layer)
    log = []
    screen = Screen("a", log)
    await hub.join(GRILL, screen)
    await layer.group_send(GRILL, {"type": "sync.status", "backlog": 3})  # no handler for it
    await layer.group_send(GRILL, {"type": "_private"})  # not a handler name
    await layer.group_send(GRILL, {"seq": 5})  # no type at all
    await ring(layer, 1)
    assert await next_message(screen) == {"type": "kds.event", "station": "grill", "seq": 1}
    assert log == [("a", 1)]
    assert not hub.readers[GRILL].done()


async def test_it_keeps_handing_out_messages_when_a_screen_fails(make_hub, caplog):
    layer = InMemoryChannelLayer()
    hub = make_hub(layer)
    log = []
    broken, fine = Screen("broken", log, fails=True), Screen("fine", log)
    await hub.join(GRILL, broken)
    await hub.join(GRILL, fine)
    with caplog.at_level(logging.ERROR, logger="core.hub"):
        await ring(layer, 1)
        await ring(layer, 2)
        assert (await next_message(fine))["seq"] == 1
        assert (await next_message(fine))["seq"] == 2
    assert log == [("broken", 1), ("fine", 1), ("broken", 2), ("fine", 2)]
    assert [r.message for r in caplog.records].count(f"screen handler kds_event failed for group {GRILL}") == 2


async def test_it_discards_the_group_and_stops_the_reader_when_the_last_screen_leaves(make_hub):
    layer = InMemoryChannelLayer()
    hub = make_hub(layer)
    log = []
    a, b = Screen("a", log), Screen("b", log)
    await hub.join(GRILL, a)
    await hub.join(GRILL, b)
    reader, channel = hub.readers[GRILL], hub.channels[GRILL]

    await hub.leave(GRILL, a)
    assert set(layer.groups[GRILL]) == {channel} and not reader.done()
    await ring(layer, 1)
    assert (await next_message(b))["seq"] == 1
    assert log == [("b", 1)]  # a, joined first, would have been handed it first

    await hub.leave(GRILL, b)
    assert GRILL not in layer.groups
    await asyncio.wait([reader], timeout=5)
    assert reader.cancelled()
    assert (hub.members, hub.channels, hub.readers, hub.joined_at) == ({}, {}, {}, {})
    await hub.leave(GRILL, b)  # leaving twice (a socket closing twice) is harmless
    await hub.leave("station.bar", b)  # and so is leaving a group never joined


async def test_it_joins_a_group_again_after_it_was_left(make_hub):
    layer = InMemoryChannelLayer()
    hub = make_hub(layer)
    screen = Screen("a", [])
    await hub.join(GRILL, screen)
    first_reader = hub.readers[GRILL]
    await hub.leave(GRILL, screen)
    await hub.join(GRILL, screen)
    assert set(layer.groups[GRILL]) == {hub.channels[GRILL]}
    assert hub.readers[GRILL] is not first_reader and not hub.readers[GRILL].done()
    await ring(layer, 1)
    assert (await next_message(screen))["seq"] == 1


async def test_it_refreshes_only_the_groups_joined_longer_ago_than_asked(make_hub):
    """channels-redis forgets a member after group_expiry: the heartbeat's refresh joins again."""
    layer = CountingLayer()
    hub = make_hub(layer)
    screen = Screen("a", [])
    await hub.join(GRILL, screen)
    await hub.join("alerts", screen)
    hub.joined_at[GRILL] -= 100
    stale = hub.joined_at[GRILL]
    del layer.groups[GRILL]  # as if the layer had forgotten it
    layer.added.clear()

    await hub.refresh([GRILL, "alerts", "station.bar"], older_than=50)  # not a member of station.bar here
    assert layer.added == [GRILL]
    assert set(layer.groups[GRILL]) == {hub.channels[GRILL]}
    assert hub.joined_at[GRILL] > stale
    assert "station.bar" not in layer.groups and "station.bar" not in hub.joined_at
    await ring(layer, 1)
    assert (await next_message(screen))["seq"] == 1

    await hub.refresh([GRILL, "alerts"], older_than=50)
    assert layer.added == [GRILL]  # just joined: nothing to do


async def test_it_makes_one_channel_for_concurrent_joins_of_a_group(make_hub):
    layer = SlowLayer()
    hub = make_hub(layer)
    log = []
    screens = [Screen(name, log) for name in "abc"]
    await asyncio.gather(*(hub.join(GRILL, screen) for screen in screens))
    assert len(layer.made) == 1 and layer.added == [GRILL]
    assert set(layer.groups[GRILL]) == {hub.channels[GRILL]} and list(hub.readers) == [GRILL]
    await ring(layer, 1)
    for screen in screens:
        assert (await next_message(screen))["seq"] == 1
    assert log == [("a", 1), ("b", 1), ("c", 1)]


async def test_it_keeps_a_group_joined_when_a_screen_joins_while_the_last_one_leaves(make_hub):
    layer = SlowLayer()
    hub = make_hub(layer)
    leaving, coming = Screen("leaving", []), Screen("coming", [])
    await hub.join(GRILL, leaving)
    await asyncio.gather(hub.leave(GRILL, leaving), hub.join(GRILL, coming))
    assert list(hub.members[GRILL]) == [coming]
    assert set(layer.groups[GRILL]) == {hub.channels[GRILL]} and not hub.readers[GRILL].done()
    await ring(layer, 1)
    assert (await next_message(coming))["seq"] == 1


async def test_it_joins_again_and_goes_on_after_the_layer_failed(make_hub, monkeypatch, caplog):
    class FailingOnce(CountingLayer):
        failed = False

        async def receive(self, channel):
            if not self.failed:
                self.failed = True
                raise ConnectionError("Redis restarting")
            return await super().receive(channel)

    monkeypatch.setattr(hub_module, "RETRY_SECONDS", 0)
    layer = FailingOnce()
    hub = make_hub(layer)
    screen = Screen("a", [])
    with caplog.at_level(logging.WARNING, logger="core.hub"):
        await hub.join(GRILL, screen)
        await ring(layer, 1)
        assert (await next_message(screen))["seq"] == 1
    assert layer.failed and layer.added == [GRILL, GRILL]
    assert f"group {GRILL}: the channel layer failed; trying again" in caplog.messages


async def test_it_keeps_one_hub_per_event_loop():
    hub = hub_for_loop()
    assert hub_for_loop() is hub
    assert hub.layer is get_channel_layer()

    async def elsewhere():
        return hub_for_loop()

    other = await asyncio.to_thread(asyncio.run, elsewhere())
    assert other is not hub


# --- Real kitchen sockets -------------------------------------------------------------------------------


def forget_other_loops(layer) -> None:
    """channels-redis keeps one asyncio lock per receiving prefix, and a receive cancelled while it
    waits for that lock (a hub's reader when the last screen of a group leaves) leaves it behind, bound
    to that test's event loop: the next test's receives would fail on it. A server has one loop; each
    test has its own, so each starts with fresh locks."""
    if hasattr(layer, "receive_clean_locks"):
        layer.receive_clean_locks = type(layer.receive_clean_locks)()


@pytest_asyncio.fixture
async def layer():
    layer = get_channel_layer()
    forget_other_loops(layer)
    await layer.flush()
    frames.frame_cache.clear()
    yield layer
    await settled()
    await layer.flush()
    forget_other_loops(layer)


@in_service_lane
def place(menu):
    """A steak-frites order sent to the kitchen in its own transaction, in the service lane as the
    server runs orders."""
    with transaction.atomic():
        order = make_order()
        line = add_line(order, menu["steak"])
        services.send_lines_to_kitchen(order=order, lines=[line])
    return order


async def group_members(layer, group: str) -> set[str]:
    """The channels the layer holds in `group`, on the in-memory layer or on Redis."""
    if isinstance(layer, InMemoryChannelLayer):
        return set(layer.groups.get(group, {}))
    connection = layer.connection(layer.consistent_hash(group))
    return {member.decode() for member in await connection.zrange(layer._group_key(group), 0, -1)}


@pytest.mark.channels
@pytest.mark.django_db(transaction=True)
async def test_it_brings_a_new_ticket_to_two_screens_of_a_station_through_one_membership(
    layer, stations, menu, kds_screen
):
    a, _ = await opened("/ws/kds/grill/", kds_screen.token)
    b, _ = await opened("/ws/kds/grill/", kds_screen.token)
    bar, _ = await opened("/ws/kds/bar/", kds_screen.token)
    hub = hub_for_loop()
    for group in (GRILL, "station.bar", "alerts", "menu"):
        assert await group_members(layer, group) == {hub.channels[group]}
    assert len(hub.members[GRILL]) == 2 and len(hub.members["alerts"]) == 3

    order = await place(menu)
    for ws in (a, b):
        frame = await next_html(ws)
        assert f'data-order-id="{order.pk}"' in frame and seq_of(frame) == 1
    assert await bar.receive_nothing(timeout=0.3)
    for ws in (a, b, bar):
        await ws.disconnect()


@pytest.mark.channels
@pytest.mark.django_db(transaction=True)
async def test_it_keeps_ringing_a_screen_after_the_other_one_left_and_leaves_the_group_with_the_last(
    layer, stations, menu, kds_screen
):
    a, _ = await opened("/ws/kds/grill/", kds_screen.token)
    b, _ = await opened("/ws/kds/grill/", kds_screen.token)
    hub = hub_for_loop()
    channel, reader = hub.channels[GRILL], hub.readers[GRILL]

    await a.disconnect()
    assert await group_members(layer, GRILL) == {channel}
    order = await place(menu)
    frame = await next_html(b)
    assert f'data-order-id="{order.pk}"' in frame

    await b.disconnect()
    for group in (GRILL, "alerts", "menu"):
        assert await group_members(layer, group) == set()
    assert hub.channels == {} and hub.members == {}
    await asyncio.wait([reader], timeout=5)
    assert reader.cancelled()


@pytest.mark.channels
@pytest.mark.django_db(transaction=True)
async def test_it_joins_and_refreshes_the_layer_once_for_all_the_screens_of_a_station(
    layer, stations, kds_screen, joined, monkeypatch
):
    a, _ = await opened("/ws/kds/grill/", kds_screen.token)
    b, _ = await opened("/ws/kds/grill/", kds_screen.token)
    assert joined == [GRILL, "alerts", "menu"]
    monkeypatch.setattr(consumers, "REJOIN_EVERY", 0)
    await b.send_to(text_data='{"action": "ping"}')
    assert json.loads(await b.receive_from(timeout=5))["type"] == "pong"
    assert joined == [GRILL, "alerts", "menu"] * 2
    for ws in (a, b):
        await ws.disconnect()


class WatchedLock(asyncio.Lock):
    """frames_lock, saying when someone has to wait for it."""

    def __init__(self):
        super().__init__()
        self.contended = asyncio.Event()

    async def acquire(self):
        if self.locked():
            self.contended.set()
        return await super().acquire()


@pytest.mark.channels
@pytest.mark.django_db(transaction=True)
async def test_it_sends_frames_in_seq_order_when_a_doorbell_rings_during_a_catch_up(
    layer, stations, menu, kds_screen, monkeypatch
):
    ws, _ = await opened("/ws/kds/grill/", kds_screen.token)
    await ws.send_to(text_data='{"action": "ping"}')
    assert json.loads(await ws.receive_from(timeout=5))["type"] == "pong"  # connect is over
    hub = hub_for_loop()
    [screen] = hub.members[GRILL]

    # The first order rings nobody: the next ping finds it (seq 1) and starts a catch-up.
    ringing = False
    real_publish = events.publish_now

    def publish_now(group, event):
        if ringing:
            real_publish(group, event)

    monkeypatch.setattr(events, "publish_now", publish_now)
    first = await place(menu)

    # That catch-up renders its frame, then is held before sending it.
    held, release = asyncio.Event(), asyncio.Event()
    real_render = frames.render_pass

    async def held_render(board, since, at_least):
        result = await real_render(board, since, at_least)
        if not held.is_set():
            held.set()
            await release.wait()
        return result

    monkeypatch.setattr(frames, "render_pass", held_render)
    screen.frames_lock = WatchedLock()
    rung = asyncio.Event()
    real_kds_event = screen.kds_event

    async def kds_event(event):
        await real_kds_event(event)
        rung.set()

    monkeypatch.setattr(screen, "kds_event", kds_event)

    await ws.send_to(text_data='{"action": "ping"}')
    await asyncio.wait_for(held.wait(), timeout=5)
    # Meanwhile the second order rings (seq 2): its doorbell must wait for the catch-up in progress.
    ringing = True
    second = await place(menu)
    waited = asyncio.ensure_future(screen.frames_lock.contended.wait())
    done = asyncio.ensure_future(rung.wait())
    await asyncio.wait([waited, done], timeout=5, return_when=asyncio.FIRST_COMPLETED)
    assert waited.done() or done.done()  # the doorbell reached the screen
    release.set()

    sent = [await next_html(ws), await next_html(ws)]
    assert [seq_of(frame) for frame in sent] == [1, 2]
    assert f'data-order-id="{first.pk}"' in sent[0] and f'data-order-id="{second.pk}"' in sent[1]
    await asyncio.wait_for(rung.wait(), timeout=5)
    assert screen.seq == 2
    waited.cancel()
    await ws.disconnect()


@pytest.mark.channels
@pytest.mark.django_db(transaction=True)
async def test_it_never_sends_an_older_frame_after_a_newer_one(layer, stations, menu, kds_screen):
    """Orders back to back, pings in between: every catch-up (doorbell or heartbeat) goes forward."""
    ws, _ = await opened("/ws/kds/grill/", kds_screen.token)
    for _ in range(3):
        await ws.send_to(text_data='{"action": "ping"}')
        await place(menu)
    seqs = []
    while not seqs or seqs[-1] < 3:
        seqs.append(seq_of(await next_html(ws)))
    assert seqs == sorted(seqs)
    await ws.disconnect()
