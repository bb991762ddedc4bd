"""The demo kitchen: stations, routing, screens and a printer, for `manage.py demo`."""


def load_demo_kitchen() -> None:
    """Idempotent."""
