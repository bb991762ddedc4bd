"""The kitchen's hot statements, as explicit SQL (SQLite and PostgreSQL, both tested).

Every order sent to the kitchen runs them: the setup's version, the stations' numbers, and the
INSERTs of tickets, their items and the station events. Through the ORM, each of these is compiled to
SQL afresh on every call, which measured twice the time the database then takes to run it (about
2 ms of a 4-line send). Here each is a fixed string and a list of parameters. Datetimes still go
through their field's `get_db_prep_save`, so they are stored exactly as the ORM would store them, and the
statements run through Django's cursor (counted by assertNumQueries, inside the caller's transaction).
"""

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from django.conf import settings
from django.db import connection, models
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from accounts.models import User
from kds.models import KitchenSetup, Station, StationEvent, Ticket, TicketItem
from orders.models import Allergen, Item, Order, OrderLine, OrderLineModifier, Table

# Values the drivers take as they are, whatever the column (ids, texts, flags, NULL): the rest
# (datetimes) goes through the field's get_db_prep_save, as the ORM would.
_AS_IS = {int, str, bool, type(None)}
# A conservative bound on the parameters of one statement (SQLite's historical limit is 999).
MAX_PARAMS = 900


def _quote(name: str) -> str:
    return connection.ops.quote_name(name)


def _insert(model, fields: Sequence[str], rows: list[tuple]) -> list[int]:
    """INSERT `rows` (values in the order of `fields`) in as few statements as the parameter bound
    allows; returns the new ids, in the order of the rows."""
    if not rows:
        return []
    columns = [model._meta.get_field(name) for name in fields]
    head = (
        f"INSERT INTO {_quote(model._meta.db_table)} ({', '.join(_quote(c.column) for c in columns)}) VALUES "
    )
    one = "(" + ", ".join("%s" for _ in columns) + ")"
    tail = f" RETURNING {_quote(model._meta.pk.column)}"
    per_statement = max(1, MAX_PARAMS // len(columns))
    ids = []
    with connection.cursor() as cursor:
        for start in range(0, len(rows), per_statement):
            chunk = rows[start:start + per_statement]
            params = [
                value if type(value) in _AS_IS else column.get_db_prep_save(value, connection)
                for row in chunk
                for column, value in zip(columns, row)
            ]
            cursor.execute(head + ", ".join(one for _ in chunk) + tail, params)
            ids.extend(row[0] for row in cursor.fetchall())
    return ids


_TICKET_FIELDS = (
    "order", "station", "expo_ticket", "status", "course", "is_rush", "created_at", "sent_at", "started_at",
    "bumped_at", "ready_at", "prep_seconds", "seq",
)


def insert_tickets(tickets: list[Ticket]) -> None:
    """Write new tickets (one statement) and give them their ids."""
    rows = [
        (t.order_id, t.station_id, t.expo_ticket_id, t.status, t.course, t.is_rush, t.created_at, t.sent_at,
         t.started_at, t.bumped_at, t.ready_at, t.prep_seconds, t.seq)
        for t in tickets
    ]
    for ticket, pk in zip(tickets, _insert(Ticket, _TICKET_FIELDS, rows), strict=True):
        ticket.pk = pk


def insert_ticket_items(rows: list[tuple[int, int, int]]) -> None:
    """Write (ticket id, line id, quantity) rows."""
    _insert(TicketItem, ("ticket", "line", "quantity"), rows)


def insert_events(rows: list[tuple[int, int, str, int | None, datetime]]) -> None:
    """Write (station id, seq, kind, ticket id, created at) rows."""
    _insert(StationEvent, ("station", "seq", "kind", "ticket", "created_at"), rows)


def setup_version() -> int | None:
    """KitchenSetup.version, None before the first change (kds.setup compares it on every send)."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {_quote('version')} FROM {_quote(KitchenSetup._meta.db_table)} WHERE id = %s", [1])
        row = cursor.fetchone()
    return row[0] if row else None


def allocate(counts: dict[int, int]) -> dict[int, int]:
    """Reserve counts[station id] numbers at each station; return each station's new last number.
    Rows are locked in ascending id order first (PostgreSQL; SQLite's write lock is already held),
    then bumped in one UPDATE … RETURNING."""
    ids = sorted(counts)
    if not ids:
        return {}
    if connection.features.has_select_for_update:  # SQLite: the IMMEDIATE transaction holds the lock
        list(Station.objects.select_for_update().filter(pk__in=ids).order_by("pk").values_list("pk", flat=True))
    cases = " ".join("WHEN %s THEN %s" for _ in ids)
    placeholders = ", ".join("%s" for _ in ids)
    statement = (
        f"UPDATE {_quote(Station._meta.db_table)} SET last_seq = last_seq + CASE id {cases} ELSE 0 END "
        f"WHERE id IN ({placeholders}) RETURNING id, last_seq"
    )
    params = [value for station_id in ids for value in (station_id, counts[station_id])] + ids
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return dict(cursor.fetchall())


# --- The screens' reads -------------------------------------------------------------------------------
# Each order rings four stations and every screen of each draws its frame: these reads run for every
# one of them. Their values come back as the ORM gives them (datetimes aware, on both databases).


def _aware(value):
    """A datetime column's value as the ORM returns it: SQLite gives text, PostgreSQL an aware datetime."""
    if value is None:
        return None
    if not isinstance(value, datetime):
        value = parse_datetime(value)
    if settings.USE_TZ and timezone.is_naive(value):
        value = timezone.make_aware(value, connection.timezone)
    return value


def _placeholders(values) -> str:
    return ", ".join("%s" for _ in values)


def station_seqs(station_ids: list[int]) -> dict[int, int]:
    """{station id: last_seq} of these stations."""
    if not station_ids:
        return {}
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id, last_seq FROM {_quote(Station._meta.db_table)} WHERE id IN ({_placeholders(station_ids)})",
            list(station_ids),
        )
        return dict(cursor.fetchall())


def events_in(ranges: list[tuple[int, int, int]]) -> list[tuple[int, int, int | None, str]]:
    """(station id, seq, ticket id, kind) of the events of (station id, after seq, up to seq) ranges,
    by station and seq: one statement whatever their number."""
    if not ranges:
        return []
    wanted = " OR ".join("(station_id = %s AND seq > %s AND seq <= %s)" for _ in ranges)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT station_id, seq, ticket_id, kind FROM {_quote(StationEvent._meta.db_table)} "
            f"WHERE {wanted} ORDER BY station_id, seq",
            [value for triple in ranges for value in triple],
        )
        return cursor.fetchall()


def card_orders(order_ids: list[int]) -> list[tuple[int, int, str, str, str, str | None, str | None, str | None]]:
    """(order id, number, order type, source, customer name, table label, server's first name, server's
    username) of these orders (label and names None when the order has no table or server)."""
    if not order_ids:
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT o.id, o.number, o.order_type, o.source, o.customer_name, t.label, u.first_name, u.username "
            f"FROM {_quote(Order._meta.db_table)} o "
            f"LEFT JOIN {_quote(Table._meta.db_table)} t ON t.id = o.table_id "
            f"LEFT JOIN {_quote(User._meta.db_table)} u ON u.id = o.server_id "
            f"WHERE o.id IN ({_placeholders(order_ids)})",
            list(order_ids),
        )
        return cursor.fetchall()


def card_item_rows(ticket_ids: list[int]) -> list[tuple]:
    """The items of these tickets with their order line, by course then line: (item id, ticket id,
    line id, menu item id, quantity, kitchen name, name, note, seat, course, done at, voided at, the
    kitchen name and name of the line it is part of ("" for a line of its own))."""
    if not ticket_ids:
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT ti.id, ti.ticket_id, ti.line_id, l.item_id, ti.quantity, l.kitchen_name, l.name, l.note, "
            f"l.seat, l.course, ti.done_at, ti.voided_at, p.kitchen_name, p.name "
            f"FROM {_quote(TicketItem._meta.db_table)} ti "
            f"JOIN {_quote(OrderLine._meta.db_table)} l ON l.id = ti.line_id "
            f"LEFT JOIN {_quote(OrderLine._meta.db_table)} p ON p.id = l.parent_id "
            f"WHERE ti.ticket_id IN ({_placeholders(ticket_ids)}) ORDER BY l.course, ti.line_id",
            list(ticket_ids),
        )
        rows = cursor.fetchall()
    return [
        (*row[:10], _aware(row[10]), _aware(row[11]), row[12] or "", row[13] or "")
        for row in rows
    ]


def modifiers_and_allergens(*, line_ids: list[int], item_ids: list[int]) -> tuple[dict, dict]:
    """({line id: [modifier kitchen name or name, in the order they were chosen]}, {menu item id:
    [allergen name, alphabetical]}), in one statement."""
    mods: dict[int, list[str]] = defaultdict(list)
    allergens: dict[int, list[str]] = defaultdict(list)
    parts, params = [], []
    if line_ids:
        parts.append(
            f"SELECT 0, line_id, kitchen_name, name, id FROM {_quote(OrderLineModifier._meta.db_table)} "
            f"WHERE line_id IN ({_placeholders(line_ids)})"
        )
        params += list(line_ids)
    if item_ids:
        through = Item.allergens.through
        parts.append(
            f"SELECT 1, ia.item_id, '', a.name, 0 FROM {_quote(through._meta.db_table)} ia "
            f"JOIN {_quote(Allergen._meta.db_table)} a ON a.id = ia.allergen_id "
            f"WHERE ia.item_id IN ({_placeholders(item_ids)})"
        )
        params += list(item_ids)
    if not parts:
        return mods, allergens
    with connection.cursor() as cursor:
        cursor.execute(" UNION ALL ".join(parts) + " ORDER BY 1, 5, 4", params)
        for kind, owner_id, kitchen_name, name, _id in cursor.fetchall():
            if kind == 0:
                mods[owner_id].append(kitchen_name or name)
            else:
                allergens[owner_id].append(name)
    return mods, allergens


def expo_progress(expo_ticket_ids: list[int]) -> list[tuple[int, int, int, str, int | None, object]]:
    """The preparing tickets of these expo tickets with each of their items, in one statement:
    (ticket id, expo ticket id, station id, status, line id, item done at); a ticket without items
    comes once, with line id and done at None."""
    if not expo_ticket_ids:
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT t.id, t.expo_ticket_id, t.station_id, t.status, ti.line_id, ti.done_at "
            f"FROM {_quote(Ticket._meta.db_table)} t "
            f"LEFT JOIN {_quote(TicketItem._meta.db_table)} ti ON ti.ticket_id = t.id "
            f"WHERE t.expo_ticket_id IN ({_placeholders(expo_ticket_ids)})",
            list(expo_ticket_ids),
        )
        return [(*row[:5], _aware(row[5])) for row in cursor.fetchall()]


def open_tickets_among(ticket_ids: list[int]) -> list[Ticket]:
    """Those of these tickets not yet done, as Ticket instances loaded the way the ORM loads them
    (Model.from_db, with their values converted as the ORM converts them)."""
    if not ticket_ids:
        return []
    fields = Ticket._meta.concrete_fields
    convert = [
        _aware if isinstance(f, models.DateTimeField) else _bool if isinstance(f, models.BooleanField) else None
        for f in fields
    ]
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {', '.join(_quote(f.column) for f in fields)} FROM {_quote(Ticket._meta.db_table)} "
            f"WHERE id IN ({_placeholders(ticket_ids)}) AND NOT (status = %s)",
            [*ticket_ids, Ticket.Status.DONE.value],
        )
        rows = cursor.fetchall()
    names = [f.attname for f in fields]
    return [
        Ticket.from_db(connection.alias, names, [c(v) if c else v for c, v in zip(convert, row)])
        for row in rows
    ]


def _bool(value):
    """SQLite gives 0/1 for a boolean column; the ORM gives bool."""
    return None if value is None else bool(value)
