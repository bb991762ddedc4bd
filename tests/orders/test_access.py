"""Every entry point of the real URL configuration refuses a caller that is not a paired device:
a phone on the guest Wi-Fi gets the pairing page or 401/403 everywhere, never data.

The sweep walks config.urls, so a view added later without a decorator makes this test fail.
"""

import re

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.urls import URLPattern, URLResolver, get_resolver

from accounts.access import device_cookie_value
from accounts.pairing import revoke_device

# Entry points meant for callers without a device, and why.
PUBLIC = {
    "orders:pair": "the pairing page itself",
    "orders:logout": "ending a session asks for nothing (and reveals nothing)",
    "set_language": "the language switch must work on the pairing page",
    "javascript-catalog": "interface translations for scripts, no data",
}
# Cloud-only endpoints: on a store they answer 404, as if absent (sync/views.py).
CLOUD_ONLY = {"sync:marks", "sync:records"}
CONVERTER_SAMPLES = {"int": "1", "slug": "grill", "str": "x", "path": "x", "uuid": "00000000-0000-0000-0000-000000000001"}


def entry_points(resolver=None, prefix="", namespace=""):
    """(url, name) for every HTTP route but the admin's (its own gate is tested below)."""
    for entry in (resolver or get_resolver()).url_patterns:
        route = str(entry.pattern)
        if isinstance(entry, URLResolver):
            if entry.namespace == "admin" or route.startswith("^"):
                continue
            ns = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from entry_points(entry, prefix + route, ns)
        elif isinstance(entry, URLPattern):
            url = "/" + prefix + route
            url = re.sub(r"<(?:(\w+):)?\w+>", lambda m: CONVERTER_SAMPLES[m.group(1) or "str"], url)
            yield url, f"{namespace}{entry.name}" if entry.name else url


ENTRY_POINTS = sorted({url: name for url, name in entry_points() if name not in PUBLIC}.items())


def refused(response, name: str, role: str) -> bool:
    if response.status_code == 404 and role == "store" and name in CLOUD_ONLY:
        return True
    if response.status_code in (401, 403, 405):
        return True
    to_login = ("/pair/", "/login/", "/admin/login/")
    if response.status_code == 200 and response.get("HX-Redirect", "").startswith(to_login):
        return True  # htmx is told to go to the pairing or login page
    return response.status_code in (302, 303) and response.get("Location", "").startswith(to_login)


def test_it_sweeps_a_real_url_configuration():
    urls = [url for url, _name in ENTRY_POINTS]
    assert "/" in urls and "/login/" in urls and "/api/v1/menu/" in urls


@pytest.mark.parametrize("role", ["store", "cloud"])
@pytest.mark.parametrize(("url", "name"), ENTRY_POINTS)
def test_it_refuses_an_unpaired_get_everywhere(client, db, settings, url, name, role):
    settings.KDS_ROLE = role
    response = client.get(url)
    assert refused(response, name, role), f"{name} ({url}) answered {response.status_code} to an unpaired browser"


@pytest.mark.parametrize("role", ["store", "cloud"])
@pytest.mark.parametrize(("url", "name"), ENTRY_POINTS)
def test_it_refuses_an_unpaired_htmx_post_everywhere(client, db, settings, url, name, role):
    settings.KDS_ROLE = role
    response = client.post(url, {}, HTTP_HX_REQUEST="true")
    assert refused(response, name, role), f"{name} ({url}) answered {response.status_code} to an unpaired htmx POST"


def test_it_sends_an_unpaired_browser_from_home_to_pairing(client, db):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"] == "/pair/"


def test_it_answers_the_menu_api_without_a_token_with_401_json(client, db):
    response = client.get("/api/v1/menu/")
    assert response.status_code == 401
    body = response.json()
    assert body["error"] == "unauthorized"
    assert body["detail"]


def test_it_answers_the_orders_api_with_a_till_token_with_403_json(client, kds_screen):
    response = client.get("/api/v1/menu/", HTTP_AUTHORIZATION=f"Bearer {kds_screen.token}")
    assert response.status_code == 403
    assert response.json()["error"] == "forbidden"


def test_it_refuses_the_menu_api_to_a_revoked_token(client, integration):
    revoke_device(device=integration)
    response = client.get("/api/v1/menu/", HTTP_AUTHORIZATION=f"Bearer {integration.token}")
    assert response.status_code == 401


# --- WebSockets ---------------------------------------------------------------------------------------


def websocket_routes():
    from config.routing import websocket_urlpatterns

    for entry in websocket_urlpatterns:
        route = "/" + str(entry.pattern)
        yield re.sub(r"<(?:(\w+):)?\w+>", lambda m: CONVERTER_SAMPLES[m.group(1) or "str"], route)


def refused_websocket(path: str, headers: list[tuple[bytes, bytes]]) -> bool:
    """True when the handshake is refused, or accepted only to be closed at once with a 44xx code
    (what kds.consumers does, so a screen can tell "not paired" from a network error) — with no
    frame sent before the close."""
    from config.asgi import application

    async def attempt():
        communicator = WebsocketCommunicator(application, path, headers=[(b"host", b"testserver"), *headers])
        connected, _code = await communicator.connect(timeout=3)
        if not connected:
            return True
        first = await communicator.receive_output(timeout=3)
        await communicator.disconnect()
        return first["type"] == "websocket.close" and 4400 <= first.get("code", 0) < 4500

    return async_to_sync(attempt)()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("path", list(websocket_routes()))
def test_it_refuses_an_unpaired_websocket(path):
    assert refused_websocket(path, [])


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("path", list(websocket_routes()))
def test_it_refuses_a_websocket_with_a_tampered_cookie_or_wrong_token(path, kds_screen):
    value = device_cookie_value(kds_screen)
    cookie = f"{settings.DEVICE_COOKIE_NAME}={value[:-1]}{'A' if value[-1] != 'A' else 'B'}".encode()
    assert refused_websocket(path, [(b"cookie", cookie)])
    assert refused_websocket(path, [(b"authorization", b"Bearer not-a-token")])


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("path", list(websocket_routes()))
def test_it_refuses_a_websocket_of_a_revoked_device(path, kds_screen):
    revoke_device(device=kds_screen)
    assert refused_websocket(path, [(b"authorization", f"Bearer {kds_screen.token}".encode())])


@pytest.mark.django_db(transaction=True)
def test_it_refuses_the_kitchen_websocket_to_a_till(till):
    assert refused_websocket("/ws/kds/grill/", [(b"authorization", f"Bearer {till.token}".encode())])


def test_it_reads_the_device_of_a_websocket_handshake(kds_screen):
    from accounts.access import device_from_scope

    cookie = f"{settings.DEVICE_COOKIE_NAME}={device_cookie_value(kds_screen)}".encode()
    assert device_from_scope({"headers": [(b"cookie", cookie)]}) == kds_screen
    assert device_from_scope({"headers": [(b"authorization", f"Bearer {kds_screen.token}".encode())]}) == kds_screen
    assert device_from_scope({"headers": []}) is None
    assert device_from_scope({"headers": [(b"cookie", b"garbage;;==")]}) is None


# --- The admin ----------------------------------------------------------------------------------------


def test_it_sends_an_anonymous_visitor_of_the_admin_to_its_login(client, db):
    response = client.get("/admin/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_it_refuses_the_admin_to_a_server_with_staff_status(client, alice):
    alice.is_staff = True
    alice.set_password("a long enough password")
    alice.save()
    response = client.post("/admin/login/", {"username": "alice", "password": "a long enough password", "next": "/admin/"})
    assert response.status_code == 200  # the login form again, with the reason
    assert [e.code for e in response.context["form"].non_field_errors().as_data()] == ["not_manager"]
    assert client.get("/admin/").status_code == 302
    assert client.get("/admin/accounts/device/").status_code == 302


def test_it_lets_a_manager_log_in_to_the_admin(client, manager):
    response = client.post("/admin/login/", {"username": "marie", "password": "correct horse battery", "next": "/admin/"})
    assert response.status_code == 302
    assert client.get("/admin/").status_code == 200
    # The manager holds the model permissions without a per-model list (accounts.access.ManagerBackend).
    assert client.get("/admin/accounts/device/").status_code == 200
    assert client.get("/admin/accounts/user/").status_code == 200


def test_it_refuses_the_admin_to_a_manager_without_staff_status(client, manager):
    manager.is_staff = False
    manager.save()
    client.force_login(manager)
    assert client.get("/admin/").status_code == 302


def test_a_pin_login_never_opens_the_admin(client, till, manager):
    """A manager logged in by PIN on a till (fiscal pages, overrides) is sent to the admin's password
    login; once the password is given, the admin opens."""
    from django.conf import settings

    from accounts.access import device_cookie_value

    client.cookies[settings.DEVICE_COOKIE_NAME] = device_cookie_value(till)
    response = client.post("/login/", {"user": manager.pk, "pin": "9999", "next": "/till/"})
    assert response.status_code == 302 and client.session.get("brigade_pin")
    assert client.get("/admin/").status_code == 302
    assert client.get("/admin/accounts/device/").status_code == 302
    response = client.post("/admin/login/", {"username": "marie", "password": "correct horse battery", "next": "/admin/"})
    assert response.status_code == 302
    assert not client.session.get("brigade_pin")
    assert client.get("/admin/").status_code == 200


def test_the_admin_login_is_throttled_per_account_and_per_address(client, manager, settings):
    """Five wrong passwords lock the account's password login for a while, even with the right one
    afterwards (429, a page in the reader's language); the address is locked for other accounts too.
    A manager sees the lock in the admin and can lift it."""
    from django.test import Client

    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        response = client.post("/admin/login/", {"username": "marie", "password": "wrong", "next": "/admin/"})
        assert response.status_code == 200  # the login form again, with its error
    assert client.post("/admin/login/", {"username": "marie", "password": "wrong"}).status_code == 429  # the last straw
    response = client.post("/admin/login/", {"username": "marie", "password": "correct horse battery", "next": "/admin/"},
                           headers={"accept-language": "fr"})
    assert response.status_code == 429
    assert "Trop de mots de passe erronés" in response.content.decode()
    assert client.get("/admin/").status_code == 302  # not logged in
    # The same account from another address: still locked (per account).
    elsewhere = Client(REMOTE_ADDR="10.0.0.9")
    assert elsewhere.post("/admin/login/", {"username": "marie", "password": "correct horse battery"}).status_code == 429
    # Another manager lifts the lock from another address; then the right password works.
    from accounts.models import User

    paul = User.objects.create_user("paul", password="another long secret", role=User.Role.MANAGER, is_staff=True)
    office = Client(REMOTE_ADDR="10.0.0.10")
    assert office.post("/admin/login/", {"username": "paul", "password": "another long secret"}).status_code == 302
    listing = office.get("/admin/axes/accessattempt/")
    assert listing.status_code == 200 and "marie" in listing.content.decode()
    from axes.utils import reset

    reset(username="marie")
    assert client.post("/admin/login/", {"username": "marie", "password": "correct horse battery"}).status_code == 302


def test_the_admin_login_is_throttled_per_address(client, manager, settings):
    for attempt in range(settings.AXES_FAILURE_LIMIT):
        client.post("/admin/login/", {"username": f"guess{attempt}", "password": "wrong"})
    assert client.post("/admin/login/", {"username": "marie", "password": "correct horse battery"}).status_code == 429
