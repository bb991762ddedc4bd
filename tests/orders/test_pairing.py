"""Pairing a browser with a device token: the page, the link, the rate limit, `device_token`, home."""

import pytest
from django.conf import settings
from django.core.cache import cache
from django.core.management import CommandError, call_command
from django.urls import NoReverseMatch, reverse

from accounts import access, pairing
from accounts.models import Device


@pytest.fixture(autouse=True)
def fresh_rate_limit():
    """The pairing rate limit lives in the (process-wide) cache."""
    cache.clear()
    yield
    cache.clear()


def device_of(client) -> Device | None:
    return access.device_from_cookie(client.cookies[settings.DEVICE_COOKIE_NAME].value)


def test_it_shows_the_pairing_form(client, db):
    response = client.get("/pair/")
    assert response.status_code == 200
    assert 'name="token"' in response.content.decode()


def test_it_pairs_with_a_pasted_token(client, till):
    response = client.post("/pair/", {"token": till.token})
    assert response.status_code == 302
    assert response["Location"] == "/"
    assert device_of(client) == till
    morsel = client.cookies[settings.DEVICE_COOKIE_NAME]
    assert morsel["httponly"] and morsel["max-age"] == settings.DEVICE_COOKIE_MAX_AGE


def test_it_pairs_with_a_pairing_link(client, kiosk):
    response = client.get(f"/pair/?token={kiosk.token}")
    assert response.status_code == 302
    assert device_of(client) == kiosk


def test_it_forgives_spaces_around_a_pasted_token(client, till):
    client.post("/pair/", {"token": f"  {till.token}\n"})
    assert device_of(client) == till


def test_it_returns_where_the_browser_was_going(client, till):
    response = client.post("/pair/", {"token": till.token, "next": "/till/?table=4"})
    assert response["Location"] == "/till/?table=4"


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/", "/pair/", "javascript:alert(1)"])
def test_it_ignores_a_next_that_leads_away_or_loops(client, till, target):
    response = client.post("/pair/", {"token": till.token, "next": target})
    assert response["Location"] == "/"


def test_it_refuses_a_wrong_token_with_a_form_error(client, till):
    response = client.post("/pair/", {"token": "not-the-token"})
    assert response.status_code == 400
    assert response.context["form"].errors["token"]
    assert settings.DEVICE_COOKIE_NAME not in client.cookies


def test_it_refuses_an_empty_token(client, db):
    response = client.post("/pair/", {"token": ""})
    assert response.status_code == 400
    assert response.context["form"].errors["token"]


def test_it_refuses_the_token_of_a_revoked_device(client, till):
    pairing.revoke_device(device=till)
    assert client.post("/pair/", {"token": till.token}).status_code == 400


def test_it_slows_down_guessing_from_one_address(client, till):
    for _ in range(pairing.PAIRING_MAX_FAILURES):
        assert client.post("/pair/", {"token": "guess"}).status_code == 400
    # From now on even the right token waits: the address is blocked for a while.
    response = client.post("/pair/", {"token": till.token})
    assert response.status_code == 429
    assert response.context["form"].non_field_errors()
    # Another address is not affected.
    assert client.post("/pair/", {"token": till.token}, REMOTE_ADDR="10.0.0.7").status_code == 302


def test_it_shows_the_pairing_page_in_the_browsers_language(client, db):
    assert '<html lang="fr">' in client.get("/pair/").content.decode()
    assert '<html lang="en">' in client.get("/pair/", HTTP_ACCEPT_LANGUAGE="en").content.decode()


def test_it_switches_language_from_the_pairing_page(client, db):
    page = client.get("/pair/").content.decode()
    assert 'action="/i18n/setlang/"' in page and 'value="en"' in page
    response = client.post("/i18n/setlang/", {"language": "en", "next": "/pair/"})
    assert response["Location"] == "/pair/"
    assert '<html lang="en">' in client.get("/pair/").content.decode()


def test_it_logs_out_whoever_was_logged_in_when_a_screen_is_paired_again(client, till, kiosk, alice):
    client.post("/pair/", {"token": till.token})
    client.force_login(alice)
    client.post("/pair/", {"token": kiosk.token})
    assert device_of(client) == kiosk
    assert "_auth_user_id" not in client.session


# --- home ---------------------------------------------------------------------------------------------


def expected_home(name: str) -> str | None:
    try:
        return reverse(name)
    except NoReverseMatch:
        return None


@pytest.mark.parametrize(
    ("fixture", "url_name"), [("kiosk", "kiosk:start"), ("kds_screen", "kds:index")]
)
def test_it_sends_each_device_home(client, request, fixture, url_name):
    device = request.getfixturevalue(fixture)
    client.post("/pair/", {"token": device.token})
    response = client.get("/")
    target = expected_home(url_name)
    if target:
        assert response.status_code == 302 and response["Location"] == target
    else:  # that app's pages are not there: a page saying what this screen is
        assert response.status_code == 200 and device.name in response.content.decode()


def test_it_tells_an_integration_it_is_api_only(client, integration):
    client.post("/pair/", {"token": integration.token})
    response = client.get("/")
    assert response.status_code == 200
    assert "/api/v1/" in response.content.decode()


# --- manage.py device_token ---------------------------------------------------------------------------


def run_device_token(*args) -> list[str]:
    from io import StringIO

    out = StringIO()
    call_command("device_token", *args, stdout=out)
    return out.getvalue().strip().splitlines()


def test_it_creates_a_device_and_prints_its_token_last(client, db):
    lines = run_device_token("Pass 1", "--role", "kds")
    token = lines[-1]
    device = Device.objects.get(name="Pass 1")
    assert device.role == Device.Role.KDS
    assert access.device_from_token(token) == device
    assert token not in device.token_hash


def test_it_refuses_to_create_a_device_twice(db):
    run_device_token("Till 2", "--role", "till")
    with pytest.raises(CommandError, match="--rotate"):
        run_device_token("Till 2", "--role", "till")


def test_it_rotates_a_token_and_unpairs_browsers_of_the_old_one(client, till):
    client.post("/pair/", {"token": till.token})
    new_token = run_device_token("Till 1", "--rotate")[-1]
    assert device_of(client) is None
    assert access.device_from_token(till.token) is None
    assert access.device_from_token(new_token) == till


def test_it_reactivates_a_revoked_device_on_rotation(till):
    pairing.revoke_device(device=till)
    new_token = run_device_token("Till 1", "--rotate")[-1]
    assert access.device_from_token(new_token) == till


def test_it_needs_a_role_to_create_a_device(db):
    with pytest.raises(CommandError, match="--role"):
        run_device_token("Mystery")


def test_it_refuses_to_rotate_under_another_role(till):
    with pytest.raises(CommandError):
        run_device_token("Till 1", "--rotate", "--role", "kiosk")


# --- pairing codes ------------------------------------------------------------------------------------


def test_it_pairs_a_screen_with_a_pairing_code_once(client, kds_screen):
    code = pairing.issue_pairing_code(device=kds_screen)
    assert len(code) == 6 and code.isdigit()
    response = client.post("/pair/", {"token": code})
    assert response.status_code == 302
    assert device_of(client) == kds_screen
    # The code is spent; the device's token still works.
    assert pairing.pair_with_token(token=code, address="10.0.0.9") is None
    assert access.device_from_token(kds_screen.token) == kds_screen


def test_it_keeps_pairing_codes_out_of_the_database_in_clear(kds_screen):
    code = pairing.issue_pairing_code(device=kds_screen)
    kds_screen.refresh_from_db()
    assert code not in kds_screen.pairing_code_hash


def test_it_refuses_an_expired_pairing_code(client, kds_screen):
    from datetime import timedelta

    from django.utils import timezone

    code = pairing.issue_pairing_code(device=kds_screen)
    Device.objects.filter(pk=kds_screen.pk).update(pairing_code_expires_at=timezone.now() - timedelta(seconds=1))
    assert client.post("/pair/", {"token": code}).status_code == 400


def test_it_cancels_the_code_of_a_revoked_device(client, kds_screen):
    code = pairing.issue_pairing_code(device=kds_screen)
    pairing.revoke_device(device=kds_screen)
    assert client.post("/pair/", {"token": code}).status_code == 400


def test_wrong_codes_never_cancel_the_real_one(kds_screen):
    """Guessers from many addresses cannot void the manager's code (each address is limited instead)."""
    code = pairing.issue_pairing_code(device=kds_screen)
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    for attempt in range(40):
        assert pairing.pair_with_token(token=wrong, address=f"10.0.{attempt % 2}.1") is None
    assert pairing.pair_with_token(token=code, address="10.0.99.1") == kds_screen


def test_an_address_that_guesses_codes_is_stopped(client, kds_screen):
    code = pairing.issue_pairing_code(device=kds_screen)
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    for _ in range(pairing.PAIRING_MAX_FAILURES):
        assert client.post("/pair/", {"token": wrong}).status_code == 400
    assert client.post("/pair/", {"token": code}).status_code == 429  # this address: blocked for a while
    assert pairing.pair_with_token(token=code, address="10.0.0.7") == kds_screen  # the code still works


def test_it_shows_pairing_codes_in_the_admin(client, manager, kds_screen):
    client.force_login(manager)
    response = client.post("/admin/accounts/device/", {"action": "show_pairing_codes", "_selected_action": [kds_screen.pk]})
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    import re

    [code] = re.findall(r"data-pairing-code>(\d{6})<", response.content.decode())
    assert pairing.pair_with_token(token=code, address="10.0.0.2") == kds_screen
