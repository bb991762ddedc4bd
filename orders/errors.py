"""The orders domain's error, and the one table that turns its code into an HTTP status.

Actions (orders.actions) raise `OrderError` and never choose a status: the edge does, here, for the
JSON API and the till/kiosk pages alike. A refusal of the current state ("the table is taken", "this
line was sent") is a 409 Conflict; an unknown order a 404; a client key reused for another request a
422; anything else is bad input, a 400. The pages answer bad input with 422 instead of 400: htmx swaps
only 2xx, 409 and 422 (templates/orders/till/base.html), and a form with errors must come back into
its modal.
"""

from django.core.exceptions import ValidationError

# Codes that refuse a change because of the state of the order, the menu or an account.
CONFLICTS = frozenset({
    "item_unavailable", "sold_out", "modifier_unavailable", "order_closed", "table_occupied", "nothing_due",
    "order_has_payments", "credit_limit", "account_inactive", "overpaid", "line_sent", "line_voided",
    "line_not_sent", "component_line", "manager_required", "cell_taken", "table_has_open_order", "table_has_history",
})
STATUS_BY_CODE = {code: 409 for code in CONFLICTS} | {"idempotency_key_reused": 422, "not_found": 404}


class OrderError(ValidationError):
    """Bad input or a refused state change. `.code` is stable (the API sends it as "error"), `.message`
    is translated into the active language, `.field` names the offending input ("" for the whole,
    "lines[2].modifiers" for a part)."""

    def __init__(self, code: str, message: str, *, field: str = ""):
        super().__init__(message, code=code)
        self.field = field

    def as_dict(self) -> dict:
        return {"error": self.code, "detail": self.message, "field": self.field}


def http_status(code: str) -> int:
    """The HTTP status the JSON API answers an error `code` with (400 for bad input)."""
    return STATUS_BY_CODE.get(code, 400)


def page_status(code: str) -> int:
    """The status of a till or kiosk page refusing with `code`: as the API, but 422 for bad input."""
    status = http_status(code)
    return 422 if status == 400 else status
