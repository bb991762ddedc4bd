"""Why a fiscal chain fails to verify: a stable code, its parameters, and two ways to say it.

A `Reason` IS the plain English sentence that `manage.py fiscal_verify`, the archives, the event journal
and the sync API have always carried (a `str`, built here exactly as before: that text is a contract and
is what gets stored and sent). It also keeps its `code` and `params`, so a page can say it in the reader's
language: `reason.display()` looks the code up in `DISPLAY`, a catalogue of translatable texts with the
same parameters. Numbers and identifiers are shown as they are; values the English quotes (chain names,
key ids, flags) are quoted the same way in every language.

Pure apart from django.utils.translation: no database, no request.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


def _gap(first: int, last: int) -> str:
    missing = f"record {first} is missing" if first == last else f"records {first}–{last} are missing"
    return f"sequence gap: {missing}"


# code -> the English text (str.format over the params, or a function of them). Never change these:
# they are what the command line prints, the journal stores and the sync API sends.
ENGLISH: dict[str, str | Callable[..., str]] = {
    # one record (fiscal/verifier.py)
    "bad_signature": "bad signature (record altered or forged without the key)",
    "malformed_record": "malformed record ({kind}: {error})",
    "seq_not_integer": "sequence number is not an integer",
    "foreign_chain": "record of chain {chain!r} inside chain {expected!r}",
    "unknown_key": "signed with an unknown key {key_id!r}",
    "unknown_version": "unknown format version {version!r}",
    "sequence_gap": _gap,
    "sequence_order": "sequence out of order: expected {expected}",
    "broken_link_hash": "broken link: prev_hash is not the previous record's hash",
    "broken_link_signature": "broken link: prev_signature is not the previous record's signature",
    "payload_not_text": "payload is not canonical JSON text",
    "hash_mismatch": "hash mismatch: the record's content was altered",
    "type_not_in_chain": "type {type!r} does not belong in chain {chain!r}",
    "type_number": "{type} number {number} where {expected} was expected",
    "bad_flags": "unknown or unsorted flags {flags!r}",
    "timestamp_form": "timestamp is not in the canonical form",
    "clock_back": "timestamp earlier than the previous record's, without the clock_back flag",
    "grand_total": "perpetual grand total {grand} where {expected} was expected",
    # month and year closures against the closures they summarise
    "closure_not_in_chain": "summarises closure {closure}, which is not in the chain",
    "closure_mismatch": "summarised closure {closure} does not match the chain (hash or level)",
    "closure_total": "{level} closure total {total} is not the sum of its closures ({sum})",
    "closure_vat": "{level} closure VAT totals are not the sum of its closures",
    "closure_grand_total": "{level} closure grand total differs from its last closure's",
    # day closures against their receipts: one reason listing its problems
    "day_closure": "day closure {period}: {problems}",
    "receipts_count": "covers receipts {first}–{last} but {found} were found",
    "receipts_total": "total {total} but the receipts add up to {found}",
    "receipts_vat": "VAT totals differ from the receipts'",
    "receipts_last_hash": "last hash is not the last receipt's",
    "receipts_grand_total": "perpetual grand total is not the last receipt's",
    "receipts_by_type": "counts per type differ from the receipts'",
    "closure_beyond_receipts": ("day closure {period} covers receipts up to {last}, "
                                "beyond the last verified receipt {verified}"),
    # the store's database (fiscal/verification.py)
    "head_beyond_records": "record {seq} is missing (the chain head says the chain ends at {head})",
    "head_mismatch": "the chain head ({head}) does not match the last record",
    "triggers_missing": "the immutability triggers are missing from the database",
}

# code -> the text shown to people, translated (python-format over the same params).
DISPLAY: dict[str, object] = {
    "bad_signature": _("bad signature (record altered or forged without the key)"),
    "malformed_record": _("malformed record (%(kind)s: %(error)s)"),
    "seq_not_integer": _("sequence number is not an integer"),
    "foreign_chain": _("record of chain %(chain)s inside chain %(expected)s"),
    "unknown_key": _("signed with an unknown key %(key_id)s"),
    "unknown_version": _("unknown format version %(version)s"),
    "sequence_gap": _("sequence gap: records %(first)s–%(last)s are missing"),
    "sequence_order": _("sequence out of order: expected %(expected)s"),
    "broken_link_hash": _("broken link: prev_hash is not the previous record's hash"),
    "broken_link_signature": _("broken link: prev_signature is not the previous record's signature"),
    "payload_not_text": _("payload is not canonical JSON text"),
    "hash_mismatch": _("hash mismatch: the record's content was altered"),
    "type_not_in_chain": _("type %(type)s does not belong in chain %(chain)s"),
    "type_number": _("%(type)s number %(number)s where %(expected)s was expected"),
    "bad_flags": _("unknown or unsorted flags %(flags)s"),
    "timestamp_form": _("timestamp is not in the canonical form"),
    "clock_back": _("timestamp earlier than the previous record's, without the clock_back flag"),
    "grand_total": _("perpetual grand total %(grand)s where %(expected)s was expected"),
    "closure_not_in_chain": _("summarises closure %(closure)s, which is not in the chain"),
    "closure_mismatch": _("summarised closure %(closure)s does not match the chain (hash or level)"),
    "closure_total": _("%(level)s closure total %(total)s is not the sum of its closures (%(sum)s)"),
    "closure_vat": _("%(level)s closure VAT totals are not the sum of its closures"),
    "closure_grand_total": _("%(level)s closure grand total differs from its last closure's"),
    "day_closure": _("day closure %(period)s: %(problems)s"),
    "receipts_count": _("covers receipts %(first)s–%(last)s but %(found)s were found"),
    "receipts_total": _("total %(total)s but the receipts add up to %(found)s"),
    "receipts_vat": _("VAT totals differ from the receipts'"),
    "receipts_last_hash": _("last hash is not the last receipt's"),
    "receipts_grand_total": _("perpetual grand total is not the last receipt's"),
    "receipts_by_type": _("counts per type differ from the receipts'"),
    "closure_beyond_receipts": _("day closure %(period)s covers receipts up to %(last)s, "
                                 "beyond the last verified receipt %(verified)s"),
    "head_beyond_records": _("record %(seq)s is missing (the chain head says the chain ends at %(head)s)"),
    "head_mismatch": _("the chain head (%(head)s) does not match the last record"),
    "triggers_missing": _("the immutability triggers are missing from the database"),
}

# A single missing record reads better on its own than as a range of one.
DISPLAY_SINGLE_GAP = _("sequence gap: record %(first)s is missing")

# The level of a month or year closure, as the display texts say it ("%(level)s closure").
LEVELS = {
    "day": pgettext_lazy("closure level", "day"),
    "month": pgettext_lazy("closure level", "month"),
    "year": pgettext_lazy("closure level", "year"),
}

_QUOTED = re.compile(r"\{(\w+)!r\}")


class Reason(str):
    """The English reason (this string, unchanged for every existing reader) with its `code` and
    `params`. `Reason("sequence_gap", first=5, last=5)` == "sequence gap: record 5 is missing".
    A param holding a list of Reasons (a day closure's problems) is joined with "; "."""

    code: str
    params: dict

    def __new__(cls, code: str, /, **params) -> Reason:
        english = ENGLISH[code]
        values = {k: "; ".join(v) if _is_parts(v) else v for k, v in params.items()}
        text = english(**values) if callable(english) else english.format(**values)
        self = super().__new__(cls, text)
        self.code = code
        self.params = params
        return self

    def __reduce__(self):
        return (_rebuild, (self.code, self.params))

    def display(self) -> str:
        """This reason in the active language."""
        return describe(self)


def _is_parts(value) -> bool:
    """A list of Reasons (a day closure's problems), as opposed to a value such as a list of flags."""
    return isinstance(value, list) and bool(value) and all(isinstance(part, Reason) for part in value)


def _rebuild(code: str, params: Mapping) -> Reason:
    return Reason(code, **params)


def describe(reason: str) -> str:
    """A reason in the active language; a plain string (not a Reason) as it is."""
    if not isinstance(reason, Reason):
        return str(reason)
    code, params = reason.code, reason.params
    english = ENGLISH[code]
    quoted = set(_QUOTED.findall(english)) if isinstance(english, str) else set()
    values = {}
    for name, value in params.items():
        if _is_parts(value):
            value = "; ".join(describe(part) for part in value)
        elif name in quoted:
            value = repr(value)
        elif name == "level":
            value = LEVELS.get(value, value)
        values[name] = value
    text = DISPLAY_SINGLE_GAP if code == "sequence_gap" and params["first"] == params["last"] else DISPLAY[code]
    return str(text) % values
