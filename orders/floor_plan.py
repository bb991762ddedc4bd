"""What the floor plan draws: tables by area, each coloured by its state, and the `#floor` fragment
itself. The till's page (orders.views.floor) and its live updates (orders.consumers.FloorConsumer)
both render `orders/till/_floor.html` from `areas()`, so a first load and a live update never differ
(the fragment depends on nothing but the tables and the language: not on who is logged in)."""

import datetime as dt

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import timezone, translation

from orders import selectors
from orders.models import Order, Table

PAID_SHOWN_FOR = dt.timedelta(minutes=10)  # a table just paid stays green this long, then shows free
TEMPLATE = "orders/till/_floor.html"


def areas(*, editing: bool = False) -> list[dict]:
    """Tables grouped by area, each with its state: free, occupied, bill (pre-bill printed) or paid."""
    tables = selectors.tables_with_state()
    recently_paid = selectors.recently_paid_tables(PAID_SHOWN_FOR)
    by_area: dict[str, list[Table]] = {}
    for table in tables:
        order = table.open_order
        if order is not None:
            table.state = "bill" if order.pre_bill_count > 0 else "occupied"
        elif table.pk in recently_paid:
            table.state = "paid"
        else:
            table.state = "free"
        by_area.setdefault(table.area, []).append(table)
    result = []
    for name, area_tables in by_area.items():
        # Each area is drawn from its own top-left table: "Terrasse" at y = 2..3 starts at row 1.
        left = min(t.x for t in area_tables)
        top = min(t.y for t in area_tables)
        for table in area_tables:
            table.column, table.row = table.x - left + 1, table.y - top + 1
        columns = max(t.column for t in area_tables) + (1 if editing else 0)
        result.append({"name": name, "tables": area_tables, "columns": max(columns, 4)})
    return result


def language_or_default(code: str | None) -> str:
    """`code` if the site speaks it, else the restaurant's language."""
    return code if code in dict(settings.LANGUAGES) else settings.LANGUAGE_CODE


def next_change(now: dt.datetime | None = None) -> float | None:
    """Seconds until the plan changes by itself (a paid table turning free), or None."""
    now = now or timezone.now()
    closed = (
        Order.objects.filter(status=Order.Status.PAID, table__isnull=False, closed_at__gte=now - PAID_SHOWN_FOR)
        .order_by("closed_at").values_list("closed_at", flat=True).first()
    )
    if closed is None:
        return None
    return max((closed + PAID_SHOWN_FOR - now).total_seconds(), 0.0) + 0.5


def render_floor(*, language: str) -> tuple[str, float | None]:
    """The `#floor` fragment in `language`, and when it will change by itself (`next_change`)."""
    with translation.override(language_or_default(language)):
        html = render_to_string(TEMPLATE, {"areas": areas()}).strip()
    return html, next_change()
