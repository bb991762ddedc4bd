"""Kitchen reads: what a screen shows (the page, the WebSocket snapshot and catch-up frames all read
through here, so first load and live update never drift apart) and the speed-of-service report."""

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.db.models import Q
from django.utils import timezone

from kds import chits, lifecycle, setup, sql
from kds.models import Station, StationEvent, Ticket, TicketItem
from orders.models import Item
from printing import selectors as printing_selectors

RECALL_WINDOW = timedelta(minutes=30)
RECALL_LIMIT = 6
REPLAY_LIMIT = 200  # events; a screen further behind gets a full snapshot
READY_BOARD_KEEP = timedelta(minutes=20)  # a ready order nobody served leaves the board after this


def station_by_slug(slug: str) -> Station | None:
    return Station.objects.filter(slug=slug).first()


def expo_station() -> Station | None:
    return Station.objects.filter(kind=Station.Kind.EXPO).first()


def last_seq(station: Station) -> int:
    return Station.objects.values_list("last_seq", flat=True).get(pk=station.pk)


@dataclass
class CardOrder:
    """What a card shows of its order."""

    number: int
    where: str
    server: str
    customer_name: str


@dataclass
class CardItem:
    """One line of a card (read as plain values: cards are drawn on every change)."""

    pk: int
    ticket_id: int
    line_id: int
    item_id: int
    quantity: int
    name: str
    note: str
    seat: int | None
    course: int
    done_at: object
    voided_at: object
    mods: list[str] = field(default_factory=list)
    allergen_names: list[str] = field(default_factory=list)
    within: str = ""
    stations: list = field(default_factory=list)  # expo: (station, done) per preparing station

    @property
    def is_done(self) -> bool:
        return self.done_at is not None

    @property
    def is_voided(self) -> bool:
        return self.voided_at is not None


def _card_orders(order_ids) -> dict[int, CardOrder]:
    orders = {}
    rows = sql.card_orders(list(set(order_ids)))
    for pk, number, order_type, source, customer, table, first_name, username in rows:
        where = chits.describe_where(table, source, order_type)
        orders[pk] = CardOrder(number, where, first_name or username or "", customer)
    return orders


def _load_cards(stations: dict[int, Station], queryset: Iterable[Ticket]) -> list[Ticket]:
    """Tickets (of these stations) with everything a card shows, in a few flat queries whatever the
    number of tickets and stations (cards are drawn for every change: this is the hot read).
    Attaches `ticket.card_order` and `ticket.card_items` (CardItem)."""
    tickets = list(queryset)
    if not tickets:
        return []
    orders = _card_orders(t.order_id for t in tickets)
    for ticket in tickets:
        ticket.station = stations[ticket.station_id]
        ticket.card_order = orders[ticket.order_id]
    items = _card_items([t.pk for t in tickets])
    by_ticket: dict[int, list[CardItem]] = defaultdict(list)
    for item in items:
        by_ticket[item.ticket_id].append(item)
    for ticket in tickets:
        ticket.card_items = by_ticket.get(ticket.pk, [])
    expo = [t for t in tickets if t.station.is_expo]
    if expo:
        _decorate_expo(expo)
    return tickets


def _card_items(ticket_ids: list[int]) -> list[CardItem]:
    rows = sql.card_item_rows(ticket_ids)
    if not rows:
        return []
    mods, allergens = sql.modifiers_and_allergens(
        line_ids=[row[2] for row in rows], item_ids=list({row[3] for row in rows if row[3] is not None})
    )
    return [
        CardItem(
            pk=pk, ticket_id=ticket_id, line_id=line_id, item_id=item_id, quantity=quantity,
            name=kitchen_name or name, note=note, seat=seat, course=course, done_at=done_at, voided_at=voided_at,
            mods=mods.get(line_id, []), allergen_names=allergens.get(item_id, []), within=within_kitchen or within,
        )
        for (pk, ticket_id, line_id, item_id, quantity, kitchen_name, name, note, seat, course, done_at, voided_at,
             within_kitchen, within) in rows
    ]


def _decorate_expo(tickets: list[Ticket]) -> None:
    """Expo cards show, per item and per ticket, which stations have done their part."""
    stations = _all_stations()
    progress: dict[int, list[tuple[Station, str]]] = defaultdict(list)
    line_stations: dict[int, list[tuple[Station, bool]]] = defaultdict(list)
    seen = set()
    for pk, expo_id, station_id, status, line_id, done_at in sql.expo_progress([t.pk for t in tickets]):
        if pk not in seen:  # one row per item: the ticket counts once
            seen.add(pk)
            progress[expo_id].append((stations[station_id], status))
        if line_id is not None:
            done = status == Ticket.Status.DONE or done_at is not None
            line_stations[line_id].append((stations[station_id], done))
    order = {s.pk: (s.position, s.name) for s in stations.values()}
    for ticket in tickets:
        ticket.prep_progress = sorted(progress.get(ticket.pk, []), key=lambda ps: order[ps[0].pk])
        for item in ticket.card_items:
            item.stations = sorted(line_stations.get(item.line_id, []), key=lambda sd: order[sd[0].pk])


def all_stations() -> list[Station]:
    """Every station, in screen order (read on every order sent and every expo frame, so kept in
    memory: kds.setup). Copies: their `last_seq` is not kept up to date."""
    return setup.stations()


def _all_stations() -> dict[int, Station]:
    return {s.pk: s for s in all_stations()}


def _sorted(tickets) -> list[Ticket]:
    tickets = list(tickets)
    active = lifecycle.sort_tickets(t for t in tickets if t.status != Ticket.Status.HELD)
    held = sorted((t for t in tickets if t.status == Ticket.Status.HELD), key=lambda t: (t.course or 0, t.pk))
    return active + held


def open_tickets(station: Station) -> list[Ticket]:
    tickets = Ticket.objects.filter(station=station).exclude(status=Ticket.Status.DONE)
    return _sorted(_load_cards({station.pk: station}, tickets))


def recently_bumped(station: Station) -> list[Ticket]:
    since = timezone.now() - RECALL_WINDOW
    tickets = list(
        Ticket.objects.filter(station=station, status=Ticket.Status.DONE, bumped_at__gte=since).order_by("-bumped_at", "-id")[
            :RECALL_LIMIT
        ]
    )
    orders = _card_orders(t.order_id for t in tickets)
    for ticket in tickets:
        ticket.card_order = orders[ticket.order_id]
    return tickets


@dataclass
class AllDayRow:
    name: str
    quantity: int


def all_day(station: Station) -> list[AllDayRow]:
    """How many of each dish are still to make across the station's open tickets (held courses
    excluded: they are not to be started)."""
    counts: Counter = Counter()
    items = TicketItem.objects.filter(
        ticket__station=station,
        ticket__status__in=[Ticket.Status.NEW, Ticket.Status.IN_PROGRESS],
        voided_at__isnull=True,
        done_at__isnull=True,
    ).values_list("line__kitchen_name", "line__name", "quantity")
    for kitchen_name, name, quantity in items:
        counts[kitchen_name or name] += quantity
    return [AllDayRow(name, qty) for name, qty in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]


@dataclass
class StockRow:
    name: str
    remaining: int | None  # None: unavailable ("86")


def menu_alerts(station: Station) -> list[StockRow]:
    """Dishes this station makes that are 86'd (unavailable or none left) or running low."""
    items = Item.objects.filter(Q(available=False) | Q(remaining__lte=5), is_set_menu=False)
    if not station.is_expo:
        items = items.filter(Q(stations=station) | Q(stations__isnull=True, category__stations=station)).distinct()
    rows = []
    for item in items.order_by("name")[:30]:
        out = not item.available or item.remaining == 0
        rows.append(StockRow(item.kitchen_name or item.name, None if out else item.remaining))
    return rows


def side_panel(station: Station) -> dict:
    """The side column of a station screen: all-day counts, 86'd dishes, recently bumped."""
    return {"all_day": all_day(station), "stock": menu_alerts(station), "recall": recently_bumped(station)}


def printer_alerts() -> list[dict]:
    """Printers marked down, with the number of jobs waiting for them."""
    return printing_selectors.down_printers()


def alerts_fingerprint() -> tuple:
    return printing_selectors.down_fingerprint()


# --- Catch-up (WebSocket frames) ----------------------------------------------------------------------


@dataclass
class CatchUp:
    mode: str  # "none", "replay" or "snapshot"
    seq: int
    upserts: list[Ticket]
    deletes: list[int]
    beep: bool
    recall_changed: bool


# Event kinds that change the "recently bumped" list.
_RECALL_KINDS = {StationEvent.Kind.BUMPED, StationEvent.Kind.RECALLED}
_BEEP_KINDS = {StationEvent.Kind.CREATED, StationEvent.Kind.FIRED, StationEvent.Kind.RECALLED}


def catch_up(station: Station, since: int | None) -> CatchUp:
    """What a screen that has seen events up to `since` needs: the tickets that changed since then,
    re-read from the database (cards to draw, cards to remove), or everything (snapshot)."""
    return catch_up_many([(station, since)])[station.pk]


def catch_up_many(wanted: list[tuple[Station, int | None]]) -> dict[int, CatchUp]:
    """`catch_up` for several stations at once (one order rings several stations at the same moment),
    with the same handful of queries whatever their number."""
    stations = {station.pk: station for station, _since in wanted}
    since_of = {station.pk: since for station, since in wanted}
    seqs = sql.station_seqs(list(stations))
    ranges = []
    for station_id, since in since_of.items():
        if since is not None and 0 <= since < seqs[station_id]:
            # At most one event more than we would replay: more than that is a snapshot anyway.
            ranges.append((station_id, since, since + REPLAY_LIMIT + 1))
    events: dict[int, list[tuple[int, int | None, str]]] = defaultdict(list)
    for station_id, seq, ticket_id, kind in sql.events_in(ranges):
        events[station_id].append((seq, ticket_id, kind))

    results: dict[int, CatchUp] = {}
    replays: dict[int, list] = {}
    for station_id, station in stations.items():
        since, seq, station_events = since_of[station_id], seqs[station_id], events.get(station_id, [])
        mode = "snapshot" if since is None else lifecycle.plan_catch_up(
            since, seq, station_events[0][0] if station_events else None, limit=REPLAY_LIMIT
        )
        if mode == "none":
            results[station_id] = CatchUp("none", seq, [], [], False, False)
        elif mode == "snapshot":
            results[station_id] = CatchUp("snapshot", seq, open_tickets(station), [], False, True)
        else:
            replays[station_id] = station_events

    touched = {ticket_id for evs in replays.values() for _seq, ticket_id, _kind in evs if ticket_id is not None}
    cards = {t.pk: t for t in _load_cards(stations, sql.open_tickets_among(list(touched)))} if touched else {}
    for station_id, station_events in replays.items():
        ids = {ticket_id for _seq, ticket_id, _kind in station_events if ticket_id is not None}
        upserts = _sorted(cards[i] for i in ids if i in cards)
        kinds = {kind for _seq, _ticket_id, kind in station_events}
        results[station_id] = CatchUp(
            "replay",
            max(seqs[station_id], station_events[-1][0]),  # events committed after the counter was read count too
            upserts,
            sorted(ids - {t.pk for t in upserts}),
            bool(kinds & _BEEP_KINDS),
            bool(kinds & _RECALL_KINDS),
        )
    return results


# --- Ready board --------------------------------------------------------------------------------------


@dataclass
class BoardOrder:
    order_id: int
    number: int
    seq: int


def ready_board(expo: Station | None) -> tuple[list[BoardOrder], list[BoardOrder]]:
    """(in preparation, ready) order numbers, from the expo tickets: an order is ready when every
    expo ticket that is not held is ready, and leaves the board when expo serves it."""
    if expo is None:
        return [], []
    recent = timezone.now() - READY_BOARD_KEEP
    tickets = (
        Ticket.objects.filter(station=expo, status__in=[Ticket.Status.NEW, Ticket.Status.IN_PROGRESS])
        .filter(Q(ready_at__isnull=True) | Q(ready_at__gte=recent))
        .select_related("order")
        .order_by("sent_at", "id")
    )
    by_order: dict[int, list[Ticket]] = {}
    for ticket in tickets:
        by_order.setdefault(ticket.order_id, []).append(ticket)
    preparing, ready = [], []
    for order_tickets in by_order.values():
        order = order_tickets[0].order
        entry = BoardOrder(order.pk, order.number, max(t.seq for t in order_tickets))
        (ready if all(t.ready_at for t in order_tickets) else preparing).append(entry)
    return preparing, ready


# --- Speed of service ---------------------------------------------------------------------------------


@dataclass
class SpeedCell:
    count: int
    average_seconds: int


def speed_of_service(day: date) -> tuple[list[Station], list[int], dict[tuple[int, int], SpeedCell]]:
    """For one local day: the stations, the hours that saw tickets, and per (station id, hour) the
    number of bumped tickets and their average sent→bumped time."""
    tz = timezone.get_current_timezone()
    start = timezone.make_aware(datetime.combine(day, time.min), tz)
    end = start + timedelta(days=1)
    rows = Ticket.objects.filter(sent_at__gte=start, sent_at__lt=end, prep_seconds__isnull=False).values_list(
        "station_id", "sent_at", "prep_seconds"
    )
    sums: dict[tuple[int, int], list[int]] = defaultdict(list)
    for station_id, sent_at, seconds in rows:
        sums[(station_id, timezone.localtime(sent_at, tz).hour)].append(seconds)
    cells = {key: SpeedCell(len(values), round(sum(values) / len(values))) for key, values in sums.items()}
    station_ids = {key[0] for key in cells}
    stations = list(Station.objects.filter(pk__in=station_ids))
    hours = sorted({key[1] for key in cells})
    return stations, hours, cells
