"""The kitchen screens' WebSocket: /ws/kds/<station-slug>/ (and /ws/kds/ready/ for the ready board).

The consumer is thin. The database is the truth and the channel layer only a doorbell ("station S has
events up to seq N"): on each doorbell the consumer reads what changed since the last seq it sent,
renders the same card partials as the page, and sends them as htmx out-of-band swaps.

Protocol (client → server, JSON text frames; every action is idempotent: it names the target state):
    {"action": "ping"}                                   → {"type": "pong", "seq": N} (+ catch-up if behind)
    {"action": "resume", "seq": N}                       → the frames after N, or a snapshot
    {"action": "bump", "ticket": 42, "to": "done"}       ("in_progress" = start, "new" = recall)
    {"action": "recall", "ticket": 42} / {"action": "recall"} (the last bumped)
    {"action": "item", "item": 7, "to": "done" | "new"}
Server → client: HTML frames (htmx OOB swaps; `#kds-meta` carries data-seq) and JSON control
frames {"type": "pong" | "ack" | "error", ...}. Refusals are error frames and change nothing.

Close codes: 4401 not a paired device, 4403 not a kitchen screen, 4404 no such station,
1009 frame too big. Connect with `?since=N` to resume after N instead of getting a snapshot.
"""

import asyncio
import json
import logging
import threading
import time
from dataclasses import dataclass
from urllib.parse import parse_qs

from channels.consumer import get_handler_name
from channels.generic.websocket import AsyncWebsocketConsumer
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.conf import settings
from django.db import connection

from core import events, lanes
from kds import selectors, services
from core.hub import hub_for_loop
from core.lanes import in_service_lane
from kds.models import READY_BOARD_SLUG, Station
from accounts.access import device_from_scope
from accounts.models import Device

logger = logging.getLogger(__name__)

MAX_FRAME = 4096  # bytes of JSON a screen may send; bump messages are ~60
REJOIN_EVERY = 3600  # seconds: refresh group membership before channels-redis' group_expiry drops us


@dataclass(frozen=True)
class Board:
    """What a socket shows: a station's tickets (prep or expo), or the ready board (which follows
    the expo station's event numbers)."""

    kind: str  # "prep", "expo", "ready"
    station: Station | None

    @property
    def group(self) -> str:
        return "ready" if self.kind == "ready" else self.station.group

    @property
    def key(self) -> tuple:
        return (self.kind, self.station.pk if self.station else None)


def resolve_board(slug: str) -> Board | None:
    if slug == READY_BOARD_SLUG:
        return Board("ready", selectors.expo_station())
    station = selectors.station_by_slug(slug)
    if station is None:
        return None
    return Board(station.kind, station)


# --- Frames (synchronous: database and templates) -----------------------------------------------------


class _FrameCache:
    """Every screen of a station receives the same doorbell ("events up to N") and asks the same
    question ("what changed after seq S?"): the first one renders, the others reuse its answer if
    it reaches N. An answer that reaches N stays correct: a newer change has a newer event, which
    rings again. `latest` remembers, per board, the seq its screens were last brought to."""

    TTL = 10.0
    SIZE = 512

    def __init__(self):
        self._lock = threading.Lock()
        self._frames: dict[tuple, tuple[float, int, str | None]] = {}
        self._latest: dict[tuple, int] = {}

    def get(self, key, at_least: int):
        with self._lock:
            hit = self._frames.get(key)
        if hit and hit[1] >= at_least and time.monotonic() - hit[0] < self.TTL:
            return hit[1], hit[2]
        return None

    def put(self, key, seq: int, html: str | None) -> None:
        with self._lock:
            if len(self._frames) >= self.SIZE:
                cutoff = time.monotonic() - self.TTL
                self._frames = {k: v for k, v in self._frames.items() if v[0] >= cutoff}
                if len(self._frames) >= self.SIZE:
                    self._frames.clear()
            self._frames[key] = (time.monotonic(), seq, html)
            self.note(key[:-1], seq)

    def note(self, board_key: tuple, seq: int) -> None:
        self._latest[board_key] = max(seq, self._latest.get(board_key, 0))

    def latest(self, board_key: tuple) -> int | None:
        return self._latest.get(board_key)

    def clear(self) -> None:
        with self._lock:
            self._frames.clear()
            self._latest.clear()


frame_cache = _FrameCache()


class _Watched:
    """The boards that have screens connected to this process (to render their frames together)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._count: dict[tuple, int] = {}
        self._boards: dict[tuple, Board] = {}

    def add(self, board: Board) -> None:
        with self._lock:
            self._count[board.key] = self._count.get(board.key, 0) + 1
            self._boards[board.key] = board

    def remove(self, board: Board) -> None:
        with self._lock:
            self._count[board.key] = self._count.get(board.key, 1) - 1
            if self._count[board.key] <= 0:
                del self._count[board.key]
                del self._boards[board.key]

    def boards(self) -> list[Board]:
        with self._lock:
            return list(self._boards.values())


watched = _Watched()


def keep_connection() -> None:
    """Keep this thread's database connection between frames. Consumers' database work runs in the
    service lane's one long-lived thread (core.lanes), which otherwise opens a fresh connection for
    every frame (CONN_MAX_AGE=0): that costs more than the frame itself. A connection that failed is still
    closed and replaced by close_old_connections (errors, autocommit left off)."""
    connection.ensure_connection()
    connection.close_at = None


def render_frame(board: Board, since: int | None, at_least: int | None = None) -> tuple[int, str | None]:
    """(seq, HTML frame or None when there is nothing new) for a screen that has seen `since`.
    `at_least`: the seq a doorbell announced; a cached answer that reaches it is reused.

    One order rings several stations at once: the first screen to ask renders the frames of every
    station with screens here that is behind, in one pass (a handful of queries for all of them),
    and the other stations' screens find theirs in the cache."""
    key = (*board.key, since)
    if since is not None and at_least is not None:
        hit = frame_cache.get(key, at_least)
        if hit is not None:
            return hit
    keep_connection()
    with translation.override(settings.LANGUAGE_CODE):
        if board.kind == "ready":
            seq, html = _render_ready(board, since)
            if since is not None:
                frame_cache.put(key, seq, html)
            return seq, html
        wanted = [(board, since)]
        if since is not None:
            for other in watched.boards():
                other_since = frame_cache.latest(other.key)
                if other.kind != "ready" and other.key != board.key and other_since is not None:
                    wanted.append((other, other_since))
        results = selectors.catch_up_many([(b.station, s) for b, s in wanted])
        answer = (0, None)
        for other, other_since in wanted:
            result = results[other.station.pk]
            html = None if result.mode == "none" else _render_station(other.station, result)
            if other_since is not None:
                frame_cache.put((*other.key, other_since), result.seq, html)
            else:
                frame_cache.note(other.key, result.seq)
            if other is board:
                answer = (result.seq, html)
        return answer


def prepare_frames(stations: list[Station]) -> None:
    """Right after a commit that changed `stations`, in the thread that committed it (core.events):
    draw the frames their doorbells are about to ask for, so that each screen's catch-up finds its
    frame ready and only has to send it. Boards with no screen here are skipped. When other calls wait
    for the service lane (a rush), the frames are left to the doorbells: drawn a little later, for
    several orders at once, and the orders waiting go first."""
    if lanes.service.calls > 1:
        return
    rung = {station.pk: station.last_seq for station in stations}
    for board in watched.boards():
        if board.kind == "ready" or board.station.pk not in rung:
            continue
        since = frame_cache.latest(board.key)
        if since is not None and since < rung[board.station.pk]:
            render_frame(board, since, rung[board.station.pk])  # every watched station behind, in one pass
        return


events.add_preparer(prepare_frames)


def _render_station(station: Station, result: selectors.CatchUp) -> str:
    snapshot = result.mode == "snapshot"
    context = {
        "station": station,
        "mode": result.mode,
        "tickets": result.upserts,
        "deletes": result.deletes,
        "seq": result.seq,
        "beep": result.beep,
        "now": timezone.now(),
        # The side column changes less often than the cards: only what changed is redrawn.
        "recall": selectors.recently_bumped(station) if result.recall_changed else None,
        "stock": selectors.menu_alerts(station) if snapshot else None,
        "alerts": selectors.printer_alerts() if snapshot else None,
    }
    return render_to_string("kds/_frame.html", context)


def _render_ready(board: Board, since: int | None) -> tuple[int, str | None]:
    seq = selectors.last_seq(board.station) if board.station else 0
    if since is not None and since == seq:
        return seq, None
    preparing, ready = selectors.ready_board(board.station)
    context = {"preparing": preparing, "ready": ready, "seq": seq, "oob": True, "now": timezone.now()}
    return seq, render_to_string("kds/_ready_frame.html", context)


def render_alerts() -> str:
    with translation.override(settings.LANGUAGE_CODE):
        return render_to_string("kds/_alerts.html", {"alerts": selectors.printer_alerts(), "oob": True})


def render_stock(board: Board) -> str:
    with translation.override(settings.LANGUAGE_CODE):
        return render_to_string("kds/_stock.html", {"stock": selectors.menu_alerts(board.station), "oob": True})


def current_seq(board: Board) -> int:
    return selectors.last_seq(board.station) if board.station else 0


def perform(board: Board, message: dict) -> dict:
    """Run one screen action; returns the ack. Raises services.KitchenError when refused."""
    action = message.get("action")
    station = board.station
    if board.kind == "ready":
        raise services.KitchenError("read_only", _("The ready board cannot change tickets."))
    if action == "bump":
        ticket = services.set_ticket_status(station=station, ticket_id=message.get("ticket"), to=str(message.get("to", "")))
        return {"type": "ack", "action": action, "ticket": ticket.pk, "status": ticket.status}
    if action == "recall":
        if message.get("ticket") in (None, ""):
            ticket = services.recall_last(station=station)
        else:
            ticket = services.set_ticket_status(station=station, ticket_id=message.get("ticket"), to="new")
        return {"type": "ack", "action": action, "ticket": ticket.pk, "status": ticket.status}
    if action == "item":
        to = str(message.get("to", ""))
        if to not in ("done", "new"):
            raise services.KitchenError("invalid", _("An item goes to “done” or “new”."))
        item = services.set_item_done(station=station, item_id=message.get("item"), done=to == "done")
        return {"type": "ack", "action": action, "item": item.pk, "done": item.is_done}
    raise services.KitchenError("unknown_action", _("Unknown action."))


# --- The consumer -------------------------------------------------------------------------------------

_passes: set[asyncio.Future] = set()  # render_frame calls in progress (touched on the event loop only)


async def _render_pass(board: Board, since: int | None, at_least: int | None) -> tuple[int, str | None]:
    future = asyncio.ensure_future(in_service_lane(render_frame)(board, since, at_least))
    _passes.add(future)
    future.add_done_callback(_passes.discard)
    return await future


class StationConsumer(AsyncWebsocketConsumer):
    board: Board | None = None
    seq: int = 0

    async def connect(self):
        # Accept first: a close code (4401…) only reaches the client over an open socket; refusing
        # the handshake would look like a network error and make the screen retry forever.
        await self.accept()
        self.board = None
        self.joined: list[str] = []
        self.hub = hub_for_loop()
        self.frames_lock = asyncio.Lock()  # one catch-up at a time: frames leave in seq order
        device = await in_service_lane(device_from_scope)(self.scope)
        if device is None:
            await self.close(code=4401)
            return
        if device.role != Device.Role.KDS:
            await self.close(code=4403)
            return
        board = await in_service_lane(resolve_board)(self.scope["url_route"]["kwargs"]["station"])
        if board is None:
            await self.close(code=4404)
            return
        self.board = board
        watched.add(board)
        # Join before reading, the frames lock held: a doorbell that rings while the snapshot is read
        # waits for it, then finds it already covered (or sends what came after).
        async with self.frames_lock:
            await self.join_groups()
            await self._catch_up(self.since_from_query(), None)
        self.alerts_fingerprint = await in_service_lane(selectors.alerts_fingerprint)()

    async def disconnect(self, code):
        if getattr(self, "board", None) is not None:
            watched.remove(self.board)
        for group in getattr(self, "joined", []):
            await self.hub.leave(group, self)

    async def join_groups(self) -> None:
        """Through this process's hub (core.hub): the group messages reach this screen's handlers."""
        groups = [self.board.group, "alerts"] + (["menu"] if self.board.kind != "ready" else [])
        for group in groups:
            await self.hub.join(group, self)
        self.joined = groups

    def since_from_query(self) -> int | None:
        query = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
        return _as_seq(query.get("since", [None])[0])

    async def catch_up(self, since: int | None, at_least: int | None = None) -> None:
        """Send what changed after `since` (None: a full snapshot) and remember where we are."""
        async with self.frames_lock:
            await self._catch_up(since, at_least)

    async def catch_up_to(self, seq: int) -> None:
        """A doorbell announced `seq`: send what changed since the last frame, unless a frame sent
        meanwhile already went that far."""
        async with self.frames_lock:
            if seq > self.seq:
                await self._catch_up(self.seq, seq)

    async def _catch_up(self, since: int | None, at_least: int | None) -> None:
        hit = None
        if since is not None and at_least is not None:
            key = (*self.board.key, since)
            hit = frame_cache.get(key, at_least)
            loop = asyncio.get_running_loop()
            in_progress = [future for future in _passes if future.get_loop() is loop]
            if hit is None and in_progress:
                # A pass in progress renders every watched station's frame: the screens rung by the
                # same order wait for it here rather than each queueing a trip to the database thread.
                await asyncio.wait(in_progress)
                hit = frame_cache.get(key, at_least)
        seq, html = hit or await _render_pass(self.board, since, at_least)
        if html is not None:
            await self.send(text_data=html)
        self.seq = seq

    # Channel-layer events -----------------------------------------------------------------------------

    async def dispatch(self, message):
        # Other apps may publish on shared groups ("alerts"); a type we do not handle is not an error.
        try:
            handler = getattr(self, get_handler_name(message), None)
        except ValueError:
            handler = None
        if handler is None:
            logger.debug("ignoring %r", message.get("type"))
            return
        # Not super().dispatch(): it closes old database connections on every message, a thread hop
        # per screen per doorbell; every handler here reaches the database through
        # in_service_lane, which does that itself.
        await handler(message)

    async def kds_event(self, event):
        if self.board is None or self.board.station is None:
            return
        if event.get("station") != self.board.station.slug or not isinstance(event.get("seq"), int):
            return
        if event["seq"] > self.seq:
            await self.catch_up_to(event["seq"])

    async def kds_alert(self, event):
        if self.board is not None:
            await self.send(text_data=await in_service_lane(render_alerts)())

    async def menu_item(self, event):
        if self.board is not None and self.board.kind != "ready":
            await self.send(text_data=await in_service_lane(render_stock)(self.board))

    # Client frames ------------------------------------------------------------------------------------

    async def receive(self, text_data=None, bytes_data=None):
        if self.board is None:
            return
        if bytes_data is not None:
            await self.send_error("binary", _("Text frames only."))
            return
        if len(text_data) > MAX_FRAME:
            await self.close(code=1009)
            return
        try:
            message = json.loads(text_data)
        except ValueError:
            await self.send_error("bad_json", _("Frames are JSON objects."))
            return
        if not isinstance(message, dict):
            await self.send_error("bad_json", _("Frames are JSON objects."))
            return
        try:
            await self.handle(message)
        except services.KitchenError as exc:
            await self.send_error(exc.code, exc.detail, message)
        except Exception:
            # One bad message must never take a kitchen screen down.
            logger.exception("kds consumer: message %r failed", message.get("action"))
            await self.send_error("server_error", _("The server could not do that."), message)

    async def handle(self, message: dict) -> None:
        action = message.get("action")
        if action == "ping":
            await self.heartbeat()
        elif action == "resume":
            since = _as_seq(message.get("seq"))
            await self.catch_up(since)
        else:
            # In the service lane like every order: one writer at a time, none waiting for another's lock.
            ack = await in_service_lane(perform)(self.board, message)
            await self.send(text_data=json.dumps(ack))

    async def heartbeat(self) -> None:
        """Every few seconds: answer, catch up if a doorbell was lost (another process without Redis,
        a full channel), refresh the alert banner if it changed, re-join groups now and then."""
        await self.hub.refresh(self.joined, older_than=REJOIN_EVERY)
        seq, fingerprint = await in_service_lane(_heartbeat_state)(self.board)
        if seq != self.seq:
            await self.catch_up(self.seq)
        if fingerprint != self.alerts_fingerprint:
            self.alerts_fingerprint = fingerprint
            await self.kds_alert({})
        await self.send(text_data=json.dumps({"type": "pong", "seq": self.seq}))

    async def send_error(self, code: str, detail: str, message: dict | None = None) -> None:
        frame = {"type": "error", "error": code, "detail": str(detail)}
        if message is not None:
            for key in ("action", "ticket", "item"):
                if isinstance(message.get(key), str | int) and len(str(message.get(key))) < 40:
                    frame[key] = message[key]
        await self.send(text_data=json.dumps(frame))


def _heartbeat_state(board: Board) -> tuple[int, tuple]:
    return current_seq(board), selectors.alerts_fingerprint()


def _as_seq(value) -> int | None:
    try:
        seq = int(value)
    except (TypeError, ValueError):
        return None
    return seq if 0 <= seq < 2**62 else None
