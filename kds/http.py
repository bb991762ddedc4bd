"""The HTTP side of the ASGI application: Django's handler, each request run in one worker thread.

Every view of Brigade is synchronous (the ORM, the services, the templates). Django's own ASGI handler
serves such a view by going back and forth between daphne's event loop and a thread several times per
request (request_started, the middleware stack, the view, response.close), in a thread it starts for
that one request, and so opens and closes a database connection each time. At a Friday rush that
plumbing cost more than the order itself.

Here the event loop only reads the body and writes the answer; everything in between — the
request_started signal, the middleware, the view, response.close() and its request_finished — runs in
one call, in one thread of a fixed pool, as under a WSGI server. Each pool thread keeps its database
connection from one request to the next (a connection found broken is still dropped and reopened by
Django's request signals). Each request runs in a fresh copy of the loop's context, so nothing a
request activates (its language, its time zone) leaks into the next one of that thread.

The events a request publishes after commit go to the loop that handed it over (kds.events finds it
through `events.serving`).
"""

import asyncio
import contextvars
import os
from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import sync_to_async
from django.core import signals
from django.core.exceptions import RequestAborted
from django.core.handlers import base
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.db import connections
from django.urls import set_script_prefix

from kds import events

# Requests served at once. SQLite writes one transaction at a time anyway and Python runs one thread
# at a time: more threads only help requests that wait (a locked database, a slow client upload is
# read on the loop, not here).
DEFAULT_THREADS = 8


class ThreadedASGIHandler(ASGIHandler):
    def __init__(self, threads: int | None = None):
        base.BaseHandler.__init__(self)
        self.load_middleware(is_async=False)  # the whole stack runs in the worker thread
        threads = threads or int(os.environ.get("KDS_HTTP_THREADS") or DEFAULT_THREADS)
        self.executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="brigade-http")

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:
            return
        loop = asyncio.get_running_loop()
        context = contextvars.copy_context()
        response = await loop.run_in_executor(self.executor, context.run, self.respond, loop, scope, body_file)
        try:
            await self.send_response(response, send)
        finally:
            if response.streaming:  # a file (static files): closed once sent, in a worker too
                await sync_to_async(response.close, thread_sensitive=False, executor=self.executor)()

    def respond(self, loop: asyncio.AbstractEventLoop, scope: dict, body_file):
        """In a worker thread: the request from start to (non-streaming) finish."""
        with events.serving(loop):
            try:
                set_script_prefix(get_script_prefix(scope))
                signals.request_started.send(sender=self.__class__, scope=scope)
                request, response = self.create_request(scope, body_file)
                if request is not None:
                    response = self.get_response(request)
                    response._handler_class = self.__class__
                keep_connections()
                if not response.streaming:
                    response.close()  # request_finished: drops a connection left unusable
                return response
            finally:
                body_file.close()


def keep_connections() -> None:
    """Let this thread's open database connections outlive the request (CONN_MAX_AGE=0 would close
    them at request_finished). One whose last query failed is still checked there and dropped if it
    is unusable, and one left in a transaction is dropped."""
    for connection in connections.all(initialized_only=True):
        if connection.connection is not None:
            connection.close_at = None
