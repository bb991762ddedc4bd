"""Store side: push() and sync_step() against the real receiver, through the test-client transport."""

import datetime

import pytest

from fiscal import chain as fc
from sync import client, local
from sync.models import ChainSync, ReceivedRecord, StoreChainMark, SyncState

from .chains import ChainWriter, receipt
from .conftest import insert_sealed


@pytest.fixture
def tickets(rivoli_key):
    return ChainWriter(rivoli_key, fc.TICKET)


@pytest.fixture
def sealed(tickets):
    """Five receipts sealed in this store."""
    insert_sealed(tickets.extend(5))
    return tickets.records


def cloud_has(store, chain="ticket") -> list[int]:
    return list(ReceivedRecord.objects.filter(store=store, chain=chain).order_by("seq").values_list("seq", flat=True))


def test_it_sends_everything_pending_and_the_marks_then_match(rivoli, cloud_transport, sealed):
    report = client.push(transport=cloud_transport)

    assert report.outcome == "ok" and report.complete and report.sent == 5 and report.backlog == 0
    assert cloud_has(rivoli) == [1, 2, 3, 4, 5]
    mark = StoreChainMark.objects.get(store=rivoli, chain="ticket")
    assert (mark.seq, mark.hash) == (5, sealed[-1]["hash"])
    ack = ChainSync.objects.get(chain="ticket")
    assert (ack.acked_seq, ack.acked_hash) == (5, sealed[-1]["hash"]) and ack.ack_signature
    state = SyncState.get()
    assert state.last_outcome == "ok" and state.last_success_at and state.backlog == 0 and state.online


def test_it_sends_in_order_in_batches(rivoli, cloud_transport, sealed, monkeypatch):
    monkeypatch.setattr(client, "BATCH_RECORDS", 2)

    client.push(transport=cloud_transport)

    assert cloud_transport.calls == [("GET", "marks/")] + [("POST", "records/")] * 3
    assert cloud_has(rivoli) == [1, 2, 3, 4, 5]


def test_it_splits_batches_by_size_too(rivoli, cloud_transport, sealed, monkeypatch):
    monkeypatch.setattr(client, "BATCH_BYTES", 1)  # every record alone, however small

    assert client.push(transport=cloud_transport).complete
    assert cloud_transport.calls.count(("POST", "records/")) == 5


def test_it_sends_nothing_twice(rivoli, cloud_transport, sealed, tickets):
    client.push(transport=cloud_transport)
    cloud_transport.calls.clear()

    report = client.push(transport=cloud_transport)

    assert report.complete and report.sent == 0
    assert cloud_transport.calls == [("GET", "marks/")]
    insert_sealed([tickets.next()])
    assert client.push(transport=cloud_transport).sent == 1
    assert cloud_has(rivoli) == [1, 2, 3, 4, 5, 6]


def test_it_resumes_from_the_clouds_mark_when_an_answer_was_lost(rivoli, cloud_transport, sealed):
    cloud_transport("POST", "records/", {"chain": "ticket", "records": sealed[:3]})  # answer never arrived

    report = client.push(transport=cloud_transport)

    assert report.sent == 2 and report.duplicates == 0 and report.complete
    assert cloud_has(rivoli) == [1, 2, 3, 4, 5]


def test_it_resumes_where_the_cloud_expects_after_a_gap(rivoli, cloud_transport, sealed):
    cloud_transport("POST", "records/", {"chain": "ticket", "records": sealed[:1]})

    def lying_marks(method, path, body=None):  # a stale cache in front of the cloud, say
        if method == "GET":
            return {"ticket": {"seq": 3, "hash": sealed[2]["hash"]}}
        return cloud_transport(method, path, body)

    report = client.push(transport=lying_marks)

    assert report.complete and cloud_has(rivoli) == [1, 2, 3, 4, 5]


def test_it_journals_going_offline_once_and_coming_back_once(rivoli, cloud_transport, sealed, journaled):
    cloud_transport.down = True

    first = client.push(transport=cloud_transport)
    second = client.push(transport=cloud_transport)

    assert first.outcome == second.outcome == "offline" and not first.complete
    assert first.backlog == 5 + 1  # the receipts, and the journal's "offline" entry itself
    assert [code for code, _m in journaled] == [local.CODE_OFFLINE]
    state = SyncState.get()
    assert state.online is False and state.failures == 2 and state.next_attempt_at > state.last_attempt_at
    assert "connection refused" in state.last_error

    cloud_transport.down = False
    back = client.push(transport=cloud_transport)

    assert back.complete and back.sent == 5 + 2
    assert [code for code, _m in journaled] == [local.CODE_OFFLINE, local.CODE_ONLINE]
    assert cloud_has(rivoli) == [1, 2, 3, 4, 5]
    events = [r.payload for r in ReceivedRecord.objects.filter(store=rivoli, chain="jet").order_by("seq")]
    assert len(events) == 2 and '"code":70' in events[0] and '"code":71' in events[1]
    assert SyncState.get().failures == 0 and SyncState.get().next_attempt_at is None


def test_it_backs_off_exponentially_while_offline(rivoli, cloud_transport, sealed, monkeypatch):
    cloud_transport.down = True
    monkeypatch.setattr(client.random, "uniform", lambda a, b: 1.0)
    delays = []
    for _ in range(10):
        client.push(transport=cloud_transport)
        state = SyncState.get()
        delays.append((state.next_attempt_at - state.last_attempt_at).total_seconds())

    assert delays[:4] == [5, 10, 20, 40]
    assert delays[-1] == client.BACKOFF_MAX_SECONDS


def test_it_detects_a_truncated_local_tail_against_the_clouds_mark(rivoli, cloud_transport, sealed, tickets, journaled):
    """The store lost its last records (restored from an old backup, or deleted): the local chain alone
    still verifies; only the cloud's mark shows records are missing."""
    cloud_transport("POST", "records/", {"chain": "ticket", "records": [*sealed, *tickets.extend(2)]})  # 6, 7: gone here

    report = client.push(transport=cloud_transport)

    assert report.outcome == "defect" and not report.complete
    assert "truncated" in report.problems["ticket"]
    assert [code for code, _m in journaled] == [local.CODE_INTEGRITY_DEFECT]
    assert ChainSync.objects.get(chain="ticket").defect
    # Refused to continue for that chain, and journaled once, not on every attempt.
    insert_sealed([])  # nothing changes locally
    again = client.push(transport=cloud_transport)
    assert again.outcome == "defect"
    assert [code for code, _m in journaled] == [local.CODE_INTEGRITY_DEFECT]
    assert SyncState.get().last_outcome == "defect"


def test_it_detects_a_rewritten_local_chain(rivoli, rivoli_key, cloud_transport, journaled):
    original = ChainWriter(rivoli_key, fc.TICKET)
    cloud_transport("POST", "records/", {"chain": "ticket", "records": original.extend(3)})
    rewritten = ChainWriter(rivoli_key, fc.TICKET)  # same key, another amount: a chain re-sealed
    for cents in (1250, 1250, 990, 1250):
        rewritten.next(receipt(cents))
    insert_sealed(rewritten.records)

    report = client.push(transport=cloud_transport)

    assert report.outcome == "defect" and "rewritten" in report.problems["ticket"]
    assert cloud_has(rivoli) == [1, 2, 3]
    assert [code for code, _m in journaled] == [local.CODE_INTEGRITY_DEFECT]


def test_it_detects_truncation_against_its_own_acknowledged_mark(rivoli, cloud_transport, sealed):
    """The cloud lost data (restored from its backup), but the store kept the cloud's acknowledgement."""
    ChainSync.objects.create(chain="ticket", acked_seq=9, acked_hash="ab" * 32)

    report = client.push(transport=cloud_transport)

    assert report.outcome == "defect" and "truncated" in report.problems["ticket"]
    assert cloud_has(rivoli) == []


def test_it_stops_a_chain_the_cloud_refuses_and_journals_it_once(rivoli, cloud_transport, sealed, journaled):
    from sync.models import Store

    Store.objects.filter(pk=rivoli.pk).update(public_key_pem=_other_public_key())

    report = client.push(transport=cloud_transport)
    assert report.outcome == "defect" and "bad_signature" in report.problems["ticket"]
    assert journaled == [(local.CODE_INTEGRITY_DEFECT, report.problems["ticket"])]

    client.push(transport=cloud_transport)  # the journal chain, now holding that entry, is refused too
    entries = list(journaled)
    client.push(transport=cloud_transport)

    assert journaled == entries  # the same refusals again are not journaled again
    assert cloud_has(rivoli) == []


def test_it_syncs_healthy_chains_when_one_has_a_defect(rivoli, rivoli_key, cloud_transport, sealed, tickets):
    cloud_transport("POST", "records/", {"chain": "ticket", "records": [*sealed, *tickets.extend(1)]})
    prebills = ChainWriter(rivoli_key, fc.PREBILL)
    insert_sealed(prebills.extend(2))

    report = client.push(transport=cloud_transport)

    assert set(report.problems) == {"ticket"}
    assert cloud_has(rivoli, "prebill") == [1, 2]


def test_it_clears_a_defect_once_the_chain_matches_the_cloud_again(rivoli, cloud_transport, sealed, tickets):
    ChainSync.objects.create(chain="ticket", defect="old problem")
    report = client.push(transport=cloud_transport)
    assert report.complete and ChainSync.objects.get(chain="ticket").defect == ""


def test_it_reports_refused_credentials_without_an_integrity_defect(rivoli, cloud_transport, sealed, journaled):
    cloud_transport.token = "revoked"

    report = client.push(transport=cloud_transport)

    client.push(transport=cloud_transport)

    assert report.outcome == "refused" and "unauthorized" in report.error
    assert [code for code, _m in journaled] == [local.CODE_SYNC_FAILED]  # once, and not as a defect
    assert SyncState.get().last_outcome == "refused"


# --- sync_step: the background loop's step ------------------------------------------------------------


def test_it_does_nothing_when_sync_is_not_configured(db, settings, django_assert_num_queries):
    settings.KDS_CLOUD_URL = ""
    with django_assert_num_queries(0):
        assert client.sync_step() is False


def test_it_stays_quiet_when_nothing_is_pending(rivoli, cloud_transport, sealed):
    client.push(transport=cloud_transport)
    cloud_transport.calls.clear()

    assert client.sync_step(transport=cloud_transport) is False
    assert cloud_transport.calls == []  # no network at all while the last check is recent


def test_it_checks_the_clouds_marks_now_and_then_even_with_nothing_to_send(rivoli, cloud_transport, sealed, monkeypatch):
    client.push(transport=cloud_transport)
    cloud_transport.calls.clear()
    later = SyncState.get().last_checked_at + datetime.timedelta(seconds=client.RECHECK_SECONDS + 1)
    monkeypatch.setattr(client, "now", lambda: later)

    assert client.sync_step(transport=cloud_transport) is False
    assert cloud_transport.calls == [("GET", "marks/")]


def test_it_waits_out_its_backoff_without_touching_the_network(rivoli, cloud_transport, sealed, monkeypatch):
    cloud_transport.down = True
    client.sync_step(transport=cloud_transport)
    cloud_transport.calls.clear()

    assert client.sync_step(transport=cloud_transport) is False
    assert cloud_transport.calls == []

    later = SyncState.get().next_attempt_at + datetime.timedelta(seconds=1)
    monkeypatch.setattr(client, "now", lambda: later)
    cloud_transport.down = False
    client.sync_step(transport=cloud_transport)
    assert cloud_has(rivoli) == [1, 2, 3, 4, 5]


def test_it_says_there_is_more_when_it_stopped_after_its_share_of_batches(
    rivoli, cloud_transport, sealed, monkeypatch
):
    monkeypatch.setattr(client, "BATCH_RECORDS", 2)
    monkeypatch.setattr(client, "STEP_BATCHES", 1)

    assert client.sync_step(transport=cloud_transport) is True
    assert cloud_has(rivoli) == [1, 2]
    assert client.sync_step(transport=cloud_transport) is True
    assert client.sync_step(transport=cloud_transport) is False
    assert cloud_has(rivoli) == [1, 2, 3, 4, 5]


def test_it_never_raises_from_the_background_step(rivoli, configured, sealed, caplog):
    def broken(method, path, body=None):
        raise RuntimeError("bug")

    assert client.sync_step(transport=broken) is False
    assert "Cloud sync step failed" in caplog.text


def _other_public_key() -> str:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from .conftest import public_pem

    return public_pem(Ed25519PrivateKey.generate())


def test_it_sends_the_event_journal_before_the_other_chains(rivoli, rivoli_key, cloud_transport, sealed):
    from sync import local as sync_local

    sync_local.journal(local.CODE_OFFLINE, message="cable unplugged")
    insert_sealed(ChainWriter(rivoli_key, fc.COPY).extend(1))  # "copy" sorts before "jet"
    posted = []

    def recording(method, path, body=None):
        if body:
            posted.append(body["chain"])
        return cloud_transport(method, path, body)

    client.push(transport=recording)

    assert posted == ["jet", "copy", "ticket"]
