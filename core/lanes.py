"""Where the server's synchronous work runs: the service lane and the back-office lane.

The service lane is a small pool of threads (settings.SERVICE_THREADS, KDS_SERVICE_THREADS, 4 by
default) that runs everything a service needs: tills, kiosks, the JSON API, the kitchen screens'
pages, and the kitchen screens' WebSocket work (their frames, their bumps). Several threads, not one:
a call that waits for SQLite's write lock (a back-office transaction, a busy timeout of up to 20 s)
holds one thread, and the others go on serving what is already committed — screens get their
frames, tills read their orders. The cost is the one the interpreter charges for threads: when two
calls are ready at once they take turns holding the GIL; with a few threads and calls of a few
milliseconds that cost is small (measured by bench/fanout.py) and is paid only when calls overlap.

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

service = ThreadPoolExecutor(max_workers=settings.SERVICE_THREADS, thread_name_prefix="brigade-service")
back_office = ThreadPoolExecutor(max_workers=settings.BACK_OFFICE_THREADS, thread_name_prefix="brigade-office")


def is_back_office(path: str) -> bool:
    return path.startswith(BACK_OFFICE_PATHS)


def in_service_lane(fn):
    """`fn` as a coroutine function that runs in the service lane, with database connections checked
    before and after (as channels' database_sync_to_async does) and what it publishes handed to the
    calling event loop (core.events.serving)."""

    async def call(*args, **kwargs):
        loop = asyncio.get_running_loop()

        def run():
            with events.serving(loop):
                return fn(*args, **kwargs)

        return await DatabaseSyncToAsync(run, thread_sensitive=False, executor=service)()

    return call
