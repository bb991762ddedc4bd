"""86'ing: taking an item off (or back on) and counting its remaining portions. Every till and kiosk
hears of it after commit (group "menu")."""

from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from orders.actions.base import check_int, publish_item
from orders.models import Item

KEEP: Any = object()  # set_item_availability(remaining=KEEP): leave the count alone


@transaction.atomic
def set_item_availability(*, item: Item, available: bool | None = None, remaining: Any = KEEP) -> Item:
    """86 an item (or bring it back) and/or set its remaining portions (an int ≥ 0; None: no limit;
    KEEP: unchanged). Publishes {"type": "menu.item", ...} to group "menu" after commit."""
    fields: dict[str, Any] = {}
    if available is not None:
        fields["available"] = bool(available)
    if remaining is not KEEP:
        if remaining is not None:
            check_int(remaining, low=0, high=100000, code="invalid_remaining", message=_("Invalid count."), path="remaining")
        fields["remaining"] = remaining
    if fields:
        Item.objects.filter(pk=item.pk).update(**fields)
        publish_item(item.pk)
    item.refresh_from_db()
    return item
