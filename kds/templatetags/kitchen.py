"""Small filters for kitchen screens: timers and labels computed the same way on first load and in
WebSocket frames (screen.js keeps the timers running afterwards)."""

from django import template
from django.utils import timezone

from kds import lifecycle

register = template.Library()


@register.filter
def epoch_ms(value) -> str:
    """An aware datetime as milliseconds since the epoch (what screen.js counts from); "" for None."""
    return str(int(value.timestamp() * 1000)) if value else ""


@register.simple_tag
def timer(ticket, station, now=None) -> dict:
    """{"text": "mm:ss", "colour": "green"|"amber"|"red"} for a ticket's time since it was sent."""
    if ticket.sent_at is None:
        return {"text": "", "colour": "held"}
    seconds = max(0, int(((now or timezone.now()) - ticket.sent_at).total_seconds()))
    return {
        "text": f"{seconds // 60}:{seconds % 60:02d}",
        "colour": lifecycle.timer_colour(seconds, station.amber_after, station.red_after),
    }


@register.filter
def minutes(seconds) -> str:
    """123 → "2:03"."""
    seconds = int(seconds or 0)
    return f"{seconds // 60}:{seconds % 60:02d}"
