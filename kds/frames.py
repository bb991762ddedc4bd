"""The kitchen screens' frames: what a screen that has seen event `since` is sent next.

The database is the truth and the channel layer only a doorbell ("station S has events up to seq N").
On a doorbell, a screen asks here for what changed after the last seq it was sent; the answer is the
same card partials as the page, as htmx out-of-band swaps (`#kds-meta` carries data-seq), or a full
snapshot when `since` is None or too old to catch up from.

Frames are drawn on the screens' side, after the doorbell, never in the thread that committed the
order: a till's answer never waits for a screen. Every screen of a station hears the same doorbell
and asks the same question, and one order rings several stations at once: the first screen to ask
draws the frames of every station with screens in this process that is behind, in one pass (a
handful of queries for all of them), and the others find theirs in the frame cache — or wait for the
pass in progress rather than each queueing a trip to the database.

The synchronous part (database and templates) runs in the service lane (core.lanes); `frame_for` is
what a consumer awaits on the event loop.
"""

import asyncio
import threading
import time
from dataclasses import dataclass

from django.conf import settings
from django.db import connection
from django.template.loader import render_to_string
from django.utils import timezone, translation

from core.lanes import in_service_lane
from kds import selectors
from kds.models import READY_BOARD_SLUG, Station


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


class FrameCache:
    """Answers to "what changed at board B after seq S?", reused by every screen of B asking it. An
    answer that reaches the seq a doorbell announced stays correct: a newer change has a newer event,
    which rings again. `latest` remembers, per board, the seq its screens were last brought to."""

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
            self._note(key[:-1], seq)

    def note(self, board_key: tuple, seq: int) -> None:
        with self._lock:
            self._note(board_key, seq)

    def _note(self, board_key: tuple, seq: int) -> None:
        self._latest[board_key] = max(seq, self._latest.get(board_key, 0))

    def latest(self, board_key: tuple) -> int | None:
        return self._latest.get(board_key)

    def clear(self) -> None:
        with self._lock:
            self._frames.clear()
            self._latest.clear()


frame_cache = FrameCache()


class Watched:
    """The boards that have screens connected to this process (to draw their frames together)."""

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


watched = Watched()


# --- Drawing (synchronous: database and templates, in the service lane) -------------------------------


def keep_connection() -> None:
    """Keep this lane thread's database connection between frames: with CONN_MAX_AGE=0 each frame
    would otherwise open a fresh one, which costs more than the frame itself. A connection that
    failed is still closed and replaced (in_service_lane checks it before and after each call)."""
    connection.ensure_connection()
    connection.close_at = None


def render_frame(board: Board, since: int | None, at_least: int | None = None) -> tuple[int, str | None]:
    """(seq, HTML frame or None when there is nothing new) for a screen that has seen `since`.
    `at_least`: the seq a doorbell announced; a cached answer that reaches it is reused."""
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
            html = None if result.mode == "none" else render_station(other.station, result)
            if other_since is not None:
                frame_cache.put((*other.key, other_since), result.seq, html)
            else:
                frame_cache.note(other.key, result.seq)
            if other is board:
                answer = (result.seq, html)
        return answer


def render_station(station: Station, result: selectors.CatchUp) -> str:
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


def heartbeat_state(board: Board) -> tuple[int, tuple]:
    """What a screen's ping compares: the board's last seq and the alerts' fingerprint."""
    return current_seq(board), selectors.alerts_fingerprint()


# --- On the event loop ----------------------------------------------------------------------------------

_passes: set[asyncio.Future] = set()  # render_frame calls in progress (touched on the event loop only)


async def render_pass(board: Board, since: int | None, at_least: int | None) -> tuple[int, str | None]:
    future = asyncio.ensure_future(in_service_lane(render_frame)(board, since, at_least))
    _passes.add(future)
    future.add_done_callback(_passes.discard)
    return await future


async def frame_for(board: Board, since: int | None, at_least: int | None) -> tuple[int, str | None]:
    """(seq, frame or None) for a screen of `board` that has seen `since` (None: a snapshot);
    `at_least` is the seq a doorbell announced, if one did."""
    if since is not None and at_least is not None:
        key = (*board.key, since)
        hit = frame_cache.get(key, at_least)
        loop = asyncio.get_running_loop()
        in_progress = [future for future in _passes if future.get_loop() is loop]
        if hit is None and in_progress:
            # A pass in progress draws every watched station's frame: the screens rung by the same
            # order wait for it here rather than each queueing a trip to the service lane.
            await asyncio.wait(in_progress)
            hit = frame_cache.get(key, at_least)
        if hit is not None:
            return hit
    return await render_pass(board, since, at_least)


async def passes_done() -> None:
    """Wait for this loop's passes in progress (tests, before they flush the layer)."""
    loop = asyncio.get_running_loop()
    in_progress = [future for future in _passes if future.get_loop() is loop]
    if in_progress:
        await asyncio.wait(in_progress)
