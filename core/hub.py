"""The kitchen screens' groups, joined once per server process instead of once per screen.

A kitchen has a few stations and many screens: sixteen screens on four stations is ordinary. Joined
one by one, every doorbell ("station S has events up to N") is queued on the channel layer sixteen
times and wakes sixteen consumers, each to be told what the first one already knew. Here each process
joins each group once, through one channel of its own per group (so a message says by where it
arrives which group it came to); a reader task takes every message off that channel and calls the
handler of each local screen of the group in turn. The first screen of a station renders the frame,
the others find it in the frame cache (kds.frames) — the fan-out left is the one send per screen.

With Redis and several daphne workers, each worker's hub is a member of the group: every worker hears
every doorbell, as before. Membership is refreshed now and then (channels-redis forgets members after
`group_expiry`), and a reader that fails (Redis restarting) waits, joins again and goes on; screens
catch up from the database meanwhile (their heartbeat), as they always could.
"""

import asyncio
import logging
import time
import weakref

from channels.consumer import get_handler_name
from channels.layers import get_channel_layer

logger = logging.getLogger(__name__)

RETRY_SECONDS = 1.0


class Hub:
    """The groups of one event loop's screens (one hub per loop: `hub_for_loop`)."""

    def __init__(self, layer):
        self.layer = layer
        self.members: dict[str, dict] = {}  # group → its screens here (a dict: insertion-ordered set)
        self.channels: dict[str, str] = {}  # group → this hub's channel for it
        self.readers: dict[str, asyncio.Task] = {}
        self.joined_at: dict[str, float] = {}
        self.lock = asyncio.Lock()  # joins and leaves, one at a time

    async def join(self, group: str, consumer) -> None:
        async with self.lock:
            self.members.setdefault(group, {})[consumer] = None
            if group not in self.channels:
                channel = await self.layer.new_channel()
                self.channels[group] = channel
                await self._add(group)
                self.readers[group] = asyncio.ensure_future(self._read(group, channel))

    async def leave(self, group: str, consumer) -> None:
        async with self.lock:
            members = self.members.get(group)
            if members is None:
                return
            members.pop(consumer, None)
            if members:
                return
            del self.members[group]
            channel = self.channels.pop(group, None)
            reader = self.readers.pop(group, None)
            self.joined_at.pop(group, None)
            if reader is not None:
                reader.cancel()
            if channel is not None:
                try:
                    await self.layer.group_discard(group, channel)
                except Exception:
                    logger.warning("could not leave group %s", group, exc_info=True)

    async def refresh(self, groups, older_than: float) -> None:
        """Join `groups` again where the last join is older than `older_than` seconds."""
        now = time.monotonic()
        for group in groups:
            if group in self.channels and now - self.joined_at.get(group, 0.0) > older_than:
                await self._add(group)

    async def _add(self, group: str) -> None:
        await self.layer.group_add(group, self.channels[group])
        self.joined_at[group] = time.monotonic()

    async def _read(self, group: str, channel: str) -> None:
        while self.channels.get(group) == channel:
            try:
                message = await self.layer.receive(channel)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.warning("group %s: the channel layer failed; trying again", group, exc_info=True)
                await asyncio.sleep(RETRY_SECONDS)
                try:
                    await self._add(group)
                except Exception:
                    pass
                continue
            await self.deliver(group, message)

    async def deliver(self, group: str, message: dict) -> None:
        """Hand `message` to each screen of `group` here, in the order they joined."""
        for consumer in list(self.members.get(group, ())):
            try:
                handler = getattr(consumer, get_handler_name(message), None)
            except (ValueError, AttributeError, TypeError):  # no type, or not a name: nobody's
                handler = None
            if handler is None:
                continue
            try:
                await handler(message)
            except Exception:
                # One screen's failure (a socket closing under it) never keeps the others waiting.
                logger.exception("screen handler %s failed for group %s", get_handler_name(message), group)


_hubs: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Hub]" = weakref.WeakKeyDictionary()


def hub_for_loop() -> Hub:
    """The hub of the running event loop (the server has one loop; each test its own)."""
    loop = asyncio.get_running_loop()
    hub = _hubs.get(loop)
    if hub is None:
        hub = _hubs[loop] = Hub(get_channel_layer())
    return hub
