"""Where the server's synchronous work runs: the service lane and the back-office lane.

Everything a service needs — tills, kiosks, the JSON API, kitchen screens' pages, and the kitchen
screens' WebSocket work (their frames, their bumps) — runs in one thread, the service lane, one call
after the other. Python runs one thread at a time anyway; spread over several threads the same work
costs more, each thread switching at every database call to let another one in (measured by
bench/fanout.py: about a third more CPU per order), and the database writes one transaction at a time
whatever the number of threads. In one lane, nothing waits for SQLite's write lock behind another
order, and a frame is drawn between two requests rather than in the middle of one.

What may be slow, and is not needed to cook — the admin, fiscal pages and exports, reports, static
files — runs in the back-office lane, a small pool of its own: a manager's month report never holds
up a ticket.

Each lane thread keeps its database connection from one call to the next (core.http, kds.consumers).
"""

import threading
from concurrent.futures import ThreadPoolExecutor

from channels.db import DatabaseSyncToAsync
from django.conf import settings

# Paths served in the back-office lane (everything else is service). /static/ is there too: files are
# read while they are sent, and a tablet loads them once.
BACK_OFFICE_PATHS = ("/admin/", "/fiscal/", "/sync/", "/static/", "/media/")

class Lane(ThreadPoolExecutor):
    """A thread pool that knows how many calls it has, running or waiting."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._calls = 0
        self._calls_lock = threading.Lock()

    def submit(self, fn, /, *args, **kwargs):
        with self._calls_lock:
            self._calls += 1
        try:
            future = super().submit(fn, *args, **kwargs)
        except BaseException:
            self._done(None)
            raise
        future.add_done_callback(self._done)
        return future

    def _done(self, _future) -> None:
        with self._calls_lock:
            self._calls -= 1

    @property
    def calls(self) -> int:
        return self._calls


service = Lane(max_workers=1, thread_name_prefix="brigade-service")
back_office = ThreadPoolExecutor(max_workers=settings.BACK_OFFICE_THREADS, thread_name_prefix="brigade-office")


def is_back_office(path: str) -> bool:
    return path.startswith(BACK_OFFICE_PATHS)


def in_service_lane(fn):
    """`fn` as a coroutine function that runs in the service lane (database connections checked
    before and after, as channels' database_sync_to_async does)."""
    return DatabaseSyncToAsync(fn, thread_sensitive=False, executor=service)
