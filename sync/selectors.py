"""Reads for the cloud owner's stats page."""

import datetime
from collections import defaultdict
from decimal import Decimal, InvalidOperation

from django.db.models import Count
from django.utils import timezone

from sync.models import ReceivedRecord, Refusal, Store

STATS_DAYS = 14
# Record types whose payload is a sale; cancellations and refunds carry negative totals in their payload.
SALE_TYPES = ("receipt", "cancellation", "refund")
SALE_CHAINS = ("receipts",)  # training receipts live in their own chain and never count


def _amount(value) -> Decimal:
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return Decimal("0")


def store_stats(*, days: int = STATS_DAYS) -> list[dict]:
    """Per store: last sync, records held per chain, and receipts per business day (count, total) over
    the last `days` business days, summed from the payloads the store sent."""
    since = timezone.localdate() - datetime.timedelta(days=days - 1)
    counts = defaultdict(dict)
    for store_id, chain, n in (
        ReceivedRecord.objects.values("store", "chain").annotate(n=Count("id")).values_list("store", "chain", "n")
    ):
        counts[store_id][chain] = n
    days_by_store = defaultdict(lambda: defaultdict(lambda: {"count": 0, "total": Decimal("0.00")}))
    sales = ReceivedRecord.objects.filter(
        chain__in=SALE_CHAINS, type__in=SALE_TYPES, business_day__gte=since
    ).values_list("store", "business_day", "type", "payload")
    for store_id, day, type_, payload in sales.iterator():
        entry = days_by_store[store_id][day]
        if type_ == "receipt":
            entry["count"] += 1
        entry["total"] += _amount((payload or {}).get("total") if isinstance(payload, dict) else 0)
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
                    {"chain": m.chain, "seq": m.seq, "count": counts[store.pk].get(m.chain, 0), "updated_at": m.updated_at}
                    for m in store.marks.all()
                ],
                "records": sum(counts[store.pk].values()),
                "days": [{"day": day, **per_day[day]} for day in sorted(per_day, reverse=True)],
                "refusals": refusals.get(store.pk, []),
            }
        )
    return stats
