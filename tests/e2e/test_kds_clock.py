"""The kitchen screen's clock shows the restaurant's time (TIME_ZONE), not the screen's own zone."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import device_token, pair

pytestmark = pytest.mark.e2e


def test_the_clock_shows_the_restaurants_time_on_a_screen_set_to_another_zone(browser, browser_context_args, live_server, demo, manage):
    token = device_token(manage, "E2E clock screen", "kds")
    # A TV left on New York time: six hours behind Paris, so the two clocks can never agree.
    context = browser.new_context(**{**browser_context_args, "timezone_id": "America/New_York"})
    try:
        page = context.new_page()
        pair(page, live_server, token)
        page.goto(f"{live_server.base_url}/kitchen/grill/")
        clock = page.locator("#kds-clock")
        expect(clock).to_have_attribute("data-time-zone", "Europe/Paris")
        expect(clock).not_to_have_text("")
        shown = clock.text_content().strip()
        paris = dt.datetime.now(ZoneInfo("Europe/Paris"))
        # The minute may turn between the page's tick and this line.
        allowed = {(paris + dt.timedelta(minutes=m)).strftime("%H:%M") for m in (-1, 0, 1)}
        assert shown in allowed, (shown, sorted(allowed))
        assert page.evaluate("new Date().getTimezoneOffset()") != -paris.utcoffset().total_seconds() / 60
    finally:
        context.close()
