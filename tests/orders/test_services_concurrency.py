"""Two tills at the same instant: real threads, real transactions (transactional_db).

On SQLite, IMMEDIATE transactions serialise the writers; on PostgreSQL (CI), the conditional UPDATE on
`remaining`, the counter row and the unique idempotency key do. Either way: no oversell, one order per
key, no duplicate order numbers.

The default test database is SQLite in memory, shared between threads through SQLite's shared cache,
where a writer that finds the database locked fails at once ("database table is locked") instead of
waiting out the busy timeout as it does on the file database the server uses. There, and only there,
`run_together` retries a call that failed that way: the failed transaction was rolled back whole, so a
retry is what waiting would have done.
"""

import threading
import time
from decimal import Decimal

import pytest
from django.db import OperationalError, close_old_connections, connection

from orders import idempotency
from orders.actions import ordering
from orders.idempotency import IdempotencyKeyReused
from orders.models import IdempotentRequest, Item, Order
from orders.errors import OrderError
from tests.orders.conftest import line

THREADS = 4


def _keyed(device, key, place, body) -> Order:
    """A keyed "place this order" as the edge runs it (orders.idempotency.replay_or_run)."""
    answer = idempotency.replay_or_run(device=device, scope="orders", key=key, body=body, run=lambda: {"order": place().pk})
    return Order.objects.get(pk=answer.body["order"])


def _shared_cache_sqlite() -> bool:
    return connection.vendor == "sqlite" and connection.is_in_memory_db()


def _call(target, index):
    if not _shared_cache_sqlite():
        return target(index)
    for _attempt in range(500):
        try:
            return target(index)
        except OperationalError as exc:
            if "locked" not in str(exc):
                raise
            time.sleep(0.005)
    raise AssertionError("the database stayed locked")


def run_together(target, count=THREADS):
    """Run `target(i)` in `count` threads released at once; return [(result | exception)]."""
    barrier = threading.Barrier(count)
    results: list = [None] * count

    def worker(index):
        try:
            barrier.wait()
            results[index] = _call(target, index)
        except Exception as exc:  # collected and asserted on by the test
            results[index] = exc
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


@pytest.fixture
def shared_menu(transactional_db, request):
    """The menu fixture, committed so that other threads' connections see it."""
    return request.getfixturevalue("menu")


@pytest.mark.django_db(transaction=True)
def test_it_never_oversells_the_last_portions(shared_menu, till, alice):
    menu = shared_menu
    Item.objects.filter(pk=menu.dessert.pk).update(remaining=2)

    def order(_index):
        return ordering.place_order(
            device=till, server=alice, order_type="take_away", source="till", lines=[line(menu.dessert)], send=False
        )

    results = run_together(order)
    placed = [r for r in results if isinstance(r, Order)]
    refused = [r for r in results if isinstance(r, OrderError)]
    assert len(placed) == 2, results
    assert len(refused) == THREADS - 2 and {e.code for e in refused} == {"sold_out"}
    assert Item.objects.get(pk=menu.dessert.pk).remaining == 0
    assert sorted(o.number for o in Order.objects.all()) == [1, 2]


@pytest.mark.django_db(transaction=True)
def test_it_makes_one_order_of_concurrent_retries(shared_menu, till, alice):
    menu = shared_menu

    def order(_index):
        return _keyed(till, "blip-42", lambda: ordering.place_order(
            device=till, server=alice, order_type="eat_in", source="till", lines=[line(menu.wine, 2)], send=False,
        ), {"wine": 2})

    results = run_together(order)
    assert all(isinstance(r, Order) for r in results), results
    assert len({r.pk for r in results}) == 1
    assert Order.objects.count() == 1 and IdempotentRequest.objects.count() == 1
    assert Order.objects.get().total == Decimal("12.00")


@pytest.mark.django_db(transaction=True)
def test_it_refuses_concurrent_different_bodies_under_one_key(shared_menu, till, alice):
    menu = shared_menu

    def order(index):
        return _keyed(till, "same-key", lambda: ordering.place_order(
            device=till, server=alice, order_type="eat_in", source="till", lines=[line(menu.wine, index + 1)], send=False,
        ), {"wine": index + 1})

    results = run_together(order)
    assert sum(isinstance(r, Order) for r in results) == 1, results
    assert all(isinstance(r, (Order, IdempotencyKeyReused)) for r in results), results
    assert Order.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_it_gives_concurrent_orders_distinct_numbers(shared_menu, till, alice):
    menu = shared_menu

    def order(_index):
        return ordering.place_order(
            device=till, server=alice, order_type="take_away", source="till", lines=[line(menu.water)], send=False
        )

    results = run_together(order)
    assert all(isinstance(r, Order) for r in results), results
    assert sorted(r.number for r in results) == list(range(1, THREADS + 1))
