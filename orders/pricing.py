"""Prices, discounts and the VAT breakdown of an order — pure Decimal arithmetic, no database.

The rules, in the order they apply (all amounts include VAT, "TTC", as French menus show them):

1. Unit price of a line = item price + the price deltas of its modifiers. Gross = unit price × quantity.
2. Line discount: a percent of the gross (rounded half-up to the cent) and/or an amount; never more
   than the gross. Line total = gross − line discount (what the receipt prints on the line).
3. Order discount: a percent of the sum of line totals (rounded half-up) and/or an amount, never more
   than that sum. It is spread over the lines pro rata of their totals with the largest-remainder
   method, so the shares are whole cents that add up exactly to the discount.
4. Set menus: the set menu's price is the price (plus the deltas of modifiers chosen on it or on its
   components). The components may carry different VAT rates, so the line is split across them:
   the unit price pro rata of the components' standalone unit prices (item price + modifier deltas),
   largest remainder, giving each component a unit price in whole cents; then the line discount and
   the line's share of the order discount pro rata of the components' amounts, the same way.
   Components whose standalone prices are all zero share equally. The receipt prints one line per
   component ("Formule midi — Burger") so every printed line has one VAT rate.
5. VAT breakdown per rate, from TTC totals (the way a French receipt shows it): for each rate, TTC =
   the sum of the amounts at that rate; HT = TTC / (1 + rate/100) rounded half-up to the cent; VAT =
   TTC − HT. So the TTC column always adds up to the order total, to the cent.
"""

from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
HUNDRED = Decimal(100)


def money(value: Decimal | int | str) -> Decimal:
    """`value` rounded half-up to the cent."""
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def percent_of(amount: Decimal, percent: Decimal) -> Decimal:
    return money(Decimal(amount) * Decimal(percent) / HUNDRED)


def allocate(total: Decimal, weights: Sequence[Decimal]) -> list[Decimal]:
    """Split `total` (whole cents, ≥ 0) in proportion to `weights` (≥ 0) with the largest-remainder
    method: every share is whole cents and the shares add up to `total` exactly. Ties go to the
    earlier weight, so the result is deterministic. All-zero weights share equally."""
    if not weights:
        return []
    cents = int(money(total) * 100)
    if cents < 0:
        raise ValueError("allocate() needs a non-negative total")
    if cents == 0 and not any(w < 0 and money(w) < 0 for w in weights):
        return [ZERO] * len(weights)  # nothing to share (most orders carry no discount)
    # Integer arithmetic on weights in cents: exact, no Decimal context surprises.
    units = [int(money(w) * 100) for w in weights]
    if any(u < 0 for u in units):
        raise ValueError("allocate() needs non-negative weights")
    if sum(units) == 0:
        units = [1] * len(units)
    whole = sum(units)
    shares = [cents * u // whole for u in units]
    remainders = [cents * u % whole for u in units]
    leftover = cents - sum(shares)
    for index in sorted(range(len(units)), key=lambda i: (-remainders[i], i))[:leftover]:
        shares[index] += 1
    return [Decimal(s).scaleb(-2) for s in shares]


@dataclass(frozen=True)
class Component:
    """One part of a set menu, for the VAT split only: its standalone unit price and VAT rate."""

    key: Hashable
    standalone_price: Decimal
    vat_rate: Decimal


@dataclass(frozen=True)
class LineInput:
    key: Hashable  # the caller's handle (a line id, an index): echoed back on the priced line
    unit_price: Decimal
    quantity: int
    vat_rate: Decimal  # ignored when `components` is not empty
    discount_percent: Decimal = ZERO
    discount_amount: Decimal = ZERO
    components: tuple[Component, ...] = ()


@dataclass(frozen=True)
class Part:
    """An amount of a line at one VAT rate. A plain line is one part; a set menu line has one part per
    component, each with its share of the line's unit price, discounts and total."""

    key: Hashable
    vat_rate: Decimal
    unit_price: Decimal
    gross: Decimal
    discount: Decimal
    total: Decimal
    order_discount: Decimal
    net: Decimal


@dataclass(frozen=True)
class PricedLine:
    key: Hashable
    gross: Decimal  # unit price × quantity
    discount: Decimal  # the line's own discount
    total: Decimal  # gross − discount: what the receipt prints on the line
    order_discount: Decimal  # this line's share of the order discount
    net: Decimal  # total − order_discount: what the customer pays for the line
    parts: tuple[Part, ...]


@dataclass(frozen=True)
class VatLine:
    rate: Decimal
    base: Decimal  # HT
    vat: Decimal
    total: Decimal  # TTC


@dataclass(frozen=True)
class Totals:
    lines: tuple[PricedLine, ...]
    subtotal: Decimal  # sum of line totals (after line discounts)
    line_discounts: Decimal
    order_discount: Decimal
    total: Decimal  # what is due
    vat: tuple[VatLine, ...] = field(default=())

    @property
    def discount(self) -> Decimal:
        """Every discount of the order, line and order level."""
        return self.line_discounts + self.order_discount


def discount_for(amount: Decimal, *, percent: Decimal = ZERO, fixed: Decimal = ZERO) -> Decimal:
    """The discount on `amount`: percent (rounded half-up) plus a fixed amount, capped at `amount`."""
    percent, fixed = Decimal(percent), Decimal(fixed)
    if percent < 0 or percent > 100 or fixed < 0:
        raise ValueError("discounts are between 0 and 100 % and non-negative amounts")
    if not percent and not fixed and Decimal(amount) >= 0:
        return ZERO  # no discount: the common case, without rounding anything
    return min(money(amount), percent_of(amount, percent) + money(fixed))


def vat_breakdown(parts: Iterable[tuple[Decimal, Decimal]]) -> tuple[VatLine, ...]:
    """(rate, TTC amount) pairs → one line per rate, ordered by rate, as the receipt prints it."""
    by_rate: dict[Decimal, Decimal] = {}
    for rate, amount in parts:
        rate = money(rate)
        by_rate[rate] = by_rate.get(rate, ZERO) + money(amount)
    lines = []
    for rate in sorted(by_rate):
        total = by_rate[rate]
        base = money(total / (1 + rate / HUNDRED))
        lines.append(VatLine(rate=rate, base=base, vat=total - base, total=total))
    return tuple(lines)


def price_order(
    lines: Sequence[LineInput], *, discount_percent: Decimal = ZERO, discount_amount: Decimal = ZERO
) -> Totals:
    """Price `lines` and the order-level discount; see the module docstring for the rules."""
    grosses, line_discounts = [], []
    for line in lines:
        if not 1 <= line.quantity <= 99:
            raise ValueError("quantity must be 1..99")
        unit_price = Decimal(line.unit_price)
        if unit_price < 0:
            raise ValueError("unit prices are never negative")
        gross = money(unit_price * line.quantity)
        grosses.append(gross)
        line_discounts.append(discount_for(gross, percent=line.discount_percent, fixed=line.discount_amount))
    totals = [g - d for g, d in zip(grosses, line_discounts, strict=True)]
    subtotal = sum(totals, ZERO)
    order_discount = discount_for(subtotal, percent=discount_percent, fixed=discount_amount)
    shares = allocate(order_discount, totals)

    priced = []
    for line, gross, discount, total, share in zip(lines, grosses, line_discounts, totals, shares, strict=True):
        if line.components:
            parts = _split_set_menu(line, discount=discount, order_discount=share)
        else:
            unit = money(line.unit_price)
            parts = (Part(line.key, money(line.vat_rate), unit, gross, discount, total, share, total - share),)
        priced.append(
            PricedLine(key=line.key, gross=gross, discount=discount, total=total, order_discount=share, net=total - share, parts=parts)
        )

    vat = vat_breakdown((p.vat_rate, p.net) for line in priced for p in line.parts)
    return Totals(
        lines=tuple(priced),
        subtotal=subtotal,
        line_discounts=sum(line_discounts, ZERO),
        order_discount=order_discount,
        total=subtotal - order_discount,
        vat=vat,
    )


def _split_set_menu(line: LineInput, *, discount: Decimal, order_discount: Decimal) -> tuple[Part, ...]:
    """Rule 4: the unit price is split pro rata of the components' standalone prices (so each component
    has a unit price in whole cents), then each discount pro rata of the components' amounts."""
    units = allocate(money(line.unit_price), [c.standalone_price for c in line.components])
    grosses = [u * line.quantity for u in units]
    discounts = allocate(discount, grosses)
    totals = [g - d for g, d in zip(grosses, discounts, strict=True)]
    shares = allocate(order_discount, totals)
    return tuple(
        Part(c.key, money(c.vat_rate), u, g, d, t, s, t - s)
        for c, u, g, d, t, s in zip(line.components, units, grosses, discounts, totals, shares, strict=True)
    )


def split_equal(amount: Decimal, parts: int) -> list[Decimal]:
    """`amount` in `parts` equal shares of whole cents; the first shares carry the odd cents."""
    if parts < 1:
        raise ValueError("at least one part")
    return allocate(amount, [Decimal(1)] * parts)
