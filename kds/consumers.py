"""The kitchen screens' WebSocket: /ws/kds/<station-slug>/ (and /ws/kds/ready/ for the ready board).

The consumer is thin: it checks the device, joins its board's groups, hears the doorbells ("station S
has events up to seq N"), checks what the screen sends, and sends frames. What a frame holds (the
snapshot, the catch-up since a seq, the frame cache) is kds.frames'.

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
from urllib.parse import parse_qs

from channels.consumer import get_handler_name
from channels.generic.websocket import AsyncWebsocketConsumer
from django.utils.translation import gettext as _

from accounts.access import device_from_scope, socket_refusal
from accounts.models import Device
from core.hub import hub_for_loop
from core.lanes import in_service_lane
from kds import frames, selectors, services
from kds.frames import Board

logger = logging.getLogger(__name__)

MAX_FRAME = 4096  # bytes of JSON a screen may send; bump messages are ~60
REJOIN_EVERY = 3600  # seconds: refresh group membership before channels-redis' group_expiry drops us


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
        if refusal := socket_refusal(device, [Device.Role.KDS]):
            await self.close(code=refusal)
            return
        board = await in_service_lane(frames.resolve_board)(self.scope["url_route"]["kwargs"]["station"])
        if board is None:
            await self.close(code=4404)
            return
        self.board = board
        frames.watched.add(board)
        # The alerts as the snapshot will show them (read before it: a printer going down after this
        # read is redrawn at the next ping).
        self.alerts_fingerprint = await in_service_lane(selectors.alerts_fingerprint)()
        # Join before reading, the frames lock held: a doorbell that rings while the snapshot is read
        # waits for it, then finds it already covered (or sends what came after).
        async with self.frames_lock:
            await self.join_groups()
            await self._catch_up(self.since_from_query(), None)

    async def disconnect(self, code):
        if getattr(self, "board", None) is not None:
            frames.watched.remove(self.board)
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
        seq, html = await frames.frame_for(self.board, since, at_least)
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
            await self.send(text_data=await in_service_lane(frames.render_alerts)())

    async def menu_item(self, event):
        if self.board is not None and self.board.kind != "ready":
            await self.send(text_data=await in_service_lane(frames.render_stock)(self.board))

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
            # In the service lane's writing thread, like every order.
            ack = await in_service_lane(perform, writes=True)(self.board, message)
            await self.send(text_data=json.dumps(ack))

    async def heartbeat(self) -> None:
        """Every few seconds: answer, catch up if a doorbell was lost (another process without Redis,
        a full channel), refresh the alert banner if it changed, re-join groups now and then."""
        await self.hub.refresh(self.joined, older_than=REJOIN_EVERY)
        seq, fingerprint = await in_service_lane(frames.heartbeat_state)(self.board)
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


def _as_seq(value) -> int | None:
    try:
        seq = int(value)
    except (TypeError, ValueError):
        return None
    return seq if 0 <= seq < 2**62 else None
