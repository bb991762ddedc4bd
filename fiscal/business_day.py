"""The business day an instant belongs to: the local date, rolling over at FISCAL_DAILY_CLOSURE_HOUR.

A bistro that closes at 1 a.m. still counts those late orders in the evening's day: with the default
roll-over hour 4, 00:30 on the 27th belongs to the 26th. Order numbers restart at 1 each business day
and the daily fiscal closure covers the same period.
"""

import datetime as dt
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone


def business_day(now: dt.datetime | None = None, *, closure_hour: int | None = None, tz: str | None = None) -> dt.date:
    """The business day of the aware instant `now` (default: now)."""
    now = now or timezone.now()
    if timezone.is_naive(now):
        raise ValueError("business_day() needs an aware datetime")
    hour = settings.FISCAL_DAILY_CLOSURE_HOUR if closure_hour is None else closure_hour
    local = now.astimezone(ZoneInfo(tz or settings.TIME_ZONE))
    return (local - dt.timedelta(hours=hour)).date()
