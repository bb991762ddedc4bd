"""A Wi-Fi blip while sending: the tablet shows "reconnecting", keeps the action and resends it with the
same idempotency key; the server applies it once. Never a double order, never a lost one.

The blip is the nasty kind: the first request reaches the server and is applied, but its answer never
comes back (Playwright fetches it, then aborts the browser's request); the next tries are cut off
altogether for a moment; then the network is back.
"""

import json
import re
import time

import pytest
from playwright.sync_api import Page, Route, expect

from tests.e2e.conftest import device_token, pair

pytestmark = pytest.mark.e2e

BLIP_SECONDS = 2.0


class Blip:
    """A route handler: the first matching request is applied by the server but its answer is lost;
    requests in the next BLIP_SECONDS fail outright; then everything goes through."""

    def __init__(self, method: str = "POST"):
        self.method = method
        self.until = None
        self.attempts = 0
        self.keys = []

    def __call__(self, route: Route):
        request = route.request
        if request.method != self.method:
            route.continue_()
            return
        self.attempts += 1
        self.keys.append(request.headers.get("idempotency-key"))
        if self.until is None:
            route.fetch()  # the server gets it and answers…
            self.until = time.monotonic() + BLIP_SECONDS
            route.abort("internetdisconnected")  # …but the tablet never hears back
        elif time.monotonic() < self.until:
            route.abort("internetdisconnected")
        else:
            route.continue_()


def shell_json(manage, code: str):
    return json.loads(manage("shell", "-c", code).strip().splitlines()[-1])


@pytest.fixture(scope="module")
def tokens(live_server, demo, manage):
    return {"till": device_token(manage, "Blip till", "till"), "kiosk": device_token(manage, "Blip kiosk", "kiosk")}


@pytest.fixture
def till_page(page: Page, live_server, tokens) -> Page:
    pair(page, live_server, tokens["till"])
    page.goto(f"{live_server.base_url}/login/")
    page.click('a[data-user="alice"]')
    page.fill('input[name="pin"]', "1234")
    page.click('.pin-form button[type="submit"]')
    page.wait_for_load_state("networkidle")
    return page


def test_it_sends_to_the_kitchen_once_through_a_blip(till_page: Page, live_server, manage):
    page = till_page
    page.goto(f"{live_server.base_url}/till/")
    page.click('[data-table="5"]')
    page.locator("#modal button[name=covers][value='2']").click()
    page.wait_for_url(re.compile(r"/till/orders/\d+/$"))
    order_id = int(re.search(r"/orders/(\d+)/", page.url).group(1))
    page.locator("[data-show-cat]", has_text="Desserts").click()
    page.locator(".item-btn", has_text="Crème brûlée").click()
    page.locator(".item-btn", has_text="Tarte Tatin").click()
    expect(page.locator("#ticket .line")).to_have_count(2)

    blip = Blip()
    page.route("**/send/", blip)
    page.click("#send-button")
    expect(page.locator("#net-status")).to_be_visible()
    expect(page.locator('#ticket .line[data-status="sent"]')).to_have_count(2, timeout=15000)
    expect(page.locator("#net-status")).to_be_hidden()

    assert blip.attempts >= 2 and len(set(blip.keys)) == 1  # resent, always with the same key
    state = shell_json(manage, (
        "import json; from collections import Counter; from kds.models import Ticket; from orders.models import OrderLine; "
        f"t = Counter(Ticket.objects.filter(order_id={order_id}).values_list('station__slug', flat=True)); "
        f"print(json.dumps({{'tickets': t, 'sent': OrderLine.objects.filter(order_id={order_id}, status='sent').count()}}))"
    ))
    assert state["sent"] == 2
    assert state["tickets"] and max(state["tickets"].values()) == 1  # one ticket per station, not two


def test_it_places_one_take_away_order_through_a_blip(till_page: Page, live_server, manage):
    page = till_page
    before = shell_json(manage, "from orders.models import Order; print(Order.objects.filter(order_type='take_away', source='till').count())")
    page.goto(f"{live_server.base_url}/till/orders/new/?type=take_away")
    blip = Blip()
    page.route("**/orders/new/lines/", blip)
    page.locator("[data-show-cat]", has_text="Plats").click()
    page.locator(".item-btn", has_text="Croque-monsieur").click()
    expect(page.locator("#net-status")).to_be_visible()
    page.wait_for_url(re.compile(r"/till/orders/\d+/$"), timeout=15000)

    assert blip.attempts >= 2 and len(set(blip.keys)) == 1
    after = shell_json(manage, "from orders.models import Order; print(Order.objects.filter(order_type='take_away', source='till').count())")
    assert after == before + 1
    expect(page.locator("#ticket .line")).to_have_count(1)


def test_it_places_one_kiosk_order_through_a_blip(page: Page, live_server, manage, tokens):
    pair(page, live_server, tokens["kiosk"])
    page.goto(f"{live_server.base_url}/kiosk/")
    page.click("button[name=order_type][value=take_away]")
    page.locator("[data-show-cat]", has_text="Boissons").click()
    page.locator(".kiosk-item", has_text="Jus d'orange").click()
    expect(page.locator("#basket-lines li")).to_have_count(1)
    page.click("#to-confirm")

    blip = Blip()
    page.route("**/kiosk/confirm/", blip)
    page.click("#pay-card")
    expect(page.locator("#net-status")).to_be_visible()
    page.wait_for_url(re.compile(r"/kiosk/orders/\d+/$"), timeout=15000)

    assert blip.attempts >= 2 and len(set(blip.keys)) == 1
    state = shell_json(manage, (
        "import json; from orders.models import Order, Payment; "
        "orders = Order.objects.filter(device__name='Blip kiosk'); "
        "print(json.dumps({'orders': orders.count(), 'payments': Payment.objects.filter(order__in=orders).count(), "
        "'status': [o.status for o in orders]}))"
    ))
    assert state == {"orders": 1, "payments": 1, "status": ["paid"]}
