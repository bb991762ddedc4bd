"""Kitchen writes: routing, tickets, events and their numbers, bumps, recalls, voids, held courses."""

import threading
import time

import pytest
from django.db import OperationalError, close_old_connections, connection, transaction

from kds import services, setup, sql
from kds.models import KitchenSetup, Station, StationEvent, Ticket, TicketItem
from printing.models import PrintJob
from tests.kds.test_printing import station_printer
from orders.models import OrderLine
from tests.kds.conftest import add_line, make_order


def send(order, lines):
    return services.send_lines_to_kitchen(order=order, lines=lines)


def by_station(tickets):
    return {t.station.slug: t for t in tickets}


def test_it_routes_an_item_to_every_station_that_makes_it(stations, menu, alice, table4):
    order = make_order(server=alice, table=table4)
    steak = add_line(order, menu["steak"], quantity=2)
    cola = add_line(order, menu["cola"])
    tickets = by_station(send(order, [steak, cola]))
    assert set(tickets) == {"grill", "fry", "bar", "expo"}
    assert [i.line for i in tickets["grill"].items.all()] == [steak]
    assert [i.line for i in tickets["fry"].items.all()] == [steak]
    assert [i.line for i in tickets["bar"].items.all()] == [cola]
    assert {i.line for i in tickets["expo"].items.all()} == {steak, cola}
    assert tickets["grill"].items.get().quantity == 2
    assert all(t.expo_ticket == tickets["expo"] for slug, t in tickets.items() if slug != "expo")


def test_it_prefers_an_items_own_stations_to_its_category(stations, menu):
    order = make_order()
    burger = add_line(order, menu["burger"])  # category Plats → grill only
    tickets = by_station(send(order, [burger]))
    assert set(tickets) == {"grill", "expo"}


def test_it_sends_unrouted_items_to_the_default_station(stations, menu):
    stations["grill"].categories.clear()
    stations["bar"].is_default = True
    stations["bar"].save()
    order = make_order()
    burger = add_line(order, menu["burger"])
    assert set(by_station(send(order, [burger]))) == {"bar", "expo"}


def burger_stations(menu) -> set[str]:
    order = make_order()
    return set(by_station(send(order, [add_line(order, menu["burger"])])))


def test_it_sees_a_routing_change_on_the_next_order(stations, menu):
    """The setup is kept in memory (kds.setup); changing a rule through the ORM (the admin) is seen."""
    assert burger_stations(menu) == {"grill", "expo"}
    stations["bar"].items.add(menu["burger"])
    assert burger_stations(menu) == {"bar", "expo"}
    menu["burger"].stations.remove(stations["bar"])
    assert burger_stations(menu) == {"grill", "expo"}
    stations["fry"].is_default = True
    stations["fry"].save()
    stations["grill"].categories.clear()
    assert burger_stations(menu) == {"fry", "expo"}


def test_it_sees_a_change_made_by_another_process_once_the_version_moves(stations, menu):
    assert burger_stations(menu) == {"grill", "expo"}
    # Another process changes the rules and bumps the version; here, the change without its signal...
    Station.categories.through.objects.filter(station=stations["grill"]).update(station=stations["bar"])
    assert burger_stations(menu) == {"grill", "expo"}  # ...is not seen: this process reads its copy
    KitchenSetup.objects.filter(pk=1).update(version=-42)  # ...until the version it compares moves
    assert burger_stations(menu) == {"bar", "expo"}


def test_it_reads_the_setup_version_only_when_nothing_changed(stations, menu, django_assert_num_queries):
    setup.forget()
    first = setup.current()
    with django_assert_num_queries(1):
        assert setup.current() is first
    assert [s.slug for s in setup.stations()] == ["grill", "fry", "bar", "expo"]
    setup.stations()[0].last_seq = 99  # the caller's own copies
    assert setup.current().stations[0].last_seq == 0


def test_it_sees_a_printer_disabled_or_removed_on_the_next_order(stations, menu):
    printer = station_printer(stations["grill"], name="Grill", host="127.0.0.1", port=9)
    burger_stations(menu)
    assert PrintJob.objects.count() == 1
    printer.enabled = False
    printer.save()
    burger_stations(menu)
    assert PrintJob.objects.count() == 1
    printer.enabled = True
    printer.save()
    burger_stations(menu)
    assert PrintJob.objects.count() == 2
    printer.delete()  # and its jobs with it
    burger_stations(menu)
    assert not PrintJob.objects.exists()


def test_it_leaves_set_menu_headers_out_and_cooks_their_components(stations, menu):
    order = make_order()
    header = add_line(order, menu["formule"])
    burger = add_line(order, menu["burger"], parent=header)
    tickets = by_station(send(order, [header, burger]))
    assert [i.line for i in tickets["grill"].items.all()] == [burger]
    assert TicketItem.objects.filter(line=header).count() == 0


def test_it_numbers_events_per_station_without_gaps(stations, menu, published, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(3):
            order = make_order()
            send(order, [add_line(order, menu["steak"]), add_line(order, menu["cola"])])
    for station in Station.objects.all():
        seqs = list(StationEvent.objects.filter(station=station).values_list("seq", flat=True))
        assert seqs == [1, 2, 3]
        assert station.last_seq == 3
        assert list(station.tickets.order_by("id").values_list("seq", flat=True)) == [1, 2, 3]
    groups = [group for group, _event in published]
    assert groups.count("station.grill") == 3 and groups.count("expo") == 3 and groups.count("ready") == 3
    assert ("station.bar", {"type": "kds.event", "station": "bar", "seq": 3}) in published


def test_it_publishes_nothing_when_the_order_rolls_back(stations, menu, published, django_capture_on_commit_callbacks):
    station_printer(stations["grill"], name="Grill", host="127.0.0.1", port=9)
    with django_capture_on_commit_callbacks(execute=True):
        with pytest.raises(RuntimeError):
            with transaction.atomic():
                order = make_order()
                send(order, [add_line(order, menu["steak"])])
                raise RuntimeError("payment refused")
    assert published == []
    assert Ticket.objects.count() == 0 and not PrintJob.objects.exists()  # the print job went with its order
    assert Station.objects.get(slug="grill").last_seq == 0


def test_it_forgets_a_setup_change_that_rolled_back(stations, menu):
    """A change read (and kept in memory) inside its own transaction, then rolled back, is not used."""
    assert burger_stations(menu) == {"grill", "expo"}
    with pytest.raises(RuntimeError), transaction.atomic():
        stations["bar"].items.add(menu["burger"])
        assert burger_stations(menu) == {"bar", "expo"}
        raise RuntimeError("changed my mind")
    assert burger_stations(menu) == {"grill", "expo"}


def test_it_bumps_once_and_answers_already_the_second_time(stations, menu, published, django_capture_on_commit_callbacks):
    order = make_order()
    grill = by_station(send(order, [add_line(order, menu["burger"])]))["grill"]
    with django_capture_on_commit_callbacks(execute=True):
        ticket = services.set_ticket_status(station=stations["grill"], ticket_id=grill.pk, to="done")
    assert ticket.status == "done" and ticket.bumped_at is not None and ticket.prep_seconds is not None
    seq = Station.objects.get(slug="grill").last_seq
    with pytest.raises(services.KitchenError) as exc:
        services.set_ticket_status(station=stations["grill"], ticket_id=str(grill.pk), to="done")
    assert exc.value.code == "already"
    assert Station.objects.get(slug="grill").last_seq == seq


@pytest.mark.parametrize(("ticket_id", "code"), [(999999, "unknown_ticket"), ("abc", "unknown_ticket"), (None, "unknown_ticket")])
def test_it_refuses_unknown_tickets(stations, ticket_id, code):
    with pytest.raises(services.KitchenError) as exc:
        services.set_ticket_status(station=stations["grill"], ticket_id=ticket_id, to="done")
    assert exc.value.code == code


def test_it_refuses_a_ticket_of_another_station(stations, menu):
    order = make_order()
    bar = by_station(send(order, [add_line(order, menu["cola"])]))["bar"]
    with pytest.raises(services.KitchenError) as exc:
        services.set_ticket_status(station=stations["grill"], ticket_id=bar.pk, to="done")
    assert exc.value.code == "wrong_station"
    assert Ticket.objects.get(pk=bar.pk).status == "new"


def test_it_loses_a_race_without_double_applying(stations, menu, monkeypatch):
    """Two screens bump the same ticket: the second finds the status changed under it."""
    order = make_order()
    grill = by_station(send(order, [add_line(order, menu["burger"])]))["grill"]
    Ticket.objects.filter(pk=grill.pk).update(status="done")  # the other screen won meanwhile
    real_get = services._ticket_at

    def stale(station, ticket_id):
        ticket = real_get(station, ticket_id)
        ticket.status = "new"  # what this screen read before the other one committed
        return ticket

    monkeypatch.setattr(services, "_ticket_at", stale)
    with pytest.raises(services.KitchenError) as exc:
        services.set_ticket_status(station=stations["grill"], ticket_id=grill.pk, to="done")
    assert exc.value.code == "conflict"
    assert StationEvent.objects.filter(ticket=grill, kind="bumped").count() == 0


def test_it_recalls_the_last_bumped_ticket(stations, menu):
    first, second = make_order(), make_order()
    t1 = by_station(send(first, [add_line(first, menu["burger"])]))["grill"]
    t2 = by_station(send(second, [add_line(second, menu["burger"])]))["grill"]
    services.set_ticket_status(station=stations["grill"], ticket_id=t1.pk, to="done")
    services.set_ticket_status(station=stations["grill"], ticket_id=t2.pk, to="done")
    recalled = services.recall_last(station=stations["grill"])
    assert recalled.pk == t2.pk
    t2.refresh_from_db()
    assert t2.status == "new" and t2.bumped_at is None and t2.prep_seconds is None
    assert StationEvent.objects.filter(ticket=t2).order_by("seq").last().kind == "recalled"


def test_it_bumps_the_ticket_with_its_last_item(stations, menu):
    order = make_order()
    grill = by_station(send(order, [add_line(order, menu["burger"]), add_line(order, menu["steak"])]))["grill"]
    first, second = grill.items.all()
    services.set_item_done(station=stations["grill"], item_id=first.pk, done=True)
    assert Ticket.objects.get(pk=grill.pk).status == "new"
    with pytest.raises(services.KitchenError):
        services.set_item_done(station=stations["grill"], item_id=first.pk, done=True)
    services.set_item_done(station=stations["grill"], item_id=second.pk, done=True)
    assert Ticket.objects.get(pk=grill.pk).status == "done"


def test_it_turns_expo_ready_when_every_station_has_bumped(stations, menu, published, django_capture_on_commit_callbacks):
    order = make_order()
    tickets = by_station(send(order, [add_line(order, menu["steak"]), add_line(order, menu["cola"])]))
    for slug in ("grill", "fry"):
        services.set_ticket_status(station=stations[slug], ticket_id=tickets[slug].pk, to="done")
    assert Ticket.objects.get(pk=tickets["expo"].pk).ready_at is None
    with django_capture_on_commit_callbacks(execute=True):
        services.set_ticket_status(station=stations["bar"], ticket_id=tickets["bar"].pk, to="done")
    expo = Ticket.objects.get(pk=tickets["expo"].pk)
    assert expo.ready_at is not None
    assert StationEvent.objects.filter(station=stations["expo"], ticket=expo).order_by("seq").last().kind == "ready"
    assert {g for g, _e in published} == {"station.bar", "expo", "ready"}
    # A recall at one station un-readies the order; expo serving is a bump on expo.
    services.set_ticket_status(station=stations["bar"], ticket_id=tickets["bar"].pk, to="new")
    assert Ticket.objects.get(pk=expo.pk).ready_at is None
    services.set_ticket_status(station=stations["expo"], ticket_id=expo.pk, to="done")
    assert Ticket.objects.get(pk=expo.pk).status == "done"


def test_it_holds_a_course_until_it_is_fired(stations, menu):
    order = make_order()
    starter = add_line(order, menu["cola"])
    main = add_line(order, menu["burger"], status=OrderLine.Status.HELD, course=2)
    tickets = send(order, [starter, main])
    held = [t for t in tickets if t.status == "held"]
    assert {t.station.slug for t in held} == {"grill", "expo"}
    assert all(t.course == 2 and t.sent_at is None for t in held)
    with pytest.raises(services.KitchenError) as exc:
        services.set_ticket_status(station=stations["grill"], ticket_id=by_station(held)["grill"].pk, to="done")
    assert exc.value.code == "held"
    services.fire_course(order=order, course=2)
    fired = Ticket.objects.filter(pk__in=[t.pk for t in held])
    assert {t.status for t in fired} == {"new"} and all(t.sent_at for t in fired)
    assert StationEvent.objects.filter(ticket__in=held, kind="fired").count() == 2
    services.fire_course(order=order, course=2)  # again: nothing left to fire
    assert StationEvent.objects.filter(ticket__in=held, kind="fired").count() == 2


def test_it_strikes_voided_lines_and_counts_an_emptied_ticket_as_done_for_expo(stations, menu):
    order = make_order()
    burger, cola = add_line(order, menu["burger"]), add_line(order, menu["cola"])
    tickets = by_station(send(order, [burger, cola]))
    services.set_ticket_status(station=stations["bar"], ticket_id=tickets["bar"].pk, to="done")
    services.void_lines(order=order, lines=[burger], reason="client parti")
    item = TicketItem.objects.get(ticket=tickets["grill"], line=burger)
    assert item.voided_at is not None
    assert StationEvent.objects.filter(ticket=tickets["grill"], kind="voided").exists()
    assert Ticket.objects.get(pk=tickets["expo"].pk).ready_at is not None
    services.void_lines(order=order, lines=[burger], reason="again")  # already voided: no new event
    assert StationEvent.objects.filter(ticket=tickets["grill"], kind="voided").count() == 1


def test_it_queues_prints_for_stations_with_a_printer_and_void_slips_for_printed_tickets(stations, menu, alice, table4):
    station_printer(stations["grill"], name="Grill", host="127.0.0.1", port=9)
    station_printer(stations["bar"], name="Bar", host="127.0.0.1", port=9, enabled=False)
    order = make_order(server=alice, table=table4)
    burger = add_line(order, menu["burger"], modifiers=[menu["saignant"]], note="sans oignon")
    held = add_line(order, menu["steak"], status=OrderLine.Status.HELD, course=2)
    send(order, [burger, add_line(order, menu["cola"]), held])
    job = PrintJob.objects.get()
    assert job.kind == "ticket" and job.printer.name == "Grill" and job.status == "pending"
    assert b"1 x Burger" in bytes(job.data) and b"SAIG" in bytes(job.data) and b"sans oignon" in bytes(job.data)
    services.fire_course(order=order, course=2)
    assert PrintJob.objects.filter(kind="ticket").count() == 2
    services.void_lines(order=order, lines=[burger], reason="erreur")
    slip = PrintJob.objects.get(kind="void")
    assert b"erreur" in bytes(slip.data)


@pytest.mark.django_db(transaction=True)
def test_it_keeps_numbers_gapless_when_screens_bump_at_once(stations, menu):
    """Eight threads, eight tickets, one station: eight distinct consecutive numbers."""
    tickets = []
    for _ in range(8):
        order = make_order()
        tickets.append(by_station(send(order, [add_line(order, menu["burger"])]))["grill"])
    start = Station.objects.get(slug="grill").last_seq
    barrier = threading.Barrier(len(tickets))
    errors = []

    def bump(ticket):
        try:
            barrier.wait()
            for _attempt in range(500):
                try:
                    services.set_ticket_status(station=stations["grill"], ticket_id=ticket.pk, to="done")
                    break
                except OperationalError as exc:
                    # The in-memory test database shares one cache between threads, where SQLite
                    # answers "locked" at once instead of waiting its busy timeout as the file
                    # database of a real server does: wait and run the whole transaction again.
                    if "locked" not in str(exc):
                        raise
                    time.sleep(0.005)
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=bump, args=(t,)) for t in tickets]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    seqs = sorted(StationEvent.objects.filter(station=stations["grill"], seq__gt=start).values_list("seq", flat=True))
    assert seqs == list(range(start + 1, start + 9))
    assert Station.objects.get(slug="grill").last_seq == start + 8


def test_it_prunes_old_events_and_a_screen_that_far_behind_gets_a_snapshot(stations, menu):
    from datetime import timedelta
    from io import StringIO

    from django.core.management import call_command
    from django.utils import timezone

    from kds import selectors

    order = make_order()
    send(order, [add_line(order, menu["burger"])])
    StationEvent.objects.update(created_at=timezone.now() - timedelta(days=3))
    order = make_order()
    send(order, [add_line(order, menu["burger"])])
    call_command("kds_prune_events", "--days", "2", stdout=StringIO())
    assert list(StationEvent.objects.filter(station=stations["grill"]).values_list("seq", flat=True)) == [2]
    assert selectors.catch_up(stations["grill"], 0).mode == "snapshot"  # event 1 is gone
    assert selectors.catch_up(stations["grill"], 1).mode == "replay"


def test_it_writes_tickets_items_and_events_as_the_orm_reads_them(stations, menu, monkeypatch):
    """kds.sql's explicit INSERTs store what the ORM would (aware datetimes, flags, nulls), and split
    a send larger than one statement may carry."""
    monkeypatch.setattr(sql, "MAX_PARAMS", 7)  # tickets: 1 per statement; items: 2; events: 1
    order = make_order(is_rush=True)
    lines = [add_line(order, menu["burger"]) for _ in range(3)] + [add_line(order, menu["cola"])]
    tickets = by_station(send(order, lines))
    stored = {t.station.slug: t for t in Ticket.objects.filter(order=order).select_related("station")}
    assert {slug: t.pk for slug, t in tickets.items()} == {slug: t.pk for slug, t in stored.items()}
    grill = stored["grill"]
    assert grill.is_rush and grill.status == "new" and grill.course is None and grill.bumped_at is None
    assert grill.sent_at == tickets["grill"].sent_at and grill.sent_at.tzinfo is not None
    assert grill.expo_ticket_id == stored["expo"].pk and grill.seq == tickets["grill"].seq
    assert sorted(grill.items.values_list("line_id", "quantity")) == [(line.pk, 1) for line in lines[:3]]
    events = StationEvent.objects.filter(ticket__order=order).order_by("station_id", "seq")
    assert [(e.station.slug, e.kind, e.ticket_id) for e in events] == sorted(
        [(slug, "created", t.pk) for slug, t in stored.items()], key=lambda e: stations[e[0]].pk
    )
    assert all(e.created_at.tzinfo is not None for e in events)
