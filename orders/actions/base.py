"""Building blocks the actions share: the order's row lock, input checks, repricing, handing lines to
the kitchen, and the names written into fiscal records."""

from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Device, User
from core.events import publish_on_commit
from orders import pricing, selectors, signals, sql
from orders.errors import OrderError
from orders.models import Item, Order, OrderLine

MAX_AMOUNT = Decimal("99999.99")
MAX_ID = 2**63 - 1  # the largest primary key a database can hold: larger "ids" are simply unknown


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_id(value: Any) -> bool:
    return is_int(value) and 1 <= value <= MAX_ID


def check_int(value: Any, *, low: int, high: int, code: str, message: str, path: str) -> None:
    if not is_int(value) or not low <= value <= high:
        raise OrderError(code, message, field=path)


def check_text(value: Any, *, max_length: int, path: str, code: str = "note_too_long") -> None:
    """Free text (notes, names, reasons): a string of at most `max_length` characters, without NUL
    (no database stores it)."""
    if not isinstance(value, str) or "\x00" in value:
        raise OrderError("invalid_text", _("Invalid text."), field=path)
    if len(value) > max_length:
        raise OrderError(code, _("At most %(n)d characters.") % {"n": max_length}, field=path)


def parse_money(value: Any, *, field: str, allow_zero: bool = True) -> Decimal:
    """A non-negative amount with at most 2 decimals (Decimal, int or string; never float)."""
    if isinstance(value, bool) or isinstance(value, float):
        raise OrderError("invalid_amount", _("Invalid amount."), field=field)
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError, TypeError):
        raise OrderError("invalid_amount", _("Invalid amount."), field=field) from None
    if not amount.is_finite() or amount < 0 or amount > MAX_AMOUNT or amount != pricing.money(amount) or (not allow_zero and amount == 0):
        raise OrderError("invalid_amount", _("Invalid amount."), field=field)
    return pricing.money(amount)


def order_closed(order: Order) -> OrderError:
    return OrderError("order_closed", _("Order #%(number)d is closed.") % {"number": order.number})


def locked(order: Order, *, open_only: bool = True) -> Order:
    """Re-read `order` holding its row lock until the end of the transaction; refuse closed orders.
    Only `order.pk` is read: a reference `Order(pk=...)` will do. OrderError "not_found" if there is
    no such order."""
    try:
        row = selectors.locked_order(order.pk)
    except Order.DoesNotExist:
        raise OrderError("not_found", _("No such order.")) from None
    if open_only and row.status != Order.Status.OPEN:
        raise order_closed(row)
    return row


def publish_item(item_id: int) -> None:
    """Tell every till and kiosk, after commit, that an item's availability or count changed."""
    item = Item.objects.filter(pk=item_id).values("available", "remaining").first()
    if item is not None:
        publish_on_commit(
            "menu", {"type": "menu.item", "item_id": item_id, "available": item["available"], "remaining": item["remaining"]}
        )


def reprice(order: Order, stored: selectors.StoredPricing | None = None) -> pricing.Totals:
    """Recompute line totals and the order total from what is stored (`stored`: the lines as already
    read, with those written since). Refuses a change that would leave the order owing less than it
    was already paid. Call while holding the order's row lock."""
    stored = selectors.stored_pricing(order) if stored is None else stored
    totals = pricing.price_order(stored.inputs(), discount_percent=order.discount_percent, discount_amount=order.discount_amount)
    changed = [OrderLine(pk=p.key, total=p.total) for p in totals.lines if stored.stored[p.key] != p.total]
    if len(changed) == 1:
        OrderLine.objects.filter(pk=changed[0].pk).update(total=changed[0].total)
    elif changed:
        OrderLine.objects.bulk_update(changed, ["total"])
    # Only a lower total can fall under what was paid (the stored total never did).
    if totals.total < order.total and totals.total < selectors.amount_paid(order):
        raise OrderError("overpaid", _("This change would make the order cost less than what was already paid."))
    if order.total != totals.total:
        sql.set_order_total(order.pk, totals.total)
        order.total = totals.total
    return totals


def send_lines(order: Order, lines: Sequence[OrderLine]) -> list[OrderLine]:
    """Hand `lines` to the kitchen: PENDING → SENT, HELD stay HELD (the kitchen shows them as held).
    `lines` are unsent lines of `order` read or written under its row lock, so the same change is
    made on them in memory rather than read back; the kitchen hears of them through
    `orders.signals.lines_sent` (kds reads its own fresh copy)."""
    if not lines:
        return []
    now = timezone.now()
    pending = [line.pk for line in lines if line.status == OrderLine.Status.PENDING]
    held = [line.pk for line in lines if line.status == OrderLine.Status.HELD and line.sent_at is None]
    if pending:
        OrderLine.objects.filter(pk__in=pending, status=OrderLine.Status.PENDING).update(status=OrderLine.Status.SENT, sent_at=now)
    if held:
        OrderLine.objects.filter(pk__in=held, status=OrderLine.Status.HELD, sent_at__isnull=True).update(sent_at=now)
    for line in lines:
        if line.status == OrderLine.Status.PENDING:
            line.status, line.sent_at = OrderLine.Status.SENT, now
        elif line.status == OrderLine.Status.HELD and line.sent_at is None:
            line.sent_at = now
    sent = sorted(lines, key=lambda line: (line.course, line.pk))
    signals.lines_sent.send(sender=Order, order=order, lines=sent)
    return sent


def operator_name(user: User | None) -> str:
    return user.get_username() if user is not None else ""


def device_name(device: Device | None) -> str:
    return device.name if device is not None else ""
