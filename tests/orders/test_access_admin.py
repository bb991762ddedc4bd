"""The admin's access pages: devices (tokens shown once, revocation) and staff (PINs, locks)."""

import re

import pytest
from django.conf import settings
from django.contrib.admin.models import LogEntry

from accounts import access, pairing, pins
from accounts.models import Device, User


@pytest.fixture
def admin_client(client, manager):
    client.force_login(manager)
    return client


def shown_tokens(response) -> list[str]:
    return re.findall(r"<code data-token[^>]*>([^<]+)</code>", response.content.decode())


def test_it_lists_devices_with_their_state(admin_client, till, kiosk):
    pairing.revoke_device(device=kiosk)
    response = admin_client.get("/admin/accounts/device/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Till 1" in html and "Kiosk 1" in html


def test_it_shows_the_token_of_a_new_device_once(admin_client):
    response = admin_client.post("/admin/accounts/device/add/", {"name": "Terrace till", "role": "till"})
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    [token] = shown_tokens(response)
    device = Device.objects.get(name="Terrace till")
    assert access.device_from_token(token) == device
    assert f"/pair/?token={token}" in response.content.decode()
    assert "<svg" in response.content.decode()  # the QR code of the pairing link
    # The token is nowhere else: not in the admin's history, not in a message for the next page.
    assert not LogEntry.objects.filter(change_message__contains=token).exists()
    assert token not in admin_client.get("/admin/accounts/device/").content.decode()


def test_it_issues_a_new_token_from_the_list(admin_client, client, till):
    old_cookie = access.device_cookie_value(till)
    response = admin_client.post(
        "/admin/accounts/device/", {"action": "issue_tokens", "_selected_action": [till.pk]}
    )
    assert response.status_code == 200
    [token] = shown_tokens(response)
    assert access.device_from_token(token) == till
    assert access.device_from_token(till.token) is None
    assert access.device_from_cookie(old_cookie) is None


def test_it_revokes_devices_from_the_list(admin_client, till, kiosk):
    response = admin_client.post(
        "/admin/accounts/device/", {"action": "revoke", "_selected_action": [till.pk, kiosk.pk]}
    )
    assert response.status_code == 302
    assert Device.objects.filter(revoked_at__isnull=False).count() == 2
    assert access.device_from_token(till.token) is None


def test_it_sets_a_pin_from_the_staff_form_hashed(admin_client, alice):
    page = admin_client.get(f"/admin/accounts/user/{alice.pk}/change/")
    assert page.status_code == 200
    assert alice.pin_hash not in page.content.decode()  # never shown, not even hashed
    data = {
        "username": "alice", "first_name": "Alice", "last_name": "", "role": "server", "is_active": "on",
        "new_pin": "2580", "email": "", "date_joined_0": "2026-01-01", "date_joined_1": "10:00:00",
    }
    response = admin_client.post(f"/admin/accounts/user/{alice.pk}/change/", data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    alice.refresh_from_db()
    assert alice.pin_hash.startswith("pbkdf2_sha256_pin$")
    assert pins.check_pin(user=alice, pin="2580").ok


def test_it_refuses_a_pin_that_is_not_digits_in_the_staff_form(admin_client, alice):
    data = {"username": "alice", "first_name": "Alice", "role": "server", "is_active": "on", "new_pin": "12ab"}
    response = admin_client.post(f"/admin/accounts/user/{alice.pk}/change/", data)
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["new_pin"]


def test_it_creates_a_server_with_a_pin_and_no_password(admin_client):
    data = {"username": "bob", "first_name": "Bob", "role": "server", "new_pin": "1357", "usable_password": "false"}
    response = admin_client.post("/admin/accounts/user/add/", data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    bob = User.objects.get(username="bob")
    assert not bob.has_usable_password()
    assert pins.check_pin(user=bob, pin="1357").ok


def test_it_shows_a_locked_pin_to_the_manager_and_unlocks_it(admin_client, alice):
    for _ in range(settings.PIN_MAX_FAILURES):
        pins.check_pin(user=alice, pin="0000")
    listing = admin_client.get("/admin/accounts/user/")
    row = re.search(r'<tr>.*?alice.*?</tr>', listing.content.decode(), re.S).group(0)
    assert 'class="field-pin_lock">—<' not in row  # a date, not the dash of an open account
    response = admin_client.post("/admin/accounts/user/", {"action": "unlock_pins", "_selected_action": [alice.pk]})
    assert response.status_code == 302
    alice.refresh_from_db()
    assert pins.pin_locked_until(alice) is None
    listing = admin_client.get("/admin/accounts/user/").content.decode()
    row = re.search(r'<tr>.*?alice.*?</tr>', listing, re.S).group(0)
    assert 'class="field-pin_lock">—<' in row


def test_it_creates_a_manager_from_the_command_line(client, db, monkeypatch):
    import io

    from django.core.management import call_command

    monkeypatch.setattr("sys.stdin", io.StringIO("a sturdy kitchen password\n"))
    call_command("createmanager", "sam", "--first-name", "Sam", "--pin", "8642", "--password-stdin", stdout=io.StringIO())
    sam = User.objects.get(username="sam")
    assert sam.role == User.Role.MANAGER and sam.is_staff
    assert pins.check_pin(user=sam, pin="8642").ok
    client.post("/admin/login/", {"username": "sam", "password": "a sturdy kitchen password", "next": "/admin/"})
    assert client.get("/admin/").status_code == 200


def test_it_refuses_a_weak_manager_password(db, monkeypatch):
    import io

    from django.core.management import CommandError, call_command

    monkeypatch.setattr("sys.stdin", io.StringIO("1234\n"))
    with pytest.raises(CommandError):
        call_command("createmanager", "sam", "--password-stdin", stdout=io.StringIO())
    assert not User.objects.filter(username="sam").exists()
