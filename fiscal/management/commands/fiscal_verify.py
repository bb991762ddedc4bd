"""`manage.py fiscal_verify` (a contract, see docs/contracts.md): exit 0 and a summary when every chain verifies;
non-zero and the first broken record of each chain otherwise. `--archive FILE` checks an archive
without touching the database (pass `--public-key` to trust a key obtained elsewhere)."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from fiscal import chain as fc


class Command(BaseCommand):
    help = "Verify every fiscal chain (hashes, links, totals, signatures, closures), or an archive file."

    def add_arguments(self, parser):
        parser.add_argument("--archive", metavar="FILE", help="check an archive file instead of the database")
        parser.add_argument("--public-key", metavar="PEM", help="with --archive: the only public key to trust")
        parser.add_argument("--strict", action="store_true", help="check every signature, not only checkpoints")

    def handle(self, *args, **options):
        if options["archive"]:
            return self.verify_archive(options["archive"], options["public_key"])
        from fiscal import verification

        report = verification.verify_store(strict=options["strict"])
        for chain, result in report.results.items():
            if result.ok:
                self.stdout.write(f"{chain:<9} OK      {result.count:>8} records, last {result.last_seq}")
            else:
                _c, seq, reason = result.first_error
                self.stdout.write(f"{chain:<9} BROKEN  first broken record {seq}: {reason}")
        for warning in report.warnings:
            self.stderr.write(f"warning: {warning}")
        if not report.ok:
            raise CommandError(f"fiscal verification FAILED: {len(report.errors)} chain(s) broken "
                               "(journaled as an integrity defect, code 90)", returncode=2)
        self.stdout.write(self.style.SUCCESS(
            f"every chain verifies: {report.count} records, {report.closures_checked} day closures match their receipts"))

    def verify_archive(self, path: str, public_key_path: str | None):
        from fiscal.archive import verify_archive

        if not Path(path).is_file():
            raise CommandError(f"no such file: {path}", returncode=2)
        public_key = None
        if public_key_path:
            try:
                public_key = fc.load_public_key(Path(public_key_path).read_bytes())
            except (OSError, ValueError) as exc:
                raise CommandError(f"cannot read the public key {public_key_path}: {exc}", returncode=2) from None
        report = verify_archive(path, public_key)
        m = report.manifest
        self.stdout.write(f"archive {m.get('period', '?')} ({m.get('kind', '?')}), created {m.get('created', '?')}, "
                          f"key id(s) {', '.join(report.key_ids) or '?'}"
                          + ("" if public_key else " — from the archive itself: compare with the registered key"))
        for chain, result in report.results.items():
            self.stdout.write(f"{chain:<9} {'OK' if result.ok else 'BROKEN':<7} {result.count:>8} records, "
                              f"last {result.last_seq}")
        for error in report.errors:
            self.stdout.write(f"ERROR {error}")
        if not report.ok:
            raise CommandError(f"archive verification FAILED ({len(report.errors)} problem(s))", returncode=2)
        self.stdout.write(self.style.SUCCESS(f"archive verifies: {report.count} records"))
