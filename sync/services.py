"""The cloud receiver's rules: registering stores, answering marks, verifying and storing batches.

Every write on the cloud side goes through here. The views only authenticate and translate
`Rejected` into the API's JSON error shape.
"""

import datetime
import logging
import re
from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.utils.translation import gettext as _

from accounts.models import hash_token
from fiscal.chain import load_public_key, parse_timestamp
from sync import verification
from sync.models import ReceivedRecord, Refusal, Store, StoreChainMark

logger = logging.getLogger("sync.cloud")

CHAIN_NAME = re.compile(r"^[a-z0-9_-]{1,32}$")
MAX_BATCH_RECORDS = 1000


@dataclass
class Rejected(Exception):
    """A batch the cloud refuses. `status` and `error` become the JSON answer; nothing was stored."""

    status: int
    error: str
    detail: str
    chain: str = ""
    seq: int | None = None
    extra: dict = field(default_factory=dict)

    def __str__(self):
        return f"{self.error}: {self.detail}"

    def as_json(self) -> dict:
        answer = {"error": self.error, "detail": self.detail}
        if self.chain:
            answer["chain"] = self.chain
        if self.seq is not None:
            answer["seq"] = self.seq
        return {**answer, **self.extra}


# --- Stores -------------------------------------------------------------------------------------------


PEM_BLOCK = re.compile(r"-----BEGIN PUBLIC KEY-----[A-Za-z0-9+/=\s]+-----END PUBLIC KEY-----")


def check_public_key(text: str) -> str:
    """The PEM block in `text` (copied output may carry other lines around it), if it holds an Ed25519
    public key — what the verifier will load; ValueError otherwise."""
    found = PEM_BLOCK.search(text or "")
    if found is None:
        raise ValueError(_("No PEM public key found: give the output of fiscal_public_key on the store."))
    pem = found.group(0)
    try:
        load_public_key(pem)
    except (ValueError, TypeError, UnicodeEncodeError) as exc:
        raise ValueError(_("Not a PEM Ed25519 public key: %(error)s") % {"error": exc}) from None
    return pem + "\n"


def register_store(*, name: str, public_key_pem: str) -> tuple[Store, str]:
    """Create a store, or give an existing one a new key and token. Returns the store and its token
    (shown once: only its hash is kept)."""
    name = name.strip()
    if not name:
        raise ValueError(_("A store needs a name."))
    pem = check_public_key(public_key_pem)
    with transaction.atomic():
        store = Store.objects.select_for_update().filter(name=name).first() or Store(name=name)
        store.public_key_pem = pem
        store.active = True
        token = store.set_new_token()
        store.save()
    return store, token


def store_from_token(token: str | None) -> Store | None:
    if not token or len(token) > 200:
        return None
    return Store.objects.filter(token_hash=hash_token(token), active=True).first()


def marks_for(store: Store) -> dict:
    """{"<chain>": {"seq": N, "hash": "..."}} — what the cloud holds of each of the store's chains."""
    return {m.chain: {"seq": m.seq, "hash": m.hash} for m in store.marks.filter(seq__gt=0)}


# --- Receiving a batch --------------------------------------------------------------------------------


def receive_batch(*, store: Store, batch) -> dict:
    """Verify and store one batch `{"chain": name, "records": [wire dicts in seq order]}`.

    Steps, inside one transaction holding the chain's mark row (SELECT ... FOR UPDATE), so two uploads
    of the same chain are verified one after the other against the mark the first one left:
    1. shape: a known chain name, 1..MAX_BATCH_RECORDS records with consecutive sequence numbers;
    2. records at or below the mark must be identical to those held (a replay: counted as duplicates);
       one that differs is a fork — refused, logged, nothing stored;
    3. the first new record must be mark + 1 (else a gap, answered with the expected number);
    4. the new records are verified as a chain continuing the mark, with the store's registered
       public key: signature of each and link to its predecessor (first broken record named);
    5. they are stored and the mark moves; the answer is the new high-water mark, signed by the cloud.

    Raises `Rejected` (and records a `Refusal`) when the batch is refused.
    """
    chain, records = _check_shape(batch)
    try:
        with transaction.atomic():
            answer = _receive(store=store, chain=chain, records=records)
    except Rejected as rejected:
        _record_refusal(store, rejected)
        raise
    return answer


def _check_shape(batch) -> tuple[str, list[dict]]:
    if not isinstance(batch, dict):
        raise Rejected(400, "bad_request", _("The body must be a JSON object."))
    chain = batch.get("chain")
    records = batch.get("records")
    if not isinstance(chain, str) or not CHAIN_NAME.match(chain):
        raise Rejected(400, "bad_request", _("A valid chain name is required."))
    if not isinstance(records, list) or not records:
        raise Rejected(400, "bad_request", _("A non-empty list of records is required."), chain=chain)
    if len(records) > MAX_BATCH_RECORDS:
        raise Rejected(
            413, "batch_too_large", _("At most %(n)d records per batch.") % {"n": MAX_BATCH_RECORDS}, chain=chain
        )
    previous = None
    for record in records:
        if not isinstance(record, dict):
            raise Rejected(400, "bad_request", _("Each record must be a JSON object."), chain=chain)
        seq = record.get("seq")
        if type(seq) is not int or seq < 0:
            raise Rejected(400, "bad_record", _("Each record needs an integer sequence number."), chain=chain)
        if record.get("chain", chain) != chain:
            raise Rejected(400, "bad_record", _("A record of another chain is in this batch."), chain=chain, seq=seq)
        if previous is not None and seq != previous + 1:
            raise Rejected(
                400, "bad_batch", _("Records must be sent in sequence order, without holes."), chain=chain, seq=seq
            )
        previous = seq
    return chain, records


def _receive(*, store: Store, chain: str, records: list[dict]) -> dict:
    StoreChainMark.objects.get_or_create(store=store, chain=chain)
    mark = StoreChainMark.objects.select_for_update().get(store=store, chain=chain)

    held = [r for r in records if r["seq"] <= mark.seq]
    new = [r for r in records if r["seq"] > mark.seq]
    if held:
        _check_replay(store=store, chain=chain, records=held)
    if new and new[0]["seq"] != mark.seq + 1:
        raise Rejected(
            409, "gap",
            _("Record %(seq)d does not follow the cloud's last record %(mark)d.") % {"seq": new[0]["seq"], "mark": mark.seq},
            chain=chain, seq=new[0]["seq"], extra={"expected": mark.seq + 1},
        )  # fmt: skip

    if new:
        # The verifier continues from the whole last record held (link, signature, grand total).
        start = ReceivedRecord.objects.get(store=store, chain=chain, seq=mark.seq).wire() if mark.seq else None
        error = verification.first_error(new, store.public_key_pem, start=start)
        if error is not None:
            raise Rejected(422, error.code, error.detail, chain=chain, seq=error.seq)
        now = timezone.now()
        ReceivedRecord.objects.bulk_create([_received(store, chain, r, now) for r in new])
        last = new[-1]
        mark.seq, mark.hash, mark.signature, mark.updated_at = last["seq"], last["hash"], last["signature"], now
        mark.save(update_fields=["seq", "hash", "signature", "updated_at"])
    Store.objects.filter(pk=store.pk).update(last_sync_at=timezone.now())

    return {
        "chain": chain,
        "seq": mark.seq,
        "hash": mark.hash,
        "accepted": len(new),
        "duplicates": len(held),
        "ack": verification.sign_ack(store=store.name, chain=chain, seq=mark.seq, hash=mark.hash),
    }


def _check_replay(*, store: Store, chain: str, records: list[dict]) -> None:
    """Records the cloud already has must come back identical: sending twice is harmless, a different
    record under a number already held is a fork (a rewritten chain, or someone else's records)."""
    stored = {
        r.seq: r
        for r in ReceivedRecord.objects.filter(
            store=store, chain=chain, seq__gte=records[0]["seq"], seq__lte=records[-1]["seq"]
        )
    }
    for record in records:
        held = stored.get(record["seq"])
        if held is None or held.wire() != record:
            logger.error(
                "Fork refused: store %s chain %s record %s differs from the one held", store.name, chain, record["seq"]
            )
            raise Rejected(
                409, "fork",
                _("Record %(seq)d differs from the record the cloud already holds under that number.")
                % {"seq": record["seq"]},
                chain=chain, seq=record["seq"], extra={"held_hash": held.hash if held else None},
            )  # fmt: skip


def _received(store: Store, chain: str, record: dict, now: datetime.datetime) -> ReceivedRecord:
    """A verified wire dict as a row: the fields the cloud queries get columns, the rest stays as sent."""
    business_day = record.get("business_day")
    return ReceivedRecord(
        store=store,
        chain=chain,
        seq=record["seq"],
        type=record["type"],
        timestamp=parse_timestamp(record["timestamp"]),
        business_day=parse_date(business_day) if isinstance(business_day, str) else None,
        payload=record["payload"],
        prev_hash=record["prev_hash"],
        hash=record["hash"],
        signature=record["signature"],
        envelope={k: v for k, v in record.items() if k != "payload"},
        received_at=now,
    )


def _record_refusal(store: Store, rejected: Rejected) -> None:
    logger.warning("Upload refused: store %s chain %s seq %s: %s", store.name, rejected.chain, rejected.seq, rejected)
    Refusal.objects.create(
        store=store, chain=rejected.chain, seq=rejected.seq, error=rejected.error, detail=rejected.detail[:2000]
    )
