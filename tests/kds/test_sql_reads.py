"""The screens' reads in kds.sql give exactly what the ORM reads of the same rows give (SQLite and
PostgreSQL: run with DATABASE_URL for the latter)."""

from datetime import UTC, datetime

from django.db.models import Q
from django.utils import timezone

from kds import services, sql
from kds.models import Station, StationEvent, Ticket, TicketItem
from orders.models import Item, Order, OrderLine, OrderLineModifier
from tests.kds.conftest import add_line, make_order

DONE_AT = datetime(2026, 3, 1, 12, 34, 56, 123456, tzinfo=UTC)


def _kitchen(menu, alice, table4):
    """Two orders at the kitchen: one with a table, server, modifier, seat, note, a set menu's part
    and items done and voided; one with neither table nor server."""
    first = make_order(server=alice, table=table4, customer_name="Dupont")
    formule = add_line(first, menu["formule"])
    steak = add_line(first, menu["steak"], quantity=2, modifiers=[menu["saignant"]], seat=3, note="sans sel")
    burger = add_line(first, menu["burger"], parent=formule)
    cola = add_line(first, menu["cola"], course=2)
    services.send_lines_to_kitchen(order=first, lines=[steak, burger, cola])
    second = make_order(table=None, source=Order.Source.KIOSK, order_type=Order.Type.TAKE_AWAY)
    services.send_lines_to_kitchen(order=second, lines=[add_line(second, menu["burger"])])
    TicketItem.objects.filter(line=steak).update(done_at=DONE_AT)
    TicketItem.objects.filter(line=cola).update(voided_at=timezone.now())
    return first, second


def test_station_seqs_are_the_stations_numbers(stations, menu, alice, table4):
    _kitchen(menu, alice, table4)
    ids = list(Station.objects.values_list("pk", flat=True))
    assert sql.station_seqs(ids) == dict(Station.objects.values_list("pk", "last_seq"))
    assert sql.station_seqs([]) == {}


def test_events_in_reads_each_range_by_station_and_seq(stations, menu, alice, table4):
    _kitchen(menu, alice, table4)
    grill, expo = stations["grill"], stations["expo"]
    ranges = [(grill.pk, 0, 2), (expo.pk, 1, 50)]
    wanted = Q(pk__in=[])
    for station_id, after, upto in ranges:
        wanted |= Q(station_id=station_id, seq__gt=after, seq__lte=upto)
    orm = list(
        StationEvent.objects.filter(wanted).order_by("station_id", "seq").values_list("station_id", "seq", "ticket_id", "kind")
    )
    assert len(orm) >= 3
    assert [tuple(row) for row in sql.events_in(ranges)] == orm
    assert sql.events_in([]) == []


def test_card_orders_match_the_orm(stations, menu, alice, table4):
    first, second = _kitchen(menu, alice, table4)
    orm = sorted(
        Order.objects.filter(pk__in=[first.pk, second.pk]).values_list(
            "pk", "number", "order_type", "source", "customer_name", "table__label", "server__first_name",
            "server__username",
        )
    )
    assert sorted(tuple(row) for row in sql.card_orders([first.pk, second.pk])) == orm
    assert orm[0][5:] == ("4", "Alice", "alice") and orm[1][5:] == (None, None, None)


def test_card_item_rows_match_the_orm(stations, menu, alice, table4):
    _kitchen(menu, alice, table4)
    ticket_ids = list(Ticket.objects.values_list("pk", flat=True))
    orm = list(
        TicketItem.objects.filter(ticket_id__in=ticket_ids).order_by("line__course", "line_id", "pk").values_list(
            "pk", "ticket_id", "line_id", "line__item_id", "quantity", "line__kitchen_name", "line__name",
            "line__note", "line__seat", "line__course", "done_at", "voided_at", "line__parent__kitchen_name",
            "line__parent__name",
        )
    )
    orm = [(*row[:12], row[12] or "", row[13] or "") for row in orm]
    rows = sql.card_item_rows(ticket_ids)
    # Same order by course then line; items of one line on several tickets come in any order.
    assert [row[2] for row in rows] == [row[2] for row in orm]
    assert sorted(rows) == sorted(orm)
    done = [row[10] for row in rows if row[10] is not None]
    assert done and all(value == DONE_AT and value.tzinfo is not None for value in done)
    assert any(row[11] is not None for row in rows)
    assert {row[13] for row in rows} == {"", "Formule"}
    assert sql.card_item_rows([]) == []


def test_modifiers_and_allergens_match_the_orm(stations, menu, alice, table4):
    _kitchen(menu, alice, table4)
    line_ids = list(OrderLine.objects.values_list("pk", flat=True))
    item_ids = list(Item.objects.values_list("pk", flat=True))
    mods, allergens = sql.modifiers_and_allergens(line_ids=line_ids, item_ids=item_ids)
    orm_mods = {}
    for line_id, kitchen_name, name in OrderLineModifier.objects.order_by("id").values_list("line_id", "kitchen_name", "name"):
        orm_mods.setdefault(line_id, []).append(kitchen_name or name)
    orm_allergens = {}
    for item_id, name in Item.allergens.through.objects.order_by("allergen__name").values_list("item_id", "allergen__name"):
        orm_allergens.setdefault(item_id, []).append(name)
    assert dict(mods) == orm_mods == {OrderLine.objects.get(item=menu["steak"]).pk: ["SAIG"]}
    assert dict(allergens) == orm_allergens == {menu["burger"].pk: ["Gluten"]}
    only_mods = sql.modifiers_and_allergens(line_ids=line_ids, item_ids=[])
    assert dict(only_mods[0]) == orm_mods and not only_mods[1]
    only_allergens = sql.modifiers_and_allergens(line_ids=[], item_ids=item_ids)
    assert not only_allergens[0] and dict(only_allergens[1]) == orm_allergens
    assert sql.modifiers_and_allergens(line_ids=[], item_ids=[]) == ({}, {})


def test_expo_progress_matches_the_orm(stations, menu, alice, table4):
    _kitchen(menu, alice, table4)
    Ticket.objects.filter(station=stations["bar"]).update(status=Ticket.Status.DONE)
    empty = Ticket.objects.create(order=Order.objects.first(), station=stations["fry"], expo_ticket=Ticket.objects.filter(
        station=stations["expo"]).first())  # a ticket with no item left comes once, without a line
    expo_ids = list(Ticket.objects.filter(station=stations["expo"]).values_list("pk", flat=True))
    tickets = list(Ticket.objects.filter(expo_ticket_id__in=expo_ids).values_list("pk", "expo_ticket_id", "station_id", "status"))
    items = {}
    for ticket_id, line_id, done_at in TicketItem.objects.filter(ticket__expo_ticket_id__in=expo_ids).values_list(
        "ticket_id", "line_id", "done_at"
    ):
        items.setdefault(ticket_id, []).append((line_id, done_at))
    orm = sorted((*ticket, *item) for ticket in tickets for item in items.get(ticket[0], [(None, None)]))
    rows = sorted(sql.expo_progress(expo_ids), key=lambda row: (row[0], row[4] or 0))
    assert rows == sorted(orm, key=lambda row: (row[0], row[4] or 0))
    assert (empty.pk, empty.expo_ticket_id, stations["fry"].pk, Ticket.Status.NEW, None, None) in rows
    assert any(row[5] == DONE_AT for row in rows) and any(row[3] == Ticket.Status.DONE for row in rows)
    assert sql.expo_progress([]) == []


def test_open_tickets_among_load_like_the_orm(stations, menu, alice, table4):
    _kitchen(menu, alice, table4)
    Ticket.objects.filter(station=stations["bar"]).update(status=Ticket.Status.DONE)
    Ticket.objects.filter(station=stations["grill"]).update(
        is_rush=True, started_at=DONE_AT, ready_at=DONE_AT, prep_seconds=75, course=2
    )
    ids = list(Ticket.objects.values_list("pk", flat=True))
    orm = {t.pk: t for t in Ticket.objects.filter(pk__in=ids).exclude(status=Ticket.Status.DONE)}
    loaded = {t.pk: t for t in sql.open_tickets_among(ids)}
    assert set(loaded) == set(orm) and len(orm) < len(ids)
    names = [f.attname for f in Ticket._meta.concrete_fields]
    for pk, ticket in loaded.items():
        assert [getattr(ticket, n) for n in names] == [getattr(orm[pk], n) for n in names]
        assert [type(getattr(ticket, n)) for n in names] == [type(getattr(orm[pk], n)) for n in names]
        assert not ticket._state.adding
    grill = [t for t in loaded.values() if t.station_id == stations["grill"].pk]
    assert grill and all(t.is_rush is True and t.ready_at == DONE_AT for t in grill)
    assert all(t.is_rush is False for t in loaded.values() if t.station_id != stations["grill"].pk)
    assert sql.open_tickets_among([]) == []
