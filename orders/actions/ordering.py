"""Orders and their lines: placing a whole order (kiosk, API, a counter sale), opening a table, adding
and removing unsent lines, cancelling, moving an order to another table and merging two tables.

Stock: items with a `remaining` count are counted down by conditional UPDATEs (`remaining >= n`) in
item id order, so two tills never oversell the last portion and never wait on each other.
"""

from collections import Counter
from collections.abc import Sequence
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Device, User
from fiscal.business_day import business_day
from orders import pricing, selectors, sql
from orders.actions.base import check_int, check_text, locked, order_closed, publish_item, reprice, send_lines
from orders.actions.validation import Resolved, resolve_lines
from orders.errors import OrderError
from orders.floor_events import floor_changed, tables_changed
from orders.lines import MAX_COVERS, LineSpec
from orders.models import Item, Modifier, Order, OrderLine, OrderLineModifier, Table

ORDER_NOTE_MAX_LENGTH = Order._meta.get_field("note").max_length
CUSTOMER_NAME_MAX_LENGTH = Order._meta.get_field("customer_name").max_length


# --- Stock ---------------------------------------------------------------------------------------------


def _portions(resolved: Sequence[Resolved]) -> Counter:
    """Portions of each item the lines use (set-menu components count as their own items)."""
    needed = Counter()
    for line in resolved:
        needed[line.item.pk] += line.spec.quantity
        for component in line.components:
            needed[component.item.pk] += line.spec.quantity
    return needed


def _take_stock(resolved: Sequence[Resolved]) -> None:
    """Count down `remaining` (see the module docstring). 0 rows updated on a counted item means
    another till took the last portions first: OrderError "sold_out", the transaction rolls back."""
    counted_items = {line.item.pk for line in resolved if line.item.remaining is not None}
    counted_items |= {c.item.pk for line in resolved for c in line.components if c.item.remaining is not None}
    for item_id, quantity in sorted(_portions(resolved).items()):
        if item_id not in counted_items:
            continue  # no limit when the order was validated a moment ago: nothing to count down
        counted = Item.objects.filter(pk=item_id, remaining__isnull=False)
        if counted.filter(remaining__gte=quantity).update(remaining=F("remaining") - quantity):
            publish_item(item_id)
        elif counted.exists():
            item = Item.objects.get(pk=item_id)
            raise OrderError(
                "sold_out", _("Only %(n)d “%(item)s” left.") % {"n": item.remaining, "item": item.name}, field="lines",
            )


def _give_back_stock(lines: Sequence[OrderLine]) -> None:
    needed = Counter()
    for line in lines:
        needed[line.item_id] += line.quantity
    for item_id, quantity in sorted(needed.items()):
        if Item.objects.filter(pk=item_id, remaining__isnull=False).update(remaining=F("remaining") + quantity):
            publish_item(item_id)


# --- Writing lines -------------------------------------------------------------------------------------


def _create_lines(order: Order, resolved: Sequence[Resolved], stored: selectors.StoredPricing) -> list[OrderLine]:
    """Write the lines (and set-menu components) as PENDING, or HELD when their course is held, and
    add them to `stored` (the order's lines as read before: repricing then has nothing to read back).
    A new line's total is its gross (no discount yet). Rows are numbered in the order they are tapped,
    a set menu's components right after it; each run of rows goes in one bulk INSERT, the modifiers of
    all of them in one more. Each row carries what a prefetch would have loaded (its modifiers and
    components), so the answer is built without reading back."""
    created: list[OrderLine] = []
    batch: list[OrderLine] = []  # rows waiting for their INSERT
    modifiers: list[tuple[OrderLine, Modifier]] = []
    for line in resolved:
        spec = line.spec
        status = OrderLine.Status.HELD if spec.hold or spec.course in stored.held_courses else OrderLine.Status.PENDING
        row = OrderLine(
            order=order, item=line.item, name=line.item.name, kitchen_name=line.item.kitchen_name or line.item.name[:32],
            quantity=spec.quantity, unit_price=line.unit_price, vat_rate=line.vat_rate, note=spec.note.strip(),
            seat=spec.seat, course=spec.course, status=status, standalone_price=line.unit_price,
            total=pricing.money(line.unit_price * spec.quantity),
        )
        row._prefetched_objects_cache = {"modifiers": [], "components": []}
        modifiers += [(row, m) for m in line.modifiers]
        batch.append(row)
        if line.components:
            sql.insert_lines(batch)  # the components point at their set menu: it needs its id first
            batch = []
        for component in line.components:
            child = OrderLine(
                order=order, item=component.item, parent=row, name=component.item.name,
                kitchen_name=component.item.kitchen_name or component.item.name[:32], quantity=spec.quantity,
                unit_price=Decimal("0.00"), standalone_price=component.unit_price, vat_rate=component.vat_rate,
                seat=spec.seat, course=spec.course, status=status,
            )
            child._prefetched_objects_cache = {"modifiers": [], "components": []}
            modifiers += [(child, m) for m in component.modifiers]
            row._prefetched_objects_cache["components"].append(child)
            batch.append(child)
        created.append(row)
        created.extend(row._prefetched_objects_cache["components"])
    if batch:
        sql.insert_lines(batch)
    if modifiers:
        line_modifiers = OrderLineModifier.objects.bulk_create([
            OrderLineModifier(line=line, modifier=m, name=m.name, kitchen_name=m.kitchen_name or m.name[:32], price_delta=m.price_delta)
            for line, m in modifiers
        ])
        for line_modifier in line_modifiers:
            line_modifier.line._prefetched_objects_cache["modifiers"].append(line_modifier)
    for row in created:
        if row.parent_id is None:
            stored.add(row, row._prefetched_objects_cache["components"])
    return created


# --- Orders --------------------------------------------------------------------------------------------


def _table_occupied(table: Table) -> OrderError:
    return OrderError("table_occupied", _("Table %(table)s already has an open order.") % {"table": table.label}, field="table")


def _has_open_order(table: Table) -> bool:
    return Order.objects.filter(table_id=table.pk, status=Order.Status.OPEN).exists()


def _check_header(*, order_type: str, table: Table | None, covers: int, source: str) -> None:
    if order_type not in Order.Type.values:
        raise OrderError("invalid_order_type", _("Unknown order type."), field="order_type")
    if source not in Order.Source.values:
        raise OrderError("invalid_source", _("Unknown order source."), field="source")
    check_int(covers, low=0, high=MAX_COVERS, code="invalid_covers", message=_("Invalid number of covers."), path="covers")
    if table is not None and _has_open_order(table):
        raise _table_occupied(table)


def _create_order(**fields) -> Order:
    """INSERT the order, numbered in its business day; the partial unique constraint
    `orders_order_one_open_per_table` turns a race for the same table into OrderError."""
    day = business_day()
    try:
        with transaction.atomic():
            return Order.objects.create(business_day=day, number=sql.next_number(day), **fields)
    except IntegrityError:
        if fields.get("table") is not None:
            raise _table_occupied(fields["table"]) from None
        raise


@transaction.atomic
def place_order(
    *,
    device: Device,
    server: User | None = None,
    order_type: str,
    table: Table | None = None,
    covers: int = 0,
    lines: Sequence[LineSpec],
    customer_name: str = "",
    note: str = "",
    source: str,
    send: bool = True,
    rush: bool = False,
) -> Order:
    """Validate, price (on the server) and write a whole order; with `send`, hand it to the kitchen.

    Steps, in one transaction: validate every line against the menu; count down `remaining`; number
    the order in its business day; write the order, its lines and modifiers; store the totals;
    announce the lines (`orders.signals.lines_sent`: the kitchen writes its tickets and print jobs in
    the same transaction). Any OrderError rolls all of it back. The order comes back with
    `written_lines`: its billable lines as written, in bill order, with modifiers and components
    (`shapes.order_as_dict(order, written_lines=...)` answers from them without reading back).
    """
    _check_header(order_type=order_type, table=table, covers=covers, source=source)
    check_text(customer_name, max_length=CUSTOMER_NAME_MAX_LENGTH, path="customer_name", code="invalid_customer_name")
    check_text(note, max_length=ORDER_NOTE_MAX_LENGTH, path="note")
    resolved = resolve_lines(lines, order_type=order_type)
    _take_stock(resolved)
    order = _create_order(
        order_type=order_type, source=source, table=table, covers=covers, server=server, device=device,
        customer_name=customer_name.strip(), note=note.strip(), is_rush=rush is True,
    )
    stored = selectors.StoredPricing()  # a new order: no lines to read
    created = _create_lines(order, resolved, stored)
    reprice(order, stored)
    if send:
        send_lines(order, created)
    tables_changed(order)
    order.written_lines = sorted((line for line in created if line.parent_id is None), key=lambda line: (line.course, line.pk))
    return order


@transaction.atomic
def open_table(*, device: Device, server: User | None, table: Table, covers: int) -> Order:
    """Open an empty eat-in order on `table` for `covers` guests. A table has at most one open order
    (constraint `orders_order_one_open_per_table`): OrderError "table_occupied" otherwise."""
    _check_header(order_type=Order.Type.EAT_IN, table=table, covers=covers, source=Order.Source.TILL)
    floor_changed()  # rings only if the order is written (the transaction commits)
    return _create_order(
        order_type=Order.Type.EAT_IN, source=Order.Source.TILL, table=table, covers=covers, server=server, device=device
    )


@transaction.atomic
def add_lines(*, order: Order, lines: Sequence[LineSpec]) -> list[OrderLine]:
    """Add lines to an open order, not sent yet (PENDING; HELD if their course is held or `hold`).
    Counts down `remaining`. Takes the order's row lock."""
    order = locked(order)
    resolved = resolve_lines(lines, order_type=order.order_type)
    _take_stock(resolved)
    stored = selectors.stored_pricing(order)
    created = _create_lines(order, resolved, stored)
    reprice(order, stored)
    return created


@transaction.atomic
def remove_pending_line(*, line: OrderLine) -> Order:
    """Remove a line the kitchen has not seen (PENDING, or HELD but never sent), with its set-menu
    components; its portions go back to `remaining`. Sent lines are voided instead
    (`orders.actions.courses.void_line`). Takes the order's row lock."""
    order = locked(line.order)
    line = OrderLine.objects.select_related("order").get(pk=line.pk)
    if line.parent_id is not None:
        raise OrderError("component_line", _("Remove the whole set menu instead."))
    if line.sent_at is not None or line.status not in (OrderLine.Status.PENDING, OrderLine.Status.HELD):
        raise OrderError("line_sent", _("This line was sent to the kitchen: void it with a reason."))
    _give_back_stock([line, *line.components.all()])
    line.delete()
    reprice(order)
    return order


@transaction.atomic
def cancel_order(*, order: Order, operator: User | None = None) -> Order:
    """Cancel an open order nothing was paid on and the kitchen has nothing of (an abandoned kiosk
    basket, a table opened by mistake). Unsent portions go back to `remaining`. Takes the row lock;
    OPEN → CANCELLED is a compare-and-set."""
    order = locked(order)
    if order.payments.exists():
        raise OrderError("order_has_payments", _("This order has payments."))
    live = order.lines.exclude(status=OrderLine.Status.VOIDED)
    if live.filter(sent_at__isnull=False).exists():
        raise OrderError("order_sent", _("Void the lines sent to the kitchen first."))
    _give_back_stock(list(live))
    live.delete()
    Order.objects.filter(pk=order.pk, status=Order.Status.OPEN).update(
        status=Order.Status.CANCELLED, closed_at=timezone.now(), total=Decimal("0.00")
    )
    order.refresh_from_db()
    tables_changed(order)
    return order


@transaction.atomic
def transfer_order(*, order: Order, table: Table) -> Order:
    """Move an open order to a free table (the partial unique constraint settles a race for it).
    Takes the order's row lock."""
    order = locked(order)
    if order.table_id == table.pk:
        return order
    if _has_open_order(table):
        raise _table_occupied(table)
    try:
        with transaction.atomic():
            Order.objects.filter(pk=order.pk).update(table=table)
    except IntegrityError:
        raise _table_occupied(table) from None
    floor_changed()
    order.refresh_from_db()
    return order


@transaction.atomic
def merge_orders(*, source: Order, target: Order) -> Order:
    """Move every line of `source` onto `target` (two tables joined), add the covers, and close
    `source` as CANCELLED with `merged_into=target`. Both must be open and `source` unpaid. Locks both
    rows in id order (no deadlock with a concurrent merge the other way)."""
    if source.pk == target.pk:
        raise OrderError("same_order", _("An order cannot be merged into itself."))
    first, second = sorted([source.pk, target.pk])
    rows = {o.pk: o for o in Order.objects.select_for_update().filter(pk__in=[first, second]).order_by("pk")}
    source, target = rows[source.pk], rows[target.pk]
    for order in (source, target):
        if order.status != Order.Status.OPEN:
            raise order_closed(order)
    if source.payments.exists():
        raise OrderError("order_has_payments", _("This order has payments."))
    source.lines.update(order=target)
    Order.objects.filter(pk=target.pk).update(covers=F("covers") + source.covers)
    Order.objects.filter(pk=source.pk, status=Order.Status.OPEN).update(
        status=Order.Status.CANCELLED, merged_into=target, closed_at=timezone.now(), total=Decimal("0.00")
    )
    target.refresh_from_db()
    reprice(target)
    tables_changed(source, target)
    return target
