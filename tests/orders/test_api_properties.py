"""Property: POST /api/v1/orders/ never answers 5xx, whatever it is sent, and every order it accepts
costs exactly what the menu says (prices computed here independently of orders.pricing)."""

import itertools
import json
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orders.models import Item, Modifier, SetMenuSlot

D = Decimal
keys = itertools.count()

json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70), st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=30), st.text(st.characters(codec=None, categories=["Cs", "Cc"]), max_size=3),  # surrogates, NUL
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.one_of(st.lists(children, max_size=4), st.dictionaries(st.text(max_size=8), children, max_size=4)),
    max_leaves=12,
)


def expected_total(body: dict) -> Decimal:
    """The menu price of an accepted order body: (item + modifier deltas [+ slot modifier deltas]) × qty."""
    total = D("0.00")
    for line in body["lines"]:
        unit = Item.objects.get(pk=line["item"]).price
        unit += sum((Modifier.objects.get(pk=m).price_delta for m in line.get("modifiers") or []), D("0"))
        for slot in line.get("slots") or []:
            unit += sum((Modifier.objects.get(pk=m).price_delta for m in slot.get("modifiers") or []), D("0"))
        quantity = line.get("quantity")
        total += unit * (1 if quantity is None else quantity)  # absent and null both mean 1
    return total


@st.composite
def valid_line(draw, menu):
    item = draw(st.sampled_from([menu.steak, menu.burger, menu.salad, menu.dessert, menu.wine, menu.water, menu.sandwich, menu.formule]))
    line = {"item": item.pk, "quantity": draw(st.integers(min_value=1, max_value=99))}
    supplements = [menu.poivre.pk, menu.extra_fries.pk, menu.egg.pk]
    if item in (menu.steak, menu.burger):
        line["modifiers"] = [draw(st.sampled_from([menu.bleu.pk, menu.saignant.pk, menu.a_point.pk]))]
        line["modifiers"] += draw(st.lists(st.sampled_from(supplements), max_size=3))
    if item == menu.formule:
        slots = []
        for slot in SetMenuSlot.objects.filter(set_menu=item).order_by("position"):
            choice = draw(st.sampled_from(list(slot.choices.order_by("pk"))))
            modifiers = [menu.a_point.pk] if choice == menu.burger else []
            slots.append({"slot": slot.pk, "item": choice.pk, "modifiers": modifiers})
        line["slots"] = draw(st.permutations(slots))
    if draw(st.booleans()):
        line["note"] = draw(st.text(st.characters(exclude_characters="\x00", exclude_categories=["Cs"]), max_size=140))
    return line


@st.composite
def valid_body(draw, menu):
    return {
        "idempotency_key": f"prop-{next(keys)}",
        "order_type": draw(st.sampled_from(["eat_in", "take_away"])),
        "lines": draw(st.lists(valid_line(menu), min_size=1, max_size=5)),
    }


def _paths(value, prefix=()):
    """Every (path, value) inside a JSON document."""
    yield prefix, value
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _paths(v, (*prefix, i))


@st.composite
def mutated_body(draw, menu):
    body = draw(valid_body(menu))
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        paths = [p for p, _v in _paths(body) if p and p[0] != "idempotency_key"]
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = body
        for step in path[:-1]:
            parent = parent[step]
        action = draw(st.sampled_from(["replace", "delete", "number"]))
        if action == "delete":
            del parent[path[-1]]
        elif action == "number":
            parent[path[-1]] = draw(st.one_of(st.integers(min_value=-5, max_value=10**6), st.integers(min_value=2**62, max_value=2**80)))
        else:
            parent[path[-1]] = draw(json_values)
    return body


@pytest.fixture
def post(client, till):
    def _post(data: bytes | str, content_type="application/json"):
        return client.post("/api/v1/orders/", data=data, content_type=content_type, HTTP_AUTHORIZATION=f"Bearer {till.token}")

    return _post


def _check(response, body):
    assert response.status_code < 500, response.content
    data = response.json()
    if response.status_code >= 400:
        assert set(data) >= {"error", "detail"}
        return
    assert response.status_code == 201
    assert D(data["total"]) == expected_total(body)
    assert sum(D(v["total"]) for v in data["vat"]) == D(data["total"])


SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@SETTINGS
@given(data=st.data())
def test_it_prices_every_valid_order_like_the_menu(menu, post, data):
    body = data.draw(valid_body(menu))
    response = post(json.dumps(body))
    assert response.status_code == 201, response.content
    _check(response, body)


@SETTINGS
@given(data=st.data())
def test_it_never_answers_5xx_to_mutated_orders(menu, post, data):
    body = data.draw(mutated_body(menu))
    _check(post(json.dumps(body)), body)


@SETTINGS
@given(raw=st.one_of(st.binary(max_size=200), json_values.map(json.dumps), st.text(max_size=200)))
def test_it_never_answers_5xx_to_garbage(menu, post, raw):
    response = post(raw)
    assert 400 <= response.status_code < 500, response.content
    assert "error" in response.json()
