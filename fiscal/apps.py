from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class FiscalConfig(AppConfig):
    name = "fiscal"
    verbose_name = _("Fiscal")

    def ready(self):
        from fiscal import db  # noqa: F401  registers the SQLite guard function on every connection
        from fiscal import journal_access  # noqa: F401  journals the access events of accounts
