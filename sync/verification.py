"""The cloud's checks of uploaded records, through fiscal's pure verifier (fiscal/chain.py): the same
code a tax inspector's `fiscal_verify` runs, so the cloud accepts exactly what the store's own
verification would."""

from dataclasses import dataclass


@dataclass
class Problem:
    seq: int | None
    code: str  # "bad_signature", "bad_link", "bad_hash", "bad_record"
    detail: str


def first_error(records: list[dict], public_key_pem: str, *, start: tuple[int, str] | None) -> Problem | None:
    """The first record of `records` that does not verify as the continuation of `start` (the cloud's
    mark: seq and hash of the last record held; None for a chain's first upload), or None."""
    from fiscal import chain

    raise NotImplementedError


def sign_ack(*, store: str, chain: str, seq: int, hash: str) -> str:
    """The cloud's signature over its acknowledgement, or "" when the cloud has no key of its own."""
    return ""
