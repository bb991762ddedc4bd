"""Order numbers: 1, 2, 3 … within each business day, never twice the same.

The one statement of the orders app written as SQL (`connection.cursor()`), because it sits on the
path of every placed order and the ORM needs two for it: `UPDATE … SET last_number = last_number + 1
… RETURNING last_number` bumps the day's counter and reads the new number at once (PostgreSQL, SQLite
≥ 3.35; one more SELECT elsewhere). The UPDATE holds the counter row's lock until commit, so
concurrent orders queue here for a moment instead of computing the same "max + 1". Tested on SQLite
and PostgreSQL (tests/orders/test_numbering.py).
"""

import datetime as dt

from django.db import IntegrityError, connection, transaction

from orders.models import DailyCounter

_statements: dict[str, tuple[str, bool]] = {}  # per database vendor: (SQL, whether it RETURNs)


def next_number(day: dt.date) -> int:
    """The next order number of `day`; the day's first order creates its counter row."""
    number = _count_up(day)
    if number is None:
        try:
            with transaction.atomic():
                DailyCounter.objects.create(business_day=day, last_number=1)
                return 1
        except IntegrityError:  # a concurrent first order of the day created it
            number = _count_up(day)
    return number


def _count_up(day: dt.date) -> int | None:
    """last_number + 1 on `day`'s counter, and the new number; None when the day has no counter yet."""
    if connection.vendor not in _statements:
        meta, qn = DailyCounter._meta, connection.ops.quote_name
        table, number, day_column = qn(meta.db_table), qn(meta.get_field("last_number").column), qn(meta.get_field("business_day").column)
        returning = connection.features.can_return_columns_from_insert
        sql = f"UPDATE {table} SET {number} = {number} + 1 WHERE {day_column} = %s" + (f" RETURNING {number}" if returning else "")
        _statements[connection.vendor] = (sql, returning)
    sql, returning = _statements[connection.vendor]
    with connection.cursor() as cursor:
        cursor.execute(sql, [DailyCounter._meta.get_field("business_day").get_db_prep_value(day, connection)])
        if returning:
            row = cursor.fetchone()
            return row[0] if row else None
        if not cursor.rowcount:
            return None
    return DailyCounter.objects.get(business_day=day).last_number
