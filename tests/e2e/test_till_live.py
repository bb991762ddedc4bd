"""Two till tablets and a grill screen in Chromium against a real `manage.py serve`: the floor plan of
one tablet follows the other's without a reload (over /ws/till/floor/, not the 4 s poll), and an order
marked rush on the till shows RUSH on the grill screen."""

import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import device_token, pair
from tests.e2e.test_till_flow import log_in, pick_category

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def tokens(live_server, demo, manage) -> dict:
    return {
        "till_a": device_token(manage, "E2E till A", "till"),
        "till_b": device_token(manage, "E2E till B", "till"),
        "grill": device_token(manage, "E2E grill", "kds"),
    }


@pytest.fixture
def device_page(browser, browser_context_args, live_server, tokens):
    """A page in its own browser (context), paired as the named device."""
    contexts = []

    def open_page(name: str) -> Page:
        context = browser.new_context(**browser_context_args)
        contexts.append(context)
        page = context.new_page()
        pair(page, live_server, tokens[name])
        return page

    yield open_page
    for context in contexts:
        context.close()


def floor_page(device_page, live_server, name: str) -> Page:
    page = device_page(name)
    log_in(page, live_server)
    page.goto(f"{live_server.base_url}/till/")
    # Live: the socket is open and the 4 s poll is off, so what follows can only come over the socket.
    expect(page.locator("body")).to_have_attribute("data-floor-live", "1")
    return page


def test_a_second_tablet_sees_table_4_taken_and_the_grill_sees_rush(device_page, live_server):
    first = floor_page(device_page, live_server, "till_a")
    second = floor_page(device_page, live_server, "till_b")
    table = second.locator('[data-table="4"]')
    expect(table).to_have_attribute("data-state", "free")
    second.evaluate("window.floorLoads = performance.getEntriesByType('navigation').length")

    first.click('[data-table="4"]')
    first.locator("#modal button[name=covers][value='2']").click()
    first.wait_for_url(re.compile(r"/till/orders/\d+/$"))

    expect(table).to_have_attribute("data-state", "occupied", timeout=3000)
    expect(table).to_contain_text("2")
    assert second.evaluate("window.floorLoads") == 1  # the same page: no reload

    grill = device_page("grill")
    grill.goto(f"{live_server.base_url}/kitchen/grill/")
    expect(grill.locator("#kds")).to_have_attribute("data-state", "live")

    pick_category(first, "Plats")
    first.locator(".item-btn", has_text="Confit de canard").click()
    expect(first.locator("#ticket .line")).to_have_count(1)
    first.click("#send-button")
    expect(first.locator('#ticket .line[data-status="sent"]')).to_have_count(1)
    order_id = re.search(r"/orders/(\d+)/", first.url).group(1)
    ticket = grill.locator(f'#tickets .ticket[data-order-id="{order_id}"]')
    expect(ticket).to_be_visible()
    expect(ticket.locator(".badge-rush")).to_have_count(0)

    first.click('[data-action="rush"]')
    expect(first.locator("#rush-badge")).to_be_visible()
    expect(ticket).to_have_attribute("data-rush", "1")
    expect(ticket.locator(".badge-rush")).to_be_visible()
    expect(ticket.locator(".badge-rush")).to_have_text(re.compile("RUSH|URGENT"))
