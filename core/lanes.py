"""Where the server's synchronous work runs: the service lane and the back-office lane.

The service lane runs everything a service needs: tills, kiosks, the JSON API, the kitchen screens'
pages, and the kitchen screens' WebSocket work (their frames, their bumps). It has two parts:

- `service`, a small pool of threads (settings.SERVICE_THREADS, KDS_SERVICE_THREADS, 4 by default)
  for what only reads: GET pages and API reads, the screens' frames. Several threads, not one: a
  call that waits (for the database, for a slow disk) holds one thread, and the others go on serving
  what is already committed — screens get their frames, tills read their orders.
- `service_writes`, one thread for what changes things: POST (and PUT, PATCH, DELETE) requests and
  the screens' actions. The database takes one write transaction at a time whatever the number of
  threads; in one thread our own writers queue in order, each starting the moment the previous one
  commits, instead of each polling SQLite's lock from its own thread (SQLite's busy handler sleeps
  1, 2, 5, 10… ms between tries: profiled under bench/fanout.py, a pool of writers spent about 40 % of
  an order's time there). When another connection holds the write lock (a back-office transaction),
  the writes wait for it — they would wherever they ran — and everything else goes on.

Threads cost the interpreter something: when two calls are ready at once they take turns holding the
GIL (bench/fanout.py: up to about 10 % more CPU per order than one thread for everything). That is paid only
when calls overlap, and buys a room that a lock wait does not freeze.

What may be slow, and is not needed to cook — the admin, fiscal pages and exports, reports, static
files — runs in the back-office lane, a small pool of its own: a manager's month report never holds
up a ticket.

Each lane thread keeps its database connection from one call to the next (core.http, kds.frames).
"""

import asyncio
from concurrent.futures import ThreadPoolExecutor

from channels.db import DatabaseSyncToAsync
from django.conf import settings

from core import events

# Paths served in the back-office lane (everything else is service). /static/ is there too: files are
# read while they are sent, and a tablet loads them once.
BACK_OFFICE_PATHS = ("/admin/", "/fiscal/", "/sync/", "/static/", "/media/")

# HTTP methods that change things (RFC 9110's "unsafe" ones): served by `service_writes`.
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

service = ThreadPoolExecutor(max_workers=settings.SERVICE_THREADS, thread_name_prefix="brigade-service")
service_writes = ThreadPoolExecutor(max_workers=1, thread_name_prefix="brigade-service-writes")
back_office = ThreadPoolExecutor(max_workers=settings.BACK_OFFICE_THREADS, thread_name_prefix="brigade-office")


def is_back_office(path: str) -> bool:
    return path.startswith(BACK_OFFICE_PATHS)


def in_service_lane(fn, *, writes: bool = False):
    """`fn` as a coroutine function that runs in the service lane (`writes`: in its writing thread),
    with database connections checked before and after (as channels' database_sync_to_async does) and
    what it publishes handed to the calling event loop (core.events.serving)."""
    executor = service_writes if writes else service

    async def call(*args, **kwargs):
        loop = asyncio.get_running_loop()

        def run():
            with events.serving(loop):
                return fn(*args, **kwargs)

        return await DatabaseSyncToAsync(run, thread_sensitive=False, executor=executor)()

    return call
