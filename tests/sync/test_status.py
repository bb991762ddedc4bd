"""The sync status indicator (store) and the owner's stats page (cloud)."""

from django.template import Context, Template
from django.utils import timezone

from fiscal import chain as fc
from sync import client
from sync.services import receive_batch
from sync.status import sync_status

from .chains import ChainWriter, receipt
from .conftest import insert_sealed


def render_indicator() -> str:
    return Template("{% load sync_tags %}{% sync_status_indicator %}").render(Context({}))


def test_it_says_not_configured_without_a_cloud(db, settings):
    settings.KDS_CLOUD_URL = ""
    assert sync_status()["state"] == "not_configured"
    assert "sync-not_configured" in render_indicator()


def test_it_shows_the_last_sync_and_the_backlog(rivoli, rivoli_key, cloud_transport, settings):
    settings.LANGUAGE_CODE = "en"
    tickets = ChainWriter(rivoli_key, fc.TICKET)
    insert_sealed(tickets.extend(3))
    client.push(transport=cloud_transport)
    insert_sealed([tickets.next(), tickets.next()])

    status = sync_status()

    assert status["state"] == "ok" and status["backlog"] == 2 and status["last_success"]
    html = render_indicator()
    assert "sync-ok" in html and "2 pending" in html and "last sync" in html


def test_it_shows_offline_as_a_normal_state(rivoli, rivoli_key, cloud_transport):
    insert_sealed(ChainWriter(rivoli_key, fc.TICKET).extend(1))
    cloud_transport.down = True
    client.push(transport=cloud_transport)

    assert sync_status()["state"] == "offline"
    assert "sync-offline" in render_indicator()


def test_it_shows_an_error_when_a_chain_is_stopped(rivoli, rivoli_key, cloud_transport):
    tickets = ChainWriter(rivoli_key, fc.TICKET)
    cloud_transport("POST", "records/", {"chain": "ticket", "records": tickets.extend(2)})
    client.push(transport=cloud_transport)  # nothing local: truncated

    status = sync_status()
    assert status["state"] == "error" and "truncated" in status["error"]
    # A French till sees what to do in French; the English cause stays for the admin.
    from django.utils import translation

    with translation.override("fr"):
        html = render_indicator()
    assert "title=\"Synchronisation cloud arrêtée\xa0: voir l&#x27;administration\"" in html
    assert "truncated" not in html


def test_it_serves_the_indicator_to_paired_devices_only(client, till, configured):
    assert client.get("/sync/v1/status/").status_code == 401
    from django.conf import settings as dj

    from accounts.access import device_cookie_value

    client.cookies[dj.DEVICE_COOKIE_NAME] = device_cookie_value(till)
    response = client.get("/sync/v1/status/")
    assert response.status_code == 200 and b'id="sync-status"' in response.content


# --- the cloud's stats page ---------------------------------------------------------------------------


def test_it_shows_owners_their_stores_receipts_per_day(rivoli, rivoli_key, client, manager, cloud_role, settings):
    settings.LANGUAGE_CODE = "en"
    tickets = ChainWriter(rivoli_key, fc.TICKET)
    tickets.business_day = timezone.localdate().isoformat()
    for cents in (1250, 4800):
        tickets.next(receipt(cents))
    receive_batch(store=rivoli, batch={"chain": "ticket", "records": tickets.records})
    client.force_login(manager)

    response = client.get("/sync/v1/stats/", HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 200
    html = response.content.decode()
    assert "Bistrot Rivoli" in html and "60.50" in html  # 12.50 + 48.00
    assert "<td>Receipts</td><td>2</td><td>2</td>" in html


def test_it_keeps_the_stats_page_behind_a_manager_login(db, client, alice, cloud_role):
    response = client.get("/sync/v1/stats/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    client.force_login(alice)
    assert client.get("/sync/v1/stats/").status_code == 403


def test_it_has_no_stats_page_on_a_store(db, client, manager):
    client.force_login(manager)
    assert client.get("/sync/v1/stats/").status_code == 404

