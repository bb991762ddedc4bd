"""A server's evening on the tablet till, in Chromium against a real `manage.py serve`.

Table 4, two covers: two steaks (one saignant, one à point with extra sauce) and a dessert held as
course 2; send; fire the dessert; split the bill in two; half in cash, half by card.
"""

import json
import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import device_token, log_in, pair

pytestmark = pytest.mark.e2e



def shell(manage, code: str):
    """Run Python in the server's database and return what it printed, parsed as JSON."""
    return json.loads(manage("shell", "-c", code).strip().splitlines()[-1])


@pytest.fixture(scope="module")
def till_page_setup(live_server, demo, manage):
    return device_token(manage, "E2E till", "till")


@pytest.fixture
def till_page(page: Page, live_server, till_page_setup) -> Page:
    pair(page, live_server, till_page_setup)
    log_in(page, live_server)
    return page


def pick_category(page: Page, name: str) -> None:
    page.locator("[data-show-cat]", has_text=name).click()


def test_it_serves_table_4_from_order_to_split_payment(till_page: Page, live_server, manage):
    page = till_page
    page.goto(f"{live_server.base_url}/till/")
    page.click('[data-table="4"]')
    page.locator("#modal button[name=covers][value='2']").click()
    page.wait_for_url(re.compile(r"/till/orders/\d+/$"))
    order_id = int(re.search(r"/orders/(\d+)/", page.url).group(1))

    # Steak 1: saignant, seat 1.
    pick_category(page, "Plats")
    page.locator(".item-btn", has_text="Entrecôte frites").click()
    picker = page.locator("#picker-form")
    picker.locator("label.choice", has_text="Saignant").click()
    picker.locator("label.choice:has(input[name=seat][value='1'])").click()
    picker.locator("#picker-add").click()
    expect(page.locator("#ticket .line")).to_have_count(1)

    # Steak 2: à point with extra sauce, seat 2.
    page.locator(".item-btn", has_text="Entrecôte frites").click()
    picker = page.locator("#picker-form")
    picker.locator("label.choice", has_text="À point").click()
    picker.locator("label.choice", has_text="Sauce au poivre").click()
    picker.locator("label.choice:has(input[name=seat][value='2'])").click()
    picker.locator("#picker-add").click()
    expect(page.locator("#ticket .line")).to_have_count(2)

    # The dessert goes with course 2, which is held.
    pick_category(page, "Desserts")
    page.locator("#entry-ctx label.choice:has(input[name=course][value='2'])").click()
    page.locator(".item-btn", has_text="Crème brûlée").click()
    expect(page.locator("#ticket .line")).to_have_count(3)
    page.locator('[data-course="2"] [data-action="hold"]').click()
    expect(page.locator('#ticket .line[data-status="held"]')).to_have_count(1)

    page.click("#send-button")
    expect(page.locator('#ticket .line[data-status="sent"]')).to_have_count(2)
    expect(page.locator('#ticket .line[data-status="held"]')).to_have_count(1)

    page.locator('[data-course="2"] [data-action="fire"]').click()
    expect(page.locator('#ticket .line[data-status="sent"]')).to_have_count(3)
    expect(page.locator("#order-total")).to_contain_text("57,50")

    # The bill, in two equal parts: 28,75 € each.
    page.click('[data-action="bill"]')
    page.click('[data-split-equal="2"]')
    expect(page.locator("#split-parts li")).to_have_count(2)
    page.locator("#split-parts [data-pay-part]").first.click()
    expect(page.locator("#pay-amount")).to_have_value("28.75")
    page.locator("label.choice:has(input[name=method][value=cash])").click()
    page.fill("#pay-tendered", "30.00")
    page.click("#take-payment")
    expect(page.locator("#change-due")).to_contain_text("1,25")
    expect(page.locator("#amount-due")).to_contain_text("28,75")

    page.locator("label.choice:has(input[name=method][value=card])").click()
    expect(page.locator("#pay-amount")).to_have_value("28.75")
    page.click("#take-payment")
    page.wait_for_url(re.compile(r"/receipt/"))
    expect(page.locator("#receipt")).to_contain_text("57,50")

    state = shell(manage, (
        "import json; from orders.models import Order; o = Order.objects.get(pk=%d); "
        "print(json.dumps({'status': o.status, 'covers': o.covers, 'table': o.table.label, "
        "'payments': sorted([p.method, str(p.amount)] for p in o.payments.all()), "
        "'lines': sorted([l.name, l.status, l.course, l.seat, sorted(m.name for m in l.modifiers.all())] for l in o.lines.all())}))"
    ) % order_id)
    assert state["status"] == "paid" and state["covers"] == 2 and state["table"] == "4"
    assert state["payments"] == [["card", "28.75"], ["cash", "28.75"]]
    assert state["lines"] == [
        ["Crème brûlée", "sent", 2, None, []],
        ["Entrecôte frites", "sent", 1, 1, ["Saignant"]],
        ["Entrecôte frites", "sent", 1, 2, ["Sauce au poivre", "À point"]],
    ]


def test_it_shows_a_script_note_as_text_on_the_ticket(till_page: Page, live_server):
    page = till_page
    page.goto(f"{live_server.base_url}/till/")
    page.click('[data-table="7"]')
    page.locator("#modal button[name=covers][value='1']").click()
    page.wait_for_url(re.compile(r"/till/orders/\d+/$"))
    pick_category(page, "Plats")
    page.locator(".item-btn", has_text="Entrecôte frites").click()
    page.locator("#picker-form label.choice", has_text="Bleu").click()
    page.fill("#picker-note", "<script>window.pwned = 1</script>")
    page.click("#picker-add")
    expect(page.locator("#ticket .note")).to_have_text("<script>window.pwned = 1</script>")
    assert page.evaluate("window.pwned") is None


def test_it_greys_out_an_item_86d_elsewhere_without_a_reload(till_page: Page, live_server, manage):
    page = till_page
    page.goto(f"{live_server.base_url}/till/")
    page.click('[data-table="8"]')
    page.locator("#modal button[name=covers][value='2']").click()
    page.wait_for_url(re.compile(r"/till/orders/\d+/$"))
    pick_category(page, "Desserts")
    tatin = page.locator(".item-btn", has_text="Tarte Tatin")
    expect(tatin).not_to_have_class(re.compile("is-86"))
    page.wait_for_function("document.body && !document.body.classList.contains('menu-offline')")
    page.wait_for_timeout(300)  # the socket is open and subscribed

    # The 86 happens in the server's process (the in-memory channel layer only reaches it there):
    # through the till's own JSON API, as the kitchen's "86" button would.
    item_id = shell(manage, "from orders.models import Item; print(Item.objects.get(name='Tarte Tatin').pk)")
    manage("shell", "-c", f"from orders.models import Item; Item.objects.filter(pk={item_id}).update(remaining=1)")
    # One portion left: order it from another till; the decrement is published from the server.
    other = device_token(manage, "E2E till 2", "till")
    status = page.evaluate(
        """async ([url, token, item]) => {
            const r = await fetch(url, {method: "POST", headers: {"Authorization": "Bearer " + token, "Content-Type": "application/json"},
                body: JSON.stringify({idempotency_key: "tatin-1", order_type: "take_away", lines: [{item: item, quantity: 1}]})});
            return r.status; }""",
        [f"{live_server.base_url}/api/v1/orders/", other, item_id],
    )
    assert status == 201
    expect(tatin).to_have_class(re.compile("is-86"), timeout=2000)
    expect(tatin).to_be_disabled()
