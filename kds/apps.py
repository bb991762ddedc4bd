from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class KdsConfig(AppConfig):
    name = "kds"
    verbose_name = _("Kitchen")
