"""The background loops `manage.py serve` runs beside daphne, in daphne's own process (so that what
they publish reaches the in-memory channel layer). Each step returns True when it found work.

A loop, as in healthchecks' `sendalerts`, but on daphne's asyncio event loop instead of its own
process: run one step in a worker thread (the steps are plain synchronous Django code), then go again
at once if it found work, or wait `idle` seconds if it did not. Waiting is `stop.wait()` with a
timeout, so a stop request ends the wait immediately rather than after the next slice. A step that
raises is logged and retried after a growing pause; it never takes the server or the other loops down.
"""

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import Executor

from asgiref.sync import sync_to_async
from django.db import close_old_connections
from django.utils.module_loading import import_string

from core import events

logger = logging.getLogger(__name__)

# (name, dotted path of a step function `() -> bool`, seconds to wait after a step that found nothing)
LOOPS = [
    ("print spooler", "printing.spooler.process_one_job", 0.5),
    ("fiscal closures", "fiscal.closures.run_scheduled_closures", 30.0),
    ("cloud sync", "sync.client.sync_step", 5.0),
]

# After consecutive failures, wait idle × 2^n, up to this: a broken step must not flood the log.
MAX_ERROR_BACKOFF_SECONDS = 60.0


def load_steps(loops: list[tuple[str, str, float]] = LOOPS) -> list[tuple[str, Callable[[], bool], float]]:
    """Import each loop's step. A step that is not there (an app without it yet, a module that fails
    to import) is logged once and skipped: the server still starts."""
    steps = []
    for name, path, idle in loops:
        try:
            step = import_string(path)
        except ImportError as exc:
            logger.warning("Background loop %r skipped: %s is not available (%s)", name, path, exc)
            continue
        steps.append((name, step, idle))
    return steps


def run_step(step: Callable[[], bool], loop: asyncio.AbstractEventLoop | None = None) -> bool:
    """One pass, in a worker thread. Connections are checked before and closed after (CONN_MAX_AGE=0),
    so a loop never holds a database connection while it sleeps, nor reuses one the server dropped.
    What the step publishes is handed to `loop`, the server's (core.events)."""
    close_old_connections()
    try:
        if loop is None:
            return bool(step())
        with events.serving(loop):
            return bool(step())
    finally:
        close_old_connections()


async def run_loop(
    name: str, step: Callable[[], bool], idle: float, *, stop: asyncio.Event, executor: Executor | None = None
) -> None:
    """Run `step` until `stop` is set. `executor` is the thread pool for the steps (default: the
    event loop's); serve gives the loops their own so a slow step never delays HTTP requests."""
    call = sync_to_async(run_step, thread_sensitive=False, executor=executor)
    failures = 0
    while not stop.is_set():
        try:
            found = await call(step, asyncio.get_running_loop())
            failures = 0
            wait = 0.0 if found else idle
        except Exception:
            failures += 1
            wait = min(max(idle, 0.5) * 2 ** (failures - 1), MAX_ERROR_BACKOFF_SECONDS)
            logger.exception("Background loop %r failed (%d in a row); next try in %.0f s", name, failures, wait)
        if wait <= 0:
            await asyncio.sleep(0)  # work found: go again, letting the server's other tasks run first
            continue
        try:
            await asyncio.wait_for(stop.wait(), timeout=wait)
        except TimeoutError:
            pass
    logger.info("Background loop %r stopped", name)
