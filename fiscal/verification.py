"""Verification of this store's database: every chain, its head, and the day closures against the
receipts they summarise (`fiscal_verify`, the fiscal page). The record-level checks are fiscal/verifier.py.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from django.db import transaction

from fiscal import chain as fc
from fiscal import codes, db, keys, services
from fiscal.models import ChainHead, SealedRecord
from fiscal.reasons import Reason
from fiscal.verifier import ClosureTally, VerifyResult, verify_chain

log = logging.getLogger(__name__)


@dataclass
class StoreReport:
    """The verification of every chain of this store."""

    results: dict[str, VerifyResult] = field(default_factory=dict)
    # first broken record of each chain; reasons and warnings are fiscal.reasons.Reason (English strings
    # for the command line and the journal, `.display()` for the page)
    errors: list[tuple[str, int, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    closures_checked: int = 0

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def count(self) -> int:
        return sum(r.count for r in self.results.values())


def verify_store(*, strict: bool = False, journal_failure: bool = True, operator="", device="") -> StoreReport:
    """Verify every chain in the database (streamed), cross-check day closures against the receipts they
    summarise and each chain head against its last record. A failure is journaled (code 90)."""
    ring = keys.keyring()
    report = StoreReport()
    if not db.triggers_present():
        report.warnings.append(Reason("triggers_missing"))
    heads = {h.chain: h for h in ChainHead.objects.all()}
    day_closures: list[tuple[int, dict]] = []

    def collect(wire, payload):
        if wire["type"] == fc.DAY:
            day_closures.append((wire["seq"], payload))

    order = [fc.CLOSURE, fc.TICKET] + [c for c in fc.CHAINS if c not in (fc.CLOSURE, fc.TICKET)]
    tally = None
    for chain in order:
        observer = None
        if chain == fc.CLOSURE:
            observer = collect
        elif chain == fc.TICKET:
            tally = ClosureTally(day_closures)
            observer = tally.observe
        records = SealedRecord.objects.filter(chain=chain).wire()
        result = verify_chain(records, ring, chain=chain, strict=strict, observer=observer)
        report.results[chain] = result
        if result.first_error:
            report.errors.append(result.first_error)
            continue
        head = heads.get(chain)
        head_seq = head.seq if head else 0
        if head_seq != result.last_seq or (head and head.seq and head.hash != result.last_hash):
            if head_seq > result.last_seq:
                error = (chain, result.last_seq + 1, Reason("head_beyond_records", seq=result.last_seq + 1,
                                                            head=head_seq))
            else:
                error = (chain, result.last_seq, Reason("head_mismatch", head=head_seq))
            report.errors.append(error)
            result.ok = False
            result.first_error = error
    if tally is not None and report.results[fc.TICKET].ok:  # a broken receipt chain is reported already
        ticket = report.results[fc.TICKET]
        closure_error = tally.finish(ticket.last_seq)
        report.closures_checked = tally.checked
        if closure_error and not report.results[fc.CLOSURE].first_error:
            report.errors.append(closure_error)
            report.results[fc.CLOSURE].ok = False
            report.results[fc.CLOSURE].first_error = closure_error
    if not report.ok and journal_failure:
        try:
            with transaction.atomic():
                services.journal(codes.INTEGRITY_DEFECT, message="fiscal verification failed", operator=operator,
                        device=device, details={"errors": [list(e) for e in report.errors]})
        except Exception:  # a broken JET must not hide the report itself
            log.exception("could not journal the integrity defect")
    return report
