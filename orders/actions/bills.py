"""The bill before payment: pre-bills ("l'addition", sealed as provisional records) and split bills
(equal shares, by items, by seats). Splits only compute amounts: each part is then paid as a payment."""

from collections import defaultdict
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils.translation import gettext as _

from accounts.models import Device, User
from fiscal import services as fiscal
from orders import pricing, receipts, selectors
from orders.actions.base import check_int, device_name, locked, operator_name
from orders.errors import OrderError
from orders.floor_events import tables_changed
from orders.lines import MAX_COVERS
from orders.models import Order


@transaction.atomic
def print_pre_bill(*, order: Order, operator: User, device: Device | None = None) -> tuple[Order, Any]:
    """Count a pre-bill and have fiscal seal it (`fiscal.services.seal_pre_bill`: a provisional record
    numbered per print). Returns (order, the sealed pre-bill record). Takes the order's row lock."""
    order = locked(order)
    Order.objects.filter(pk=order.pk).update(pre_bill_count=F("pre_bill_count") + 1)
    order.refresh_from_db()
    tables_changed(order)
    record = fiscal.seal_pre_bill(
        payload=receipts.pre_bill_payload(order), operator=operator_name(operator), device=device_name(device or order.device)
    )
    return order, record


def split_equal(*, order: Order, parts: int) -> list[Decimal]:
    """The amount due in `parts` equal shares (whole cents, the first shares carry the odd cents)."""
    check_int(parts, low=1, high=MAX_COVERS, code="invalid_parts", message=_("Invalid number of parts."), path="parts")
    return pricing.split_equal(selectors.amount_due(order), parts)


def split_by_items(*, order: Order, groups: Sequence[Sequence[int]]) -> list[Decimal]:
    """What each group of line ids costs (after every discount). Lines in no group form one more part,
    returned last when there are any. Payments already taken are not deducted."""
    totals = selectors.order_totals(order)
    net = {p.key: p.net for p in totals.lines}
    seen: set[int] = set()
    amounts = []
    for index, group in enumerate(groups):
        amount = Decimal("0.00")
        for line_id in group:
            if line_id not in net or line_id in seen:
                raise OrderError("invalid_split", _("Each line goes in one part."), field=f"groups[{index}]")
            seen.add(line_id)
            amount += net[line_id]
        amounts.append(amount)
    rest = [key for key in net if key not in seen]
    if rest:
        amounts.append(sum((net[k] for k in rest), Decimal("0.00")))
    return amounts


def split_by_seats(*, order: Order) -> dict[int | None, Decimal]:
    """What each seat's lines cost (after every discount); lines with no seat are under None."""
    lines = selectors.billable_lines(order)
    totals = selectors.order_totals(order, lines)
    by_seat: dict[int | None, Decimal] = defaultdict(lambda: Decimal("0.00"))
    for line, priced in zip(lines, totals.lines, strict=True):
        by_seat[line.seat] += priced.net
    return dict(by_seat)
