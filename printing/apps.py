from django.apps import AppConfig
from django.utils.translation import pgettext_lazy


class PrintingConfig(AppConfig):
    name = "printing"
    # The admin's section, not a job's status ("Printing" there means "being printed").
    verbose_name = pgettext_lazy("admin section", "Printing")
