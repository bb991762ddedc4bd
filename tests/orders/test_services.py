"""orders.actions: placing orders, the table life cycle, discounts, payments, accounts, 86'ing."""

import datetime as dt
from decimal import Decimal

import pytest

from kds import services as kitchen_services  # what the kitchen receives (kds.receivers)
from orders import idempotency, receipts
from orders.actions import bills
from orders.actions import courses
from orders.actions import accounts as customer_accounts
from orders.actions import discounts
from orders.actions import menu as menu_actions
from orders.actions import ordering
from orders.actions import payments
from fiscal import services as fiscal_services
from orders.models import (
    CustomerAccount,
    DailyCounter,
    IdempotentRequest,
    Item,
    Order,
    OrderLine,
    OrderLineModifier,
    Payment,
)
from orders.errors import OrderError
from orders.idempotency import IdempotencyKeyReused
from orders.lines import LineSpec, SlotChoice
from tests.orders.conftest import formule_line, line

D = Decimal


@pytest.fixture
def kitchen(monkeypatch):
    """Record what orders hands to the kitchen and the fiscal module (the calls, not their effects)."""
    calls = []

    def recorder(name, result=None):
        def record(*args, **kwargs):
            calls.append((name, kwargs))
            return result

        return record

    monkeypatch.setattr(kitchen_services, "send_lines_to_kitchen", recorder("send", []))
    monkeypatch.setattr(kitchen_services, "fire_course", recorder("fire"))
    monkeypatch.setattr(kitchen_services, "void_lines", recorder("void"))
    monkeypatch.setattr(fiscal_services, "journal", recorder("journal"))
    monkeypatch.setattr(fiscal_services, "seal_receipt", recorder("seal"))
    return calls


@pytest.fixture
def published(monkeypatch):
    """Events published to screens (after commit), as (group, event)."""
    from core import events

    sent = []
    monkeypatch.setattr(events, "publish_now", lambda group, event: sent.append((group, event)))
    return sent


def _names(calls, name):
    return [kwargs for called, kwargs in calls if called == name]


# --- place_order ----------------------------------------------------------------------------------------


def test_it_places_an_order_priced_on_the_server(place, menu, kitchen):
    order = place(
        [line(menu.steak, 2, [menu.saignant, menu.poivre], note="bien chaud"), line(menu.wine)],
        table=menu.tables["4"], covers=2,
    )
    assert order.total == D("57.00")  # 2 × (24.00 + 1.50) + 6.00
    steak, wine = order.lines.order_by("id")
    assert (steak.unit_price, steak.total, steak.vat_rate, steak.note) == (D("25.50"), D("51.00"), D("10.00"), "bien chaud")
    assert wine.vat_rate == D("20.00")
    assert [m.name for m in steak.modifiers.all()] == ["Saignant", "Sauce au poivre"]
    assert order.number == 1 and order.table == menu.tables["4"] and order.status == Order.Status.OPEN


def test_it_sends_the_lines_to_the_kitchen_in_the_same_transaction(place, menu, kitchen):
    order = place([line(menu.steak, modifiers=[menu.bleu]), line(menu.dessert, course=2, hold=True)])
    (sent,) = _names(kitchen, "send")
    assert sent["order"] == order
    assert {(x.name, x.status) for x in sent["lines"]} == {("Entrecôte", "sent"), ("Mousse au chocolat", "held")}
    assert all(x.sent_at is not None for x in order.lines.all())


def test_it_does_not_send_when_told_not_to(place, menu, kitchen):
    order = place([line(menu.dessert)], send=False)
    assert _names(kitchen, "send") == []
    assert order.lines.get().status == OrderLine.Status.PENDING


def test_it_uses_the_take_away_vat_rate(place, menu, kitchen):
    order = place([line(menu.sandwich), line(menu.wine)], order_type="take_away")
    rates = dict(order.lines.values_list("name", "vat_rate"))
    assert rates == {"Jambon-beurre": D("5.50"), "Verre de Bordeaux": D("20.00")}


def test_it_numbers_orders_per_business_day(place, menu, kitchen, monkeypatch):
    assert [place([line(menu.dessert)]).number for _ in range(3)] == [1, 2, 3]
    monkeypatch.setattr(ordering, "business_day", lambda: dt.date(2031, 1, 2))
    tomorrow = place([line(menu.dessert)])
    assert (tomorrow.number, tomorrow.business_day) == (1, dt.date(2031, 1, 2))


def test_it_places_a_set_menu_with_its_components(place, menu, kitchen):
    order = place([formule_line(menu, main_modifiers=(menu.a_point, menu.egg), drink=menu.wine)])
    formule = order.lines.get(parent__isnull=True)
    assert formule.unit_price == D("21.00")  # 19.50 + œuf 1.50
    assert order.total == D("21.00")
    components = {c.name: c for c in formule.components.all()}
    assert set(components) == {"Burger maison", "Frites", "Verre de Bordeaux"}
    assert components["Verre de Bordeaux"].vat_rate == D("20.00")
    assert components["Burger maison"].standalone_price == D("17.50")
    assert all(c.unit_price == 0 for c in components.values())
    payload = receipts.receipt_payload(order)
    assert [x["name"] for x in payload["lines"]] == [
        "Formule midi — Burger maison", "Formule midi — Frites", "Formule midi — Verre de Bordeaux",
    ]
    assert sum(D(x["total"]) for x in payload["lines"]) == D("21.00")
    assert sum(D(v["total"]) for v in payload["vat"]) == D("21.00")
    assert {v["rate"] for v in payload["vat"]} == {"10.00", "20.00"}


BAD_LINES = {
    "unknown item": (lambda m: [LineSpec(item=999_999)], "unknown_item", "lines[0].item"),
    "steak without cuisson": (lambda m: [line(m.steak)], "modifier_count", "lines[0].modifiers"),
    "two cuissons": (lambda m: [line(m.steak, modifiers=[m.bleu, m.saignant])], "modifier_count", "lines[0].modifiers"),
    "four supplements": (
        lambda m: [line(m.steak, modifiers=[m.bleu, m.poivre, m.egg, m.extra_fries, m.egg])], "modifier_count", "lines[0].modifiers"
    ),
    "modifier of another item": (lambda m: [line(m.dessert, modifiers=[m.poivre])], "modifier_not_allowed", "lines[0].modifiers[0]"),
    "unknown modifier": (lambda m: [LineSpec(item=m.dessert.pk, modifiers=(999_999,))], "unknown_modifier", "lines[0].modifiers[0]"),
    "quantity 0": (lambda m: [line(m.dessert, 0)], "invalid_quantity", "lines[0].quantity"),
    "quantity 100": (lambda m: [line(m.dessert, 100)], "invalid_quantity", "lines[0].quantity"),
    "quantity as text": (lambda m: [LineSpec(item=m.dessert.pk, quantity="2")], "invalid_quantity", "lines[0].quantity"),
    "note of 141 characters": (lambda m: [line(m.dessert, note="x" * 141)], "note_too_long", "lines[0].note"),
    "no lines": (lambda m: [], "no_lines", "lines"),
    "set menu without its drink": (
        lambda m: [LineSpec(item=m.formule.pk, slots=formule_line(m).slots[:2])], "slot_missing", "lines[0].slots"
    ),
    "set menu with a choice of another slot": (
        lambda m: [LineSpec(item=m.formule.pk, slots=(*formule_line(m).slots[:2], SlotChoice(slot=m.formule_drink.pk, item=m.dessert.pk)))],
        "invalid_slot_choice", "lines[0].slots[2].item",
    ),
    "choices on a plain item": (lambda m: [LineSpec(item=m.dessert.pk, slots=formule_line(m).slots)], "slots_not_allowed", "lines[0].slots"),
    "bad course": (lambda m: [line(m.dessert, course=0)], "invalid_course", "lines[0].course"),
}


@pytest.mark.parametrize("case", BAD_LINES, ids=list(BAD_LINES))
def test_it_refuses_bad_lines_and_writes_nothing(place, menu, kitchen, published, case, django_capture_on_commit_callbacks):
    build, code, field = BAD_LINES[case]
    menu.dessert.remaining = 5
    menu.dessert.save()
    with django_capture_on_commit_callbacks(execute=True):
        with pytest.raises(OrderError) as error:
            # A good first line: its portion must come back when the bad one is refused.
            place([line(menu.dessert), *build(menu)] if case != "no lines" else [])
    assert error.value.code == code
    if case != "no lines":
        assert error.value.field == field.replace("lines[0]", "lines[1]")
    assert error.value.message  # translated, human readable
    assert (Order.objects.count(), OrderLine.objects.count(), OrderLineModifier.objects.count()) == (0, 0, 0)
    assert DailyCounter.objects.filter(last_number__gt=0).count() == 0
    assert Item.objects.get(pk=menu.dessert.pk).remaining == 5
    assert _names(kitchen, "send") == [] and published == []


def test_it_refuses_an_unavailable_item(place, menu, kitchen):
    menu.steak.available = False
    menu.steak.save()
    with pytest.raises(OrderError) as error:
        place([line(menu.steak, modifiers=[menu.bleu])])
    assert (error.value.code, error.value.field) == ("item_unavailable", "lines[0].item")
    assert "Entrecôte" in error.value.message


def test_it_refuses_an_unavailable_set_menu_component(place, menu, kitchen):
    menu.fries.available = False
    menu.fries.save()
    with pytest.raises(OrderError) as error:
        place([formule_line(menu)])
    assert (error.value.code, error.value.field) == ("item_unavailable", "lines[0].slots[1].item")


def test_it_counts_down_remaining_portions_and_tells_every_till(place, menu, kitchen, published, django_capture_on_commit_callbacks):
    menu_actions.set_item_availability(item=menu.dessert, remaining=3)
    published.clear()
    with django_capture_on_commit_callbacks(execute=True):
        place([line(menu.dessert, 2)])
    assert Item.objects.get(pk=menu.dessert.pk).remaining == 1
    assert published == [("menu", {"type": "menu.item", "item_id": menu.dessert.pk, "available": True, "remaining": 1})]
    with pytest.raises(OrderError) as error:
        place([line(menu.dessert, 2)])
    assert error.value.code == "sold_out"
    with django_capture_on_commit_callbacks(execute=True):
        place([line(menu.dessert)])
    assert published[-1][1]["remaining"] == 0
    assert not Item.objects.get(pk=menu.dessert.pk).is_orderable


def test_it_counts_set_menu_components_against_their_items_portions(place, menu, kitchen):
    menu_actions.set_item_availability(item=menu.burger, remaining=1)
    place([formule_line(menu)])
    assert Item.objects.get(pk=menu.burger.pk).remaining == 0
    with pytest.raises(OrderError):
        place([line(menu.burger, modifiers=[menu.bleu])])


def test_it_publishes_nothing_when_the_order_rolls_back(place, menu, kitchen, published, django_capture_on_commit_callbacks):
    menu_actions.set_item_availability(item=menu.dessert, remaining=3)
    published.clear()
    with django_capture_on_commit_callbacks(execute=True):
        with pytest.raises(OrderError):
            place([line(menu.dessert), line(menu.steak)])  # steak without cuisson
    assert published == []
    assert Item.objects.get(pk=menu.dessert.pk).remaining == 3


# --- The table life cycle -------------------------------------------------------------------------------


def test_it_opens_a_table_once(menu, till, alice):
    order = ordering.open_table(device=till, server=alice, table=menu.tables["4"], covers=2)
    assert (order.table.label, order.covers, order.total) == ("4", 2, D("0.00"))
    with pytest.raises(OrderError) as error:
        ordering.open_table(device=till, server=alice, table=menu.tables["4"], covers=3)
    assert error.value.code == "table_occupied"


def test_it_adds_lines_holds_and_fires_a_course(menu, till, alice, kitchen):
    order = ordering.open_table(device=till, server=alice, table=menu.tables["4"], covers=2)
    ordering.add_lines(order=order, lines=[line(menu.steak, modifiers=[menu.saignant]), line(menu.steak, modifiers=[menu.a_point, menu.poivre])])
    ordering.add_lines(order=order, lines=[line(menu.dessert, course=2)])
    assert courses.hold_course(order=order, course=2) == 1
    # A line added later to a held course is held too.
    (late,) = ordering.add_lines(order=order, lines=[line(menu.dessert, course=2)])
    assert late.status == OrderLine.Status.HELD

    sent = courses.send_order(order=order)
    assert {(x.name, x.status) for x in sent} == {("Entrecôte", "sent"), ("Mousse au chocolat", "held")}
    assert courses.send_order(order=order) == []  # nothing new to send

    fired = courses.fire_course(order=order, course=2)
    assert {x.status for x in fired} == {OrderLine.Status.SENT} and len(fired) == 2
    assert _names(kitchen, "fire") == [{"order": order, "course": 2}]
    assert courses.fire_course(order=order, course=2) == []  # firing twice changes nothing
    assert len(_names(kitchen, "fire")) == 1
    order.refresh_from_db()
    assert order.total == D("65.50")


def test_it_fires_a_held_course_the_kitchen_never_saw(menu, place, kitchen):
    order = place([line(menu.dessert, course=2, hold=True)], send=False)
    courses.fire_course(order=order, course=2)
    assert _names(kitchen, "fire") == []
    assert [x.status for x in _names(kitchen, "send")[0]["lines"]] == ["sent"]


def test_it_removes_an_unsent_line_and_gives_its_portions_back(menu, place, kitchen):
    menu_actions.set_item_availability(item=menu.dessert, remaining=2)
    order = place([line(menu.dessert), line(menu.wine)], send=False)
    ordering.remove_pending_line(line=order.lines.get(name="Mousse au chocolat"))
    order.refresh_from_db()
    assert order.total == D("6.00")
    assert Item.objects.get(pk=menu.dessert.pk).remaining == 2


def test_it_refuses_to_remove_a_sent_line(menu, place, kitchen):
    order = place([line(menu.dessert)])
    with pytest.raises(OrderError) as error:
        ordering.remove_pending_line(line=order.lines.get())
    assert error.value.code == "line_sent"


def test_it_voids_a_sent_line_with_a_reason(menu, place, kitchen, alice, till):
    order = place([line(menu.dessert), line(menu.wine)])
    dessert = order.lines.get(name="Mousse au chocolat")
    with pytest.raises(OrderError) as error:
        courses.void_line(line=dessert, reason="  ", operator=alice)
    assert error.value.code == "reason_required"
    voided = courses.void_line(line=dessert, reason="Client parti", operator=alice)
    assert (voided.status, voided.void_reason) == (OrderLine.Status.VOIDED, "Client parti")
    order.refresh_from_db()
    assert order.total == D("6.00")
    (void,) = _names(kitchen, "void")
    assert void["reason"] == "Client parti" and [x.pk for x in void["lines"]] == [dessert.pk]
    (journal,) = [kwargs for name, kwargs in kitchen if name == "journal"]
    assert journal["details"]["kind"] == "void_after_send" and journal["operator"] == "alice"
    with pytest.raises(OrderError) as error:
        courses.void_line(line=dessert, reason="again", operator=alice)
    assert error.value.code == "line_voided"


def test_it_refuses_to_void_an_unsent_line(menu, place, kitchen, alice):
    order = place([line(menu.dessert)], send=False)
    with pytest.raises(OrderError) as error:
        courses.void_line(line=order.lines.get(), reason="x", operator=alice)
    assert error.value.code == "line_not_sent"


def test_it_transfers_an_order_to_a_free_table(menu, till, alice):
    order = ordering.open_table(device=till, server=alice, table=menu.tables["1"], covers=2)
    ordering.open_table(device=till, server=alice, table=menu.tables["2"], covers=2)
    assert ordering.transfer_order(order=order, table=menu.tables["3"]).table == menu.tables["3"]
    with pytest.raises(OrderError) as error:
        ordering.transfer_order(order=order, table=menu.tables["2"])
    assert error.value.code == "table_occupied"


def test_it_merges_two_tables(menu, till, alice, kitchen):
    one = ordering.open_table(device=till, server=alice, table=menu.tables["1"], covers=2)
    two = ordering.open_table(device=till, server=alice, table=menu.tables["2"], covers=3)
    ordering.add_lines(order=one, lines=[line(menu.dessert)])
    ordering.add_lines(order=two, lines=[line(menu.wine)])
    merged = ordering.merge_orders(source=one, target=two)
    one.refresh_from_db()
    assert (merged.pk, merged.covers, merged.total) == (two.pk, 5, D("14.00"))
    assert (one.status, one.merged_into_id, one.lines.count()) == (Order.Status.CANCELLED, two.pk, 0)
    # Table 1 is free again.
    ordering.open_table(device=till, server=alice, table=menu.tables["1"], covers=1)


def test_it_cancels_an_unsent_unpaid_order(menu, place, kitchen):
    menu_actions.set_item_availability(item=menu.dessert, remaining=4)
    order = place([line(menu.dessert, 2)], send=False, table=menu.tables["5"])
    cancelled = ordering.cancel_order(order=order)
    assert cancelled.status == Order.Status.CANCELLED
    assert Item.objects.get(pk=menu.dessert.pk).remaining == 4


# --- Discounts ----------------------------------------------------------------------------------------


def test_it_discounts_a_line_and_an_order(menu, place, kitchen, alice, manager):
    order = place([line(menu.dessert), line(menu.wine, 2)])
    wine = order.lines.get(name="Verre de Bordeaux")
    discounts.apply_discount(line=wine, amount=D("1.00"), operator=alice)
    # 1.00 off the wine and 10 % off the order: 2.90 off 20.00, 14.5 %, above the 10 % threshold.
    with pytest.raises(OrderError) as error:
        discounts.apply_discount(order=order, percent=D("10"), operator=alice)
    assert error.value.code == "manager_required"
    order.refresh_from_db()
    assert (order.discount_percent, order.total) == (D("0"), D("19.00"))  # nothing half-applied
    order = discounts.apply_discount(order=order, percent=D("10"), operator=alice, manager=manager)
    # (8.00 + 11.00) − 10 % = 19.00 − 1.90
    assert order.total == D("17.10")
    wine.refresh_from_db()
    assert wine.total == D("11.00")


def test_it_needs_a_manager_above_the_threshold(menu, place, kitchen, alice, manager, settings):
    settings.KDS_DISCOUNT_MANAGER_THRESHOLD = 10
    order = place([line(menu.dessert)])
    with pytest.raises(OrderError) as error:
        discounts.apply_discount(order=order, percent=D("15"), operator=alice)
    assert error.value.code == "manager_required"
    with pytest.raises(OrderError):
        discounts.apply_discount(order=order, amount=D("1.00"), operator=alice)  # 12.5 % of 8.00
    order = discounts.apply_discount(order=order, percent=D("15"), operator=alice, manager=manager)
    assert (order.total, order.discount_approved_by) == (D("6.80"), manager)
    assert discounts.apply_discount(order=order, percent=D("50"), operator=manager).total == D("4.00")


def test_it_counts_every_discount_of_the_order_against_the_threshold(menu, place, kitchen, alice, manager, settings):
    """10 % on a line and 10 % on the order make 19 % of the bill: a manager must approve."""
    settings.KDS_DISCOUNT_MANAGER_THRESHOLD = 10
    order = place([line(menu.wine, 2)])  # 12.00
    wine = order.lines.get()
    discounts.apply_discount(line=wine, percent=D("10"), operator=alice)
    with pytest.raises(OrderError) as error:
        discounts.apply_discount(order=order, percent=D("10"), operator=alice)
    assert error.value.code == "manager_required"
    assert discounts.discount_effect(order) == D("10")
    order = discounts.apply_discount(order=order, percent=D("10"), operator=alice, manager=manager)
    assert order.total == D("9.72") and discounts.discount_effect(order) == D("19")
    # Taking a discount off never needs a manager, even while the rest stays above the threshold.
    order = discounts.apply_discount(line=wine, percent=D("0"), operator=alice)
    assert order.total == D("10.80")
    # A small order discount that keeps the whole within the threshold needs nobody.
    order = discounts.apply_discount(order=order, percent=D("5"), operator=alice)
    assert order.total == D("11.40")


def test_it_refuses_discounts_after_a_payment(menu, place, kitchen, alice, till):
    order = place([line(menu.dessert)])
    payments.take_payment(order=order, method="card", amount=D("4.00"), operator=alice, device=till)
    with pytest.raises(OrderError) as error:
        discounts.apply_discount(order=order, percent=D("5"), operator=alice)
    assert error.value.code == "order_has_payments"


def test_it_refuses_a_void_that_would_leave_the_order_overpaid(menu, place, kitchen, alice, till):
    order = place([line(menu.dessert), line(menu.wine)])
    payments.take_payment(order=order, method="card", amount=D("10.00"), operator=alice, device=till)
    with pytest.raises(OrderError) as error:
        courses.void_line(line=order.lines.get(name="Mousse au chocolat"), reason="erreur", operator=alice)
    assert error.value.code == "overpaid"
    assert order.lines.get(name="Mousse au chocolat").status == OrderLine.Status.SENT


# --- The bill -----------------------------------------------------------------------------------------


def test_it_counts_pre_bills(menu, place, kitchen, alice):
    order = place([line(menu.dessert)])
    order, _record = bills.print_pre_bill(order=order, operator=alice)
    order, _record = bills.print_pre_bill(order=order, operator=alice)
    assert order.pre_bill_count == 2


def test_it_splits_a_bill(menu, place, kitchen, alice, till):
    order = place([
        line(menu.steak, modifiers=[menu.saignant], seat=1), line(menu.dessert, seat=2), line(menu.wine, seat=2), line(menu.water),
    ])
    assert order.total == D("41.00")
    assert bills.split_equal(order=order, parts=3) == [D("13.67"), D("13.67"), D("13.66")]
    assert bills.split_by_seats(order=order) == {1: D("24.00"), 2: D("14.00"), None: D("3.00")}
    steak, dessert = order.lines.get(seat=1), order.lines.get(name="Mousse au chocolat")
    assert bills.split_by_items(order=order, groups=[[steak.pk], [dessert.pk]]) == [D("24.00"), D("8.00"), D("9.00")]
    payments.take_payment(order=order, method="cash", amount=D("20.00"), operator=alice, device=till)
    assert bills.split_equal(order=order, parts=2) == [D("10.50"), D("10.50")]


# --- Payments -------------------------------------------------------------------------------------------


def test_it_settles_an_order_paid_half_cash_half_card_and_seals_the_receipt(menu, place, kitchen, alice, till):
    order = place([line(menu.steak, 2, [menu.saignant]), line(menu.dessert)], table=menu.tables["4"], covers=2)
    halves = bills.split_equal(order=order, parts=2)
    first = payments.take_payment(order=order, method="cash", amount=halves[0], tendered=D("50.00"), operator=alice, device=till)
    assert (first.settled, first.change, first.payment.tendered) == (False, D("22.00"), D("50.00"))
    assert _names(kitchen, "seal") == []
    second = payments.take_payment(order=order, method="card", amount=halves[1], tip=D("2.00"), operator=alice, device=till)
    assert second.settled
    order.refresh_from_db()
    assert order.status == Order.Status.PAID and order.closed_at is not None
    (seal,) = _names(kitchen, "seal")
    assert seal["operator"] == "alice" and seal["device"] == "Till 1"
    assert seal["payload"] == {
        "order": {"number": 1, "business_day": order.business_day.isoformat(), "type": "eat_in", "table": "4", "covers": 2, "source": "till"},
        "lines": [
            {"name": "Entrecôte", "quantity": 2, "unit_price": "24.00", "modifiers": ["Saignant"], "discount": "0.00", "vat_rate": "10.00", "total": "48.00"},
            {"name": "Mousse au chocolat", "quantity": 1, "unit_price": "8.00", "modifiers": [], "discount": "0.00", "vat_rate": "10.00", "total": "8.00"},
        ],
        "vat": [{"rate": "10.00", "base": "50.91", "vat": "5.09", "total": "56.00"}],
        "discount": "0.00",
        "total": "56.00",
        "payments": [{"method": "cash", "amount": "28.00"}, {"method": "card", "amount": "28.00"}],
        "tips": "2.00",
    }


def test_it_gives_change_for_cash_over_the_amount_due(menu, place, kitchen, alice, till):
    order = place([line(menu.dessert)])
    result = payments.take_payment(order=order, method="cash", amount=D("20.00"), operator=alice, device=till)
    assert (result.settled, result.change, result.payment.amount) == (True, D("12.00"), D("8.00"))


@pytest.mark.parametrize("method,code", [("card", "card_overpayment"), ("voucher", "voucher_overpayment")])
def test_it_refuses_card_and_voucher_payments_over_the_amount_due(menu, place, kitchen, alice, till, method, code):
    order = place([line(menu.dessert)])
    with pytest.raises(OrderError) as error:
        payments.take_payment(order=order, method=method, amount=D("8.01"), operator=alice, device=till)
    assert error.value.code == code
    assert Payment.objects.count() == 0


@pytest.mark.parametrize("amount", [D("0"), D("-1"), D("1.005"), "abc", 1.5, D("NaN")])
def test_it_refuses_invalid_amounts(menu, place, kitchen, alice, till, amount):
    order = place([line(menu.dessert)])
    with pytest.raises(OrderError) as error:
        payments.take_payment(order=order, method="cash", amount=amount, operator=alice, device=till)
    assert error.value.code == "invalid_amount"


def test_it_refuses_to_pay_a_closed_order(menu, place, kitchen, alice, till):
    order = place([line(menu.dessert)])
    payments.take_payment(order=order, method="card", amount=D("8.00"), operator=alice, device=till)
    with pytest.raises(OrderError) as error:
        payments.take_payment(order=order, method="cash", amount=D("1.00"), operator=alice, device=till)
    assert error.value.code == "order_closed"
    assert Payment.objects.count() == 1


def test_it_rolls_the_payment_back_when_sealing_fails(menu, place, kitchen, alice, till, monkeypatch):
    order = place([line(menu.dessert)])

    def broken_seal(**kwargs):
        raise RuntimeError("chain head locked")

    monkeypatch.setattr(fiscal_services, "seal_receipt", broken_seal)
    with pytest.raises(RuntimeError):
        payments.take_payment(order=order, method="card", amount=D("8.00"), operator=alice, device=till)
    order.refresh_from_db()
    assert order.status == Order.Status.OPEN and Payment.objects.count() == 0


def test_it_charges_a_customer_account_within_its_credit_limit(menu, place, kitchen, alice, till):
    account = CustomerAccount.objects.create(name="Cabinet Durand", credit_limit=D("30.00"), balance=D("20.00"))
    order = place([line(menu.dessert, 2)])
    with pytest.raises(OrderError) as error:
        payments.take_payment(order=order, method="account", amount=D("16.00"), account=account, operator=alice, device=till)
    assert error.value.code == "credit_limit"
    payments.take_payment(order=order, method="account", amount=D("8.00"), account=account, operator=alice, device=till)
    account.refresh_from_db()
    assert account.balance == D("28.00")
    with pytest.raises(OrderError) as error:
        payments.take_payment(order=order, method="account", amount=D("8.00"), operator=alice, device=till)
    assert error.value.code == "account_required"


def test_it_settles_an_account(menu, alice):
    account = CustomerAccount.objects.create(name="M. Martin", balance=D("42.00"))
    customer_accounts.settle_account(account=account, amount=D("40.00"), method="card", operator=alice)
    account.refresh_from_db()
    assert account.balance == D("2.00")
    with pytest.raises(OrderError) as error:
        customer_accounts.settle_account(account=account, amount=D("2.01"), method="cash", operator=alice)
    assert error.value.code == "account_overpayment"


# --- 86'ing ---------------------------------------------------------------------------------------------


def test_it_86s_an_item_and_tells_every_till_after_commit(menu, published, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        menu_actions.set_item_availability(item=menu.steak, available=False)
        assert published == []  # not before commit
    for callback in callbacks:
        callback()
    assert published == [("menu", {"type": "menu.item", "item_id": menu.steak.pk, "available": False, "remaining": None})]
    menu_actions.set_item_availability(item=menu.steak, available=True, remaining=4)
    assert Item.objects.get(pk=menu.steak.pk).remaining == 4
    menu_actions.set_item_availability(item=menu.steak, remaining=None)
    assert Item.objects.get(pk=menu.steak.pk).remaining is None


def test_it_closes_an_order_that_owes_nothing(menu, place, kitchen, alice, manager, till):
    order = place([line(menu.dessert)])
    with pytest.raises(OrderError) as error:
        payments.close_free_order(order=order, operator=alice, device=till)
    assert error.value.code == "amount_due"
    discounts.apply_discount(order=order, percent=D("100"), operator=manager)
    with pytest.raises(OrderError) as error:
        payments.take_payment(order=order, method="cash", amount=D("1.00"), operator=alice, device=till)
    assert error.value.code == "nothing_due"
    payments.close_free_order(order=order, operator=manager, device=till)
    order.refresh_from_db()
    assert order.status == Order.Status.PAID
    (seal,) = _names(kitchen, "seal")
    assert (seal["payload"]["total"], seal["payload"]["discount"], seal["payload"]["payments"]) == ("0.00", "8.00", [])


# --- Client keys: what the edge (orders.idempotency.replay_or_run) guarantees around the actions -------


def test_it_returns_the_first_order_to_a_retry_with_the_same_key(place_keyed, menu, kitchen):
    lines = [line(menu.steak, modifiers=[menu.bleu])]
    first = place_keyed(lines, key="till-1-abc")
    again = place_keyed(lines, key="till-1-abc")
    assert again.pk == first.pk and again.replayed and not first.replayed
    assert Order.objects.count() == 1 and len(_names(kitchen, "send")) == 1
    with pytest.raises(IdempotencyKeyReused):
        place_keyed([line(menu.dessert)], key="till-1-abc")


def test_it_stores_nothing_for_a_refused_keyed_request(place_keyed, menu, kitchen):
    with pytest.raises(OrderError):
        place_keyed([line(menu.steak)], key="k1")
    assert IdempotentRequest.objects.count() == 0
    assert place_keyed([line(menu.steak, modifiers=[menu.bleu])], key="k1").number == 1


def test_it_keeps_idempotency_keys_per_device(place_keyed, menu, kitchen, kiosk):
    a = place_keyed([line(menu.dessert)], key="same")
    b = place_keyed([line(menu.dessert)], key="same", device=kiosk, server=None, source="kiosk")
    assert a.pk != b.pk


def test_it_replays_a_payment_retried_with_the_same_key(menu, place, kitchen, alice, till):
    order = place([line(menu.dessert)])

    def pay(method):
        def run():
            result = payments.take_payment(order=order, method=method, amount=D("10.00"), operator=alice, device=till)
            return {"payment": result.payment.pk, "settled": result.settled, "change": result.change}

        return idempotency.replay_or_run(device=till, scope="payments", key="p1", body={"method": method, "amount": "10.00"}, run=run)

    first, again = pay("cash"), pay("cash")
    assert (again.replayed, again.body) == (True, first.body)
    assert again.body == {"payment": Payment.objects.get().pk, "settled": True, "change": "2.00"}
    assert Payment.objects.count() == 1 and len(_names(kitchen, "seal")) == 1
    with pytest.raises(IdempotencyKeyReused):
        pay("card")
