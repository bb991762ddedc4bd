"""Reads for the cloud owner's stats page."""

import datetime
import json
from collections import defaultdict
from decimal import Decimal

from django.db.models import Count
from django.utils import timezone

from fiscal import chain as fiscal_chain
from fiscal.models import Chain
from sync.models import ReceivedRecord, Refusal, Store

STATS_DAYS = 14


def _total_cents(payload_text: str) -> int:
    """A receipt's signed total (integer cents; negative for a cancellation)."""
    try:
        total = json.loads(payload_text).get("total", 0)
    except (ValueError, AttributeError):
        return 0
    return total if type(total) is int else 0


def store_stats(*, days: int = STATS_DAYS) -> list[dict]:
    """Per store: last sync, records held per chain, and receipts per business day (count, total) over
    the last `days` business days, summed from the payloads the store sent."""
    since = timezone.localdate() - datetime.timedelta(days=days - 1)
    counts = defaultdict(dict)
    for store_id, chain, n in (
        ReceivedRecord.objects.values("store", "chain").annotate(n=Count("id")).values_list("store", "chain", "n")
    ):
        counts[store_id][chain] = n
    days_by_store = defaultdict(lambda: defaultdict(lambda: {"count": 0, "cancelled": 0, "cents": 0}))
    # Training receipts live in their own chain and never count.
    receipts = ReceivedRecord.objects.filter(
        chain=fiscal_chain.TICKET, type__in=(fiscal_chain.SALE, fiscal_chain.CANCELLATION), business_day__gte=since
    ).values_list("store", "business_day", "type", "payload")
    for store_id, day, type_, payload in receipts.iterator():
        entry = days_by_store[store_id][day]
        entry["count" if type_ == fiscal_chain.SALE else "cancelled"] += 1
        entry["cents"] += _total_cents(payload)
    refusals = defaultdict(list)
    for refusal in Refusal.objects.order_by("-at")[:200]:
        if len(refusals[refusal.store_id]) < 5:
            refusals[refusal.store_id].append(refusal)

    stats = []
    for store in Store.objects.prefetch_related("marks"):
        per_day = days_by_store.get(store.pk, {})
        stats.append(
            {
                "store": store,
                "chains": [
                    {
                        "chain": m.chain,
                        "label": Chain(m.chain).label if m.chain in Chain.values else m.chain,
                        "seq": m.seq,
                        "count": counts[store.pk].get(m.chain, 0),
                        "updated_at": m.updated_at,
                    }
                    for m in store.marks.all()
                ],
                "records": sum(counts[store.pk].values()),
                "days": [
                    {"day": day, **per_day[day], "total": Decimal(per_day[day]["cents"]) / 100}
                    for day in sorted(per_day, reverse=True)
                ],
                "refusals": refusals.get(store.pk, []),
            }
        )
    return stats
