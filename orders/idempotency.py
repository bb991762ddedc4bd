"""Client-keyed requests: the first answer is stored and replayed to every retry (as payment APIs do).

A till on flaky Wi-Fi resends "place this order" with the same key until it hears back; the kitchen
must get the order once. `run_once` makes that hold under concurrency too:

1. Reserve the key: INSERT the IdempotentRequest row first (inside a savepoint). The unique constraint
   `orders_idempotentrequest_uniq` makes a concurrent twin wait on that row (PostgreSQL blocks on the
   unique index until our transaction ends; SQLite's IMMEDIATE transactions serialise writers) and
   then fail with IntegrityError once we commit.
2. Run the action in the same transaction and store its (status, body) on the reserved row.
3. A twin that hit IntegrityError reads the stored row: same request hash → the first answer; another
   hash → IdempotencyKeyReused.

If the action raises (bad input), the whole transaction rolls back, the reservation with it: nothing is
stored, and the client may correct the request and retry with the same key.
"""

import hashlib
import json
from collections.abc import Callable
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from accounts.models import Device
from orders.models import IdempotentRequest
from orders.selectors import insert_row, update_row

KEY_MAX_LENGTH = IdempotentRequest._meta.get_field("key").max_length


def valid_key(key: Any) -> bool:
    """A client key: 1 to 100 characters, no NUL."""
    return isinstance(key, str) and 1 <= len(key) <= KEY_MAX_LENGTH and "\x00" not in key


class IdempotencyKeyReused(Exception):
    """The key was already used for a different request."""

    code = "idempotency_key_reused"

    def __init__(self):
        super().__init__(_("This idempotency key was already used for a different request."))


def request_hash(request: Any) -> str:
    """SHA-256 of the canonical JSON of `request` (sorted keys, compact; Decimals as strings)."""
    canonical = json.dumps(request, sort_keys=True, separators=(",", ":"), cls=DjangoJSONEncoder, ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def run_once(
    *, scope: str, device: Device, key: str, request: Any, action: Callable[[], tuple[int, dict]]
) -> tuple[int, dict, bool]:
    """Run `action` once per (scope, device, key) and return `(status, body, replayed)`.

    `request` is what identifies the request (JSON-able); `action` returns the (status, JSON body) to
    store. Opens its own transaction (nested in the caller's if any). Raises IdempotencyKeyReused.
    """
    digest = request_hash(request)
    with transaction.atomic():
        try:
            with transaction.atomic():
                record = insert_row(IdempotentRequest(
                    scope=scope, device=device, key=key, request_hash=digest, status_code=0, response={}
                ))
        except IntegrityError:
            record = IdempotentRequest.objects.get(scope=scope, device=device, key=key)
            if record.request_hash != digest:
                raise IdempotencyKeyReused() from None
            return record.status_code, record.response, True
        status, body = action()
        # Round-trip through JSON so a replay answers byte-for-byte what the first call answered.
        body = json.loads(json.dumps(body, cls=DjangoJSONEncoder))
        record.status_code, record.response = status, body
        update_row(IdempotentRequest, record.pk, {"status_code": status, "response": body})
        return status, body, False
