"""Fiscal chains: canonical bytes, hashing, signing, keys and grand totals. Pure: no database, no Django.

Everything an outside verifier needs (the cloud receiver, `fiscal_verify --archive` on an inspector's
laptop) lives here and in fiscal/verifier.py, so a store, the cloud and an archive are checked by the
same code.

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

Records are checked by fiscal/verifier.py (``verify_chain``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
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
