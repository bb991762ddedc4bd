"""Which actions ring the floor plan (orders.floor_events), after commit only."""

from decimal import Decimal

import pytest
from django.db import transaction

from orders.actions import bills, ordering, payments
from orders.actions import floor as floor_actions
from orders.errors import OrderError
from orders.floor_events import EVENT_TYPE, GROUP
from orders.models import Table
from tests.orders.conftest import line


@pytest.fixture
def rings(monkeypatch):
    """How many floor doorbells were published."""
    sent = []
    monkeypatch.setattr("core.events.publish_now", lambda group, event: sent.append((group, event)))
    return lambda: sum(1 for group, event in sent if group == GROUP and event["type"] == EVENT_TYPE)


@pytest.fixture
def at_table(menu, till, alice):
    return ordering.place_order(
        device=till, server=alice, order_type="eat_in", source="till", table=menu.tables["4"], covers=2, lines=[line(menu.fries)]
    )


def test_opening_a_table_rings_after_commit(menu, till, alice, rings, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        ordering.open_table(device=till, server=alice, table=menu.tables["4"], covers=2)
        assert rings() == 0  # not before commit
    assert rings() == 1


def test_a_refused_or_rolled_back_change_rings_nothing(menu, till, alice, rings, django_capture_on_commit_callbacks):
    ordering.open_table(device=till, server=alice, table=menu.tables["4"], covers=2)
    before = rings()
    with django_capture_on_commit_callbacks(execute=True):
        with pytest.raises(OrderError):
            ordering.open_table(device=till, server=alice, table=menu.tables["4"], covers=2)  # occupied
        with pytest.raises(RuntimeError), transaction.atomic():
            floor_actions.move_table(table=menu.tables["5"], dx=3, dy=0)
            raise RuntimeError("undo")
    assert rings() == before


def test_orders_at_a_table_ring_and_take_away_orders_do_not(menu, till, alice, rings, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        ordering.place_order(device=till, server=alice, order_type="take_away", source="till", lines=[line(menu.fries)])
    assert rings() == 0
    with django_capture_on_commit_callbacks(execute=True):
        ordering.place_order(device=till, server=alice, order_type="eat_in", source="till", table=menu.tables["2"], lines=[line(menu.fries)])
    assert rings() == 1


def test_lines_added_and_sent_do_not_change_the_plan(at_table, rings, menu, django_capture_on_commit_callbacks):
    from orders.actions import courses

    with django_capture_on_commit_callbacks(execute=True):
        ordering.add_lines(order=at_table, lines=[line(menu.dessert)])
        courses.send_order(order=at_table)
    assert rings() == 0


def test_pre_bill_payment_cancel_transfer_and_merge_ring(at_table, menu, till, alice, rings, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        bills.print_pre_bill(order=at_table, operator=alice)
    assert rings() == 1
    with django_capture_on_commit_callbacks(execute=True):
        payments.take_payment(order=at_table, method="card", amount=Decimal("1.00"), operator=alice, device=till)
    assert rings() == 1  # partly paid: the table looks the same
    with django_capture_on_commit_callbacks(execute=True):
        payments.take_payment(order=at_table, method="cash", amount=Decimal("50.00"), operator=alice, device=till)
    assert rings() == 2  # settled: the table turns green

    other = ordering.open_table(device=till, server=alice, table=menu.tables["1"], covers=1)
    third = ordering.open_table(device=till, server=alice, table=menu.tables["2"], covers=1)
    base = rings()
    with django_capture_on_commit_callbacks(execute=True):
        ordering.transfer_order(order=other, table=menu.tables["3"])
    assert rings() == base + 1
    with django_capture_on_commit_callbacks(execute=True):
        ordering.merge_orders(source=other, target=third)
    assert rings() == base + 2
    with django_capture_on_commit_callbacks(execute=True):
        ordering.cancel_order(order=third, operator=alice)
    assert rings() == base + 3


def test_the_floor_editor_rings(menu, rings, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        table = floor_actions.add_table(table=Table(label="T9", area="Terrasse", seats=2))
    with django_capture_on_commit_callbacks(execute=True):
        floor_actions.move_table(table=table, dx=1, dy=0)
    with django_capture_on_commit_callbacks(execute=True):
        floor_actions.delete_table(table=table)
    assert rings() == 3
