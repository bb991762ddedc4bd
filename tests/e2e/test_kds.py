"""Kitchen screens in Chromium against a real `manage.py serve`: orders arrive on every screen of a
station and on expo, a bump clears both screens, the bump bar works, and screens recover by
themselves from a dropped connection and from a server crash."""

import re
import uuid

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import api, device_token, pair

pytestmark = pytest.mark.e2e

# Generous: a screen retries with backoff (up to 10 s) and the server may be restarting.
RECOVERY_MS = 30_000


@pytest.fixture(scope="module")
def kitchen(live_server, demo, manage) -> dict:
    """Tokens of two grill screens, an expo screen, a bar screen, a ready board and an integration."""
    return {
        "grill_a": device_token(manage, "E2E grill A", "kds"),
        "grill_b": device_token(manage, "E2E grill B", "kds"),
        "expo": device_token(manage, "E2E expo", "kds"),
        "bar": device_token(manage, "E2E bar", "kds"),
        "board": device_token(manage, "E2E ready board", "kds"),
        "api": device_token(manage, "E2E orders", "integration"),
    }


@pytest.fixture
def screen(browser, browser_context_args, live_server, kitchen):
    """Open a kitchen screen in its own browser (context), paired with its own device token."""
    contexts = []

    def open_screen(name: str, path: str) -> Page:
        context = browser.new_context(**browser_context_args)
        contexts.append(context)
        page = context.new_page()
        pair(page, live_server, kitchen[name])
        page.goto(f"{live_server.base_url}{path}")
        expect(page.locator("#kds")).to_have_attribute("data-state", "live")
        return page

    yield open_screen
    for context in contexts:
        context.close()



def send_order(server, kitchen, *names: str) -> dict:
    """Post an order through the JSON API (first choice of every required modifier group)."""
    menu = api(server, kitchen["api"], "menu/")
    items = {item["name"]: item for category in menu["categories"] for item in category["items"]}
    lines = []
    for name in names:
        item = items[name]
        modifiers = [g["modifiers"][0]["id"] for g in item["modifier_groups"] if g.get("min", 0) >= 1]
        lines.append({"item": item["id"], "quantity": 1, "modifiers": modifiers})
    body = {"idempotency_key": str(uuid.uuid4()), "order_type": "take_away", "lines": lines}
    return api(server, kitchen["api"], "orders/", body)


def card(page: Page, order: dict):
    return page.locator(f'#tickets .ticket[data-order-id="{order["id"]}"]')


def test_it_shows_an_order_on_both_grill_screens_and_expo_and_one_bump_clears_both(screen, live_server, kitchen):
    grill_a = screen("grill_a", "/kitchen/grill/")
    grill_b = screen("grill_b", "/kitchen/grill/")
    expo = screen("expo", "/kitchen/expo/")
    order = send_order(live_server, kitchen, "Entrecôte frites", "Coca-Cola 33cl")

    for page in (grill_a, grill_b, expo):
        expect(card(page, order)).to_be_visible()
        expect(card(page, order)).to_have_attribute("data-seq", re.compile(r"^\d+$"))
    expect(card(grill_a, order)).to_contain_text("ENTRECOTE")
    expect(card(expo, order).locator('.progress .chip[data-station="grill"]')).to_be_visible()

    card(grill_a, order).locator("form.bump button").click()
    expect(card(grill_a, order)).to_have_count(0)
    expect(card(grill_b, order)).to_have_count(0)
    expect(grill_b.locator(".recall-btn", has_text=f'#{order["number"]}')).to_be_visible()
    expect(card(expo, order).locator('.progress .chip-done[data-station="grill"]')).to_be_visible()


def test_it_works_from_the_bump_bar_and_moves_the_number_on_the_ready_board(screen, live_server, kitchen):
    bar = screen("bar", "/kitchen/bar/")
    board = screen("board", "/kitchen/ready/")
    order = send_order(live_server, kitchen, "Coca-Cola 33cl")
    number = str(order["number"])
    expect(card(bar, order)).to_be_visible()
    expect(board.locator(".ready-preparing li", has_text=number)).to_be_visible()

    bar.keyboard.press(card(bar, order).get_attribute("data-position"))  # a card's number on the page selects it
    expect(card(bar, order)).to_have_class(re.compile(r"\bselected\b"))
    bar.keyboard.press("Enter")  # bump
    expect(card(bar, order)).to_have_count(0)
    expect(board.locator(".ready-ready li", has_text=number)).to_be_visible()

    bar.keyboard.press("r")  # recall the last bumped
    expect(card(bar, order)).to_be_visible()
    expect(board.locator(".ready-preparing li", has_text=number)).to_be_visible()


def test_it_catches_up_after_the_connection_drops(screen, live_server, kitchen):
    """The grill screen's link goes down (its socket is closed and new ones are refused), two orders
    are sent meanwhile; when the link is back the screen resumes from its last seq and shows both."""
    grill = screen("grill_a", "/kitchen/grill/")
    link = {"up": True, "routes": []}

    def route(ws):
        if not link["up"]:
            ws.close(code=1011)  # the server side is unreachable
            return
        ws.connect_to_server()
        link["routes"].append(ws)

    grill.route_web_socket(re.compile(r"/ws/kds/"), route)
    grill.reload()  # the page's socket now goes through the route
    expect(grill.locator("#kds")).to_have_attribute("data-state", "live")

    link["up"] = False
    for ws in link["routes"]:
        ws.close(code=1001)  # a clean "going away": htmx alone would never reconnect after it
    expect(grill.locator("#kds")).to_have_attribute("data-state", "reconnecting")
    expect(grill.locator("#kds-overlay")).to_be_visible()

    first = send_order(live_server, kitchen, "Burger du chef")
    second = send_order(live_server, kitchen, "Entrecôte frites")
    grill.wait_for_timeout(1000)
    expect(card(grill, first)).to_have_count(0)  # not shown while down: the screen says it is stale

    link["up"] = True
    expect(grill.locator("#kds")).to_have_attribute("data-state", "live", timeout=RECOVERY_MS)
    expect(grill.locator("#kds-overlay")).to_be_hidden()
    expect(card(grill, first)).to_be_visible(timeout=RECOVERY_MS)
    expect(card(grill, second)).to_be_visible()


def test_every_screen_recovers_by_itself_after_the_server_is_killed(screen, live_server, kitchen):
    grill = screen("grill_b", "/kitchen/grill/")
    expo = screen("expo", "/kitchen/expo/")
    before = send_order(live_server, kitchen, "Burger du chef")
    expect(card(grill, before)).to_be_visible()

    live_server.restart(crash=True)  # kill -9, then start again on the same port and data dir
    for page in (grill, expo):
        expect(page.locator("#kds")).to_have_attribute("data-state", "live", timeout=RECOVERY_MS)

    after = send_order(live_server, kitchen, "Entrecôte frites")
    for page in (grill, expo):
        expect(card(page, before)).to_be_visible()
        expect(card(page, after)).to_be_visible(timeout=RECOVERY_MS)
