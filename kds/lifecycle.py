"""Kitchen ticket rules with no database: state transitions, readiness, timers, ordering.

    held ──fire──▶ new ──start──▶ in_progress ──bump──▶ done
                    └───────────────bump─────────────────▶ done ──recall──▶ new

A bump message names the state it wants ("ticket 42 → done"), never "toggle", so a message sent
twice (htmx resends queued messages after a reconnect) cannot undo itself: the second one is
answered "already done" and changes nothing.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

HELD, NEW, IN_PROGRESS, DONE = "held", "new", "in_progress", "done"
OPEN_STATUSES = (HELD, NEW, IN_PROGRESS)
# States a screen may ask for; "held" is reached only by sending a held course.
TARGETS = (NEW, IN_PROGRESS, DONE)

# (from, to) → the name of the event it records.
_TRANSITIONS = {
    (HELD, NEW): "fired",
    (NEW, IN_PROGRESS): "started",
    (NEW, DONE): "bumped",
    (IN_PROGRESS, DONE): "bumped",
    (DONE, NEW): "recalled",
    (IN_PROGRESS, NEW): "recalled",
}


class TransitionError(Exception):
    """A move the ticket cannot make. `code` is machine-readable (it goes into the error frame)."""

    def __init__(self, code: str, current: str, target: str):
        super().__init__(f"{code}: {current} → {target}")
        self.code = code
        self.current = current
        self.target = target


def transition(current: str, target: str, *, by_screen: bool = True) -> str:
    """The event kind for moving a ticket from `current` to `target`, or TransitionError:
    "already" (it is there), "held" (a held course cannot be worked before it is fired), "invalid"."""
    if target not in TARGETS and target != HELD:
        raise TransitionError("invalid", current, target)
    if current == target:
        raise TransitionError("already", current, target)
    if current == HELD and by_screen:
        raise TransitionError("held", current, target)
    kind = _TRANSITIONS.get((current, target))
    if kind is None:
        raise TransitionError("invalid", current, target)
    return kind


def ticket_done_after_item_bump(items: Iterable[tuple[bool, bool]]) -> bool:
    """Given (done, voided) for each item of a ticket, is the ticket finished? Voided items do not
    count; a ticket whose items were all voided is finished too (nothing left to cook)."""
    return all(done or voided for done, voided in items)


def order_ready(prep_statuses: Iterable[str]) -> bool:
    """An expo ticket is ready when every preparation ticket of its send is done (and there is one)."""
    statuses = list(prep_statuses)
    return bool(statuses) and all(s == DONE for s in statuses)


def timer_colour(elapsed_seconds: float, amber_after_minutes: int, red_after_minutes: int) -> str:
    if elapsed_seconds >= red_after_minutes * 60:
        return "red"
    if elapsed_seconds >= amber_after_minutes * 60:
        return "amber"
    return "green"


def prep_seconds(sent_at: datetime | None, bumped_at: datetime) -> int | None:
    if sent_at is None:
        return None
    return max(0, round((bumped_at - sent_at).total_seconds()))


@dataclass(frozen=True)
class CardKey:
    """Screens sort tickets: rush first, then oldest sent, then creation order."""

    is_rush: bool
    sent_at: datetime | None
    id: int

    def sort_key(self) -> tuple:
        return (not self.is_rush, self.sent_at is None, self.sent_at or datetime.min, self.id)


def sort_tickets(tickets: Iterable, *, key=lambda t: CardKey(t.is_rush, t.sent_at, t.id)) -> list:
    return sorted(tickets, key=lambda t: key(t).sort_key())


def plan_catch_up(since: int, last_seq: int, first_available: int | None, *, limit: int) -> str:
    """How to bring a screen that has seen up to `since` to `last_seq`: "none", "replay" the events
    after `since`, or a full "snapshot" (unknown/future seq, pruned events, or too many to replay)."""
    if since < 0 or since > last_seq:
        return "snapshot"
    if since == last_seq:
        return "none"
    if first_available is None or first_available > since + 1:
        return "snapshot"
    if last_seq - since > limit:
        return "snapshot"
    return "replay"
