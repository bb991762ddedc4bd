"""Cloud role: POST /sync/v1/records/ verifies each batch against the store's key and the cloud's mark."""

import copy
import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from fiscal import chain as fc
from fiscal.verifier import verify_chain
from sync.models import ReceivedRecord, Refusal, StoreChainMark

from .chains import ChainWriter, receipt


@pytest.fixture
def post(client, cloud_role):
    def post(store, chain, records):
        return client.post(
            "/sync/v1/records/",
            data=json.dumps({"chain": chain, "records": records}),
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {store.token}",
        )

    return post


@pytest.fixture
def journal(rivoli_key):
    return ChainWriter(rivoli_key, fc.JET)


@pytest.fixture
def tickets(rivoli_key):
    return ChainWriter(rivoli_key, fc.TICKET)


def held(store, chain="jet") -> list[int]:
    return list(ReceivedRecord.objects.filter(store=store, chain=chain).order_by("seq").values_list("seq", flat=True))


def test_it_stores_a_verified_batch_and_answers_the_new_mark(rivoli, post, journal):
    records = journal.extend(3)

    response = post(rivoli, "jet", records)

    assert response.status_code == 200
    answer = response.json()
    assert answer | {"ack": None} == {
        "chain": "jet", "seq": 3, "hash": records[-1]["hash"], "accepted": 3, "duplicates": 0, "ack": None
    }  # fmt: skip
    assert held(rivoli) == [1, 2, 3]
    mark = StoreChainMark.objects.get(store=rivoli, chain="jet")
    assert (mark.seq, mark.hash) == (3, records[-1]["hash"])
    stored = ReceivedRecord.objects.get(store=rivoli, chain="jet", seq=2)
    assert stored.wire() == records[1]  # exactly what the store signed, re-verifiable at any time
    assert stored.business_day.isoformat() == "2026-11-26" and stored.type == "event"


def test_it_continues_a_chain_from_its_mark_across_batches(rivoli, post, tickets):
    tickets.extend(4)
    assert post(rivoli, "ticket", tickets.records[:2]).status_code == 200

    response = post(rivoli, "ticket", tickets.records[2:])

    assert response.status_code == 200, response.json()
    assert response.json()["seq"] == 4
    assert held(rivoli, "ticket") == [1, 2, 3, 4]
    assert verify_chain((r.wire() for r in ReceivedRecord.objects.filter(chain="ticket")), rivoli.public_key_pem)


def test_it_takes_a_replayed_batch_once(rivoli, post, journal):
    records = journal.extend(3)
    post(rivoli, "jet", records)

    again = post(rivoli, "jet", records)

    assert again.status_code == 200
    assert again.json()["accepted"] == 0 and again.json()["duplicates"] == 3 and again.json()["seq"] == 3
    assert held(rivoli) == [1, 2, 3]
    assert not Refusal.objects.exists()


def test_it_accepts_a_batch_overlapping_what_it_holds(rivoli, post, journal):
    journal.extend(6)
    post(rivoli, "jet", journal.records[:4])

    response = post(rivoli, "jet", journal.records[2:])

    assert response.json()["accepted"] == 2 and response.json()["duplicates"] == 2
    assert held(rivoli) == [1, 2, 3, 4, 5, 6]


def test_it_refuses_a_fork_at_a_number_it_holds_loudly(rivoli, rivoli_key, post, journal, caplog):
    post(rivoli, "jet", journal.extend(3))
    # The same key (stolen, or a store restored from an old backup) signs another record 3.
    fork = ChainWriter(rivoli_key, fc.JET)
    fork.extend(2)
    fork.next({"code": 80, "message": "something else"})

    response = post(rivoli, "jet", fork.records[1:])

    assert response.status_code == 409
    assert response.json()["error"] == "fork" and response.json()["seq"] == 3
    assert response.json()["held_hash"] == journal.records[2]["hash"]
    assert ReceivedRecord.objects.get(store=rivoli, chain="jet", seq=3).hash == journal.records[2]["hash"]
    refusal = Refusal.objects.get()
    assert (refusal.store, refusal.chain, refusal.seq, refusal.error) == (rivoli, "jet", 3, "fork")
    assert "Fork refused" in caplog.text


def test_it_refuses_a_chain_that_forks_right_after_its_mark(rivoli, rivoli_key, post, journal):
    post(rivoli, "jet", journal.extend(3))
    other = ChainWriter(rivoli_key, fc.JET)
    other.extend(2)
    other.next({"code": 80, "message": "another record 3"})
    other.next()

    response = post(rivoli, "jet", other.records[3:])  # record 4 of a chain whose 3 is not the cloud's

    assert response.status_code == 422
    assert response.json()["error"] == "broken_link" and response.json()["seq"] == 4
    assert held(rivoli) == [1, 2, 3]


def test_it_refuses_a_gap_naming_the_expected_number(rivoli, post, journal):
    journal.extend(5)
    post(rivoli, "jet", journal.records[:2])

    response = post(rivoli, "jet", journal.records[3:])

    assert response.status_code == 409
    assert response.json()["error"] == "gap" and response.json()["expected"] == 3
    assert held(rivoli) == [1, 2]


def test_it_refuses_a_gap_at_the_start_of_a_chain(rivoli, post, journal):
    journal.extend(3)
    response = post(rivoli, "jet", journal.records[1:])
    assert response.status_code == 409 and response.json()["expected"] == 1
    assert not held(rivoli)


def test_it_refuses_a_bad_signature_naming_the_record_and_stores_nothing(rivoli, post, journal):
    records = copy.deepcopy(journal.extend(4))
    records[2]["signature"] = "00" * 64

    response = post(rivoli, "jet", records)

    assert response.status_code == 422
    assert response.json()["error"] == "bad_signature" and response.json()["seq"] == 3
    assert "record 3" in response.json()["detail"]
    assert not held(rivoli)  # one transaction: records 1 and 2 were not kept either
    assert not StoreChainMark.objects.filter(store=rivoli, seq__gt=0).exists()


def test_it_refuses_an_altered_amount(rivoli, post, tickets):
    records = copy.deepcopy(tickets.extend(3))
    payload = json.loads(records[1]["payload"])
    payload["total"] = 1
    records[1]["payload"] = fc.canonical_json(payload)

    response = post(rivoli, "ticket", records)

    assert response.status_code == 422
    assert response.json()["error"] == "bad_hash" and response.json()["seq"] == 2


def test_it_refuses_records_sent_under_another_stores_credentials(rivoli, bastille, post, journal):
    """Bastille's token, Rivoli's records: they do not verify with Bastille's registered key."""
    response = post(bastille, "jet", journal.extend(3))

    assert response.status_code == 422
    assert response.json()["error"] in ("bad_signature", "broken_link")
    assert not ReceivedRecord.objects.exists()
    assert Refusal.objects.get().store == bastille


def test_it_refuses_another_stores_records_continuing_a_chain(rivoli, bastille, post, journal):
    post(rivoli, "jet", journal.extend(2))
    thief = ChainWriter(bastille.key, fc.JET)
    thief.records = list(journal.records)  # continues Rivoli's chain, signed with Bastille's key
    thief.next()

    response = post(rivoli, "jet", [thief.records[-1]])

    assert response.status_code == 422 and response.json()["error"] == "bad_signature"
    assert held(rivoli) == [1, 2]


def test_it_checks_the_grand_total_across_batches(rivoli, post, tickets):
    tickets.extend(2)
    post(rivoli, "ticket", tickets.records)
    tampered = copy.deepcopy(tickets.next(receipt(900)))
    payload = json.loads(tampered["payload"])
    payload["grand_total"]["total"] += 100
    tampered["payload"] = fc.canonical_json(payload)
    header = fc.header_of(tampered)
    tampered["hash"], tampered["signature"] = fc.seal(header, tampered["payload"], tickets.key)

    response = post(rivoli, "ticket", [tampered])

    assert response.status_code == 422 and response.json()["seq"] == 3
    assert "grand total" in response.json()["detail"]


def test_it_signs_its_acknowledgement_when_it_has_a_key(rivoli, post, journal, monkeypatch):
    cloud_key = Ed25519PrivateKey.generate()
    monkeypatch.setattr("sync.verification._cloud_key", lambda: cloud_key)
    records = journal.extend(2)

    answer = post(rivoli, "jet", records).json()

    document = fc.canonical_json({"store": rivoli.name, "chain": "jet", "seq": 2, "hash": records[-1]["hash"]})
    assert fc.document_signature_ok(cloud_key.public_key(), document.encode(), answer["ack"])


def test_it_refuses_an_oversized_batch(rivoli, post, journal, monkeypatch):
    monkeypatch.setattr("sync.services.MAX_BATCH_RECORDS", 2)
    response = post(rivoli, "jet", journal.extend(3))
    assert response.status_code == 413 and response.json()["error"] == "batch_too_large"
