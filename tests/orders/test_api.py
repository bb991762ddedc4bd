"""JSON API /api/v1/: its contracts (paths, shapes, error format) and every kind of bad input."""

import json
from decimal import Decimal

import pytest
from django.test import Client

from orders.actions import menu as menu_actions
from orders.models import CustomerAccount, IdempotentRequest, Item, Order, OrderLine, Payment
from tests.orders.conftest import formule_line

D = Decimal


@pytest.fixture
def api(client, till):
    """A JSON client with the till's bearer token: api.post(path, body) / api.get(path)."""
    return ApiClient(client, till.token)


class ApiClient:
    def __init__(self, client: Client, token: str | None):
        self.client = client
        self.headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}

    def get(self, path, **extra):
        return self.client.get(f"/api/v1/{path}", **self.headers, **extra)

    def post(self, path, body, content_type="application/json", **extra):
        data = body if isinstance(body, (str, bytes)) else json.dumps(body)
        return self.client.post(f"/api/v1/{path}", data=data, content_type=content_type, **self.headers, **extra)


def order_body(menu, key="k-1", **overrides):
    body = {
        "idempotency_key": key,
        "order_type": "eat_in",
        "table": "4",
        "covers": 2,
        "lines": [
            {"item": menu.steak.pk, "quantity": 2, "modifiers": [menu.saignant.pk, menu.poivre.pk], "note": "sans sel"},
            {"item": menu.dessert.pk, "quantity": 1},
        ],
    }
    body.update(overrides)
    return body


# --- Menu -----------------------------------------------------------------------------------------------


def test_it_serves_the_menu_with_ids_prices_vat_and_modifiers(api, menu):
    response = api.get("menu/")
    assert response.status_code == 200
    items = {i["name"]: i for c in response.json()["categories"] for i in c["items"]}
    steak = items["Entrecôte"]
    assert steak["id"] == menu.steak.pk and steak["price"] == "24.00"
    assert steak["vat"] == {"eat_in": "10.00", "take_away": "10.00"}
    cuisson = next(g for g in steak["modifier_groups"] if g["name"] == "Cuisson")
    assert (cuisson["min"], cuisson["max"]) == (1, 1)
    assert {m["name"] for m in cuisson["modifiers"]} == {"Bleu", "Saignant", "À point"}
    supplements = next(g for g in steak["modifier_groups"] if g["name"] == "Suppléments")
    assert {m["price_delta"] for m in supplements["modifiers"]} == {"1.50"}
    assert items["Verre de Bordeaux"]["vat"]["eat_in"] == "20.00"
    assert set(items["Salade César"]["allergens"]) == {"gluten", "eggs", "milk"}
    formule = items["Formule midi"]
    assert formule["is_set_menu"] and [s["name"] for s in formule["slots"]] == ["Plat", "Accompagnement", "Boisson"]
    assert menu.burger.pk in formule["slots"][0]["choices"]


def test_it_shows_86d_items_and_remaining_counts(api, menu):
    menu_actions.set_item_availability(item=menu.dessert, remaining=2)
    menu_actions.set_item_availability(item=menu.wine, available=False)
    items = {i["id"]: i for c in api.get("menu/").json()["categories"] for i in c["items"]}
    assert (items[menu.dessert.pk]["available"], items[menu.dessert.pk]["remaining"]) == (True, 2)
    assert items[menu.wine.pk]["available"] is False


# --- Authentication -------------------------------------------------------------------------------------


def test_it_needs_a_device_token(client, menu):
    response = ApiClient(client, None).get("menu/")
    assert response.status_code == 401 and response.json()["error"] == "unauthorized"
    assert ApiClient(client, "not-a-token").get("menu/").status_code == 401


def test_it_refuses_kitchen_screens_and_revoked_devices(client, menu, kds_screen, integration):
    assert ApiClient(client, kds_screen.token).get("menu/").status_code == 403
    integration.revoked_at = integration.created_at
    integration.save()
    assert ApiClient(client, integration.token).get("menu/").status_code == 401


def test_it_answers_405_in_json(api, menu):
    response = api.get("orders/")
    assert response.status_code == 405 and response.json()["error"] == "method_not_allowed"


def test_it_checks_csrf_for_cookie_authenticated_posts_only(menu, till):
    from django.conf import settings

    from accounts.access import device_cookie_value

    browser = Client(enforce_csrf_checks=True)
    browser.cookies[settings.DEVICE_COOKIE_NAME] = device_cookie_value(till)
    response = browser.post("/api/v1/orders/", data=json.dumps(order_body(menu)), content_type="application/json")
    assert response.status_code == 403 and response.json()["error"] == "csrf_failed"
    bearer = Client(enforce_csrf_checks=True)
    response = bearer.post(
        "/api/v1/orders/", data=json.dumps(order_body(menu)), content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {till.token}"
    )
    assert response.status_code == 201


# --- Orders ---------------------------------------------------------------------------------------------


def test_it_places_an_order_and_prices_it_on_the_server(api, menu):
    body = order_body(menu)
    body["lines"][0]["price"] = "0.01"  # client prices are ignored
    body["total"] = "1.00"
    response = api.post("orders/", body)
    assert response.status_code == 201, response.content
    data = response.json()
    assert (data["number"], data["status"], data["total"], data["table"]) == (1, "open", "59.00", "4")
    assert data["lines"][0]["unit_price"] == "25.50" and data["lines"][0]["note"] == "sans sel"
    assert data["vat"] == [{"rate": "10.00", "base": "53.64", "vat": "5.36", "total": "59.00"}]
    order = Order.objects.get(pk=data["id"])
    assert order.source == "till" and order.total == D("59.00")
    assert api.get(f"orders/{order.pk}/").json() == {k: v for k, v in data.items() if k != "idempotency_key"}


def test_it_places_a_take_away_set_menu_from_a_kiosk(client, menu, kiosk):
    spec = formule_line(menu, drink=menu.water)
    body = {
        "idempotency_key": "kiosk-1", "order_type": "take_away", "customer_name": "Léa",
        "lines": [{"item": spec.item, "slots": [{"slot": c.slot, "item": c.item, "modifiers": list(c.modifiers)} for c in spec.slots]}],
    }
    response = ApiClient(client, kiosk.token).post("orders/", body)
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["total"] == "19.50" and data["source"] == "kiosk"
    assert {c["name"] for c in data["lines"][0]["components"]} == {"Burger maison", "Frites", "Eau minérale 50cl"}
    assert {v["rate"] for v in data["vat"]} == {"10.00", "5.50"}


def test_it_replays_the_first_answer_to_a_retry(api, menu):
    first = api.post("orders/", order_body(menu))
    menu_actions.set_item_availability(item=menu.steak, available=False)  # the world moved on
    again = api.post("orders/", order_body(menu))
    assert (again.status_code, again.content) == (first.status_code, first.content)
    assert Order.objects.count() == 1


def test_it_refuses_a_reused_key_with_another_body(api, menu):
    api.post("orders/", order_body(menu))
    response = api.post("orders/", order_body(menu, covers=3))
    assert response.status_code == 422 and response.json()["error"] == "idempotency_key_reused"
    assert Order.objects.count() == 1


def test_it_keeps_keys_per_device(api, client, menu, integration):
    api.post("orders/", order_body(menu, table=None))
    response = ApiClient(client, integration.token).post("orders/", order_body(menu, table=None))
    assert response.status_code == 201 and Order.objects.count() == 2


def _order_with(menu, **line_overrides):
    body = order_body(menu, table=None)
    body["lines"] = [{"item": menu.dessert.pk, "quantity": 1, **line_overrides}]
    return body


BAD_ORDERS = {
    "unknown item": (lambda m: _order_with(m, item=987654), 400, "unknown_item"),
    "item id beyond any database integer": (lambda m: _order_with(m, item=2**70), 400, "unknown_item"),
    "modifier id beyond any database integer": (lambda m: _order_with(m, modifiers=[2**64]), 400, "unknown_modifier"),
    "wrong modifier count": (lambda m: {**order_body(m), "lines": [{"item": m.steak.pk, "modifiers": []}]}, 400, "modifier_count"),
    "two cuissons": (
        lambda m: {**order_body(m), "lines": [{"item": m.steak.pk, "modifiers": [m.bleu.pk, m.a_point.pk]}]}, 400, "modifier_count"
    ),
    "modifier of another item": (lambda m: _order_with(m, modifiers=[m.poivre.pk]), 400, "modifier_not_allowed"),
    "quantity 0": (lambda m: _order_with(m, quantity=0), 400, "invalid_quantity"),
    "quantity -1": (lambda m: _order_with(m, quantity=-1), 400, "invalid_quantity"),
    "quantity 100": (lambda m: _order_with(m, quantity=100), 400, "invalid_quantity"),
    "over-long note": (lambda m: _order_with(m, note="é" * 141), 400, "note_too_long"),
    "quantity as a string": (lambda m: _order_with(m, quantity="2"), 400, "invalid_type"),
    "quantity as a float": (lambda m: _order_with(m, quantity=1.5), 400, "invalid_type"),
    "quantity true": (lambda m: _order_with(m, quantity=True), 400, "invalid_type"),
    "quantity null": (lambda m: _order_with(m, quantity=None), 400, "invalid_type"),
    "course null": (lambda m: _order_with(m, course=None), 400, "invalid_type"),
    "send null": (lambda m: order_body(m, send=None), 400, "invalid_type"),
    "covers null": (lambda m: order_body(m, covers=None), 400, "invalid_type"),
    "item as a string": (lambda m: _order_with(m, item=str(m.dessert.pk)), 400, "invalid_type"),
    "modifiers not a list": (lambda m: _order_with(m, modifiers=m.poivre.pk), 400, "invalid_type"),
    "note not a string": (lambda m: _order_with(m, note=["x"]), 400, "invalid_type"),
    "lines not a list": (lambda m: {**order_body(m), "lines": {"item": 1}}, 400, "invalid_type"),
    "line not an object": (lambda m: {**order_body(m), "lines": [m.dessert.pk]}, 400, "invalid_type"),
    "no lines": (lambda m: {**order_body(m), "lines": []}, 400, "no_lines"),
    "missing key": (lambda m: {k: v for k, v in order_body(m).items() if k != "idempotency_key"}, 400, "missing_field"),
    "empty key": (lambda m: order_body(m, key=""), 400, "invalid_idempotency_key"),
    "over-long key": (lambda m: order_body(m, key="k" * 101), 400, "invalid_idempotency_key"),
    "unknown order type": (lambda m: order_body(m, order_type="delivery"), 400, "invalid_order_type"),
    "unknown table": (lambda m: order_body(m, table="99"), 400, "unknown_table"),
    "covers as text": (lambda m: order_body(m, covers="2"), 400, "invalid_type"),
    "negative covers": (lambda m: order_body(m, covers=-2), 400, "invalid_covers"),
    "set menu without slots": (lambda m: _order_with(m, item=m.formule.pk), 400, "slot_missing"),
}


@pytest.mark.parametrize("case", BAD_ORDERS, ids=list(BAD_ORDERS))
def test_it_refuses_bad_orders_with_a_clear_4xx_and_writes_nothing(api, menu, case):
    build, status, code = BAD_ORDERS[case]
    response = api.post("orders/", build(menu))
    assert response.status_code == status, response.content
    data = response.json()
    assert data["error"] == code and data["detail"]
    assert (Order.objects.count(), OrderLine.objects.count(), IdempotentRequest.objects.count()) == (0, 0, 0)


def test_it_takes_null_as_none_where_a_field_may_be_empty(api, menu):
    body = order_body(menu)
    body["lines"][1]["seat"] = None
    assert api.post("orders/", body).status_code == 201


def test_it_names_the_offending_field(api, menu):
    body = order_body(menu)
    body["lines"][1]["quantity"] = 0
    assert api.post("orders/", body).json()["field"] == "lines[1].quantity"


def test_it_answers_409_for_an_unavailable_or_sold_out_item(api, menu):
    menu_actions.set_item_availability(item=menu.dessert, available=False)
    response = api.post("orders/", _order_with(menu))
    assert response.status_code == 409 and response.json()["error"] == "item_unavailable"
    menu_actions.set_item_availability(item=menu.dessert, available=True, remaining=1)
    response = api.post("orders/", _order_with(menu, quantity=2))
    assert response.status_code == 409 and response.json()["error"] == "sold_out"
    assert Item.objects.get(pk=menu.dessert.pk).remaining == 1


def test_it_answers_409_for_a_table_with_an_open_order(api, menu):
    api.post("orders/", order_body(menu))
    response = api.post("orders/", order_body(menu, key="k-2"))
    assert response.status_code == 409 and response.json()["error"] == "table_occupied"


@pytest.mark.parametrize("body", ["{", "[1, 2", "nope", '{"a": NaN}', "\xff\xfe", "[" * 5000 + "]" * 5000])
def test_it_answers_400_to_malformed_json(api, menu, body):
    response = api.post("orders/", body.encode("latin-1") if body.startswith("\xff") else body)
    assert response.status_code == 400 and response.json()["error"] == "malformed_json"


def test_it_answers_400_to_an_empty_json_body(client, till, menu):
    response = client.generic(
        "POST", "/api/v1/orders/", b"", CONTENT_TYPE="application/json", HTTP_AUTHORIZATION=f"Bearer {till.token}"
    )
    assert response.status_code == 400 and response.json()["error"] == "malformed_json"


@pytest.mark.parametrize("body", ["[]", '"order"', "42", "null"])
def test_it_answers_400_when_the_body_is_not_an_object(api, menu, body):
    response = api.post("orders/", body)
    assert response.status_code == 400 and response.json()["error"] == "invalid_request"


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"])
def test_it_answers_415_to_other_content_types(api, menu, content_type):
    response = api.post("orders/", json.dumps(order_body(menu)), content_type=content_type)
    assert response.status_code == 415 and response.json()["error"] == "unsupported_media_type"


def test_it_accepts_json_with_a_charset(api, menu):
    assert api.post("orders/", json.dumps(order_body(menu)), content_type="application/json; charset=utf-8").status_code == 201


def test_it_answers_413_to_an_oversize_body(api, menu, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2048
    body = order_body(menu, note="x" * 4000)
    response = api.post("orders/", body)
    assert response.status_code == 413 and response.json()["error"] == "too_large"
    assert Order.objects.count() == 0


def test_it_answers_in_the_request_language(api, menu):
    english = api.post("orders/", _order_with(menu, quantity=0), HTTP_ACCEPT_LANGUAGE="en")
    french = api.post("orders/", _order_with(menu, quantity=0), HTTP_ACCEPT_LANGUAGE="fr")
    assert english["Content-Language"] == "en" and french["Content-Language"] == "fr"
    assert english.json()["detail"].startswith("Quantity")


def test_it_refuses_unpaired_surrogates(api, menu):
    body = json.dumps(_order_with(menu, note="NOTE")).replace("NOTE", "\\ud800")
    response = api.post("orders/", body)
    assert response.status_code == 400 and response.json()["error"] == "invalid_text"


@pytest.mark.parametrize("where", ["note", "key", "table", "field name"])
def test_it_refuses_nul_characters_which_no_database_stores(api, menu, where):
    body = _order_with(menu, note="bien\x00cuit" if where == "note" else "")
    if where == "key":
        body["idempotency_key"] = "k\x00"
    elif where == "table":
        body["table"] = "4\x00"
    elif where == "field name":
        body["lines"][0]["\x00"] = 1
    response = api.post("orders/", body)
    assert response.status_code == 400 and response.json()["error"] == "invalid_text"


def test_it_keeps_notes_as_text(api, menu):
    body = _order_with(menu, note="<script>alert(1)</script>")
    data = api.post("orders/", body).json()
    assert data["lines"][0]["note"] == "<script>alert(1)</script>"
    assert OrderLine.objects.get().note == "<script>alert(1)</script>"


# --- Reading orders -------------------------------------------------------------------------------------


def test_it_answers_404_for_an_unknown_order(api, menu):
    response = api.get("orders/424242/")
    assert response.status_code == 404 and response.json()["error"] == "not_found"
    assert api.get(f"orders/{2**80}/").status_code == 404


def test_it_shows_integrations_only_their_own_orders(api, client, menu, integration, kiosk):
    till_order = api.post("orders/", order_body(menu)).json()
    partner = ApiClient(client, integration.token)
    own = partner.post("orders/", order_body(menu, key="p-1", table=None, order_type="take_away")).json()
    assert partner.get(f"orders/{own['id']}/").status_code == 200
    assert partner.get(f"orders/{till_order['id']}/").status_code == 404
    assert ApiClient(client, kiosk.token).get(f"orders/{own['id']}/").status_code == 404
    assert api.get(f"orders/{own['id']}/").status_code == 200  # tills see every order
    response = partner.post(f"orders/{till_order['id']}/payments/", {"idempotency_key": "x", "method": "card", "amount": "1.00"})
    assert response.status_code == 404


# --- Payments -------------------------------------------------------------------------------------------


def test_it_takes_payments_until_the_order_is_settled(api, menu):
    order = api.post("orders/", order_body(menu)).json()  # 59.00
    response = api.post(f"orders/{order['id']}/payments/", {"idempotency_key": "pay-1", "method": "card", "amount": "29.50"})
    assert response.status_code == 201, response.content
    data = response.json()
    assert (data["settled"], data["receipt"], data["change"]) == (False, None, "0.00")
    assert data["order"]["due"] == "29.50"
    response = api.post(f"orders/{order['id']}/payments/", {"idempotency_key": "pay-2", "method": "cash", "amount": "50"})
    data = response.json()
    assert (data["settled"], data["change"], data["order"]["status"]) == (True, "20.50", "paid")
    assert data["receipt"] is not None and {"seq", "hash"} <= set(data["receipt"])


def test_it_replays_a_payment_retry_without_charging_twice(api, menu):
    order = api.post("orders/", order_body(menu)).json()
    body = {"idempotency_key": "pay-1", "method": "card", "amount": "10.00"}
    first = api.post(f"orders/{order['id']}/payments/", body)
    again = api.post(f"orders/{order['id']}/payments/", body)
    assert again.content == first.content and Payment.objects.count() == 1
    response = api.post(f"orders/{order['id']}/payments/", {**body, "amount": "11.00"})
    assert response.status_code == 422


@pytest.mark.parametrize(
    "payment,status,code",
    [
        ({"method": "card", "amount": "59.01"}, 400, "card_overpayment"),
        ({"method": "voucher", "amount": "60.00"}, 400, "voucher_overpayment"),
        ({"method": "bitcoin", "amount": "1.00"}, 400, "invalid_method"),
        ({"method": "card", "amount": "0"}, 400, "invalid_amount"),
        ({"method": "card", "amount": "-5"}, 400, "invalid_amount"),
        ({"method": "card", "amount": "1.001"}, 400, "invalid_amount"),
        ({"method": "card", "amount": "douze"}, 400, "invalid_type"),
        ({"method": "card", "amount": True}, 400, "invalid_type"),
        ({"method": "card", "amount": [1]}, 400, "invalid_type"),
        ({"method": "card", "amount": "1e999999"}, 400, "invalid_amount"),
        ({"method": "card", "amount": "Infinity"}, 400, "invalid_type"),
        ({"method": "card"}, 400, "missing_field"),
        ({"method": 3, "amount": "1.00"}, 400, "invalid_type"),
        ({"method": "cash", "amount": "5.00", "tendered": "2.00"}, 400, "tendered_too_low"),
        ({"method": "account", "amount": "5.00"}, 400, "account_required"),
        ({"method": "account", "amount": "5.00", "account": 999}, 400, "unknown_account"),
    ],
)
def test_it_refuses_bad_payments(api, menu, payment, status, code):
    order = api.post("orders/", order_body(menu)).json()
    response = api.post(f"orders/{order['id']}/payments/", {"idempotency_key": "p", **payment})
    assert response.status_code == status, response.content
    assert response.json()["error"] == code
    assert Payment.objects.count() == 0


def test_it_answers_409_when_paying_a_closed_order(api, menu):
    order = api.post("orders/", order_body(menu)).json()
    api.post(f"orders/{order['id']}/payments/", {"idempotency_key": "p1", "method": "card", "amount": "59.00"})
    response = api.post(f"orders/{order['id']}/payments/", {"idempotency_key": "p2", "method": "cash", "amount": "1.00"})
    assert response.status_code == 409 and response.json()["error"] == "order_closed"


def test_it_lets_only_tills_charge_customer_accounts(api, client, menu, integration):
    account = CustomerAccount.objects.create(name="Cabinet Durand")
    order = api.post("orders/", order_body(menu)).json()
    response = api.post(f"orders/{order['id']}/payments/", {"idempotency_key": "a", "method": "account", "amount": "59.00", "account": account.pk})
    assert response.status_code == 201 and response.json()["settled"]
    own = ApiClient(client, integration.token).post("orders/", order_body(menu, key="i", table=None)).json()
    response = ApiClient(client, integration.token).post(
        f"orders/{own['id']}/payments/", {"idempotency_key": "a", "method": "account", "amount": "1.00", "account": account.pk}
    )
    assert response.status_code == 403


def test_it_answers_404_when_paying_an_unknown_order(api, menu):
    response = api.post("orders/999999/payments/", {"idempotency_key": "p", "method": "card", "amount": "1.00"})
    assert response.status_code == 404
