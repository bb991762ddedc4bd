from django.apps import AppConfig


class ConfigConfig(AppConfig):
    """The project's wiring; an app only so that `manage.py serve` is found."""

    name = "config"
    verbose_name = "Brigade"
