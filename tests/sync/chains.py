"""Signed records for the receiver's tests, built with fiscal.chain's public functions (no database):
what a store with `key` would send."""

import datetime

from fiscal import chain as fc

T0 = datetime.datetime(2026, 11, 26, 11, 0, tzinfo=datetime.UTC)


class ChainWriter:
    """Writes one chain of wire dicts: `next()` seals a record after the previous one."""

    def __init__(self, key, chain: str = fc.JET):
        self.key = key
        self.chain = chain
        self.kid = fc.key_id(key.public_key())
        self.records: list[dict] = []
        self.grand = fc.zero_grand_total()
        self.type_seqs: dict[str, int] = {}
        self.business_day = "2026-11-26"

    def next(self, payload: dict | None = None, *, rtype: str | None = None) -> dict:
        rtype = rtype or fc.TYPES[self.chain][0]
        seq = len(self.records) + 1
        prev = self.records[-1] if self.records else None
        if self.chain in fc.TOTAL_CHAINS:
            payload = dict(payload or receipt(1250))
            self.grand = fc.add_to_grand_total(self.grand, payload)
            payload["grand_total"] = self.grand
        elif payload is None:
            payload = {"code": 80, "message": f"event {seq}"}
        self.type_seqs[rtype] = self.type_seqs.get(rtype, 0) + 1
        header = {
            "v": 1, "chain": self.chain, "seq": seq, "type": rtype, "type_seq": self.type_seqs[rtype],
            "timestamp": fc.format_timestamp(T0 + datetime.timedelta(minutes=seq)),
            "business_day": self.business_day, "software_version": "0.1.0", "operator": "alice", "device": "Till 1",
            "key_id": self.kid, "flags": [],
            "prev_hash": prev["hash"] if prev else fc.genesis_hash(self.chain, self.key.public_key()),
            "prev_signature": prev["signature"] if prev else "",
        }  # fmt: skip
        text = fc.canonical_json(payload)
        digest, signature = fc.seal(header, text, self.key)
        wire = {**header, "payload": text, "hash": digest, "signature": signature}
        self.records.append(wire)
        return wire

    def extend(self, n: int) -> list[dict]:
        return [self.next() for _ in range(n)]


def receipt(total_cents: int, rate: int = 1000) -> dict:
    """A canonical receipt payload of one line at `rate` (hundredths of a percent)."""
    vat = total_cents * rate // (10000 + rate)
    return {
        "order": {"number": 1, "business_day": "2026-11-26", "type": "eat_in", "table": "4", "covers": 2},
        "lines": [{"name": "Entrecôte", "quantity": 1, "unit_price": total_cents, "vat_rate": rate, "total": total_cents}],
        "vat": [{"rate": rate, "base": total_cents - vat, "vat": vat, "total": total_cents}],
        "discount": 0, "total": total_cents, "payments": [{"method": "cash", "amount": total_cents}], "tips": 0,
    }  # fmt: skip
