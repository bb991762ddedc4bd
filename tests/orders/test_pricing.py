"""orders.pricing: pure arithmetic, no database."""

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fiscal.business_day import business_day
from orders.pricing import Component, LineInput, allocate, discount_for, money, price_order, split_equal, vat_breakdown

D = Decimal


def test_it_multiplies_unit_price_by_quantity():
    totals = price_order([LineInput("steak", D("25.50"), 2, D("10"))])
    assert totals.lines[0].gross == D("51.00")
    assert totals.total == D("51.00")


def test_it_computes_the_vat_breakdown_from_ttc_like_a_french_receipt():
    totals = price_order([LineInput(1, D("24.00"), 2, D("10")), LineInput(2, D("6.00"), 1, D("20"))])
    ten, twenty = totals.vat
    # 48.00 / 1.10 = 43.6363… → 43.64 HT, VAT = 48.00 − 43.64
    assert (ten.rate, ten.base, ten.vat, ten.total) == (D("10.00"), D("43.64"), D("4.36"), D("48.00"))
    assert (twenty.rate, twenty.base, twenty.vat, twenty.total) == (D("20.00"), D("5.00"), D("1.00"), D("6.00"))


def test_it_rounds_half_up_to_the_cent():
    assert money(D("0.005")) == D("0.01")
    assert money(D("2.675")) == D("2.68")
    # 5.5 %: 1.05 / 1.055 = 0.99526… → 1.00 HT, 0.05 VAT
    (line,) = vat_breakdown([(D("5.5"), D("1.05"))])
    assert (line.base, line.vat) == (D("1.00"), D("0.05"))


def test_it_applies_a_line_discount_in_percent_or_amount():
    totals = price_order(
        [LineInput(1, D("9.99"), 3, D("10"), discount_percent=D("10")), LineInput(2, D("8.00"), 1, D("10"), discount_amount=D("2.50"))]
    )
    first, second = totals.lines
    assert first.discount == D("3.00")  # 10 % of 29.97 = 2.997 → 3.00
    assert first.total == D("26.97")
    assert second.total == D("5.50")
    assert totals.total == D("32.47")


def test_it_caps_a_discount_at_the_amount():
    assert discount_for(D("5.00"), fixed=D("8.00")) == D("5.00")
    totals = price_order([LineInput(1, D("5.00"), 1, D("10"))], discount_amount=D("9.00"))
    assert totals.total == D("0.00")


def test_it_refuses_negative_or_over_100_percent_discounts():
    with pytest.raises(ValueError):
        discount_for(D("10"), percent=D("101"))
    with pytest.raises(ValueError):
        discount_for(D("10"), fixed=D("-1"))


def test_it_spreads_an_order_discount_by_largest_remainder():
    totals = price_order(
        [LineInput(i, D("1.00"), 1, D("10")) for i in range(3)], discount_amount=D("1.00")
    )
    assert [line.order_discount for line in totals.lines] == [D("0.34"), D("0.33"), D("0.33")]
    assert totals.order_discount == D("1.00")
    assert totals.total == D("2.00")


def test_it_splits_a_set_menu_across_vat_rates_pro_rata_of_standalone_prices():
    formule = LineInput(
        "formule", D("15.00"), 1, D("10"),
        components=(Component("burger", D("16.00"), D("10")), Component("wine", D("6.00"), D("20")), Component("fries", D("4.50"), D("10"))),
    )
    totals = price_order([formule])
    parts = {p.key: p for p in totals.lines[0].parts}
    # 15.00 × 16/26.5 = 9.0566 → 9.06 ; × 6/26.5 = 3.396 → 3.40 ; × 4.5/26.5 = 2.547 → 2.54 (largest remainders)
    assert parts["burger"].net + parts["wine"].net + parts["fries"].net == D("15.00")
    assert parts["wine"].vat_rate == D("20.00")
    assert {v.rate: v.total for v in totals.vat} == {D("10.00"): parts["burger"].net + parts["fries"].net, D("20.00"): parts["wine"].net}
    assert sum(v.total for v in totals.vat) == D("15.00")


def test_it_shares_a_set_menu_equally_when_its_components_cost_nothing():
    formule = LineInput("f", D("10.00"), 1, D("10"), components=(Component("a", D("0"), D("10")), Component("b", D("0"), D("20"))))
    assert [p.net for p in price_order([formule]).lines[0].parts] == [D("5.00"), D("5.00")]


def test_it_splits_in_equal_parts_with_the_odd_cents_first():
    assert split_equal(D("10.00"), 3) == [D("3.34"), D("3.33"), D("3.33")]
    assert sum(split_equal(D("78.51"), 2)) == D("78.51")


def test_it_refuses_quantities_out_of_range():
    with pytest.raises(ValueError):
        price_order([LineInput(1, D("1.00"), 0, D("10"))])
    with pytest.raises(ValueError):
        price_order([LineInput(1, D("1.00"), 100, D("10"))])


def test_it_rolls_the_business_day_over_at_the_closure_hour():
    paris = ZoneInfo("Europe/Paris")
    late = dt.datetime(2026, 11, 27, 0, 30, tzinfo=paris)  # after midnight, before 4 a.m.
    morning = dt.datetime(2026, 11, 27, 4, 0, tzinfo=paris)
    assert business_day(late, closure_hour=4, tz="Europe/Paris") == dt.date(2026, 11, 26)
    assert business_day(morning, closure_hour=4, tz="Europe/Paris") == dt.date(2026, 11, 27)
    # UTC instants are read in local time: 23:30 UTC on the 26th is 00:30 on the 27th in Paris.
    assert business_day(dt.datetime(2026, 11, 26, 23, 30, tzinfo=dt.UTC), closure_hour=0, tz="Europe/Paris") == dt.date(2026, 11, 27)


def test_it_refuses_naive_datetimes_for_the_business_day():
    with pytest.raises(ValueError):
        business_day(dt.datetime(2026, 11, 26, 12, 0), closure_hour=4, tz="Europe/Paris")


# --- Properties ---------------------------------------------------------------------------------------

cents = st.integers(min_value=0, max_value=50_000).map(lambda c: Decimal(c).scaleb(-2))
rates = st.sampled_from([D("0"), D("2.1"), D("5.5"), D("10"), D("20")])
percents = st.integers(min_value=0, max_value=10_000).map(lambda c: Decimal(c).scaleb(-2))
components = st.lists(st.builds(Component, key=st.uuids(), standalone_price=cents, vat_rate=rates), max_size=4)
lines = st.lists(
    st.builds(
        LineInput,
        key=st.uuids(),
        unit_price=cents,
        quantity=st.integers(min_value=1, max_value=99),
        vat_rate=rates,
        discount_percent=st.one_of(st.just(D("0")), percents),
        discount_amount=st.one_of(st.just(D("0")), cents),
        components=components.map(tuple),
    ),
    max_size=12,
)


def _is_cents(value: Decimal) -> bool:
    return value == value.quantize(Decimal("0.01"))


@settings(max_examples=300, deadline=None)
@given(lines=lines, order_percent=st.one_of(st.just(D("0")), percents), order_amount=st.one_of(st.just(D("0")), cents))
def test_it_always_adds_up_to_the_cent(lines, order_percent, order_amount):
    totals = price_order(lines, discount_percent=order_percent, discount_amount=order_amount)
    assert sum((v.total for v in totals.vat), D("0")) == totals.total
    assert sum((line.net for line in totals.lines), D("0")) == totals.total
    assert sum((line.order_discount for line in totals.lines), D("0")) == totals.order_discount
    assert totals.total == totals.subtotal - totals.order_discount
    for line in totals.lines:
        assert sum((p.net for p in line.parts), D("0")) == line.net
        assert sum((p.total for p in line.parts), D("0")) == line.total
        assert sum((p.gross for p in line.parts), D("0")) == line.gross
        for part in line.parts:
            assert part.net >= 0 and part.discount >= 0 and part.order_discount >= 0
            assert part.total == part.gross - part.discount
    for vat in totals.vat:
        assert vat.base >= 0 and vat.vat >= 0
        assert vat.base + vat.vat == vat.total
        assert all(_is_cents(x) for x in (vat.base, vat.vat, vat.total))
    assert totals.total >= 0 and _is_cents(totals.total)


@settings(max_examples=300, deadline=None)
@given(total=cents, weights=st.lists(cents, min_size=1, max_size=10))
def test_it_allocates_whole_cents_that_add_up(total, weights):
    shares = allocate(total, weights)
    assert sum(shares, D("0")) == total
    assert all(s >= 0 and _is_cents(s) for s in shares)
    if sum(weights) > 0:
        # No share strays more than a cent from its exact proportion.
        for share, weight in zip(shares, weights, strict=True):
            assert abs(share - total * weight / sum(weights)) < D("0.01")
