"""/ws/menu/: live 86'ing for tills and kiosks.

Thin on purpose: the consumer joins the "menu" group and forwards what orders.actions publish after
commit ({"type": "menu.item", "item_id", "available", "remaining"}, via core.events.publish_on_commit).
On connect it first sends a snapshot of every item that is 86'd or counted, so a screen that was
offline catches up without a reload: the database is the truth, the group only a doorbell.

Close codes: 4401 not a paired device, 4403 a device that is neither a till nor a kiosk.
"""

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.db.models import Q

from accounts.access import device_from_scope
from accounts.models import Device
from orders.models import Item

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
        if device is None:
            await self.close(code=4401)
            return
        if device.role not in ROLES:
            await self.close(code=4403)
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
