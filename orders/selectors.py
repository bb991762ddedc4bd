"""Reads of the orders domain: priced orders, amounts due, the ticket pane, the floor plan, the menu.

Actions call `stored_pricing` / `order_totals` to price what is stored; views, receipts and the API
call the rest. The hot paths (a tap on the till, a payment) read a handful of columns in a fixed
number of queries whatever the size of the order (no query per line); the statements they run on every
call are explicit SQL (orders.sql), the rest is plain ORM.
"""

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import Prefetch, Q
from django.shortcuts import get_object_or_404
from django.utils import timezone

from accounts.models import Device
from orders import pricing, sql
from orders.models import Category, CustomerAccount, Item, ModifierGroup, Order, OrderLine, Payment, SetMenuSlot, Table


def locked_order(pk: int) -> Order:
    """Order `pk`, its row locked until the end of the transaction (SELECT … FOR UPDATE; SQLite's
    IMMEDIATE transaction already holds the write lock). Order.DoesNotExist if there is none.
    Every tap and payment starts here: explicit SQL (orders.sql)."""
    order = sql.locked_order(pk)
    if order is None:
        raise Order.DoesNotExist("Order matching query does not exist.")
    return order


def table_label(order: Order) -> str | None:
    """The label of the order's table (None without a table), reusing a table already loaded."""
    if order.table_id is None:
        return None
    if Order.table.is_cached(order):
        return order.table.label
    return Table.objects.filter(pk=order.table_id).values_list("label", flat=True).first()


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


def line_input(line: Any, components: Iterable[Any] | None = None) -> pricing.LineInput:
    """The one place a stored line becomes a pricing input. `line` is an OrderLine, a BillLine or a
    PricingRow (pk, unit_price, quantity, vat_rate, discount_percent, discount_amount); `components`
    its set-menu components (pk, standalone_price, vat_rate), by default `line.components`."""
    if components is None:
        components = line.components.all() if hasattr(line.components, "all") else line.components
    return pricing.LineInput(
        key=line.pk, unit_price=line.unit_price, quantity=line.quantity, vat_rate=line.vat_rate,
        discount_percent=line.discount_percent, discount_amount=line.discount_amount,
        components=tuple(pricing.Component(key=c.pk, standalone_price=c.standalone_price, vat_rate=c.vat_rate) for c in components),
    )


def order_totals(order: Order, lines: Iterable[OrderLine] | None = None) -> pricing.Totals:
    """Price the order as stored (lines, their discounts, the order discount). Without `lines`, reads
    only the columns pricing needs, in one query (the till reprices on every tap)."""
    inputs = pricing_inputs(order)[0] if lines is None else [line_input(line) for line in lines]
    return pricing.price_order(inputs, discount_percent=order.discount_percent, discount_amount=order.discount_amount)


@dataclass
class PricingRow:
    """The columns of a stored line that pricing needs (read by `stored_pricing`)."""

    pk: int
    parent_id: int | None
    unit_price: Decimal
    quantity: int
    vat_rate: Decimal
    discount_percent: Decimal
    discount_amount: Decimal
    standalone_price: Decimal
    total: Decimal
    course: int
    status: str



@dataclass
class StoredPricing:
    """What pricing needs of an order's billable lines, from one query: top-level lines as pricing
    inputs with their (course, id) bill position, the line totals stored now, and the held courses.
    Services add the lines they have just written (`add`) instead of reading them back."""

    lines: list[tuple[tuple[int, int], pricing.LineInput]] = field(default_factory=list)
    stored: dict[int, Decimal] = field(default_factory=dict)
    held_courses: set[int] = field(default_factory=set)

    def add(self, line: OrderLine, components: Sequence[OrderLine] = ()) -> None:
        """A line just written (no discount yet), with its set-menu components."""
        self.lines.append(((line.course, line.pk), line_input(line, components)))
        self.stored[line.pk] = line.total

    def inputs(self) -> list[pricing.LineInput]:
        """In bill order (course, id): the order discount's odd cents depend on it."""
        return [line for _position, line in sorted(self.lines, key=lambda entry: entry[0])]


def stored_pricing(order: Order) -> StoredPricing:
    """The order's billable lines as `StoredPricing`, from one query of the columns pricing needs."""
    found = StoredPricing()
    parents, components = [], defaultdict(list)
    for row in (PricingRow(*values) for values in sql.pricing_rows(order.pk)):
        if row.status == OrderLine.Status.HELD:
            found.held_courses.add(row.course)
        if row.parent_id is None:
            parents.append(row)
            found.stored[row.pk] = row.total
        else:
            components[row.parent_id].append(row)
    found.lines = [((row.course, row.pk), line_input(row, components[row.pk])) for row in parents]
    return found


def pricing_inputs(order: Order) -> tuple[list[pricing.LineInput], dict[int, Decimal]]:
    """The billable lines of `order` as pricing inputs in bill order (course, id), and the line totals
    stored now (by line id), from one query."""
    found = stored_pricing(order)
    return found.inputs(), found.stored


@dataclass
class BillLine:
    """A billable line as the receipt prints it: a top-level line with its modifier names and, for a
    set menu, its components (BillLines too). Read by `bill_lines` in one query."""

    pk: int
    name: str
    quantity: int
    unit_price: Decimal
    vat_rate: Decimal
    discount_percent: Decimal
    discount_amount: Decimal
    standalone_price: Decimal
    modifiers: list[str] = field(default_factory=list)
    components: list["BillLine"] = field(default_factory=list)

    def pricing_input(self) -> pricing.LineInput:
        return line_input(self)


def bill_lines(order: Order) -> list[BillLine]:
    """What `billable_lines` gives (top-level lines not voided, in bill order; components not voided,
    in id order), as plain BillLines: the receipt's data in one query (a line comes once per modifier)."""
    top, components, line = [], defaultdict(list), None
    for *values, parent_id, modifier in sql.bill_rows(order.pk):
        if line is None or line.pk != values[0]:
            line = BillLine(*values)
            (top if parent_id is None else components[parent_id]).append(line)
        if modifier is not None:
            line.modifiers.append(modifier)
    for line in top:
        line.components = sorted(components.get(line.pk, ()), key=lambda c: c.pk)
    return top


def payments_of(order: Order) -> list[tuple[str, Decimal, Decimal]]:
    """(method, amount applied to the bill, tip) of each payment taken on `order`, oldest first."""
    return sql.payments_of(order.pk)


def amount_paid(order: Order, payments: Sequence[tuple[str, Decimal, Decimal]] | None = None) -> Decimal:
    """What was applied to the bill so far (`payments`: what `payments_of` returned, if at hand)."""
    return sum((amount for _method, amount, _tip in (payments_of(order) if payments is None else payments)), Decimal("0.00"))


def amount_due(order: Order, payments: Sequence[tuple[str, Decimal, Decimal]] | None = None) -> Decimal:
    """What is left to pay: the stored total less the payments applied to the bill."""
    return max(order.total - amount_paid(order, payments), Decimal("0.00"))


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


def orders_visible_to(device: Device) -> Q:
    """Tills see every order; kiosks and integrations only the orders they placed."""
    if device.role == Device.Role.TILL:
        return Q()
    return Q(device=device)


def item_with_menu(item_id: int) -> Item:
    """One item with its modifier groups, modifiers and set-menu slots (what the till's and the kiosk's
    pickers and the line form read). Http404 if there is none."""
    groups = Prefetch("modifier_groups", queryset=ModifierGroup.objects.prefetch_related("modifiers").order_by("position", "name"))
    choices = Prefetch("choices", queryset=Item.objects.prefetch_related(groups).order_by("position", "name"))
    slots = Prefetch("slots", queryset=SetMenuSlot.objects.prefetch_related(choices).order_by("position", "id"))
    return get_object_or_404(Item.objects.prefetch_related(groups, slots), pk=item_id)


# --- The till's screens -------------------------------------------------------------------------------


def recently_paid_tables(within: dt.timedelta) -> set[int]:
    """Ids of the tables whose order was paid less than `within` ago (shown green on the floor plan)."""
    since = timezone.now() - within
    return set(
        Order.objects.filter(status=Order.Status.PAID, table__isnull=False, closed_at__gte=since).values_list("table_id", flat=True)
    )


def free_tables():
    """Tables without an open order (where an order can be moved)."""
    occupied = Order.objects.filter(status=Order.Status.OPEN, table__isnull=False).values_list("table_id", flat=True)
    return Table.objects.exclude(pk__in=list(occupied))


def order_or_none(pk: int) -> Order | None:
    try:
        return Order.objects.get(pk=pk)
    except Order.DoesNotExist:
        return None


def open_orders():
    """Open orders by number, with their table and server (the till's list of orders)."""
    return Order.objects.filter(status=Order.Status.OPEN).select_related("table", "server").order_by("number")


def recently_closed_orders(count: int = 20):
    return Order.objects.exclude(status=Order.Status.OPEN).select_related("table").order_by("-closed_at")[:count]


def other_open_orders(order: Order):
    """The open orders `order` could be merged into."""
    return Order.objects.filter(status=Order.Status.OPEN).exclude(pk=order.pk).select_related("table").order_by("number")


def payments_with_accounts(order: Order) -> list[Payment]:
    return list(order.payments.select_related("account").order_by("id"))


def customer_accounts(*, active_only: bool = False):
    """Customer accounts: the active ones (to charge), or all of them, active first, by name."""
    if active_only:
        return CustomerAccount.objects.filter(active=True)
    return CustomerAccount.objects.order_by("-active", "name")


@dataclass
class TicketLine:
    """A line as the ticket pane, the bill and the slips print it; views add the texts and links."""

    pk: int
    parent_id: int | None
    name: str
    quantity: int
    unit_price: Decimal
    total: Decimal
    note: str
    seat: int | None
    course: int
    status: str
    sent_at: dt.datetime | None
    void_reason: str
    discount_percent: Decimal
    discount_amount: Decimal
    modifier_names: list[str] = field(default_factory=list)
    components: list["TicketLine"] = field(default_factory=list)
    component_texts: list[str] = field(default_factory=list)
    detail: list[str] = field(default_factory=list)
    status_label: str = ""
    base_url: str = ""
    can_remove: bool = False
    can_void: bool = False
    can_discount: bool = False

    @property
    def has_discount(self) -> bool:
        return bool(self.discount_percent or self.discount_amount)

    @property
    def voided(self) -> bool:
        return self.status == OrderLine.Status.VOIDED


def ticket_lines(order: Order) -> list[TicketLine]:
    """The order's top-level lines (voided ones too) in course and tap order, each with its modifier
    names and its set-menu components (with theirs): one query whatever the size of the order (a line
    comes once per modifier)."""
    top: list[TicketLine] = []
    components: dict[int, list[TicketLine]] = defaultdict(list)
    line = None
    for *values, modifier in sql.ticket_rows(order.pk):
        if line is None or line.pk != values[0]:
            line = TicketLine(*values)
            (top if line.parent_id is None else components[line.parent_id]).append(line)
        if modifier is not None:
            line.modifier_names.append(modifier)
    for line in top:
        line.components = components.get(line.pk, [])
    return top
