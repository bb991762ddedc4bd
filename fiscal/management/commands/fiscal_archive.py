"""`manage.py fiscal_archive --period YYYY-MM | --year YYYY`: write the signed archive of a closed
period into the data dir (archives/), seal it in the archive chain and journal it."""

from django.core.management.base import BaseCommand, CommandError

from fiscal.archive import ArchiveError, write_archive


class Command(BaseCommand):
    help = "Write the signed, self-contained archive of a closed month or year."

    def add_arguments(self, parser):
        group = parser.add_mutually_exclusive_group(required=True)
        group.add_argument("--period", metavar="YYYY-MM", help="a closed month")
        group.add_argument("--year", metavar="YYYY", help="a closed year")
        parser.add_argument("--dir", help="write there instead of <data dir>/archives")
        parser.add_argument("--operator", default="", help="who asks for it (recorded)")

    def handle(self, *args, **options):
        period = options["period"] or options["year"]
        try:
            path, record = write_archive(period, directory=options["dir"], operator=options["operator"])
        except ArchiveError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(str(path))
        self.stdout.write(self.style.SUCCESS(f"archive {period} written and sealed (archive record {record.seq})"))
