"""Query budgets of the till's and the payment's hot paths (orders.actions).

Timings belong in bench/ (bench/sealing.py, bench/till.py); these tests pin the number of statements,
which is deterministic: a payment, a tap on the till and a placed order each run a fixed number of
statements whatever the size of the order (no query per line), and what was just written is not read
back. Counts are inside the test's transaction, so each service's atomic block shows as SAVEPOINT …
RELEASE (two statements).
"""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from fiscal import chain, keys
from kds.models import KitchenSetup, Station, Ticket
from fiscal.services import find_receipt
from kds import services as kitchen_services  # what the kitchen receives (kds.receivers)
from orders import idempotency, receipts, selectors
from orders.actions import courses, discounts, ordering, payments
from orders.models import Order, OrderLine, OrderLineModifier
from printing.models import Printer, PrintJob
from tests.orders.conftest import formule_line, line

D = Decimal


@pytest.fixture(autouse=True)
def fiscal_key(settings, tmp_path):
    """A signing key of the test's own (the real seal runs: it is part of the payment's budget)."""
    settings.FISCAL_KEY_PATH = tmp_path / "fiscal_ed25519.pem"
    keys.forget_cache()
    yield
    keys.forget_cache()


def _statements(queries) -> list[str]:
    return [q["sql"].split()[0].upper() for q in queries.captured_queries]


def _pay(order, till, alice, **extra):
    return payments.take_payment(order=order, method="cash", amount=order.total, operator=alice, device=till, **extra)


@pytest.fixture
def warm(place, till, alice, menu):
    """One order placed and paid first: the fiscal chain's head row exists, as on any day but the first."""
    _pay(place([line(menu.water)], order_type="take_away"), till, alice)


# --- take_payment ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [1, 8])
def test_it_settles_a_payment_in_ten_statements_whatever_the_order_size(warm, place, menu, till, alice, size):
    lines = [line(menu.steak, modifiers=[menu.saignant, menu.poivre]), formule_line(menu)]
    lines += [line(menu.wine, quantity=2)] * (size - 1)
    order = place(lines, order_type="take_away")
    with CaptureQueriesContext(connection) as queries:
        result = _pay(order, till, alice)
    assert result.settled and result.receipt is not None
    # lock the order, its payments; the payment row, OPEN → PAID; the receipt's lines with their
    # modifiers; fiscal: lock the chain head, the sealed record, the head again.
    assert _statements(queries) == [
        "SAVEPOINT", "SELECT", "SELECT", "INSERT", "UPDATE", "SELECT", "SELECT", "INSERT", "UPDATE", "RELEASE",
    ]


def test_it_reads_the_table_label_once_more_for_a_table_order(warm, place, menu, till, alice):
    order = place([line(menu.salad)], table=menu.tables["4"], covers=2)
    with CaptureQueriesContext(connection) as queries:
        _pay(order, till, alice)
    assert len(queries) == 11
    assert find_receipt(business_day=order.business_day, number=order.number).data()["order"]["table"] == "4"


def test_it_takes_a_partial_payment_without_building_a_receipt(warm, place, menu, till, alice):
    order = place([line(menu.salad), line(menu.dessert)], order_type="take_away")
    with CaptureQueriesContext(connection) as queries:
        result = payments.take_payment(order=order, method="card", amount=D("10.00"), operator=alice, device=till)
    assert not result.settled and result.receipt is None
    assert _statements(queries) == ["SAVEPOINT", "SELECT", "SELECT", "INSERT", "RELEASE"]


def test_it_seals_the_same_receipt_it_would_read_back(warm, place, menu, till, alice):
    """The payload built from the payments in hand equals the one read from the database afterwards."""
    order = place([line(menu.steak, modifiers=[menu.a_point]), formule_line(menu, drink=menu.wine)], table=menu.tables["2"], covers=2)
    discounts.apply_discount(order=order, percent=D("10"), operator=alice)
    order.refresh_from_db()
    payments.take_payment(order=order, method="card", amount=D("20.00"), tip=D("1.50"), operator=alice, device=till)
    order.refresh_from_db()
    result = payments.take_payment(order=order, method="cash", amount=D("100.00"), operator=alice, device=till)
    sealed = result.receipt.data()
    again = receipts.receipt_payload(Order.objects.get(pk=order.pk))
    for key in ("order", "lines", "vat", "discount", "total", "payments", "tips"):
        assert sealed[key] == chain.canonical_payload(again)[key], key
    assert [p["method"] for p in again["payments"]] == ["card", "cash"] and again["tips"] == "1.50"


def test_it_answers_a_keyed_payment_without_re_reading_it(warm, place, menu, till, alice):
    order = place([line(menu.salad)], order_type="take_away")

    def keyed():
        return idempotency.replay_or_run(
            device=till, scope="payments", key="pay-1", body={"order": order.pk},
            run=lambda: {"payment": _pay(order, till, alice).payment.pk},
        )

    with CaptureQueriesContext(connection) as queries:
        first = keyed()
    assert not first.replayed
    # replay_or_run's own atomic block (2), the key reserved in a savepoint (3), the payment (10), the answer (1)
    assert len(queries) == 2 + 3 + 10 + 1
    replay = keyed()
    assert replay.replayed and replay.body == first.body


# --- add_lines, place_order -----------------------------------------------------------------------------


@pytest.mark.parametrize("existing", [1, 12])
def test_it_adds_a_one_tap_item_in_nine_statements_whatever_the_order_size(menu, place, existing):
    order = place([line(menu.wine)] * existing, send=False)  # water's modifier groups are not cached yet
    with CaptureQueriesContext(connection) as queries:
        (added,) = ordering.add_lines(order=order, lines=[line(menu.water)])
    # lock the order; the item, its modifier groups; the order's lines (pricing, held courses);
    # the new line; the order's total.
    assert _statements(queries) == ["SAVEPOINT", "SELECT", "SELECT", "SELECT", "SELECT", "INSERT", "UPDATE", "RELEASE"]
    assert added.total == D("3.00") and added.status == OrderLine.Status.PENDING
    order.refresh_from_db()
    assert order.total == D("6.00") * existing + D("3.00")


def test_it_adds_a_line_to_a_held_course_as_held_without_asking_again(menu, place):
    order = place([line(menu.dessert, course=2, hold=True)], send=False)
    with CaptureQueriesContext(connection) as queries:
        (added,) = ordering.add_lines(order=order, lines=[line(menu.dessert, course=2)])
    assert added.status == OrderLine.Status.HELD
    # As a one-tap item, less the dessert's modifier groups: read when it was first ordered, they come
    # from the menu cache (orders.menu_cache) now.
    assert len(queries) == 8 - 1


def test_it_adds_a_line_with_its_modifiers_in_one_statement_each(menu, place):
    order = place([line(menu.wine)], send=False)
    with CaptureQueriesContext(connection) as queries:
        ordering.add_lines(order=order, lines=[line(menu.steak, modifiers=[menu.saignant, menu.poivre, menu.egg])])
    # as a one-tap item, plus the chosen modifiers read, and one INSERT for all the modifier rows
    assert len(queries) == 8 + 1 + 1


def test_it_places_an_order_without_reading_back_what_it_wrote(warm, menu, place):
    lines = [line(menu.steak, modifiers=[menu.saignant]), formule_line(menu), line(menu.dessert, course=2), line(menu.wine)]
    with CaptureQueriesContext(connection) as queries:
        order = place(lines, send=False)
    statements = _statements(queries)
    # menu: items, modifiers, modifier groups, slots, slot choices (5); the number (counter UPDATE …
    # RETURNING) and the order INSERT in a savepoint (4); the lines in two INSERTs (the steak and the
    # set menu; its 3 components, the dessert and the wine) and the 2 modifier rows in one (3); the
    # order total (1); the service's own savepoint (2). Nothing read back.
    assert statements.count("SELECT") == 5
    assert statements.count("INSERT") == 1 + 2 + 1
    assert len(statements) == 15
    order.refresh_from_db()
    assert order.total == D("24.00") + D("19.50") + D("8.00") + D("6.00")
    stored = list(OrderLine.objects.filter(order=order).order_by("pk"))
    assert len(stored) == 7
    # Numbered in the order they were tapped, the set menu's components right after it.
    assert [row.item_id for row in stored] == [
        menu.steak.pk, menu.formule.pk, menu.burger.pk, menu.fries.pk, menu.soda.pk, menu.dessert.pk, menu.wine.pk,
    ]
    assert [row.parent_id for row in stored] == [None, None, stored[1].pk, stored[1].pk, stored[1].pk, None, None]
    modifiers = OrderLineModifier.objects.filter(line__order=order).order_by("pk")
    assert [(m.line_id, m.modifier_id) for m in modifiers] == [
        (stored[0].pk, menu.saignant.pk), (stored[2].pk, menu.a_point.pk),
    ]


def test_it_returns_the_placed_order_without_reading_it_again(warm, menu, place, till):
    def keyed():
        return idempotency.replay_or_run(
            device=till, scope="orders", key="k-1", body={"salad": 1}, run=lambda: {"order": place([line(menu.salad)], send=False).pk},
        )

    place([line(menu.salad)], send=False)  # the salad's modifier groups in the menu cache for both
    with CaptureQueriesContext(connection) as first:
        answer = keyed()
    with CaptureQueriesContext(connection) as plain:
        place([line(menu.salad)], send=False)
    # replay_or_run's own atomic block (2), the key's savepoint and row (3), its answer (1): no SELECT of the order
    assert len(first) == len(plain) + 6
    assert keyed().body == answer.body


# --- send_order: the kitchen's tickets and print jobs -----------------------------------------------------


@pytest.fixture
def kitchen(menu):
    """Grill (default; Plats), cold (Entrées), bar (Boissons), expo; the first three with a printer."""
    grill = Station.objects.create(name="Grill", slug="grill", position=1, is_default=True)
    cold = Station.objects.create(name="Cold", slug="cold", position=2)
    bar = Station.objects.create(name="Bar", slug="bar", position=3)
    Station.objects.create(name="Passe", slug="expo", kind=Station.Kind.EXPO, position=9)
    grill.categories.add(menu.plats)
    cold.categories.add(menu.entrees)
    bar.categories.add(menu.boissons)
    for station in (grill, cold, bar):
        station.printer = Printer.objects.create(name=station.name, host="127.0.0.1", port=9100)
        station.save()


def test_it_sends_an_order_to_the_kitchen_in_a_fixed_number_of_statements(kitchen, warm, menu, place):
    lines = [line(menu.steak, modifiers=[menu.saignant]), formule_line(menu), line(menu.dessert, course=2, hold=True),
             line(menu.wine)]
    place(lines, send=True)  # the kitchen's setup (stations, routing, printers) is now in this process's memory
    order = place(lines, send=False)
    with CaptureQueriesContext(connection) as queries:
        courses.send_order(order=order)
    # orders: lock the order, its unsent lines, PENDING → SENT, the held line marked seen (5, savepoint
    # included). kds: the setup's version (1), the stations' numbers (UPDATE … RETURNING), expo tickets,
    # preparation tickets, their items, the events (5); for the chits: the lines' modifiers, their set
    # menus, the server's name (3); the print jobs in one INSERT (1); the savepoints released (3).
    # PostgreSQL first locks the stations' rows in id order (SELECT … FOR UPDATE); SQLite's write lock
    # is already held.
    lock = ["SELECT"] if connection.features.has_select_for_update else []
    assert _statements(queries) == [
        "SAVEPOINT", "SELECT", "SELECT", "UPDATE", "UPDATE",
        "SAVEPOINT", "SELECT", *lock, "UPDATE", "INSERT", "INSERT", "INSERT", "INSERT",
        "SELECT", "SELECT", "SELECT", "INSERT", "RELEASE", "RELEASE",
    ]
    tickets = Ticket.objects.filter(order=order)
    assert sorted(t.station.slug for t in tickets) == ["bar", "expo", "expo", "grill", "grill"]  # dessert: held
    assert sorted(PrintJob.objects.filter(reference__in=[f"ticket:{t.pk}" for t in tickets]).values_list(
        "printer__name", flat=True)) == ["Bar", "Grill"]


def test_it_reads_the_kitchen_setup_again_after_a_change(kitchen, warm, menu, place):
    place([line(menu.wine)], send=True)
    counts = []
    for changed in (False, True):
        if changed:
            KitchenSetup.bump()  # an admin change, in this process or another
        order = place([line(menu.wine)], send=False)
        with CaptureQueriesContext(connection) as queries:
            courses.send_order(order=order)
        counts.append(len(queries))
    # after the change: the stations with their printers, the item routes, the category routes
    assert counts[1] == counts[0] + 3


# --- Reads -----------------------------------------------------------------------------------------------


def test_it_reads_payments_with_the_orm_converters(menu, place, till, alice):
    order = place([line(menu.salad, quantity=2)], order_type="take_away")
    payments.take_payment(order=order, method="card", amount=D("5.00"), tip=D("0.50"), operator=alice, device=till)
    assert selectors.payments_of(order) == [("card", D("5.00"), D("0.50"))]
    assert str(selectors.payments_of(order)[0][1]) == "5.00"  # a Decimal to the cent
    assert selectors.locked_order(order.pk) == order


def test_it_hands_the_kitchen_lines_with_their_items_loaded(menu, place, monkeypatch):
    """kds routes by item: the lines it gets carry theirs (no query per line to fetch them)."""
    handed = []
    monkeypatch.setattr(kitchen_services, "send_lines_to_kitchen", lambda *, order, lines: handed.append(lines) or [])
    order = place([line(menu.steak, modifiers=[menu.bleu]), formule_line(menu)], send=True)
    later = place([line(menu.dessert)], send=False)
    courses.send_order(order=later)
    assert [len(lines) for lines in handed] == [5, 1]
    assert all(OrderLine.item.is_cached(x) for lines in handed for x in lines)
    assert {x.status for lines in handed for x in lines} == {OrderLine.Status.SENT}
    assert handed[0][0].order_id == order.pk
