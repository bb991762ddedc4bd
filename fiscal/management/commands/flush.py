"""`manage.py flush`, allowed to empty the sealed records on SQLite.

Sealed records refuse DELETE at the database (fiscal/db.py). Emptying the whole database, on a test or
demo install or between transactional tests, is the one deletion let through: this is Django's own
command, run with that permission.
"""

from django.core.management.commands import flush

from fiscal import db


class Command(flush.Command):
    def handle(self, **options):
        with db.flushing():
            return super().handle(**options)
