"""Reads of the orders domain: priced orders, amounts due, the menu, JSON shapes of the API.

Services call `order_totals` to price what is stored; views and the API call the rest. The reads on the
till's and the payment's hot paths are `Prepared` (compiled once, see "Compiled statements" below);
`insert_row(s)` and `update_row(s)` beside it are the only writes in this module: the same idea for the rows
those paths write (orders.services and orders.idempotency call them).
"""

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import Model, Prefetch, Q, QuerySet

from orders import pricing
from accounts.models import Device
from orders.models import Category, Item, ModifierGroup, Order, OrderLine, Payment, SetMenuSlot, Table

# --- Compiled statements ------------------------------------------------------------------------------
#
# A payment and a tap on the till each read a handful of small rows. Django compiles a queryset to SQL
# afresh every time it runs: 0.1–0.3 ms a query on the restaurant's server, ten times what SQLite then
# takes to answer. The reads on those paths are written as ordinary querysets, compiled once per process
# and database vendor, and run again with new parameters through Django's cursor (so they are counted
# by assertNumQueries) and Django's own converters (Decimals on SQLite, aware datetimes).

# Compile-time stand-ins for the arguments, told apart from the query's constants. Within every integer
# column's range: PostgreSQL's smallint stops at 32767, and Django compiles a comparison with a value
# out of a column's range to nothing (EmptyResultSet).
_PLACEHOLDER = 30_011


@dataclass
class _Compiled:
    sql: str
    params: list
    slots: list[tuple[int, int]]  # (first position in params, how many) for each argument
    converters: list[tuple[int, list, object]]  # (column, converter functions, expression)


class Prepared:
    """A values_list() queryset compiled to SQL once, then run with other arguments.

    `build(*args)` returns the queryset. It is called once per database vendor with stand-in values,
    and each argument must become SQL parameters of its own: an exact lookup (`filter(order_id=a)`)
    or, when the argument is a list, an `__in` lookup (compiled once per list length). `model=`
    makes `instances()` available: `build` then returns a queryset of that model and every concrete
    field is read. Not for querysets with prefetches, or whose SQL depends on the values.
    """

    def __init__(self, build: Callable[..., QuerySet], *, model: type[Model] | None = None):
        self.build = build
        self.model = model
        self.attnames = [f.attname for f in model._meta.concrete_fields] if model is not None else None
        self._compiled: dict[tuple, _Compiled] = {}

    def _compile(self, connection, shape: tuple) -> _Compiled:
        stand_ins, next_id = [], _PLACEHOLDER
        for length in shape:
            if length is None:
                stand_ins.append(next_id)
                next_id += 1
            else:
                stand_ins.append(list(range(next_id, next_id + length)))
                next_id += length
        queryset = self.build(*stand_ins)
        if self.model is not None:
            queryset = queryset.values_list(*self.attnames)
        compiler = queryset.query.get_compiler(connection=connection)
        sql, params = compiler.as_sql()
        params = list(params)
        seen = [str(param) for param in params]  # a text column's lookup turns its stand-in into text
        slots = []
        for stand_in in stand_ins:
            values = [str(value) for value in (stand_in if isinstance(stand_in, list) else [stand_in])]
            first = seen.index(values[0]) if values[0] in seen else -1
            if first < 0 or seen[first:first + len(values)] != values or seen.count(values[0]) != 1:
                raise ImproperlyConfigured(f"Prepared query: an argument is not one SQL parameter in {sql}")
            slots.append((first, len(values)))
        columns = [column[0] for column in compiler.select[: compiler.col_count]]
        converters = [(pos, convs, expression) for pos, (convs, expression) in compiler.get_converters(columns).items()]
        compiled = _Compiled(sql, params, slots, converters)
        self._compiled[(connection.vendor, shape)] = compiled
        return compiled

    def rows(self, *args) -> list:
        """The rows (tuples, in the queryset's column order). A list argument that is empty gives []."""
        args = [list(dict.fromkeys(a)) if isinstance(a, (list, tuple, set, frozenset)) else a for a in args]
        if any(isinstance(a, list) and not a for a in args):
            return []
        connection = connections[DEFAULT_DB_ALIAS]
        shape = tuple(len(a) if isinstance(a, list) else None for a in args)
        compiled = self._compiled.get((connection.vendor, shape)) or self._compile(connection, shape)
        params = list(compiled.params)
        for (first, count), arg in zip(compiled.slots, args, strict=True):
            params[first:first + count] = arg if isinstance(arg, list) else [arg]
        with connection.cursor() as cursor:
            cursor.execute(compiled.sql, params)
            rows = cursor.fetchall()
        if not compiled.converters:
            return rows
        converted = []
        for row in rows:
            row = list(row)
            for pos, convs, expression in compiled.converters:
                value = row[pos]
                for convert in convs:
                    value = convert(value, expression, connection)
                row[pos] = value
            converted.append(tuple(row))
        return converted

    def instances(self, *args) -> list:
        """The rows as model instances, as `list(queryset)` would give them."""
        alias = connections[DEFAULT_DB_ALIAS].alias
        return [self.model.from_db(alias, self.attnames, row) for row in self.rows(*args)]


# The rows a tap on the till or a payment writes go through `insert_row` and `update_row` (services,
# idempotency): the statement is built once per model and database vendor from the model's own fields
# (values still go through each field's get_db_prep_save), where the ORM compiles it again on every
# call. They are the only writes in this module, kept beside `Prepared` as its counterpart. No model of
# the orders app has save signals to skip.
_statements: dict[tuple, tuple] = {}

# Values that get_db_prep_save hands to the driver unchanged, by field type: they skip that call (half
# the cost of an INSERT's parameters). Anything else (dates, JSON, other types) goes through it.
_AS_IS = {
    **dict.fromkeys(("CharField", "TextField", "SlugField"), (str, type(None))),
    "DecimalField": (Decimal, type(None)),
    **dict.fromkeys(("DateTimeField", "DateField", "TimeField", "DurationField"), (type(None),)),
    "BooleanField": (bool, type(None)),
    **dict.fromkeys(
        ("IntegerField", "SmallIntegerField", "BigIntegerField", "PositiveIntegerField", "PositiveSmallIntegerField",
         "PositiveBigIntegerField", "ForeignKey", "AutoField", "BigAutoField"),
        (int, type(None)),
    ),
}


def _db_values(fields: Sequence[tuple[Any, tuple]], values: Iterable, connection) -> list:
    return [value if type(value) in as_is else f.get_db_prep_save(value, connection)
            for (f, as_is), value in zip(fields, values, strict=True)]


def _with_kinds(fields) -> list[tuple[Any, tuple]]:
    return [(f, _AS_IS.get(f.get_internal_type(), ())) for f in fields]


def insert_row(obj: Model) -> Model:
    """INSERT `obj`, a new row (the one `Model.objects.create` would write), and set the primary key the
    database gave it."""
    insert_rows([obj])
    return obj


def insert_rows(objs: Sequence[Model]) -> Sequence[Model]:
    """INSERT new rows of one model in one statement (as bulk_create would, without compiling it each
    time), and set the primary keys the database gave them, in order (RETURNING; one statement a row
    where the database cannot return them)."""
    if not objs:
        return objs
    connection = connections[DEFAULT_DB_ALIAS]
    model = type(objs[0])
    returning = connection.features.can_return_rows_from_bulk_insert
    if not returning and len(objs) > 1:
        for obj in objs:
            insert_rows([obj])
        return objs
    key = ("insert", model, connection.vendor, len(objs))
    if key not in _statements:
        meta, qn = model._meta, connection.ops.quote_name
        fields = [f for f in meta.concrete_fields if f is not meta.auto_field]
        row = f"({', '.join(['%s'] * len(fields))})"
        sql = (f"INSERT INTO {qn(meta.db_table)} ({', '.join(qn(f.column) for f in fields)}) "
               f"VALUES {', '.join([row] * len(objs))}")
        if returning:
            sql += f" RETURNING {qn(meta.pk.column)}"
        _statements[key] = (sql, _with_kinds(fields))
    sql, fields = _statements[key]
    params = []
    for obj in objs:
        params += _db_values(fields, [f.pre_save(obj, True) for f, _as_is in fields], connection)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        if returning:
            for obj, (pk,) in zip(objs, cursor.fetchall(), strict=True):
                obj.pk = pk
        else:
            objs[0].pk = cursor.lastrowid
    for obj in objs:
        obj._state.adding, obj._state.db = False, connection.alias
    return objs


def update_row(model: type[Model], pk: int, values: dict[str, Any], *, where: dict[str, Any] | None = None) -> int:
    """UPDATE row `pk` of `model` with `values` (by field name), only if its columns equal `where` (a
    compare-and-set; None there means IS NULL). Returns the number of rows changed, as QuerySet.update
    does."""
    return update_rows(model, [pk], values, where=where)


def update_rows(model: type[Model], pks: Sequence[int], values: dict[str, Any], *, where: dict[str, Any] | None = None) -> int:
    """`update_row` for the rows `pks` at once."""
    if not pks:
        return 0
    connection = connections[DEFAULT_DB_ALIAS]
    where = where or {}
    key = ("update", model, connection.vendor, len(pks), tuple(values), tuple((n, v is None) for n, v in where.items()))
    if key not in _statements:
        meta, qn = model._meta, connection.ops.quote_name
        assigned = [meta.get_field(n) for n in values]
        compared = [meta.get_field(n) for n, v in where.items() if v is not None]
        null = [meta.get_field(n) for n, v in where.items() if v is None]
        pk_test = f"{qn(meta.pk.column)} = %s" if len(pks) == 1 else f"{qn(meta.pk.column)} IN ({', '.join(['%s'] * len(pks))})"
        tests = [pk_test, *(f"{qn(f.column)} = %s" for f in compared), *(f"{qn(f.column)} IS NULL" for f in null)]
        sql = f"UPDATE {qn(meta.db_table)} SET {', '.join(f'{qn(f.column)} = %s' for f in assigned)} WHERE {' AND '.join(tests)}"
        _statements[key] = (sql, _with_kinds(assigned), _with_kinds(compared))
    sql, assigned, compared = _statements[key]
    params = [*_db_values(assigned, values.values(), connection), *pks,
              *_db_values(compared, [v for v in where.values() if v is not None], connection)]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


_LOCKED_ORDER = Prepared(lambda pk: Order.objects.select_for_update().filter(pk=pk), model=Order)


def locked_order(pk: int) -> Order:
    """Order `pk`, its row locked until the end of the transaction (SELECT … FOR UPDATE; SQLite's
    IMMEDIATE transaction already holds the write lock). Order.DoesNotExist if there is none."""
    found = _LOCKED_ORDER.instances(pk)
    if not found:
        raise Order.DoesNotExist(f"Order {pk} does not exist.")
    return found[0]


_TABLE_LABEL = Prepared(lambda pk: Table.objects.filter(pk=pk).values_list("label"))


def table_label(order: Order) -> str | None:
    """The label of the order's table (None without a table), reusing a table already loaded."""
    if order.table_id is None:
        return None
    if Order.table.is_cached(order):
        return order.table.label
    rows = _TABLE_LABEL.rows(order.table_id)
    return rows[0][0] if rows else None


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


_PRICING_ROWS = Prepared(
    lambda order_id: OrderLine.objects.filter(order_id=order_id)
    .exclude(status=OrderLine.Status.VOIDED)
    .order_by("course", "id")
    .values_list(
        "id", "parent_id", "unit_price", "quantity", "vat_rate", "discount_percent", "discount_amount", "standalone_price",
        "total", "course", "status",
    )
)


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
        self.lines.append(((line.course, line.pk), pricing.LineInput(
            key=line.pk, unit_price=line.unit_price, quantity=line.quantity, vat_rate=line.vat_rate,
            discount_percent=line.discount_percent, discount_amount=line.discount_amount,
            components=tuple(pricing.Component(key=c.pk, standalone_price=c.standalone_price, vat_rate=c.vat_rate) for c in components),
        )))
        self.stored[line.pk] = line.total

    def inputs(self) -> list[pricing.LineInput]:
        """In bill order (course, id): the order discount's odd cents depend on it."""
        return [line for _position, line in sorted(self.lines, key=lambda entry: entry[0])]


def stored_pricing(order: Order) -> StoredPricing:
    found = StoredPricing()
    parents, components = [], defaultdict(list)
    for pk, parent_id, unit_price, quantity, vat_rate, percent, amount, standalone, total, course, status in _PRICING_ROWS.rows(order.pk):
        if status == OrderLine.Status.HELD:
            found.held_courses.add(course)
        if parent_id is None:
            parents.append((pk, course, unit_price, quantity, vat_rate, percent, amount))
            found.stored[pk] = total
        else:
            components[parent_id].append((pk, standalone, vat_rate))
    found.lines = [
        ((course, pk), pricing.LineInput(
            key=pk, unit_price=unit_price, quantity=quantity, vat_rate=vat_rate, discount_percent=percent, discount_amount=amount,
            components=tuple(pricing.Component(key=c, standalone_price=p, vat_rate=r) for c, p, r in sorted(components[pk])),
        ))
        for pk, course, unit_price, quantity, vat_rate, percent, amount in parents
    ]
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
        return pricing.LineInput(
            key=self.pk, unit_price=self.unit_price, quantity=self.quantity, vat_rate=self.vat_rate,
            discount_percent=self.discount_percent, discount_amount=self.discount_amount,
            components=tuple(
                pricing.Component(key=c.pk, standalone_price=c.standalone_price, vat_rate=c.vat_rate) for c in self.components
            ),
        )


_BILL_ROWS = Prepared(
    lambda order_id: OrderLine.objects.filter(order_id=order_id)
    .exclude(status=OrderLine.Status.VOIDED)
    .order_by("course", "id", "modifiers__id")
    .values_list(
        "id", "name", "quantity", "unit_price", "vat_rate", "discount_percent", "discount_amount", "standalone_price",
        "parent_id", "modifiers__name",
    )
)


def bill_lines(order: Order) -> list[BillLine]:
    """What `billable_lines` gives (top-level lines not voided, in bill order; components not voided,
    in id order), as plain BillLines: the receipt's data in one query (a line comes once per modifier)."""
    top, components, line = [], defaultdict(list), None
    for *values, parent_id, modifier in _BILL_ROWS.rows(order.pk):
        if line is None or line.pk != values[0]:
            line = BillLine(*values)
            (top if parent_id is None else components[parent_id]).append(line)
        if modifier is not None:
            line.modifiers.append(modifier)
    for line in top:
        line.components = sorted(components.get(line.pk, ()), key=lambda c: c.pk)
    return top


_PAYMENTS = Prepared(
    lambda order_id: Payment.objects.filter(order_id=order_id).order_by("id").values_list("method", "amount", "tip")
)


def payments_of(order: Order) -> list[tuple[str, Decimal, Decimal]]:
    """(method, amount applied to the bill, tip) of each payment taken on `order`, oldest first."""
    return _PAYMENTS.rows(order.pk)


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


def order_as_dict(order: Order, *, written_lines: list[OrderLine] | None = None) -> dict:
    """The API's order shape (DESIGN.md: {"id", "number", "status", "total", ...}). `written_lines`:
    an order just written (orders.services.place_order), answered from memory: its billable lines in
    bill order with their modifiers and components loaded; it has no payments yet."""
    lines = billable_lines(order) if written_lines is None else written_lines
    totals = order_totals(order, lines)
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
