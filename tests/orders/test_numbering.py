"""orders.numbering: the one statement of the orders app written as SQL, so it runs on SQLite and
PostgreSQL alike (the PostgreSQL run of tests/orders covers the second)."""

import datetime as dt

from django.db import connection
from django.test.utils import CaptureQueriesContext

from orders.models import DailyCounter
from orders.numbering import next_number

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
