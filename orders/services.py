"""Every write of the orders domain: placing orders, the till's table life cycle, discounts, payments,
customer accounts and 86'ing.

Conventions (STYLE.md):
- keyword-only, type-annotated arguments; each function runs in `transaction.atomic` (nested in the
  caller's transaction when there is one) and either does all of its work or none of it;
- bad input raises `OrderError` (a ValidationError with `.code`, a translated `.message` and the `.field`
  path of the culprit, e.g. "lines[2].modifiers"); the API maps codes to HTTP statuses;
- functions that change an existing order lock its row first (`SELECT … FOR UPDATE`), then re-check its
  status: the locking contract is "one writer per order at a time";
- state changes that can race are compare-and-set UPDATEs (`filter(status=old).update(status=new)`);
- screens are notified only after commit (`core.events.publish_on_commit`); kitchen tickets and fiscal
  records are written by `kds.services` / `fiscal.services` inside our transaction.
"""

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import DEFAULT_DB_ALIAS, IntegrityError, connections, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from fiscal import codes as jet
from fiscal import services as fiscal
from core.events import publish_on_commit
from orders import idempotency, pricing, receipts, selectors, signals
from orders.selectors import Prepared, insert_row, insert_rows, update_row, update_rows
from fiscal.business_day import business_day
from accounts.models import Device, User
from orders.models import (
    AccountSettlement,
    CustomerAccount,
    DailyCounter,
    Item,
    Modifier,
    ModifierGroup,
    Order,
    OrderLine,
    OrderLineModifier,
    Payment,
    SetMenuSlot,
    Table,
)

NOTE_MAX_LENGTH = 140
ORDER_NOTE_MAX_LENGTH = Order._meta.get_field("note").max_length
CUSTOMER_NAME_MAX_LENGTH = Order._meta.get_field("customer_name").max_length
MAX_LINES = 100
MAX_QUANTITY = 99
MAX_COURSE = 9
MAX_COVERS = 99
MAX_AMOUNT = Decimal("99999.99")



class OrderError(ValidationError):
    """Bad input or a refused state change. `.code` is stable (the API sends it as "error"), `.message`
    is translated into the active language, `.field` names the offending input ("" for the whole)."""

    def __init__(self, code: str, message: str, *, field: str = ""):
        super().__init__(message, code=code)
        self.field = field

    def as_dict(self) -> dict:
        return {"error": self.code, "detail": self.message, "field": self.field}


# --- Inputs -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SlotChoice:
    """The item chosen for one slot of a set menu, with that item's own modifiers."""

    slot: int
    item: int
    modifiers: tuple[int, ...] = ()


@dataclass(frozen=True)
class LineSpec:
    """One line as a till, kiosk or integration asks for it: ids only. Prices come from the database."""

    item: int
    quantity: int = 1
    modifiers: tuple[int, ...] = ()
    note: str = ""
    seat: int | None = None
    course: int = 1
    hold: bool = False  # the line's course is held: the kitchen sees it, greyed, until it is fired
    slots: tuple[SlotChoice, ...] = ()

    def canonical(self) -> dict:
        """JSON-able form used to fingerprint an idempotent request."""
        return {
            "item": self.item,
            "quantity": self.quantity,
            "modifiers": sorted(self.modifiers),
            "note": self.note,
            "seat": self.seat,
            "course": self.course,
            "hold": self.hold,
            "slots": sorted([c.slot, c.item, sorted(c.modifiers)] for c in self.slots),
        }


@dataclass
class PaymentResult:
    order: Order
    payment: Payment
    settled: bool
    change: Decimal
    receipt: Any = None  # the fiscal record once settled (None until fiscal sealing returns one)
    replayed: bool = False  # True when this is the stored answer to an earlier call with the same key


KEEP: Any = object()  # set_item_availability(remaining=KEEP): leave the count alone


# --- Validation ---------------------------------------------------------------------------------------


@dataclass
class _Resolved:
    """A validated line: the item, its modifiers, its components (set menus) and its price."""

    spec: LineSpec
    item: Item
    modifiers: list[Modifier]
    unit_price: Decimal
    vat_rate: Decimal
    components: list["_Resolved"] = field(default_factory=list)


MAX_ID = 2**63 - 1  # the largest primary key a database can hold: larger "ids" are simply unknown


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_id(value: Any) -> bool:
    return _is_int(value) and 1 <= value <= MAX_ID


def _check_int(value: Any, *, low: int, high: int, code: str, message: str, path: str) -> None:
    if not _is_int(value) or not low <= value <= high:
        raise OrderError(code, message, field=path)


def _check_text(value: Any, *, max_length: int, path: str, code: str = "note_too_long") -> None:
    """Free text (notes, names, reasons): a string of at most `max_length` characters, without NUL
    (no database stores it)."""
    if not isinstance(value, str) or "\x00" in value:
        raise OrderError("invalid_text", _("Invalid text."), field=path)
    if len(value) > max_length:
        raise OrderError(code, _("At most %(n)d characters.") % {"n": max_length}, field=path)


def _vat_rate(item: Item, order_type: str) -> Decimal:
    return item.vat_take_away if order_type == Order.Type.TAKE_AWAY else item.vat_eat_in


@dataclass
class _Slot:
    pk: int
    name: str
    choices: set[int] = field(default_factory=set)


@dataclass
class _Menu:
    """The part of the menu some line specs mention: items and modifiers by id, each item's modifier
    groups (display order) and each set menu's slots (display order) with their choices."""

    items: dict[int, Item]
    modifiers: dict[int, Modifier]
    groups: dict[int, list[ModifierGroup]]
    slots: dict[int, list[_Slot]]


_MENU_ITEMS = Prepared(lambda ids: Item.objects.filter(pk__in=ids), model=Item)
_MENU_MODIFIERS = Prepared(lambda ids: Modifier.objects.filter(pk__in=ids), model=Modifier)
_MENU_GROUPS = Prepared(
    lambda item_ids: Item.modifier_groups.through.objects.filter(item_id__in=item_ids)
    .order_by("modifiergroup__position", "modifiergroup__name", "modifiergroup_id")
    .values_list("item_id", "modifiergroup_id", "modifiergroup__name", "modifiergroup__min_choices", "modifiergroup__max_choices")
)
_MENU_SLOTS = Prepared(
    lambda set_menu_ids: SetMenuSlot.objects.filter(set_menu_id__in=set_menu_ids)
    .order_by("position", "id")
    .values_list("set_menu_id", "id", "name")
)
_MENU_SLOT_CHOICES = Prepared(
    lambda slot_ids: SetMenuSlot.choices.through.objects.filter(setmenuslot_id__in=slot_ids).values_list("setmenuslot_id", "item_id")
)


def _load_menu(specs: Sequence[LineSpec]) -> _Menu:
    """Every item and modifier the specs mention (set-menu choices included), with the items' modifier
    groups and set-menu slots: two queries for plain items, one more with modifiers, two more with
    set menus."""
    item_ids, modifier_ids = set(), set()
    for spec in specs:
        item_ids.add(spec.item)
        modifier_ids.update(spec.modifiers)
        for choice in spec.slots:
            item_ids.add(choice.item)
            modifier_ids.update(choice.modifiers)
    items = {i.pk: i for i in _MENU_ITEMS.instances(sorted(i for i in item_ids if _is_id(i)))}
    modifiers = {m.pk: m for m in _MENU_MODIFIERS.instances(sorted(m for m in modifier_ids if _is_id(m)))}
    groups: dict[int, list[ModifierGroup]] = defaultdict(list)
    for item_id, pk, name, min_choices, max_choices in _MENU_GROUPS.rows(sorted(items)):
        groups[item_id].append(ModifierGroup(pk=pk, name=name, min_choices=min_choices, max_choices=max_choices))
    slots: dict[int, list[_Slot]] = defaultdict(list)
    set_menus = sorted(pk for pk, item in items.items() if item.is_set_menu)
    if set_menus:
        by_pk = {}
        for set_menu_id, pk, name in _MENU_SLOTS.rows(set_menus):
            by_pk[pk] = _Slot(pk, name)
            slots[set_menu_id].append(by_pk[pk])
        for slot_id, item_id in _MENU_SLOT_CHOICES.rows(sorted(by_pk)):
            by_pk[slot_id].choices.add(item_id)
    return _Menu(items, modifiers, groups, slots)


def _check_modifiers(item: Item, ids: Sequence[int], menu: _Menu, path: str) -> list[Modifier]:
    if not isinstance(ids, (list, tuple)) or len(ids) > 50:
        raise OrderError("invalid_modifiers", _("Modifiers must be a list of ids."), field=path)
    groups = {g.pk: g for g in menu.groups.get(item.pk, ())}
    chosen, per_group = [], Counter()
    for index, modifier_id in enumerate(ids):
        modifier = menu.modifiers.get(modifier_id) if _is_int(modifier_id) else None
        if modifier is None:
            raise OrderError("unknown_modifier", _("Unknown modifier."), field=f"{path}[{index}]")
        if modifier.group_id not in groups:
            raise OrderError(
                "modifier_not_allowed",
                _("“%(modifier)s” cannot be chosen for “%(item)s”.") % {"modifier": modifier.name, "item": item.name},
                field=f"{path}[{index}]",
            )
        if not modifier.available:
            raise OrderError(
                "modifier_unavailable", _("“%(modifier)s” is not available.") % {"modifier": modifier.name}, field=f"{path}[{index}]"
            )
        per_group[modifier.group_id] += 1
        chosen.append(modifier)
    for group in groups.values():
        count = per_group[group.pk]
        if not group.min_choices <= count <= group.max_choices:
            if group.min_choices == group.max_choices:
                message = _("“%(group)s”: choose exactly %(n)d.") % {"group": group.name, "n": group.min_choices}
            else:
                message = _("“%(group)s”: choose between %(min)d and %(max)d.") % {
                    "group": group.name, "min": group.min_choices, "max": group.max_choices,
                }
            raise OrderError("modifier_count", message, field=path)
    return chosen


def _check_item(item: Item | None, path: str) -> Item:
    if item is None:
        raise OrderError("unknown_item", _("Unknown item."), field=path)
    if not item.available:
        raise OrderError("item_unavailable", _("“%(item)s” is not available.") % {"item": item.name}, field=path)
    if item.remaining == 0:
        raise OrderError("sold_out", _("“%(item)s” is sold out.") % {"item": item.name}, field=path)
    return item


def _resolve(specs: Sequence[LineSpec], *, order_type: str, allow_empty: bool = False) -> list[_Resolved]:
    """Validate line specs against the menu and price them. Raises OrderError naming the first culprit."""
    if not isinstance(specs, (list, tuple)) or (not specs and not allow_empty):
        raise OrderError("no_lines", _("An order needs at least one line."), field="lines")
    if len(specs) > MAX_LINES:
        raise OrderError("too_many_lines", _("Too many lines (at most %(n)d).") % {"n": MAX_LINES}, field="lines")
    menu = _load_menu(specs)
    resolved = []
    for index, spec in enumerate(specs):
        path = f"lines[{index}]"
        if not isinstance(spec, LineSpec):
            raise OrderError("invalid_line", _("Invalid line."), field=path)
        item = _check_item(menu.items.get(spec.item) if _is_int(spec.item) else None, f"{path}.item")
        _check_int(
            spec.quantity, low=1, high=MAX_QUANTITY, code="invalid_quantity",
            message=_("Quantity must be between 1 and %(max)d.") % {"max": MAX_QUANTITY}, path=f"{path}.quantity",
        )
        _check_text(spec.note, max_length=NOTE_MAX_LENGTH, path=f"{path}.note")
        if spec.seat is not None:
            _check_int(spec.seat, low=1, high=MAX_COVERS, code="invalid_seat", message=_("Invalid seat."), path=f"{path}.seat")
        _check_int(spec.course, low=1, high=MAX_COURSE, code="invalid_course", message=_("Invalid course."), path=f"{path}.course")
        chosen = _check_modifiers(item, spec.modifiers, menu, f"{path}.modifiers")
        unit_price = item.price + sum((m.price_delta for m in chosen), Decimal("0.00"))
        line = _Resolved(spec, item, chosen, unit_price, _vat_rate(item, order_type))
        if item.is_set_menu:
            line.components = _resolve_slots(item, spec.slots, menu, order_type, path)
            line.unit_price += sum((sum((m.price_delta for m in c.modifiers), Decimal("0.00")) for c in line.components), Decimal("0.00"))
        elif spec.slots:
            raise OrderError("slots_not_allowed", _("Only set menus have choices."), field=f"{path}.slots")
        if line.unit_price < 0:
            raise OrderError("invalid_price", _("This combination has a negative price."), field=path)
        resolved.append(line)
    return resolved


def _resolve_slots(set_menu: Item, choices, menu: _Menu, order_type: str, path: str) -> list[_Resolved]:
    """Every slot of the set menu filled exactly once with one of its choices."""
    if not isinstance(choices, (list, tuple)):
        raise OrderError("invalid_slots", _("Invalid set menu choices."), field=f"{path}.slots")
    slots = menu.slots.get(set_menu.pk, [])
    by_slot = {}
    for index, choice in enumerate(choices):
        slot = next((s for s in slots if _is_int(choice.slot) and s.pk == choice.slot), None)
        if slot is None or slot.pk in by_slot:
            raise OrderError("invalid_slot", _("Invalid set menu choice."), field=f"{path}.slots[{index}]")
        by_slot[slot.pk] = (index, choice)
    components = []
    for slot in slots:
        if slot.pk not in by_slot:
            raise OrderError(
                "slot_missing", _("Choose the “%(slot)s” of “%(item)s”.") % {"slot": slot.name, "item": set_menu.name},
                field=f"{path}.slots",
            )
        index, choice = by_slot[slot.pk]
        cpath = f"{path}.slots[{index}]"
        if not _is_int(choice.item) or choice.item not in slot.choices:
            raise OrderError(
                "invalid_slot_choice", _("This is not a choice of “%(slot)s”.") % {"slot": slot.name}, field=f"{cpath}.item"
            )
        item = _check_item(menu.items.get(choice.item), f"{cpath}.item")
        chosen = _check_modifiers(item, choice.modifiers, menu, f"{cpath}.modifiers")
        standalone = item.price + sum((m.price_delta for m in chosen), Decimal("0.00"))
        components.append(_Resolved(LineSpec(item=item.pk), item, chosen, standalone, _vat_rate(item, order_type)))
    return components


# --- Building blocks ----------------------------------------------------------------------------------

def _locked(order: Order, *, open_only: bool = True) -> Order:
    """Re-read `order` holding its row lock until the end of the transaction; refuse closed orders."""
    locked = selectors.locked_order(order.pk)
    if open_only and locked.status != Order.Status.OPEN:
        raise OrderError("order_closed", _("Order #%(number)d is closed.") % {"number": locked.number})
    return locked


def _next_number(day) -> int:
    """The next order number of `day`. The UPDATE holds the counter row's lock until commit, so
    concurrent orders queue here for a moment instead of computing the same "max + 1"."""
    number = _count_up(day)
    if number is None:
        try:
            with transaction.atomic():
                insert_row(DailyCounter(business_day=day, last_number=1))
                return 1
        except IntegrityError:  # a concurrent first order of the day created it
            number = _count_up(day)
    return number


_COUNT_UP: dict[str, tuple[str, bool]] = {}


def _count_up(day) -> int | None:
    """last_number + 1 on `day`'s counter and the new number, in one statement where the database
    answers UPDATE … RETURNING (PostgreSQL, SQLite ≥ 3.35, as for INSERT … RETURNING); None when the
    day has no counter yet."""
    connection = connections[DEFAULT_DB_ALIAS]
    if connection.vendor not in _COUNT_UP:
        meta, qn = DailyCounter._meta, connection.ops.quote_name
        table, number, day_column = qn(meta.db_table), qn(meta.get_field("last_number").column), qn(meta.get_field("business_day").column)
        returning = connection.features.can_return_columns_from_insert
        sql = f"UPDATE {table} SET {number} = {number} + 1 WHERE {day_column} = %s" + (f" RETURNING {number}" if returning else "")
        _COUNT_UP[connection.vendor] = (sql, returning)
    sql, returning = _COUNT_UP[connection.vendor]
    with connection.cursor() as cursor:
        cursor.execute(sql, [DailyCounter._meta.get_field("business_day").get_db_prep_value(day, connection)])
        if returning:
            row = cursor.fetchone()
            return row[0] if row else None
        if not cursor.rowcount:
            return None
    return DailyCounter.objects.get(business_day=day).last_number


def _publish_item(item_id: int) -> None:
    item = Item.objects.filter(pk=item_id).values("available", "remaining").first()
    if item is not None:
        publish_on_commit(
            "menu", {"type": "menu.item", "item_id": item_id, "available": item["available"], "remaining": item["remaining"]}
        )


def _portions(resolved: Sequence[_Resolved]) -> Counter:
    """Portions of each item the lines use (set-menu components count as their own items)."""
    needed = Counter()
    for line in resolved:
        needed[line.item.pk] += line.spec.quantity
        for component in line.components:
            needed[component.item.pk] += line.spec.quantity
    return needed


def _take_stock(resolved: Sequence[_Resolved]) -> None:
    """Count down `remaining` with conditional UPDATEs (`remaining >= n`), in item id order (a fixed lock
    order: two orders never wait on each other). 0 rows updated on a counted item means another till
    took the last portions first: OrderError "sold_out", and the caller's transaction rolls back."""
    counted_items = {line.item.pk for line in resolved if line.item.remaining is not None}
    counted_items |= {c.item.pk for line in resolved for c in line.components if c.item.remaining is not None}
    for item_id, quantity in sorted(_portions(resolved).items()):
        if item_id not in counted_items:
            continue  # no limit when the order was validated a moment ago: nothing to count down
        counted = Item.objects.filter(pk=item_id, remaining__isnull=False)
        if counted.filter(remaining__gte=quantity).update(remaining=F("remaining") - quantity):
            _publish_item(item_id)
        elif counted.exists():
            item = Item.objects.get(pk=item_id)
            raise OrderError(
                "sold_out",
                _("Only %(n)d “%(item)s” left.") % {"n": item.remaining, "item": item.name},
                field="lines",
            )


def _give_back_stock(lines: Sequence[OrderLine]) -> None:
    needed = Counter()
    for line in lines:
        needed[line.item_id] += line.quantity
    for item_id, quantity in sorted(needed.items()):
        if Item.objects.filter(pk=item_id, remaining__isnull=False).update(remaining=F("remaining") + quantity):
            _publish_item(item_id)


def _create_lines(order: Order, resolved: Sequence[_Resolved], stored: selectors.StoredPricing) -> list[OrderLine]:
    """Write the lines (and set-menu components) as PENDING, or HELD when their course is held, and
    add them to `stored` (the order's lines as read before: `_reprice` then has nothing to read back).
    A new line's total is its gross (no discount yet). Rows are numbered in the order they are tapped,
    a set menu's components right after it; each run of rows goes in one INSERT, the modifiers of all
    of them in one more."""
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
            insert_rows(batch)  # the components point at their set menu: it needs its id first
            batch = []
        for component in line.components:
            child = OrderLine(
                order=order, item=component.item, parent=row, name=component.item.name,
                kitchen_name=component.item.kitchen_name or component.item.name[:32], quantity=spec.quantity,
                unit_price=Decimal("0.00"), standalone_price=component.unit_price, vat_rate=component.vat_rate,
                seat=spec.seat, course=spec.course, status=status,
            )
            # What is written, as a prefetch would have loaded it: the answer is built without reading back.
            child._prefetched_objects_cache = {"modifiers": [], "components": []}
            modifiers += [(child, m) for m in component.modifiers]
            row._prefetched_objects_cache["components"].append(child)
            batch.append(child)
        created.append(row)
        created.extend(row._prefetched_objects_cache["components"])
    insert_rows(batch)
    for line_modifier in _create_modifiers(modifiers):
        line_modifier.line._prefetched_objects_cache["modifiers"].append(line_modifier)
    for row in created:
        if row.parent_id is None:
            stored.add(row, row._prefetched_objects_cache["components"])
    return created


def _create_modifiers(modifiers: Sequence[tuple[OrderLine, Modifier]]) -> Sequence[OrderLineModifier]:
    return insert_rows([
        OrderLineModifier(line=line, modifier=m, name=m.name, kitchen_name=m.kitchen_name or m.name[:32],
                          price_delta=m.price_delta)
        for line, m in modifiers
    ])


def _reprice(order: Order, stored: selectors.StoredPricing | None = None) -> pricing.Totals:
    """Recompute line totals and the order total from what is stored (`stored`: the lines as already
    read, with those written since). Refuses a change that would leave the order owing less than it
    was already paid. Call while holding the order's row lock."""
    stored = selectors.stored_pricing(order) if stored is None else stored
    totals = pricing.price_order(stored.inputs(), discount_percent=order.discount_percent, discount_amount=order.discount_amount)
    for priced in totals.lines:
        if stored.stored[priced.key] != priced.total:
            update_row(OrderLine, priced.key, {"total": priced.total})
    # Only a lower total can fall under what was paid (the stored total never did).
    if totals.total < order.total and totals.total < selectors.amount_paid(order):
        raise OrderError("overpaid", _("This change would make the order cost less than what was already paid."))
    if order.total != totals.total:
        update_row(Order, order.pk, {"total": totals.total})
        order.total = totals.total
    return totals


def _send(order: Order, lines: Sequence[OrderLine]) -> list[OrderLine]:
    """Hand `lines` to the kitchen: PENDING → SENT, HELD stay HELD (the kitchen shows them as held).
    `lines` are unsent lines of `order` read or written under its row lock, so the same change is
    made on them in memory rather than read back (kds reads its own fresh copy)."""
    if not lines:
        return []
    now = timezone.now()
    pending = [line.pk for line in lines if line.status == OrderLine.Status.PENDING]
    held = [line.pk for line in lines if line.status == OrderLine.Status.HELD and line.sent_at is None]
    update_rows(OrderLine, pending, {"status": OrderLine.Status.SENT, "sent_at": now}, where={"status": OrderLine.Status.PENDING})
    update_rows(OrderLine, held, {"sent_at": now}, where={"status": OrderLine.Status.HELD, "sent_at": None})
    for line in lines:
        if line.status == OrderLine.Status.PENDING:
            line.status, line.sent_at = OrderLine.Status.SENT, now
        elif line.status == OrderLine.Status.HELD and line.sent_at is None:
            line.sent_at = now
    sent = sorted(lines, key=lambda line: (line.course, line.pk))
    signals.lines_sent.send(sender=Order, order=order, lines=sent)
    return sent


def _operator_name(user: User | None) -> str:
    return user.get_username() if user is not None else ""


def _device_name(device: Device | None) -> str:
    return device.name if device is not None else ""


def _check_table_header(*, order_type: str, table: Table | None, covers: int, source: str) -> None:
    if order_type not in Order.Type.values:
        raise OrderError("invalid_order_type", _("Unknown order type."), field="order_type")
    if source not in Order.Source.values:
        raise OrderError("invalid_source", _("Unknown order source."), field="source")
    _check_int(covers, low=0, high=MAX_COVERS, code="invalid_covers", message=_("Invalid number of covers."), path="covers")
    if table is not None and _has_open_order(table):
        raise _table_occupied(table)


_OPEN_ON_TABLE = Prepared(
    lambda table_id: Order.objects.filter(table_id=table_id, status=Order.Status.OPEN).order_by().values_list("id")[:1]
)


def _has_open_order(table: Table) -> bool:
    return bool(_OPEN_ON_TABLE.rows(table.pk))


def _table_occupied(table: Table) -> OrderError:
    return OrderError("table_occupied", _("Table %(table)s already has an open order.") % {"table": table.label}, field="table")


def _create_order(**fields) -> Order:
    """INSERT the order; the partial unique constraint turns a race for the same table into OrderError."""
    day = business_day()
    try:
        with transaction.atomic():
            return insert_row(Order(business_day=day, number=_next_number(day), **fields))
    except IntegrityError:
        if fields.get("table") is not None:
            raise _table_occupied(fields["table"]) from None
        raise


# --- Placing orders -----------------------------------------------------------------------------------


def place_order(
    *,
    device: Device,
    server: User | None = None,
    order_type: str,
    table: Table | None = None,
    covers: int = 0,
    lines: Sequence[LineSpec],
    idempotency_key: str | None = None,
    customer_name: str = "",
    note: str = "",
    source: str,
    send: bool = True,
) -> Order:
    """Validate, price (on the server) and write a whole order; with `send`, hand it to the kitchen.

    Steps, in one transaction: validate every line against the menu; count down `remaining` with
    conditional UPDATEs (no oversell across tills); number the order in its business day; write the
    order, its lines and modifiers; store the totals; `kds.services.send_lines_to_kitchen` (tickets and
    print jobs in the same transaction). Any OrderError rolls all of it back.

    With `idempotency_key`, a retry with the same key and the same request returns the first order
    (never a second one); the same key with another request raises IdempotencyKeyReused.
    """
    if idempotency_key is None:
        return _place_order(
            device=device, server=server, order_type=order_type, table=table, covers=covers, lines=lines,
            customer_name=customer_name, note=note, source=source, send=send,
        )
    if not idempotency.valid_key(idempotency_key):
        raise OrderError("invalid_idempotency_key", _("Invalid idempotency key."), field="idempotency_key")
    request = {
        "order_type": order_type, "table": table.pk if table else None, "covers": covers,
        "lines": [spec.canonical() if isinstance(spec, LineSpec) else repr(spec) for spec in lines],
        "customer_name": customer_name, "note": note, "source": source, "send": send,
        "server": server.pk if server else None,
    }

    placed: list[Order] = []

    def action() -> tuple[int, dict]:
        order = _place_order(
            device=device, server=server, order_type=order_type, table=table, covers=covers, lines=lines,
            customer_name=customer_name, note=note, source=source, send=send,
        )
        placed.append(order)
        return 201, {"order": order.pk}

    _status, body, replayed = idempotency.run_once(scope="orders", device=device, key=idempotency_key, request=request, action=action)
    return Order.objects.get(pk=body["order"]) if replayed else placed[0]


@transaction.atomic
def _place_order(*, device, server, order_type, table, covers, lines, customer_name, note, source, send) -> Order:
    _check_table_header(order_type=order_type, table=table, covers=covers, source=source)
    _check_text(customer_name, max_length=CUSTOMER_NAME_MAX_LENGTH, path="customer_name", code="invalid_customer_name")
    _check_text(note, max_length=ORDER_NOTE_MAX_LENGTH, path="note")
    resolved = _resolve(lines, order_type=order_type)
    _take_stock(resolved)
    order = _create_order(
        order_type=order_type, source=source, table=table, covers=covers, server=server, device=device,
        customer_name=customer_name.strip(), note=note.strip(),
    )
    stored = selectors.StoredPricing()  # a new order: no lines to read
    created = _create_lines(order, resolved, stored)
    _reprice(order, stored)
    if send:
        _send(order, created)
    # For the caller's answer (selectors.order_as_dict(order, written_lines=...)): the billable lines
    # as written, in bill order, with their modifiers and components.
    order.written_lines = sorted((line for line in created if line.parent_id is None), key=lambda line: (line.course, line.pk))
    return order


@transaction.atomic
def open_table(*, device: Device, server: User | None, table: Table, covers: int) -> Order:
    """Open an empty eat-in order on `table` for `covers` guests. A table has at most one open order
    (constraint `orders_order_one_open_per_table`): OrderError "table_occupied" otherwise."""
    _check_table_header(order_type=Order.Type.EAT_IN, table=table, covers=covers, source=Order.Source.TILL)
    return _create_order(
        order_type=Order.Type.EAT_IN, source=Order.Source.TILL, table=table, covers=covers, server=server, device=device
    )


@transaction.atomic
def add_lines(*, order: Order, lines: Sequence[LineSpec]) -> list[OrderLine]:
    """Add lines to an open order, not sent yet (PENDING; HELD if their course is held or `hold`).
    Counts down `remaining`. Takes the order's row lock."""
    order = _locked(order)
    resolved = _resolve(lines, order_type=order.order_type)
    _take_stock(resolved)
    stored = selectors.stored_pricing(order)
    created = _create_lines(order, resolved, stored)
    _reprice(order, stored)
    return created


@transaction.atomic
def remove_pending_line(*, line: OrderLine) -> Order:
    """Remove a line the kitchen has not seen (PENDING, or HELD but never sent), with its set-menu
    components; its portions go back to `remaining`. Sent lines are voided instead (`void_line`)."""
    order = _locked(line.order)
    line = OrderLine.objects.select_related("order").get(pk=line.pk)
    if line.parent_id is not None:
        raise OrderError("component_line", _("Remove the whole set menu instead."))
    if line.sent_at is not None or line.status not in (OrderLine.Status.PENDING, OrderLine.Status.HELD):
        raise OrderError("line_sent", _("This line was sent to the kitchen: void it with a reason."))
    _give_back_stock([line, *line.components.all()])
    line.delete()
    _reprice(order)
    return order


@transaction.atomic
def send_order(*, order: Order) -> list[OrderLine]:
    """Send every line the kitchen has not seen: PENDING → SENT; HELD lines go too but stay HELD until
    their course is fired. Returns the lines handed to `kds.services.send_lines_to_kitchen` (set-menu
    lines and their components both; components carry `parent`). Takes the order's row lock."""
    order = _locked(order)
    # With their items (one join): the kitchen routes by item, and lines come to it with what it reads.
    unsent = order.lines.filter(sent_at__isnull=True).exclude(status=OrderLine.Status.VOIDED).select_related("item")
    return _send(order, list(unsent))


@transaction.atomic
def hold_course(*, order: Order, course: int) -> int:
    """Hold `course`: its unsent lines become HELD, and lines added to it later too, until it is fired.
    Returns how many lines changed. Lines already sent (not held) cannot be held back."""
    order = _locked(order)
    _check_int(course, low=1, high=MAX_COURSE, code="invalid_course", message=_("Invalid course."), path="course")
    return order.lines.filter(course=course, status=OrderLine.Status.PENDING).update(status=OrderLine.Status.HELD)


@transaction.atomic
def fire_course(*, order: Order, course: int) -> list[OrderLine]:
    """Fire a held course: HELD → SENT (compare-and-set on the status). Lines the kitchen already shows as
    held are fired through `kds.services.fire_course`; held lines it never saw are sent now. Takes the
    order's row lock. Returns the fired lines (empty if the course was not held: firing is idempotent)."""
    order = _locked(order)
    now = timezone.now()
    held = order.lines.filter(course=course, status=OrderLine.Status.HELD)
    unseen = list(held.filter(sent_at__isnull=True).values_list("pk", flat=True))
    fired = list(held.values_list("pk", flat=True))
    if not fired:
        return []
    OrderLine.objects.filter(pk__in=fired, status=OrderLine.Status.HELD).update(
        status=OrderLine.Status.SENT, fired_at=now
    )
    OrderLine.objects.filter(pk__in=unseen).update(sent_at=now)
    if len(unseen) < len(fired):
        signals.course_fired.send(sender=Order, order=order, course=course)
    if unseen:
        signals.lines_sent.send(
            sender=Order, order=order,
            lines=list(OrderLine.objects.filter(pk__in=unseen).select_related("item").order_by("course", "id")),
        )
    return list(OrderLine.objects.filter(pk__in=fired).order_by("id"))


@transaction.atomic
def void_line(*, line: OrderLine, reason: str, operator: User, device: Device | None = None) -> OrderLine:
    """Void a line the kitchen has (SENT, or HELD and sent), with its set-menu components: it leaves
    the bill, the kitchen ticket shows it struck through (`kds.services.void_lines`), and the event is
    journalled (JET code 195, `fiscal.codes.VOID_AFTER_SEND`, details kind "void_after_send"). A reason is
    required. Portions are not given back: the kitchen may have cooked them. Takes the order's row lock;
    the status change is a compare-and-set, so voiding twice is refused, not applied twice."""
    order = _locked(line.order)
    reason = reason.strip() if isinstance(reason, str) else ""
    if not reason:
        raise OrderError("reason_required", _("A reason is required to void a sent line."), field="reason")
    _check_text(reason, max_length=NOTE_MAX_LENGTH, path="reason", code="reason_too_long")
    line = OrderLine.objects.get(pk=line.pk)
    if line.parent_id is not None:
        raise OrderError("component_line", _("Void the whole set menu instead."))
    if line.sent_at is None:
        raise OrderError("line_not_sent", _("This line was not sent: remove it instead."))
    now = timezone.now()
    ids = [line.pk, *line.components.values_list("pk", flat=True)]
    if not OrderLine.objects.filter(pk=line.pk).exclude(status=OrderLine.Status.VOIDED).update(
        status=OrderLine.Status.VOIDED, voided_at=now, void_reason=reason
    ):
        raise OrderError("line_voided", _("This line is already voided."))
    OrderLine.objects.filter(pk__in=ids[1:]).update(status=OrderLine.Status.VOIDED, voided_at=now, void_reason=reason)
    voided = list(OrderLine.objects.filter(pk__in=ids).order_by("id"))
    _reprice(order)
    signals.lines_voided.send(sender=Order, order=order, lines=voided, reason=reason)
    fiscal.journal(
        jet.VOID_AFTER_SEND,
        message=_("Line voided after it was sent to the kitchen"),
        operator=_operator_name(operator),
        device=_device_name(device or order.device),
        details={
            "kind": "void_after_send", "order": order.number, "business_day": order.business_day.isoformat(),
            "line": line.name, "quantity": line.quantity, "amount": f"{line.total:.2f}", "reason": reason,
        },
    )
    return next(v for v in voided if v.pk == line.pk)


@transaction.atomic
def cancel_order(*, order: Order, operator: User | None = None) -> Order:
    """Cancel an open order nothing was paid on and the kitchen has nothing of (an abandoned kiosk
    basket, a table opened by mistake). Unsent portions go back to `remaining`."""
    order = _locked(order)
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
    return order


@transaction.atomic
def transfer_order(*, order: Order, table: Table) -> Order:
    """Move an open order to a free table (the partial unique constraint settles a race for it)."""
    order = _locked(order)
    if order.table_id == table.pk:
        return order
    if _has_open_order(table):
        raise _table_occupied(table)
    try:
        with transaction.atomic():
            Order.objects.filter(pk=order.pk).update(table=table)
    except IntegrityError:
        raise _table_occupied(table) from None
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
    locked = {o.pk: o for o in Order.objects.select_for_update().filter(pk__in=[first, second]).order_by("pk")}
    source, target = locked[source.pk], locked[target.pk]
    for order in (source, target):
        if order.status != Order.Status.OPEN:
            raise OrderError("order_closed", _("Order #%(number)d is closed.") % {"number": order.number})
    if source.payments.exists():
        raise OrderError("order_has_payments", _("This order has payments."))
    source.lines.update(order=target)
    Order.objects.filter(pk=target.pk).update(covers=F("covers") + source.covers)
    Order.objects.filter(pk=source.pk, status=Order.Status.OPEN).update(
        status=Order.Status.CANCELLED, merged_into=target, closed_at=timezone.now(), total=Decimal("0.00")
    )
    target.refresh_from_db()
    _reprice(target)
    return target


# --- Discounts ----------------------------------------------------------------------------------------


def _parse_money(value: Any, *, field: str, allow_zero: bool = True) -> Decimal:
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


@transaction.atomic
def apply_discount(
    *,
    order: Order | None = None,
    line: OrderLine | None = None,
    percent: Decimal | None = None,
    amount: Decimal | None = None,
    operator: User,
    manager: User | None = None,
) -> Order:
    """Set the discount of an order or of one line: a percent or an amount (0 removes it). It replaces
    the previous discount. Above `settings.KDS_DISCOUNT_MANAGER_THRESHOLD` percent (an amount counts as
    its share of the price), a manager must approve: `operator` is a manager, or `manager` is one whose
    PIN the caller has just checked (`accounts.access.check_manager_pin`). Refused once payments were
    taken (the amount due would move under the cashier). Takes the order's row lock."""
    if (order is None) == (line is None):
        raise OrderError("invalid_discount", _("Discount either an order or a line."))
    if (percent is None) == (amount is None):
        raise OrderError("invalid_discount", _("Give a percent or an amount."))
    order = _locked(order if order is not None else line.order)
    if order.payments.exists():
        raise OrderError("order_has_payments", _("Discounts cannot change once a payment was taken."))
    if line is not None:
        line = OrderLine.objects.get(pk=line.pk, order=order)
        if line.parent_id is not None or line.status == OrderLine.Status.VOIDED:
            raise OrderError("invalid_discount", _("This line cannot be discounted."), field="line")
        base = pricing.money(line.unit_price * line.quantity)
    else:
        base = selectors.order_totals(order).subtotal
    if percent is not None:
        percent = _parse_money(percent, field="percent")
        if percent > 100:
            raise OrderError("invalid_amount", _("A discount is at most 100 %."), field="percent")
        share = percent
    else:
        amount = _parse_money(amount, field="amount")
        if amount > base:
            raise OrderError("discount_too_large", _("The discount is larger than the amount."), field="amount")
        share = amount * 100 / base if base else Decimal(0)
    approver = None
    if share > Decimal(settings.KDS_DISCOUNT_MANAGER_THRESHOLD) and not operator.is_manager:
        if manager is None or not manager.is_manager:
            raise OrderError(
                "manager_required",
                _("A discount above %(n)s %% needs a manager.") % {"n": settings.KDS_DISCOUNT_MANAGER_THRESHOLD},
            )
        approver = manager
    elif operator.is_manager and share > 0:
        approver = operator
    fields = {
        "discount_percent": percent or Decimal("0"),
        "discount_amount": amount or Decimal("0.00"),
        "discount_approved_by": approver,
    }
    if line is not None:
        OrderLine.objects.filter(pk=line.pk).update(**fields)
    else:
        Order.objects.filter(pk=order.pk).update(**fields)
    order.refresh_from_db()
    _reprice(order)
    return order


# --- The bill -----------------------------------------------------------------------------------------


@transaction.atomic
def print_pre_bill(*, order: Order, operator: User, device: Device | None = None) -> tuple[Order, Any]:
    """Count a pre-bill ("addition") and have fiscal seal it (`fiscal.services.seal_pre_bill`: a
    provisional record numbered per print). Returns (order, the sealed pre-bill record)."""
    order = _locked(order)
    Order.objects.filter(pk=order.pk).update(pre_bill_count=F("pre_bill_count") + 1)
    order.refresh_from_db()
    record = fiscal.seal_pre_bill(
        payload=receipts.pre_bill_payload(order), operator=_operator_name(operator), device=_device_name(device or order.device)
    )
    return order, record


def split_equal(*, order: Order, parts: int) -> list[Decimal]:
    """The amount due in `parts` equal shares (whole cents, the first shares carry the odd cents)."""
    _check_int(parts, low=1, high=MAX_COVERS, code="invalid_parts", message=_("Invalid number of parts."), path="parts")
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


# --- Payments -----------------------------------------------------------------------------------------


def take_payment(
    *,
    order: Order,
    method: str,
    amount: Decimal,
    tendered: Decimal | None = None,
    tip: Decimal = Decimal("0.00"),
    account: CustomerAccount | None = None,
    operator: User | None,
    device: Device,
    idempotency_key: str | None = None,
) -> PaymentResult:
    """Record a payment on an open order; when it settles the order, close it and seal the receipt.

    Rules: `amount` is what the customer pays towards the bill (> 0, whole cents). Card and account may
    not exceed what is due (card_overpayment); a meal voucher may not either (vouchers give no change);
    cash may — the change is computed (amount − due, or tendered − applied when `tendered` is given).
    Account payments add to the customer account's balance within its credit limit. Tips (≥ 0) ride on
    the payment, outside the bill (no VAT).

    Locking: the order row is locked (SELECT FOR UPDATE) for the whole transaction, then the account
    row; the OPEN → PAID change is a compare-and-set. When settled: status PAID, closed_at, then
    `fiscal.services.seal_receipt(payload=receipts.receipt_payload(order), ...)` in the same transaction
    — a failed seal rolls the payment back.

    With `idempotency_key`, a retry returns the first result (`replayed=True`, receipt None).
    """
    if idempotency_key is None:
        return _take_payment(
            order=order, method=method, amount=amount, tendered=tendered, tip=tip, account=account, operator=operator, device=device
        )
    if not idempotency.valid_key(idempotency_key):
        raise OrderError("invalid_idempotency_key", _("Invalid idempotency key."), field="idempotency_key")
    request = {
        "order": order.pk, "method": method, "amount": str(amount), "tendered": None if tendered is None else str(tendered),
        "tip": str(tip), "account": account.pk if account else None,
    }
    results: list[PaymentResult] = []

    def action() -> tuple[int, dict]:
        result = _take_payment(
            order=order, method=method, amount=amount, tendered=tendered, tip=tip, account=account, operator=operator, device=device
        )
        results.append(result)
        return 201, {"payment": result.payment.pk}

    _status, body, replayed = idempotency.run_once(
        scope="payments", device=device, key=idempotency_key, request=request, action=action
    )
    if not replayed:
        return results[0]
    payment = Payment.objects.select_related("order").get(pk=body["payment"])
    return PaymentResult(
        order=payment.order, payment=payment, settled=payment.order.status == Order.Status.PAID,
        change=payment.change, receipt=None, replayed=True,
    )


@transaction.atomic
def _take_payment(*, order, method, amount, tendered, tip, account, operator, device) -> PaymentResult:
    if method not in Payment.Method.values:
        raise OrderError("invalid_method", _("Unknown payment method."), field="method")
    amount = _parse_money(amount, field="amount", allow_zero=False)
    tip = _parse_money(tip, field="tip")
    order = _locked(order)
    earlier = selectors.payments_of(order)
    due = selectors.amount_due(order, earlier)
    if due <= 0:
        raise OrderError("nothing_due", _("Nothing is due on this order."))
    applied, change = amount, Decimal("0.00")
    if amount > due:
        if method == Payment.Method.CASH:
            applied = due
        elif method == Payment.Method.CARD:
            raise OrderError("card_overpayment", _("A card payment cannot exceed the %(due)s due.") % {"due": due}, field="amount")
        elif method == Payment.Method.VOUCHER:
            raise OrderError("voucher_overpayment", _("Meal vouchers give no change: at most %(due)s.") % {"due": due}, field="amount")
        else:
            raise OrderError("account_overpayment", _("At most %(due)s can be charged.") % {"due": due}, field="amount")
    if method == Payment.Method.CASH:
        given = amount
        if tendered is not None:
            given = _parse_money(tendered, field="tendered")
            if given < amount:
                raise OrderError("tendered_too_low", _("The cash tendered is less than the amount."), field="tendered")
        change = given - applied
        tendered = given
    else:
        tendered = None
    if method == Payment.Method.ACCOUNT:
        account = _charge_account(account, applied)
    elif account is not None:
        raise OrderError("invalid_account", _("Only account payments name an account."), field="account")
    payment = insert_row(Payment(
        order=order, method=method, amount=applied, tendered=tendered, change=change, tip=tip,
        account=account, operator=operator, device=device,
    ))
    settled, receipt = False, None
    if applied == due:
        _close_paid(order)
        settled = True
        # The payload from what is in hand: the payments read above plus this one (no re-read).
        payments = [*earlier, (method, applied, tip)]
        receipt = fiscal.seal_receipt(
            payload=receipts.receipt_payload(order, payments=payments), operator=_operator_name(operator),
            device=_device_name(device),
        )
    return PaymentResult(order=order, payment=payment, settled=settled, change=change, receipt=receipt)


def _close_paid(order: Order) -> None:
    """OPEN → PAID (compare-and-set) with the closing time, on the row and on `order`. Call while
    holding the order's row lock."""
    closed_at = timezone.now()
    if not update_row(Order, order.pk, {"status": Order.Status.PAID, "closed_at": closed_at}, where={"status": Order.Status.OPEN}):
        raise OrderError("order_closed", _("Order #%(number)d is closed.") % {"number": order.number})
    order.status, order.closed_at = Order.Status.PAID, closed_at


@transaction.atomic
def close_free_order(*, order: Order, operator: User | None, device: Device) -> Any:
    """Close an open order that owes nothing although something was ordered (all offered, or all
    voided): PAID and sealed like any settled order. OrderError "amount_due" when money is still owed.
    Returns the sealed receipt record. Takes the order's row lock."""
    order = _locked(order)
    if selectors.amount_due(order) > 0:
        raise OrderError("amount_due", _("This order still has an amount due."))
    if not order.lines.exists():
        raise OrderError("order_empty", _("Nothing was ordered: cancel the order instead."))
    _close_paid(order)
    return fiscal.seal_receipt(payload=receipts.receipt_payload(order), operator=_operator_name(operator), device=_device_name(device))


def _charge_account(account: CustomerAccount | None, amount: Decimal) -> CustomerAccount:
    """Add `amount` to what the account owes, within its credit limit (conditional UPDATE)."""
    if account is None:
        raise OrderError("account_required", _("Choose a customer account."), field="account")
    account = CustomerAccount.objects.select_for_update().get(pk=account.pk)
    if not account.active:
        raise OrderError("account_inactive", _("This customer account is closed."), field="account")
    if account.credit_limit is not None and account.balance + amount > account.credit_limit:
        raise OrderError(
            "credit_limit",
            _("This would exceed the account's credit limit (%(limit)s).") % {"limit": account.credit_limit},
            field="amount",
        )
    CustomerAccount.objects.filter(pk=account.pk).update(balance=F("balance") + amount)
    account.refresh_from_db()
    return account


@transaction.atomic
def settle_account(*, account: CustomerAccount, amount: Decimal, method: str, operator: User | None) -> AccountSettlement:
    """A customer pays (part of) what their account owes, by cash, card or voucher. Not more than the
    balance. Locks the account row."""
    if method not in (Payment.Method.CASH, Payment.Method.CARD, Payment.Method.VOUCHER):
        raise OrderError("invalid_method", _("Unknown payment method."), field="method")
    amount = _parse_money(amount, field="amount", allow_zero=False)
    account = CustomerAccount.objects.select_for_update().get(pk=account.pk)
    if amount > account.balance:
        raise OrderError(
            "account_overpayment", _("The account owes only %(balance)s.") % {"balance": account.balance}, field="amount"
        )
    CustomerAccount.objects.filter(pk=account.pk).update(balance=F("balance") - amount)
    return AccountSettlement.objects.create(account=account, amount=amount, method=method, operator=operator)


# --- 86'ing -------------------------------------------------------------------------------------------


@transaction.atomic
def set_item_availability(*, item: Item, available: bool | None = None, remaining: int | None = KEEP) -> Item:
    """86 an item (or bring it back) and/or set its remaining portions (None: no limit; KEEP: unchanged).
    Every till and kiosk hears it after commit ({"type": "menu.item", ...} to group "menu")."""
    fields: dict[str, Any] = {}
    if available is not None:
        fields["available"] = bool(available)
    if remaining is not KEEP:
        if remaining is not None:
            _check_int(remaining, low=0, high=100000, code="invalid_remaining", message=_("Invalid count."), path="remaining")
        fields["remaining"] = remaining
    if fields:
        Item.objects.filter(pk=item.pk).update(**fields)
        _publish_item(item.pk)
    item.refresh_from_db()
    return item
