"""Access events (accounts.signals.access_event) written into the event journal (JET)."""

from django.dispatch import receiver

from accounts.signals import access_event
from fiscal import codes, services

CODES = {
    "login": codes.LOGIN,
    "logout": codes.LOGOUT,
    "pin_failure": codes.PIN_FAILURE,
    "pin_lockout": codes.PIN_LOCKOUT,
    "rights_change": codes.RIGHTS_CHANGE,
}


@receiver(access_event, dispatch_uid="fiscal.journal_access")
def journal_access_event(sender, *, kind, message, operator=None, device=None, details=None, **kwargs):
    services.journal(
        CODES[kind],
        message=message,
        operator=operator.get_username() if operator else "",
        device=device.name if device else "",
        details=details,
    )
