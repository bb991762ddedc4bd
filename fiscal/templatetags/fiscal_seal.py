from django import template

from fiscal.receipt import seal_context

register = template.Library()


@register.simple_tag
def receipt_seal_context(record) -> dict:
    """`{% receipt_seal_context record as s %}`: label, number, signature excerpt, inline QR SVG."""
    return seal_context(record)
