"""Kitchen writes: tickets from orders, bumps, recalls, voids, fired courses.

Every function runs inside `transaction.atomic` (joining the caller's transaction when there is one:
the receivers of orders.signals call the first three inside the order transaction) and follows one shape:

1. change the tickets, compare-and-set where two screens may race
   (`filter(id=..., status=old).update(...)`; 0 rows = someone else got there first);
2. record what changed as StationEvents, numbered per station (`_number`, `_store`);
3. ring the stations' groups after commit (core.events.publish_on_commit). A rolled-back order never
   shows a ticket; a screen that missed the doorbell catches up from the events.

Locking contract: `_number` takes the stations' counter rows (kds.sql.allocate: UPDATE … last_seq, in
ascending id order) and the transaction holds them until commit, so writers to one station queue there
and its numbers are gapless and committed in order: a screen that has seen N never misses N-1.
"""

import copy
import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Exists, OuterRef, prefetch_related_objects
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Device
from core.events import publish_on_commit
from kds import chits, lifecycle, setup, sql
from kds.models import Screen, Station, StationEvent, Ticket, TicketItem
from orders.models import Order, OrderLine
from printing import queue
from printing.models import PrintJob

logger = logging.getLogger(__name__)

# The doorbell every screen listens for: "station S has events up to seq N".
EVENT_TYPE = "kds.event"


class KitchenError(Exception):
    """A refused kitchen action. `code` goes into the screen's error frame; nothing was changed."""

    def __init__(self, code: str, detail: str):
        super().__init__(detail)
        self.code = code
        self.detail = detail


# --- Events -------------------------------------------------------------------------------------------


@dataclass
class _Changes:
    """What one service call changed, recorded as station events at the end of it."""

    events: list[tuple[Station, str, Ticket | None]] = field(default_factory=list)

    def add(self, station: Station, kind: str, ticket: Ticket | None = None) -> None:
        self.events.append((station, kind, ticket))


def _number(changes: _Changes) -> list[tuple[Station, str, Ticket | None, int]]:
    """Give every change its station's next number (and the ticket the latest of its numbers)."""
    counts: dict[int, int] = defaultdict(int)
    for station, _kind, _ticket in changes.events:
        counts[station.pk] += 1
    last = sql.allocate(counts)
    next_seq = {station_id: last[station_id] - count + 1 for station_id, count in counts.items()}
    numbered = []
    for station, kind, ticket in changes.events:
        seq = next_seq[station.pk]
        next_seq[station.pk] += 1
        station.last_seq = last[station.pk]
        if ticket is not None:
            ticket.seq = seq
        numbered.append((station, kind, ticket, seq))
    return numbered


def _store(numbered: list[tuple[Station, str, Ticket | None, int]], *, stamp_tickets: bool = True) -> None:
    """Write the events, stamp the (already saved) tickets with their latest number, and ring each
    station once after commit."""
    now = timezone.now()
    sql.insert_events([
        (station.pk, seq, kind, ticket.pk if ticket is not None else None, now)
        for station, kind, ticket, seq in numbered
    ])
    if stamp_tickets:
        latest = {ticket.pk: ticket.seq for _station, _kind, ticket, _seq in numbered if ticket is not None}
        for ticket_id, seq in latest.items():
            Ticket.objects.filter(pk=ticket_id).update(seq=seq)
    stations = {station.pk: station for station, _kind, _ticket, _seq in numbered}
    for station in stations.values():
        _ring(station)


def _record(changes: _Changes) -> None:
    """Number, store and ring the changes of a call that modified existing tickets."""
    if changes.events:
        _store(_number(changes))


def _ring(station: Station) -> None:
    doorbell = {"type": EVENT_TYPE, "station": station.slug, "seq": station.last_seq}
    publish_on_commit(station.group, doorbell)
    if station.is_expo:
        publish_on_commit("ready", doorbell)


# --- Routing ------------------------------------------------------------------------------------------

def _kitchen_lines(lines: Sequence[OrderLine]) -> list[OrderLine]:
    """The lines to cook, without set-menu headers (their components are the dishes). Lines that
    come with their items (orders.actions write or reads them under the order's lock, items
    joined) are taken as they are; others are read fresh from the database."""
    if lines and all(line.pk is not None and OrderLine.item.is_cached(line) for line in lines):
        kept = [line for line in lines if line.status != OrderLine.Status.VOIDED and not line.item.is_set_menu]
        return sorted(kept, key=lambda line: (line.course, line.pk))
    ids = [line.pk for line in lines if line.pk is not None]
    fresh = (
        OrderLine.objects.filter(pk__in=ids)
        .exclude(status=OrderLine.Status.VOIDED)
        .exclude(item__is_set_menu=True)
        .select_related("item")
        .order_by("course", "id")
    )
    return list(fresh)


def route(
    lines: Iterable[OrderLine], stations: Sequence[Station], *, kitchen: setup.Setup | None = None
) -> dict[int, list[Station]]:
    """line id → preparation stations. An item's own stations win over its category's; an item no
    rule mentions goes to the default station (else nowhere but expo). The rules are read from
    `kitchen` (default: the current setup, kds.setup)."""
    kitchen = kitchen or setup.current()
    prep = {s.pk: s for s in stations if not s.is_expo}
    default = [s for s in prep.values() if s.is_default]
    routes = {}
    for line in lines:
        found = [prep[pk] for pk in kitchen.item_routes.get(line.item_id, ()) if pk in prep]
        if not found:
            found = [prep[pk] for pk in kitchen.category_routes.get(line.item.category_id, ()) if pk in prep]
        routes[line.pk] = sorted(found or default, key=lambda s: (s.position, s.pk))
    return routes


# --- Orders → kitchen (kds.receivers, inside the order transaction) ------------------------------


def send_lines_to_kitchen(*, order: Order, lines: Sequence[OrderLine]) -> list[Ticket]:
    """Create the kitchen tickets for `lines` (one per station, by routing rules), their print jobs,
    and publish "ticket created" after commit. Lines with status HELD appear as held, one ticket per
    held course, fired later by `fire_course`. Returns the tickets, expo tickets included."""
    with transaction.atomic():
        lines = _kitchen_lines(lines)
        if not lines:
            return []
        kitchen = setup.current()
        stations = [copy.copy(station) for station in kitchen.stations]  # numbered below: our own copies
        expo = next((s for s in stations if s.is_expo), None)
        routes = route(lines, stations, kitchen=kitchen)
        now = timezone.now()

        # One group per course state: the lines to cook now, and each held course.
        groups: dict[int | None, list[OrderLine]] = defaultdict(list)
        for line in lines:
            groups[line.course if line.status == OrderLine.Status.HELD else None].append(line)

        plan: list[tuple[Station, int | None, list[OrderLine]]] = []  # (station, held course, lines)
        for course, course_lines in sorted(groups.items(), key=lambda kv: (kv[0] is not None, kv[0] or 0)):
            per_station: dict[int, tuple[Station, list[OrderLine]]] = {}
            for line in course_lines:
                for station in routes[line.pk]:
                    per_station.setdefault(station.pk, (station, []))[1].append(line)
            if expo is not None and per_station:
                plan.append((expo, course, [line for line in course_lines if routes[line.pk]]))
            plan.extend((station, course, station_lines) for station, station_lines in per_station.values())
        if not plan:
            logger.warning("order %s: no station prepares any of its lines", order.pk)
            return []

        tickets = [
            Ticket(
                order=order, station=station, course=course, is_rush=order.is_rush, created_at=now,
                status=Ticket.Status.HELD if course is not None else Ticket.Status.NEW,
                sent_at=None if course is not None else now,
            )
            for station, course, _lines in plan
        ]
        changes = _Changes()
        for ticket in tickets:
            changes.add(ticket.station, StationEvent.Kind.CREATED, ticket)
        numbered = _number(changes)  # numbers first, so the tickets are written with theirs
        # Expo tickets first: the preparation tickets of the same send point at theirs.
        expo_tickets = [t for t in tickets if t.station.is_expo]
        # One INSERT for each kind of row (kds.sql: the send path's statements, written once).
        sql.insert_tickets(expo_tickets)
        expo_of_course = {t.course: t for t in expo_tickets}
        prep_tickets = [t for t in tickets if not t.station.is_expo]
        for ticket in prep_tickets:
            ticket.expo_ticket = expo_of_course.get(ticket.course)
        sql.insert_tickets(prep_tickets)
        sql.insert_ticket_items([
            (ticket.pk, line.pk, line.quantity)
            for ticket, (_station, _course, station_lines) in zip(tickets, plan)
            for line in station_lines
        ])
        _store(numbered, stamp_tickets=False)
        _queue_prints(
            order,
            [(t, lines_) for t, (_s, _c, lines_) in zip(tickets, plan) if t.status == Ticket.Status.NEW],
            kitchen=kitchen,
        )
        return tickets


def fire_course(*, order: Order, course: int) -> None:
    """Held lines of `course` were fired by the server: their tickets start now (timers, printing)."""
    with transaction.atomic():
        now = timezone.now()
        held = list(
            Ticket.objects.filter(order=order, course=course, status=Ticket.Status.HELD).select_related("station")
        )
        changes = _Changes()
        fired = []
        for ticket in held:
            if Ticket.objects.filter(pk=ticket.pk, status=Ticket.Status.HELD).update(status=Ticket.Status.NEW, sent_at=now):
                ticket.status, ticket.sent_at = Ticket.Status.NEW, now
                changes.add(ticket.station, StationEvent.Kind.FIRED, ticket)
                fired.append(ticket)
        _record(changes)
        _queue_prints(order, [(t, None) for t in fired])


def void_lines(*, order: Order, lines: Sequence[OrderLine], reason: str) -> None:
    """Sent lines were voided: strike them through on their tickets, print a void slip where the
    ticket was printed, publish. A ticket left with nothing to cook counts as done for expo."""
    with transaction.atomic():
        now = timezone.now()
        line_ids = [line.pk for line in lines if line.pk is not None]
        items = list(
            TicketItem.objects.filter(line_id__in=line_ids, ticket__order=order, voided_at__isnull=True)
            .select_related("ticket__station", "line")
        )
        if not items:
            return
        TicketItem.objects.filter(pk__in=[i.pk for i in items]).update(voided_at=now)
        changes = _Changes()
        touched: dict[int, Ticket] = {}
        voided_lines: dict[int, list[OrderLine]] = defaultdict(list)
        for item in items:
            touched[item.ticket_id] = item.ticket
            voided_lines[item.ticket_id].append(item.line)
        for ticket in touched.values():
            changes.add(ticket.station, StationEvent.Kind.VOIDED, ticket)
        _update_expo({t.expo_ticket_id for t in touched.values() if t.expo_ticket_id}, changes)
        _record(changes)
        _queue_void_slips(order, touched.values(), voided_lines, reason)


def set_order_rush(*, order: Order, rush: bool) -> list[Ticket]:
    """The server marked the order rush (or took the mark off): its tickets not yet bumped follow,
    and their stations redraw them (screens pin rush tickets first). Bumped tickets keep what they
    were cooked as. Returns the tickets changed."""
    with transaction.atomic():
        tickets = list(
            Ticket.objects.filter(order=order).exclude(status=Ticket.Status.DONE).exclude(is_rush=rush)
            .select_related("station").order_by("pk")
        )
        changed = [t for t in tickets if Ticket.objects.filter(pk=t.pk, is_rush=not rush).update(is_rush=rush)]
        changes = _Changes()
        for ticket in changed:
            ticket.is_rush = rush
            changes.add(ticket.station, StationEvent.Kind.UPDATED, ticket)
        _record(changes)
        return changed


# --- Screens → kitchen --------------------------------------------------------------------------------


def _ticket_at(station: Station, ticket_id) -> Ticket:
    try:
        ticket_id = int(ticket_id)
    except (TypeError, ValueError):
        raise KitchenError("unknown_ticket", _("No such ticket.")) from None
    ticket = Ticket.objects.select_related("station").filter(pk=ticket_id).first()
    if ticket is None:
        raise KitchenError("unknown_ticket", _("No such ticket."))
    if ticket.station_id != station.pk:
        raise KitchenError("wrong_station", _("This ticket belongs to another station."))
    return ticket


def set_ticket_status(*, station: Station, ticket_id, to: str) -> Ticket:
    """Move a ticket to `to` ("done" = bump, "in_progress" = start, "new" = recall). Idempotent: a
    ticket already there raises KitchenError("already") and nothing changes. On expo, "done" means
    served."""
    with transaction.atomic():
        ticket = _ticket_at(station, ticket_id)
        try:
            kind = lifecycle.transition(ticket.status, to)
        except lifecycle.TransitionError as exc:
            raise KitchenError(exc.code, _error_detail(exc.code)) from None
        now = timezone.now()
        fields = {"status": to}
        if to == Ticket.Status.DONE:
            fields.update(bumped_at=now, prep_seconds=lifecycle.prep_seconds(ticket.sent_at, now))
        elif to == Ticket.Status.IN_PROGRESS:
            fields.update(started_at=now)
        else:  # recall
            fields.update(bumped_at=None, prep_seconds=None)
        # Compare-and-set: two screens of the station may send the same bump at the same moment.
        if not Ticket.objects.filter(pk=ticket.pk, status=ticket.status).update(**fields):
            raise KitchenError("conflict", _("Someone else changed this ticket first."))
        for name, value in fields.items():
            setattr(ticket, name, value)
        changes = _Changes()
        changes.add(station, kind, ticket)
        if ticket.expo_ticket_id:
            _update_expo({ticket.expo_ticket_id}, changes)
        _record(changes)
        return ticket


def set_item_done(*, station: Station, item_id, done: bool) -> TicketItem:
    """Bump (or un-bump) one item of a ticket. Bumping the last item bumps the ticket."""
    with transaction.atomic():
        try:
            item = TicketItem.objects.select_related("ticket__station").get(pk=int(item_id))
        except (TypeError, ValueError, TicketItem.DoesNotExist):
            raise KitchenError("unknown_item", _("No such item.")) from None
        ticket = item.ticket
        if ticket.station_id != station.pk:
            raise KitchenError("wrong_station", _("This ticket belongs to another station."))
        if ticket.status == Ticket.Status.HELD:
            raise KitchenError("held", _error_detail("held"))
        if ticket.status == Ticket.Status.DONE:
            raise KitchenError("already", _error_detail("already"))
        if item.is_voided:
            raise KitchenError("voided", _("This item was voided."))
        now = timezone.now()
        updated = (
            TicketItem.objects.filter(pk=item.pk, done_at__isnull=True).update(done_at=now)
            if done
            else TicketItem.objects.filter(pk=item.pk, done_at__isnull=False).update(done_at=None)
        )
        if not updated:
            raise KitchenError("already", _error_detail("already"))
        item.done_at = now if done else None
        changes = _Changes()
        states = TicketItem.objects.filter(ticket=ticket).values_list("done_at", "voided_at")
        if done and lifecycle.ticket_done_after_item_bump((d is not None, v is not None) for d, v in states):
            fields = {"status": Ticket.Status.DONE, "bumped_at": now, "prep_seconds": lifecycle.prep_seconds(ticket.sent_at, now)}
            if Ticket.objects.filter(pk=ticket.pk, status=ticket.status).update(**fields):
                for name, value in fields.items():
                    setattr(ticket, name, value)
                changes.add(station, StationEvent.Kind.BUMPED, ticket)
                if ticket.expo_ticket_id:
                    _update_expo({ticket.expo_ticket_id}, changes)
        if not changes.events:
            changes.add(station, StationEvent.Kind.ITEM, ticket)
            if ticket.expo_ticket_id:
                _update_expo({ticket.expo_ticket_id}, changes)
        _record(changes)
        return item


def recall_last(*, station: Station) -> Ticket:
    """Recall the station's most recently bumped ticket (the bump bar's "R")."""
    last = Ticket.objects.filter(station=station, status=Ticket.Status.DONE).order_by("-bumped_at", "-id").first()
    if last is None:
        raise KitchenError("nothing_to_recall", _("No bumped ticket to recall."))
    return set_ticket_status(station=station, ticket_id=last.pk, to=Ticket.Status.NEW)


def bind_screen(*, device: Device, station: Station | None, ready_board: bool = False) -> Screen:
    """Remember which station a kitchen screen shows (None: it asks at /kitchen/)."""
    screen, _created = Screen.objects.update_or_create(
        device=device, defaults={"station": station, "ready_board": ready_board}
    )
    return screen


# --- Expo ---------------------------------------------------------------------------------------------


def _update_expo(expo_ids: set[int], changes: _Changes) -> None:
    """Recompute readiness of these expo tickets after their preparation tickets changed, and
    record an event so expo and the ready board redraw them (once per ticket and call). A
    preparation ticket whose every item was voided has nothing left to wait for: it counts as done."""
    if not expo_ids:
        return
    live_items = TicketItem.objects.filter(ticket=OuterRef("pk"), voided_at__isnull=True)
    prep_states: dict[int, list[str]] = defaultdict(list)
    for expo_id, status, has_work in (
        Ticket.objects.filter(expo_ticket_id__in=expo_ids)
        .annotate(has_work=Exists(live_items))
        .values_list("expo_ticket_id", "status", "has_work")
    ):
        prep_states[expo_id].append(status if has_work else Ticket.Status.DONE)
    already = {ticket.pk for _station, _kind, ticket in changes.events if ticket is not None}
    now = timezone.now()
    for expo in Ticket.objects.filter(pk__in=expo_ids).select_related("station"):
        ready = lifecycle.order_ready(prep_states.get(expo.pk, []))
        kind = StationEvent.Kind.UPDATED
        if ready and expo.ready_at is None:
            if Ticket.objects.filter(pk=expo.pk, ready_at__isnull=True).update(ready_at=now):
                expo.ready_at = now
                kind = StationEvent.Kind.READY
        elif not ready and expo.ready_at is not None:
            Ticket.objects.filter(pk=expo.pk).update(ready_at=None)
            expo.ready_at = None
        if kind == StationEvent.Kind.READY or expo.pk not in already:
            changes.add(expo.station, kind, expo)


# --- Printing (the outbox: printing.queue; printing.spooler prints) -----------------------------------


def ticket_reference(ticket_id: int) -> str:
    """How a kitchen ticket is named on its print jobs (PrintJob.reference)."""
    return f"ticket:{ticket_id}"


def _queue_prints(
    order: Order, tickets: list[tuple[Ticket, list[OrderLine] | None]], *, kitchen: setup.Setup | None = None
) -> None:
    """Queue a kitchen ticket print for each ticket whose station has a printer (lines None: read)."""
    printers = (kitchen or setup.current()).printers
    tickets = [(ticket, lines) for ticket, lines in tickets if ticket.station_id in printers]
    if not tickets:
        return
    given = list({id(line): line for _ticket, lines in tickets if lines is not None for line in lines}.values())
    if given:  # once for every ticket of the send, not once per ticket
        prefetch_related_objects(given, "modifiers", "parent")
    prints = []
    for ticket, lines in tickets:
        if lines is None:
            lines = [i.line for i in ticket.items.select_related("line__parent").prefetch_related("line__modifiers")]
        data = chits.render_ticket(chits.ticket_spec(ticket, order, lines))
        reference = ticket_reference(ticket.pk)
        prints.append(queue.Print(printers[ticket.station_id], PrintJob.Kind.TICKET, data, reference))
    queue.enqueue_many(prints=prints)


def _queue_void_slips(order: Order, tickets: Iterable[Ticket], lines: dict[int, list[OrderLine]], reason: str) -> None:
    """A void slip where the ticket was printed (a ticket never printed needs no slip)."""
    printers = setup.current().printers
    tickets = [t for t in tickets if t.status != Ticket.Status.HELD and t.station_id in printers]
    if not tickets:
        return
    printed = queue.queued_references(references=[ticket_reference(t.pk) for t in tickets], kind=PrintJob.Kind.TICKET)
    prints = []
    for ticket in tickets:
        reference = ticket_reference(ticket.pk)
        if reference in printed:
            spec = chits.ticket_spec(ticket, order, lines[ticket.pk], void_reason=reason or "-")
            data = chits.render_ticket(spec)
            prints.append(queue.Print(printers[ticket.station_id], PrintJob.Kind.VOID, data, reference))
    queue.enqueue_many(prints=prints)


def _error_detail(code: str) -> str:
    return {
        "already": _("Already done: nothing changed."),
        "held": _("This course is held: it has not been fired yet."),
        "invalid": _("This ticket cannot go to that state."),
    }.get(code, _("Refused."))


def prune_events(*, before) -> int:
    """Forget station events older than `before` (a screen further behind gets a full snapshot, see
    lifecycle.plan_catch_up). Returns how many were deleted."""
    deleted, _by_model = StationEvent.objects.filter(created_at__lt=before).delete()
    return deleted
