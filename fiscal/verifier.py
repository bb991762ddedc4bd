"""Verification of fiscal chains: links, hashes, numbering, grand totals, closures, signatures. Pure:
no database, no request (Django only to translate reasons, fiscal/reasons.py). The wire format and the canonical bytes are described in fiscal/chain.py.

    verify_chain(records, public_key, start=None, *, chain=None, strict=False) -> VerifyResult

- ``records``: wire dicts of ONE chain, in seq order (any iterable; streamed, constant memory).
- ``public_key``: an Ed25519PublicKey, PEM bytes/str, or a Keyring (several keys after rotation).
- ``start``: None = the chain starts at genesis (seq 1). Otherwise the record just before the first
  one: a (seq, hash) or (seq, hash, signature) tuple — what the cloud stored as its high-water mark —
  or that record's wire dict (then the grand total continues from it too).
- ``strict``: check every signature. Default: every hash, link and rule is checked on every record,
  signatures on every 64th record and the last; a failing window is searched for its first bad
  signature. Sound because each signed record commits to every record and signature before it.

    VerifyResult(ok, count, first_error, chain, last_seq, last_hash, last_signature)
    first_error: None or (chain, seq, reason) — the FIRST broken record, reason a fiscal.reasons.Reason:
    plain English as a string, with a stable code and params for translated display (stable prefixes: "bad signature", "hash mismatch", "broken link", "sequence gap", "perpetual grand
    total", "signed with an unknown key", "malformed record"). count: records verified good; last_*:
    the new high-water mark, meaningful when ok.

``ChainVerifier`` is the same thing fed one record at a time (``feed(wire) -> bool``, ``result()``).
``ClosureTally`` cross-checks day closures with the receipts they summarise: fed the receipts through
the verifier's observer, it checks each day closure's count, totals per VAT rate, grand total and last
hash against them (``finish()`` reports closures beyond the verified receipts).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from fiscal.chain import (
    CLOCK_BACK, CLOSURE, DAY, KNOWN_FLAGS, MONTH, SUPPORTED_VERSIONS, TOTAL_CHAINS, TYPES, Keyring,
    add_to_grand_total, header_of, receipt_amounts, record_hash, signature_ok, zero_grand_total,
)
from fiscal.reasons import Reason

CHECKPOINT_EVERY = 64  # signatures checked on every Nth record in the default (non-strict) mode


@dataclass
class VerifyResult:
    ok: bool
    count: int
    first_error: tuple[str, int, str] | None = None
    chain: str | None = None
    last_seq: int = 0
    last_hash: str = ""
    last_signature: str = ""

    def __bool__(self) -> bool:
        return self.ok


class _Broken(Exception):
    def __init__(self, seq: int, reason: Reason):
        super().__init__(reason)
        self.seq = seq
        self.reason = reason


@dataclass
class ChainVerifier:
    """Verify one chain record by record. `observer(wire, payload_or_None)` is called for each record
    that passed every check (used to cross-check closures); it must not keep references it doesn't need."""

    keyring: Keyring
    chain: str | None = None
    start: object = None
    strict: bool = False
    observer: Callable | None = None
    count: int = 0
    error: tuple[str, int, str] | None = None
    _window: list = field(default_factory=list)
    _type_seqs: dict = field(default_factory=dict)
    _closures: dict = field(default_factory=dict)

    def __post_init__(self):
        self.keyring = Keyring.of(self.keyring)
        self._expect_seq = 1
        self._prev_hash = None  # resolved on the first record (needs the chain name for genesis)
        self._prev_signature = ""
        self._prev_timestamp = ""
        self._grand = None  # unknown until seen, when starting mid-chain
        start = self.start
        if start is None:
            self._grand = zero_grand_total()
        elif isinstance(start, Mapping):
            self._expect_seq = int(start["seq"]) + 1
            self._prev_hash = start["hash"]
            self._prev_signature = start["signature"]
            self._prev_timestamp = start["timestamp"]
            if start["chain"] in TOTAL_CHAINS:
                self._grand = json.loads(start["payload"]).get("grand_total")
            if self.chain is None:
                self.chain = start["chain"]
        else:
            seq, digest, *rest = start
            self._expect_seq = int(seq) + 1
            self._prev_hash = digest
            self._prev_signature = rest[0] if rest else None  # None: not checked on the first record
            if int(seq) == 0:
                self._prev_hash = digest or None
                self._grand = zero_grand_total()
        self._first_seq = self._expect_seq
        self.last_seq = self._expect_seq - 1
        self.last_hash = self._prev_hash or ""
        self.last_signature = self._prev_signature or ""

    # One record. Returns False once the chain is broken (stop feeding).
    def feed(self, wire: Mapping) -> bool:
        if self.error is not None:
            return False
        seq = wire.get("seq") if isinstance(wire, Mapping) else None
        try:
            payload = self._check(wire)
        except _Broken as broken:
            self._fail(broken.seq, broken.reason)
            return False
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            self._fail(seq if isinstance(seq, int) else self._expect_seq,
                       Reason("malformed_record", kind=exc.__class__.__name__, error=str(exc)))
            return False
        self.count += 1
        self._window.append((wire["seq"], wire["key_id"], wire["hash"], wire["signature"]))
        if self.strict or len(self._window) >= CHECKPOINT_EVERY:
            if not self._flush_signatures():
                return False
        if self.observer is not None:
            self.observer(wire, payload)
        return True

    def result(self) -> VerifyResult:
        if self.error is None:
            self._flush_signatures()
        ok = self.error is None
        return VerifyResult(
            ok=ok, count=self.count if ok else self._count_before_error(), first_error=self.error, chain=self.chain,
            last_seq=self.last_seq, last_hash=self.last_hash, last_signature=self.last_signature,
        )

    def _count_before_error(self) -> int:
        """Records verified good before the first broken one."""
        return max(0, self.error[1] - self._first_seq)

    # --- internals ---

    def _fail(self, seq: int, reason: Reason) -> None:
        # A bad signature earlier in the pending window is the real first break: report it instead.
        bad = self._first_bad_signature()
        if bad is not None and bad < seq:
            self.error = (self.chain or "?", bad, Reason("bad_signature"))
        else:
            self.error = (self.chain or "?", seq, reason)
        self._window.clear()

    def _flush_signatures(self) -> bool:
        bad = self._first_bad_signature()
        if bad is not None:
            self.error = (self.chain or "?", bad, Reason("bad_signature"))
            self._window.clear()
            return False
        self._window.clear()
        return True

    def _sig_ok(self, entry) -> bool:
        _, kid, digest, signature = entry
        key = self.keyring.keys.get(kid)
        return key is not None and signature_ok(key, digest, signature)

    def _first_bad_signature(self) -> int | None:
        """Seq of the first record in the window whose signature fails, checking the last one first:
        a valid signature vouches for every record before it, so a good last one clears the window."""
        window = self._window
        if not window or self._sig_ok(window[-1]):
            return None
        lo, hi = 0, len(window) - 1  # window[hi] is bad; find the first bad one
        while lo < hi:
            mid = (lo + hi) // 2
            if self._sig_ok(window[mid]):
                lo = mid + 1
            else:
                hi = mid
        return window[lo][0]

    def _check(self, wire: Mapping):
        seq = wire["seq"]
        if not isinstance(seq, int) or isinstance(seq, bool):
            raise _Broken(self._expect_seq, Reason("seq_not_integer"))
        chain = wire["chain"]
        if self.chain is None:
            self.chain = chain
        if chain != self.chain:
            raise _Broken(seq, Reason("foreign_chain", chain=chain, expected=self.chain))
        if self._prev_hash is None and self._expect_seq == 1:
            self._prev_hash = self.keyring.genesis(chain, wire["key_id"])
            if self._prev_hash is None:
                raise _Broken(seq, Reason("unknown_key", key_id=wire["key_id"]))
        if wire["v"] not in SUPPORTED_VERSIONS:
            raise _Broken(seq, Reason("unknown_version", version=wire["v"]))
        if seq != self._expect_seq:
            if seq > self._expect_seq:
                raise _Broken(seq, Reason("sequence_gap", first=self._expect_seq, last=seq - 1))
            raise _Broken(seq, Reason("sequence_order", expected=self._expect_seq))
        if wire["prev_hash"] != self._prev_hash:
            raise _Broken(seq, Reason("broken_link_hash"))
        if self._prev_signature is not None and wire["prev_signature"] != self._prev_signature:
            raise _Broken(seq, Reason("broken_link_signature"))
        payload_text = wire["payload"]
        if not isinstance(payload_text, str):
            raise _Broken(seq, Reason("payload_not_text"))
        if record_hash(header_of(wire), payload_text) != wire["hash"]:
            raise _Broken(seq, Reason("hash_mismatch"))
        if wire["key_id"] not in self.keyring.keys:
            raise _Broken(seq, Reason("unknown_key", key_id=wire["key_id"]))
        rtype = wire["type"]
        if rtype not in TYPES.get(chain, ()):
            raise _Broken(seq, Reason("type_not_in_chain", type=rtype, chain=chain))
        last_type_seq = self._type_seqs.get(rtype)
        expected_type_seq = (last_type_seq + 1) if last_type_seq is not None else (1 if self.start is None else None)
        if expected_type_seq is not None and wire["type_seq"] != expected_type_seq:
            raise _Broken(seq, Reason("type_number", type=rtype, number=wire["type_seq"], expected=expected_type_seq))
        flags = wire["flags"]
        if list(flags) != sorted(set(flags)) or not set(flags) <= KNOWN_FLAGS:
            raise _Broken(seq, Reason("bad_flags", flags=flags))
        timestamp = wire["timestamp"]
        if len(timestamp) != 27 or timestamp[-1] != "Z":
            raise _Broken(seq, Reason("timestamp_form"))
        if timestamp < self._prev_timestamp and CLOCK_BACK not in flags:
            raise _Broken(seq, Reason("clock_back"))
        payload = None
        if chain in TOTAL_CHAINS:
            payload = json.loads(payload_text)
            grand = payload.get("grand_total")
            if self._grand is not None:
                expected = add_to_grand_total(self._grand, payload)
                if grand != expected:
                    raise _Broken(seq, Reason("grand_total", grand=grand, expected=expected))
            self._grand = grand
        elif chain == CLOSURE:
            payload = json.loads(payload_text)
            self._check_closure(seq, rtype, payload)
            self._closures[seq] = (wire["hash"], rtype, payload)
        # all good: advance
        self._expect_seq = seq + 1
        self._prev_hash = wire["hash"]
        self._prev_signature = wire["signature"]
        self._prev_timestamp = timestamp
        self._type_seqs[rtype] = wire["type_seq"]
        self.last_seq, self.last_hash, self.last_signature = seq, wire["hash"], wire["signature"]
        return payload

    def _check_closure(self, seq: int, rtype: str, payload: Mapping) -> None:
        """Month and year closures: each summarised closure must be an earlier record of this chain with
        that hash, of the level below, and the totals must be their sum (skipped for closures before a
        mid-chain start, which this verifier has not seen)."""
        if rtype == DAY:
            return
        below = DAY if rtype == MONTH else MONTH
        parts = payload.get("closures", [])
        seen = []
        for part in parts:
            known = self._closures.get(part["seq"])
            if known is None:
                if self.start is None:
                    raise _Broken(seq, Reason("closure_not_in_chain", closure=part["seq"]))
                return
            if known[0] != part["hash"] or known[1] != below:
                raise _Broken(seq, Reason("closure_mismatch", closure=part["seq"]))
            seen.append(known[2])
        total = sum(p["total"] for p in seen)
        if total != payload["total"]:
            raise _Broken(seq, Reason("closure_total", level=rtype, total=payload["total"], sum=total))
        by_rate: dict[str, int] = {}
        for p in seen:
            for row in p["vat"]:
                by_rate[str(row["rate"])] = by_rate.get(str(row["rate"]), 0) + row["total"]
        mine = {str(row["rate"]): row["total"] for row in payload["vat"]}
        if by_rate != mine:
            raise _Broken(seq, Reason("closure_vat", level=rtype))
        if seen and payload["grand_total"] != seen[-1]["grand_total"]:
            raise _Broken(seq, Reason("closure_grand_total", level=rtype))


def verify_chain(records: Iterable[Mapping], public_key, start=None, *, chain: str | None = None,
                 strict: bool = False, observer: Callable | None = None) -> VerifyResult:
    """Verify one chain (see the module docstring). Stops at the first broken record."""
    verifier = ChainVerifier(Keyring.of(public_key), chain=chain, start=start, strict=strict, observer=observer)
    for wire in records:
        if not verifier.feed(wire):
            break
    return verifier.result()


# --- closures against receipts --------------------------------------------------------------------------


class ClosureTally:
    """Accumulates receipts (ticket chain, via ChainVerifier's observer) per day-closure range and checks
    each day closure's counts, totals per VAT rate, grand total and last hash against them."""

    def __init__(self, day_closures: Iterable[tuple[int, Mapping]]):
        # (closure seq, payload) of day closures that cover at least one receipt, by first_seq
        self.ranges = sorted(
            ((p["first_seq"], p["last_seq"], cseq, p) for cseq, p in day_closures if p.get("first_seq")),
            key=lambda r: r[0],
        )
        self._i = 0
        self._acc = None
        self.error: tuple[str, int, str] | None = None
        self.checked = 0
        self.last_ticket_seq = 0

    def observe(self, wire: Mapping, payload: Mapping) -> None:
        seq = wire["seq"]
        self.last_ticket_seq = seq
        while self._i < len(self.ranges) and self.ranges[self._i][1] < seq:
            self._close_current()
        if self._i >= len(self.ranges) or self.error is not None:
            return
        first, last, _cseq, _p = self.ranges[self._i]
        if seq < first:
            return
        if self._acc is None:
            self._acc = {"count": 0, "total": 0, "by_rate": {}, "by_type": {}}
        acc = self._acc
        total, by_rate = receipt_amounts(payload)
        acc["count"] += 1
        acc["total"] += total
        for rate, amount in by_rate.items():
            acc["by_rate"][rate] = acc["by_rate"].get(rate, 0) + amount
        t = acc["by_type"].setdefault(wire["type"], {"count": 0, "total": 0})
        t["count"] += 1
        t["total"] += total
        acc["last_hash"] = wire["hash"]
        acc["grand_total"] = payload["grand_total"]
        if seq == last:
            self._close_current()

    def _close_current(self) -> None:
        first, last, cseq, p = self.ranges[self._i]
        self._i += 1
        acc = self._acc or {"count": 0, "total": 0, "by_rate": {}, "by_type": {}}
        self._acc = None
        if self.error is not None:
            return
        expected_count = last - first + 1
        closure_rates = {str(row["rate"]): row["total"] for row in p["vat"]}
        problems = []
        if acc["count"] != expected_count or p["count"] != expected_count:
            problems.append(Reason("receipts_count", first=first, last=last, found=acc["count"]))
        if acc["total"] != p["total"]:
            problems.append(Reason("receipts_total", total=p["total"], found=acc["total"]))
        if acc["by_rate"] != closure_rates:
            problems.append(Reason("receipts_vat"))
        if acc.get("last_hash") != p["last_hash"]:
            problems.append(Reason("receipts_last_hash"))
        if acc.get("grand_total") != p["grand_total"]:
            problems.append(Reason("receipts_grand_total"))
        if acc["by_type"] != p.get("by_type", acc["by_type"]):
            problems.append(Reason("receipts_by_type"))
        if problems:
            self.error = (CLOSURE, cseq, Reason("day_closure", period=p["period"], problems=problems))
        else:
            self.checked += 1

    def finish(self, ticket_verified_through: int) -> tuple[str, int, str] | None:
        """Call after the ticket chain was fed. Closures beyond the verified receipts are errors."""
        while self._i < len(self.ranges) and self.error is None:
            first, last, cseq, p = self.ranges[self._i]
            if last > ticket_verified_through:
                self.error = (CLOSURE, cseq, Reason("closure_beyond_receipts", period=p["period"], last=last,
                                                    verified=ticket_verified_through))
                break
            self._close_current()
        return self.error
