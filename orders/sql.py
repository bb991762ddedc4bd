"""The orders app's hot statements, as explicit SQL (SQLite and PostgreSQL, both tested).

A tap on the till and a payment each run a handful of small statements. Through the ORM, each is
compiled to SQL afresh on every call, and measured: compiling took several times what the database
then takes to answer (bench/till.py, bench/sealing.py; a payment spent more time building its five
orders statements than sealing the receipt). Here each is a fixed string with fixed column names and
a list of parameters, run through Django's cursor (so inside the caller's transaction, and counted
by assertNumQueries). Everything else in the orders app goes through the ORM.

Values go in as the ORM would write them (datetimes through their field's `get_db_prep_save`) and
come out as the ORM would read them: Decimals quantized to the field's places (SQLite hands back
floats or ints for its numeric columns), aware UTC datetimes, dates, booleans. tests/orders/test_sql.py
checks every statement against what the ORM reads and writes, on SQLite and PostgreSQL.
"""

import datetime as dt
from collections.abc import Callable, Sequence
from decimal import Context, Decimal
from functools import lru_cache
from typing import Any

from django.db import IntegrityError, connection, transaction

from orders.models import DailyCounter, IdempotentRequest, Item, Modifier, Order, OrderLine, Payment

# As Django reads SQLite's numeric columns: a float (or int) made Decimal with 15 significant digits.
_FROM_FLOAT = Context(prec=15).create_decimal_from_float
_CENTS = Decimal("0.01")  # every DecimalField of orders has two decimal places (MONEY, VAT, discounts)


def decimal(value: Any) -> Decimal | None:
    """A numeric column as the ORM reads it: PostgreSQL gives Decimals (with the column's scale),
    SQLite floats or ints (24.00 is stored as the integer 24)."""
    if value is None or isinstance(value, Decimal):
        return value
    return _from_sqlite(value)


@lru_cache(maxsize=4096)
def _from_sqlite(value: float | int | str) -> Decimal:
    """Cached: a restaurant's prices, rates and totals are a few hundred distinct values, read over and
    over (Decimals are immutable, so sharing them is safe)."""
    if isinstance(value, str):
        return Decimal(value).quantize(_CENTS)
    return _FROM_FLOAT(value).quantize(_CENTS)


def aware(value: Any) -> dt.datetime | None:
    """A timestamp column as the ORM reads it: aware (PostgreSQL), or naive UTC (SQLite) made aware."""
    if value is None:
        return None
    if not isinstance(value, dt.datetime):
        value = dt.datetime.fromisoformat(str(value))
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def day(value: Any) -> dt.date | None:
    if value is None or isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value))


def _as_is(value: Any) -> Any:
    return value


_READERS: dict[str, Callable[[Any], Any]] = {
    "DecimalField": decimal, "DateTimeField": aware, "DateField": day,
    "BooleanField": lambda value: value if value is None else bool(value),
}


def _readers(model, columns: Sequence[str]) -> list[Callable[[Any], Any]]:
    """The converter of each column (by attname: `table_id`, not `table`)."""
    fields = {f.attname: f for f in model._meta.concrete_fields}
    return [_READERS.get(fields[name].get_internal_type(), _as_is) for name in columns]


def _prep(model, name: str, value: Any) -> Any:
    """A parameter as the ORM would send it: datetimes, dates and JSON through their field (naive UTC
    text on SQLite), Decimals as they are (both drivers take them), the rest as it is."""
    if isinstance(value, (dt.date, dict, list)):
        return model._meta.get_field(name).get_db_prep_save(value, connection)
    return value


def _in_bulk(model, columns: Sequence[str], readers, ids: Sequence[int]) -> dict:
    """{id: instance} of the rows of `model` with these ids (every column of `columns`, its field order)."""
    if not ids:
        return {}
    placeholders = ", ".join(["%s"] * len(ids))
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT {_columns(columns)} FROM "{model._meta.db_table}" WHERE "id" IN ({placeholders})', list(ids))
        rows = cursor.fetchall()
    return {
        row[0]: model.from_db(connection.alias, list(columns), [read(v) for read, v in zip(readers, row)]) for row in rows
    }


def _columns(names: Sequence[str], table: str = "") -> str:
    prefix = f'"{table}".' if table else ""
    return ", ".join(f'{prefix}"{name}"' for name in names)


def _lock_suffix() -> str:
    """FOR UPDATE where the database has row locks; SQLite's IMMEDIATE transaction already holds the
    database's write lock."""
    return " FOR UPDATE" if connection.features.has_select_for_update else ""


def _returning() -> bool:
    return connection.features.can_return_columns_from_insert


# --- Orders ------------------------------------------------------------------------------------------

# Every column of orders_order, in the model's field order (Order.from_db takes them so; test_sql checks).
ORDER_COLUMNS = (
    "id", "number", "business_day", "order_type", "source", "status", "table_id", "covers", "customer_name",
    "server_id", "device_id", "is_rush", "note", "discount_percent", "discount_amount", "total", "pre_bill_count",
    "discount_approved_by_id", "merged_into_id", "created_at", "closed_at",
)
_ORDER_READERS = _readers(Order, ORDER_COLUMNS)


def locked_order(pk: int) -> Order | None:
    """Order `pk` with every column, its row locked until the end of the transaction, or None (also for
    an id no column could hold, as the ORM answers)."""
    if not -(2**63) <= pk < 2**63:
        return None
    columns = _columns(ORDER_COLUMNS)
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT {columns} FROM "orders_order" WHERE "id" = %s' + _lock_suffix(), [pk])
        row = cursor.fetchone()
    if row is None:
        return None
    return Order.from_db(connection.alias, list(ORDER_COLUMNS), [read(v) for read, v in zip(_ORDER_READERS, row)])


def set_order_total(pk: int, total: Decimal) -> None:
    with connection.cursor() as cursor:
        cursor.execute('UPDATE "orders_order" SET "total" = %s WHERE "id" = %s', [total, pk])


def close_paid(pk: int, closed_at: dt.datetime) -> bool:
    """OPEN → PAID with the closing time, as a compare-and-set: False when the order was not open."""
    with connection.cursor() as cursor:
        cursor.execute(
            'UPDATE "orders_order" SET "status" = %s, "closed_at" = %s WHERE "id" = %s AND "status" = %s',
            [Order.Status.PAID, _prep(Order, "closed_at", closed_at), pk, Order.Status.OPEN],
        )
        return cursor.rowcount == 1


# --- The menu as a tap reads it --------------------------------------------------------------------

# Every column of orders_item and orders_modifier, in the models' field order (test_sql checks).
ITEM_COLUMNS = (
    "id", "category_id", "name", "kitchen_name", "description", "price", "vat_eat_in", "vat_take_away", "image",
    "available", "remaining", "is_set_menu", "position",
)
MODIFIER_COLUMNS = ("id", "group_id", "name", "kitchen_name", "price_delta", "available", "position")
_ITEM_READERS = _readers(Item, ITEM_COLUMNS)
_MODIFIER_READERS = _readers(Modifier, MODIFIER_COLUMNS)


def items_by_id(ids: Sequence[int]) -> dict[int, Item]:
    """What `Item.objects.in_bulk(ids)` gives: availability and remaining portions, read on every tap."""
    return _in_bulk(Item, ITEM_COLUMNS, _ITEM_READERS, ids)


def modifiers_by_id(ids: Sequence[int]) -> dict[int, Modifier]:
    """What `Modifier.objects.in_bulk(ids)` gives."""
    return _in_bulk(Modifier, MODIFIER_COLUMNS, _MODIFIER_READERS, ids)


# --- Idempotency keys ----------------------------------------------------------------------------------


def reserve_key(*, scope: str, device_id: int, key: str, request_hash: str, created_at: dt.datetime) -> int:
    """INSERT the key's row, not answered yet (status 0); IntegrityError when (scope, device, key) is
    taken. Returns its id. Run it in a savepoint: on PostgreSQL the error aborts it."""
    values = [scope, device_id, key, request_hash, 0, _prep(IdempotentRequest, "response", {}),
              _prep(IdempotentRequest, "created_at", created_at)]
    sql = (
        'INSERT INTO "orders_idempotentrequest" ("scope", "device_id", "key", "request_hash", "status_code", '
        '"response", "created_at") VALUES (%s, %s, %s, %s, %s, %s, %s)'
    )
    with connection.cursor() as cursor:
        if _returning():
            cursor.execute(sql + ' RETURNING "id"', values)
            return cursor.fetchone()[0]
        cursor.execute(sql, values)
        return cursor.lastrowid


def store_answer(pk: int, *, status: int, response: dict) -> None:
    """The answer a retry with the same key will get."""
    with connection.cursor() as cursor:
        cursor.execute(
            'UPDATE "orders_idempotentrequest" SET "status_code" = %s, "response" = %s WHERE "id" = %s',
            [status, _prep(IdempotentRequest, "response", response), pk],
        )


# --- Payments ----------------------------------------------------------------------------------------


def payments_of(order_id: int) -> list[tuple[str, Decimal, Decimal]]:
    """(method, amount, tip) of each payment of the order, oldest first."""
    with connection.cursor() as cursor:
        cursor.execute(
            'SELECT "method", "amount", "tip" FROM "orders_payment" WHERE "order_id" = %s ORDER BY "id"', [order_id]
        )
        return [(method, decimal(amount), decimal(tip)) for method, amount, tip in cursor.fetchall()]


PAYMENT_COLUMNS = (
    "order_id", "method", "amount", "tendered", "change", "tip", "account_id", "operator_id", "device_id", "created_at",
)


def insert_payment(values: dict) -> Payment:
    """INSERT a payment (`values`: every column of PAYMENT_COLUMNS) and return it as the ORM's
    `Payment.objects.create` would (its id set, saved)."""
    params = [_prep(Payment, name, values[name]) for name in PAYMENT_COLUMNS]
    sql = (
        f'INSERT INTO "orders_payment" ({_columns(PAYMENT_COLUMNS)}) '
        f"VALUES ({', '.join(['%s'] * len(PAYMENT_COLUMNS))})"
    )
    with connection.cursor() as cursor:
        if _returning():
            cursor.execute(sql + ' RETURNING "id"', params)
            pk = cursor.fetchone()[0]
        else:
            cursor.execute(sql, params)
            pk = cursor.lastrowid
    return Payment.from_db(connection.alias, ["id", *PAYMENT_COLUMNS], [pk, *(values[name] for name in PAYMENT_COLUMNS)])


# --- Lines -------------------------------------------------------------------------------------------

# What pricing needs of each billable line (orders.selectors.PricingRow, in its field order).
PRICING_COLUMNS = (
    "id", "parent_id", "unit_price", "quantity", "vat_rate", "discount_percent", "discount_amount", "standalone_price",
    "total", "course", "status",
)
_PRICING_READERS = _readers(OrderLine, PRICING_COLUMNS)


def pricing_rows(order_id: int) -> list[list]:
    """The order's lines that are not voided, in (course, id) order, with PRICING_COLUMNS."""
    columns = _columns(PRICING_COLUMNS)
    with connection.cursor() as cursor:
        cursor.execute(
            f'SELECT {columns} FROM "orders_orderline" WHERE "order_id" = %s AND NOT ("status" = %s) '
            'ORDER BY "course", "id"',
            [order_id, OrderLine.Status.VOIDED],
        )
        return [[read(v) for read, v in zip(_PRICING_READERS, row)] for row in cursor.fetchall()]


def _lines_with_modifiers(columns: Sequence[str], readers, order_id: int, *, billable: bool) -> list[list]:
    """Lines of the order in (course, id) order, each once per modifier (its name last, None without
    modifiers); `billable`: not voided."""
    selected = _columns(columns, "orders_orderline")
    where = ' AND NOT ("orders_orderline"."status" = %s)' if billable else ""
    sql = (
        f'SELECT {selected}, "orders_orderlinemodifier"."name" FROM "orders_orderline" '
        'LEFT OUTER JOIN "orders_orderlinemodifier" ON ("orders_orderline"."id" = "orders_orderlinemodifier"."line_id") '
        f'WHERE "orders_orderline"."order_id" = %s{where} '
        'ORDER BY "orders_orderline"."course", "orders_orderline"."id", "orders_orderlinemodifier"."id"'
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [order_id, OrderLine.Status.VOIDED] if billable else [order_id])
        return [[*(read(v) for read, v in zip(readers, row)), row[-1]] for row in cursor.fetchall()]


# Every column of orders_orderline but its id, in the model's field order.
LINE_COLUMNS = (
    "order_id", "item_id", "parent_id", "name", "kitchen_name", "quantity", "unit_price", "vat_rate", "discount_percent",
    "discount_amount", "discount_approved_by_id", "total", "standalone_price", "note", "seat", "course", "status",
    "sent_at", "fired_at", "voided_at", "void_reason", "created_at",
)
_LINES_PER_STATEMENT = 900 // len(LINE_COLUMNS)  # a conservative bound on parameters (SQLite's old limit is 999)


def insert_lines(lines: Sequence[OrderLine]) -> None:
    """INSERT new lines (what `OrderLine.objects.bulk_create` does on every tap) and give them their ids,
    in the order given. Ids are handed out in the order of the VALUES rows, so the ids RETURNed are
    sorted rather than trusted to come back in that order (SQLite does not promise it)."""
    head = f'INSERT INTO "orders_orderline" ({_columns(LINE_COLUMNS)}) VALUES '
    one = "(" + ", ".join(["%s"] * len(LINE_COLUMNS)) + ")"
    with connection.cursor() as cursor:
        for start in range(0, len(lines), _LINES_PER_STATEMENT):
            chunk = lines[start:start + _LINES_PER_STATEMENT]
            params = [_prep(OrderLine, name, getattr(line, name)) for line in chunk for name in LINE_COLUMNS]
            if connection.features.can_return_rows_from_bulk_insert:
                cursor.execute(head + ", ".join([one] * len(chunk)) + ' RETURNING "id"', params)
                ids = sorted(row[0] for row in cursor.fetchall())
            else:  # one row at a time
                ids = []
                for index in range(len(chunk)):
                    cursor.execute(head + one, params[index * len(LINE_COLUMNS):(index + 1) * len(LINE_COLUMNS)])
                    ids.append(cursor.lastrowid)
            for line, pk in zip(chunk, ids, strict=True):
                line.pk = pk


# What a receipt prints of each billable line (orders.selectors.BillLine), then its parent.
BILL_COLUMNS = (
    "id", "name", "quantity", "unit_price", "vat_rate", "discount_percent", "discount_amount", "standalone_price",
    "parent_id",
)
_BILL_READERS = _readers(OrderLine, BILL_COLUMNS)


def bill_rows(order_id: int) -> list[list]:
    """BILL_COLUMNS and a modifier name of the order's billable lines (see `_lines_with_modifiers`)."""
    return _lines_with_modifiers(BILL_COLUMNS, _BILL_READERS, order_id, billable=True)


# What the ticket pane shows of each line (orders.selectors.TicketLine, in its field order).
TICKET_COLUMNS = (
    "id", "parent_id", "name", "quantity", "unit_price", "total", "note", "seat", "course", "status", "sent_at",
    "void_reason", "discount_percent", "discount_amount",
)
_TICKET_READERS = _readers(OrderLine, TICKET_COLUMNS)


def ticket_rows(order_id: int) -> list[list]:
    """TICKET_COLUMNS and a modifier name of every line of the order, voided ones too."""
    return _lines_with_modifiers(TICKET_COLUMNS, _TICKET_READERS, order_id, billable=False)


# --- Order numbers -----------------------------------------------------------------------------------


def next_number(business_day: dt.date) -> int:
    """The next order number of the day: 1, 2, 3 … within each business day, never twice the same.
    The day's first order creates its counter row (through the ORM: once a day)."""
    number = count_up(business_day)
    if number is None:
        try:
            with transaction.atomic():
                DailyCounter.objects.create(business_day=business_day, last_number=1)
                return 1
        except IntegrityError:  # a concurrent first order of the day created it
            number = count_up(business_day)
    return number


def count_up(business_day: dt.date) -> int | None:
    """last_number + 1 on the day's counter, and the new number; None when the day has no counter yet.

    `UPDATE … RETURNING` bumps the counter and reads the new number at once (PostgreSQL, SQLite ≥ 3.35;
    one more SELECT elsewhere). The UPDATE holds the counter row's lock until commit, so concurrent
    orders queue here for a moment instead of computing the same "max + 1"."""
    sql = 'UPDATE "orders_dailycounter" SET "last_number" = "last_number" + 1 WHERE "business_day" = %s'
    param = _prep(DailyCounter, "business_day", business_day)
    with connection.cursor() as cursor:
        if _returning():
            cursor.execute(sql + ' RETURNING "last_number"', [param])
            row = cursor.fetchone()
            return row[0] if row else None
        cursor.execute(sql, [param])
        if not cursor.rowcount:
            return None
        cursor.execute('SELECT "last_number" FROM "orders_dailycounter" WHERE "business_day" = %s', [param])
        return cursor.fetchone()[0]
