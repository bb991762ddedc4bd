"""The store's own sealed chains, as sync sees them: the one place sync reads fiscal's records and
writes to its journal. Everything here is a read, except `journal`."""

import json

from fiscal import chain as fiscal_chain
from fiscal import codes
from fiscal import services as fiscal_services
from fiscal.models import WIRE_COLUMNS, SealedRecord, row_to_wire
from sync.models import ChainSync

JOURNAL_CHAIN = fiscal_chain.JET
CODE_OFFLINE = codes.OFFLINE  # 70
CODE_ONLINE = codes.ONLINE  # 71
CODE_INTEGRITY_DEFECT = codes.INTEGRITY_DEFECT  # 90
CODE_SYNC_FAILED = codes.SYNC_FAILED  # 320: the cloud refused our credentials


def heads() -> dict[str, tuple[int, str]]:
    """{chain: (last seq, its hash)} for every local chain that has records.

    Read from the records themselves, not from fiscal's ChainHead bookkeeping: what the cloud is
    compared with is what this store can still show. One index lookup per chain."""
    found = {}
    for chain in fiscal_chain.CHAINS:
        last = SealedRecord.objects.filter(chain=chain).order_by("-seq").values_list("seq", "hash").first()
        if last is not None:
            found[chain] = last
    return found


def hash_at(chain: str, seq: int) -> str | None:
    return SealedRecord.objects.filter(chain=chain, seq=seq).values_list("hash", flat=True).first()


def records_after(chain: str, after: int, *, limit: int, max_bytes: int) -> list[dict]:
    """The chain's records after `after`, as wire dicts in order: at most `limit` of them and about
    `max_bytes` of JSON (always at least one, however large)."""
    rows = SealedRecord.objects.filter(chain=chain, seq__gt=after).order_by("seq").values_list(*WIRE_COLUMNS)
    batch, size = [], 0
    for row in rows[:limit]:
        wire = row_to_wire(row)
        size += len(json.dumps(wire, separators=(",", ":"), ensure_ascii=False).encode())
        if batch and size > max_bytes:
            break
        batch.append(wire)
    return batch


def backlog() -> int:
    """Records not yet acknowledged by the cloud, all chains together."""
    acked = dict(ChainSync.objects.values_list("chain", "acked_seq"))
    return sum(max(0, seq - acked.get(chain, 0)) for chain, (seq, _hash) in heads().items())


def journal(code: int, *, message: str, details: dict | None = None) -> None:
    fiscal_services.journal(code, message=message, device="sync", details=details or {})
