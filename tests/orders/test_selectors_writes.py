"""orders.selectors' compiled writes (`insert_rows`, `update_rows`) and `Prepared` reads on text columns.

Also run on PostgreSQL in CI: only what both databases do (RETURNING, rowcount, case-sensitive `=`).
"""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from orders.models import Item, Order, Table
from orders.selectors import Prepared, insert_row, insert_rows, update_row, update_rows
from tests.orders.conftest import line

D = Decimal


def stored(model, pks) -> dict:
    """{pk: row as a dict} as the ORM reads it back."""
    return {row["id"]: row for row in model.objects.filter(pk__in=pks).values()}


# --- insert_rows ------------------------------------------------------------------------------------------


def test_it_inserts_rows_in_one_statement_and_gives_each_its_primary_key(db):
    tables = [Table(label=f"T{n}", area="Terrasse", seats=n, x=n, y=0) for n in range(1, 6)]
    with CaptureQueriesContext(connection) as queries:
        assert insert_rows(tables) is tables
    expected = 1 if connection.features.can_return_rows_from_bulk_insert else len(tables)
    assert len(queries.captured_queries) == expected
    assert all(q["sql"].lstrip().upper().startswith("INSERT") for q in queries.captured_queries)
    pks = [t.pk for t in tables]
    assert None not in pks and len(set(pks)) == 5
    rows = stored(Table, pks)
    # Each object got the key of the row holding its own values, in the order given.
    assert [(rows[t.pk]["label"], rows[t.pk]["seats"], rows[t.pk]["x"]) for t in tables] == [(f"T{n}", n, n) for n in range(1, 6)]
    assert pks == sorted(pks)


def test_it_marks_inserted_rows_as_saved(db):
    tables = insert_rows([Table(label="T1"), Table(label="T2")])
    assert [(t._state.adding, t._state.db) for t in tables] == [(False, "default"), (False, "default")]
    tables[0].area = "Terrasse"
    tables[0].save()  # an UPDATE of the row, not a second INSERT
    assert Table.objects.filter(label__in=["T1", "T2"]).count() == 2
    assert Table.objects.get(pk=tables[0].pk).area == "Terrasse"


def test_it_does_nothing_for_no_rows(db):
    with CaptureQueriesContext(connection) as queries:
        assert insert_rows([]) == []
    assert queries.captured_queries == []


def test_it_inserts_batches_of_several_sizes_one_after_the_other(db):
    """The statement is kept per number of rows: each size writes its own rows, however often it runs."""
    batches = [[Table(label=f"B{b}-{n}") for n in range(size)] for b, size in enumerate((2, 3, 2, 1))]
    for batch in batches:
        insert_rows(batch)
    everything = [t for batch in batches for t in batch]
    rows = stored(Table, [t.pk for t in everything])
    assert len(rows) == 8
    assert [rows[t.pk]["label"] for t in everything] == [t.label for t in everything]


def test_it_stores_each_fields_value_as_the_orm_would(menu):
    """Dates, decimals, foreign keys and defaults go through the fields (get_db_prep_save)."""
    created_at = timezone.now() - timedelta(hours=2)
    day = timezone.localdate()
    orders = insert_rows([
        Order(number=1, business_day=day, table=menu.tables["4"], covers=3, total=D("59.00"), created_at=created_at),
        Order(number=2, business_day=day, order_type=Order.Type.TAKE_AWAY, customer_name="Léa", total=D("6.50")),
    ])
    first, second = (Order.objects.get(pk=o.pk) for o in orders)
    assert (first.number, first.business_day, first.table_id, first.covers) == (1, day, menu.tables["4"].pk, 3)
    assert (first.total, first.created_at, first.status, first.closed_at) == (D("59.00"), created_at, "open", None)
    assert (second.order_type, second.customer_name, second.total, second.table_id) == ("take_away", "Léa", D("6.50"), None)
    assert second.created_at == orders[1].created_at  # the field's default, set on the instance


def test_it_writes_nothing_when_one_row_is_refused(menu):
    tables = [Table(label="T1"), Table(label="4"), Table(label="T2")]  # table 4 exists already
    with pytest.raises(IntegrityError), transaction.atomic():
        insert_rows(tables)
    assert not Table.objects.filter(label__in=["T1", "T2"]).exists()
    assert [t._state.adding for t in tables] == [True, True, True]


def test_it_inserts_one_row(db):
    table = insert_row(Table(label="Bar", seats=1))
    assert table.pk is not None and not table._state.adding
    assert Table.objects.get(pk=table.pk).label == "Bar"


# --- update_rows ------------------------------------------------------------------------------------------


def test_it_updates_the_given_rows_only_and_counts_them(menu):
    t1, t2, t3 = menu.tables["1"], menu.tables["2"], menu.tables["3"]
    assert update_rows(Table, [t1.pk, t2.pk], {"area": "Terrasse", "seats": 6}) == 2
    rows = stored(Table, [t1.pk, t2.pk, t3.pk])
    assert [(rows[t.pk]["area"], rows[t.pk]["seats"]) for t in (t1, t2)] == [("Terrasse", 6), ("Terrasse", 6)]
    assert (rows[t3.pk]["area"], rows[t3.pk]["seats"]) == ("Salle", t3.seats)


def test_it_does_nothing_for_no_primary_keys(menu):
    with CaptureQueriesContext(connection) as queries:
        assert update_rows(Table, [], {"area": "Terrasse"}) == 0
    assert queries.captured_queries == []


def test_it_counts_no_row_for_a_key_that_does_not_exist(menu):
    missing = Table.objects.order_by("-pk").first().pk + 1000
    assert update_row(Table, missing, {"area": "Terrasse"}) == 0


def test_it_changes_only_rows_that_still_match_where(menu):
    """Compare-and-set: 0 rows when another writer got there first, and nothing is written."""
    t1, t2 = menu.tables["1"], menu.tables["2"]
    assert update_row(Table, t1.pk, {"area": "Terrasse"}, where={"area": "Salle"}) == 1
    assert update_row(Table, t1.pk, {"area": "Jardin"}, where={"area": "Salle"}) == 0
    assert Table.objects.get(pk=t1.pk).area == "Terrasse"
    # Of two rows, only the one still matching.
    assert update_rows(Table, [t1.pk, t2.pk], {"seats": 8}, where={"area": "Salle"}) == 1
    assert (Table.objects.get(pk=t1.pk).seats, Table.objects.get(pk=t2.pk).seats) == (t1.seats, 8)


def test_it_compares_none_as_is_null(menu):
    steak, salad = menu.steak, menu.salad  # steak uncounted (NULL); 5 salads left
    Item.objects.filter(pk=salad.pk).update(remaining=5)
    assert update_rows(Item, [steak.pk, salad.pk], {"remaining": 0}, where={"remaining": None}) == 1
    assert (Item.objects.get(pk=steak.pk).remaining, Item.objects.get(pk=salad.pk).remaining) == (0, 5)
    assert update_rows(Item, [steak.pk, salad.pk], {"remaining": 0}, where={"remaining": None}) == 0  # no NULL left
    # The same columns compared with a value: another statement (`= %s`, not IS NULL).
    assert update_rows(Item, [steak.pk, salad.pk], {"remaining": 4}, where={"remaining": 5}) == 1
    assert (Item.objects.get(pk=steak.pk).remaining, Item.objects.get(pk=salad.pk).remaining) == (0, 4)
    # And a value set back to NULL.
    assert update_row(Item, steak.pk, {"remaining": None}, where={"remaining": 0}) == 1
    assert Item.objects.get(pk=steak.pk).remaining is None


def test_it_settles_an_order_once(menu, place):
    """What take_payment does: open → paid with its closing time, only if still open and not closed."""
    order = place([line(menu.salad)], order_type="take_away")
    closed_at = timezone.now()
    where = {"status": Order.Status.OPEN, "closed_at": None}
    assert update_row(Order, order.pk, {"status": Order.Status.PAID, "closed_at": closed_at}, where=where) == 1
    assert update_row(Order, order.pk, {"status": Order.Status.PAID, "closed_at": timezone.now()}, where=where) == 0
    order.refresh_from_db()
    assert (order.status, order.closed_at) == ("paid", closed_at)


# --- Prepared on text columns -----------------------------------------------------------------------------


def test_it_prepares_a_read_by_a_text_column(menu):
    Table.objects.create(label="12")
    by_label = Prepared(lambda label: Table.objects.filter(label=label).values_list("id", "label"))
    assert by_label.rows("1") == [(menu.tables["1"].pk, "1")]  # not "12"
    assert by_label.rows("12") == [(Table.objects.get(label="12").pk, "12")]
    assert by_label.rows("4") == [(menu.tables["4"].pk, "4")]  # compiled once, run with another value
    assert by_label.rows("99") == []
    assert by_label.rows("4' OR '1'='1") == []  # a parameter, never SQL


def test_it_prepares_a_text_read_that_tells_case_apart(menu):
    insert_rows([Table(label="T1"), Table(label="t1")])
    by_label = Prepared(lambda label: Table.objects.filter(label=label), model=Table)
    assert [t.label for t in by_label.instances("t1")] == ["t1"]
    assert [t.label for t in by_label.instances("T1")] == ["T1"]


def test_it_prepares_text_and_number_arguments_together(menu):
    """Tables 1, 2, 4 and 5 seat two, 3 and 6 four; table 5 moves to the terrace."""
    Table.objects.filter(label="5").update(area="Terrasse")
    query = Prepared(lambda area, seats: Table.objects.filter(area=area, seats=seats).order_by("label").values_list("label"))
    assert query.rows("Salle", 2) == [("1",), ("2",), ("4",)]
    assert query.rows("Salle", 4) == [("3",), ("6",)]
    assert query.rows("Terrasse", 2) == [("5",)]
    assert query.rows("Terrasse", 4) == []


def test_it_prepares_a_read_by_a_small_integer_column(menu):
    """A stand-in out of smallint's range would compile to nothing on PostgreSQL."""
    by_seats = Prepared(lambda seats: Table.objects.filter(seats=seats).order_by("label").values_list("label"))
    assert by_seats.rows(4) == [("3",), ("6",)]
    assert by_seats.rows(2) == [("1",), ("2",), ("4",), ("5",)]


def test_it_prepares_a_list_of_text_values(menu):
    by_labels = Prepared(lambda labels: Table.objects.filter(label__in=labels).order_by("label").values_list("label"))
    assert by_labels.rows(["2", "5", "2"]) == [("2",), ("5",)]
    assert by_labels.rows(["6"]) == [("6",)]
    assert by_labels.rows(["nope", "3"]) == [("3",)]


def test_it_refuses_a_text_argument_the_lookup_rewrites(db):
    """`__startswith` sends "value%": the argument is not one parameter to replace."""
    prefix = Prepared(lambda label: Table.objects.filter(label__startswith=label).values_list("id"))
    with pytest.raises(ImproperlyConfigured):
        prefix.rows("T")


# --- Prepared: compiled once per shape --------------------------------------------------------------------


def test_it_compiles_a_list_argument_once_per_length(menu):
    names = Prepared(lambda ids: Item.objects.filter(pk__in=ids).order_by("pk").values_list("name"))
    assert names.rows([]) == []  # nothing to ask
    both = sorted([menu.steak, menu.salad], key=lambda item: item.pk)
    assert names.rows([menu.steak.pk, menu.salad.pk, menu.steak.pk]) == [(item.name,) for item in both]  # duplicates once
    assert names.rows([menu.wine.pk]) == [("Verre de Bordeaux",)]
    assert names.rows([menu.fries.pk, menu.soda.pk]) == [("Frites",), ("Coca-Cola 33cl",)]
    assert len(names._compiled) == 2  # one statement for one id, one for two


def test_it_refuses_an_argument_that_is_not_one_parameter(db):
    from orders.models import Payment

    twice = Prepared(lambda pk: Payment.objects.filter(pk=pk, order_id=pk).values_list("id"))
    with pytest.raises(ImproperlyConfigured):
        twice.rows(1)
