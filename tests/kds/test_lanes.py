"""core.lanes and the frames drawn as an order commits (kds.consumers.prepare_frames)."""

import threading

import pytest

from core import lanes
from kds import consumers, services
from kds.consumers import Board, frame_cache, watched
from core.lanes import Lane
from tests.kds.conftest import add_line, make_order


def test_a_lane_counts_its_calls_running_and_waiting():
    lane = Lane(max_workers=1)
    release = threading.Event()
    started = threading.Event()

    def blocked():
        started.set()
        release.wait(5)

    first = lane.submit(blocked)
    started.wait(5)
    second = lane.submit(lambda: None)
    assert lane.calls == 2  # one running, one waiting
    release.set()
    first.result(5), second.result(5)
    lane.shutdown(wait=True)
    assert lane.calls == 0


def test_a_lane_call_that_raises_is_counted_out_too():
    lane = Lane(max_workers=1)
    future = lane.submit(lambda: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        future.result(5)
    lane.shutdown(wait=True)
    assert lane.calls == 0


def test_back_office_paths():
    assert lanes.is_back_office("/admin/orders/order/")
    assert lanes.is_back_office("/fiscal/verify/")
    assert lanes.is_back_office("/static/kds/kds.css")
    assert not lanes.is_back_office("/api/v1/orders/")
    assert not lanes.is_back_office("/kitchen/grill/")
    assert not lanes.is_back_office("/till/")


@pytest.fixture
def grill_watched(stations):
    """A grill screen connected here, brought up to the grill's current event number."""
    board = Board("prep", stations["grill"])
    watched.add(board)
    frame_cache.clear()
    frame_cache.note(board.key, stations["grill"].last_seq)
    yield board
    watched.remove(board)
    frame_cache.clear()


def send_steak(menu):
    order = make_order()
    line = add_line(order, menu["steak"])
    services.send_lines_to_kitchen(order=order, lines=[line])
    return order


@pytest.mark.django_db(transaction=True)
def test_the_committing_thread_draws_the_frame_the_doorbell_will_ask_for(menu, grill_watched, monkeypatch):
    monkeypatch.setattr("core.events._server_loop", lambda: object())  # as inside the server
    monkeypatch.setattr("core.events.publish_now", lambda group, event: None)
    since = frame_cache.latest(grill_watched.key)
    order = send_steak(menu)
    hit = frame_cache.get((*grill_watched.key, since), since + 1)
    assert hit is not None, "the frame is ready before any screen asks"
    seq, html = hit
    assert seq == since + 1 and f'data-order-id="{order.pk}"' in html


@pytest.mark.django_db(transaction=True)
def test_frames_are_left_to_the_doorbells_when_calls_wait_for_the_service_lane(menu, grill_watched, monkeypatch):
    monkeypatch.setattr("core.events._server_loop", lambda: object())
    monkeypatch.setattr("core.events.publish_now", lambda group, event: None)
    monkeypatch.setattr(Lane, "calls", property(lambda lane: 3))  # a rush: orders queue for the lane
    since = frame_cache.latest(grill_watched.key)
    send_steak(menu)
    assert frame_cache.get((*grill_watched.key, since), since + 1) is None


@pytest.mark.django_db(transaction=True)
def test_nothing_is_drawn_outside_the_server(menu, grill_watched, monkeypatch):
    """A management command or a shell sends tickets too: no loop, no screens here, nothing drawn."""
    monkeypatch.setattr("core.events.publish_now", lambda group, event: None)
    rendered = []
    monkeypatch.setattr(consumers, "render_frame", lambda *args: rendered.append(args))
    send_steak(menu)
    assert rendered == []
