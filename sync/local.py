"""The store's own sealed chains, as sync sees them: the one place sync reads fiscal's records and
writes to its journal. Everything here is a read, except `journal`."""

import json

from django.db.models import Max

from fiscal import services as fiscal_services
from sync.models import ChainSync

# Journal (JET) codes. 70 and 90 are the codes certified vendors use; 71 is ours for "back online".
CODE_OFFLINE = 70
CODE_ONLINE = 71
CODE_INTEGRITY_DEFECT = 90


def _records():
    from fiscal.models import SealedRecord

    return SealedRecord.objects


def heads() -> dict[str, tuple[int, str]]:
    """{chain: (last seq, its hash)} for every local chain that has records."""
    last = dict(_records().values("chain").annotate(last=Max("seq")).values_list("chain", "last"))
    return {chain: (seq, hash_at(chain, seq) or "") for chain, seq in last.items()}


def hash_at(chain: str, seq: int) -> str | None:
    return _records().filter(chain=chain, seq=seq).values_list("hash", flat=True).first()


def records_after(chain: str, after: int, *, limit: int, max_bytes: int) -> list[dict]:
    """The chain's records after `after`, as wire dicts in order: at most `limit` of them and about
    `max_bytes` of JSON (always at least one, however large)."""
    batch, size = [], 0
    for record in _records().filter(chain=chain, seq__gt=after).order_by("seq")[:limit]:
        wire = record.to_wire()
        size += len(json.dumps(wire, separators=(",", ":")))
        if batch and size > max_bytes:
            break
        batch.append(wire)
    return batch


def backlog() -> int:
    """Records not yet acknowledged by the cloud, all chains together."""
    acked = dict(ChainSync.objects.values_list("chain", "acked_seq"))
    return sum(max(0, seq - acked.get(chain, 0)) for chain, (seq, _hash) in heads().items())


def journal(code: int, *, message: str, details: dict | None = None) -> None:
    fiscal_services.journal(code, message=message, operator="", device="sync", details=details or {})
