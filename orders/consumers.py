"""The tills' and kiosks' WebSockets: /ws/menu/ (live 86'ing) and /ws/till/floor/ (the live floor plan).

/ws/menu/: thin on purpose: the consumer joins the "menu" group and forwards what orders.actions publish after
commit ({"type": "menu.item", "item_id", "available", "remaining"}, via core.events.publish_on_commit).
On connect it first sends a snapshot of every item that is 86'd or counted, so a screen that was
offline catches up without a reload: the database is the truth, the group only a doorbell.

Close codes: 4401 not a paired device, 4403 a device that is neither a till nor a kiosk.

/ws/till/floor/ (tills only; `?lang=fr|en` names the page's language):
The consumer joins the "floor" group, whose doorbells (orders.floor_events) say only "a table
changed". On connect and after each doorbell it sends the `#floor` fragment the page itself renders
(orders.floor_plan), which htmx's ws extension swaps in by id. Doorbells that come in a burst (a
rush at the door, a merge that rings twice) are drawn once: the first starts a short wait, the others
join it. A paid table turns free by itself after a while: the consumer redraws then too.
Client → server: {"action": "ping"} → {"type": "pong"}. Anything else gets an error frame
{"type": "error", "error", "detail"}; a binary frame closes with 1003, a frame over 4 KiB with 1009.
Close codes: 4401 not a paired device, 4403 not a till.
"""

import asyncio
import json
import logging
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer, AsyncWebsocketConsumer
from django.db.models import Q
from django.utils.translation import gettext as _

from accounts.access import device_from_scope, socket_refusal
from accounts.models import Device
from core.lanes import in_service_lane
from orders import floor_events, floor_plan
from orders.models import Item

logger = logging.getLogger(__name__)

GROUP = "menu"
ROLES = (Device.Role.TILL, Device.Role.KIOSK)


def menu_snapshot() -> list[dict]:
    """Every item a screen may show differently from "available, unlimited"."""
    rows = Item.objects.filter(Q(available=False) | Q(remaining__isnull=False)).values("pk", "available", "remaining")
    return [{"item_id": r["pk"], "available": r["available"], "remaining": r["remaining"]} for r in rows]


class MenuConsumer(AsyncJsonWebsocketConsumer):
    joined = False

    async def connect(self):
        device = await database_sync_to_async(device_from_scope)(self.scope)
        # Accept then close, so the browser sees the close code and knows not to retry forever.
        await self.accept()
        if refusal := socket_refusal(device, ROLES):
            await self.close(code=refusal)
            return
        await self.channel_layer.group_add(GROUP, self.channel_name)
        self.joined = True
        await self.send_json({"type": "menu.snapshot", "items": await database_sync_to_async(menu_snapshot)()})

    async def disconnect(self, code):
        if self.joined:
            await self.channel_layer.group_discard(GROUP, self.channel_name)

    async def receive_json(self, content, **kwargs):
        """Screens only listen; anything they send is ignored."""

    async def menu_item(self, event):
        await self.send_json(
            {"type": "menu.item", "item_id": event["item_id"], "available": event["available"], "remaining": event["remaining"]}
        )


# --- /ws/till/floor/ ------------------------------------------------------------------------------------

DRAW_DELAY = 0.25  # seconds: doorbells within this of the first are drawn together
MAX_FRAME = 4096  # bytes a till may send; a ping is 17


class FloorConsumer(AsyncWebsocketConsumer):
    joined = False
    drawing: asyncio.Task | None = None
    timer: asyncio.TimerHandle | None = None

    async def connect(self):
        await self.accept()  # then close with a code the page can act on (see MenuConsumer)
        device = await in_service_lane(device_from_scope)(self.scope)
        if refusal := socket_refusal(device, [Device.Role.TILL]):
            await self.close(code=refusal)
            return
        query = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
        self.language = floor_plan.language_or_default(query.get("lang", [None])[0])
        self.stale = False
        # Join before the first drawing: a change committed meanwhile rings after it, never before.
        await self.channel_layer.group_add(floor_events.GROUP, self.channel_name)
        self.joined = True
        await self.draw()

    async def disconnect(self, code):
        if self.timer is not None:
            self.timer.cancel()
        if self.drawing is not None:
            self.drawing.cancel()
        if self.joined:
            await self.channel_layer.group_discard(floor_events.GROUP, self.channel_name)

    async def draw(self) -> None:
        html, next_change = await in_service_lane(floor_plan.render_floor)(language=self.language)
        await self.send(text_data=html)
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if next_change is not None:
            self.timer = asyncio.get_running_loop().call_later(next_change, self.redraw_soon)

    def redraw_soon(self) -> None:
        """Draw once more after a short wait, unless a drawing is already waiting."""
        self.stale = True
        if self.drawing is None:
            self.drawing = asyncio.ensure_future(self._draw_when_quiet())

    async def _draw_when_quiet(self) -> None:
        try:
            while self.stale:
                await asyncio.sleep(DRAW_DELAY)
                self.stale = False
                await self.draw()
        except Exception:
            # The page still polls when the socket drops; a failed drawing must not take it down.
            logger.exception("floor consumer: drawing failed")
        finally:
            self.drawing = None

    async def floor_changed(self, event):
        if self.joined:
            self.redraw_soon()

    async def receive(self, text_data=None, bytes_data=None):
        if not self.joined:
            return
        if bytes_data is not None:
            await self.close(code=1003)
            return
        if len(text_data) > MAX_FRAME:
            await self.close(code=1009)
            return
        try:
            message = json.loads(text_data)
        except ValueError:
            message = None
        if not isinstance(message, dict):
            await self.send_error("bad_json", _("Frames are JSON objects."))
        elif message.get("action") == "ping":
            await self.send(text_data=json.dumps({"type": "pong"}))
        else:
            await self.send_error("unknown_action", _("Unknown action."))

    async def send_error(self, code: str, detail: str) -> None:
        await self.send(text_data=json.dumps({"type": "error", "error": code, "detail": str(detail)}))
