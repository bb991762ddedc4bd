"""`manage.py kds_prune_events [--days N]`: delete kitchen station events older than N days (default
2). Screens only replay the last few minutes; older events only grow the table. Run it daily (cron,
a systemd timer) or leave it: nothing breaks without it."""

from datetime import timedelta

from django.core.management.base import BaseCommand
from django.utils import timezone

from kds.services import prune_events


class Command(BaseCommand):
    help = "Delete kitchen station events older than N days (screens replay only recent ones)."

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=2, help="keep this many days of events (default 2, minimum 1)")

    def handle(self, *args, days: int, **options):
        deleted = prune_events(before=timezone.now() - timedelta(days=max(1, days)))
        self.stdout.write(f"{deleted} station event(s) deleted.")
