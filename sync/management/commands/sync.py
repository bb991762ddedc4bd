"""Push sealed records to the cloud: `--once` for cron and tests, otherwise a loop until SIGTERM/SIGINT.

Exit status of `--once`: 0 when the cloud has every record (or when cloud sync is not configured — a
restaurant without a cloud is a normal set-up, not a failure), 1 when the cloud is unreachable, 3 when
the cloud refused an upload or a chain has an integrity defect (a truncated or rewritten local chain).
"""

import signal
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import close_old_connections

from sync import client
from sync.models import SyncState

EXIT_UNREACHABLE = 1
EXIT_REFUSED = 3


class Command(BaseCommand):
    help = "Send sealed records to the cloud (KDS_CLOUD_URL, KDS_CLOUD_TOKEN): once, or in a loop with backoff."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="push everything pending, then exit")
        parser.add_argument(
            "--idle", type=float, default=5.0, help="seconds between passes when there is nothing to send (loop)"
        )

    def handle(self, *args, once: bool, idle: float, **options):
        if not client.is_configured():
            self.stdout.write("Cloud sync not configured (KDS_CLOUD_URL is empty): nothing to do.")
            return
        if not settings.KDS_CLOUD_TOKEN:
            raise CommandError("KDS_CLOUD_URL is set but KDS_CLOUD_TOKEN is empty: run store_register on the cloud.")
        if once:
            self.push_once()
        else:
            self.loop(idle)

    def push_once(self) -> None:
        report = client.push()
        for _again in range(3):  # records sealed while we were sending: go again rather than fail
            if not (report.outcome == SyncState.Outcome.OK and report.backlog):
                break
            sent, duplicates = report.sent, report.duplicates
            report = client.push()
            report.sent, report.duplicates = report.sent + sent, report.duplicates + duplicates
        cloud = settings.KDS_CLOUD_URL
        if report.outcome == SyncState.Outcome.OK and report.complete:
            self.stdout.write(
                f"Cloud {cloud} has everything: {report.sent} sent, {report.duplicates} already there, 0 pending."
            )
            return
        for chain, problem in sorted(report.problems.items()):
            self.stderr.write(f"{chain}: {problem}")
        if report.outcome == SyncState.Outcome.OFFLINE:
            raise CommandError(f"{report.error} — {report.backlog} record(s) pending.", returncode=EXIT_UNREACHABLE)
        if report.outcome == SyncState.Outcome.OK:  # everything went, yet more arrived meanwhile
            raise CommandError(f"{report.backlog} record(s) still pending; run again.", returncode=EXIT_UNREACHABLE)
        raise CommandError(
            f"{report.error or 'Sync stopped.'} — {report.sent} sent, {report.backlog} record(s) pending.",
            returncode=EXIT_REFUSED,
        )

    # The healthchecks `sendalerts` shape: a flag set by signals, one step, short sleeps.
    def on_signal(self, signum, frame) -> None:
        self.stdout.write(f"Signal {signum} received, stopping after this pass.")
        self.shutdown = True

    def loop(self, idle: float) -> None:
        self.shutdown = False
        signal.signal(signal.SIGTERM, self.on_signal)
        signal.signal(signal.SIGINT, self.on_signal)
        self.stdout.write(f"Syncing with {settings.KDS_CLOUD_URL} until stopped (Ctrl-C).")
        while not self.shutdown:
            close_old_connections()
            if client.sync_step():
                continue
            # Backoff after a failure lives in sync_step (SyncState.next_attempt_at), so this sleep stays
            # short and a signal is answered within a fraction of a second.
            deadline = time.monotonic() + idle
            while not self.shutdown and time.monotonic() < deadline:
                time.sleep(0.2)
        self.stdout.write("Stopped.")
