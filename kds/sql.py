"""The kitchen's hot statements, as explicit SQL (SQLite and PostgreSQL, both tested).

Every order sent to the kitchen runs them: the setup's version, the stations' numbers, and the
INSERTs of tickets, their items and the station events. Through the ORM, each of these is compiled to
SQL afresh on every call, which measured twice the time the database then takes to run it (about
2 ms of a 4-line send). Here each is a fixed string and a list of parameters. Datetimes still go
through their field's `get_db_prep_save`, so they are stored exactly as the ORM would store them, and the
statements run through Django's cursor (counted by assertNumQueries, inside the caller's transaction).
"""

from collections.abc import Sequence
from datetime import datetime

from django.db import connection

from kds.models import KitchenSetup, Station, StationEvent, Ticket, TicketItem

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
