"""Access events (pairing, tokens, PINs, logins), announced for the event journal.

Accounts sits below fiscal: it knows nothing of journals. `fiscal.apps.FiscalConfig.ready` connects the
receiver that writes each event into the fiscal event journal (JET), in the caller's transaction, as
Django's own `user_logged_in` / `user_login_failed` signals are used.

Every event carries `kind` (one of KINDS), `message` (English, for the journal), and optionally
`operator` (a User), `device` (a Device) and `details` (a dict of plain values).
"""

from django.dispatch import Signal

from accounts.models import Device, User

KINDS = ("rights_change", "pin_failure", "pin_lockout", "login", "logout")

access_event = Signal()


def announce(kind: str, *, message: str, operator: User | None = None, device: Device | None = None,
             **details) -> None:
    """Announce an access event; the fiscal app journals it (accounts sits below fiscal)."""
    assert kind in KINDS, kind
    access_event.send(sender=User, kind=kind, message=message, operator=operator, device=device,
                      details=details or None)
