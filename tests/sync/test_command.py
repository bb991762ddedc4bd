"""`manage.py sync`: --once exit codes and messages, and the loop's shutdown on a signal."""

import io
import os
import signal
import threading

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from fiscal import chain as fc
from sync import client
from sync.management.commands.sync import Command

from .chains import ChainWriter
from .conftest import insert_sealed


@pytest.fixture
def via_test_client(cloud_transport, monkeypatch):
    monkeypatch.setattr(client, "default_transport", lambda: cloud_transport)
    return cloud_transport


def run(*args) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("sync", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_it_exits_0_with_a_note_when_sync_is_not_configured(db, settings):
    settings.KDS_CLOUD_URL = ""
    out, _err = run("--once")
    assert "not configured" in out


def test_it_refuses_to_run_without_a_token(db, settings):
    settings.KDS_CLOUD_URL, settings.KDS_CLOUD_TOKEN = "https://cloud.example.test", ""
    with pytest.raises(CommandError, match="KDS_CLOUD_TOKEN"):
        run("--once")


def test_it_exits_0_once_the_cloud_has_everything(rivoli, rivoli_key, via_test_client):
    insert_sealed(ChainWriter(rivoli_key, fc.TICKET).extend(3))

    out, _err = run("--once")

    assert "has everything: 3 sent" in out


def test_it_exits_1_when_the_cloud_is_unreachable(rivoli, rivoli_key, via_test_client):
    insert_sealed(ChainWriter(rivoli_key, fc.TICKET).extend(3))
    via_test_client.down = True

    with pytest.raises(CommandError, match="unreachable") as caught:
        run("--once")

    assert caught.value.returncode == 1
    assert "pending" in str(caught.value)


def test_it_exits_3_on_a_truncated_chain(rivoli, rivoli_key, via_test_client):
    tickets = ChainWriter(rivoli_key, fc.TICKET)
    insert_sealed(tickets.extend(2))
    via_test_client("POST", "records/", {"chain": "ticket", "records": [*tickets.records, tickets.next()]})

    with pytest.raises(CommandError) as caught:
        run("--once")

    assert caught.value.returncode == 3


def test_it_loops_until_a_signal_stops_it(rivoli, rivoli_key, via_test_client, monkeypatch):
    insert_sealed(ChainWriter(rivoli_key, fc.TICKET).extend(2))
    # The loop closes stale connections each pass; here the one connection holds the test's transaction.
    monkeypatch.setattr("sync.management.commands.sync.close_old_connections", lambda: None)
    out = io.StringIO()
    command = Command(stdout=out, stderr=io.StringIO())
    # SIGTERM arrives while the loop sleeps; the handler only sets the flag.
    timer = threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGTERM))
    previous = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    timer.start()
    try:
        command.handle(once=False, idle=0.1)
    finally:
        timer.cancel()
        signal.signal(signal.SIGTERM, previous[0])
        signal.signal(signal.SIGINT, previous[1])

    assert command.shutdown is True
    assert "Stopped." in out.getvalue()
    from sync.models import ReceivedRecord

    assert ReceivedRecord.objects.filter(chain="ticket").count() == 2
