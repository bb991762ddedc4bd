"""The one way anything in Brigade notifies screens: `publish_on_commit(group, event)`.

The database is the truth and the channel layer only a doorbell, so an event leaves only once the
transaction that made it true has committed: a rolled-back order never rings a screen. Groups: "station.<slug>", "expo", "ready", "menu", "alerts".

`event` is a channel-layer message: a dict whose "type" names the consumer handler ("kds.event" →
`kds_event`, "menu.item" → `menu_item`), with JSON-serialisable values only (Redis layer).

Inside the server, the code that hands work to a thread knows the event loop it runs on and says so
with `serving(loop)` around the work (core.http for each request, core.lanes for the screens' calls,
core.background for the loops' steps): what that thread publishes is handed to that loop
(`loop.call_soon_threadsafe`) and the caller does not wait for it: an order's answer never waits on
the screens. The events of one commit (an order rings four or five groups) travel to the loop
together: one wake-up of the loop and one task for all of them, not one each. Elsewhere (a management
command, a test without a loop) it is sent at once, synchronously (`async_to_sync`). A failing layer
(Redis down) is logged, never raised: the change is committed and screens catch up from the database
(they ask every few seconds).
"""

import asyncio
import logging
import threading
from contextlib import contextmanager

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

logger = logging.getLogger(__name__)

_pending: set[asyncio.Task] = set()  # tasks in flight (the loop keeps only weak references)
_queued: dict[asyncio.AbstractEventLoop, list[tuple[str, dict]]] = {}  # handed over, not yet sent
_queued_lock = threading.Lock()


def station_group(slug: str) -> str:
    return f"station.{slug}"


_serving = threading.local()


@contextmanager
def serving(loop: asyncio.AbstractEventLoop):
    """Within: this thread works for `loop` (the event loop that handed it the work), and what it
    publishes is handed to that loop. Nested uses restore the outer loop."""
    outer = getattr(_serving, "loop", None)
    _serving.loop = loop
    try:
        yield
    finally:
        _serving.loop = outer


def _server_loop() -> asyncio.AbstractEventLoop | None:
    """The event loop this thread works for (`serving`), if it is still running."""
    loop = getattr(_serving, "loop", None)
    if loop is not None and loop.is_running() and not loop.is_closed():
        return loop
    return None


async def _send(layer, group: str, event: dict) -> None:
    try:
        await layer.group_send(group, event)
    except Exception:
        logger.exception("could not publish %s to group %s", event.get("type"), group)


async def _send_all(layer, batch: list[tuple[str, dict]]) -> None:
    for group, event in batch:  # in the order they were published
        await _send(layer, group, event)


def _coalesced(batch: list[tuple[str, dict]]) -> list[tuple[str, dict]]:
    """The batch without the doorbells a later one in it supersedes: an event with an integer "seq"
    ("station S has events up to N") says all that an earlier one to the same group, equal but for
    a lower seq, said. Under load, when several commits reach the loop together, screens are rung
    once for all of them. The others keep their order."""
    latest: dict[tuple, int] = {}
    keys: dict[int, tuple] = {}
    for position, (group, event) in enumerate(batch):
        if type(event.get("seq")) is not int:
            continue
        key = (group, *sorted((k, v) for k, v in event.items() if k != "seq"))
        try:
            hash(key)
        except TypeError:  # a value that is not a plain one: sent as it is
            continue
        keys[position] = key
        if key not in latest or event["seq"] >= batch[latest[key]][1]["seq"]:
            latest[key] = position
    return [(group, event) for position, (group, event) in enumerate(batch)
            if position not in keys or latest[keys[position]] == position]


def _flush(layer) -> None:
    """On the loop: send everything handed over since the last flush, in one task."""
    loop = asyncio.get_running_loop()
    with _queued_lock:
        batch = _coalesced(_queued.pop(loop, []))
    if batch:
        task = loop.create_task(_send_all(layer, batch))
        _pending.add(task)
        task.add_done_callback(_pending.discard)


def _hand_over(loop: asyncio.AbstractEventLoop, layer, group: str, event: dict) -> None:
    """Queue the send for `loop`; only the first event of a batch wakes the loop up (the others ride
    along, whether they are queued before the flush runs or start the next batch)."""
    with _queued_lock:
        batch = _queued.setdefault(loop, [])
        batch.append((group, event))
        first = len(batch) == 1
    if first:
        try:
            loop.call_soon_threadsafe(_flush, layer)
        except RuntimeError:  # the loop closed meanwhile (server stopping): send them ourselves
            with _queued_lock:
                batch = _queued.pop(loop, [])
            for group, event in batch:
                _send_sync(layer, group, event)


def publish_now(group: str, event: dict) -> None:
    """Send `event` to `group` now (see the module docstring for how)."""
    layer = get_channel_layer()
    if layer is None:
        return
    loop = _server_loop()
    if loop is not None:
        _hand_over(loop, layer, group, event)
    else:
        _send_sync(layer, group, event)


def _send_sync(layer, group: str, event: dict) -> None:
    try:
        async_to_sync(layer.group_send)(group, event)
    except Exception:
        logger.exception("could not publish %s to group %s", event.get("type"), group)


def publish_on_commit(group: str, event: dict, *, using: str | None = None) -> None:
    """Publish `event` to `group` after the current transaction commits (at once outside any)."""
    transaction.on_commit(lambda: publish_now(group, event), using=using)
