"""Event codes of the technical event journal (JET), as certified French vendors number them, plus
Brigade's own above 300. Other apps call `fiscal.services.journal(codes.X, message=...)`.

The label stored in a record is the English one (signed, never translated); screens translate it.
"""

from django.utils.translation import gettext_lazy as _

START = 1
STOP = 2
ARCHIVE_PERIOD = 20
ARCHIVE_YEAR = 30
CLOSURE_DAY = 50
CLOSURE_PERIOD = 60  # month and year closures
OFFLINE = 70  # cloud unreachable (start of an offline period)
ONLINE = 71  # cloud reachable again
LOGIN = 80
PIN_FAILURE = 81
PIN_LOCKOUT = 82
LOGOUT = 83
INTEGRITY_DEFECT = 90  # a verification failed
EXPORT = 110
RIGHTS_CHANGE = 130
TRAINING_MODE = 150  # training mode switched on or off
CANCELLATION = 190
VOID_AFTER_SEND = 195  # a line voided after the kitchen had it
REPRINT = 200  # a receipt copy ("DUPLICATA") printed
NEW_VERSION = 250
SETTINGS_CHANGE = 270
KEY_ROTATION = 275  # the signing key was replaced; details carry the new public key
AUDIT = 280  # a verification run (tax audit or manager check)
CLOCK_CHANGE = 300  # the clock went backwards
SYNC_OK = 310
SYNC_FAILED = 320

LABELS = {
    START: "start",
    STOP: "stop",
    ARCHIVE_PERIOD: "period archive",
    ARCHIVE_YEAR: "yearly archive",
    CLOSURE_DAY: "day closure",
    CLOSURE_PERIOD: "period closure",
    OFFLINE: "offline",
    ONLINE: "online",
    LOGIN: "login",
    PIN_FAILURE: "PIN failure",
    PIN_LOCKOUT: "PIN lockout",
    LOGOUT: "logout",
    INTEGRITY_DEFECT: "integrity defect",
    EXPORT: "export",
    RIGHTS_CHANGE: "rights change",
    TRAINING_MODE: "training mode",
    CANCELLATION: "cancellation",
    VOID_AFTER_SEND: "void after send",
    REPRINT: "reprint",
    NEW_VERSION: "new software version",
    SETTINGS_CHANGE: "settings change",
    KEY_ROTATION: "key rotation",
    AUDIT: "audit",
    CLOCK_CHANGE: "clock change",
    SYNC_OK: "sync",
    SYNC_FAILED: "sync failed",
}

DISPLAY = {
    START: _("Start"),
    STOP: _("Stop"),
    ARCHIVE_PERIOD: _("Period archive"),
    ARCHIVE_YEAR: _("Yearly archive"),
    CLOSURE_DAY: _("Day closure"),
    CLOSURE_PERIOD: _("Period closure"),
    OFFLINE: _("Offline"),
    ONLINE: _("Online"),
    LOGIN: _("Login"),
    PIN_FAILURE: _("PIN failure"),
    PIN_LOCKOUT: _("PIN lockout"),
    LOGOUT: _("Logout"),
    INTEGRITY_DEFECT: _("Integrity defect"),
    EXPORT: _("Export"),
    RIGHTS_CHANGE: _("Rights change"),
    TRAINING_MODE: _("Training mode"),
    CANCELLATION: _("Cancellation"),
    VOID_AFTER_SEND: _("Void after send"),
    REPRINT: _("Reprint"),
    NEW_VERSION: _("New software version"),
    SETTINGS_CHANGE: _("Settings change"),
    KEY_ROTATION: _("Key rotation"),
    AUDIT: _("Audit"),
    CLOCK_CHANGE: _("Clock change"),
    SYNC_OK: _("Sync"),
    SYNC_FAILED: _("Sync failed"),
}
