"""The store side of cloud sync: ask the cloud what it holds, check it against the local chains, send
what is missing in order, in batches. At-least-once: a record counts as delivered only once the cloud's
answer says so, and the cloud takes a resend as a harmless duplicate.

`push()` is one full attempt (what `manage.py sync --once` runs). `sync_step()` is the background step
(`manage.py sync` and `manage.py serve` call it in their loops): cheap when there is nothing to send,
it waits out its own backoff after a failure, and never raises — network loss is a normal state.

Messages here go into signed journal entries, the command's output and the admin: they are English,
never translated (like fiscal's journal labels), so a record reads the same whatever the locale; the
screens show translated labels (sync.status).

Transitions are journaled once each, never per attempt: cloud unreachable (70) / reachable again, and
an integrity defect (90) when the cloud holds more of a chain than the store does (a truncated local
tail) or a different record at its mark (a rewritten chain). A chain with a defect stops syncing.
"""

import json
import logging
import random
import socket
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from sync import local
from sync.models import ChainSync, SyncState

logger = logging.getLogger("sync.client")

TIMEOUT_SECONDS = 10  # every HTTP request: connect and each read
BATCH_RECORDS = 200
BATCH_BYTES = 200 * 1024  # stays below any proxy's default body limit in front of the cloud
STEP_BATCHES = 5  # the background step sends at most this many batches, then lets other loops run
RECHECK_SECONDS = 300  # with nothing to send, the background step still compares marks this often
BACKOFF_FIRST_SECONDS = 5
BACKOFF_MAX_SECONDS = 600

now = timezone.now  # patched by tests that freeze time


class Unreachable(Exception):
    """The cloud could not be reached or did not answer in time: the normal offline state."""


class CloudRefused(Exception):
    """The cloud answered with an error: `status`, and its JSON `{"error", "detail", ...}`."""

    def __init__(self, status: int, answer: dict):
        self.status = status
        self.answer = answer if isinstance(answer, dict) else {}
        self.error = str(self.answer.get("error", "http_%d" % status))
        self.detail = str(self.answer.get("detail", ""))
        super().__init__(f"{status} {self.error}: {self.detail}")


# A transport sends one request to the cloud API and returns its JSON answer (2xx), or raises
# Unreachable / CloudRefused. Tests pass one that talks to Django's test client.
Transport = Callable[[str, str, dict | None], dict]


class HttpTransport:
    """urllib from the standard library: no dependency, a timeout on every request."""

    def __init__(self, base_url: str, token: str, timeout: float = TIMEOUT_SECONDS):
        self.base_url = base_url.rstrip("/") + "/sync/v1/"
        self.token = token
        self.timeout = timeout

    def __call__(self, method: str, path: str, body: dict | None = None) -> dict:
        data = json.dumps(body, separators=(",", ":")).encode() if body is not None else None
        request = urllib.request.Request(self.base_url + path, data=data, method=method)
        request.add_header("Authorization", f"Bearer {self.token}")
        request.add_header("Accept", "application/json")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as exc:
            status = exc.code
            try:
                answer = json.loads(exc.read() or b"{}")
            except (ValueError, OSError):
                answer = {}
            if status >= 500 or status in (408, 429, 502, 503, 504):
                raise Unreachable(f"{self.base_url}: HTTP {status}") from None
            raise CloudRefused(status, answer) from None
        except (urllib.error.URLError, socket.timeout, TimeoutError, ConnectionError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise Unreachable(f"{self.base_url}: {reason}") from None
        except ValueError:
            raise Unreachable(f"{self.base_url}: the answer is not JSON") from None


def is_configured() -> bool:
    return bool(settings.KDS_CLOUD_URL)


def default_transport() -> Transport:
    return HttpTransport(settings.KDS_CLOUD_URL, settings.KDS_CLOUD_TOKEN)


@dataclass
class Report:
    """What one attempt did. `complete`: the cloud has every record of every chain."""

    outcome: str = SyncState.Outcome.NEVER
    sent: int = 0
    duplicates: int = 0
    backlog: int = 0
    complete: bool = False
    error: str = ""
    problems: dict[str, str] = field(default_factory=dict)  # chain -> why it did not sync
    defect: bool = False  # one of the problems is an integrity defect (journaled, code 90)
    marks: dict[str, int] = field(default_factory=dict)  # chain -> the cloud's mark after the attempt


# --- One attempt --------------------------------------------------------------------------------------


def push(*, transport: Transport | None = None, max_batches: int | None = None) -> Report:
    """One attempt. Steps:
    1. GET marks (unreachable: journal the offline transition once, back off, stop);
    2. check every local chain against the cloud's mark and the store's own acknowledged mark:
       cloud (or acknowledged) mark beyond the local end, or another hash at the mark → integrity
       defect: journaled once, the chain stops;
    3. send each healthy chain's missing records in order, in batches, moving the acknowledged mark
       with each answer (a gap answer: resume from the number the cloud expects);
    4. record the outcome in SyncState (the status indicator reads it).
    """
    transport = transport or default_transport()
    report = Report()
    state = SyncState.get()
    state.last_attempt_at = now()
    try:
        cloud_marks = _parse_marks(transport("GET", "marks/", None))
        _went_online(state)
        _check_chains(cloud_marks, report)
        _send_chains(transport, cloud_marks, report, max_batches)
    except Unreachable as exc:
        _went_offline(state, str(exc), report)
    except CloudRefused as exc:
        report.outcome = SyncState.Outcome.REFUSED
        report.error = f"The cloud refused the upload: {exc}"
    report.backlog = local.backlog()
    if report.outcome == SyncState.Outcome.NEVER:
        report.complete = not report.problems and report.backlog == 0
        if report.defect:
            report.outcome = SyncState.Outcome.DEFECT
        elif report.problems:
            report.outcome = SyncState.Outcome.REFUSED
        else:
            report.outcome = SyncState.Outcome.OK
    if report.outcome == SyncState.Outcome.REFUSED and state.last_outcome != SyncState.Outcome.REFUSED:
        # Credentials refused (a revoked or mistyped token): journaled once, when it starts.
        local.journal(local.CODE_SYNC_FAILED, message=report.error or "\n".join(report.problems.values()))
    _save_state(state, report)
    return report


def _parse_marks(answer) -> dict[str, tuple[int, str]]:
    if not isinstance(answer, dict):
        raise CloudRefused(200, {"error": "bad_answer", "detail": "marks are not a JSON object"})
    marks = {}
    for chain, mark in answer.items():
        if not (isinstance(mark, dict) and type(mark.get("seq")) is int and isinstance(mark.get("hash"), str)):
            raise CloudRefused(200, {"error": "bad_answer", "detail": f"malformed mark for {chain}"})
        marks[chain] = (mark["seq"], mark["hash"])
    return marks


def _check_chains(cloud_marks: dict[str, tuple[int, str]], report: Report) -> None:
    """Compare each chain's local end with what the cloud (and our own record of its acknowledgements)
    says it holds. Only the cloud can see a truncated tail: a local chain alone still verifies."""
    heads = local.heads()
    acks = {c.chain: c for c in ChainSync.objects.all()}
    for chain in sorted(set(heads) | set(cloud_marks) | set(acks)):
        local_seq = heads.get(chain, (0, ""))[0]
        ack = acks.get(chain) or ChainSync(chain=chain)
        cloud_seq, cloud_hash = cloud_marks.get(chain, (0, ""))
        truncated = "local records were removed (truncated tail)"
        if cloud_seq > local_seq:
            defect = f"The cloud holds chain {chain} up to record {cloud_seq}, beyond this store's: {truncated}."
        elif cloud_seq and local.hash_at(chain, cloud_seq) != cloud_hash:
            defect = f"Record {cloud_seq} of chain {chain} differs from the cloud's: the chain was rewritten."
        elif ack.acked_seq > local_seq:
            defect = f"The cloud acknowledged {chain} up to record {ack.acked_seq}, beyond this store's: {truncated}."
        elif ack.acked_seq > cloud_seq and local.hash_at(chain, ack.acked_seq) != ack.acked_hash:
            defect = f"Record {ack.acked_seq} of chain {chain} differs from the one the cloud acknowledged: rewritten."
        else:
            defect = ""
        if defect:
            _set_defect(ack, defect, local_seq=local_seq, cloud_seq=cloud_seq)
            report.problems[chain] = defect
            report.defect = True
            continue
        # A defect found earlier stays until this chain goes through again (see _send_chains), so that
        # the same refusal on every pass is journaled once.
        if ack.pk is None:
            ack.save()
        if cloud_seq > ack.acked_seq:
            # The cloud may know more than our last answer told us (an answer lost on the way back).
            # Never moved backwards: our higher acknowledgement is the evidence if the cloud lost data.
            ChainSync.objects.filter(pk=ack.pk).update(acked_seq=cloud_seq, acked_hash=cloud_hash, acked_at=now())


def _set_defect(ack: ChainSync, defect: str, *, local_seq: int, cloud_seq: int) -> None:
    """Store the chain's defect; journal it (code 90) when it appears or changes, not on every pass."""
    logger.error("Integrity defect: %s", defect)
    if ack.defect == defect and ack.pk is not None:
        return
    with transaction.atomic():
        local.journal(
            local.CODE_INTEGRITY_DEFECT,
            message=defect,
            details={"chain": ack.chain, "local_seq": local_seq, "cloud_seq": cloud_seq},
        )
        ack.defect, ack.defect_at = defect, now()
        ack.save()


def _clear_defect(chain: str) -> None:
    if ChainSync.objects.filter(chain=chain).exclude(defect="").update(defect="", defect_at=None):
        logger.warning("Chain %s matches the cloud again; its integrity defect is cleared", chain)


def _send_chains(transport: Transport, cloud_marks: dict, report: Report, max_batches: int | None) -> None:
    batches = 0
    # Heads are read again: checking may have journaled, and that record goes out in this same pass.
    # The event journal goes first: what it says (offline periods, defects, key changes) explains the rest.
    heads = local.heads()
    for chain in sorted(heads, key=lambda c: (c != local.JOURNAL_CHAIN, c)):
        head_seq = heads[chain][0]
        if chain in report.problems:
            continue
        after = cloud_marks.get(chain, (0, ""))[0]
        retries = 0
        while after < head_seq:
            if max_batches is not None and batches >= max_batches:
                return
            records = local.records_after(chain, after, limit=BATCH_RECORDS, max_bytes=BATCH_BYTES)
            if not records:
                break
            try:
                answer = transport("POST", "records/", {"chain": chain, "records": records})
            except CloudRefused as exc:
                expected = exc.answer.get("expected")
                if exc.error == "gap" and type(expected) is int and 0 < expected <= after and retries < 3:
                    # Someone (a previous attempt's lost answer?) left the cloud elsewhere: resume there.
                    after, retries = expected - 1, retries + 1
                    continue
                _refused(chain, exc, report)
                break
            batches += 1
            after = _acknowledged(chain, records, answer, report)
            if after is None:
                break
        if after is not None:
            report.marks[chain] = after
        if chain not in report.problems:
            _clear_defect(chain)


def _acknowledged(chain: str, records: list[dict], answer, report: Report) -> int | None:
    """Move the chain's acknowledged mark to the cloud's answer, after checking it is what we sent."""
    last = records[-1]
    if not (isinstance(answer, dict) and answer.get("seq") == last["seq"] and answer.get("hash") == last["hash"]):
        report.problems[chain] = f"The cloud answered an unexpected mark for chain {chain}: {str(answer)[:200]}"
        return None
    report.sent += int(answer.get("accepted", 0) or 0)
    report.duplicates += int(answer.get("duplicates", 0) or 0)
    ChainSync.objects.update_or_create(
        chain=chain,
        defaults={
            "acked_seq": last["seq"],
            "acked_hash": last["hash"],
            "acked_at": now(),
            "ack_signature": str(answer.get("ack") or "")[:512],
        },
    )
    return last["seq"]


def _refused(chain: str, exc: CloudRefused, report: Report) -> None:
    """The cloud refused a batch (fork, bad signature…): the chain stops and the refusal is journaled
    as an integrity defect, once — the same refusal on the next pass is not journaled again."""
    seq = exc.answer.get("seq")
    message = f"The cloud refused record {seq if seq is not None else '?'} of chain {chain}: {exc}"
    report.problems[chain] = message
    if exc.status in (401, 403):
        return  # credentials, not integrity: shown in the status, not journaled as a defect
    ack = ChainSync.objects.filter(chain=chain).first() or ChainSync(chain=chain)
    _set_defect(ack, message, local_seq=local.heads().get(chain, (0, ""))[0], cloud_seq=ack.acked_seq)
    report.defect = True


# --- Reachability and backoff -------------------------------------------------------------------------


def _went_online(state: SyncState) -> None:
    if state.online is False:
        local.journal(local.CODE_ONLINE, message="Cloud reachable again.", details={"url": settings.KDS_CLOUD_URL})
        logger.info("Cloud reachable again")
    state.online = True
    state.last_checked_at = now()


def _went_offline(state: SyncState, reason: str, report: Report) -> None:
    if state.online is not False:
        local.journal(
            local.CODE_OFFLINE,
            message=f"Cloud unreachable: {reason}",
            details={"url": settings.KDS_CLOUD_URL},
        )
        logger.warning("Cloud unreachable: %s", reason)
    state.online = False
    report.outcome = SyncState.Outcome.OFFLINE
    report.error = f"Cloud unreachable: {reason}"


def _save_state(state: SyncState, report: Report) -> None:
    state.last_outcome = report.outcome
    state.backlog = report.backlog
    if report.outcome == SyncState.Outcome.OK:
        state.last_success_at = state.last_attempt_at
        state.last_error = ""
        state.failures = 0
        state.next_attempt_at = None
    else:
        state.last_error = report.error or "\n".join(report.problems.values())
        state.failures += 1
        delay = min(BACKOFF_FIRST_SECONDS * 2 ** min(state.failures - 1, 16), BACKOFF_MAX_SECONDS)
        # A little jitter so that stores coming back after a cloud outage do not all call at once.
        state.next_attempt_at = state.last_attempt_at + timedelta(seconds=delay * random.uniform(0.8, 1.2))
    state.save()


# --- The background step ------------------------------------------------------------------------------


def sync_step(*, transport: Transport | None = None) -> bool:
    """One background pass; True when it sent records and more may be waiting (call again at once).

    No-op (False) when sync is not configured, while backing off after a failure, and when nothing is
    pending and the cloud's marks were checked recently. Never raises: a bug is logged, not fatal to
    the loop that calls it."""
    if not is_configured():
        return False
    try:
        state = SyncState.get()
        moment = now()
        if state.next_attempt_at and moment < state.next_attempt_at:
            return False
        recently = state.last_checked_at and moment - state.last_checked_at < timedelta(seconds=RECHECK_SECONDS)
        if state.last_outcome == SyncState.Outcome.OK and recently and local.backlog() == 0:
            return False
        report = push(transport=transport, max_batches=STEP_BATCHES)
        return report.outcome == SyncState.Outcome.OK and report.sent > 0 and report.backlog > 0
    except Exception:
        logger.exception("Cloud sync step failed")
        return False
