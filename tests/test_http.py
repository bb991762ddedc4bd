"""core.http.ThreadedASGIHandler: the HTTP half of the ASGI application, driven in-process with asgiref's
ApplicationCommunicator. Each lane has one thread of its own here, so consecutive requests are served by the same thread:
what one request leaves behind there (its language, its database connection) is what the next one finds.
"""

import asyncio
import functools
import json
import threading
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path

import pytest
from asgiref.testing import ApplicationCommunicator
from channels.layers import get_channel_layer
from django.core import signals
from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.utils import translation

from core import events
from core.http import ThreadedASGIHandler
from orders.models import Category, Item, Order

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def handler():
    """The handler with the service lane's two parts and a back-office lane of one thread each, named
    as the server's; their database connections are closed when the test ends."""
    handler = ThreadedASGIHandler(
        service=ThreadPoolExecutor(max_workers=1, thread_name_prefix="brigade-service"),
        service_writes=ThreadPoolExecutor(max_workers=1, thread_name_prefix="brigade-service-writes"),
        back_office=ThreadPoolExecutor(max_workers=1, thread_name_prefix="brigade-office"),
    )
    yield handler
    for lane in (handler.service, handler.service_writes, handler.back_office):
        lane.submit(connections.close_all).result()
        lane.shutdown(wait=True)


@pytest.fixture
def steak(db) -> Item:
    """An item counted down by orders (5 left): placing one rings the "menu" group."""
    plats = Category.objects.create(name="Plats", position=1)
    return Item.objects.create(category=plats, name="Entrecôte", kitchen_name="ENTRECOTE", price=Decimal("24.00"), remaining=5)


@pytest.fixture
def signal_threads():
    """The name of the thread each request_started / request_finished signal was sent in, in order."""
    seen = []

    def started(**kwargs):
        seen.append(("started", threading.current_thread().name))

    def finished(**kwargs):
        seen.append(("finished", threading.current_thread().name))

    signals.request_started.connect(started)
    signals.request_finished.connect(finished)
    yield seen
    signals.request_started.disconnect(started)
    signals.request_finished.disconnect(finished)


async def call(handler, method: str, path: str, *, body: bytes = b"", headers: dict | None = None) -> dict:
    """One request through the handler: {"status", "headers" (dict, lower-case names), "body"}, once the
    application has finished (a streaming response is closed after it is sent). ApplicationCommunicator
    rather than HttpCommunicator: a streaming response ends with a body message without "body"."""
    path, _, query = path.partition("?")
    scope = {
        "type": "http", "http_version": "1.1", "method": method, "path": path, "query_string": query.encode(),
        "headers": [(b"host", b"testserver")] + [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()],
    }
    communicator = ApplicationCommunicator(handler, scope)
    await communicator.send_input({"type": "http.request", "body": body})
    start = await communicator.receive_output(timeout=10)
    assert start["type"] == "http.response.start"
    content = b""
    while True:
        message = await communicator.receive_output(timeout=10)
        assert message["type"] == "http.response.body"
        content += message.get("body", b"")
        if not message.get("more_body", False):
            break
    await communicator.wait(timeout=10)
    return {"status": start["status"], "headers": {k.decode().lower(): v.decode() for k, v in start["headers"]}, "body": content}


def bearer(device) -> dict:
    return {"Authorization": f"Bearer {device.token}"}


def in_pool(handler, fn):
    """Run `fn` in the handler's (only) worker thread, outside any request."""
    return handler.service.submit(fn).result()


# --- Plain requests --------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_it_answers_404_for_an_unknown_url(handler):
    response = await call(handler, "GET", "/no-such-page/")
    assert response["status"] == 404


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_it_sends_an_unpaired_browser_to_the_pairing_page(handler):
    response = await call(handler, "GET", "/till/")
    assert response["status"] == 302
    assert response["headers"]["location"] == "/pair/?next=%2Ftill%2F"


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_it_answers_401_to_an_unpaired_htmx_request(handler):
    response = await call(handler, "GET", "/till/", headers={"HX-Request": "true", "Accept-Language": "en"})
    assert response["status"] == 401
    assert "This screen is not paired" in response["body"].decode()


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_it_runs_a_request_from_start_to_finish_in_one_pool_thread(handler, signal_threads):
    assert (await call(handler, "GET", "/till/"))["status"] == 302
    assert [kind for kind, _thread in signal_threads] == ["started", "finished"]
    threads = {thread for _kind, thread in signal_threads}
    assert len(threads) == 1 and threads.pop().startswith("brigade-service")


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_it_runs_admin_and_fiscal_pages_in_the_back_office_lane(handler, signal_threads):
    assert (await call(handler, "GET", "/admin/"))["status"] == 302  # to the admin login
    assert (await call(handler, "GET", "/fiscal/verify/"))["status"] in (302, 401, 403)
    assert (await call(handler, "GET", "/api/v1/menu/"))["status"] == 401  # service
    threads = [thread for kind, thread in signal_threads if kind == "started"]
    assert [name.split("_")[0] for name in threads] == ["brigade-office", "brigade-office", "brigade-service"]


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_it_runs_requests_that_change_things_in_the_service_lanes_writing_thread(handler, signal_threads):
    assert (await call(handler, "POST", "/api/v1/orders/", body=b"{}"))["status"] == 401
    assert (await call(handler, "GET", "/api/v1/orders/1/"))["status"] == 401
    threads = [thread for kind, thread in signal_threads if kind == "started"]
    assert [name.split("_")[0] for name in threads] == ["brigade-service-writes", "brigade-service"]


# --- A JSON body reaches the view ------------------------------------------------------------------------


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_it_places_an_order_posted_as_json(handler, integration, steak):
    body = {"idempotency_key": "partner-1", "order_type": "take_away", "lines": [{"item": steak.pk, "quantity": 2}]}
    response = await call(
        handler, "POST", "/api/v1/orders/", body=json.dumps(body).encode(),
        headers={**bearer(integration), "Content-Type": "application/json"},
    )
    assert response["status"] == 201, response["body"]
    data = json.loads(response["body"])
    assert data["total"] == "48.00" and data["source"] == "api"
    order = in_pool(handler, lambda: Order.objects.get(pk=data["id"]))
    assert (order.device_id, order.total) == (integration.pk, Decimal("48.00"))


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_it_answers_a_malformed_body_with_the_apis_400(handler, integration, steak):
    response = await call(
        handler, "POST", "/api/v1/orders/", body=b'{"idempotency_key": "partner-1", "lines": [',
        headers={**bearer(integration), "Content-Type": "application/json"},
    )
    assert response["status"] == 400
    assert response["headers"]["content-type"] == "application/json"
    assert json.loads(response["body"])["error"] == "malformed_json"
    assert not in_pool(handler, Order.objects.exists)


# --- Nothing a request activates leaks into the next one -------------------------------------------------


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_it_answers_each_request_in_its_own_language(handler, settings):
    settings.LANGUAGE_CODE = "fr"
    htmx = {"HX-Request": "true"}
    english = await call(handler, "GET", "/till/", headers={**htmx, "Accept-Language": "en"})
    french = await call(handler, "GET", "/till/", headers={**htmx, "Accept-Language": "fr"})
    english_again = await call(handler, "GET", "/till/", headers={**htmx, "Accept-Language": "en"})
    assert [r["headers"]["content-language"] for r in (english, french, english_again)] == ["en", "fr", "en"]
    assert "Pair this screen" in english["body"].decode() and "Appairer cet écran" not in english["body"].decode()
    assert "Appairer cet écran" in french["body"].decode() and "Pair this screen" not in french["body"].decode()
    assert "Pair this screen" in english_again["body"].decode()
    # The language of the last request stayed with it: the worker thread itself has none activated.
    assert in_pool(handler, translation.get_language) == "fr"


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_it_gives_api_errors_in_each_requests_language(handler):
    english = await call(handler, "GET", "/api/v1/menu/", headers={"Accept-Language": "en"})
    french = await call(handler, "GET", "/api/v1/menu/", headers={"Accept-Language": "fr"})
    assert (english["status"], french["status"]) == (401, 401)
    assert json.loads(english["body"])["detail"] == "A valid device token is required."
    assert json.loads(french["body"])["detail"] == "Un jeton d'appareil valide est requis."


# --- Database connections --------------------------------------------------------------------------------


def pool_connection():
    """The worker thread's DB-API connection (None when closed)."""
    return connections["default"].connection


def close_for_real() -> None:
    """The default test database is an in-memory SQLite, whose connection Django never closes: make
    this thread's close() do what it does on any other database."""
    wrapper = connections["default"]
    wrapper.close = functools.partial(BaseDatabaseWrapper.close, wrapper)


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_it_keeps_the_worker_threads_connection_between_requests(handler, integration, steak):
    in_pool(handler, close_for_real)
    assert (await call(handler, "GET", "/api/v1/menu/", headers=bearer(integration)))["status"] == 200
    first = in_pool(handler, pool_connection)
    assert first is not None  # not closed at request_finished, although CONN_MAX_AGE is 0
    assert (await call(handler, "GET", "/api/v1/menu/", headers=bearer(integration)))["status"] == 200
    assert in_pool(handler, pool_connection) is first


def break_connection(how: str):
    """Leave the worker thread's connection as a failed request could: a query failed and the
    connection is gone (the database server restarted), or a transaction was left open."""
    wrapper = connections["default"]
    if how == "unusable":
        wrapper.errors_occurred = True
        wrapper.is_usable = lambda: False
    else:
        wrapper.set_autocommit(False)
    return wrapper.connection


@pytest.mark.asyncio
@pytest.mark.parametrize("how", ["unusable", "left_in_transaction"])
@pytest.mark.django_db(transaction=True)
async def test_it_replaces_a_broken_connection_at_the_next_request(handler, integration, steak, how):
    in_pool(handler, close_for_real)
    assert (await call(handler, "GET", "/api/v1/menu/", headers=bearer(integration)))["status"] == 200
    broken = in_pool(handler, functools.partial(break_connection, how))
    assert broken is not None
    response = await call(handler, "GET", "/api/v1/menu/", headers=bearer(integration))
    assert response["status"] == 200
    assert [i["name"] for c in json.loads(response["body"])["categories"] for i in c["items"]] == ["Entrecôte"]
    replacement = in_pool(handler, pool_connection)
    assert replacement is not None and replacement is not broken
    assert in_pool(handler, lambda: connections["default"].get_autocommit()) is True


# --- Static files ----------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_it_serves_a_static_file_in_full_and_closes_it_after_sending(handler, signal_threads):
    expected = (ROOT / "static" / "kds" / "kds.css").read_bytes()
    response = await call(handler, "GET", "/static/kds/kds.css")
    assert response["status"] == 200
    assert response["body"] == expected
    assert int(response["headers"]["content-length"]) == len(expected)
    assert response["headers"]["content-type"].startswith("text/css")
    # Closed once sent (its request_finished), in a worker thread, exactly once.
    assert [kind for kind, _thread in signal_threads] == ["started", "finished"]
    assert all(thread.startswith("brigade-office") for _kind, thread in signal_threads)


# --- Events published during a request -------------------------------------------------------------------


@pytest.mark.asyncio
@pytest.mark.channels
@pytest.mark.django_db(transaction=True)
async def test_it_hands_the_events_of_a_request_to_the_event_loop(handler, integration, steak, sent_synchronously):
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add("menu", channel)
    try:
        body = {"idempotency_key": "partner-1", "order_type": "take_away", "lines": [{"item": steak.pk, "quantity": 2}]}
        response = await call(
            handler, "POST", "/api/v1/orders/", body=json.dumps(body).encode(),
            headers={**bearer(integration), "Content-Type": "application/json"},
        )
        assert response["status"] == 201, response["body"]
        message = await asyncio.wait_for(layer.receive(channel), timeout=5)
    finally:
        await layer.group_discard("menu", channel)
    assert message == {"type": "menu.item", "item_id": steak.pk, "available": True, "remaining": 3}
    assert sent_synchronously == []


def published_from_a_thread(loop, events_to_publish):
    """In a new thread (not asgiref's): publish inside `events.serving(loop)`, then outside it."""

    def work():
        with events.serving(loop):
            events.publish_now("alerts", events_to_publish[0])
        events.publish_now("alerts", events_to_publish[1])

    thread = threading.Thread(target=work)
    thread.start()
    thread.join(timeout=10)  # blocks the loop: nothing handed to it can be sent before this returns
    assert not thread.is_alive()


@pytest.mark.asyncio
@pytest.mark.channels
async def test_it_queues_to_the_serving_loop_and_sends_at_once_outside_it(sent_synchronously):
    layer = get_channel_layer()
    await layer.flush()
    channel = await layer.new_channel()
    await layer.group_add("alerts", channel)
    try:
        loop = asyncio.get_running_loop()
        published_from_a_thread(loop, [{"type": "kds.alert", "n": 1}, {"type": "kds.alert", "n": 2}])
        # The loop has not run since: only the event published outside `serving` has arrived.
        assert sent_synchronously == [("alerts", "kds.alert")]
        assert await asyncio.wait_for(layer.receive(channel), timeout=5) == {"type": "kds.alert", "n": 2}
        # The handed-over one is sent as soon as the loop gets to run.
        assert await asyncio.wait_for(layer.receive(channel), timeout=5) == {"type": "kds.alert", "n": 1}
        assert sent_synchronously == [("alerts", "kds.alert")]
    finally:
        await layer.group_discard("alerts", channel)
        await layer.flush()


@pytest.mark.channels
def test_it_sends_at_once_when_the_serving_loop_is_not_running(sent_synchronously):
    idle = asyncio.new_event_loop()
    try:
        with events.serving(idle):
            events.publish_now("alerts", {"type": "kds.alert"})
    finally:
        idle.close()
    assert sent_synchronously == [("alerts", "kds.alert")]
    assert idle not in events._queued


# --- The Django internals core.http relies on -----------------------------------------------------------


def test_django_is_the_release_series_the_handlers_internals_were_checked_against():
    """core.http names the Django internals it relies on. A new Django series may change any of them
    without notice: before this test is updated, each one in core.http's docstring must be checked
    again (and the tests below extended if the list changes)."""
    import django

    from core import http

    assert django.VERSION[:2] == http.CHECKED_WITH, (
        f"Django {django.get_version()} is not the {'.'.join(map(str, http.CHECKED_WITH))}.x series core.http was "
        "checked against: re-check every internal listed in core/http.py's docstring, then update CHECKED_WITH."
    )


def test_the_internals_the_handler_relies_on_are_there_with_the_signatures_it_uses():
    import inspect

    from django.core.handlers import asgi, base
    from django.http import HttpResponse

    def parameters(function) -> list[str]:
        return list(inspect.signature(function).parameters)

    assert parameters(base.BaseHandler.load_middleware) == ["self", "is_async"]
    assert parameters(base.BaseHandler.get_response) == ["self", "request"]
    assert parameters(asgi.ASGIHandler.read_body) == ["self", "receive"]
    assert parameters(asgi.ASGIHandler.create_request) == ["self", "scope", "body_file"]
    assert parameters(asgi.ASGIHandler.send_response) == ["self", "response", "send"]
    assert parameters(asgi.get_script_prefix) == ["scope"]
    assert HttpResponse()._handler_class is None  # the attribute response.close() sends request_finished from
    assert "close_at" in vars(connections["default"]) and "connection" in vars(connections["default"])
    assert parameters(connections.all) == ["initialized_only"]
