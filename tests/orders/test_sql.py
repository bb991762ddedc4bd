"""orders.sql: the statements of the orders app written as SQL, checked against what the ORM reads and
writes (same values, same Python types). The PostgreSQL run of tests/orders runs them there too
(FOR UPDATE, RETURNING, numeric and timestamp columns)."""

import dataclasses
import datetime as dt
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from orders import selectors, sql
from orders.actions import courses, discounts, payments
from orders.models import DailyCounter, IdempotentRequest, Item, Modifier, Order, OrderLine, Payment
from orders.sql import next_number
from tests.orders.conftest import formule_line, line

D = Decimal
DAY = dt.date(2031, 3, 14)


def test_it_numbers_each_business_day_from_one(db):
    assert [next_number(DAY) for _ in range(3)] == [1, 2, 3]
    assert next_number(DAY + dt.timedelta(days=1)) == 1
    assert next_number(DAY) == 4
    assert dict(DailyCounter.objects.values_list("business_day", "last_number")) == {DAY: 4, DAY + dt.timedelta(days=1): 1}


def test_it_counts_up_in_one_statement_once_the_day_has_its_counter(db):
    next_number(DAY)
    with CaptureQueriesContext(connection) as queries:
        assert next_number(DAY) == 2
    expected = 1 if connection.features.can_return_columns_from_insert else 2
    assert len(queries.captured_queries) == expected
    assert queries.captured_queries[0]["sql"].lstrip().upper().startswith("UPDATE")


# --- the statements of a tap and of a payment ---------------------------------------------------------


def _attnames(model) -> tuple[str, ...]:
    return tuple(f.attname for f in model._meta.concrete_fields)


def test_its_column_lists_are_the_models_fields_in_their_order():
    """Model.from_db takes a full row in field order; the readers follow the same lists."""
    assert sql.ORDER_COLUMNS == _attnames(Order)
    assert sql.ITEM_COLUMNS == _attnames(Item)
    assert sql.MODIFIER_COLUMNS == _attnames(Modifier)
    assert set(sql.PAYMENT_COLUMNS) == set(_attnames(Payment)) - {"id"}
    names = {"pk": "id"}
    assert sql.PRICING_COLUMNS == tuple(names.get(f.name, f.name) for f in dataclasses.fields(selectors.PricingRow))
    assert sql.TICKET_COLUMNS == tuple(names.get(f.name, f.name) for f in dataclasses.fields(selectors.TicketLine))[:14]


def _same_instance(ours, theirs) -> None:
    """Every field equal, with the same Python type (Decimal places, aware datetimes, dates, booleans)."""
    for name in _attnames(type(theirs)):
        mine, orm = getattr(ours, name), getattr(theirs, name)
        assert (mine, type(mine)) == (orm, type(orm)), name
        if isinstance(orm, Decimal):
            assert str(mine) == str(orm), name
        if isinstance(orm, dt.datetime):
            assert mine.utcoffset() == orm.utcoffset() == dt.timedelta(0), name


@pytest.fixture
def busy_order(menu, place, alice, manager, till):
    """An order with all kinds of values: a table, a discount, a sent and a voided line, a set menu,
    modifiers, a payment with a tip."""
    order = place(
        [line(menu.steak, modifiers=[menu.saignant, menu.poivre, menu.egg], seat=2, note="sans sel"),
         formule_line(menu), line(menu.wine, quantity=3), line(menu.dessert, course=2, hold=True)],
        table=menu.tables["3"], covers=3,
    )
    wine = order.lines.get(item=menu.wine)
    courses.void_line(line=wine, reason="renversé", operator=alice)
    discounts.apply_discount(line=order.lines.get(item=menu.steak), amount=D("2.35"), operator=alice)
    discounts.apply_discount(order=order, percent=D("7.5"), operator=alice, manager=manager)  # 11 % in all
    order.refresh_from_db()
    payments.take_payment(order=order, method="card", amount=D("10.10"), tip=D("0.90"), operator=alice, device=till)
    return Order.objects.get(pk=order.pk)


@pytest.mark.django_db(transaction=False)
def test_it_reads_and_locks_an_order_as_the_orm_does(busy_order):
    with transaction.atomic():
        ours = sql.locked_order(busy_order.pk)
        orm = Order.objects.select_for_update().get(pk=busy_order.pk)
    _same_instance(ours, orm)
    assert ours.pk == orm.pk and ours.total > 0 and ours.business_day == orm.business_day
    assert sql.locked_order(busy_order.pk + 1000) is None and sql.locked_order(2**63) is None
    ours.note = "saved again"  # an instance like any other: saving it is an UPDATE
    ours.save(update_fields=["note"])
    assert Order.objects.get(pk=busy_order.pk).note == "saved again"


def test_it_closes_an_open_order_once(busy_order):
    closed_at = timezone.now()
    assert sql.close_paid(busy_order.pk, closed_at) is True
    assert sql.close_paid(busy_order.pk, closed_at) is False  # already PAID: the compare-and-set refuses
    assert Order.objects.filter(pk=busy_order.pk).values_list("status", "closed_at").get() == ("paid", closed_at)


def test_it_sets_the_total(busy_order):
    sql.set_order_total(busy_order.pk, D("123.45"))
    assert Order.objects.get(pk=busy_order.pk).total == D("123.45")


def test_it_reads_payments_and_writes_one_as_the_orm_does(busy_order, alice, till):
    now = timezone.now()
    payment = sql.insert_payment({
        "order_id": busy_order.pk, "method": "cash", "amount": D("20.00"), "tendered": D("50.00"), "change": D("30.00"),
        "tip": D("0.00"), "account_id": None, "operator_id": alice.pk, "device_id": till.pk, "created_at": now,
    })
    _same_instance(payment, Payment.objects.get(pk=payment.pk))
    assert Payment.objects.get(pk=payment.pk).created_at == now
    orm = list(Payment.objects.filter(order=busy_order).order_by("id").values_list("method", "amount", "tip"))
    ours = sql.payments_of(busy_order.pk)
    assert ours == orm == [("card", D("10.10"), D("0.90")), ("cash", D("20.00"), D("0.00"))]
    assert [str(v) for row in ours for v in row[1:]] == ["10.10", "0.90", "20.00", "0.00"]
    payment.tip = D("1.00")
    payment.save(update_fields=["tip"])  # saved, not added: an UPDATE
    assert Payment.objects.filter(order=busy_order).count() == 2


def _typed(rows):
    return [[(value, type(value), str(value)) for value in row] for row in rows]


def test_it_reads_the_lines_as_the_orm_does(busy_order):
    billable = OrderLine.objects.filter(order_id=busy_order.pk).exclude(status=OrderLine.Status.VOIDED)
    pricing = billable.order_by("course", "id").values_list(*sql.PRICING_COLUMNS)
    assert _typed(sql.pricing_rows(busy_order.pk)) == _typed(pricing)
    bill = billable.order_by("course", "id", "modifiers__id").values_list(*sql.BILL_COLUMNS, "modifiers__name")
    assert _typed(sql.bill_rows(busy_order.pk)) == _typed(bill)
    ticket = (OrderLine.objects.filter(order_id=busy_order.pk).order_by("course", "id", "modifiers__id")
              .values_list(*sql.TICKET_COLUMNS, "modifiers__name"))
    rows = sql.ticket_rows(busy_order.pk)
    assert _typed(rows) == _typed(ticket)
    assert len(rows) > len(bill) and any(r[sql.TICKET_COLUMNS.index("sent_at")] is not None for r in rows)
    assert any(r[-1] is not None for r in rows) and any(r[sql.TICKET_COLUMNS.index("discount_amount")] for r in rows)


def test_it_reads_items_and_modifiers_as_in_bulk_does(menu):
    menu.water.remaining = 4
    menu.water.save()
    ids = [menu.steak.pk, menu.formule.pk, menu.water.pk, 10**9]
    ours, orm = sql.items_by_id(ids), Item.objects.in_bulk(ids)
    assert sorted(ours) == sorted(orm) == sorted(ids[:3])
    for pk in orm:
        _same_instance(ours[pk], orm[pk])
    assert ours[menu.formule.pk].is_set_menu is True and ours[menu.water.pk].remaining == 4
    modifier_ids = [menu.poivre.pk, menu.bleu.pk]
    ours, orm = sql.modifiers_by_id(modifier_ids), Modifier.objects.in_bulk(modifier_ids)
    for pk in modifier_ids:
        _same_instance(ours[pk], orm[pk])
    assert sql.items_by_id([]) == {} and sql.modifiers_by_id([]) == {}


def test_it_reserves_a_key_once_and_stores_its_answer(till):
    now = timezone.now()
    pk = sql.reserve_key(scope="orders", device_id=till.pk, key="k1", request_hash="h" * 64, created_at=now)
    reserved = IdempotentRequest.objects.get(pk=pk)
    assert (reserved.scope, reserved.device_id, reserved.key, reserved.status_code, reserved.response, reserved.created_at) == (
        "orders", till.pk, "k1", 0, {}, now,
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        sql.reserve_key(scope="orders", device_id=till.pk, key="k1", request_hash="x" * 64, created_at=now)
    sql.store_answer(pk, status=201, response={"order": 12, "lines": [1, 2], "note": "é"})
    stored = IdempotentRequest.objects.get(pk=pk)
    assert (stored.status_code, stored.response) == (201, {"order": 12, "lines": [1, 2], "note": "é"})


def test_it_writes_lines_as_bulk_create_does(busy_order, menu):
    sent = timezone.now()

    def rows(parent=None):
        return [
            OrderLine(order=busy_order, item=menu.steak, parent=parent, name="Entrecôte", kitchen_name="ENTRECOTE", quantity=2,
                      unit_price=D("25.50"), vat_rate=D("10.00"), total=D("51.00"), standalone_price=D("25.50"), note="bleue",
                      seat=3, course=2, status=OrderLine.Status.SENT, sent_at=sent, created_at=sent),
            OrderLine(order=busy_order, item=menu.water, parent=parent, name="Eau", kitchen_name="EAU", quantity=1,
                      unit_price=D("3"), vat_rate=D("5.5"), total=D("3.00"), standalone_price=D("0.00"), created_at=sent),
        ]

    ours, theirs = rows(), rows()
    sql.insert_lines(ours)
    OrderLine.objects.bulk_create(theirs)
    assert all(line.pk for line in ours) and ours[0].pk < ours[1].pk
    read = {line.pk: line for line in OrderLine.objects.filter(pk__in=[line.pk for line in ours + theirs])}
    for mine, orm in zip(ours, theirs, strict=True):
        for name in sql.LINE_COLUMNS:
            assert (getattr(read[mine.pk], name), type(getattr(read[mine.pk], name))) == (
                getattr(read[orm.pk], name), type(getattr(read[orm.pk], name))), name
    children = rows(parent=ours[0]) * 30  # more rows than one statement takes
    children = [OrderLine(**{name: getattr(c, name) for name in sql.LINE_COLUMNS}) for c in children]
    sql.insert_lines(children)
    assert [c.pk for c in children] == sorted(c.pk for c in children)
    stored = dict(OrderLine.objects.filter(parent_id=ours[0].pk).values_list("id", "name"))
    assert [stored[c.pk] for c in children] == [c.name for c in children] and len(stored) == 60
