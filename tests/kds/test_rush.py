"""Rush: the till marks an order rush (orders.actions.courses.set_rush) and its open kitchen tickets
follow, with a station event each so the screens re-sort."""

import pytest

from kds import services
from kds.models import StationEvent, Ticket
from orders.actions import courses
from orders.errors import OrderError
from orders.models import Order
from tests.kds.conftest import add_line, make_order


def tickets_of(order):
    return {t.station.slug: t for t in Ticket.objects.filter(order=order).select_related("station")}


def sent_order(stations, menu):
    """An order with a steak (grill, fry) and a cola (bar): tickets on grill, fry, bar and expo."""
    order = make_order()
    services.send_lines_to_kitchen(order=order, lines=[add_line(order, menu["steak"]), add_line(order, menu["cola"])])
    return order


def test_it_marks_an_order_rush_and_back(db, alice):
    order = make_order()
    assert courses.set_rush(order=order, rush=True, operator=alice) is True
    assert Order.objects.get(pk=order.pk).is_rush
    assert courses.set_rush(order=order, rush=False, operator=alice) is True
    assert not Order.objects.get(pk=order.pk).is_rush


def test_setting_the_same_state_twice_changes_nothing(stations, menu, alice, published, django_capture_on_commit_callbacks):
    order = sent_order(stations, menu)
    with django_capture_on_commit_callbacks(execute=True):
        assert courses.set_rush(order=order, rush=True, operator=alice) is True
    events = StationEvent.objects.count()
    published.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert courses.set_rush(order=order, rush=True, operator=alice) is False
    assert StationEvent.objects.count() == events
    assert published == []


def test_open_tickets_follow_and_their_stations_are_told(stations, menu, alice, published, django_capture_on_commit_callbacks):
    order = sent_order(stations, menu)
    before = tickets_of(order)
    services.set_ticket_status(station=stations["bar"], ticket_id=before["bar"].pk, to="done")  # the cola left
    published.clear()
    last_seq = {slug: t.station.last_seq for slug, t in tickets_of(order).items()}
    with django_capture_on_commit_callbacks(execute=True):
        courses.set_rush(order=order, rush=True, operator=alice)
    after = tickets_of(order)
    assert {slug: t.is_rush for slug, t in after.items()} == {"grill": True, "fry": True, "expo": True, "bar": False}
    for slug in ("grill", "fry", "expo"):
        event = StationEvent.objects.filter(station=after[slug].station).order_by("seq").last()
        assert (event.kind, event.ticket_id) == ("updated", after[slug].pk)
        assert event.seq > last_seq[slug] and after[slug].seq == event.seq
    assert not StationEvent.objects.filter(station=stations["bar"], seq__gt=last_seq["bar"]).exists()
    groups = {group for group, _event in published}
    assert {"station.grill", "station.fry", "expo", "ready"} <= groups and "station.bar" not in groups

    with django_capture_on_commit_callbacks(execute=True):
        courses.set_rush(order=order, rush=False, operator=alice)
    assert {slug: t.is_rush for slug, t in tickets_of(order).items()} == dict.fromkeys(("grill", "fry", "expo", "bar"), False)


def test_lines_sent_after_the_mark_are_rush_too(stations, menu, alice):
    order = make_order()
    courses.set_rush(order=order, rush=True, operator=alice)
    order.refresh_from_db()
    tickets = services.send_lines_to_kitchen(order=order, lines=[add_line(order, menu["burger"])])
    assert tickets and all(t.is_rush for t in tickets)


def test_a_rollback_leaves_tickets_and_screens_alone(stations, menu, alice, published, django_capture_on_commit_callbacks):
    from django.db import transaction

    order = sent_order(stations, menu)
    published.clear()
    events = StationEvent.objects.count()
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError):
        with transaction.atomic():
            courses.set_rush(order=order, rush=True, operator=alice)
            raise RuntimeError("changed my mind")
    assert not any(t.is_rush for t in tickets_of(order).values())
    assert not Order.objects.get(pk=order.pk).is_rush
    assert StationEvent.objects.count() == events and published == []


@pytest.mark.parametrize("rush", ["yes", 1, None])
def test_rush_is_true_or_false(db, alice, rush):
    order = make_order()
    with pytest.raises(OrderError) as exc:
        courses.set_rush(order=order, rush=rush, operator=alice)
    assert exc.value.code == "invalid_rush"


def test_a_closed_order_is_refused(db, alice):
    order = make_order(status=Order.Status.PAID)
    with pytest.raises(OrderError) as exc:
        courses.set_rush(order=order, rush=True, operator=alice)
    assert exc.value.code == "order_closed"
