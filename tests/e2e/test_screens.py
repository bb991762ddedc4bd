"""Every screen staff and customers see, in French and English, at the sizes they are used at.

Each page is opened at tablet (1280×800), kiosk portrait (1080×1920) and kitchen TV (1920×1080) sizes,
in both languages. The check fails when an element sticks out of its box sideways, when text is clipped
(a box that hides overflow holds wider content), or when the page scrolls sideways. Every page is saved
as a PNG in test-results/screens/ (named page-language-size.png) so that a person can look at all of
them: the check finds overflow, only a person finds ugliness.
"""

import json
import re
import uuid

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import ROOT, LiveServer, api, device_token, log_in, pair

pytestmark = pytest.mark.e2e

SHOTS = ROOT / "test-results" / "screens"
SIZES = {"tablet": (1280, 800), "kiosk": (1080, 1920), "tv": (1920, 1080)}
LANGUAGES = {"fr": "fr-FR", "en": "en-US"}

# Finds what a person would see as broken layout. Elements that are not drawn, screen-reader-only text
# and boxes that scroll on purpose are left out. A 1 px tolerance absorbs sub-pixel rounding.
OVERFLOW_JS = """
() => {
  const problems = [];
  const describe = (el) => {
    let name = el.tagName.toLowerCase();
    if (el.id) name += '#' + el.id;
    if (el.classList.length) name += '.' + [...el.classList].join('.');
    const text = (el.innerText || el.value || '').trim().replace(/\\s+/g, ' ').slice(0, 40);
    return text ? `${name} "${text}"` : name;
  };
  // Django's admin lays out its own columns (a sidebar in the content's margin, full-height containers,
  // icon buttons that hide their label, a change-list form 20 px wider than its container at every
  // width): there only sideways overflow of our content is checked, inside those.
  const isAdmin = document.body.hasAttribute('data-admin-utc-offset');
  const adminLayout = (el) => isAdmin && el.matches(
    '#content.colMS, .selector-chooseall, .selector-clearall, .selector-add, .selector-remove, ' +
    '.changelist-form-container, #changelist-form');
  const root = document.documentElement;
  if (root.scrollWidth > root.clientWidth + 1) {  // checked before the loop: the page itself may scroll down
    problems.push(`the page scrolls sideways (${root.scrollWidth}px wide in ${root.clientWidth}px)`);
  }
  const drawn = (el) => {
    // Icon buttons that push their label out of sight on purpose (the admin's selector arrows).
    if (parseFloat(getComputedStyle(el).textIndent) <= -100) return false;
    const style = getComputedStyle(el);
    if (style.display === 'none' || style.visibility === 'hidden' || style.visibility === 'collapse') return false;
    const rect = el.getBoundingClientRect();
    if (rect.width < 2 || rect.height < 2) return false;  // screen-reader-only text, empty boxes
    return !el.closest('[hidden], dialog:not([open]), template');
  };
  for (const el of document.body.querySelectorAll('*')) {
    if (!drawn(el) || el.clientWidth === 0 || adminLayout(el)) continue;  // inline elements have no box of their own
    const overflowX = getComputedStyle(el).overflowX;
    if (overflowX === 'auto' || overflowX === 'scroll') continue;  // scrolls on purpose
    if (el.scrollWidth > el.clientWidth + 1) {
      const what = overflowX === 'visible' ? 'has content sticking out' : 'clips its content';
      problems.push(`${describe(el)} ${what} (${el.scrollWidth}px in ${el.clientWidth}px)`);
    }
    // Downwards too, for boxes of a fixed height (a bar, a button) whose content drops out of them.
    const overflowY = getComputedStyle(el).overflowY;
    if (!isAdmin && overflowY !== 'auto' && overflowY !== 'scroll' && el.clientHeight > 0 && el.scrollHeight > el.clientHeight + 1) {
      const what = overflowY === 'visible' ? 'has content falling out of it' : 'clips its content';
      problems.push(`${describe(el)} ${what} (${el.scrollHeight}px high in ${el.clientHeight}px)`);
    }
  }
  return [...new Set(problems)].slice(0, 20);
}
"""


# Every piece of text a person can read: text nodes, tooltips, placeholders, labels for screen readers.
TEXTS_JS = """
() => {
  const texts = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const parent = node.parentElement;
    if (!parent || parent.closest('script, style, template, [hidden]')) continue;
    const text = node.textContent.trim();
    if (text) texts.push(text);
  }
  for (const el of document.querySelectorAll('[title], [placeholder], [aria-label], input[type=submit][value]')) {
    for (const name of ['title', 'placeholder', 'aria-label']) {
      const value = el.getAttribute(name);
      if (value && value.trim()) texts.push(value.trim());
    }
    if (el.matches('input[type=submit]')) texts.push(el.value.trim());
  }
  return texts;
}
"""


def english_msgids() -> set[str]:
    """Our catalogue's English texts that French reads differently: seeing one on a French page means a
    string escaped translation. Single short words shared by both languages ("Bar", "Total") and texts
    with placeholders are left out."""
    from tests.test_translations import FR_PO, read_po

    found = set()
    for entry in read_po(FR_PO):
        msgid, french = entry["msgid"], entry["msgstr"].get(None) or entry["msgstr"].get(0)
        if not msgid or not french or french == msgid or len(msgid) < 4 or not re.search(r"[A-Za-z]{3}", msgid):
            continue
        if re.search(r"%\(|%s|%d|\{", msgid):
            continue
        found.add(msgid)
    return found




@pytest.fixture(scope="module")
def cloud(live_server, tmp_path_factory):
    """The owner's cloud (KDS_ROLE=cloud) beside the store, with the store registered and an owner."""
    server = LiveServer(data_dir=tmp_path_factory.mktemp("cloud"), extra_env={"KDS_ROLE": "cloud"})
    server.manage("migrate", "--no-input", "-v", "0")
    key = tmp_path_factory.mktemp("key") / "store.pem"
    key.write_text(live_server.manage("fiscal_public_key"))
    server.manage("store_register", "Bistrot Rivoli", "--public-key-file", str(key))
    server.manage("shell", "-c", "from accounts.models import User; User.objects.create_user('owner', "
                  "password='brigade-owner-2026', first_name='Owner', role='manager', is_staff=True)")
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def restaurant(live_server, demo, manage, browser, tmp_path_factory, cloud) -> dict:
    """A restaurant in service: a table with a long ticket, a paid order, tickets on the kitchen
    screens; and, per device, a browser state (cookies) to open its pages with."""
    till = device_token(manage, "Screens till", "till")
    kds = device_token(manage, "Screens kitchen", "kds")
    kiosk = device_token(manage, "Screens kiosk", "kiosk")

    menu = api(live_server, till, "menu/")
    items = [item for category in menu["categories"] for item in category["items"]
             if not item.get("is_set_menu") and not item.get("modifier_groups")]
    # The longest names make the hardest tickets.
    items.sort(key=lambda item: -len(item["name"]))
    lines = [{"item": item["id"], "quantity": 1 + i % 3, "note": "Sans sel, allergie — voir le serveur" if i == 0 else ""}
             for i, item in enumerate(items[:12])]
    open_order = api(live_server, till, "orders/", {
        "idempotency_key": str(uuid.uuid4()), "order_type": "eat_in", "table": "4", "lines": lines})
    paid = api(live_server, till, "orders/", {
        "idempotency_key": str(uuid.uuid4()), "order_type": "take_away", "lines": lines[:4]})
    api(live_server, till, f"orders/{paid['id']}/payments/", {
        "idempotency_key": str(uuid.uuid4()), "method": "cash", "amount": str(int(float(paid["total"])) + 10)})

    states = tmp_path_factory.mktemp("states")

    def state(name: str, setup) -> str:
        context = browser.new_context()
        page = context.new_page()
        setup(page)
        path = str(states / f"{name}.json")
        context.storage_state(path=path)
        context.close()
        return path

    return {
        "open_order": open_order["id"],
        "paid_order": paid["id"],
        "unpaired": state("unpaired", lambda page: None),
        "till": state("till", lambda page: pair(page, live_server, till)),
        "server": state("server", lambda page: (pair(page, live_server, till), log_in(page, live_server, "alice", "1234"))),
        "manager_pin": state("manager_pin", lambda page: (pair(page, live_server, till), log_in(page, live_server, "marie", "9999"))),
        "kitchen": state("kitchen", lambda page: pair(page, live_server, kds)),
        "kiosk": state("kiosk", lambda page: pair(page, live_server, kiosk)),
        "admin": state("admin", lambda page: admin_login(page, live_server)),
        "cloud": cloud.base_url,
        "cloud_owner": state("cloud_owner", lambda page: admin_login(page, cloud, "owner", "brigade-owner-2026")),
    }


def admin_login(page: Page, server, username: str = "marie", password: str = "brigade-demo-2026") -> None:
    page.goto(f"{server.base_url}/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("input[type=submit]")
    page.wait_for_url(re.compile(r"/admin/$"))


def kiosk_basket(page: Page, base: str) -> None:
    page.goto(f"{base}/kiosk/")
    page.click("button[name=order_type][value=eat_in]")
    page.wait_for_url(re.compile(r"/kiosk/menu/$"))
    page.locator("[data-show-cat]").nth(3).click()
    page.locator(".kiosk-items:not([hidden]) .kiosk-item").first.click()
    expect(page.locator("#basket-lines li")).to_have_count(1)


# page name -> (browser state, how to reach it)
SCREENS = {
    "pairing": ("unpaired", lambda page, base, r: page.goto(f"{base}/pair/")),
    "pin-login": ("till", lambda page, base, r: page.goto(f"{base}/login/")),
    "floor-plan": ("server", lambda page, base, r: page.goto(f"{base}/till/")),
    "order-full-ticket": ("server", lambda page, base, r: page.goto(f"{base}/till/orders/{r['open_order']}/")),
    "bill": ("server", lambda page, base, r: page.goto(f"{base}/till/orders/{r['open_order']}/bill/")),
    "receipt": ("server", lambda page, base, r: page.goto(f"{base}/till/orders/{r['paid_order']}/receipt/")),
    "orders-list": ("server", lambda page, base, r: page.goto(f"{base}/till/orders/")),
    "kiosk-attract": ("kiosk", lambda page, base, r: page.goto(f"{base}/kiosk/")),
    "kiosk-menu-basket": ("kiosk", lambda page, base, r: kiosk_basket(page, base)),
    "kiosk-confirm": ("kiosk", lambda page, base, r: (kiosk_basket(page, base), page.click("#to-confirm"))),
    "kitchen-grill": ("kitchen", lambda page, base, r: page.goto(f"{base}/kitchen/grill/")),
    "kitchen-expo": ("kitchen", lambda page, base, r: page.goto(f"{base}/kitchen/expo/")),
    "kitchen-ready": ("kitchen", lambda page, base, r: page.goto(f"{base}/kitchen/ready/")),
    "admin-index": ("admin", lambda page, base, r: page.goto(f"{base}/admin/")),
    "admin-items": ("admin", lambda page, base, r: page.goto(f"{base}/admin/orders/item/")),
    "admin-item-form": ("admin", lambda page, base, r: page.goto(f"{base}/admin/orders/item/1/change/")),
    "admin-station-form": ("admin", lambda page, base, r: page.goto(f"{base}/admin/kds/station/1/change/")),
    "admin-staff-form": ("admin", lambda page, base, r: page.goto(f"{base}/admin/accounts/user/1/change/")),
    "admin-devices": ("admin", lambda page, base, r: page.goto(f"{base}/admin/accounts/device/")),
    "fiscal-verify": ("manager_pin", lambda page, base, r: page.goto(f"{base}/fiscal/verify/")),
    "fiscal-closures": ("manager_pin", lambda page, base, r: page.goto(f"{base}/fiscal/closures/")),
    "not-found": ("unpaired", lambda page, base, r: page.goto(f"{base}/fiscal/")),
    "cloud-stats": ("cloud_owner", lambda page, base, r: page.goto(f"{r['cloud']}/sync/v1/stats/")),
    "cloud-admin": ("cloud_owner", lambda page, base, r: page.goto(f"{r['cloud']}/admin/sync/store/")),
}


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("language", LANGUAGES)
def test_every_screen_fits_its_boxes(browser, live_server, restaurant, language, size):
    SHOTS.mkdir(parents=True, exist_ok=True)
    width, height = SIZES[size]
    broken = {}
    untranslated = english_msgids() if language == "fr" else set()
    for name, (state, reach) in SCREENS.items():
        context = browser.new_context(
            storage_state=restaurant[state], locale=LANGUAGES[language], viewport={"width": width, "height": height},
            extra_http_headers={"Accept-Language": LANGUAGES[language]},
        )
        try:
            page = context.new_page()
            reach(page, live_server.base_url, restaurant)
            page.wait_for_load_state("networkidle")
            if name.startswith("kitchen"):
                expect(page.locator("#kds")).to_have_attribute("data-state", "live")
            assert page.locator("html").get_attribute("lang") == language, f"{name} is not in {language}"
            page.screenshot(path=str(SHOTS / f"{name}-{language}-{size}.png"), full_page=True)
            problems = page.evaluate(OVERFLOW_JS)
            english = sorted({text for text in page.evaluate(TEXTS_JS) if text in untranslated})
            problems += [f"English on a French page: {text!r}" for text in english]
            if problems:
                broken[name] = problems
        finally:
            context.close()
    assert broken == {}, json.dumps(broken, indent=1, ensure_ascii=False)


def test_the_catalogue_scan_knows_our_english_texts():
    texts = english_msgids()
    assert "Page not found" in texts and "Back to the start page" in texts
    assert not any("%(" in text for text in texts)


def test_the_check_sees_an_overflow(page: Page):
    """The check can fail: a label wider than its button, and a clipped cell."""
    page.set_content(
        '<html lang="en"><body><div style="width:200px;border:1px solid"><button style="width:60px;display:block;'
        'white-space:nowrap">A much longer label</button></div>'
        '<p style="width:80px;overflow:hidden;white-space:nowrap">Text that is clipped here</p></body></html>'
    )
    problems = page.evaluate(OVERFLOW_JS)
    assert any("clips its content" in p and "Text that is clipped" in p for p in problems), problems
    assert any("button" in p and "sticking out" in p for p in problems), problems
    page.set_content('<html><body><div style="width:200px"><span style="display:inline-block;width:300px">wide</span></div></body></html>')
    assert any("sticking out" in p for p in page.evaluate(OVERFLOW_JS))
    page.set_content('<html><body><div style="width:200px"><span>fits</span></div></body></html>')
    assert page.evaluate(OVERFLOW_JS) == []
