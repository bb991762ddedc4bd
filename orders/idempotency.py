"""Client-keyed requests: the first answer is stored and replayed to every retry (as payment APIs do).

A till on flaky Wi-Fi resends "place this order" with the same key until it hears back; the kitchen
must get the order once. Every POST of the JSON API and of the till and kiosk pages that changes
something goes through `replay_or_run`, at the edge; the actions behind it (orders.actions) know
nothing of keys. It holds under concurrency too:

1. Reserve the key: INSERT the IdempotentRequest row first (inside a savepoint). The unique constraint
   `orders_idempotentrequest_uniq` on (scope, device, key) makes a concurrent twin wait on that row
   (PostgreSQL blocks on the unique index until our transaction ends; SQLite's IMMEDIATE transactions
   serialise writers) and then fail with IntegrityError once we commit.
2. Run the action in the same transaction and store its (status, body) on the reserved row.
3. A twin that hit IntegrityError reads the stored row: same request hash → the first answer; another
   hash → IdempotencyKeyReused.

If the action raises (bad input), the whole transaction rolls back, the reservation with it: nothing is
stored, and the client may correct the request and retry with the same key.
"""

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Device
from orders import sql
from orders.errors import OrderError
from orders.models import IdempotentRequest

KEY_MAX_LENGTH = IdempotentRequest._meta.get_field("key").max_length


def valid_key(key: Any) -> bool:
    """A client key: 1 to 100 characters, no NUL."""
    return isinstance(key, str) and 1 <= len(key) <= KEY_MAX_LENGTH and "\x00" not in key


def page_key(request: HttpRequest) -> str | None:
    """The key a till or kiosk page posts (static/orders/till.js: the `Idempotency-Key` header made per
    user action and kept across retries, or an `idempotency_key` field); None without a usable one (a
    plain form post without JavaScript simply runs)."""
    key = request.headers.get("Idempotency-Key") or request.POST.get("idempotency_key")
    return key if valid_key(key) else None


class IdempotencyKeyReused(OrderError):
    """The key was already used for a different request."""

    def __init__(self):
        super().__init__(
            "idempotency_key_reused", _("This idempotency key was already used for a different request."), field="idempotency_key"
        )


def request_hash(request: Any) -> str:
    """SHA-256 of the canonical JSON of `request` (sorted keys, compact; Decimals as strings)."""
    canonical = json.dumps(request, sort_keys=True, separators=(",", ":"), cls=DjangoJSONEncoder, ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict
    replayed: bool


def replay_or_run(
    *, device: Device, scope: str, key: str | None, body: Any, run: Callable[[], dict], status: int = 200
) -> Answer:
    """Run `run` once per (scope, device, key) and answer what it returned, or the first call's answer
    on a retry (`replayed`). `body` is what identifies the request (JSON-able); `run` returns the JSON
    body to store, answered with `status`. Opens its own transaction (nested in the caller's if any).
    Without a key, `run` simply runs in a transaction. Raises IdempotencyKeyReused (an OrderError) when
    the key came with another request, and whatever `run` raises.
    """
    if key is None:
        with transaction.atomic():
            return Answer(status, _as_json(run()), False)
    digest = request_hash(body)
    with transaction.atomic():
        try:
            with transaction.atomic():
                reserved = sql.reserve_key(
                    scope=scope, device_id=device.pk, key=key, request_hash=digest, created_at=timezone.now()
                )
        except IntegrityError:
            record = IdempotentRequest.objects.get(scope=scope, device=device, key=key)
            if record.request_hash != digest:
                raise IdempotencyKeyReused() from None
            return Answer(record.status_code, record.response, True)
        answer = _as_json(run())
        sql.store_answer(reserved, status=status, response=answer)
        return Answer(status, answer, False)


def _as_json(body: dict | None) -> dict:
    """Round-trip through JSON so a replay answers byte-for-byte what the first call answered."""
    return json.loads(json.dumps(body or {}, cls=DjangoJSONEncoder))
