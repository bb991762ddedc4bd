"""`manage.py fiscal_close --day [DATE] | --month [YYYY-MM] | --year [YYYY]`: seal a closure now
(`serve` also closes finished days, months and years by itself)."""

from datetime import date, timedelta

from django.core.management.base import BaseCommand, CommandError

from fiscal import closures, receipt, services
from fiscal.business_day import business_day


class Command(BaseCommand):
    help = "Close a business day, a month or a year (Z report printed to stdout)."

    def add_arguments(self, parser):
        group = parser.add_mutually_exclusive_group(required=True)
        group.add_argument("--day", nargs="?", const="", metavar="DATE", help="YYYY-MM-DD (default: the last finished day)")
        group.add_argument("--month", nargs="?", const="", metavar="YYYY-MM", help="default: last month")
        group.add_argument("--year", nargs="?", const="", metavar="YYYY", help="default: last year")
        parser.add_argument("--operator", default="", help="who asks for it (recorded)")

    def handle(self, *args, **options):
        operator = options["operator"]
        today = business_day(services.now())
        try:
            if options["day"] is not None:
                day = date.fromisoformat(options["day"]) if options["day"] else today - timedelta(days=1)
                made = closures.close_day(day, operator=operator)
            elif options["month"] is not None:
                if options["month"]:
                    year, month = (int(p) for p in options["month"].split("-"))
                else:
                    last = today.replace(day=1) - timedelta(days=1)
                    year, month = last.year, last.month
                made = [closures.close_month(year, month, operator=operator)]
            else:
                year = int(options["year"]) if options["year"] else today.year - 1
                made = [closures.close_year(year, operator=operator)]
        except ValueError as exc:
            raise CommandError(f"bad date: {exc}") from None
        except services.FiscalError as exc:
            raise CommandError(str(exc)) from None
        for closure in made:
            self.stdout.write(receipt.z_report_text(closure))
        self.stdout.write(self.style.SUCCESS(f"{len(made)} closure(s) sealed"))
