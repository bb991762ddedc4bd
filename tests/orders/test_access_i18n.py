"""Money per locale and the language switch on the access pages."""

from decimal import Decimal

from django.template import Context, Template
from django.utils import translation

from orders.templatetags.money import format_money


def render_money(amount, language: str) -> str:
    with translation.override(language):
        return Template("{% load money %}{{ amount|money }}").render(Context({"amount": amount}))


def test_it_formats_money_the_french_way():
    assert render_money(Decimal("12.50"), "fr") == "12,50 €"


def test_it_formats_money_the_english_way():
    assert render_money(Decimal("12.50"), "en") == "€12.50"


def test_it_rounds_half_up_to_the_cent_and_keeps_the_sign():
    assert format_money(Decimal("0.125"), language="en") == "€0.13"
    assert format_money(Decimal("-3"), language="fr") == "-3,00 €"
    assert format_money("-3", language="en") == "-€3.00"


def test_it_groups_thousands():
    assert format_money(Decimal("1234.5"), language="en") == "€1,234.50"
    assert format_money(Decimal("1234.5"), language="fr") == "1\u202f234,50 €"


def test_it_renders_nothing_for_empty_or_invalid_amounts():
    assert render_money(None, "fr") == ""
    assert format_money("not money") == ""
