"""The cloud's checks of uploaded records, through fiscal's pure verifier (fiscal/verifier.py): the same
code `fiscal_verify` runs, so the cloud accepts exactly what the store's own verification would."""

from dataclasses import dataclass

from fiscal import chain as fiscal_chain
from fiscal.verifier import verify_chain


@dataclass
class Problem:
    seq: int | None
    code: str  # bad_signature, broken_link, bad_hash, invalid_record
    detail: str


# fiscal's reasons are plain English; the API gives clients a stable code as well.
_CODES = (
    ("bad signature", "bad_signature"),
    ("signed with an unknown key", "bad_signature"),
    ("broken link", "broken_link"),
    ("hash mismatch", "bad_hash"),
)


def first_error(records: list[dict], public_key_pem: str, *, start: dict | None) -> Problem | None:
    """The first record of `records` that does not verify as the continuation of `start` (the wire dict
    of the last record the cloud holds of this chain; None for a chain's first upload), or None.

    Every signature is checked (strict): the cloud keeps each record on its own, so each must stand."""
    result = verify_chain(records, public_key_pem, start=start, strict=True)
    if result.first_error is None:
        return None
    _chain, seq, reason = result.first_error
    code = next((code for prefix, code in _CODES if reason.startswith(prefix)), "invalid_record")
    return Problem(seq=seq, code=code, detail=f"record {seq}: {reason}")


def sign_ack(*, store: str, chain: str, seq: int, hash: str) -> str:
    """The cloud's signature over its acknowledgement {"store", "chain", "seq", "hash"} (canonical JSON),
    with the cloud instance's own key (`manage.py fiscal_public_key` on the cloud prints its public half)."""
    private_key = _cloud_key()
    document = fiscal_chain.canonical_json({"store": store, "chain": chain, "seq": seq, "hash": hash})
    return fiscal_chain.sign_document(private_key, document.encode("utf-8"))


def _cloud_key():
    """The cloud instance's own Ed25519 key (its data dir, created on first use, like a store's)."""
    from fiscal import keys

    return keys.private_key()
