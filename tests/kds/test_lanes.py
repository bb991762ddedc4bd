"""core.lanes: the service lane is a pool (one call waiting never stops the others), the back-office
paths, and what a service-lane call publishes reaches the calling loop."""

import asyncio
import threading

import pytest
from django.conf import settings

from core import events, lanes
from core.lanes import in_service_lane


def test_back_office_paths():
    assert lanes.is_back_office("/admin/orders/order/")
    assert lanes.is_back_office("/fiscal/verify/")
    assert lanes.is_back_office("/static/kds/kds.css")
    assert not lanes.is_back_office("/api/v1/orders/")
    assert not lanes.is_back_office("/kitchen/grill/")
    assert not lanes.is_back_office("/till/")


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_the_service_lane_runs_as_many_calls_at_once_as_it_has_threads():
    assert settings.SERVICE_THREADS >= 2
    together = threading.Barrier(settings.SERVICE_THREADS, timeout=10)  # broken unless all are in at once
    results = await asyncio.wait_for(
        asyncio.gather(*(in_service_lane(together.wait)() for _ in range(settings.SERVICE_THREADS))), timeout=20)
    assert sorted(results) == list(range(settings.SERVICE_THREADS))


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_a_call_that_waits_does_not_stop_the_others():
    """A call stuck (as on SQLite's write lock) holds one thread; the next calls are still served."""
    release = threading.Event()
    started = threading.Event()

    def stuck():
        started.set()
        return release.wait(30)

    waiting = asyncio.ensure_future(in_service_lane(stuck)())
    try:
        assert await asyncio.to_thread(started.wait, 10)
        answers = await asyncio.wait_for(
            asyncio.gather(*(in_service_lane(lambda n=n: n * 2)() for n in range(5))), timeout=10)
        assert answers == [0, 2, 4, 6, 8]
        assert not waiting.done()
    finally:
        release.set()
    assert await asyncio.wait_for(waiting, timeout=10) is True


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_what_a_service_lane_call_publishes_is_handed_to_the_calling_loop(monkeypatch):
    handed = []
    monkeypatch.setattr(events, "_hand_over", lambda loop, layer, group, event: handed.append((loop, group)))
    monkeypatch.setattr(events, "_send_sync", lambda layer, group, event: pytest.fail("sent synchronously"))
    await in_service_lane(events.publish_now)("alerts", {"type": "kds.alert"})
    assert handed == [(asyncio.get_running_loop(), "alerts")]


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_writes_run_one_at_a_time_in_the_service_lanes_writing_thread():
    names = await asyncio.gather(*(in_service_lane(lambda: threading.current_thread().name, writes=True)()
                                   for _ in range(3)))
    assert len(set(names)) == 1 and names[0].startswith("brigade-service-writes")
    assert not (await in_service_lane(lambda: threading.current_thread().name)()).startswith("brigade-service-writes")
