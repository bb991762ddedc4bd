"""`{{ amount|money }}`: an amount in euros, formatted for the language of the page.

    {% load money %}
    {{ order.total|money }}      fr → "12,50 €"     en → "€12.50"

The amount is a Decimal (or anything Decimal accepts: "12.5", 12). It is rounded half-up to the cent
for display only; never feed the output back into a calculation. Thousands are grouped with the
language's separator ("1 234,50 €" / "€1,234.50"). Between the number and "€" in French there is a
plain space, so tests and templates can compare with the literal string.
"""

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django import template
from django.utils import translation
from django.utils.numberformat import format as number_format

register = template.Library()

CENT = Decimal("0.01")

# (decimal separator, thousands separator, pattern) per language; other languages fall back to English.
STYLES = {
    "fr": (",", "\u202f", "{number} €"),  # narrow no-break space between thousands, as the French norm
    "en": (".", ",", "€{number}"),
}


def format_money(amount, *, language: str | None = None) -> str:
    """The display string of `amount` in `language` (default: the active one). "" for an empty amount."""
    if amount is None or amount == "":
        return ""
    try:
        value = Decimal(str(amount)).quantize(CENT, rounding=ROUND_HALF_UP)
    except (InvalidOperation, ValueError, TypeError):
        return ""
    language = (language or translation.get_language() or "fr").split("-")[0]
    decimal_sep, thousand_sep, pattern = STYLES.get(language, STYLES["en"])
    sign = "-" if value < 0 else ""
    number = number_format(
        abs(value), decimal_sep, decimal_pos=2, grouping=3, thousand_sep=thousand_sep, force_grouping=True
    )
    return sign + pattern.format(number=number)


@register.filter(name="money")
def money(amount) -> str:
    return format_money(amount)
