"""Reads of the orders domain: priced orders, amounts due, the menu, JSON shapes of the API.

Nothing here writes. Services call `order_totals` to price what is stored; views and the API call the
rest.
"""

from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal

from django.db.models import Prefetch, Q, Sum

from orders import pricing
from orders.models import Category, Device, Item, ModifierGroup, Order, OrderLine, SetMenuSlot, Table


def billable_lines(order: Order) -> list[OrderLine]:
    """The order's top-level lines that count on the bill (not voided), with components and modifiers."""
    components = Prefetch(
        "components",
        queryset=OrderLine.objects.exclude(status=OrderLine.Status.VOIDED).prefetch_related("modifiers").order_by("id"),
    )
    return list(
        order.lines.filter(parent__isnull=True)
        .exclude(status=OrderLine.Status.VOIDED)
        .prefetch_related("modifiers", components)
        .order_by("course", "id")
    )


def line_input(line: OrderLine) -> pricing.LineInput:
    components = tuple(
        pricing.Component(key=c.pk, standalone_price=c.standalone_price, vat_rate=c.vat_rate) for c in line.components.all()
    )
    return pricing.LineInput(
        key=line.pk,
        unit_price=line.unit_price,
        quantity=line.quantity,
        vat_rate=line.vat_rate,
        discount_percent=line.discount_percent,
        discount_amount=line.discount_amount,
        components=components,
    )


def order_totals(order: Order, lines: Iterable[OrderLine] | None = None) -> pricing.Totals:
    """Price the order as stored (lines, their discounts, the order discount). Without `lines`, reads
    only the columns pricing needs, in one query (the till reprices on every tap)."""
    inputs = pricing_inputs(order)[0] if lines is None else [line_input(line) for line in lines]
    return pricing.price_order(inputs, discount_percent=order.discount_percent, discount_amount=order.discount_amount)


def pricing_inputs(order: Order) -> tuple[list[pricing.LineInput], dict[int, Decimal]]:
    """The billable lines of `order` as pricing inputs in bill order (course, id), and the line totals
    stored now (by line id), from one query."""
    rows = (
        order.lines.exclude(status=OrderLine.Status.VOIDED)
        .order_by("course", "id")
        .values_list(
            "id", "parent_id", "unit_price", "quantity", "vat_rate", "discount_percent", "discount_amount", "standalone_price", "total"
        )
    )
    parents, components, stored = [], defaultdict(list), {}
    for pk, parent_id, unit_price, quantity, vat_rate, percent, amount, standalone, total in rows:
        if parent_id is None:
            parents.append((pk, unit_price, quantity, vat_rate, percent, amount))
            stored[pk] = total
        else:
            components[parent_id].append((pk, standalone, vat_rate))
    inputs = [
        pricing.LineInput(
            key=pk, unit_price=unit_price, quantity=quantity, vat_rate=vat_rate, discount_percent=percent, discount_amount=amount,
            components=tuple(pricing.Component(key=c, standalone_price=p, vat_rate=r) for c, p, r in sorted(components[pk])),
        )
        for pk, unit_price, quantity, vat_rate, percent, amount in parents
    ]
    return inputs, stored


def amount_paid(order: Order) -> Decimal:
    return order.payments.aggregate(s=Sum("amount"))["s"] or Decimal("0.00")


def amount_due(order: Order) -> Decimal:
    """What is left to pay: the stored total less the payments applied to the bill."""
    return max(order.total - amount_paid(order), Decimal("0.00"))


def open_order_for_table(table: Table) -> Order | None:
    return Order.objects.filter(table=table, status=Order.Status.OPEN).first()


def tables_with_state() -> list[Table]:
    """Every table with `.open_order` (or None): the floor plan colours free / occupied / bill printed."""
    tables = list(Table.objects.all())
    open_orders = {o.table_id: o for o in Order.objects.filter(status=Order.Status.OPEN, table__isnull=False)}
    for table in tables:
        table.open_order = open_orders.get(table.pk)
    return tables


# --- Menu ---------------------------------------------------------------------------------------------


def menu_categories(*, kiosk: bool = False) -> list[Category]:
    """Categories with their items, modifier groups (with modifiers), allergens and set-menu slots,
    in display order, in a fixed number of queries."""
    groups = Prefetch(
        "modifier_groups", queryset=ModifierGroup.objects.prefetch_related("modifiers").order_by("position", "name")
    )
    slots = Prefetch("slots", queryset=SetMenuSlot.objects.prefetch_related("choices").order_by("position", "id"))
    items = Prefetch(
        "items", queryset=Item.objects.prefetch_related("allergens", groups, slots).order_by("position", "name")
    )
    categories = Category.objects.prefetch_related(items).order_by("position", "name")
    if kiosk:
        categories = categories.filter(visible_on_kiosk=True)
    return list(categories)


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
            for c in menu_categories(kiosk=kiosk)
        ]
    }


# --- Orders as JSON -----------------------------------------------------------------------------------


def order_as_dict(order: Order) -> dict:
    """The API's order shape (DESIGN.md: {"id", "number", "status", "total", ...})."""
    lines = billable_lines(order)
    totals = order_totals(order, lines)
    priced = {p.key: p for p in totals.lines}
    payments = list(order.payments.order_by("id"))
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


def orders_visible_to(device: Device) -> Q:
    """Tills see every order; kiosks and integrations only the orders they placed."""
    if device.role == Device.Role.TILL:
        return Q()
    return Q(device=device)
