"""core.events: doorbells superseded within one hand-over to the event loop are not sent."""

import asyncio
import threading

import pytest
from channels.layers import get_channel_layer

from core import events
from core.events import _coalesced
from tests.kds.test_hub import forget_other_loops


def bell(station: str, seq, **extra) -> dict:
    return {"type": "kds.event", "station": station, "seq": seq, **extra}


def grill(seq, **extra) -> tuple[str, dict]:
    return ("station.grill", bell("grill", seq, **extra))


ALERT = ("alerts", {"type": "kds.alert"})


# --- _coalesced, on its own ------------------------------------------------------------------------------


def test_it_keeps_an_empty_or_single_batch_as_it_is():
    assert _coalesced([]) == []
    assert _coalesced([grill(1)]) == [grill(1)]


def test_it_drops_doorbells_a_later_one_to_the_same_group_supersedes():
    batch = [grill(1), ALERT, grill(2), ("station.bar", bell("bar", 7)), grill(3)]
    assert _coalesced(batch) == [ALERT, ("station.bar", bell("bar", 7)), grill(3)]


def test_it_keeps_the_later_of_two_equal_doorbells():
    first, second = grill(2), grill(2)
    result = _coalesced([first, ALERT, second])
    assert result == [ALERT, grill(2)]
    assert result[1][1] is second[1]


def test_it_keeps_the_highest_seq_where_it_stands_when_a_lower_one_comes_after():
    """"Up to 3" already says "up to 2": the later, lower one adds nothing."""
    assert _coalesced([grill(1), grill(3), ALERT, grill(2)]) == [grill(3), ALERT]


def test_it_keeps_doorbells_to_different_groups_or_with_other_fields():
    batch = [
        ("station.grill", bell("grill", 1)),
        ("station.fry", bell("fry", 1)),
        ("expo", bell("expo", 4)),
        ("ready", bell("expo", 4)),  # same event, other group
        ("station.grill", bell("grill", 2, beep=True)),  # differs by more than its seq
        ("station.grill", {"type": "kds.other", "station": "grill", "seq": 3}),
    ]
    assert _coalesced(batch) == batch


def test_it_keeps_events_without_an_integer_seq():
    batch = [
        ALERT, ALERT,  # no seq: identical, still both sent
        ("menu", {"type": "menu.item", "item_id": 4, "available": False, "remaining": None}),
        ("menu", {"type": "menu.item", "item_id": 4, "available": False, "remaining": None}),
        grill("1"), grill("2"),
        grill(1.0), grill(2.0),
        grill(None), grill(None),
        grill(False), grill(True),  # a bool is not a seq
    ]
    assert _coalesced(batch) == batch


def test_it_keeps_doorbells_with_values_it_cannot_compare_as_they_are():
    batch = [grill(1, lines=[1, 2]), grill(2, lines=[1, 2]), grill(3, meta={"a": 1}), grill(4, meta={"a": 1})]
    assert _coalesced(batch) == batch


def test_it_coalesces_hashable_doorbells_next_to_unhashable_ones():
    batch = [grill(1), grill(2, lines=[1]), grill(3)]
    assert _coalesced(batch) == [grill(2, lines=[1]), grill(3)]


def test_it_does_not_change_the_batch_it_is_given():
    batch = [grill(1), ALERT, grill(2)]
    copy = [(group, dict(event)) for group, event in batch]
    _coalesced(batch)
    assert batch == copy


# --- Through publish_now, handed over to a running loop -----------------------------------------------------


@pytest.mark.asyncio
@pytest.mark.channels
async def test_it_rings_a_station_once_for_the_doorbells_of_one_hand_over(sent_synchronously):
    layer = get_channel_layer()
    forget_other_loops(layer)
    await layer.flush()
    listening = {}
    for group in ("station.grill", "station.fry", "alerts"):
        listening[group] = await layer.new_channel()
        await layer.group_add(group, listening[group])
    loop = asyncio.get_running_loop()

    def work():
        with events.serving(loop):
            events.publish_now("station.grill", bell("grill", 1))
            events.publish_now("station.fry", bell("fry", 1))
            events.publish_now("station.grill", bell("grill", 2))
            events.publish_now("alerts", {"type": "kds.alert"})
            events.publish_now("station.grill", bell("grill", 3))

    try:
        thread = threading.Thread(target=work)
        thread.start()
        thread.join(timeout=10)  # blocks the loop: all five are queued before it can send any
        assert not thread.is_alive()

        async def next_on(group):
            return await asyncio.wait_for(layer.receive(listening[group]), timeout=5)

        assert await next_on("station.grill") == bell("grill", 3)
        assert await next_on("station.fry") == bell("fry", 1)
        assert await next_on("alerts") == {"type": "kds.alert"}
        # Nothing else reached the grill: the next message on its channel is the one sent now.
        await layer.group_send("station.grill", {"type": "test.end"})
        assert await next_on("station.grill") == {"type": "test.end"}
        assert sent_synchronously == []
        assert loop not in events._queued
    finally:
        for group, channel in listening.items():
            await layer.group_discard(group, channel)
        await layer.flush()
        forget_other_loops(layer)
