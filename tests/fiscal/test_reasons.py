"""Verification reasons: the English text the command line, the journal and the sync API carry stays
exactly as it was; the manager's page says the same reason in the reader's language."""

import html
import json
import pickle

import pytest
from django.utils import translation

from fiscal import reasons
from fiscal import db as fiscal_db
from fiscal.reasons import Reason, describe
from fiscal.verifier import ClosureTally

# One example of every code, with the English text it has always produced (the contract).
ENGLISH = [
    (Reason("bad_signature"), "bad signature (record altered or forged without the key)"),
    (Reason("malformed_record", kind="KeyError", error="'hash'"), "malformed record (KeyError: 'hash')"),
    (Reason("seq_not_integer"), "sequence number is not an integer"),
    (Reason("foreign_chain", chain="jet", expected="ticket"), "record of chain 'jet' inside chain 'ticket'"),
    (Reason("unknown_key", key_id="ab12"), "signed with an unknown key 'ab12'"),
    (Reason("unknown_version", version=9), "unknown format version 9"),
    (Reason("sequence_gap", first=5, last=5), "sequence gap: record 5 is missing"),
    (Reason("sequence_gap", first=5, last=7), "sequence gap: records 5–7 are missing"),
    (Reason("sequence_order", expected=4), "sequence out of order: expected 4"),
    (Reason("broken_link_hash"), "broken link: prev_hash is not the previous record's hash"),
    (Reason("broken_link_signature"), "broken link: prev_signature is not the previous record's signature"),
    (Reason("payload_not_text"), "payload is not canonical JSON text"),
    (Reason("hash_mismatch"), "hash mismatch: the record's content was altered"),
    (Reason("type_not_in_chain", type="day", chain="ticket"), "type 'day' does not belong in chain 'ticket'"),
    (Reason("type_number", type="sale", number=7, expected=6), "sale number 7 where 6 was expected"),
    (Reason("bad_flags", flags=["z", "a"]), "unknown or unsorted flags ['z', 'a']"),
    (Reason("timestamp_form"), "timestamp is not in the canonical form"),
    (Reason("clock_back"), "timestamp earlier than the previous record's, without the clock_back flag"),
    (Reason("grand_total", grand={"total": 1}, expected={"total": 2}),
     "perpetual grand total {'total': 1} where {'total': 2} was expected"),
    (Reason("closure_not_in_chain", closure=3), "summarises closure 3, which is not in the chain"),
    (Reason("closure_mismatch", closure=3), "summarised closure 3 does not match the chain (hash or level)"),
    (Reason("closure_total", level="month", total=10, sum=9), "month closure total 10 is not the sum of its closures (9)"),
    (Reason("closure_vat", level="year"), "year closure VAT totals are not the sum of its closures"),
    (Reason("closure_grand_total", level="month"), "month closure grand total differs from its last closure's"),
    (Reason("day_closure", period="2026-11-26", problems=[Reason("receipts_vat"), Reason("receipts_last_hash")]),
     "day closure 2026-11-26: VAT totals differ from the receipts'; last hash is not the last receipt's"),
    (Reason("receipts_count", first=1, last=10, found=9), "covers receipts 1–10 but 9 were found"),
    (Reason("receipts_total", total=500, found=400), "total 500 but the receipts add up to 400"),
    (Reason("receipts_vat"), "VAT totals differ from the receipts'"),
    (Reason("receipts_last_hash"), "last hash is not the last receipt's"),
    (Reason("receipts_grand_total"), "perpetual grand total is not the last receipt's"),
    (Reason("receipts_by_type"), "counts per type differ from the receipts'"),
    (Reason("closure_beyond_receipts", period="2026-11-26", last=12, verified=10),
     "day closure 2026-11-26 covers receipts up to 12, beyond the last verified receipt 10"),
    (Reason("head_beyond_records", seq=12, head=12), "record 12 is missing (the chain head says the chain ends at 12)"),
    (Reason("head_mismatch", head=4), "the chain head (4) does not match the last record"),
    (Reason("triggers_missing"), "the immutability triggers are missing from the database"),
]


@pytest.mark.parametrize(("reason", "text"), ENGLISH, ids=[r.code for r, _ in ENGLISH])
def test_it_keeps_the_english_text_of_every_reason(reason, text):
    assert reason == text and str(reason) == text and f"{reason}" == text
    assert json.dumps([reason]) == json.dumps([text])  # what the journal stores
    copy = pickle.loads(pickle.dumps(reason))
    assert copy == text and copy.code == reason.code and copy.params == reason.params


def test_the_examples_cover_every_code():
    assert {reason.code for reason, _ in ENGLISH} == set(reasons.ENGLISH) == set(reasons.DISPLAY)


CATALOGUE = {**reasons.DISPLAY, "sequence_gap (one record)": reasons.DISPLAY_SINGLE_GAP,
             **{f"level {level}": text for level, text in reasons.LEVELS.items()}}


@pytest.mark.parametrize("code", sorted(CATALOGUE))
def test_every_reason_code_has_a_french_text(code):
    with translation.override("en"):
        english = str(CATALOGUE[code])
    with translation.override("fr"):
        french = str(CATALOGUE[code])
    assert french != english and french.strip()


def test_every_example_reads_in_french_with_its_numbers():
    with translation.override("fr"):
        shown = {reason.code + str(reason.params.get("last", "")): describe(reason) for reason, _ in ENGLISH}
    assert shown["sequence_gap5"] == "rupture de séquence : l'enregistrement 5 manque"
    assert shown["sequence_gap7"] == "rupture de séquence : les enregistrements 5 à 7 manquent"
    assert shown["foreign_chain"] == "enregistrement de la chaîne 'jet' dans la chaîne 'ticket'"
    assert shown["closure_total"] == "le total 10 de la clôture mensuelle n'est pas la somme de ses clôtures (9)"
    assert shown["day_closure"] == ("clôture journalière 2026-11-26 : les totaux de TVA diffèrent de ceux des "
                                    "tickets; la dernière empreinte n'est pas celle du dernier ticket")
    assert all("%(" not in text for text in shown.values())


def test_every_example_reads_in_english_as_the_contract():
    with translation.override("en"):
        assert [describe(reason) for reason, _ in ENGLISH] == [text for _, text in ENGLISH]


def test_a_plain_string_is_shown_as_it_is():
    assert describe("something else") == "something else"


def test_the_closure_tally_gives_one_reason_listing_its_problems():
    payload = {"first_seq": 1, "last_seq": 1, "count": 1, "total": 999, "vat": [], "last_hash": "h",
               "grand_total": {"total": 0}, "period": "2026-11-26"}
    tally = ClosureTally([(1, payload)])
    tally.observe({"seq": 1, "type": "sale", "hash": "h"},
                  {"total": 100, "vat": [], "grand_total": {"total": 0}})
    _chain, _seq, reason = tally.error
    assert reason.code == "day_closure" and reason.startswith("day closure 2026-11-26: total 999 but")
    assert [part.code for part in reason.params["problems"]][:1] == ["receipts_total"]


def page_text(response) -> str:
    return html.unescape(response.content.decode()).replace("\u00a0", " ")


@pytest.fixture
def tampered(seal):
    """Three receipts, the second edited by raw SQL (triggers dropped)."""
    from django.db import connection

    records = seal(3)
    fiscal_db.drop_triggers()
    with connection.cursor() as cursor:
        cursor.execute("UPDATE fiscal_sealedrecord SET operator = 'mallory' WHERE id = %s", [records[1].pk])
    return records


@pytest.mark.parametrize(("language", "shown", "absent"), [
    ("fr", ["enregistrement 2 : empreinte incorrecte : le contenu de l'enregistrement a été modifié",
            "les déclencheurs d'immuabilité sont absents de la base de données"],
     ["hash mismatch", "the immutability triggers are missing"]),
    ("en", ["record 2: hash mismatch: the record's content was altered",
            "the immutability triggers are missing from the database"],
     ["empreinte incorrecte", "déclencheurs"]),
])
def test_the_page_shows_the_reason_in_the_readers_language(tampered, client, manager, settings, language, shown,
                                                            absent):
    settings.LANGUAGE_CODE = "fr"
    client.force_login(manager)
    with translation.override(None):
        text = page_text(client.post("/fiscal/verify/", HTTP_ACCEPT_LANGUAGE=language))
    assert "fiscal-broken" in text
    assert [s for s in shown if s not in text] == []
    assert [s for s in absent if s in text] == []
