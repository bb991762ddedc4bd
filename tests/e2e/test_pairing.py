"""A new tablet, in Chromium against a real `manage.py serve`: pair it by pasting its token, log in
by PIN, reach the till. Also: a wrong PIN says so, the language switch works before pairing."""

import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import device_token

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def zoe(manage) -> str:
    """A server with a PIN, made the way the admin makes one."""
    manage(
        "shell", "-c",
        "from accounts.models import User; from accounts.pins import set_pin; "
        "set_pin(user=User.objects.create_user('zoe', first_name='Zoé', role='server'), pin='2468')",
    )
    return "zoe"


def test_it_pairs_a_tablet_logs_in_by_pin_and_reaches_the_till(page: Page, live_server, manage, zoe):
    token = device_token(manage, "Tablet 3", "till")

    page.goto(f"{live_server.base_url}/")
    expect(page).to_have_url(re.compile(r"/pair/"))
    page.fill('input[name="token"]', token)
    page.click('form[action="/pair/"] button[type="submit"]')

    # Paired as a till: home asks who is there.
    expect(page).to_have_url(re.compile(r"/login/"))
    page.click(f'a[data-user="{zoe}"]')
    pin_pad = page.locator("#pin-panel")
    expect(pin_pad.locator(".pin-for")).to_have_text("Zoé")
    for digit in "2468":
        pin_pad.locator(f'[data-pin-key="{digit}"]').click()
    expect(pin_pad.locator('input[name="pin"]')).to_have_value("2468")
    pin_pad.locator('button[type="submit"]').click()

    # The till's home: the floor plan (home sends a till there once someone is logged in).
    expect(page).to_have_url(f"{live_server.base_url}/till/")
    expect(page.locator(".topbar .who")).to_have_text("Zoé")

    # The pairing outlives the browser session: a new tab of the same context is still a till.
    second = page.context.new_page()
    second.goto(f"{live_server.base_url}/login/")
    expect(second.locator(f'a[data-user="{zoe}"]')).to_be_visible()
    second.close()


def test_it_says_a_pin_is_wrong_without_logging_in(page: Page, live_server, manage, zoe):
    token = device_token(manage, "Tablet 4", "till")
    page.goto(f"{live_server.base_url}/pair/?token={token}")
    expect(page).to_have_url(re.compile(r"/login/"))
    page.click(f'a[data-user="{zoe}"]')
    page.fill('input[name="pin"]', "1111")
    page.click('.pin-form button[type="submit"]')
    expect(page.locator(".pin-error")).to_be_visible()
    expect(page.locator(".topbar .who")).to_have_count(0)


def test_it_refuses_a_wrong_token_and_switches_language_before_pairing(page: Page, live_server):
    page.goto(f"{live_server.base_url}/pair/")
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    page.click('.lang-switch button[value="en"]')
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page).to_have_url(re.compile(r"/pair/"))

    page.fill('input[name="token"]', "not-a-real-token")
    page.click('form[action="/pair/"] button[type="submit"]')
    expect(page.locator("#token-error")).to_be_visible()
    expect(page.locator("html")).to_have_attribute("lang", "en")
