"""A customer at the self-order kiosk, in Chromium against a real `manage.py serve`."""

import json
import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import device_token, pair

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def kiosk_token(live_server, demo, manage):
    return device_token(manage, "E2E kiosk", "kiosk")


@pytest.fixture
def kiosk_page(page: Page, live_server, kiosk_token) -> Page:
    pair(page, live_server, kiosk_token)
    page.goto(f"{live_server.base_url}/kiosk/")
    return page


def test_it_orders_a_take_away_set_menu_and_shows_its_number(kiosk_page: Page, live_server, manage):
    page = kiosk_page
    page.click("button[name=order_type][value=take_away]")
    page.wait_for_url(re.compile(r"/kiosk/menu/$"))

    page.locator("[data-show-cat]", has_text="Formules").click()
    page.locator(".kiosk-item", has_text="Formule midi").click()
    picker = page.locator("#picker-form")
    picker.locator("label.choice", has_text="Burger du chef").click()
    # Choosing the burger re-renders the dialog with its cooking options.
    picker.locator("label.choice", has_text="À point").click()
    picker.locator("label.choice", has=page.get_by_text("Frites", exact=True)).click()
    picker.locator("label.choice", has_text="Coca-Cola 33cl").click()
    picker.locator("#picker-add").click()
    expect(page.locator("#basket-lines li")).to_have_count(1)
    expect(page.locator("#basket-total")).to_contain_text("19,50")

    page.click("#to-confirm")
    page.click("#pay-counter")
    page.wait_for_url(re.compile(r"/kiosk/orders/\d+/$"))
    number = page.locator("#order-number").inner_text().strip()
    assert number.isdigit()

    order = json.loads(manage("shell", "-c", (
        "import json; from orders.models import Order; o = Order.objects.get(source='kiosk', number=%s); "
        "print(json.dumps({'type': o.order_type, 'status': o.status, 'total': str(o.total), "
        "'lines': [[l.name, l.status, [m.name for m in l.modifiers.all()]] for l in o.lines.order_by('id')]}))"
    ) % number).strip().splitlines()[-1])
    assert order["type"] == "take_away" and order["status"] == "open" and order["total"] == "19.50"
    assert order["lines"] == [
        ["Formule midi", "sent", []],
        ["Burger du chef", "sent", ["À point"]],
        ["Frites", "sent", []],
        ["Coca-Cola 33cl", "sent", []],
    ]


def test_it_switches_to_english_and_back_to_the_start_after_a_reset(kiosk_page: Page, live_server):
    page = kiosk_page
    page.click(".lang-switch button[value=en]")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    page.click("button[name=order_type][value=eat_in]")
    page.wait_for_url(re.compile(r"/kiosk/menu/$"))
    page.locator("[data-show-cat]", has_text="Boissons").click()
    page.locator(".kiosk-items:not([hidden]) .kiosk-item", has_text="Café").click()
    expect(page.locator("#basket-lines li")).to_have_count(1)

    page.locator("nav.kiosk-cats form button").click()  # "Start over"
    page.wait_for_url(re.compile(r"/kiosk/$"))
    expect(page.locator("html")).to_have_attribute("lang", "fr")


def test_it_asks_if_the_customer_is_still_there_then_starts_over(kiosk_page: Page, live_server):
    page = kiosk_page
    page.click("button[name=order_type][value=eat_in]")
    page.wait_for_url(re.compile(r"/kiosk/menu/$"))
    # Shorten the timers for the test (60 s idle and a 15 s prompt in service).
    page.evaluate("document.getElementById('kiosk-config').dataset.idle = '1'")
    page.mouse.click(5, 200)
    expect(page.locator("#still-there")).to_be_visible(timeout=5000)
    page.click("[data-start-over]")
    page.wait_for_url(re.compile(r"/kiosk/$"))
