"""core.layers.InMemoryChannelLayer: Channels' in-memory layer that sweeps expired entries at most once per
SWEEP_EVERY and puts a group's messages in turn; what it delivers and removes is unchanged."""

import asyncio

import pytest
from channels.exceptions import ChannelFull
from channels.layers import InMemoryChannelLayer as ChannelsInMemoryChannelLayer

from core import layers
from core.layers import InMemoryChannelLayer

pytestmark = pytest.mark.asyncio


class Clock:
    """Wall time for Channels' expiries, monotonic time for the sweep's pace; both move on together."""

    def __init__(self):
        self.wall = 1_800_000_000.0
        self.ticks = 5_000.0

    def time(self):
        return self.wall

    def monotonic(self):
        return self.ticks

    def advance(self, seconds: float, *, wall: float | None = None) -> None:
        self.ticks += seconds
        self.wall += seconds if wall is None else wall


@pytest.fixture
def clock(monkeypatch):
    clock = Clock()
    monkeypatch.setattr("channels.layers.time", clock)
    monkeypatch.setattr(layers, "time", clock)
    return clock


@pytest.fixture
def sweeps(monkeypatch):
    """How many times Channels' sweep actually ran."""
    count = []
    real = ChannelsInMemoryChannelLayer._clean_expired

    def spy(self):
        count.append(1)
        real(self)

    monkeypatch.setattr(ChannelsInMemoryChannelLayer, "_clean_expired", spy)
    return count


async def received(layer, channel: str) -> dict:
    return await asyncio.wait_for(layer.receive(channel), timeout=5)


async def test_it_sweeps_at_most_once_per_sweep_every(clock, sweeps):
    layer = InMemoryChannelLayer()
    await layer.group_add("station.grill", "screen-a")
    for n in range(5):
        await layer.group_send("station.grill", {"type": "kds.event", "seq": n})
        await received(layer, "screen-a")
    assert len(sweeps) == 1
    clock.advance(layers.SWEEP_EVERY * 0.9)
    await layer.group_send("station.grill", {"type": "kds.event", "seq": 5})
    assert len(sweeps) == 1
    clock.advance(layers.SWEEP_EVERY * 0.2)
    await received(layer, "screen-a")
    assert len(sweeps) == 2


async def test_it_sweeps_on_every_call_when_sweep_every_is_zero(clock, sweeps, monkeypatch):
    monkeypatch.setattr(layers, "SWEEP_EVERY", 0)
    layer = InMemoryChannelLayer()
    for n in range(3):
        await layer.group_send("station.grill", {"type": "kds.event", "seq": n})
    assert len(sweeps) == 3


async def test_it_still_removes_expired_messages_a_little_later(clock):
    layer = InMemoryChannelLayer(expiry=60)
    await layer.group_add("station.grill", "screen-a")
    await layer.group_send("station.grill", {"type": "kds.event", "seq": 1})  # swept here: nothing expired
    await layer.send("screen-b", {"type": "kds.event", "seq": 1})

    # Both expired, but the last sweep was less than SWEEP_EVERY ago: still there.
    clock.advance(layers.SWEEP_EVERY / 2, wall=61)
    assert await received(layer, "screen-b") == {"type": "kds.event", "seq": 1}

    # The next sweep removes screen-a's, and (Channels' rule) takes screen-a out of its groups.
    clock.advance(layers.SWEEP_EVERY)
    await layer.group_send("station.grill", {"type": "kds.event", "seq": 2})
    assert "screen-a" not in layer.groups["station.grill"]
    await layer.send("screen-a", {"type": "test.end"})
    assert await received(layer, "screen-a") == {"type": "test.end"}


async def test_it_still_expires_group_memberships(clock):
    layer = InMemoryChannelLayer(group_expiry=3600)
    await layer.group_add("station.grill", "screen-old")
    clock.advance(1800)
    await layer.group_add("station.grill", "screen-new")
    clock.advance(1801)
    await layer.group_send("station.grill", {"type": "kds.event", "seq": 1})
    assert await received(layer, "screen-new") == {"type": "kds.event", "seq": 1}
    await layer.send("screen-old", {"type": "test.end"})
    assert await received(layer, "screen-old") == {"type": "test.end"}  # the group message never came
    assert list(layer.groups["station.grill"]) == ["screen-new"]


async def test_it_puts_a_group_message_on_each_member_in_the_order_they_joined(monkeypatch):
    layer = InMemoryChannelLayer()
    for channel in ("screen-b", "screen-a", "screen-c"):
        await layer.group_add("station.grill", channel)
    order = []
    real_send = layer.send

    async def spy(channel, message):
        order.append((channel, message["seq"]))
        await real_send(channel, message)

    monkeypatch.setattr(layer, "send", spy)
    for seq in (1, 2, 3):
        await layer.group_send("station.grill", {"type": "kds.event", "seq": seq})
    assert order == [(channel, seq) for seq in (1, 2, 3) for channel in ("screen-b", "screen-a", "screen-c")]
    for channel in ("screen-b", "screen-a", "screen-c"):
        assert [(await received(layer, channel))["seq"] for _ in range(3)] == [1, 2, 3]


async def test_it_loses_the_message_only_for_a_full_member():
    layer = InMemoryChannelLayer(capacity=1)
    for channel in ("screen-a", "screen-full", "screen-c"):
        await layer.group_add("station.grill", channel)
    await layer.send("screen-full", {"type": "kds.event", "seq": 0})
    with pytest.raises(ChannelFull):
        await layer.send("screen-full", {"type": "kds.event", "seq": 0})

    await layer.group_send("station.grill", {"type": "kds.event", "seq": 1})  # does not raise

    assert await received(layer, "screen-a") == {"type": "kds.event", "seq": 1}
    assert await received(layer, "screen-c") == {"type": "kds.event", "seq": 1}
    assert await received(layer, "screen-full") == {"type": "kds.event", "seq": 0}
    await layer.send("screen-full", {"type": "test.end"})
    assert await received(layer, "screen-full") == {"type": "test.end"}
    assert set(layer.groups["station.grill"]) == {"screen-a", "screen-full", "screen-c"}


async def test_it_gives_each_member_its_own_copy_of_the_message():
    layer = InMemoryChannelLayer()
    for channel in ("screen-a", "screen-b"):
        await layer.group_add("menu", channel)
    message = {"type": "menu.item", "items": [{"id": 1}]}
    await layer.group_send("menu", message)
    message["items"].append({"id": 2})  # the sender's later changes are not seen either

    a = await received(layer, "screen-a")
    b = await received(layer, "screen-b")
    a["items"][0]["id"] = 99
    a["items"].append({"id": 3})
    assert b == {"type": "menu.item", "items": [{"id": 1}]}
    assert message == {"type": "menu.item", "items": [{"id": 1}, {"id": 2}]}


async def test_it_sends_to_a_group_without_members_and_checks_its_arguments():
    layer = InMemoryChannelLayer()
    await layer.group_send("station.nobody", {"type": "kds.event", "seq": 1})
    with pytest.raises(AssertionError):
        await layer.group_send("station.grill", ["not", "a", "dict"])
    with pytest.raises(TypeError):
        await layer.group_send("no spaces allowed", {"type": "kds.event"})
