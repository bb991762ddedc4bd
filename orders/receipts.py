"""The data of a receipt as fiscal seals it (the payload contract agreed between orders and fiscal):

    {"order": {"number", "business_day", "type", "table", "covers", "source"},
     "lines": [{"name", "quantity", "unit_price", "modifiers", "discount", "vat_rate", "total"}],
     "vat": [{"rate", "base", "vat", "total"}],
     "discount", "total", "payments": [{"method", "amount"}], "tips"}

Amounts are Decimal strings with two decimals ("12.50"). Rules of the numbers (orders/pricing.py):
- a line's "discount" is its own discount and its "total" = quantity × unit_price − discount;
- the top-level "discount" is the order-level discount (spread over the lines for the VAT breakdown),
  so "total" = Σ line totals − discount = Σ vat[].total;
- a set menu prints one line per component, named "Formule midi — Burger", each with its share of the
  set menu's price and its own VAT rate (pricing rule 4), so every line has exactly one VAT rate.
No database ids: the sealed payload must verify after a restore elsewhere.
"""

from decimal import Decimal

from orders import selectors
from orders.models import Order


def _money(value: Decimal) -> str:
    return f"{value:.2f}"


def _lines(order: Order) -> tuple[list[dict], object]:
    lines = selectors.billable_lines(order)
    totals = selectors.order_totals(order, lines)
    printed = []
    for line, priced in zip(lines, totals.lines, strict=True):
        components = list(line.components.all())
        if not components:
            printed.append(
                {
                    "name": line.name,
                    "quantity": line.quantity,
                    "unit_price": _money(line.unit_price),
                    "modifiers": [m.name for m in line.modifiers.all()],
                    "discount": _money(priced.discount),
                    "vat_rate": _money(line.vat_rate),
                    "total": _money(priced.total),
                }
            )
            continue
        parts = {p.key: p for p in priced.parts}
        own_modifiers = [m.name for m in line.modifiers.all()]
        for index, component in enumerate(components):
            part = parts[component.pk]
            printed.append(
                {
                    "name": f"{line.name} — {component.name}",
                    "quantity": line.quantity,
                    "unit_price": _money(part.unit_price),
                    "modifiers": (own_modifiers if index == 0 else []) + [m.name for m in component.modifiers.all()],
                    "discount": _money(part.discount),
                    "vat_rate": _money(part.vat_rate),
                    "total": _money(part.total),
                }
            )
    return printed, totals


def receipt_payload(order: Order) -> dict:
    """The payload `fiscal.services.seal_receipt` seals for a settled order."""
    lines, totals = _lines(order)
    payments = list(order.payments.order_by("id"))
    return {
        "order": {
            "number": order.number,
            "business_day": order.business_day.isoformat(),
            "type": order.order_type,
            "table": order.table.label if order.table_id else None,
            "covers": order.covers,
            "source": order.source,
        },
        "lines": lines,
        "vat": [
            {"rate": _money(v.rate), "base": _money(v.base), "vat": _money(v.vat), "total": _money(v.total)} for v in totals.vat
        ],
        "discount": _money(totals.order_discount),
        "total": _money(totals.total),
        "payments": [{"method": p.method, "amount": _money(p.amount)} for p in payments],
        "tips": _money(sum((p.tip for p in payments), Decimal("0.00"))),
    }


def pre_bill_payload(order: Order) -> dict:
    """A pre-bill ("addition"): the receipt's shape without payments (fiscal numbers the prints)."""
    payload = receipt_payload(order)
    del payload["payments"], payload["tips"]
    return payload
