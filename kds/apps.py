from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class KdsConfig(AppConfig):
    name = "kds"
    verbose_name = _("Kitchen")

    def ready(self):
        from kds import receivers  # noqa: F401  tickets for the orders' lines (orders.signals)
