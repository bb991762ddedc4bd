"""The JSON shapes of the API (/api/v1/): the menu and orders. Money is a string with two decimals."""

from decimal import Decimal

from orders import pricing, selectors
from orders.models import Item, Order, OrderLine


def _money(value: Decimal) -> str:
    return f"{value:.2f}"


def item_as_dict(item: Item) -> dict:
    return {
        "id": item.pk,
        "name": item.name,
        "kitchen_name": item.kitchen_name,
        "description": item.description,
        "price": _money(item.price),
        "vat": {"eat_in": _money(item.vat_eat_in), "take_away": _money(item.vat_take_away)},
        "allergens": [a.code for a in item.allergens.all()],
        "available": item.is_orderable,
        "remaining": item.remaining,
        "image": item.image.url if item.image else None,
        "is_set_menu": item.is_set_menu,
        "modifier_groups": [
            {
                "id": group.pk,
                "name": group.name,
                "min": group.min_choices,
                "max": group.max_choices,
                "modifiers": [
                    {"id": m.pk, "name": m.name, "price_delta": _money(m.price_delta), "available": m.available}
                    for m in group.modifiers.all()
                ],
            }
            for group in item.modifier_groups.all()
        ],
        "slots": [
            {"id": slot.pk, "name": slot.name, "choices": [c.pk for c in slot.choices.all()]} for slot in item.slots.all()
        ],
    }


def menu_as_dict(*, kiosk: bool = False) -> dict:
    return {
        "categories": [
            {"id": c.pk, "name": c.name, "items": [item_as_dict(i) for i in c.items.all()]}
            for c in selectors.menu_categories(kiosk=kiosk)
        ]
    }


# --- Orders as JSON -----------------------------------------------------------------------------------


def order_as_dict(order: Order, *, written_lines: list[OrderLine] | None = None) -> dict:
    """The API's order shape ({"id", "number", "status", "total", "lines", ...}). `written_lines`:
    an order just written (orders.actions.ordering.place_order), answered from memory: its billable lines in
    bill order with their modifiers and components loaded; it has no payments yet."""
    lines = selectors.billable_lines(order) if written_lines is None else written_lines
    totals = selectors.order_totals(order, lines)
    priced = {p.key: p for p in totals.lines}
    payments = list(order.payments.order_by("id")) if written_lines is None else []
    paid = sum((p.amount for p in payments), Decimal("0.00"))

    def line_dict(line: OrderLine, priced_line: pricing.PricedLine | None) -> dict:
        data = {
            "id": line.pk,
            "item": line.item_id,
            "name": line.name,
            "quantity": line.quantity,
            "unit_price": _money(line.unit_price),
            "modifiers": [{"id": m.modifier_id, "name": m.name, "price_delta": _money(m.price_delta)} for m in line.modifiers.all()],
            "note": line.note,
            "seat": line.seat,
            "course": line.course,
            "status": line.status,
            "vat_rate": _money(line.vat_rate),
        }
        if priced_line is not None:
            data["discount"] = _money(priced_line.discount)
            data["total"] = _money(priced_line.total)
            data["components"] = [line_dict(c, None) for c in line.components.all()]
        return data

    return {
        "id": order.pk,
        "number": order.number,
        "business_day": order.business_day.isoformat(),
        "status": order.status,
        "order_type": order.order_type,
        "source": order.source,
        "table": order.table.label if order.table_id else None,
        "covers": order.covers,
        "customer_name": order.customer_name,
        "note": order.note,
        "rush": order.is_rush,
        "lines": [line_dict(line, priced[line.pk]) for line in lines],
        "subtotal": _money(totals.subtotal),
        "discount": _money(totals.order_discount),
        "total": _money(order.total),
        "vat": [{"rate": _money(v.rate), "base": _money(v.base), "vat": _money(v.vat), "total": _money(v.total)} for v in totals.vat],
        "paid": _money(paid),
        "due": _money(max(order.total - paid, Decimal("0.00"))),
        "payments": [{"method": p.method, "amount": _money(p.amount), "tip": _money(p.tip)} for p in payments],
        "created_at": order.created_at.isoformat(),
        "closed_at": order.closed_at.isoformat() if order.closed_at else None,
    }
