"""Fiscal chains — canonical bytes, hashing, signing and verification. Pure: no database, no Django.

Everything an outside verifier needs (the cloud receiver, `fiscal_verify --archive` on an inspector's
laptop) lives here, so a store, the cloud and an archive are checked by the same code.

Wire format, version 1
----------------------
One sealed record is a flat JSON object (``record_to_wire(record)`` builds it from a SealedRecord;
``SealedRecord.objects.filter(...).wire()`` streams them from the database):

    {"v": 1,                                   format version of the record (this document)
     "chain": "ticket",                        ticket | training | prebill | copy | closure | jet | archive
     "seq": 12,                                gapless per chain, from 1
     "type": "sale",                           record type inside the chain (see TYPES)
     "type_seq": 11,                           gapless per (chain, type), from 1
     "timestamp": "2026-11-26T12:34:56.123456Z",   UTC, always this exact shape (sorts as it reads)
     "business_day": "2026-11-26",             local business day (rolls over at the daily closure hour)
     "software_version": "0.1.0",
     "operator": "alice",                      username of the person, or "" for the system
     "device": "Till 1",                       device name, or "" for the server itself
     "key_id": "3f0c9a1b2c3d4e5f",             first 16 hex chars of SHA-256(raw Ed25519 public key)
     "flags": [],                              sorted; "clock_back" = timestamp earlier than the previous one
     "prev_hash": "<64 hex>",                  hash of record seq-1 (seq 1: genesis_hash(chain, key))
     "prev_signature": "<128 hex>",            signature of record seq-1 ("" for seq 1)
     "payload": "<canonical JSON text>",       a string: the exact signed text (parse it with json.loads)
     "hash": "<64 hex>",
     "signature": "<128 hex>"}

Canonical JSON: ``json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)`` encoded
as UTF-8; only strings, integers, booleans, null, lists and objects. Money is integer cents, VAT rates
are integer hundredths of a percent (10 % = 1000, 5.5 % = 550). No floats anywhere.

    hash      = SHA-256( canonical_json(header) + "\\n" + payload )     header = every field but
                                                                        payload, hash and signature
    signature = Ed25519( the 32 raw bytes of hash )

Each record commits to the previous record's hash *and* signature, so the signature of the last
record vouches for the whole chain before it, signatures included (as in the Austrian RKSV, where a
receipt chains on the previous *signed* receipt). Database row ids are never hashed: a restore on
another machine verifies.

Genesis: the first record of a chain links to ``genesis_hash(chain, key)`` =
SHA-256("brigade-fiscal-genesis/1\\n" + chain + "\\n" + hex(raw public key)) for the key that signed
it: random per install (the key is), and computable by anyone who holds the store's public key.

Receipt payloads (ticket and training chains) carry "grand_total" — the perpetual grand total after
the record: {"total": cents, "absolute": cents, "by_rate": {"1000": cents, ...}}; a cancellation adds
its negative amounts to "total"/"by_rate" and their absolute value to "absolute". The verifier checks
the progression record by record.

Verification API
----------------
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
    first_error: None or (chain, seq, reason) — the FIRST broken record, reason in plain English
    (stable prefixes: "bad signature", "hash mismatch", "broken link", "sequence gap", "perpetual grand
    total", "signed with an unknown key", "malformed record"). count: records verified good; last_*:
    the new high-water mark, meaningful when ok.

``ChainVerifier`` is the same thing fed one record at a time (``feed(wire) -> bool``, ``result()``).
``verify_closures_against_tickets`` cross-checks day closures with the receipts they summarise.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

FORMAT_VERSION = 1
SUPPORTED_VERSIONS = frozenset({1})

# Chains
TICKET = "ticket"  # sales and cancellations (credit notes): the fiscal receipts, carrying grand totals
TRAINING = "training"  # training mode ("factice"): same shapes, own chain, never touches the totals
PREBILL = "prebill"  # pre-bills ("note", provisional), counting their reprints
COPY = "copy"  # reprints of a receipt ("DUPLICATA n")
CLOSURE = "closure"  # day, month and year closures
JET = "jet"  # technical event journal
ARCHIVE = "archive"  # archives written
CHAINS = (TICKET, TRAINING, PREBILL, COPY, CLOSURE, JET, ARCHIVE)

# Record types per chain
SALE = "sale"
CANCELLATION = "cancellation"
PREBILL_TYPE = "prebill"
COPY_TYPE = "copy"
DAY, MONTH, YEAR = "day", "month", "year"
EVENT = "event"
ARCHIVE_TYPE = "archive"
TYPES = {
    TICKET: (SALE, CANCELLATION),
    TRAINING: (SALE, CANCELLATION),
    PREBILL: (PREBILL_TYPE,),
    COPY: (COPY_TYPE,),
    CLOSURE: (DAY, MONTH, YEAR),
    JET: (EVENT,),
    ARCHIVE: (ARCHIVE_TYPE,),
}
TOTAL_CHAINS = frozenset({TICKET, TRAINING})  # chains whose records carry a perpetual grand total

CLOCK_BACK = "clock_back"
KNOWN_FLAGS = frozenset({CLOCK_BACK})

HEADER_FIELDS = (
    "v", "chain", "seq", "type", "type_seq", "timestamp", "business_day", "software_version",
    "operator", "device", "key_id", "flags", "prev_hash", "prev_signature",
)
WIRE_FIELDS = HEADER_FIELDS + ("payload", "hash", "signature")

CHECKPOINT_EVERY = 64  # signatures checked on every Nth record in the default (non-strict) mode


# --- canonical bytes -----------------------------------------------------------------------------------


def canonical_json(obj) -> str:
    """Sorted keys, no spaces, UTF-8 text, no NaN. The one serialisation that is hashed."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def format_timestamp(moment: datetime) -> str:
    """Aware datetime → "2026-11-26T12:34:56.123456Z" (UTC, microseconds, always 27 characters)."""
    offset = moment.utcoffset()
    if offset is None:
        raise ValueError("fiscal timestamps must be timezone-aware")
    if offset:
        moment = moment.astimezone(UTC)
    return moment.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def parse_timestamp(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def _decimal(value) -> Decimal:
    if isinstance(value, bool) or isinstance(value, float):
        raise TypeError(f"amounts must be Decimal, int or a decimal string, not {type(value).__name__}")
    try:
        return value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError(f"not a decimal amount: {value!r}") from None


def to_cents(value) -> int:
    """Decimal("12.50") / "12.50" / 12 → 1250. Refuses floats and fractions of a cent."""
    if type(value) is str:  # the common "12.50": plain integer arithmetic, no Decimal
        whole, dot, frac = value.partition(".")
        sign = 1
        if whole[:1] == "-":
            sign, whole = -1, whole[1:]
        if (whole.isascii() and whole.isdigit() and frac.isascii() and (frac.isdigit() or not dot)
                and len(frac) <= 2):
            return sign * (int(whole) * 100 + int(frac.ljust(2, "0") or "0"))
    elif type(value) is int:
        return value * 100
    cents = _decimal(value) * 100
    if not cents.is_finite() or cents != cents.to_integral_value():
        raise ValueError(f"amount {value!r} is not a whole number of cents")
    return int(cents)


def to_hundredths(value) -> int:
    """A VAT rate in percent ("5.50") → integer hundredths of a percent (550)."""
    return to_cents(value)


def cents_to_str(cents: int) -> str:
    """1250 → "12.50", -5 → "-0.05" (for reports and CSV; never hashed)."""
    sign = "-" if cents < 0 else ""
    cents = abs(cents)
    return f"{sign}{cents // 100}.{cents % 100:02d}"


# Keys whose values are money (→ cents) or rates (→ hundredths) wherever they appear in a payload.
MONEY_KEYS = frozenset({
    "unit_price", "discount", "total", "base", "vat", "amount", "tips", "change", "subtotal", "price",
    "tendered", "balance", "standalone_price",
})
RATE_KEYS = frozenset({"rate", "vat_rate"})


def canonical_payload(value, key: str | None = None):
    """Turn a payload from the orders app (Decimal strings) into its signed form: money in integer
    cents, rates in hundredths, dates as ISO strings, other Decimals as strings, no floats."""
    kind = type(value)
    if kind is str:  # the common case first (exact type checks: this runs for every value of a receipt)
        if key in MONEY_KEYS:
            return to_cents(value)
        if key in RATE_KEYS:
            return to_hundredths(value)
        return value
    if kind is dict or (kind is not list and isinstance(value, Mapping)):
        out = {}
        for k, v in value.items():
            if type(k) is not str:
                raise TypeError(f"payload keys must be strings, not {k!r}")
            out[k] = canonical_payload(v, k)
        return out
    if kind is list or kind is tuple:
        return [canonical_payload(v, key) for v in value]
    if value is None or kind is bool:
        return value
    if isinstance(value, (int, Decimal)):
        if key in MONEY_KEYS:
            return to_cents(value)
        if key in RATE_KEYS:
            return to_hundredths(value)
        return value if isinstance(value, int) else str(value)
    if isinstance(value, str):
        return canonical_payload(str(value), key)
    if isinstance(value, datetime):
        return format_timestamp(value)
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} cannot be sealed ({key}={value!r}); use Decimal, int or str")


_esc = json.encoder.encode_basestring  # the very function json.dumps(ensure_ascii=False) uses for strings
_STR_FIELDS = ("business_day", "chain", "device", "key_id", "operator", "prev_hash", "prev_signature",
               "software_version", "timestamp", "type")
_INT_FIELDS = ("seq", "type_seq", "v")


def header_json(header: Mapping) -> str:
    """canonical_json(header), written out by hand for speed (the verifier's hot path). Falls back to
    canonical_json for anything unusual; test_chain checks both agree."""
    try:
        if (len(header) == len(HEADER_FIELDS)
                and all(type(header[k]) is str for k in _STR_FIELDS)
                and all(type(header[k]) is int for k in _INT_FIELDS)
                and type(header["flags"]) is list and all(type(f) is str for f in header["flags"])):
            return (
                '{"business_day":' + _esc(header["business_day"]) + ',"chain":' + _esc(header["chain"])
                + ',"device":' + _esc(header["device"]) + ',"flags":[' + ",".join(map(_esc, header["flags"]))
                + '],"key_id":' + _esc(header["key_id"]) + ',"operator":' + _esc(header["operator"])
                + ',"prev_hash":' + _esc(header["prev_hash"]) + ',"prev_signature":' + _esc(header["prev_signature"])
                + ',"seq":' + str(header["seq"]) + ',"software_version":' + _esc(header["software_version"])
                + ',"timestamp":' + _esc(header["timestamp"]) + ',"type":' + _esc(header["type"])
                + ',"type_seq":' + str(header["type_seq"]) + ',"v":' + str(header["v"]) + "}"
            )
    except KeyError:
        pass
    return canonical_json(header)


def signed_bytes(header: Mapping, payload_text: str) -> bytes:
    return (header_json(header) + "\n" + payload_text).encode("utf-8")


def record_hash(header: Mapping, payload_text: str) -> str:
    return hashlib.sha256(signed_bytes(header, payload_text)).hexdigest()


def header_of(wire: Mapping) -> dict:
    return {k: wire[k] for k in HEADER_FIELDS}


def record_to_wire(record) -> dict:
    """The wire dict of a record object with the SealedRecord attributes (version, chain, seq, type,
    type_seq, timestamp (aware datetime), business_day (date), software_version, operator, device,
    key_id, flags ("a,b" or a list), prev_hash, prev_signature, payload, hash, signature)."""
    flags = record.flags
    if isinstance(flags, str):
        flags = flags.split(",") if flags else []
    day = record.business_day
    return {
        "v": record.version, "chain": record.chain, "seq": record.seq, "type": record.type,
        "type_seq": record.type_seq, "timestamp": format_timestamp(record.timestamp),
        "business_day": day if isinstance(day, str) else day.isoformat(),
        "software_version": record.software_version, "operator": record.operator, "device": record.device,
        "key_id": record.key_id, "flags": list(flags), "prev_hash": record.prev_hash,
        "prev_signature": record.prev_signature, "payload": record.payload, "hash": record.hash,
        "signature": record.signature,
    }


# --- keys ---------------------------------------------------------------------------------------------


def raw_public_bytes(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(public_key: Ed25519PublicKey) -> str:
    return hashlib.sha256(raw_public_bytes(public_key)).hexdigest()[:16]


def public_key_pem(public_key: Ed25519PublicKey) -> str:
    return public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")


def load_public_key(data: bytes | str) -> Ed25519PublicKey:
    """PEM (SubjectPublicKeyInfo) or 64 hex characters of a raw key."""
    if isinstance(data, str):
        data = data.encode("ascii")
    data = data.strip()
    if len(data) == 64 and not data.startswith(b"-----"):
        return Ed25519PublicKey.from_public_bytes(bytes.fromhex(data.decode("ascii")))
    key = serialization.load_pem_public_key(data)
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("not an Ed25519 public key")
    return key


def genesis_hash(chain: str, public_key: Ed25519PublicKey) -> str:
    seed = f"brigade-fiscal-genesis/1\n{chain}\n{raw_public_bytes(public_key).hex()}"
    return hashlib.sha256(seed.encode("ascii")).hexdigest()


class Keyring:
    """The public keys a store has signed with, by key id (several after a rotation). A chain's first
    record links to the genesis hash of the key that signed it."""

    def __init__(self, keys: Iterable[Ed25519PublicKey] = ()):
        self.keys: dict[str, Ed25519PublicKey] = {}
        for key in keys:
            self.add(key)

    @classmethod
    def of(cls, value) -> Keyring:
        if isinstance(value, Keyring):
            return value
        if isinstance(value, Ed25519PublicKey):
            return cls([value])
        if isinstance(value, (bytes, str)):
            return cls([load_public_key(value)])
        if isinstance(value, (list, tuple)):
            return cls(k if isinstance(k, Ed25519PublicKey) else load_public_key(k) for k in value)
        raise TypeError(f"not a public key: {type(value).__name__}")

    def add(self, public_key: Ed25519PublicKey) -> None:
        self.keys[key_id(public_key)] = public_key

    def genesis(self, chain: str, kid: str) -> str | None:
        key = self.keys.get(kid)
        return genesis_hash(chain, key) if key is not None else None


def sign_hash(private_key: Ed25519PrivateKey, hash_hex: str) -> str:
    return private_key.sign(bytes.fromhex(hash_hex)).hex()


def signature_ok(public_key: Ed25519PublicKey, hash_hex: str, signature_hex: str) -> bool:
    try:
        public_key.verify(bytes.fromhex(signature_hex), bytes.fromhex(hash_hex))
        return True
    except (InvalidSignature, ValueError, TypeError):
        return False


def seal(header: dict, payload_text: str, private_key: Ed25519PrivateKey) -> tuple[str, str]:
    """(hash, signature) of a record whose header and canonical payload text are final."""
    digest = record_hash(header, payload_text)
    return digest, sign_hash(private_key, digest)


def sign_document(private_key: Ed25519PrivateKey, data: bytes) -> str:
    """Signature (hex) of SHA-256(data): archive manifests, acknowledgements."""
    return private_key.sign(hashlib.sha256(data).digest()).hex()


def document_signature_ok(public_key: Ed25519PublicKey, data: bytes, signature_hex: str) -> bool:
    return signature_ok(public_key, hashlib.sha256(data).hexdigest(), signature_hex)


# --- grand totals ---------------------------------------------------------------------------------------


def zero_grand_total() -> dict:
    return {"total": 0, "absolute": 0, "by_rate": {}}


def receipt_amounts(payload: Mapping) -> tuple[int, dict[str, int]]:
    """(total, {rate: total incl. VAT}) of a canonical receipt payload, from its VAT breakdown."""
    by_rate: dict[str, int] = {}
    for row in payload.get("vat") or ():
        rate = str(row["rate"])
        by_rate[rate] = by_rate.get(rate, 0) + int(row["total"])
    return int(payload["total"]), by_rate


def add_to_grand_total(grand: Mapping, payload: Mapping) -> dict:
    total, by_rate = receipt_amounts(payload)
    merged = dict(grand["by_rate"])
    for rate, amount in by_rate.items():
        merged[rate] = merged.get(rate, 0) + amount
    return {"total": grand["total"] + total, "absolute": grand["absolute"] + abs(total), "by_rate": merged}


def check_receipt_payload(payload: Mapping) -> None:
    """Raise ValueError when a canonical receipt does not add up: the VAT breakdown is the signed
    basis of every total, so it must equal the receipt's total, and base + VAT = total per rate."""
    total, by_rate = receipt_amounts(payload)
    if sum(by_rate.values()) != total:
        raise ValueError(f"VAT breakdown adds up to {sum(by_rate.values())} cents, the receipt says {total}")
    for row in payload.get("vat") or ():
        if int(row["base"]) + int(row["vat"]) != int(row["total"]):
            raise ValueError(f"VAT row {row['rate']}: base + VAT != total")


# --- verification --------------------------------------------------------------------------------------


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
    def __init__(self, seq: int, reason: str):
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
            self._fail(seq if isinstance(seq, int) else self._expect_seq, f"malformed record ({exc.__class__.__name__}: {exc})")
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

    def _fail(self, seq: int, reason: str) -> None:
        # A bad signature earlier in the pending window is the real first break: report it instead.
        bad = self._first_bad_signature()
        if bad is not None and bad < seq:
            self.error = (self.chain or "?", bad, "bad signature (record altered or forged without the key)")
        else:
            self.error = (self.chain or "?", seq, reason)
        self._window.clear()

    def _flush_signatures(self) -> bool:
        bad = self._first_bad_signature()
        if bad is not None:
            self.error = (self.chain or "?", bad, "bad signature (record altered or forged without the key)")
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
            raise _Broken(self._expect_seq, "sequence number is not an integer")
        chain = wire["chain"]
        if self.chain is None:
            self.chain = chain
        if chain != self.chain:
            raise _Broken(seq, f"record of chain {chain!r} inside chain {self.chain!r}")
        if self._prev_hash is None and self._expect_seq == 1:
            self._prev_hash = self.keyring.genesis(chain, wire["key_id"])
            if self._prev_hash is None:
                raise _Broken(seq, f"signed with an unknown key {wire['key_id']!r}")
        if wire["v"] not in SUPPORTED_VERSIONS:
            raise _Broken(seq, f"unknown format version {wire['v']!r}")
        if seq != self._expect_seq:
            if seq > self._expect_seq:
                missing = f"record {self._expect_seq} is missing" if seq == self._expect_seq + 1 else (
                    f"records {self._expect_seq}–{seq - 1} are missing")
                raise _Broken(seq, f"sequence gap: {missing}")
            raise _Broken(seq, f"sequence out of order: expected {self._expect_seq}")
        if wire["prev_hash"] != self._prev_hash:
            raise _Broken(seq, "broken link: prev_hash is not the previous record's hash")
        if self._prev_signature is not None and wire["prev_signature"] != self._prev_signature:
            raise _Broken(seq, "broken link: prev_signature is not the previous record's signature")
        payload_text = wire["payload"]
        if not isinstance(payload_text, str):
            raise _Broken(seq, "payload is not canonical JSON text")
        if record_hash(header_of(wire), payload_text) != wire["hash"]:
            raise _Broken(seq, "hash mismatch: the record's content was altered")
        if wire["key_id"] not in self.keyring.keys:
            raise _Broken(seq, f"signed with an unknown key {wire['key_id']!r}")
        rtype = wire["type"]
        if rtype not in TYPES.get(chain, ()):
            raise _Broken(seq, f"type {rtype!r} does not belong in chain {chain!r}")
        last_type_seq = self._type_seqs.get(rtype)
        expected_type_seq = (last_type_seq + 1) if last_type_seq is not None else (1 if self.start is None else None)
        if expected_type_seq is not None and wire["type_seq"] != expected_type_seq:
            raise _Broken(seq, f"{rtype} number {wire['type_seq']} where {expected_type_seq} was expected")
        flags = wire["flags"]
        if list(flags) != sorted(set(flags)) or not set(flags) <= KNOWN_FLAGS:
            raise _Broken(seq, f"unknown or unsorted flags {flags!r}")
        timestamp = wire["timestamp"]
        if len(timestamp) != 27 or timestamp[-1] != "Z":
            raise _Broken(seq, "timestamp is not in the canonical form")
        if timestamp < self._prev_timestamp and CLOCK_BACK not in flags:
            raise _Broken(seq, "timestamp earlier than the previous record's, without the clock_back flag")
        payload = None
        if chain in TOTAL_CHAINS:
            payload = json.loads(payload_text)
            grand = payload.get("grand_total")
            if self._grand is not None:
                expected = add_to_grand_total(self._grand, payload)
                if grand != expected:
                    raise _Broken(seq, f"perpetual grand total {grand} where {expected} was expected")
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
                    raise _Broken(seq, f"summarises closure {part['seq']}, which is not in the chain")
                return
            if known[0] != part["hash"] or known[1] != below:
                raise _Broken(seq, f"summarised closure {part['seq']} does not match the chain (hash or level)")
            seen.append(known[2])
        total = sum(p["total"] for p in seen)
        if total != payload["total"]:
            raise _Broken(seq, f"{rtype} closure total {payload['total']} is not the sum of its closures ({total})")
        by_rate: dict[str, int] = {}
        for p in seen:
            for row in p["vat"]:
                by_rate[str(row["rate"])] = by_rate.get(str(row["rate"]), 0) + row["total"]
        mine = {str(row["rate"]): row["total"] for row in payload["vat"]}
        if by_rate != mine:
            raise _Broken(seq, f"{rtype} closure VAT totals are not the sum of its closures")
        if seen and payload["grand_total"] != seen[-1]["grand_total"]:
            raise _Broken(seq, f"{rtype} closure grand total differs from its last closure's")


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
            problems.append(f"covers receipts {first}–{last} but {acc['count']} were found")
        if acc["total"] != p["total"]:
            problems.append(f"total {p['total']} but the receipts add up to {acc['total']}")
        if acc["by_rate"] != closure_rates:
            problems.append("VAT totals differ from the receipts'")
        if acc.get("last_hash") != p["last_hash"]:
            problems.append("last hash is not the last receipt's")
        if acc.get("grand_total") != p["grand_total"]:
            problems.append("perpetual grand total is not the last receipt's")
        if acc["by_type"] != p.get("by_type", acc["by_type"]):
            problems.append("counts per type differ from the receipts'")
        if problems:
            self.error = (CLOSURE, cseq, "day closure " + p["period"] + ": " + "; ".join(problems))
        else:
            self.checked += 1

    def finish(self, ticket_verified_through: int) -> tuple[str, int, str] | None:
        """Call after the ticket chain was fed. Closures beyond the verified receipts are errors."""
        while self._i < len(self.ranges) and self.error is None:
            first, last, cseq, p = self.ranges[self._i]
            if last > ticket_verified_through:
                self.error = (CLOSURE, cseq, f"day closure {p['period']} covers receipts up to {last}, "
                              f"beyond the last verified receipt {ticket_verified_through}")
                break
            self._close_current()
        return self.error
