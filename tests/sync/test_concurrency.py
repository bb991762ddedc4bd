"""Two uploads of one chain at the same moment (a resend racing its original): the mark's row lock
(SELECT ... FOR UPDATE on PostgreSQL; SQLite's IMMEDIATE transaction takes the write lock up front)
makes the second wait and see the first's records, so nothing is stored twice and nothing forks.

The default test database is SQLite in memory, shared between threads through SQLite's shared cache,
where a writer that finds the database locked fails at once ("database table is locked") instead of
waiting out the busy timeout as on the file database a server uses: there, and only there, a call that
failed that way is retried (its transaction was rolled back whole, so a retry is what waiting does).
"""

import threading
import time

import pytest
from django.db import OperationalError, connection

from fiscal import chain as fc
from sync.models import ReceivedRecord, StoreChainMark
from sync.services import receive_batch

from .chains import ChainWriter


def _shared_cache_sqlite() -> bool:
    return connection.vendor == "sqlite" and connection.is_in_memory_db()


def _receive(store, batch):
    for _attempt in range(1000):
        try:
            return receive_batch(store=store, batch=batch)
        except OperationalError as exc:
            if not (_shared_cache_sqlite() and "locked" in str(exc)):
                raise
            time.sleep(0.005)
    raise AssertionError("the database stayed locked")


@pytest.mark.django_db(transaction=True)
def test_it_stores_a_batch_sent_twice_at_once_only_once(rivoli, rivoli_key):
    batch = {"chain": "jet", "records": ChainWriter(rivoli_key, fc.JET).extend(50)}
    answers, start = [], threading.Barrier(2)

    def upload():
        try:
            start.wait()
            answers.append(_receive(rivoli, batch))
        except Exception as exc:  # asserted on below
            answers.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=upload) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)

    assert all(isinstance(a, dict) for a in answers), answers
    assert sorted((a["accepted"], a["duplicates"]) for a in answers) == [(0, 50), (50, 0)]
    assert ReceivedRecord.objects.filter(store=rivoli, chain="jet").count() == 50
    assert StoreChainMark.objects.get(store=rivoli, chain="jet").seq == 50
