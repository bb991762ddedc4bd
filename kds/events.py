"""The one way anything in Brigade notifies screens: `publish_on_commit(group, event)`.

The database is the truth and the channel layer only a doorbell (DESIGN.md "Delivery guarantees"), so
an event leaves only once the transaction that made it true has committed: a rolled-back order never
rings a screen. Groups: "station.<slug>", "expo", "ready", "menu", "alerts".

`event` is a channel-layer message: a dict whose "type" names the consumer handler ("kds.event" →
`kds_event`, "menu.item" → `menu_item`), with JSON-serialisable values only (Redis layer).
"""

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

logger = logging.getLogger(__name__)


def station_group(slug: str) -> str:
    return f"station.{slug}"


def publish_now(group: str, event: dict) -> None:
    """Send `event` to `group` right away. A failing layer (Redis down) is logged, never raised: the
    change is already committed and screens catch up from the database when they reconnect."""
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(group, event)
    except Exception:
        logger.exception("could not publish %s to group %s", event.get("type"), group)


def publish_on_commit(group: str, event: dict, *, using: str | None = None) -> None:
    """Publish `event` to `group` after the current transaction commits (at once outside any)."""
    transaction.on_commit(lambda: publish_now(group, event), using=using)
