from django import template

from sync.status import sync_status

register = template.Library()


@register.inclusion_tag("sync/_status.html")
def sync_status_indicator() -> dict:
    """`{% load sync_tags %}{% sync_status_indicator %}` in a topbar: the dot and "last sync … · n pending"."""
    return {"sync": sync_status()}
