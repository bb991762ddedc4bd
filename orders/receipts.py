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

from collections.abc import Sequence
from decimal import Decimal

from orders import pricing, selectors
from orders.models import Order


def _money(value: Decimal) -> str:
    return f"{value:.2f}"


def _lines(order: Order) -> tuple[list[dict], pricing.Totals]:
    lines = selectors.bill_lines(order)
    totals = pricing.price_order(
        [line.pricing_input() for line in lines], discount_percent=order.discount_percent, discount_amount=order.discount_amount
    )
    printed = []
    for line, priced in zip(lines, totals.lines, strict=True):
        if not line.components:
            printed.append(
                {
                    "name": line.name,
                    "quantity": line.quantity,
                    "unit_price": _money(line.unit_price),
                    "modifiers": line.modifiers,
                    "discount": _money(priced.discount),
                    "vat_rate": _money(line.vat_rate),
                    "total": _money(priced.total),
                }
            )
            continue
        for index, (component, part) in enumerate(zip(line.components, priced.parts, strict=True)):
            printed.append(
                {
                    "name": f"{line.name} — {component.name}",
                    "quantity": line.quantity,
                    "unit_price": _money(part.unit_price),
                    "modifiers": (line.modifiers if index == 0 else []) + component.modifiers,
                    "discount": _money(part.discount),
                    "vat_rate": _money(part.vat_rate),
                    "total": _money(part.total),
                }
            )
    return printed, totals


def receipt_payload(order: Order, *, payments: Sequence[tuple[str, Decimal, Decimal]] | None = None) -> dict:
    """The payload `fiscal.services.seal_receipt` seals for a settled order. `payments`: (method,
    amount, tip) of every payment in the order they were taken, when the caller has them at hand
    (the payment just written among them); read from the database otherwise."""
    lines, totals = _lines(order)
    if payments is None:
        payments = selectors.payments_of(order)
    return {
        "order": {
            "number": order.number,
            "business_day": order.business_day.isoformat(),
            "type": order.order_type,
            "table": selectors.table_label(order),
            "covers": order.covers,
            "source": order.source,
        },
        "lines": lines,
        "vat": [
            {"rate": _money(v.rate), "base": _money(v.base), "vat": _money(v.vat), "total": _money(v.total)} for v in totals.vat
        ],
        "discount": _money(totals.order_discount),
        "total": _money(totals.total),
        "payments": [{"method": method, "amount": _money(amount)} for method, amount, _tip in payments],
        "tips": _money(sum((tip for _method, _amount, tip in payments), Decimal("0.00"))),
    }


def pre_bill_payload(order: Order) -> dict:
    """A pre-bill ("addition"): the receipt's shape without payments (fiscal numbers the prints)."""
    payload = receipt_payload(order, payments=())
    del payload["payments"], payload["tips"]
    return payload
