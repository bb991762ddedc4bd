"""Ticket rules without a database."""

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from kds import lifecycle
from kds.lifecycle import DONE, HELD, IN_PROGRESS, NEW, TransitionError


@pytest.mark.parametrize(
    ("current", "target", "kind"),
    [
        (NEW, DONE, "bumped"),
        (IN_PROGRESS, DONE, "bumped"),
        (NEW, IN_PROGRESS, "started"),
        (DONE, NEW, "recalled"),
        (HELD, NEW, "fired"),
    ],
)
def test_it_names_the_event_of_each_allowed_move(current, target, kind):
    by_screen = current != HELD
    assert lifecycle.transition(current, target, by_screen=by_screen) == kind


def test_it_refuses_a_move_to_where_the_ticket_already_is():
    with pytest.raises(TransitionError) as exc:
        lifecycle.transition(DONE, DONE)
    assert exc.value.code == "already"


def test_it_refuses_screens_working_a_held_course():
    for target in (DONE, IN_PROGRESS, NEW):
        with pytest.raises(TransitionError) as exc:
            lifecycle.transition(HELD, target)
        assert exc.value.code == "held"


@pytest.mark.parametrize(("current", "target"), [(DONE, IN_PROGRESS), (NEW, "toggle"), (NEW, ""), (IN_PROGRESS, HELD)])
def test_it_refuses_moves_that_make_no_sense(current, target):
    with pytest.raises(TransitionError) as exc:
        lifecycle.transition(current, target)
    assert exc.value.code == "invalid"


def test_it_finishes_a_ticket_when_every_live_item_is_done():
    assert lifecycle.ticket_done_after_item_bump([(True, False), (False, True)])
    assert not lifecycle.ticket_done_after_item_bump([(True, False), (False, False)])
    assert lifecycle.ticket_done_after_item_bump([(False, True)])  # all voided: nothing to cook


def test_it_calls_an_order_ready_only_when_every_station_is_done():
    assert lifecycle.order_ready([DONE, DONE])
    assert not lifecycle.order_ready([DONE, NEW])
    assert not lifecycle.order_ready([DONE, HELD])
    assert not lifecycle.order_ready([])


def test_it_colours_timers_by_the_station_thresholds():
    assert lifecycle.timer_colour(4 * 60 + 59, 5, 8) == "green"
    assert lifecycle.timer_colour(5 * 60, 5, 8) == "amber"
    assert lifecycle.timer_colour(8 * 60, 5, 8) == "red"


def test_it_measures_preparation_time_in_whole_seconds():
    sent = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
    assert lifecycle.prep_seconds(sent, sent + timedelta(minutes=7, seconds=30.4)) == 450
    assert lifecycle.prep_seconds(None, sent) is None


def test_it_sorts_rush_first_then_oldest():
    t0 = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
    tickets = [
        SimpleNamespace(id=1, is_rush=False, sent_at=t0),
        SimpleNamespace(id=2, is_rush=True, sent_at=t0 + timedelta(minutes=5)),
        SimpleNamespace(id=3, is_rush=False, sent_at=t0 - timedelta(minutes=1)),
        SimpleNamespace(id=4, is_rush=False, sent_at=None),
    ]
    assert [t.id for t in lifecycle.sort_tickets(tickets)] == [2, 3, 1, 4]


@pytest.mark.parametrize(
    ("since", "last", "first", "plan"),
    [
        (5, 5, None, "none"),
        (3, 5, 4, "replay"),
        (3, 5, 1, "replay"),
        (3, 5, 6, "snapshot"),  # events 4–5 were pruned
        (9, 5, None, "snapshot"),  # the screen knows a future: the database was replaced
        (-1, 5, 1, "snapshot"),
        (0, 500, 1, "snapshot"),  # too far behind to replay
    ],
)
def test_it_plans_how_a_screen_catches_up(since, last, first, plan):
    assert lifecycle.plan_catch_up(since, last, first, limit=200) == plan
