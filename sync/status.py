"""The store's sync status for the small indicator in the topbars: read-only and cheap (one row, one
aggregate). Offline is a normal state, shown as a grey dot — never as an error dialog."""

from django.utils.translation import gettext_lazy as _

from sync import client, local
from sync.models import SyncState

LABELS = {
    "ok": _("Cloud sync up to date"),
    "offline": _("Cloud unreachable: sales are kept here and sent later"),
    "error": _("Cloud sync stopped: see the admin"),
    "not_configured": _("Cloud sync not configured"),
}


def sync_status() -> dict:
    """{"state": "ok" | "offline" | "error" | "not_configured", "last_success": datetime | None,
    "last_attempt": datetime | None, "backlog": int, "error": str, "label": str}"""
    if not client.is_configured():
        return {"state": "not_configured", "last_success": None, "last_attempt": None, "backlog": 0,
                "error": "", "label": LABELS["not_configured"]}  # fmt: skip
    row = SyncState.objects.filter(pk=1).first() or SyncState(pk=1)
    outcome = row.last_outcome
    if outcome == SyncState.Outcome.OK:
        state = "ok"
    elif outcome in (SyncState.Outcome.REFUSED, SyncState.Outcome.DEFECT):
        state = "error"
    else:  # never attempted yet, or unreachable
        state = "offline"
    return {
        "state": state,
        "last_success": row.last_success_at,
        "last_attempt": row.last_attempt_at,
        "backlog": local.backlog(),
        "error": row.last_error,
        "label": LABELS[state],
    }
