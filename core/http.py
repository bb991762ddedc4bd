"""The HTTP side of the ASGI application: Django's handler, each request run in one call to a lane.

Every view of Brigade is synchronous (the ORM, the services, the templates). Django's own ASGI handler
serves such a view by going back and forth between daphne's event loop and a thread several times per
request (request_started, the middleware stack, the view, response.close), and Django does not keep
database connections between requests under ASGI (each request may land on another thread), so every
request opens and closes its connection. At a Friday rush that plumbing cost more than the order.

Here the event loop only reads the body and writes the answer; everything in between — the
request_started signal, the middleware, the view, response.close() and its request_finished — runs in
one call in a lane thread (core.lanes: the service lane — its pool for reads, its writing thread for
POST and the like — or the back-office lane for the admin, fiscal pages and static files), as under a
WSGI server. Lane threads keep their database connection from one
request to the next (a connection found broken is still dropped and reopened by Django's request
signals). Each request runs in a fresh copy of the loop's context, so nothing a request activates
(its language, its time zone) leaks into the next one of that thread.

The events a request publishes after commit go to the loop that handed it over (`events.serving`).

This is the one module of Brigade allowed to rely on Django internals. It was checked against Django
5.2.x (`CHECKED_WITH`; tests/test_http.py fails on any other version, and checks each of these):
- `django.core.handlers.base.BaseHandler.__init__` and `.load_middleware(is_async=False)`: the
  synchronous middleware chain, built as Django's WSGIHandler builds it;
- `BaseHandler.get_response(request)`: that chain and the view, as WSGIHandler.__call__ runs it;
- `django.core.handlers.asgi.ASGIHandler.read_body(receive)` (the body spooled to a temporary file,
  RequestAborted on a disconnect), `.create_request(scope, body_file)` (-> request, error response)
  and `.send_response(response, send)` (chunked, streaming responses included);
- `django.core.handlers.asgi.get_script_prefix(scope)`;
- `HttpResponseBase._handler_class`: the sender response.close() gives request_finished, set as both
  of Django's handlers set it;
- `BaseDatabaseWrapper.close_at` and `.connection`, and `connections.all(initialized_only=True)`: the
  deadline request_finished checks (close_if_unusable_or_obsolete) to close a connection, set to None
  here to keep a healthy one, as CONN_MAX_AGE=None would under WSGI.
"""

import asyncio
import contextvars
from concurrent.futures import Executor

from asgiref.sync import sync_to_async
from django.core import signals
from django.core.exceptions import RequestAborted
from django.core.handlers import base
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.db import connections
from django.urls import set_script_prefix

from core import events, lanes

CHECKED_WITH = (5, 2)  # the Django release series the internals listed above were checked against


class ThreadedASGIHandler(ASGIHandler):
    """Django's ASGI handler, each request run start to finish in one call to its lane (core.lanes)."""

    def __init__(self, *, service: Executor | None = None, service_writes: Executor | None = None,
                 back_office: Executor | None = None):
        base.BaseHandler.__init__(self)
        self.load_middleware(is_async=False)  # the whole stack runs in the lane thread
        self.service = service or lanes.service
        self.service_writes = service_writes or lanes.service_writes
        self.back_office = back_office or lanes.back_office

    def executor_for(self, scope: dict) -> Executor:
        if lanes.is_back_office(scope.get("path", "")):
            return self.back_office
        return self.service_writes if scope.get("method") in lanes.WRITE_METHODS else self.service

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:
            return
        loop = asyncio.get_running_loop()
        context = contextvars.copy_context()
        executor = self.executor_for(scope)
        response = await loop.run_in_executor(executor, context.run, self.respond, loop, scope, body_file)
        try:
            await self.send_response(response, send)
        finally:
            if response.streaming:  # a file (static files): closed once sent, in its lane too
                await sync_to_async(response.close, thread_sensitive=False, executor=executor)()

    def respond(self, loop: asyncio.AbstractEventLoop, scope: dict, body_file):
        """In a lane thread: the request from start to (non-streaming) finish."""
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
