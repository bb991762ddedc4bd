"""The background loops `manage.py serve` runs beside daphne, in daphne's own process (so that what
they publish reaches the in-memory channel layer). Each step returns True when it found work."""

# (name, dotted path of a step function `() -> bool`, seconds to wait after a step that found nothing)
LOOPS = [
    ("print spooler", "kds.printing.process_one_job", 0.5),
    ("fiscal closures", "fiscal.services.run_scheduled_closures", 30.0),
    ("cloud sync", "sync.client.sync_step", 5.0),
]
